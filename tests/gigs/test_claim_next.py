"""Claim next: the most urgent, oldest task the agent may take."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gigs.dispatch import task_claim_next, task_offer
from gigs.models import DispatchMode, PresenceStatus, TaskPriority
from marketplace.errors import PermissionDenied
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent
from tests.marketplace.factories import SkillFactory

pytestmark = pytest.mark.django_db


def test_claim_next_takes_the_most_urgent_then_the_oldest(brand):
    gig = GigFactory(brand=brand, max_tasks_per_agent=3)
    older, newer = TaskFactory.create_batch(2, gig=gig)
    urgent = TaskFactory(gig=gig, priority=TaskPriority.URGENT)
    agent = make_agent(brand)
    assert [task_claim_next(agent=agent).pk for _ in range(3)] == [urgent.pk, older.pk, newer.pk]


def test_claim_next_returns_none_when_nothing_fits(brand):
    TaskFactory(gig=GigFactory(brand=brand, language="de"))
    assert task_claim_next(agent=make_agent(brand)) is None


def test_claim_next_stops_at_the_hold_limit(brand):
    gig = GigFactory(brand=brand, max_tasks_per_agent=1)
    TaskFactory.create_batch(2, gig=gig)
    agent = make_agent(brand)
    assert task_claim_next(agent=agent) is not None
    assert task_claim_next(agent=agent) is None


def test_claim_next_can_be_limited_to_one_gig(brand):
    wanted, other = GigFactory(brand=brand), GigFactory(brand=brand)
    TaskFactory(gig=other)
    task = TaskFactory(gig=wanted)
    assert task_claim_next(agent=make_agent(brand), gig_id=wanted.pk).pk == task.pk


def test_claim_next_never_takes_another_brands_task(brand, other_brand):
    TaskFactory(gig=GigFactory(brand=other_brand))
    assert task_claim_next(agent=make_agent(brand)) is None


def test_claim_next_while_paused_is_refused(brand):
    TaskFactory(gig=GigFactory(brand=brand))
    with pytest.raises(PermissionDenied):
        task_claim_next(agent=make_agent(brand, presence=PresenceStatus.PAUSED))


def test_claim_next_moves_on_to_another_gig_when_one_is_at_its_limit(brand):
    full = GigFactory(brand=brand, max_tasks_per_agent=1)
    other = GigFactory(brand=brand)
    TaskFactory.create_batch(2, gig=full, priority=TaskPriority.URGENT)
    later = TaskFactory(gig=other)
    agent = make_agent(brand)
    assert task_claim_next(agent=agent).gig_id == full.pk
    assert task_claim_next(agent=agent).pk == later.pk


def test_claim_next_skips_tasks_in_a_language_the_agent_does_not_speak(brand):
    gig = GigFactory(brand=brand)
    TaskFactory(gig=gig, language="fr", priority=TaskPriority.URGENT)
    english = TaskFactory(gig=gig, language="en")
    assert task_claim_next(agent=make_agent(brand)).pk == english.pk


def test_claim_next_takes_the_agents_reservation_before_the_open_queue(brand):
    TaskFactory(gig=GigFactory(brand=brand), priority=TaskPriority.URGENT)
    directed = GigFactory(brand=brand, dispatch_mode=DispatchMode.DIRECTED)
    agent = make_agent(brand)
    reserved = TaskFactory(gig=directed)
    task_offer(reserved)
    reserved.refresh_from_db()
    assert reserved.reserved_for_id == agent.pk
    assert task_claim_next(agent=agent).pk == reserved.pk


def test_claim_next_reads_no_task_when_no_gig_is_open_to_the_agent(brand, other_brand):
    TaskFactory.create_batch(2, gig=GigFactory(brand=other_brand))
    gig = GigFactory(brand=brand)
    gig.required_skills.add(SkillFactory())
    TaskFactory(gig=gig)
    agent = make_agent(brand)
    with CaptureQueriesContext(connection) as captured:
        assert task_claim_next(agent=agent) is None
    # The presence lock and the gigs' rules; the queue is never walked.
    tables = [q["sql"].split(" WHERE ")[0] for q in captured.captured_queries]
    assert not [sql for sql in tables if 'FROM "gigs_task"' in sql]
