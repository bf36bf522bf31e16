"""QA intake: sampling a closed task, AutoQA findings, the gigs wiring and the weekly top-up."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from brands.models import PoolMembership, PoolStatus
from gigs.dispatch import task_claim
from gigs.models import MessageKind, TaskStatus
from gigs.services import resolution_codes_seed
from gigs.work import task_rate, task_resolve
from marketplace.models import AuditEvent
from qa import sampling
from qa.intake import (
    agent_task_index,
    qa_task_closed,
    qa_task_rated,
    sampling_salt,
    weekly_topup,
)
from qa.models import AutoQAFinding, ReviewAssignment
from qa.scorecards import brand_qa_settings_update, gig_qa_settings_update
from qa.services import assignment_create_for_task
from tests.gigs.factories import MessageFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent
from tests.qa.factories import closed_task

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # ISO week 2026-W49


@pytest.fixture
def no_random(brand_admin, gig):
    """Only the rule-based reasons: the random sample is off."""
    return gig_qa_settings_update(actor=brand_admin, gig=gig, random_pct=0)


def approve(brand, agent, at: datetime) -> PoolMembership:
    return PoolMembership.objects.create(
        brand=brand, agent=agent, status=PoolStatus.APPROVED, decided_at=at
    )


def message(task, kind, body, at):
    item = MessageFactory(task=task, kind=kind, body=body)
    type(item).objects.filter(pk=item.pk).update(created_at=at)
    return item


# --- Sampling -------------------------------------------------------------------------------


def test_a_task_with_several_reasons_gets_one_assignment_listing_them_all(no_random, gig, agent):
    task = closed_task(gig=gig, agent=agent, status=TaskStatus.ESCALATED)

    first = qa_task_closed(task)
    again = qa_task_closed(task.pk)

    assert first.pk == again.pk
    assert ReviewAssignment.objects.filter(task=task).count() == 1
    assert first.reasons == ["escalation", "new_agent"]
    assert first.agent_id == agent.pk


def test_a_low_rating_adds_its_reason_to_the_existing_assignment(no_random, gig, agent):
    task = closed_task(gig=gig, agent=agent)
    assert qa_task_closed(task).reasons == ["new_agent"]

    type(task).objects.filter(pk=task.pk).update(csat_score=1)
    assignment = qa_task_rated(task)

    assert assignment.reasons == ["low_csat", "new_agent"]
    assert ReviewAssignment.objects.filter(task=task).count() == 1
    assert AuditEvent.objects.filter(action="qa.assignment_reasons_added").count() == 1


def test_a_task_no_rule_picks_is_not_queued(brand_admin, gig, agent):
    gig_qa_settings_update(actor=brand_admin, gig=gig, random_pct=0, first_n=0)
    task = closed_task(gig=gig, agent=agent, csat_score=4)

    assert qa_task_closed(task) is None
    assert qa_task_rated(task) is None
    assert not ReviewAssignment.objects.exists()


def test_an_open_task_is_left_alone(no_random, gig, agent):
    task = TaskFactory(gig=gig, status=TaskStatus.CLAIMED, holder=agent)

    assert qa_task_closed(task) is None
    assert not ReviewAssignment.objects.exists()


def test_random_sample_is_seeded_by_gig_task_and_salt(brand_admin, gig, agent):
    gig_qa_settings_update(actor=brand_admin, gig=gig, random_pct=50, first_n=0)
    tasks = [closed_task(gig=gig, agent=agent) for _ in range(24)]
    expected = {
        task.pk for task in tasks if sampling.random_pick(gig.pk, task.pk, sampling_salt(), 50)
    }

    for task in tasks:
        qa_task_closed(task)
    first_run = set(ReviewAssignment.objects.values_list("task_id", flat=True))
    ReviewAssignment.objects.all().delete()
    for task in tasks:
        qa_task_closed(task)
    second_run = set(ReviewAssignment.objects.values_list("task_id", flat=True))

    assert first_run == second_run == expected
    assert 0 < len(expected) < len(tasks)
    assert all(
        reasons == ["random"]
        for reasons in ReviewAssignment.objects.values_list("reasons", flat=True)
    )


def test_the_salt_comes_from_settings_when_set(settings):
    derived = sampling_salt()
    settings.QA_SAMPLING_SALT = "fixed-salt"

    assert sampling_salt() == "fixed-salt"
    assert derived != "fixed-salt" and len(derived) == 32


def test_first_tasks_count_from_the_pool_approval_on_the_gig(brand, brand_admin, gig, agent):
    gig_qa_settings_update(actor=brand_admin, gig=gig, random_pct=0, first_n=2)
    approved_at = MONDAY
    approve(brand, agent, approved_at)
    before = closed_task(gig=gig, agent=agent, closed_at=approved_at - timedelta(days=1))
    first, second, third = (
        closed_task(gig=gig, agent=agent, closed_at=approved_at + timedelta(hours=n))
        for n in (1, 2, 3)
    )

    assert [agent_task_index(t) for t in (before, first, second, third)] == [0, 1, 2, 3]
    picked = {t.pk for t in (before, first, second, third) if qa_task_closed(t) is not None}
    assert picked == {first.pk, second.pk}


# --- AutoQA ---------------------------------------------------------------------------------


@pytest.fixture
def leaky_task(brand, brand_admin, gig, agent):
    brand_qa_settings_update(
        actor=brand_admin, brand=brand, greeting_phrases=["Hello"], closing_phrases=["Bye"]
    )
    task = closed_task(gig=gig, agent=agent)
    message(task, MessageKind.CUSTOMER, "Where is my parcel?", MONDAY)
    message(task, MessageKind.AGENT, "Hello! Write to jane.doe@gmail.com.", MONDAY)
    message(task, MessageKind.NOTE, "Customer's card 4111 1111 1111 1111", MONDAY)
    message(task, MessageKind.AGENT, "Have a nice day.", MONDAY + timedelta(minutes=1))
    return task


def test_autoqa_findings_are_stored_once_and_a_leak_queues_the_task(brand_admin, gig, leaky_task):
    gig_qa_settings_update(actor=brand_admin, gig=gig, random_pct=0, first_n=0)

    assignment = qa_task_closed(leaky_task)
    qa_task_closed(leaky_task)
    qa_task_rated(leaky_task)

    findings = list(AutoQAFinding.objects.filter(task=leaky_task))
    assert sorted((f.kind, f.leak) for f in findings) == [
        ("closing_missing", False),
        ("possible_leak", True),
    ]
    leak = next(f for f in findings if f.leak)
    # Masked, and found in the agent's reply, not in the internal note's card number.
    assert leak.detail == "email address j***@gmail.com in agent reply 1"
    assert leak.brand_id == leaky_task.brand_id
    assert assignment.reasons == ["autoqa_leak"]
    assert ReviewAssignment.objects.filter(task=leaky_task).count() == 1


def test_the_brand_support_domain_is_not_a_leak(brand, brand_admin, gig, agent):
    gig_qa_settings_update(actor=brand_admin, gig=gig, random_pct=0, first_n=0)
    brand.support_email = "help@acme.test"
    brand.save()
    task = closed_task(gig=gig, agent=agent)
    message(task, MessageKind.AGENT, "Write to returns@acme.test any time.", MONDAY)

    assert qa_task_closed(task) is None
    assert not AutoQAFinding.objects.filter(task=task, leak=True).exists()


def test_a_slow_first_reply_is_measured_against_the_gig_sla(no_random, gig, agent):
    gig.sla_first_response_seconds = 600
    gig.save()
    task = closed_task(gig=gig, agent=agent)
    message(task, MessageKind.CUSTOMER, "Hi?", MONDAY)
    message(task, MessageKind.AGENT, "Sorry for the wait.", MONDAY + timedelta(minutes=25))

    qa_task_closed(task)

    slow = AutoQAFinding.objects.get(task=task, kind="first_response_slow")
    assert slow.detail == "First reply after 25 min; the SLA is 10 min."


# --- Wiring in gigs -------------------------------------------------------------------------


def test_resolving_a_task_queues_it_once_the_transaction_commits(
    brand, gig, django_capture_on_commit_callbacks
):
    resolution_codes_seed(brand)
    agent = make_agent(brand)
    task = TaskFactory(gig=gig)
    task_claim(agent=agent, task_id=task.pk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        task_resolve(agent=agent, task_id=task.pk, resolution_code="answered")

    assert callbacks
    assignment = ReviewAssignment.objects.get(task=task)
    assert "new_agent" in assignment.reasons


def test_a_low_rating_queues_the_task_once_the_transaction_commits(
    brand_admin, gig, agent, django_capture_on_commit_callbacks
):
    gig_qa_settings_update(actor=brand_admin, gig=gig, random_pct=0, first_n=0)
    task = closed_task(gig=gig, agent=agent)

    with django_capture_on_commit_callbacks(execute=True):
        task_rate(task=task, score=2)

    assert ReviewAssignment.objects.get(task=task).reasons == ["low_csat"]


# --- Weekly top-up --------------------------------------------------------------------------


def test_weekly_topup_reaches_the_minimum_and_a_rerun_adds_nothing(
    brand_admin, gig, agent, other_agent
):
    gig_qa_settings_update(actor=brand_admin, gig=gig, random_pct=0, first_n=0, weekly_min=3)
    week = [
        closed_task(gig=gig, agent=agent, closed_at=MONDAY + timedelta(days=n)) for n in range(5)
    ]
    closed_task(gig=gig, agent=agent, closed_at=MONDAY + timedelta(days=8))  # next week
    already = week[0]
    qa_task_closed(already)  # nothing picks it with these settings
    assignment_create_for_task(task=already, reasons=["manual"])
    two_tasks = [closed_task(gig=gig, agent=other_agent, closed_at=MONDAY) for _ in range(2)]

    with time_machine.travel(MONDAY + timedelta(days=7), tick=False):
        result = weekly_topup()
        rerun = weekly_topup(week_of=date(2026, 12, 2))

    assert (result.iso_week, result.created, rerun.created) == ("2026-W49", 4, 0)
    week_ids = {t.pk for t in week}
    agent_rows = ReviewAssignment.objects.filter(agent=agent)
    assert agent_rows.count() == 3
    assert set(agent_rows.values_list("task_id", flat=True)) <= week_ids
    assert set(
        ReviewAssignment.objects.filter(agent=other_agent).values_list("task_id", flat=True)
    ) == {t.pk for t in two_tasks}
    assert all(
        a.reasons == ["weekly_topup"] for a in ReviewAssignment.objects.exclude(task=already)
    )


def test_weekly_topup_picks_the_same_tasks_for_the_same_week(brand_admin, gig, agent):
    gig_qa_settings_update(actor=brand_admin, gig=gig, random_pct=0, first_n=0, weekly_min=2)
    tasks = [
        closed_task(gig=gig, agent=agent, closed_at=MONDAY + timedelta(hours=n)) for n in range(8)
    ]
    expected = sampling.weekly_topup_pick(gig.pk, agent.pk, "2026-W49", [t.pk for t in tasks], 2)

    weekly_topup(week_of=MONDAY.date())
    first = sorted(ReviewAssignment.objects.values_list("task_id", flat=True))
    ReviewAssignment.objects.all().delete()
    weekly_topup(week_of=MONDAY.date())
    second = sorted(ReviewAssignment.objects.values_list("task_id", flat=True))

    assert first == second == expected
