"""Agent payout accounts: Stripe Connect Express onboarding, status sync and the Express dashboard.

Stripe is the sandbox subprocess, reached through the real SDK; webhooks
reach our endpoint as the bytes the sandbox signed, or, for events made up
here to test ordering, signed the way Stripe signs.
"""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from marketplace.errors import PermissionDenied
from marketplace.models import AuditEvent
from payouts import connect
from payouts.models import PayoutAccount, StripeEventStatus
from payouts.stripe_api import stripe_client
from stripe_sandbox.testing import submit_hosted_form
from tests.marketplace.factories import AgentProfileFactory, AgentUserFactory
from tests.payouts.connect_helpers import finish_onboarding, sandbox_account_ids
from tests.payouts.stripe_helpers import signed_event, stored_event, stripe_event


@pytest.fixture
def agent(db):
    return AgentProfileFactory(user__email="ana@agents.test", country="ES").user


@pytest.fixture
def other_agent(db):
    return AgentProfileFactory(user__email="bo@agents.test", country="FR").user


def stripe_account(account_id: str) -> dict:
    """The account as Stripe has it now, as plain JSON."""
    return stripe_client().v1.accounts.retrieve(account_id).to_dict()


def onboarded(agent) -> PayoutAccount:
    """The agent's account, through Stripe's onboarding and back to our return page's sync."""
    finish_onboarding(connect.payout_account_start(agent=agent))
    return connect.payout_account_refresh(agent=agent)


def account_updated_event(account: dict, *, created) -> dict:
    """An ``account.updated`` Connect event about ``account``, as Stripe sends one."""
    return stripe_event(
        "account.updated", account, account=account["id"], created=int(created.timestamp())
    )


# --- Starting onboarding --------------------------------------------------------------------


def test_start_creates_an_express_account_for_the_agent(sandbox, agent):
    onboarding_url = connect.payout_account_start(agent=agent)

    payout_account = PayoutAccount.objects.get(agent=agent)
    account = stripe_account(payout_account.stripe_account_id)
    assert account["type"] == "express"
    assert account["metadata"] == {"agent_id": str(agent.pk)}
    assert account["email"] == "ana@agents.test"
    assert account["country"] == payout_account.country == "ES"
    assert set(account["capabilities"]) == {"transfers"}
    assert onboarding_url.startswith(f"{sandbox.url}/connect/onboarding/")


def test_a_new_account_stores_what_stripe_still_needs(sandbox, agent):
    connect.payout_account_start(agent=agent)

    payout_account = PayoutAccount.objects.get(agent=agent)
    requirements = stripe_account(payout_account.stripe_account_id)["requirements"]
    assert payout_account.requirements_due == sorted(requirements["currently_due"])
    assert "external_account" in payout_account.requirements_due
    assert payout_account.disabled_reason == requirements["disabled_reason"]
    assert (payout_account.details_submitted, payout_account.payouts_enabled) == (False, False)


def test_onboarding_sends_the_agent_back_to_our_return_page(sandbox, agent, settings):
    onboarding_url = connect.payout_account_start(agent=agent)

    left = submit_hosted_form(onboarding_url, button="Leave for later")

    assert left.headers["Location"] == f"{settings.SITE_URL}/agent/payouts/return/"


def test_a_used_onboarding_link_sends_the_agent_to_our_refresh_page(sandbox, agent, settings):
    onboarding_url = connect.payout_account_start(agent=agent)
    finish_onboarding(onboarding_url)

    reopened = requests.get(onboarding_url, allow_redirects=False, timeout=10)

    assert reopened.status_code == 302
    assert reopened.headers["Location"] == f"{settings.SITE_URL}/agent/payouts/refresh/"


def test_a_second_start_reuses_the_account_with_a_fresh_link(sandbox, agent):
    first_url = connect.payout_account_start(agent=agent)

    second_url = connect.payout_account_start(agent=agent)

    payout_account = PayoutAccount.objects.get(agent=agent)
    assert sandbox_account_ids(sandbox) == [payout_account.stripe_account_id]
    assert second_url != first_url


def test_a_start_whose_row_was_lost_gets_the_same_account_back(sandbox, agent):
    connect.payout_account_start(agent=agent)
    first_account_id = PayoutAccount.objects.get(agent=agent).stripe_account_id
    # As if the process had died after Stripe answered and before our commit.
    PayoutAccount.objects.filter(agent=agent).delete()

    connect.payout_account_start(agent=agent)

    assert PayoutAccount.objects.get(agent=agent).stripe_account_id == first_account_id
    assert sandbox_account_ids(sandbox) == [first_account_id]


def test_start_is_audited(sandbox, agent):
    connect.payout_account_start(agent=agent)
    connect.payout_account_start(agent=agent)

    payout_account = PayoutAccount.objects.get(agent=agent)
    events = AuditEvent.objects.filter(action="payout_account.onboarding_started").order_by("id")
    assert [(event.actor, event.target_id) for event in events] == [
        (agent, str(payout_account.pk)),
        (agent, str(payout_account.pk)),
    ]
    assert [event.changes["new_account"] for event in events] == [True, False]


def test_stripe_failing_is_a_clear_error_and_stores_nothing(sandbox, agent):
    sandbox.fail_next(3)  # the first try and both of the SDK's retries

    with pytest.raises(connect.PayoutProviderError, match="Try again"):
        connect.payout_account_start(agent=agent)

    assert not PayoutAccount.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="payout_account.").exists()


def test_a_brand_user_cannot_start(sandbox, brand_admin):
    with pytest.raises(PermissionDenied):
        connect.payout_account_start(agent=brand_admin)

    assert not PayoutAccount.objects.exists()
    assert sandbox_account_ids(sandbox) == []


def test_each_agent_gets_their_own_account(sandbox, agent, other_agent):
    connect.payout_account_start(agent=agent)
    connect.payout_account_start(agent=other_agent)

    mine, theirs = (PayoutAccount.objects.get(agent=a) for a in (agent, other_agent))
    assert mine.stripe_account_id != theirs.stripe_account_id
    assert stripe_account(theirs.stripe_account_id)["metadata"] == {"agent_id": str(other_agent.pk)}


# --- Syncing from Stripe ---------------------------------------------------------------------


def test_the_return_sync_stores_payouts_enabled(sandbox, agent):
    finish_onboarding(connect.payout_account_start(agent=agent))

    payout_account = connect.payout_account_refresh(agent=agent)

    payout_account.refresh_from_db()
    assert payout_account.payouts_enabled is True
    assert payout_account.details_submitted is True
    assert (payout_account.requirements_due, payout_account.disabled_reason) == ([], "")


def test_a_sync_that_changes_the_status_is_audited_as_stripes(sandbox, agent):
    payout_account = onboarded(agent)

    [event] = AuditEvent.objects.filter(action="payout_account.updated")
    assert (event.actor, event.actor_label, event.target_id) == (
        None,
        "stripe",
        str(payout_account.pk),
    )
    assert event.changes["payouts_enabled"] == [False, True]


def test_a_sync_that_changes_nothing_is_not_audited(sandbox, agent):
    onboarded(agent)

    connect.payout_account_refresh(agent=agent)

    assert AuditEvent.objects.filter(action="payout_account.updated").count() == 1


def test_the_signed_account_updated_webhook_syncs_the_account(
    sandbox, stripe_webhooks, deliver, agent
):
    finish_onboarding(connect.payout_account_start(agent=agent))
    account_id = PayoutAccount.objects.get(agent=agent).stripe_account_id
    [webhook] = stripe_webhooks.wait_for(
        "account.updated", where=lambda event: event["data"]["object"]["id"] == account_id
    )

    stored = stored_event(deliver(webhook.body, webhook.signature))

    assert stored.status == StripeEventStatus.PROCESSED
    payout_account = PayoutAccount.objects.get(agent=agent)
    assert (payout_account.payouts_enabled, payout_account.requirements_due) == (True, [])


def test_a_newer_event_is_applied_even_when_it_takes_payouts_away(sandbox, deliver, agent):
    payout_account = onboarded(agent)
    restricted = {
        **stripe_account(payout_account.stripe_account_id),
        "payouts_enabled": False,
        "requirements": {
            "currently_due": ["individual.verification.document"],
            "past_due": ["individual.verification.document"],
            "disabled_reason": "requirements.past_due",
        },
    }
    later = payout_account.synced_at + timedelta(minutes=1)

    deliver(*signed_event(account_updated_event(restricted, created=later)))

    payout_account.refresh_from_db()
    assert payout_account.payouts_enabled is False
    assert payout_account.requirements_due == ["individual.verification.document"]
    assert payout_account.disabled_reason == "requirements.past_due"
    assert payout_account.synced_at == later


def test_an_older_event_after_a_newer_one_changes_nothing(sandbox, deliver, agent):
    connect.payout_account_start(agent=agent)
    payout_account = PayoutAccount.objects.get(agent=agent)
    before_onboarding = stripe_account(payout_account.stripe_account_id)
    finish_onboarding(connect.payout_account_start(agent=agent))
    after_onboarding = stripe_account(payout_account.stripe_account_id)
    started = payout_account.synced_at
    newer = account_updated_event(after_onboarding, created=started + timedelta(minutes=2))
    older = account_updated_event(before_onboarding, created=started + timedelta(minutes=1))

    deliver(*signed_event(newer))
    stale = stored_event(deliver(*signed_event(older)))

    payout_account.refresh_from_db()
    assert payout_account.payouts_enabled is True
    assert payout_account.requirements_due == []
    assert payout_account.synced_at == started + timedelta(minutes=2)
    assert stale.status == StripeEventStatus.IGNORED
    assert "Older than the status" in stale.last_error


def test_an_event_for_an_account_that_is_not_ours_is_ignored(sandbox, deliver):
    account = stripe_client().v1.accounts.create(params={"type": "express"}).to_dict()

    stored = stored_event(
        deliver(*signed_event(account_updated_event(account, created=timezone.now())))
    )

    assert stored.status == StripeEventStatus.IGNORED
    assert "no Gigdesk agent's payout account" in stored.last_error
    assert not PayoutAccount.objects.exists()


def test_refresh_without_an_account_asks_stripe_nothing(sandbox, agent):
    sandbox.fail_next(3)  # any request would fail

    assert connect.payout_account_refresh(agent=agent) is None


def test_sync_without_an_as_of_time_refuses_the_account(sandbox, agent):
    connect.payout_account_start(agent=agent)
    account_id = PayoutAccount.objects.get(agent=agent).stripe_account_id

    with pytest.raises(TypeError, match="as_of"):
        connect.payout_account_sync(
            stripe_account_id=account_id, account=stripe_account(account_id)
        )


# --- The Express dashboard -------------------------------------------------------------------


def test_no_dashboard_link_before_onboarding_is_finished(sandbox, agent):
    connect.payout_account_start(agent=agent)

    with pytest.raises(connect.PayoutAccountNotReady):
        connect.payout_dashboard_link(agent=agent)


def test_no_dashboard_link_without_an_account(db, agent):
    with pytest.raises(connect.PayoutAccountNotReady):
        connect.payout_dashboard_link(agent=agent)


def test_an_enabled_agent_gets_a_dashboard_link(sandbox, agent):
    onboarded(agent)

    dashboard_url = connect.payout_dashboard_link(agent=agent)

    assert dashboard_url.startswith(f"{sandbox.url}/express/")
    assert requests.get(dashboard_url, timeout=10).status_code == 200


def test_an_agent_cannot_open_the_dashboard_of_anothers_account(sandbox, agent, other_agent):
    onboarded(agent)
    connect.payout_account_start(agent=other_agent)

    with pytest.raises(connect.PayoutAccountNotReady):
        connect.payout_dashboard_link(agent=other_agent)


def test_a_brand_user_gets_no_dashboard_link(db, brand_admin):
    with pytest.raises(PermissionDenied):
        connect.payout_dashboard_link(agent=brand_admin)


def test_an_agent_without_a_profile_gets_an_account_in_stripes_default_country(db, sandbox):
    agent = AgentUserFactory()

    connect.payout_account_start(agent=agent)

    assert PayoutAccount.objects.get(agent=agent).country == "US"  # the sandbox's platform
