"""Executing pay runs against the Stripe sandbox: transfers, faults, refusals, reversals, webhooks.

Stripe is the sandbox subprocess reached through the real SDK. Earnings are
real (resolved tasks, released holds); agents onboard on the sandbox's
hosted page; the platform's Stripe balance comes from a brand top-up paid
on its Checkout page. Transfers are counted in the sandbox's own state file,
so "exactly once" is Stripe's count, not ours.
"""

import random
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gigs.services import resolution_codes_seed
from marketplace.errors import Conflict, ValidationFailed
from marketplace.models import AuditEvent
from payouts import connect, payrun_transfers, payruns, tasks
from payouts.earnings import earning_clawback
from payouts.models import (
    PayRun,
    PayRunLine,
    PayRunLineStatus,
    PayRunSkipReason,
    PayRunStatus,
    Posting,
    Purpose,
    StripeEvent,
    StripeEventStatus,
)
from payouts.payrun_transfers import StripeUnavailable, payrun_process
from payouts.selectors import agent_balances
from payouts.stripe_api import stripe_client
from tests.marketplace.factories import StaffUserFactory
from tests.payouts.connect_helpers import finish_onboarding
from tests.payouts.payrun_helpers import (
    assert_holds_match_lines,
    balance,
    clearing_balance,
    earn,
    fund_platform,
    new_agent,
    onboard,
    sandbox_transfers,
    stale_enabled_account,
    stripe_platform_available,
    transfers_per_line,
)
from tests.payouts.stripe_helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(autouse=True)
def _fast(settings, monkeypatch, brand):
    resolution_codes_seed(brand)
    settings.STRIPE_MAX_REQUESTS_PER_SECOND = 200
    monkeypatch.setattr(payrun_transfers, "ROUND_BACKOFF_SECONDS", 0.05)
    monkeypatch.setattr(payrun_transfers, "TRANSIENT_PAUSE_SECONDS", 0.05)


@pytest.fixture
def approver(db):
    return StaffUserFactory(email="approver@gigdesk.test")


@pytest.fixture
def funded(sandbox, stripe_webhooks, deliver, brand, brand_admin):
    """The platform holds 1,000.00 EUR at Stripe (a paid brand top-up)."""
    fund_platform(stripe_webhooks, deliver, brand=brand, admin=brand_admin, amount_minor=100_000)
    return sandbox


def onboarded_agent(brand, *amounts: int):
    agent = new_agent(brand)
    for amount in amounts:
        earn(agent, brand, amount)
    onboard(agent)
    return agent


def approved_run(staff_user, approver) -> PayRun:
    run = payruns.payrun_create(actor=staff_user, currency="EUR")
    return payruns.payrun_approve(run=run, actor=approver)


def start(run, actor, capture) -> PayRun:
    """Execute without running the job (the test runs ``payrun_process`` itself)."""
    with capture(execute=False):
        return payruns.payrun_execute(run=run, actor=actor)


def lines_of(run) -> list[PayRunLine]:
    return list(PayRunLine.objects.filter(run=run).order_by("pk"))


def assert_paid_once(sandbox, run) -> None:
    lines = lines_of(run)
    assert {line.status for line in lines} == {PayRunLineStatus.PAID}
    assert transfers_per_line(sandbox) == {line.pk: 1 for line in lines}
    by_id = {transfer["id"]: transfer for transfer in sandbox_transfers(sandbox)}
    for line in lines:
        transfer = by_id[line.stripe_transfer_id]
        assert (transfer["amount"], transfer["destination"]) == (
            line.amount_minor,
            line.destination,
        )


# --- The happy path -------------------------------------------------------------------------


def test_execution_pays_each_line_with_one_transfer(
    funded, brand, staff_user, approver, django_capture_on_commit_callbacks
):
    ana = onboarded_agent(brand, 1500, 1000)
    bo = onboarded_agent(brand, 4000)
    run = approved_run(staff_user, approver)
    clearing_before, stripe_before = clearing_balance(), stripe_platform_available()

    with django_capture_on_commit_callbacks(execute=True):  # the job runs inline
        payruns.payrun_execute(run=run, actor=approver)

    run.refresh_from_db()
    assert run.status == PayRunStatus.COMPLETED and run.completed_at is not None
    assert_paid_once(funded, run)
    line = lines_of(run)[0]
    (transfer,) = [t for t in sandbox_transfers(funded) if t["id"] == line.stripe_transfer_id]
    assert transfer["transfer_group"] == f"payrun_{run.pk}"
    assert transfer["metadata"] == {
        "payrun_id": str(run.pk),
        "payrun_line_id": str(line.pk),
        "attempt": "1",
        "agent_id": str(line.agent_id),
    }
    for agent, amount in ((ana, 2500), (bo, 4000)):
        (money,) = agent_balances(agent)
        assert (money.available, money.in_transit, money.paid) == (0, 0, amount)
    # What left the platform's Stripe balance is what the ledger says it sent.
    assert stripe_platform_available() - stripe_before == -6500
    assert clearing_balance() - clearing_before == 6500
    assert_holds_match_lines()
    assert_ledger_balanced()
    assert AuditEvent.objects.filter(action="payrun.executed", actor=approver).exists()
    assert AuditEvent.objects.filter(action="payrun.completed", target_id=str(run.pk)).exists()


def test_running_the_job_again_sends_nothing(
    funded, brand, staff_user, approver, django_capture_on_commit_callbacks
):
    onboarded_agent(brand, 2000)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    payrun_process(run_id=run.pk)

    assert payrun_process(run_id=run.pk) is None  # completed: nothing to lease
    PayRun.objects.filter(pk=run.pk).update(status=PayRunStatus.EXECUTING)
    payrun_process(run_id=run.pk)

    assert len(sandbox_transfers(funded)) == 1


def test_recording_costs_the_same_queries_for_more_lines(
    funded, brand, staff_user, approver, django_capture_on_commit_callbacks
):
    def queries_for(agent_count: int) -> int:
        for _ in range(agent_count):
            onboarded_agent(brand, 1200)
        run = start(
            approved_run(staff_user, StaffUserFactory()),
            approver,
            django_capture_on_commit_callbacks,
        )
        with CaptureQueriesContext(connection) as captured:
            progress = payrun_process(run_id=run.pk)
        assert progress.paid == agent_count
        return len(captured.captured_queries)

    # (From three lines on: the ledger updates one or two balances row by row.)
    assert queries_for(3) == queries_for(8)


# --- Faults: Stripe unreachable, slow, or its answer lost ----------------------------------------


def test_a_run_interrupted_by_stripe_failures_and_retried_transfers_each_line_once(
    funded, brand, staff_user, approver, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(payrun_transfers, "MAX_ROUNDS", 1)
    for amount in (1100, 1200, 1300, 1400, 1500):
        onboarded_agent(brand, amount)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    funded.fail_next(30)  # Stripe answers 500 for a while...
    funded.fail_next(1, mode="lost_response", hold_seconds=0)  # ...then loses one answer

    with pytest.raises(StripeUnavailable):
        payrun_process(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == PayRunStatus.EXECUTING and "paused" in run.last_error
    assert not sandbox_transfers(funded)
    assert_holds_match_lines()

    # Later jobs (the job's retries, or the sweep) resume until the run is done.
    for _ in range(10):
        try:
            if payrun_process(run_id=run.pk).completed:
                break
        except StripeUnavailable:
            continue

    assert_paid_once(funded, run)
    assert_holds_match_lines()
    assert_ledger_balanced()


def test_lost_answers_and_timeouts_are_resent_with_the_same_key(
    funded, brand, staff_user, approver, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(payrun_transfers, "TRANSFER_TIMEOUT_SECONDS", 0.5)
    for amount in (1100, 1200, 1300):
        onboarded_agent(brand, amount)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    # The first transfer is made but its answer never arrives; the next is never run.
    funded.fail_next(1, mode="lost_response", hold_seconds=1.0)
    funded.fail_next(1, mode="timeout", hold_seconds=1.0)

    progress = payrun_process(run_id=run.pk)

    assert progress.completed
    assert_paid_once(funded, run)
    assert_ledger_balanced()


def test_a_worker_killed_after_sending_and_before_recording_pays_each_line_once(
    funded, brand, staff_user, approver, django_capture_on_commit_callbacks
):
    for amount in (1100, 1200, 1300):
        onboarded_agent(brand, amount)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    # A worker claims two lines and sends them, then dies before recording:
    # its lease lapses with it.
    claimed = payrun_transfers.claim_queued(run.pk, 2)
    client = stripe_client(max_network_retries=0)
    pacer = payrun_transfers.Pacer(100)

    for line in claimed:
        payrun_transfers._send_one(client, pacer, line, threading.Event())
    PayRun.objects.filter(pk=run.pk).update(
        lease_token="dead-worker", lease_expires_at=timezone.now()
    )
    assert payrun_transfers.payruns_stalled() == [run.pk]
    assert len(sandbox_transfers(funded)) == 2

    tasks.payruns_sweep_job()  # the periodic sweep queues the run; the job resumes it

    run.refresh_from_db()
    assert run.status == PayRunStatus.COMPLETED
    assert_paid_once(funded, run)
    assert_holds_match_lines()


def test_a_live_workers_lease_keeps_others_out(
    funded, brand, staff_user, approver, django_capture_on_commit_callbacks
):
    onboarded_agent(brand, 2000)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    PayRun.objects.filter(pk=run.pk).update(
        lease_token="busy-worker", lease_expires_at=timezone.now() + timedelta(seconds=60)
    )

    assert payrun_process(run_id=run.pk) is None
    assert payrun_transfers.payruns_stalled() == []
    assert not sandbox_transfers(funded)


def test_429s_are_honoured_and_every_line_is_paid_once(
    funded, brand, staff_user, approver, django_capture_on_commit_callbacks, settings
):
    for amount in (1100, 1200, 1300, 1400, 1500, 1600):
        onboarded_agent(brand, amount)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    settings.STRIPE_MAX_REQUESTS_PER_SECOND = 50  # we believe the limit is higher than it is
    funded.rate_limit(4)
    try:
        progress = payrun_process(run_id=run.pk)
    finally:
        funded.rate_limit(None)

    assert progress.completed
    assert_paid_once(funded, run)


# --- Refusals -----------------------------------------------------------------------------------


def test_an_account_stripe_has_not_enabled_fails_its_line_with_stripes_reason(
    funded, brand, staff_user, approver, django_capture_on_commit_callbacks
):
    ready = onboarded_agent(brand, 2000)
    stale = new_agent(brand)
    earn(stale, brand, 3000)
    stale_enabled_account(stale)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)

    payrun_process(run_id=run.pk)

    failed = PayRunLine.objects.get(run=run, agent=stale)
    assert failed.status == PayRunLineStatus.FAILED
    assert failed.failure_code == "insufficient_capabilities_for_transfer"
    assert "capabilities" in failed.failure_reason
    assert (balance(stale, Purpose.AGENT_AVAILABLE), balance(stale, Purpose.AGENT_IN_TRANSIT)) == (
        3000,
        0,
    )
    assert PayRunLine.objects.get(run=run, agent=ready).status == PayRunLineStatus.PAID
    run.refresh_from_db()
    assert run.status == PayRunStatus.COMPLETED
    assert_holds_match_lines()
    assert_ledger_balanced()

    # The agent finishes onboarding; staff press retry: a new attempt, paid once.
    finish_onboarding(connect.payout_account_start(agent=stale))
    connect.payout_account_refresh(agent=stale)
    with django_capture_on_commit_callbacks(execute=True):
        line = payruns.payrun_line_retry(line=failed, actor=approver)
    line.refresh_from_db()
    assert (line.status, line.attempt, line.amount_minor) == (PayRunLineStatus.PAID, 2, 3000)
    assert transfers_per_line(funded)[line.pk] == 1
    run.refresh_from_db()
    assert run.status == PayRunStatus.COMPLETED
    assert AuditEvent.objects.filter(action="payrun.line_retried", actor=approver).exists()
    assert_ledger_balanced()


def test_an_insufficient_platform_balance_fails_lines_and_a_retry_pays_them(
    sandbox,
    stripe_webhooks,
    deliver,
    brand,
    brand_admin,
    staff_user,
    approver,
    django_capture_on_commit_callbacks,
):
    fund_platform(stripe_webhooks, deliver, brand=brand, admin=brand_admin, amount_minor=3000)
    first = onboarded_agent(brand, 2000)
    second = onboarded_agent(brand, 2500)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)

    payrun_process(run_id=run.pk)

    assert PayRunLine.objects.get(agent=first).status == PayRunLineStatus.PAID
    failed = PayRunLine.objects.get(agent=second)
    assert (failed.status, failed.failure_code) == (PayRunLineStatus.FAILED, "balance_insufficient")
    assert "insufficient available funds" in failed.failure_reason
    assert balance(second, Purpose.AGENT_AVAILABLE) == 2500
    assert_ledger_balanced()

    fund_platform(stripe_webhooks, deliver, brand=brand, admin=brand_admin, amount_minor=5000)
    with django_capture_on_commit_callbacks(execute=True):
        payruns.payrun_line_retry(line=failed, actor=staff_user)

    failed.refresh_from_db()
    assert (failed.status, failed.attempt) == (PayRunLineStatus.PAID, 2)
    assert len(sandbox_transfers(sandbox)) == 2
    assert balance(second, Purpose.AGENT_AVAILABLE) == 0


def test_only_failed_lines_are_retried(
    funded, brand, staff_user, approver, django_capture_on_commit_callbacks
):
    onboarded_agent(brand, 2000)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    payrun_process(run_id=run.pk)

    with pytest.raises(Conflict):
        payruns.payrun_line_retry(line=run.lines.get(), actor=approver)


# --- Clawbacks, netting and reversals --------------------------------------------------------------


def test_a_clawback_between_create_and_execute_is_netted_before_sending(
    funded, brand, staff_user, approver, django_capture_on_commit_callbacks
):
    agent = new_agent(brand)
    kept = earn(agent, brand, 2000)
    refunded = earn(agent, brand, 1000)
    onboard(agent)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    earning_clawback(earning=refunded, actor=staff_user, reason="Brand refund")

    payrun_process(run_id=run.pk)

    line = run.lines.get()
    assert (line.status, line.amount_minor, line.netted_minor) == (
        PayRunLineStatus.PAID,
        2000,
        1000,
    )
    assert sandbox_transfers(funded)[0]["amount"] == kept.amount_minor
    assert (balance(agent, Purpose.AGENT_AVAILABLE), balance(agent, Purpose.AGENT_IN_TRANSIT)) == (
        0,
        0,
    )
    assert_ledger_balanced()


def test_clawback_after_payout_nets_in_the_next_run_and_paid_equals_earned_minus_clawed_back(
    funded, brand, staff_user, approver, django_capture_on_commit_callbacks
):
    ana = onboarded_agent(brand, 3000, 1500)
    bo = onboarded_agent(brand, 2000)
    first = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    payrun_process(run_id=first.pk)
    clawed = ana.earnings.get(amount_minor=1500)
    earning_clawback(earning=clawed, actor=staff_user, reason="QA dispute lost")
    assert balance(ana, Purpose.AGENT_AVAILABLE) == -1500

    earn(ana, brand, 1000)  # still owes 500
    earn(bo, brand, 1800)
    second = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    payrun_process(run_id=second.pk)
    assert second.skips.get().reason_code == PayRunSkipReason.NEGATIVE_BALANCE

    earn(ana, brand, 2500)  # 2,000 once the debt is netted
    third = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    payrun_process(run_id=third.pk)
    assert third.lines.get().amount_minor == 2000

    paid = sum(
        PayRunLine.objects.filter(status=PayRunLineStatus.PAID).values_list(
            "amount_minor", flat=True
        )
    )
    released = sum(e.amount_minor for e in ana.earnings.all()) + sum(
        e.amount_minor for e in bo.earnings.all()
    )
    clawed_back = clawed.amount_minor
    assert paid == released - clawed_back == 3000 + 1500 + 2000 + 1000 + 1800 + 2500 - 1500
    assert sum(t["amount"] for t in sandbox_transfers(funded)) == paid
    assert balance(ana, Purpose.AGENT_AVAILABLE) == 0
    assert_holds_match_lines()
    assert_ledger_balanced()
    call_command("ledger_check")  # exits non-zero on any mismatch


def test_a_reversal_takes_back_a_clawed_back_payout(
    funded,
    brand,
    staff_user,
    approver,
    django_capture_on_commit_callbacks,
    stripe_webhooks,
    deliver,
):
    agent = new_agent(brand)
    earn(agent, brand, 3000)
    refunded = earn(agent, brand, 1000)
    onboard(agent)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    payrun_process(run_id=run.pk)
    earning_clawback(earning=refunded, actor=staff_user, reason="Chargeback")
    line = run.lines.get()
    stripe_before = stripe_platform_available()

    line = payruns.payrun_line_reverse(
        line=line, actor=approver, amount_minor=1000, reason="Clawed back after payout"
    )

    assert line.reversed_minor == 1000
    assert balance(agent, Purpose.AGENT_AVAILABLE) == 0
    assert stripe_platform_available() - stripe_before == 1000
    # The agent's page counts as paid only what they kept.
    [money] = agent_balances(agent)
    assert (money.paid, money.available, money.in_transit) == (3000, 0, 0)
    transfer = stripe_client().v1.transfers.retrieve(line.stripe_transfer_id).to_dict()
    assert transfer["amount_reversed"] == 1000
    assert Posting.objects.filter(kind="payout.reversed").count() == 1
    assert AuditEvent.objects.filter(action="payrun.line_reversed", actor=approver).exists()

    # Stripe's transfer.reversed webhook, delivered twice, changes nothing.
    (webhook,) = stripe_webhooks.wait_for("transfer.reversed")
    deliver(webhook.body, webhook.signature)
    deliver(webhook.body, webhook.signature)
    line.refresh_from_db()
    assert line.reversed_minor == 1000
    assert Posting.objects.filter(kind="payout.reversed").count() == 1
    assert payruns.payrun_reconciliation(run) == []
    assert_ledger_balanced()


def test_a_reversal_larger_than_what_is_left_is_refused(
    funded, brand, staff_user, approver, django_capture_on_commit_callbacks
):
    onboarded_agent(brand, 2000)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    payrun_process(run_id=run.pk)
    line = run.lines.get()

    for amount in (2001, 0, -5, 10.0, "100"):
        with pytest.raises(ValidationFailed):
            payruns.payrun_line_reverse(line=line, actor=approver, amount_minor=amount, reason="x")
    with pytest.raises(ValidationFailed):
        payruns.payrun_line_reverse(
            line=line, actor=approver, amount_minor=100, reason="x", currency="USD"
        )

    transfer = stripe_client().v1.transfers.retrieve(line.stripe_transfer_id).to_dict()
    assert transfer["amount_reversed"] == 0
    assert not Posting.objects.filter(kind="payout.reversed").exists()


def test_a_reversal_whose_answer_was_lost_is_made_once(
    funded, brand, staff_user, approver, django_capture_on_commit_callbacks
):
    onboarded_agent(brand, 2000)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    payrun_process(run_id=run.pk)
    funded.fail_next(1, mode="lost_response", hold_seconds=0)  # the SDK retries, same key

    line = payruns.payrun_line_reverse(
        line=run.lines.get(), actor=approver, amount_minor=700, reason="Partial refund"
    )

    transfer = stripe_client().v1.transfers.retrieve(line.stripe_transfer_id).to_dict()
    assert (transfer["amount_reversed"], transfer["reversals"]["total_count"]) == (700, 1)
    assert line.reversed_minor == 700


# --- Webhooks and reconciliation ---------------------------------------------------------------


def test_webhooks_replayed_twice_and_shuffled_change_nothing(
    funded,
    brand,
    staff_user,
    approver,
    django_capture_on_commit_callbacks,
    stripe_webhooks,
    deliver,
):
    for amount in (1100, 2200, 3300):
        onboarded_agent(brand, amount)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    payrun_process(run_id=run.pk)
    line = run.lines.order_by("pk").first()
    payruns.payrun_line_reverse(line=line, actor=approver, amount_minor=500, reason="Refund")
    webhooks = stripe_webhooks.wait_for("transfer.created", count=3) + stripe_webhooks.wait_for(
        "transfer.reversed"
    )
    before = (
        list(PayRunLine.objects.order_by("pk").values()),
        Posting.objects.count(),
    )

    deliveries = webhooks * 2
    random.Random(7).shuffle(deliveries)
    for webhook in deliveries:
        deliver(webhook.body, webhook.signature)

    assert (list(PayRunLine.objects.order_by("pk").values()), Posting.objects.count()) == before
    statuses = set(
        StripeEvent.objects.filter(type__startswith="transfer.").values_list("status", flat=True)
    )
    assert statuses == {StripeEventStatus.PROCESSED}
    assert payruns.payrun_reconciliation(run) == []
    assert_ledger_balanced()


def test_a_transfer_whose_answer_was_lost_is_recorded_from_its_webhook(
    funded,
    brand,
    staff_user,
    approver,
    django_capture_on_commit_callbacks,
    stripe_webhooks,
    deliver,
    monkeypatch,
):
    monkeypatch.setattr(payrun_transfers, "MAX_ROUNDS", 0)
    monkeypatch.setattr(payrun_transfers, "TRANSIENT_TRIES", 1)
    monkeypatch.setattr(payrun_transfers, "TRANSFER_TIMEOUT_SECONDS", 0.5)
    onboarded_agent(brand, 2000)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    funded.fail_next(1, mode="lost_response", hold_seconds=1.0)
    with pytest.raises(StripeUnavailable):
        payrun_process(run_id=run.pk)
    line = run.lines.get()
    assert (line.status, line.stripe_transfer_id) == (PayRunLineStatus.IN_TRANSIT, "")

    (disagreement,) = payruns.payrun_reconciliation(run)
    assert disagreement.line == line
    assert "Stripe made the transfer" in disagreement.differences[0]
    assert disagreement.stripe_state.startswith("transfer tr_")

    (webhook,) = stripe_webhooks.wait_for("transfer.created")
    deliver(webhook.body, webhook.signature)

    line.refresh_from_db()
    assert line.status == PayRunLineStatus.PAID
    assert payruns.payrun_reconciliation(run) == []
    monkeypatch.setattr(payrun_transfers, "MAX_ROUNDS", 4)
    assert payrun_process(run_id=run.pk).completed
    assert len(sandbox_transfers(funded)) == 1
    assert (
        balance(line.agent, Purpose.AGENT_IN_TRANSIT),
        Posting.objects.filter(kind="payout.paid").count(),
    ) == (0, 1)


def test_reconciliation_shows_a_reversal_made_at_stripe_until_its_webhook_arrives(
    funded,
    brand,
    staff_user,
    approver,
    django_capture_on_commit_callbacks,
    stripe_webhooks,
    deliver,
):
    onboarded_agent(brand, 2000)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    payrun_process(run_id=run.pk)
    line = run.lines.get()
    # Someone reverses the transfer in Stripe's Dashboard.
    stripe_client().v1.transfers.reversals.create(line.stripe_transfer_id, params={"amount": 400})

    (disagreement,) = payruns.payrun_reconciliation()
    assert disagreement.differences == ("Stripe reversed €4.00, the ledger €0.00.",)

    (webhook,) = stripe_webhooks.wait_for("transfer.reversed")
    deliver(webhook.body, webhook.signature)

    line.refresh_from_db()
    assert line.reversed_minor == 400
    assert balance(line.agent, Purpose.AGENT_AVAILABLE) == 400
    assert payruns.payrun_reconciliation() == []
    assert_ledger_balanced()


def test_lines_unknown_for_longer_than_stripe_keeps_keys_are_looked_up_first(
    funded, brand, staff_user, approver, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(payrun_transfers, "MAX_ROUNDS", 0)
    monkeypatch.setattr(payrun_transfers, "TRANSIENT_TRIES", 1)
    monkeypatch.setattr(payrun_transfers, "TRANSFER_TIMEOUT_SECONDS", 0.5)
    onboarded_agent(brand, 2000)
    run = start(approved_run(staff_user, approver), approver, django_capture_on_commit_callbacks)
    funded.fail_next(1, mode="lost_response", hold_seconds=1.0)
    with pytest.raises(StripeUnavailable):
        payrun_process(run_id=run.pk)
    # A day later Stripe no longer knows the key: a resend would make a second transfer.
    PayRunLine.objects.filter(run=run).update(sent_at=timezone.now() - timedelta(hours=30))

    progress = payrun_process(run_id=run.pk)

    assert progress.completed and progress.sent == 0  # found in the run's transfers, not resent
    line = run.lines.get()
    assert line.status == PayRunLineStatus.PAID
    assert [t["id"] for t in sandbox_transfers(funded)] == [line.stripe_transfer_id]
