"""Claiming and releasing tasks: exclusive, scoped to the agent's pools, refusals change nothing."""

import pytest

from gigs.dispatch import presence_set, task_claim, task_release
from gigs.models import (
    AgentPresence,
    GigStatus,
    PresenceStatus,
    Task,
    TaskStatus,
    WorkSession,
)
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.languages import CEFRLevel
from marketplace.models import AuditEvent
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent
from tests.marketplace.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_gig(brand):
    return GigFactory(brand=brand, min_language_level=CEFRLevel.B2, max_tasks_per_agent=2)


@pytest.fixture
def agent(brand):
    return make_agent(brand)


@pytest.fixture
def task(open_gig):
    return TaskFactory(gig=open_gig)


def test_claim_makes_the_agent_the_holder(agent, task):
    claimed = task_claim(agent=agent, task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.holder, claimed.holder) == (TaskStatus.CLAIMED, agent, agent)


def test_claim_sets_claimed_at_and_a_five_minute_lease(agent, task):
    task_claim(agent=agent, task_id=task.pk)
    task.refresh_from_db()
    assert (task.lease_expires_at - task.claimed_at).total_seconds() == 300


def test_claim_opens_one_work_session_on_the_gigs_terms(agent, task):
    task_claim(agent=agent, task_id=task.pk)
    session = WorkSession.objects.get(task=task)
    assert (session.agent, session.ended_at, session.rate_minor, session.pay_model) == (
        agent,
        None,
        task.gig.rate_minor,
        task.gig.pay_model,
    )


def test_claiming_a_task_you_already_hold_returns_it(agent, task):
    task_claim(agent=agent, task_id=task.pk)
    again = task_claim(agent=agent, task_id=task.pk)
    assert again.holder == agent
    assert WorkSession.objects.filter(task=task).count() == 1


def test_claim_of_a_taken_task_is_a_conflict_and_changes_nothing(brand, agent, task):
    rival = make_agent(brand)
    task_claim(agent=rival, task_id=task.pk)
    before = Task.objects.values().get(pk=task.pk)
    with pytest.raises(Conflict, match="just taken by another agent"):
        task_claim(agent=agent, task_id=task.pk)
    assert Task.objects.values().get(pk=task.pk) == before


def test_claim_of_another_brands_task_is_not_found(agent, other_brand):
    foreign = TaskFactory(gig=GigFactory(brand=other_brand))
    with pytest.raises(NotFound):
        task_claim(agent=agent, task_id=foreign.pk)
    foreign.refresh_from_db()
    assert (foreign.status, foreign.holder) == (TaskStatus.QUEUED, None)


def test_claim_of_an_unknown_task_is_not_found(agent):
    with pytest.raises(NotFound):
        task_claim(agent=agent, task_id=999_999)


def test_claim_by_an_agent_only_applied_to_the_pool_is_not_found(brand, task):
    applicant = make_agent(brand, pool_status="applied")
    with pytest.raises(NotFound):
        task_claim(agent=applicant, task_id=task.pk)


def test_claim_without_the_language_level_is_refused(brand, task):
    beginner = make_agent(brand, level=CEFRLevel.A2)
    with pytest.raises(PermissionDenied, match="language") as refusal:
        task_claim(agent=beginner, task_id=task.pk)
    assert refusal.value.code == "not_eligible"
    task.refresh_from_db()
    assert (task.status, task.holder) == (TaskStatus.QUEUED, None)


def test_claim_while_paused_is_refused(brand, task):
    paused = make_agent(brand, presence=PresenceStatus.PAUSED)
    with pytest.raises(PermissionDenied, match="Go online"):
        task_claim(agent=paused, task_id=task.pk)


def test_claim_at_the_hold_limit_is_a_conflict_that_names_the_limit(agent, open_gig):
    first, second, third = TaskFactory.create_batch(3, gig=open_gig)
    task_claim(agent=agent, task_id=first.pk)
    task_claim(agent=agent, task_id=second.pk)
    with pytest.raises(Conflict, match="at your limit") as refusal:
        task_claim(agent=agent, task_id=third.pk)
    assert refusal.value.code == "at_limit"
    third.refresh_from_db()
    assert third.holder is None


def test_claim_on_a_paused_gig_is_a_conflict(agent, task, open_gig):
    open_gig.status = GigStatus.PAUSED
    open_gig.save()
    with pytest.raises(Conflict, match="paused"):
        task_claim(agent=agent, task_id=task.pk)


def test_claim_of_a_resolved_task_is_a_conflict(agent, open_gig):
    done = TaskFactory(gig=open_gig, status=TaskStatus.RESOLVED)
    with pytest.raises(Conflict, match="no longer be claimed"):
        task_claim(agent=agent, task_id=done.pk)


def test_brand_user_cannot_claim(brand_admin, task):
    with pytest.raises(PermissionDenied):
        task_claim(agent=brand_admin, task_id=task.pk)


def test_release_returns_the_task_to_the_queue(agent, task):
    task_claim(agent=agent, task_id=task.pk)
    task_release(agent=agent, task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.holder, task.lease_expires_at) == (TaskStatus.QUEUED, None, None)


def test_release_keeps_the_history_in_the_audit_log(agent, task):
    task_claim(agent=agent, task_id=task.pk)
    task_release(agent=agent, task_id=task.pk)
    event = AuditEvent.objects.get(action="task.released")
    assert event.changes["holder"] == [agent.email, None]
    assert Task.objects.filter(pk=task.pk).exists()


def test_released_task_can_be_claimed_by_another_agent(brand, agent, task):
    task_claim(agent=agent, task_id=task.pk)
    task_release(agent=agent, task_id=task.pk)
    rival = make_agent(brand)
    assert task_claim(agent=rival, task_id=task.pk).holder == rival


def test_release_by_someone_other_than_the_holder_is_refused(brand, agent, task):
    task_claim(agent=agent, task_id=task.pk)
    rival = make_agent(brand)
    with pytest.raises(PermissionDenied, match="holding this task"):
        task_release(agent=rival, task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.holder) == (TaskStatus.CLAIMED, agent)


def test_release_of_another_brands_task_is_not_found(agent, other_brand):
    foreign = TaskFactory(gig=GigFactory(brand=other_brand))
    with pytest.raises(NotFound):
        task_release(agent=agent, task_id=foreign.pk)


def test_presence_set_goes_online_and_records_a_heartbeat(brand):
    agent = make_agent(brand, presence=None)
    presence = presence_set(agent=agent, status=PresenceStatus.ONLINE)
    assert presence.status == PresenceStatus.ONLINE
    assert presence.last_heartbeat_at is not None


def test_presence_set_updates_the_single_row(agent):
    presence_set(agent=agent, status=PresenceStatus.PAUSED)
    assert list(AgentPresence.objects.filter(agent=agent).values_list("status", flat=True)) == [
        PresenceStatus.PAUSED
    ]


def test_presence_set_rejects_an_unknown_status(agent):
    with pytest.raises(ValidationFailed) as refusal:
        presence_set(agent=agent, status="asleep")
    assert "status" in refusal.value.fields
    assert AgentPresence.objects.get(agent=agent).status == PresenceStatus.ONLINE


def test_presence_set_refuses_brand_users():
    with pytest.raises(PermissionDenied):
        presence_set(agent=UserFactory(), status=PresenceStatus.ONLINE)
