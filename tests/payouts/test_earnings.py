"""Earnings: finished work becomes money once, with the fee, the hold and clawbacks."""

from datetime import timedelta
from fractions import Fraction

import pytest
from django.utils import timezone

from gigs.dispatch import task_claim, task_release
from gigs.models import PayModel, WorkRecord
from gigs.services import resolution_codes_seed
from gigs.work import task_escalate, task_resolve
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from payouts.earnings import (
    earning_amounts,
    earning_clawback,
    earning_post,
    earnings_release_due,
    round_half_up,
)
from payouts.models import BrandTerms, Earning, EarningStatus, Entry, LedgerAccount, Purpose
from payouts.selectors import account_balance, balance_mismatches
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent
from tests.gigs.test_work_services import at
from tests.payouts.factories import TEST_FUNDS_MINOR

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _codes(brand):
    resolution_codes_seed(brand)


@pytest.fixture
def agent(brand):
    return make_agent(brand)


def balance(purpose, **owner) -> int:
    account = LedgerAccount.objects.filter(purpose=purpose, currency="EUR", **owner).first()
    return account_balance(account) if account else 0


def resolve(agent, task):
    task_claim(agent=agent, task_id=task.pk)
    return task_resolve(agent=agent, task_id=task.pk, resolution_code="answered")


# --- Amounts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(5, 2), 3),
        (Fraction(7, 2), 4),  # not banker's rounding: 3.5 -> 4, 2.5 -> 3
        (Fraction(249, 100), 2),
        (Fraction(-5, 2), -3),
        (Fraction(4, 1), 4),
    ],
)
def test_rounding_is_half_up(value, expected):
    assert round_half_up(value) == expected


def test_per_minute_pays_billable_seconds_times_the_rate_rounded_once():
    # 95 s at 40 cents a minute = 63.33 cents -> 63; the fee 20 % of 63 = 12.6 -> 13.
    record = WorkRecord(
        pay_model=PayModel.PER_MINUTE, rate_minor=40, billable_seconds=95, outcome="released"
    )
    assert earning_amounts(record, fee_bps=2000) == (63, 13)
    # 45 s at 30 cents = 22.5 cents: rounded half up once, at the end.
    record.billable_seconds, record.rate_minor = 45, 30
    assert earning_amounts(record, fee_bps=0) == (23, 0)


def test_per_resolution_pays_the_rate_only_for_a_resolution():
    record = WorkRecord(pay_model=PayModel.PER_RESOLUTION, rate_minor=250, outcome="resolved")
    assert earning_amounts(record, fee_bps=1500) == (250, 38)  # 37.5 -> 38
    record.outcome = "escalated"
    assert earning_amounts(record, fee_bps=1500) == (0, 0)


# --- Posting ----------------------------------------------------------------------------


def test_resolving_a_task_posts_its_earning_once(brand, agent):
    task = TaskFactory(gig=GigFactory(brand=brand, rate_minor=250))
    resolve(agent, task)

    earning = Earning.objects.get(agent=agent)
    assert (earning.amount_minor, earning.fee_minor, earning.status) == (
        250,
        50,
        EarningStatus.PENDING,
    )
    assert balance(Purpose.AGENT_PENDING, agent=agent) == 250
    # The factory funded the brand: the work cost it 300 (its claim's
    # reservation, settled at exactly that), nothing is left reserved.
    assert balance(Purpose.BRAND_BALANCE, brand=brand) == TEST_FUNDS_MINOR - 300
    assert balance(Purpose.BRAND_RESERVED, brand=brand) == 0
    assert balance(Purpose.PLATFORM_REVENUE) == 50
    assert (
        sum(Entry.objects.filter(posting=earning.posting).values_list("amount_minor", flat=True))
        == 0
    )

    # Posting the same record again (a retried job) changes nothing.
    again = earning_post(work_record=earning.work_record)
    assert again.pk == earning.pk
    assert Earning.objects.count() == 1
    assert balance(Purpose.AGENT_PENDING, agent=agent) == 250
    assert balance_mismatches() == []


def test_an_escalated_per_resolution_task_earns_nothing(brand, agent):
    task = TaskFactory(gig=GigFactory(brand=brand))
    task_claim(agent=agent, task_id=task.pk)
    task_escalate(agent=agent, task_id=task.pk, reason="Needs a refund over the limit")
    assert not Earning.objects.exists()
    assert WorkRecord.objects.filter(task=task).exists()


def test_a_released_per_minute_task_pays_the_minutes_worked(brand, agent):
    gig = GigFactory(brand=brand, pay_model=PayModel.PER_MINUTE, rate_minor=60)
    task = TaskFactory(gig=gig)
    start = timezone.now().replace(microsecond=0)
    with at(start):
        task_claim(agent=agent, task_id=task.pk)
    with at(start + timedelta(seconds=50)):
        task_release(agent=agent, task_id=task.pk)
    earning = Earning.objects.get()
    assert (earning.billable_seconds, earning.amount_minor) == (50, 50)


def test_the_brands_own_terms_price_the_fee_and_the_hold(brand, agent):
    BrandTerms.objects.create(brand=brand, platform_fee_bps=1000, hold_days=3)
    task = TaskFactory(gig=GigFactory(brand=brand, rate_minor=300))
    resolve(agent, task)
    earning = Earning.objects.get()
    assert (earning.fee_minor, earning.fee_bps) == (30, 1000)
    assert earning.available_at - earning.earned_at == timedelta(days=3)


# --- Holds -------------------------------------------------------------------------------


def test_an_earning_becomes_available_when_its_hold_ends_and_not_before(brand, agent):
    resolve(agent, TaskFactory(gig=GigFactory(brand=brand, rate_minor=250)))
    earning = Earning.objects.get()

    assert earnings_release_due(now=earning.available_at - timedelta(seconds=1)) == 0
    assert earnings_release_due(now=earning.available_at) == 1
    assert earnings_release_due(now=earning.available_at) == 0  # once

    earning.refresh_from_db()
    assert earning.status == EarningStatus.AVAILABLE
    assert balance(Purpose.AGENT_PENDING, agent=agent) == 0
    assert balance(Purpose.AGENT_AVAILABLE, agent=agent) == 250
    assert balance_mismatches() == []


def test_releasing_one_agents_holds_leaves_the_others(brand, agent):
    other = make_agent(brand)
    gig = GigFactory(brand=brand, max_tasks_per_agent=2)
    resolve(agent, TaskFactory(gig=gig))
    resolve(other, TaskFactory(gig=gig))
    later = timezone.now() + timedelta(days=30)
    assert earnings_release_due(now=later, agent=agent) == 1
    assert Earning.objects.get(agent=other).status == EarningStatus.PENDING


# --- Clawbacks ---------------------------------------------------------------------------


@pytest.fixture
def staff(db):
    from tests.marketplace.factories import StaffUserFactory

    return StaffUserFactory(email="money@gigdesk.test")


def test_a_clawback_before_the_hold_ends_takes_back_the_pending_earning(brand, agent, staff):
    resolve(agent, TaskFactory(gig=GigFactory(brand=brand, rate_minor=250)))
    earning = earning_clawback(
        earning=Earning.objects.get(), actor=staff, reason="Customer was given wrong advice"
    )
    assert earning.status == EarningStatus.CLAWED_BACK
    assert balance(Purpose.AGENT_PENDING, agent=agent) == 0
    assert balance(Purpose.BRAND_BALANCE, brand=brand) == TEST_FUNDS_MINOR  # all given back
    assert balance(Purpose.PLATFORM_REVENUE) == 0
    # A clawed-back earning is never released.
    assert earnings_release_due(now=timezone.now() + timedelta(days=30)) == 0
    with pytest.raises(Conflict):
        earning_clawback(earning=earning, actor=staff, reason="Again")


def test_a_clawback_after_release_takes_from_the_available_balance(brand, agent, staff):
    gig = GigFactory(brand=brand, rate_minor=250, max_tasks_per_agent=2)
    resolve(agent, TaskFactory(gig=gig))
    earnings_release_due(now=timezone.now() + timedelta(days=30))
    earning_clawback(earning=Earning.objects.get(), actor=staff, reason="Chargeback")
    assert balance(Purpose.AGENT_AVAILABLE, agent=agent) == 0
    assert balance(Purpose.AGENT_PENDING, agent=agent) == 0
    assert balance(Purpose.BRAND_BALANCE, brand=brand) == TEST_FUNDS_MINOR  # all given back
    assert balance_mismatches() == []


def test_only_staff_claw_back_and_always_with_a_reason(brand, agent, staff):
    resolve(agent, TaskFactory(gig=GigFactory(brand=brand)))
    earning = Earning.objects.get()
    with pytest.raises(PermissionDenied):
        earning_clawback(earning=earning, actor=agent, reason="Mine")
    with pytest.raises(ValidationFailed):
        earning_clawback(earning=earning, actor=staff, reason="   ")
    earning.refresh_from_db()
    assert earning.status == EarningStatus.PENDING


def test_the_release_command_can_move_the_clock_for_a_demo(brand, agent):
    from io import StringIO

    from django.core.management import CommandError, call_command

    resolve(agent, TaskFactory(gig=GigFactory(brand=brand, rate_minor=250)))
    out = StringIO()
    call_command("earnings_release_holds", stdout=out)
    assert "Released 0 earnings" in out.getvalue()
    call_command("earnings_release_holds", "--days-ahead", "8", stdout=out)
    assert "Released 1 earning " in out.getvalue()
    assert Earning.objects.get().status == EarningStatus.AVAILABLE
    with pytest.raises(CommandError):
        call_command("earnings_release_holds", "--days-ahead", "-1")


def test_the_periodic_job_releases_holds_that_have_ended(brand, agent):
    from payouts.tasks import earnings_release_job

    resolve(agent, TaskFactory(gig=GigFactory(brand=brand, rate_minor=250)))
    Earning.objects.update(available_at=timezone.now() - timedelta(seconds=1))
    earnings_release_job.call_local()
    assert Earning.objects.get().status == EarningStatus.AVAILABLE
    assert balance(Purpose.AGENT_AVAILABLE, agent=agent) == 250
