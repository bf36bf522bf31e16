"""Staff payouts console: pay runs, their lines, approval by a second person, execution,
retries and reversals, reconciliation; and the agent's own payouts on the earnings page.

Runs are gathered from real earnings. Execution goes through the real SDK to
the local Stripe sandbox; the job runs inline when the request's transaction
commits.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from marketplace.models import AuditEvent
from payouts import payruns
from payouts.earnings import earning_clawback
from payouts.models import (
    PayoutAccount,
    PayRun,
    PayRunLine,
    PayRunLineStatus,
    PayRunStatus,
    Purpose,
)
from tests.frontend.money_helpers import (
    agent_of,
    balance,
    client_for,
    earn,
    release_all,
    staff_with_two_factor,
)
from tests.payouts.payrun_helpers import fund_platform, onboard

pytestmark = pytest.mark.django_db

PAYOUTS = reverse("frontend:staff_payrun_list")
RECONCILIATION = reverse("frontend:staff_payrun_reconciliation")


def run_url(run, action: str = "") -> str:
    if action:
        return reverse(f"frontend:staff_payrun_{action}", args=[run.pk])
    return reverse("frontend:staff_payrun_detail", args=[run.pk])


def line_url(line, action: str) -> str:
    return reverse(f"frontend:staff_payrun_line_{action}", args=[line.run_id, line.pk])


@pytest.fixture
def creator(db):
    return staff_with_two_factor("ops@gigdesk.test")


@pytest.fixture
def approver(db):
    return staff_with_two_factor("lead@gigdesk.test")


@pytest.fixture
def creator_client(creator):
    return client_for(creator)


@pytest.fixture
def approver_client(approver):
    return client_for(approver)


_accounts = iter(range(1, 100_000))


def with_account(agent, *, enabled: bool = True) -> PayoutAccount:
    """A payout account row as the onboarding sync leaves it (no Stripe behind it)."""
    return PayoutAccount.objects.create(
        agent=agent,
        stripe_account_id=f"acct_page{next(_accounts):06d}",
        payouts_enabled=enabled,
        details_submitted=enabled,
        synced_at=timezone.now(),
    )


def paid_agent(brand, email: str, amount_minor: int = 2500, *, account: bool = True):
    """An agent with ``amount_minor`` available (a released earning), and a payout account."""
    agent = agent_of(brand, email=email)
    earn(agent, brand, rate_minor=amount_minor)
    release_all()
    if account:
        with_account(agent)
    return agent


@pytest.fixture
def ana(brand):
    return paid_agent(brand, "ana@agents.test", 2500)


@pytest.fixture
def draft(ana, creator):
    return payruns.payrun_create(actor=creator, currency="EUR")


# --- access ---------------------------------------------------------------------------


def test_anonymous_users_are_asked_to_log_in(client, draft):
    for path in (PAYOUTS, run_url(draft), RECONCILIATION):
        response = client.get(path)
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))


def test_brand_users_and_agents_are_refused(admin_client, ana, draft):
    for user_client in (admin_client, client_for(ana)):
        for path in (PAYOUTS, run_url(draft), RECONCILIATION):
            response = user_client.get(path)
            assert response.status_code == 403
            assert "platform staff only" in response.content.decode()


def test_a_non_staff_user_can_neither_create_nor_act_on_a_run(admin_client, ana, draft):
    for user_client in (admin_client, client_for(ana)):
        assert user_client.post(PAYOUTS, {"currency": "EUR"}).status_code == 403
        assert user_client.post(run_url(draft, "approve")).status_code == 403
        assert user_client.post(run_url(draft, "cancel"), {"reason": "x"}).status_code == 403
    assert PayRun.objects.count() == 1
    draft.refresh_from_db()
    assert draft.status == PayRunStatus.DRAFT


def test_staff_navigation_links_to_payouts_for_staff_only(creator_client, ana):
    assert (
        f'href="{PAYOUTS}"' in creator_client.get(reverse("frontend:staff_home")).content.decode()
    )
    assert (
        f'href="{PAYOUTS}"'
        not in client_for(ana).get(reverse("frontend:agent_home")).content.decode()
    )


def test_an_unknown_run_is_404(creator_client):
    assert (
        creator_client.get(reverse("frontend:staff_payrun_detail", args=[99999])).status_code == 404
    )


# --- the runs list and the "New pay run" form ----------------------------------------------


def test_no_runs_yet_is_an_empty_state_with_the_form(creator_client):
    html = creator_client.get(PAYOUTS).content.decode()
    assert "No pay runs yet" in html
    assert 'name="currency"' in html and 'name="cutoff_at"' in html and 'name="minimum"' in html


def test_creating_a_run_gathers_it_and_is_audited(creator_client, creator, ana, brand):
    skipped = paid_agent(brand, "bo@agents.test", 2000, account=False)

    response = creator_client.post(PAYOUTS, {"currency": "EUR", "minimum": "10.00"})

    run = PayRun.objects.get()
    assert response.status_code == 302
    assert response.url == run_url(run)
    assert (run.status, run.currency, run.minimum_minor, run.created_by) == (
        PayRunStatus.DRAFT,
        "EUR",
        1000,
        creator,
    )
    assert [line.agent for line in payruns.payrun_lines(run)] == [ana]
    event = AuditEvent.objects.get(action="payrun.created")
    assert (event.actor, event.target_id) == (creator, str(run.pk))
    html = creator_client.get(response.url).content.decode()
    assert "ana@agents.test" in html and "€25.00" in html
    assert "bo@agents.test" in html and "No payout account" in html
    assert balance(skipped, Purpose.AGENT_AVAILABLE) == 2000


def test_the_list_shows_each_run_with_its_totals_per_status(creator_client, draft):
    html = creator_client.get(PAYOUTS).content.decode()
    assert f"#{draft.pk} · EUR" in html
    assert "Queued</span> 1 · €25.00" in html
    assert "Draft</span> 1" in html  # runs by status


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"currency": "EUR", "minimum": "ten"}, "Enter an amount like 2.50."),
        ({"currency": "EUR", "minimum": "-5"}, "Must be more than zero."),
        ({"currency": "XXX"}, "Select a valid choice."),
    ],
)
def test_a_bad_form_is_refused_with_its_error_and_creates_nothing(
    creator_client, ana, data, field_error
):
    response = creator_client.post(PAYOUTS, data)
    assert response.status_code == 400
    assert field_error in response.content.decode()
    assert not PayRun.objects.exists()
    assert balance(ana, Purpose.AGENT_IN_TRANSIT) == 0


def test_a_cut_off_in_the_future_is_refused_on_the_form(creator_client, ana):
    later = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = creator_client.post(PAYOUTS, {"currency": "EUR", "cutoff_at": later})
    assert response.status_code == 400
    assert "Pick a time that has passed." in response.content.decode()
    assert not PayRun.objects.exists()


# --- one run: approval, cancellation ---------------------------------------------------------


def test_the_creator_sees_why_they_cannot_approve(creator_client, draft):
    html = creator_client.get(run_url(draft)).content.decode()
    assert "another staff member must approve it" in html
    assert run_url(draft, "approve") not in html


def test_the_creator_is_refused_approval_and_nothing_changes(creator_client, draft):
    response = creator_client.post(run_url(draft, "approve"))
    assert response.status_code == 403
    assert "Another staff member must approve the pay run you created." in response.content.decode()
    draft.refresh_from_db()
    assert (draft.status, draft.approved_by) == (PayRunStatus.DRAFT, None)
    assert not AuditEvent.objects.filter(action="payrun.approved").exists()


def test_another_staff_member_approves_and_it_is_audited(approver_client, approver, draft):
    assert run_url(draft, "approve") in approver_client.get(run_url(draft)).content.decode()

    response = approver_client.post(run_url(draft, "approve"))

    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.approved_by) == (PayRunStatus.APPROVED, approver)
    event = AuditEvent.objects.get(action="payrun.approved")
    assert (event.actor, event.target_id) == (approver, str(draft.pk))
    html = approver_client.get(response.url).content.decode()
    assert "approved" in html.lower() and run_url(draft, "execute") in html


def test_approving_twice_is_refused_with_the_reason(approver_client, draft):
    approver_client.post(run_url(draft, "approve"))
    response = approver_client.post(run_url(draft, "approve"))
    assert response.status_code == 409
    assert "Only a draft pay run can be approved" in response.content.decode()


def test_a_draft_cannot_be_executed(approver_client, draft):
    response = approver_client.post(run_url(draft, "execute"))
    assert response.status_code == 409
    assert "Only an approved pay run can be executed" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == PayRunStatus.DRAFT


def test_cancel_needs_a_reason(creator_client, ana, draft):
    response = creator_client.post(run_url(draft, "cancel"), {"reason": "  "})
    assert response.status_code == 400
    assert "Say why the pay run is cancelled." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == PayRunStatus.DRAFT
    assert balance(ana, Purpose.AGENT_IN_TRANSIT) == 2500


def test_cancel_releases_the_held_money_and_is_audited(creator_client, creator, ana, draft):
    response = creator_client.post(run_url(draft, "cancel"), {"reason": "Wrong cut-off"})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.cancel_reason) == (PayRunStatus.CANCELLED, "Wrong cut-off")
    assert balance(ana, Purpose.AGENT_AVAILABLE) == 2500
    event = AuditEvent.objects.get(action="payrun.cancelled")
    assert (event.actor, event.changes["reason"]) == (creator, "Wrong cut-off")
    html = creator_client.get(run_url(draft)).content.decode()
    assert "Wrong cut-off" in html
    assert run_url(draft, "cancel") not in html


# --- one run: lines, filter, pagination, progress ----------------------------------------------


def test_lines_filter_by_status(creator_client, brand, ana, creator):
    paid_agent(brand, "bo@agents.test", 3000)
    run = payruns.payrun_create(actor=creator, currency="EUR")
    PayRunLine.objects.filter(run=run, agent=ana).update(
        status=PayRunLineStatus.FAILED, failure_reason="Account closed"
    )
    html = creator_client.get(f"{run_url(run)}?status=failed").content.decode()
    assert "ana@agents.test" in html and "Account closed" in html
    assert "bo@agents.test" not in html
    empty = creator_client.get(f"{run_url(run)}?status=paid").content.decode()
    assert "No lines in this status." in empty


def test_lines_are_paginated(creator_client, brand, creator, monkeypatch):
    from frontend.views import staff_payouts

    monkeypatch.setattr(staff_payouts, "LINES_PER_PAGE", 1)
    paid_agent(brand, "ana@agents.test")
    paid_agent(brand, "bo@agents.test")
    run = payruns.payrun_create(actor=creator, currency="EUR")
    first = creator_client.get(run_url(run)).content.decode()
    second = creator_client.get(f"{run_url(run)}?page=2").content.decode()
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert ("ana@agents.test" in first) != ("ana@agents.test" in second)


def test_an_executing_run_polls_its_lines_and_shows_progress(creator_client, draft):
    PayRun.objects.filter(pk=draft.pk).update(status=PayRunStatus.EXECUTING)
    html = creator_client.get(run_url(draft)).content.decode()
    assert 'hx-trigger="every 2s"' in html
    assert "0 of 1 paid" in html
    partial = creator_client.get(f"{run_url(draft)}?poll=1", headers={"HX-Request": "true"})
    body = partial.content.decode()
    assert body.lstrip().startswith('<section id="lines"')
    assert "<html" not in body
    assert "HX-Refresh" not in partial


def test_a_draft_does_not_poll_and_a_poll_after_execution_reloads_the_page(creator_client, draft):
    assert "hx-trigger" not in creator_client.get(run_url(draft)).content.decode()
    PayRun.objects.filter(pk=draft.pk).update(status=PayRunStatus.COMPLETED)
    partial = creator_client.get(f"{run_url(draft)}?poll=1", headers={"HX-Request": "true"})
    assert partial["HX-Refresh"] == "true"


# --- reconciliation (no executed run: nothing to ask Stripe) -----------------------------------


def test_reconciliation_with_nothing_executed_says_ledger_and_stripe_agree(creator_client, draft):
    html = creator_client.get(RECONCILIATION).content.decode()
    assert "Ledger and Stripe agree" in html


# --- the agent's earnings page --------------------------------------------------------------


def test_the_agent_sees_their_own_payout_lines_and_never_anothers(brand, creator, ana):
    bo = paid_agent(brand, "bo@agents.test", 4000)
    run = payruns.payrun_create(actor=creator, currency="EUR")
    PayRunLine.objects.filter(run=run, agent=bo).update(
        status=PayRunLineStatus.FAILED, failure_reason="Bo's bank said no"
    )
    html = client_for(ana).get(reverse("frontend:agent_earnings")).content.decode()
    assert "Payouts sent to you" in html
    assert "€25.00" in html and "Queued" in html
    assert "€40.00" not in html
    assert "Bo&#x27;s bank said no" not in html and "Bo's bank said no" not in html
    bo_html = client_for(bo).get(reverse("frontend:agent_earnings")).content.decode()
    assert "Bo&#x27;s bank said no" in bo_html


def test_an_agent_without_payouts_sees_an_empty_state(ana):
    html = client_for(ana).get(reverse("frontend:agent_earnings")).content.decode()
    assert "No payouts yet." in html


# --- execution against the Stripe sandbox ------------------------------------------------------


@pytest.fixture
def onboarded_agents(sandbox, brand):
    """Two agents with Express accounts onboarded on the sandbox and money available."""
    agents = []
    for email, amount in (("ana@agents.test", 2500), ("bo@agents.test", 4000)):
        agent = agent_of(brand, email=email)
        earn(agent, brand, rate_minor=amount)
        onboard(agent)
        agents.append(agent)
    release_all()
    return agents


def execute(client, run, django_capture_on_commit_callbacks):
    """Press Execute; the job the commit queues runs inline, as the worker would."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(run_url(run, "execute"))
    assert response.status_code == 302, response.content
    run.refresh_from_db()
    return run


def created_and_approved(creator_client, approver_client):
    creator_client.post(PAYOUTS, {"currency": "EUR"})
    run = PayRun.objects.latest("pk")
    assert approver_client.post(run_url(run, "approve")).status_code == 302
    return run


def test_staff_create_approve_and_execute_and_the_agent_sees_the_transfer_paid(
    creator_client,
    approver_client,
    onboarded_agents,
    stripe_webhooks,
    deliver,
    brand,
    brand_admin,
    django_capture_on_commit_callbacks,
):
    fund_platform(stripe_webhooks, deliver, brand=brand, admin=brand_admin, amount_minor=100_000)
    ana, bo = onboarded_agents
    run = created_and_approved(creator_client, approver_client)

    run = execute(approver_client, run, django_capture_on_commit_callbacks)

    assert run.status == PayRunStatus.COMPLETED
    lines = {line.agent: line for line in payruns.payrun_lines(run)}
    assert {line.status for line in lines.values()} == {PayRunLineStatus.PAID}
    assert AuditEvent.objects.filter(action="payrun.executed", target_id=str(run.pk)).exists()
    page = approver_client.get(run_url(run)).content.decode()
    assert "2 of 2 paid" in page
    assert lines[ana].stripe_transfer_id in page
    ana_page = client_for(ana).get(reverse("frontend:agent_earnings")).content.decode()
    assert lines[ana].stripe_transfer_id in ana_page
    assert "Paid" in ana_page
    assert lines[bo].stripe_transfer_id not in ana_page
    assert "Ledger and Stripe agree" in approver_client.get(RECONCILIATION).content.decode()


def test_a_refused_transfer_shows_stripes_reason_and_a_retry_pays_it(
    creator_client,
    approver_client,
    onboarded_agents,
    stripe_webhooks,
    deliver,
    brand,
    brand_admin,
    django_capture_on_commit_callbacks,
):
    # The platform's Stripe balance is empty: Stripe refuses every transfer.
    run = created_and_approved(creator_client, approver_client)
    run = execute(approver_client, run, django_capture_on_commit_callbacks)
    failed = payruns.payrun_lines(run, status=PayRunLineStatus.FAILED).first()
    assert failed is not None and failed.failure_reason
    page = approver_client.get(run_url(run)).content.decode()
    assert escape(failed.failure_reason) in page
    assert line_url(failed, "retry") in page

    fund_platform(stripe_webhooks, deliver, brand=brand, admin=brand_admin, amount_minor=100_000)
    with django_capture_on_commit_callbacks(execute=True):
        response = approver_client.post(line_url(failed, "retry"))
    assert response.status_code == 302

    failed.refresh_from_db()
    assert (failed.status, failed.attempt) == (PayRunLineStatus.PAID, 2)
    assert AuditEvent.objects.filter(action="payrun.line_retried").count() == 1


def test_a_paid_line_is_reversed_with_an_amount_and_a_reason(
    creator_client,
    approver_client,
    approver,
    onboarded_agents,
    stripe_webhooks,
    deliver,
    brand,
    brand_admin,
    django_capture_on_commit_callbacks,
):
    fund_platform(stripe_webhooks, deliver, brand=brand, admin=brand_admin, amount_minor=100_000)
    ana, _ = onboarded_agents
    run = execute(
        approver_client,
        created_and_approved(creator_client, approver_client),
        django_capture_on_commit_callbacks,
    )
    line = payruns.payrun_lines(run).get(agent=ana)
    earning_clawback(earning=ana.earnings.get(), actor=approver, reason="Chargeback")
    assert balance(ana, Purpose.AGENT_AVAILABLE) == -2500
    assert line_url(line, "reverse") in approver_client.get(run_url(run)).content.decode()

    too_much = approver_client.post(line_url(line, "reverse"), {"amount": "30.00", "reason": "x"})
    assert too_much.status_code == 400
    assert "€30.00 is more than the €25.00 left." in too_much.content.decode()
    no_reason = approver_client.post(line_url(line, "reverse"), {"amount": "25.00", "reason": ""})
    assert no_reason.status_code == 400
    assert "Say why the transfer is reversed." in no_reason.content.decode()
    line.refresh_from_db()
    assert line.reversed_minor == 0

    response = approver_client.post(
        line_url(line, "reverse"), {"amount": "25.00", "reason": "Chargeback recovered"}
    )

    assert response.status_code == 302
    line.refresh_from_db()
    assert line.reversed_minor == 2500
    assert balance(ana, Purpose.AGENT_AVAILABLE) == 0
    event = AuditEvent.objects.get(action="payrun.line_reversed")
    assert (event.actor, event.changes["reason"]) == (approver, "Chargeback recovered")
