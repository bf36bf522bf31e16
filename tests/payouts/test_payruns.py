"""Pay runs without Stripe: gathering lines and skips, holds, approval, cancellation, bad input.

Balances come from real earnings (resolved tasks, released holds); payout
accounts are stored rows, as the onboarding sync leaves them. Execution
against the sandbox is in ``test_payruns_execution.py``.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gigs.services import resolution_codes_seed
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from marketplace.models import AuditEvent
from payouts import payruns
from payouts.earnings import earning_clawback
from payouts.models import (
    PayoutAccount,
    PayRun,
    PayRunLine,
    PayRunLineStatus,
    PayRunSkip,
    PayRunSkipReason,
    PayRunStatus,
    Posting,
    Purpose,
)
from tests.marketplace.factories import AgentProfileFactory, StaffUserFactory
from tests.payouts.payrun_helpers import assert_holds_match_lines, balance, earn, new_agent
from tests.payouts.stripe_helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _codes(brand):
    resolution_codes_seed(brand)


@pytest.fixture
def approver(db):
    return StaffUserFactory(email="approver@gigdesk.test")


_accounts = iter(range(1, 10_000))


def with_account(agent, *, enabled: bool = True) -> PayoutAccount:
    return PayoutAccount.objects.create(
        agent=agent,
        stripe_account_id=f"acct_test{next(_accounts):06d}",
        payouts_enabled=enabled,
        details_submitted=enabled,
        synced_at=timezone.now(),
    )


def paid_agent(brand, amount: int):
    agent = new_agent(brand)
    earn(agent, brand, amount)
    with_account(agent)
    return agent


# --- Gathering -------------------------------------------------------------------------


def test_create_gathers_each_eligible_agent_and_holds_their_money(brand, staff_user):
    ana = paid_agent(brand, 2500)
    bo = paid_agent(brand, 1200)

    run = payruns.payrun_create(actor=staff_user, currency="eur")

    assert (run.status, run.currency, run.minimum_minor) == (PayRunStatus.DRAFT, "EUR", 1000)
    lines = {line.agent: line for line in payruns.payrun_lines(run)}
    assert {agent: line.amount_minor for agent, line in lines.items()} == {ana: 2500, bo: 1200}
    assert all(
        line.status == PayRunLineStatus.QUEUED and line.attempt == 1 for line in lines.values()
    )
    assert lines[ana].destination == ana.payout_account.stripe_account_id
    assert (balance(ana, Purpose.AGENT_AVAILABLE), balance(ana, Purpose.AGENT_IN_TRANSIT)) == (
        0,
        2500,
    )
    assert Posting.objects.filter(kind="payout.hold").count() == 2
    assert_holds_match_lines()
    assert_ledger_balanced()


def test_create_lists_who_is_skipped_and_why(brand, staff_user):
    no_account = new_agent(brand)
    earn(no_account, brand, 2000)
    not_enabled = new_agent(brand)
    earn(not_enabled, brand, 2000)
    with_account(not_enabled, enabled=False)
    too_little = paid_agent(brand, 999)
    paid = paid_agent(brand, 5000)

    run = payruns.payrun_create(actor=staff_user, currency="EUR")

    assert [line.agent for line in payruns.payrun_lines(run)] == [paid]
    skips = {
        skip.agent: (skip.reason_code, skip.amount_minor) for skip in payruns.payrun_skips(run)
    }
    assert skips == {
        no_account: (PayRunSkipReason.NO_PAYOUT_ACCOUNT, 2000),
        not_enabled: (PayRunSkipReason.PAYOUTS_NOT_ENABLED, 2000),
        too_little: (PayRunSkipReason.BELOW_MINIMUM, 999),
    }
    assert "below the minimum payout of €10.00" in PayRunSkip.objects.get(agent=too_little).reason
    # Skipped money stays available.
    assert balance(no_account, Purpose.AGENT_AVAILABLE) == 2000


def test_an_agent_who_owes_money_is_skipped(brand, staff_user):
    agent = paid_agent(brand, 1500)
    earning = agent.earnings.get()
    first = payruns.payrun_create(actor=staff_user, currency="EUR")  # holds the 1500
    earning_clawback(earning=earning, actor=staff_user, reason="Refunded by the brand")
    assert balance(agent, Purpose.AGENT_AVAILABLE) == -1500

    second = payruns.payrun_create(actor=staff_user, currency="EUR")

    skip = second.skips.get()
    assert (skip.agent, skip.reason_code, skip.amount_minor) == (
        agent,
        PayRunSkipReason.NEGATIVE_BALANCE,
        -1500,
    )
    assert first.lines.get().amount_minor == 1500  # netted when it is sent


def test_pending_earnings_are_not_gathered(brand, staff_user):
    agent = new_agent(brand)
    with_account(agent)
    earn(agent, brand, 5000, release=False)

    run = payruns.payrun_create(actor=staff_user, currency="EUR")

    assert not run.lines.exists() and not run.skips.exists()


def test_money_in_an_unfinished_run_is_not_gathered_again(brand, staff_user):
    agent = paid_agent(brand, 2000)
    first = payruns.payrun_create(actor=staff_user, currency="EUR")
    earn(agent, brand, 3000)  # new money while the first run holds the old

    second = payruns.payrun_create(actor=staff_user, currency="EUR")

    assert not second.lines.exists()
    skip = second.skips.get()
    assert (skip.reason_code, skip.amount_minor) == (PayRunSkipReason.ALREADY_IN_RUN, 3000)
    assert f"#{first.pk}" in skip.reason
    assert balance(agent, Purpose.AGENT_IN_TRANSIT) == 2000


def test_the_database_refuses_a_second_unfinished_line_for_an_agent(brand, staff_user):
    agent = paid_agent(brand, 2000)
    run = payruns.payrun_create(actor=staff_user, currency="EUR")
    line = run.lines.get()
    other = PayRun.objects.create(
        currency="EUR", cutoff_at=timezone.now(), minimum_minor=1, created_by=staff_user
    )

    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        PayRunLine.objects.create(
            run=other,
            agent=agent,
            payout_account=line.payout_account,
            destination=line.destination,
            amount_minor=5,
            currency="EUR",
        )


def test_a_past_cut_off_pays_only_what_was_available_then(brand, staff_user):
    agent = paid_agent(brand, 2000)
    cutoff = timezone.now()
    earn(agent, brand, 3000)

    run = payruns.payrun_create(actor=staff_user, currency="EUR", cutoff_at=cutoff)

    assert run.lines.get().amount_minor == 2000
    assert balance(agent, Purpose.AGENT_AVAILABLE) == 3000


def test_a_clawback_after_the_cut_off_is_netted(brand, staff_user):
    agent = paid_agent(brand, 2000)
    late = earn(agent, brand, 1500)
    cutoff = timezone.now()
    earning_clawback(earning=late, actor=staff_user, reason="Brand refund")
    earning_clawback(
        earning=agent.earnings.exclude(pk=late.pk).get(), actor=staff_user, reason="Refund"
    )
    earn(agent, brand, 1200)

    run = payruns.payrun_create(actor=staff_user, currency="EUR", cutoff_at=cutoff)

    # 3500 available at the cut-off, 1200 now: never more than the agent still has.
    assert run.lines.get().amount_minor == 1200


def test_minimum_per_currency_comes_from_settings(brand, staff_user, settings):
    settings.PAYOUT_MINIMUM_MINOR = {"EUR": 3000}
    paid_agent(brand, 2500)

    run = payruns.payrun_create(actor=staff_user, currency="EUR")

    assert run.minimum_minor == 3000
    assert run.skips.get().reason_code == PayRunSkipReason.BELOW_MINIMUM


def test_create_is_audited(brand, staff_user):
    paid_agent(brand, 2500)

    run = payruns.payrun_create(actor=staff_user, currency="EUR")

    event = AuditEvent.objects.get(action="payrun.created")
    assert (event.actor, event.target_id) == (staff_user, str(run.pk))
    assert (event.changes["lines"], event.changes["amount_minor"]) == (1, 2500)


def test_gathering_costs_the_same_queries_for_more_agents(brand, staff_user):
    def queries_for(new_agents: int, expected_lines: int) -> int:
        for _ in range(new_agents):
            paid_agent(brand, 1500)
        with CaptureQueriesContext(connection) as captured:
            run = payruns.payrun_create(actor=staff_user, currency="EUR")
        assert run.lines.count() == expected_lines
        payruns.payrun_cancel(run=run, actor=staff_user, reason="Measured")  # money back
        return len(captured.captured_queries)

    assert queries_for(3, expected_lines=3) == queries_for(5, expected_lines=8)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"currency": "EURO"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": 978}, "currency"),
        ({"currency": "EUR", "minimum_minor": 10.5}, "minimum_minor"),
        ({"currency": "EUR", "minimum_minor": -1}, "minimum_minor"),
        ({"currency": "EUR", "minimum_minor": True}, "minimum_minor"),
        ({"currency": "EUR", "cutoff_at": "yesterday"}, "cutoff_at"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(brand, staff_user, kwargs, field):
    paid_agent(brand, 2500)

    with pytest.raises(ValidationFailed) as refused:
        payruns.payrun_create(actor=staff_user, **kwargs)

    assert field in refused.value.fields
    assert not PayRun.objects.exists()
    assert not Posting.objects.filter(kind="payout.hold").exists()


def test_a_cut_off_in_the_future_is_refused(brand, staff_user):
    with pytest.raises(ValidationFailed, match="future"):
        payruns.payrun_create(
            actor=staff_user, currency="EUR", cutoff_at=timezone.now() + timedelta(hours=1)
        )
    assert not PayRun.objects.exists()


def test_only_staff_create_runs(brand, brand_admin):
    agent = AgentProfileFactory().user
    for actor in (brand_admin, agent):
        with pytest.raises(PermissionDenied):
            payruns.payrun_create(actor=actor, currency="EUR")
    assert not PayRun.objects.exists()


# --- Approval ---------------------------------------------------------------------------------


def test_another_staff_member_approves(brand, staff_user, approver):
    paid_agent(brand, 2500)
    run = payruns.payrun_create(actor=staff_user, currency="EUR")

    run = payruns.payrun_approve(run=run, actor=approver)

    assert (run.status, run.approved_by) == (PayRunStatus.APPROVED, approver)
    assert run.approved_at is not None
    assert AuditEvent.objects.filter(action="payrun.approved", actor=approver).exists()


def test_the_creator_never_approves_their_own_run(brand, staff_user):
    paid_agent(brand, 2500)
    run = payruns.payrun_create(actor=staff_user, currency="EUR")

    with pytest.raises(PermissionDenied, match="Another staff member"):
        payruns.payrun_approve(run=run, actor=staff_user)

    run.refresh_from_db()
    assert run.status == PayRunStatus.DRAFT and run.approved_by is None


def test_the_database_refuses_an_approval_by_the_creator(staff_user):
    run = PayRun.objects.create(
        currency="EUR", cutoff_at=timezone.now(), minimum_minor=1, created_by=staff_user
    )
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        PayRun.objects.filter(pk=run.pk).update(approved_by=staff_user)


def test_approving_twice_is_a_conflict(brand, staff_user, approver):
    run = payruns.payrun_create(actor=staff_user, currency="EUR")
    payruns.payrun_approve(run=run, actor=approver)

    with pytest.raises(Conflict):
        payruns.payrun_approve(run=run, actor=approver)


def test_only_staff_approve(brand, staff_user, brand_admin):
    run = payruns.payrun_create(actor=staff_user, currency="EUR")
    with pytest.raises(PermissionDenied):
        payruns.payrun_approve(run=run, actor=brand_admin)


def test_a_draft_cannot_be_executed(brand, staff_user, approver):
    run = payruns.payrun_create(actor=staff_user, currency="EUR")
    with pytest.raises(Conflict, match="approved"):
        payruns.payrun_execute(run=run, actor=approver)


# --- Cancelling ---------------------------------------------------------------------------------


def test_cancel_releases_every_hold(brand, staff_user, approver):
    ana = paid_agent(brand, 2500)
    bo = paid_agent(brand, 1800)
    run = payruns.payrun_create(actor=staff_user, currency="EUR")
    payruns.payrun_approve(run=run, actor=approver)

    run = payruns.payrun_cancel(run=run, actor=approver, reason="Wrong cut-off")

    assert run.status == PayRunStatus.CANCELLED and run.cancel_reason == "Wrong cut-off"
    assert set(run.lines.values_list("status", flat=True)) == {PayRunLineStatus.CANCELLED}
    assert balance(ana, Purpose.AGENT_AVAILABLE) == 2500
    assert balance(bo, Purpose.AGENT_AVAILABLE) == 1800
    assert balance(ana, Purpose.AGENT_IN_TRANSIT) == 0
    assert_holds_match_lines()
    assert_ledger_balanced()
    # The money can be gathered again.
    again = payruns.payrun_create(actor=staff_user, currency="EUR")
    assert again.lines.count() == 2


def test_cancel_needs_a_reason(brand, staff_user):
    run = payruns.payrun_create(actor=staff_user, currency="EUR")
    with pytest.raises(ValidationFailed):
        payruns.payrun_cancel(run=run, actor=staff_user, reason="  ")
    run.refresh_from_db()
    assert run.status == PayRunStatus.DRAFT


def test_an_executing_run_cannot_be_cancelled(brand, staff_user, approver):
    run = payruns.payrun_create(actor=staff_user, currency="EUR")
    PayRun.objects.filter(pk=run.pk).update(status=PayRunStatus.EXECUTING)
    with pytest.raises(Conflict):
        payruns.payrun_cancel(run=run, actor=approver, reason="Too late")


# --- Reads ----------------------------------------------------------------------------------------


def test_list_counts_lines_and_amounts_per_status(brand, staff_user):
    paid_agent(brand, 2500)
    paid_agent(brand, 1500)
    new_agent(brand)  # nothing earned: neither line nor skip
    skipped = new_agent(brand)
    earn(skipped, brand, 2000)
    run = payruns.payrun_create(actor=staff_user, currency="EUR")
    PayRunLine.objects.filter(run=run, amount_minor=1500).update(status=PayRunLineStatus.CANCELLED)

    listed = payruns.payrun_list().get(pk=run.pk)

    assert (listed.line_count, listed.amount_minor, listed.skip_count) == (2, 4000, 1)
    assert (listed.queued_count, listed.queued_minor) == (1, 2500)
    assert (listed.cancelled_count, listed.cancelled_minor) == (1, 1500)
    assert (listed.paid_count, listed.paid_minor) == (0, 0)


def test_lines_filter_by_status_and_refuse_unknown_ones(brand, staff_user):
    paid_agent(brand, 2500)
    run = payruns.payrun_create(actor=staff_user, currency="EUR")

    assert payruns.payrun_lines(run, status="queued").count() == 1
    assert payruns.payrun_lines(run, status="paid").count() == 0
    with pytest.raises(ValidationFailed):
        payruns.payrun_lines(run, status="lost")


def test_agent_payout_lines_are_the_agents_own(brand, staff_user):
    ana = paid_agent(brand, 2500)
    paid_agent(brand, 1500)
    payruns.payrun_create(actor=staff_user, currency="EUR")

    assert [line.agent for line in payruns.agent_payout_lines(ana)] == [ana]


def test_get_refuses_unknown_ids():
    from marketplace.errors import NotFound

    for run_id in (12345, "abc", None):
        with pytest.raises(NotFound):
            payruns.payrun_get(run_id=run_id)


# --- Admin ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["payrun", "payrunline", "payrunskip"])
def test_admin_lists_runs_read_only(brand, staff_user, model):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.test import Client
    from django.urls import reverse

    paid_agent(brand, 2500)
    skipped = new_agent(brand)
    earn(skipped, brand, 2000)
    run = payruns.payrun_create(actor=staff_user, currency="EUR")
    root = StaffUserFactory(email="root@gigdesk.test", is_superuser=True)
    TOTP.activate(root, generate_totp_secret())
    client = Client()
    client.force_login(root)

    assert client.get(reverse(f"admin:payouts_{model}_changelist")).status_code == 200
    assert client.get(reverse(f"admin:payouts_{model}_add")).status_code == 403
    assert client.get(reverse("admin:payouts_payrun_change", args=[run.pk])).status_code == 200
