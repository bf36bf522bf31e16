"""Reservations: a claim sets aside its expected cost; the final work record settles it."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from gigs import live
from gigs.dispatch import session_close, task_claim, task_claim_next, task_release
from gigs.models import Gig, PayModel, SessionOutcome, Task, TaskStatus, WorkRecord, WorkSession
from gigs.services import resolution_codes_seed
from gigs.work import task_escalate, task_resolve
from marketplace.errors import Conflict
from payouts.earnings import earning_post
from payouts.models import BrandTerms, Earning, Entry, LedgerAccount, Posting, Purpose
from payouts.reservations import (
    BRAND_CANNOT_COVER,
    BrandCannotCover,
    claim_cost,
    claim_cost_expression,
    gig_can_cover,
    gigs_paused_for_funds,
)
from payouts.selectors import balance_mismatches, unbalanced_postings
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent
from tests.gigs.test_work_services import at
from tests.payouts.factories import brand_fund

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _codes(brand):
    resolution_codes_seed(brand)


@pytest.fixture
def agent(brand):
    return make_agent(brand)


def balance(brand, purpose=Purpose.BRAND_BALANCE, currency="EUR") -> int:
    account = LedgerAccount.objects.filter(brand=brand, purpose=purpose, currency=currency).first()
    return account.balance_minor if account else 0


def reserved(brand, currency="EUR") -> int:
    return balance(brand, Purpose.BRAND_RESERVED, currency)


def unfunded_gig(brand, funds: int | None = None, **fields) -> Gig:
    """A gig whose brand holds exactly ``funds`` (nothing when None)."""
    gig = GigFactory(brand=brand, funded=False, **fields)
    if funds:
        brand_fund(brand, gig.currency, funds, key=f"exact:{brand.pk}:{gig.currency}:{funds}")
    return gig


def resolve(agent, task):
    task_claim(agent=agent, task_id=task.pk)
    return task_resolve(agent=agent, task_id=task.pk, resolution_code="answered")


def published_events(callbacks) -> list[tuple[dict, list[str]]]:
    """(event, topics) of every live event queued for after the commit."""
    return [
        (item["event"], item["topics"])
        for callback in callbacks
        if isinstance(callback, live._Batch)
        for item in callback.items
    ]


def pool_resyncs(callbacks, brand) -> int:
    return sum(
        1
        for event, topics in published_events(callbacks)
        if event == {"type": live.SCOPE_CHANGED, "resync": True}
        and topics == [live.pool_topic(brand.pk)]
    )


# --- What one claim costs ------------------------------------------------------------------


def test_a_per_resolution_claim_costs_the_rate_plus_the_fee(brand):
    gig = unfunded_gig(brand, rate_minor=250)
    assert claim_cost(gig=gig) == 300  # 250 + 20 % default fee
    BrandTerms.objects.create(brand=brand, platform_fee_bps=1500)
    assert claim_cost(gig=gig) == 288  # 250 + 37.5 rounded half up


def test_a_per_minute_claim_costs_the_reserved_minutes_at_the_rate_plus_the_fee(brand):
    gig = unfunded_gig(brand, pay_model=PayModel.PER_MINUTE, rate_minor=40, reserve_minutes=15)
    assert claim_cost(gig=gig) == 720  # 15 x 40 = 600, + 120
    gig.reserve_minutes = 5
    assert claim_cost(gig=gig, fee_bps=1500) == 230  # 200 + 30


@pytest.mark.parametrize(
    ("pay_model", "rate", "minutes", "fee_bps"),
    [
        (PayModel.PER_RESOLUTION, 25, 15, 1500),  # fee 3.75 -> 4
        (PayModel.PER_RESOLUTION, 10, 15, 2500),  # fee 2.5 -> 3, half up
        (PayModel.PER_RESOLUTION, 10, 15, 2400),  # fee 2.4 -> 2
        (PayModel.PER_MINUTE, 7, 3, 1250),  # 21, fee 2.625 -> 3
        (PayModel.PER_MINUTE, 10_000_000, 1440, 2000),  # past a 32-bit integer
    ],
)
def test_the_database_prices_a_claim_exactly_as_python_does(
    brand, pay_model, rate, minutes, fee_bps
):
    gig = unfunded_gig(
        brand,
        pay_model=pay_model,
        rate_minor=rate,
        reserve_minutes=minutes,
        max_billable_minutes=1440,
    )
    BrandTerms.objects.create(brand=brand, platform_fee_bps=fee_bps)
    in_sql = Gig.objects.annotate(cost=claim_cost_expression()).get(pk=gig.pk).cost
    assert in_sql == claim_cost(gig=gig, fee_bps=fee_bps)


# --- Reserving at claim ---------------------------------------------------------------------


def test_a_claim_reserves_its_expected_cost_from_the_brand_balance(brand, agent):
    gig = unfunded_gig(brand, funds=1000, rate_minor=250)
    task = TaskFactory(gig=gig)
    task_claim(agent=agent, task_id=task.pk)

    session = WorkSession.objects.get(task=task)
    assert session.reserved_minor == 300
    assert (balance(brand), reserved(brand)) == (700, 300)
    posting = Posting.objects.get(idempotency_key=f"reservation:{session.pk}")
    assert posting.kind == "work.reservation"
    assert sorted(posting.entries.values_list("amount_minor", flat=True)) == [-300, 300]
    assert balance_mismatches() == []


def test_a_claim_the_balance_cannot_cover_is_refused_and_changes_nothing(
    brand, agent, ledger_counts
):
    gig = unfunded_gig(brand, funds=299, rate_minor=250)
    task = TaskFactory(gig=gig)
    before = ledger_counts()

    with pytest.raises(BrandCannotCover) as refused:
        task_claim(agent=agent, task_id=task.pk)

    assert refused.value.code == "brand_cannot_cover"
    assert refused.value.message == BRAND_CANNOT_COVER
    assert "299" not in refused.value.message  # the agent learns nothing of the balance
    task.refresh_from_db()
    assert (task.status, task.holder_id) == (TaskStatus.QUEUED, None)
    assert not WorkSession.objects.filter(task=task).exists()
    assert ledger_counts() == before
    assert (balance(brand), reserved(brand)) == (299, 0)


def test_a_brand_never_funded_in_the_gigs_currency_cannot_be_claimed_from(brand, agent):
    brand_fund(brand, "USD", 100_000)
    task = TaskFactory(gig=unfunded_gig(brand))
    with pytest.raises(Conflict) as refused:
        task_claim(agent=agent, task_id=task.pk)
    assert refused.value.code == "brand_cannot_cover"


def test_the_last_claim_the_balance_covers_succeeds_and_the_next_is_refused(brand):
    gig = unfunded_gig(brand, funds=600, rate_minor=250, max_tasks_per_agent=5)
    first, second, third = TaskFactory.create_batch(3, gig=gig)
    agent = make_agent(brand)
    task_claim(agent=agent, task_id=first.pk)
    task_claim(agent=agent, task_id=second.pk)
    assert (balance(brand), reserved(brand)) == (0, 600)
    with pytest.raises(BrandCannotCover):
        task_claim(agent=agent, task_id=third.pk)


def test_claim_next_returns_nothing_when_no_brand_can_cover(brand, agent):
    TaskFactory(gig=unfunded_gig(brand, funds=100))
    assert task_claim_next(agent=agent) is None
    assert not WorkSession.objects.exists()


def test_claim_next_passes_over_an_unfunded_gig_to_one_that_can_cover(brand, agent):
    poor = unfunded_gig(brand, funds=100, title="Poor")
    urgent = TaskFactory(gig=poor, priority=40)
    funded = GigFactory(brand=brand, currency="USD", title="Funded")
    routine = TaskFactory(gig=funded, priority=10)

    assert task_claim_next(agent=agent) == routine
    urgent.refresh_from_db()
    assert urgent.status == TaskStatus.QUEUED
    assert reserved(brand, "USD") == 300


def test_an_unfunded_gig_is_not_offered_live(brand):
    assert not gig_can_cover(unfunded_gig(brand, funds=299, rate_minor=250))
    assert gig_can_cover(GigFactory(brand=brand, currency="GBP"))


# --- Settling when the work record is final --------------------------------------------------


def test_a_resolution_settles_its_reservation_in_the_earning_posting(brand, agent):
    gig = unfunded_gig(brand, funds=1000, rate_minor=250)
    task = TaskFactory(gig=gig)
    resolve(agent, task)

    assert (balance(brand), reserved(brand)) == (700, 0)
    earning = Earning.objects.get()
    lines = {
        entry.account.purpose: entry.amount_minor
        for entry in earning.posting.entries.select_related("account")
    }
    # Reserved exactly what it cost: the balance is not touched again.
    assert lines == {
        Purpose.BRAND_RESERVED: -300,
        Purpose.AGENT_PENDING: 250,
        Purpose.PLATFORM_REVENUE: 50,
    }
    assert balance_mismatches() == []
    assert unbalanced_postings() == []


def test_per_minute_work_is_charged_its_actual_cost_and_the_rest_released(brand, agent):
    gig = unfunded_gig(
        brand, funds=10_000, pay_model=PayModel.PER_MINUTE, rate_minor=40, reserve_minutes=15
    )
    task = TaskFactory(gig=gig)
    start = timezone.now()
    with at(start):
        task_claim(agent=agent, task_id=task.pk)
    assert (balance(brand), reserved(brand)) == (10_000 - 720, 720)
    with at(start + timedelta(seconds=55)):  # within the heartbeat grace: all billable
        task_resolve(agent=agent, task_id=task.pk, resolution_code="answered")

    # 55 s at 40 a minute = 36.67 -> 37, fee 7.4 -> 7: 44 charged, 676 of the 720 back.
    assert (balance(brand), reserved(brand)) == (10_000 - 44, 0)
    assert balance_mismatches() == []


def test_work_that_costs_more_than_reserved_may_take_the_balance_below_zero(brand, agent):
    gig = unfunded_gig(
        brand, funds=72, pay_model=PayModel.PER_MINUTE, rate_minor=60, reserve_minutes=1
    )
    task = TaskFactory(gig=gig)
    start = timezone.now()
    with at(start):
        task_claim(agent=agent, task_id=task.pk)
    with at(start + timedelta(seconds=30)):
        from gigs.dispatch import agent_heartbeat

        agent_heartbeat(agent=agent)
    with at(start + timedelta(seconds=60)):
        agent_heartbeat(agent=agent)
    with at(start + timedelta(seconds=120)):
        agent_heartbeat(agent=agent)
        task_resolve(agent=agent, task_id=task.pk, resolution_code="answered")

    # 2 minutes at 60 = 120, fee 24: 144 against 72 reserved.
    assert (balance(brand), reserved(brand)) == (-72, 0)
    assert gigs_paused_for_funds(brand=brand)[0].balance_minor == -72


@pytest.mark.parametrize("how", ["escalated", "released", "cancelled"])
def test_work_that_earns_nothing_releases_its_reservation(brand, agent, how):
    gig = unfunded_gig(brand, funds=1000, rate_minor=250)
    task = TaskFactory(gig=gig)
    task_claim(agent=agent, task_id=task.pk)
    if how == "escalated":
        task_escalate(agent=agent, task_id=task.pk, reason="Refund over the limit")
    elif how == "released":
        task_release(agent=agent, task_id=task.pk)
    else:
        # What cancelling a held task does: its session closes as cancelled.
        with transaction.atomic():
            Task.objects.filter(pk=task.pk).update(status=TaskStatus.CANCELLED, holder=None)
            session_close(task, timezone.now(), SessionOutcome.CANCELLED)

    record = WorkRecord.objects.get(task=task)
    assert not Earning.objects.exists()
    release = Posting.objects.get(idempotency_key=f"work_record:{record.pk}:release")
    assert release.kind == "work.reservation_release"
    assert (balance(brand), reserved(brand)) == (1000, 0)
    # Settling the same record again (a retried job) posts nothing more.
    count = Posting.objects.count()
    assert earning_post(work_record=record) is None
    assert Posting.objects.count() == count
    assert balance_mismatches() == []


def test_per_minute_work_with_no_billable_second_releases_its_reservation(brand, agent):
    gig = unfunded_gig(brand, funds=1000, pay_model=PayModel.PER_MINUTE, rate_minor=10)
    task = TaskFactory(gig=gig)
    now = timezone.now()
    with at(now):
        task_claim(agent=agent, task_id=task.pk)
        task_release(agent=agent, task_id=task.pk)
    assert not Earning.objects.exists()
    assert (balance(brand), reserved(brand)) == (1000, 0)


def _session_from_before_reservations(gig, agent) -> Task:
    """A task held under a session opened before claims reserved anything."""
    task = TaskFactory(gig=gig)
    now = timezone.now()
    Task.objects.filter(pk=task.pk).update(
        status=TaskStatus.CLAIMED,
        holder=agent,
        claimed_at=now,
        lease_expires_at=now + timedelta(minutes=5),
    )
    WorkSession.objects.create(
        task=task,
        agent=agent,
        brand=gig.brand,
        gig=gig,
        pay_model=gig.pay_model,
        rate_minor=gig.rate_minor,
        currency=gig.currency,
        grace_seconds=gig.heartbeat_grace_seconds,
        lease_seconds=gig.lease_seconds,
        max_billable_seconds=gig.max_billable_minutes * 60,
        started_at=now,
        active_since=now,
        last_heartbeat_at=now,
    )
    return task


def test_work_claimed_before_reservations_settles_as_it_always_did(brand, agent):
    gig = unfunded_gig(brand, funds=1000, rate_minor=250)
    resolved = _session_from_before_reservations(gig, agent)
    task_resolve(agent=agent, task_id=resolved.pk, resolution_code="answered")
    assert (balance(brand), reserved(brand)) == (700, 0)
    lines = {
        entry.account.purpose: entry.amount_minor
        for entry in Earning.objects.get().posting.entries.select_related("account")
    }
    assert lines[Purpose.BRAND_BALANCE] == -300
    assert Purpose.BRAND_RESERVED not in lines

    escalated = _session_from_before_reservations(gig, agent)
    postings = Posting.objects.count()
    task_escalate(agent=agent, task_id=escalated.pk, reason="In-house only")
    assert Posting.objects.count() == postings  # nothing reserved, nothing to release
    assert balance(brand) == 700


def test_the_reserved_balance_returns_to_zero_once_all_work_is_closed(brand):
    gig = unfunded_gig(brand, funds=100_000, rate_minor=250, max_tasks_per_agent=3)
    minute_gig = GigFactory(brand=brand, pay_model=PayModel.PER_MINUTE, rate_minor=30, funded=False)
    agents = [make_agent(brand) for _ in range(3)]
    tasks = TaskFactory.create_batch(3, gig=gig) + TaskFactory.create_batch(2, gig=minute_gig)
    for n, task in enumerate(tasks):
        task_claim(agent=agents[n % 3], task_id=task.pk)
    assert reserved(brand) == 3 * 300 + 2 * 540
    holder = {task.pk: agents[n % 3] for n, task in enumerate(tasks)}
    task_resolve(agent=holder[tasks[0].pk], task_id=tasks[0].pk, resolution_code="answered")
    task_escalate(agent=holder[tasks[1].pk], task_id=tasks[1].pk, reason="In-house")
    task_release(agent=holder[tasks[2].pk], task_id=tasks[2].pk)
    task_resolve(agent=holder[tasks[3].pk], task_id=tasks[3].pk, resolution_code="answered")
    task_release(agent=holder[tasks[4].pk], task_id=tasks[4].pk)

    assert reserved(brand) == 0
    charged = sum(e.amount_minor + e.fee_minor for e in Earning.objects.all())
    assert balance(brand) == 100_000 - charged
    assert balance_mismatches() == []
    assert unbalanced_postings() == []
    assert sum(Entry.objects.values_list("amount_minor", flat=True)) == 0


def test_the_ledger_check_is_clean_after_reservations_and_settlements(brand, agent):
    from io import StringIO

    from django.core.management import call_command

    resolve(agent, TaskFactory(gig=GigFactory(brand=brand)))
    out = StringIO()
    call_command("ledger_check", stdout=out)
    assert "Ledger balanced" in out.getvalue()  # a problem would raise CommandError


# --- Telling the pool when the balance crosses a claim's cost ---------------------------------


def test_the_claim_that_leaves_too_little_for_another_tells_the_pool(
    brand, django_capture_on_commit_callbacks
):
    gig = unfunded_gig(brand, funds=600, rate_minor=250, max_tasks_per_agent=5)
    first, second = TaskFactory.create_batch(2, gig=gig)
    agent = make_agent(brand)
    with django_capture_on_commit_callbacks() as callbacks:
        task_claim(agent=agent, task_id=first.pk)
    assert pool_resyncs(callbacks, brand) == 0  # 300 left: still one more claim
    with django_capture_on_commit_callbacks() as callbacks:
        task_claim(agent=agent, task_id=second.pk)
    assert pool_resyncs(callbacks, brand) == 1


def test_a_release_that_covers_a_claim_again_tells_the_pool(
    brand, agent, django_capture_on_commit_callbacks
):
    gig = unfunded_gig(brand, funds=300, rate_minor=250)
    task = TaskFactory(gig=gig)
    task_claim(agent=agent, task_id=task.pk)
    assert gigs_paused_for_funds(brand=brand)[0].gig == gig
    with django_capture_on_commit_callbacks() as callbacks:
        task_release(agent=agent, task_id=task.pk)
    assert pool_resyncs(callbacks, brand) == 1
    assert gigs_paused_for_funds(brand=brand) == []


def test_settling_far_above_every_claims_cost_tells_nobody(
    brand, agent, django_capture_on_commit_callbacks
):
    gig = GigFactory(brand=brand, pay_model=PayModel.PER_MINUTE, rate_minor=40)
    task = TaskFactory(gig=gig)
    with django_capture_on_commit_callbacks() as callbacks:
        task_claim(agent=agent, task_id=task.pk)
        task_release(agent=agent, task_id=task.pk)
    assert pool_resyncs(callbacks, brand) == 0


# --- The brand's view ----------------------------------------------------------------------------


def test_paused_gigs_say_what_the_balance_is_and_what_one_task_needs(brand, other_brand):
    poor = unfunded_gig(brand, funds=100, rate_minor=250, title="Returns")
    GigFactory(brand=brand, currency="USD", title="Funded")
    unfunded_gig(brand, rate_minor=250, title="Closed one", status="closed")
    unfunded_gig(other_brand, title="Not ours")

    [paused] = gigs_paused_for_funds(brand=brand)
    assert (paused.gig, paused.currency, paused.balance_minor, paused.needed_minor) == (
        poor,
        "EUR",
        100,
        300,
    )


def test_a_top_up_that_covers_a_claim_again_tells_the_pool(
    brand, brand_admin, django_capture_on_commit_callbacks
):
    from payouts.funding import topup_credit
    from payouts.models import TopUp

    gig = unfunded_gig(brand, funds=100, rate_minor=250)
    small = TopUp.objects.create(
        brand=brand, currency="EUR", amount_minor=100, created_by=brand_admin
    )
    with django_capture_on_commit_callbacks() as callbacks:
        topup_credit(small, memo="Paid", reference="test")
    assert pool_resyncs(callbacks, brand) == 0  # 200: still short of 300
    assert gig_can_cover(gig) is False
    enough = TopUp.objects.create(
        brand=brand, currency="EUR", amount_minor=100, created_by=brand_admin
    )
    with django_capture_on_commit_callbacks() as callbacks:
        topup_credit(enough, memo="Paid", reference="test")
    assert pool_resyncs(callbacks, brand) == 1
    assert gig_can_cover(gig) is True
