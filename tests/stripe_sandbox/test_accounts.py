"""Express accounts, hosted onboarding through Account Links, and login links."""

import pytest
import requests
import stripe

from payouts.stripe_api import webhook_secret
from stripe_sandbox.testing import complete_onboarding, submit_hosted_form
from tests.stripe_sandbox.builders import (
    REFRESH_URL,
    RETURN_URL,
    express_account,
    fund_platform,
    onboarded_account,
    onboarding_link,
)


def test_a_new_express_account_cannot_be_paid_yet(client):
    account = express_account(client, metadata={"agent_id": "17"})

    assert account.id.startswith("acct_")
    assert account.type == "express"
    assert (account.details_submitted, account.charges_enabled, account.payouts_enabled) == (
        False,
        False,
        False,
    )
    assert account.capabilities.transfers == "inactive"
    assert "external_account" in account.requirements.currently_due
    assert account.metadata.to_dict() == {"agent_id": "17"}
    assert account.default_currency == "eur"


def test_completing_hosted_onboarding_enables_payouts_and_returns(client):
    account = express_account(client)
    link = onboarding_link(client, account.id)

    response = complete_onboarding(link.url)

    assert response.status_code == 302
    assert response.headers["Location"] == RETURN_URL
    account = client.v1.accounts.retrieve(account.id)
    assert account.details_submitted and account.charges_enabled and account.payouts_enabled
    assert account.capabilities.transfers == "active"
    assert account.requirements.currently_due == []
    assert account.requirements.disabled_reason is None


def test_onboarding_sends_a_signed_connect_account_updated_webhook(client, webhook_receiver):
    account = onboarded_account(client)

    [webhook] = webhook_receiver.wait_for(
        "account.updated", where=lambda event: event["account"] == account.id
    )
    event = stripe.Webhook.construct_event(webhook.body, webhook.signature, webhook_secret())
    assert event.type == "account.updated"
    assert event.account == account.id
    assert event.data.object.payouts_enabled is True
    assert event.data.previous_attributes.payouts_enabled is False
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(webhook.body, webhook.signature, "whsec_someone_else")


def test_leaving_onboarding_for_later_changes_nothing(client):
    account = express_account(client)

    response = submit_hosted_form(onboarding_link(client, account.id).url, button="Leave for later")

    assert response.headers["Location"] == RETURN_URL
    assert client.v1.accounts.retrieve(account.id).payouts_enabled is False


def test_an_account_link_is_single_use(client):
    account = express_account(client)
    link = onboarding_link(client, account.id)
    complete_onboarding(link.url)

    again = requests.get(link.url, allow_redirects=False, timeout=5)

    assert again.status_code == 302
    assert again.headers["Location"] == REFRESH_URL


def test_an_account_link_needs_an_existing_account(client):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        onboarding_link(client, "acct_missing")

    assert refused.value.code == "resource_missing"
    assert refused.value.param == "account"


def test_updating_metadata_merges_and_unsets_keys(client):
    account = express_account(client, metadata={"agent_id": "17", "tier": "gold"})

    updated = client.v1.accounts.update(account.id, params={"metadata": {"tier": "", "note": "x"}})

    assert updated.metadata.to_dict() == {"agent_id": "17", "note": "x"}


def test_login_link_opens_a_dashboard_of_the_accounts_transfers(client):
    account = onboarded_account(client)
    fund_platform(client, amount=5000)
    client.v1.transfers.create(
        params={"amount": 1234, "currency": "eur", "destination": account.id}
    )

    login_link = client.v1.accounts.login_links.create(account.id)
    dashboard = requests.get(login_link.url, timeout=5)

    assert login_link.object == "login_link"
    assert dashboard.status_code == 200
    assert account.id in dashboard.text
    assert "12.34 EUR" in dashboard.text


def test_login_links_need_finished_onboarding(client):
    account = express_account(client)

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.accounts.login_links.create(account.id)
