"""Directed dispatch: one agent at a time gets a reservation; reject or lapse moves it on."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gigs.dispatch import (
    LAPSES_BEFORE_AWAY,
    expire_overdue,
    presence_set,
    task_claim,
    task_offer,
    task_reject,
)
from gigs.models import (
    AgentPresence,
    DispatchMode,
    PresenceStatus,
    ReservationOutcome,
    Task,
    TaskReservation,
    TaskStatus,
)
from marketplace.errors import Conflict
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent

pytestmark = pytest.mark.django_db


@pytest.fixture
def directed_gig(brand):
    return GigFactory(
        brand=brand, dispatch_mode=DispatchMode.DIRECTED, reservation_timeout_seconds=30
    )


def _idle_since(agent, minutes_ago):
    AgentPresence.objects.filter(agent=agent).update(
        last_assigned_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


def _lapse_reservation(task):
    Task.objects.filter(pk=task.pk).update(
        reservation_expires_at=timezone.now() - timedelta(seconds=1)
    )
    expire_overdue()
    task.refresh_from_db()


def test_a_new_directed_task_is_reserved_for_the_longest_idle_agent(brand, directed_gig):
    recent, idle = make_agent(brand), make_agent(brand)
    _idle_since(recent, 1)
    _idle_since(idle, 60)
    task = TaskFactory(gig=directed_gig)
    task_offer(task)
    task.refresh_from_db()
    assert (task.status, task.reserved_for) == (TaskStatus.OFFERED, idle)
    reservation = TaskReservation.objects.get(task=task)
    assert reservation.outcome == ReservationOutcome.PENDING
    assert (task.reservation_expires_at - reservation.created_at).total_seconds() == 30


def test_an_agent_never_assigned_comes_before_one_assigned_long_ago(brand, directed_gig):
    veteran, newcomer = make_agent(brand), make_agent(brand)
    _idle_since(veteran, 600)
    task = TaskFactory(gig=directed_gig)
    task_offer(task)
    task.refresh_from_db()
    assert task.reserved_for == newcomer


def test_only_the_reserved_agent_may_claim(brand, directed_gig):
    first, second = make_agent(brand), make_agent(brand)
    _idle_since(second, 1)
    task = TaskFactory(gig=directed_gig)
    task_offer(task)
    with pytest.raises(Conflict, match="reserved for another agent"):
        task_claim(agent=second, task_id=task.pk)
    claimed = task_claim(agent=first, task_id=task.pk)
    assert claimed.holder == first
    assert TaskReservation.objects.get(task=task).outcome == ReservationOutcome.ACCEPTED


def test_a_queued_directed_task_cannot_be_claimed_without_a_reservation(brand, directed_gig):
    agent = make_agent(brand, presence=PresenceStatus.PAUSED)
    task = TaskFactory(gig=directed_gig)
    task_offer(task)  # nobody online: it waits in the queue
    presence_set(agent=agent, status=PresenceStatus.PAUSED)
    AgentPresence.objects.filter(agent=agent).update(status=PresenceStatus.ONLINE)
    with pytest.raises(Conflict) as refusal:
        task_claim(agent=agent, task_id=task.pk)
    assert refusal.value.code == "not_offered"


def test_rejecting_moves_the_reservation_to_the_next_agent(brand, directed_gig):
    first, second = make_agent(brand), make_agent(brand)
    _idle_since(second, 1)
    task = TaskFactory(gig=directed_gig)
    task_offer(task)
    task_reject(agent=first, task_id=task.pk)
    task.refresh_from_db()
    assert task.reserved_for == second
    outcomes = dict(TaskReservation.objects.filter(task=task).values_list("agent", "outcome"))
    assert outcomes == {
        first.pk: ReservationOutcome.REJECTED,
        second.pk: ReservationOutcome.PENDING,
    }


def test_a_task_everyone_passed_on_waits_in_the_queue(brand, directed_gig):
    only = make_agent(brand)
    task = TaskFactory(gig=directed_gig)
    task_offer(task)
    task_reject(agent=only, task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.reserved_for) == (TaskStatus.QUEUED, None)


def test_a_lapsed_reservation_goes_to_the_next_agent(brand, directed_gig):
    first, second = make_agent(brand), make_agent(brand)
    _idle_since(second, 1)
    task = TaskFactory(gig=directed_gig)
    task_offer(task)
    _lapse_reservation(task)
    assert task.reserved_for == second
    assert TaskReservation.objects.get(task=task, agent=first).outcome == ReservationOutcome.LAPSED


def test_expired_reservations_are_refused_even_before_any_sweep(brand, directed_gig):
    agent = make_agent(brand)
    task = TaskFactory(gig=directed_gig)
    task_offer(task)
    Task.objects.filter(pk=task.pk).update(
        reservation_expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(Conflict):
        task_claim(agent=agent, task_id=task.pk)
    assert Task.objects.get(pk=task.pk).holder is None


def test_several_lapses_in_a_row_set_the_agent_away(brand, directed_gig):
    agent = make_agent(brand)
    for _ in range(LAPSES_BEFORE_AWAY):
        task = TaskFactory(gig=directed_gig)
        task_offer(task)
        assert task.__class__.objects.get(pk=task.pk).reserved_for == agent
        _lapse_reservation(task)
    assert AgentPresence.objects.get(agent=agent).status == PresenceStatus.AWAY


def test_a_claim_in_between_resets_the_lapse_count(brand, directed_gig):
    directed_gig.max_tasks_per_agent = 5
    directed_gig.save()
    agent = make_agent(brand)
    for index in range(LAPSES_BEFORE_AWAY + 1):
        task = TaskFactory(gig=directed_gig)
        task_offer(task)
        if index == 1:
            task_claim(agent=agent, task_id=task.pk)
        else:
            _lapse_reservation(task)
    assert AgentPresence.objects.get(agent=agent).status == PresenceStatus.ONLINE


def test_an_agent_holds_one_reservation_at_a_time(brand, directed_gig):
    make_agent(brand)
    first, second = TaskFactory.create_batch(2, gig=directed_gig)
    task_offer(first)
    task_offer(second)
    second.refresh_from_db()
    assert (second.status, second.reserved_for) == (TaskStatus.QUEUED, None)


def test_coming_online_offers_a_waiting_directed_task(brand, directed_gig):
    agent = make_agent(brand, presence=PresenceStatus.PAUSED)
    task = TaskFactory(gig=directed_gig)
    task_offer(task)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.QUEUED
    presence_set(agent=agent, status=PresenceStatus.ONLINE)
    assert Task.objects.get(pk=task.pk).reserved_for == agent


def test_another_brands_agents_are_never_reserved(brand, other_brand, directed_gig):
    make_agent(other_brand)
    task = TaskFactory(gig=directed_gig)
    task_offer(task)
    task.refresh_from_db()
    assert (task.status, task.reserved_for) == (TaskStatus.QUEUED, None)
