"""Claim next: the most urgent, oldest task the agent may take."""

import pytest

from gigs.dispatch import task_claim_next
from gigs.models import PresenceStatus, TaskPriority
from marketplace.errors import PermissionDenied
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent

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
