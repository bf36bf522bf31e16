"""The earnings page's Payouts panel, and the trip through Stripe's onboarding and dashboard.

Stripe is the sandbox subprocess, reached through the real SDK; its hosted
pages are clicked over HTTP, and Stripe's redirects back to us are followed
with the agent's own client.
"""

from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from payouts import connect
from payouts.models import PayoutAccount
from stripe_sandbox.testing import submit_hosted_form
from tests.marketplace.factories import AgentProfileFactory
from tests.payouts.connect_helpers import finish_onboarding, sandbox_account_ids

EARNINGS_PANEL = "/agent/earnings/#payouts"
SETUP = "/agent/payouts/setup/"
RETURN = "/agent/payouts/return/"
REFRESH = "/agent/payouts/refresh/"
DASHBOARD = "/agent/payouts/dashboard/"


@pytest.fixture
def agent(db):
    return AgentProfileFactory(user__email="ana@agents.test", country="ES").user


@pytest.fixture
def other_agent(db):
    return AgentProfileFactory(user__email="bo@agents.test").user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def earnings_html(client: Client) -> str:
    response = client.get(reverse("frontend:agent_earnings"))
    assert response.status_code == 200
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def our_path(url: str, settings) -> str:
    """The path of a URL on our site, as Stripe's redirect names it."""
    assert url.startswith(settings.SITE_URL), url
    return urlsplit(url).path


def set_up_through_stripe(client: Client, settings) -> None:
    """Set up payouts from the panel, finish on Stripe's page, and come back to the return page."""
    to_stripe = client.post(SETUP)
    back_to_us = finish_onboarding(to_stripe["Location"])
    returned = client.get(our_path(back_to_us, settings))
    assert returned.status_code == 302


# --- The panel ------------------------------------------------------------------------------


def test_an_agent_without_a_payout_account_is_offered_to_set_one_up(agent):
    html = earnings_html(client_for(agent))

    assert 'id="payouts"' in html
    assert "Set up payouts" in html
    assert "Open your Stripe dashboard" not in html


def test_an_unfinished_setup_lists_what_stripe_still_needs(sandbox, agent):
    client = client_for(agent)
    client.post(SETUP)

    html = earnings_html(client)

    assert "Stripe still needs:" in html
    assert "A bank account to be paid into" in html
    assert "Accepting Stripe&#x27;s terms of service" in html
    assert "Continue setup" in html
    assert "Set up payouts" not in html


def test_a_finished_setup_shows_payouts_enabled_and_the_dashboard(sandbox, agent, settings):
    client = client_for(agent)
    set_up_through_stripe(client, settings)

    html = earnings_html(client)

    assert "Payouts enabled" in html
    assert "Open your Stripe dashboard" in html
    assert "Continue setup" not in html


def test_an_account_in_review_offers_the_dashboard_but_no_setup(sandbox, agent, settings):
    client = client_for(agent)
    set_up_through_stripe(client, settings)
    # Everything submitted, nothing due, payouts not on yet: Stripe is still checking.
    PayoutAccount.objects.filter(agent=agent).update(payouts_enabled=False)

    html = earnings_html(client)

    assert "Stripe is reviewing your details" in html
    assert "Open your Stripe dashboard" in html
    assert "Continue setup" not in html


# --- Setting up -----------------------------------------------------------------------------


def test_set_up_payouts_sends_the_agent_to_stripes_onboarding(sandbox, agent):
    response = client_for(agent).post(SETUP)

    assert response.status_code == 303
    assert response["Location"].startswith(f"{sandbox.url}/connect/onboarding/")
    payout_account = PayoutAccount.objects.get(agent=agent)
    assert sandbox_account_ids(sandbox) == [payout_account.stripe_account_id]


def test_set_up_is_a_post(agent):
    assert client_for(agent).get(SETUP).status_code == 405


def test_the_return_page_stores_payouts_enabled_and_says_so(sandbox, agent, settings):
    client = client_for(agent)
    back_to_us = finish_onboarding(client.post(SETUP)["Location"])

    response = client.get(our_path(back_to_us, settings))

    assert our_path(back_to_us, settings) == RETURN
    assert response.status_code == 302
    assert response["Location"] == EARNINGS_PANEL
    assert messages_of(response) == [
        "Payouts are set up: pay runs send your available earnings to your bank."
    ]
    assert PayoutAccount.objects.get(agent=agent).payouts_enabled is True


def test_leaving_onboarding_early_returns_to_an_unfinished_setup(sandbox, agent, settings):
    client = client_for(agent)
    left = submit_hosted_form(client.post(SETUP)["Location"], button="Leave for later")

    response = client.get(our_path(left.headers["Location"], settings))

    assert messages_of(response) == [
        "Your payout setup is not finished: Stripe still needs a few details."
    ]
    assert PayoutAccount.objects.get(agent=agent).payouts_enabled is False


def test_the_return_page_says_so_when_stripe_cannot_be_reached(sandbox, agent):
    client = client_for(agent)
    client.post(SETUP)
    sandbox.fail_next(3)  # the first try and both of the SDK's retries

    response = client.get(RETURN)

    assert response["Location"] == EARNINGS_PANEL
    assert "could not reach Stripe" in messages_of(response)[0]
    assert PayoutAccount.objects.get(agent=agent).payouts_enabled is False


def test_set_up_says_so_when_stripe_fails(sandbox, agent):
    sandbox.fail_next(3)

    response = client_for(agent).post(SETUP)

    assert response.status_code == 302
    assert response["Location"] == EARNINGS_PANEL
    assert messages_of(response) == [
        "Stripe could not start your payout setup. Try again in a moment."
    ]


def test_a_used_link_comes_back_to_refresh_for_a_new_one(sandbox, agent, settings):
    client = client_for(agent)
    used_link = client.post(SETUP)["Location"]
    finish_onboarding(used_link)
    refresh_url = requests.get(used_link, allow_redirects=False, timeout=10).headers["Location"]

    response = client.get(our_path(refresh_url, settings))

    assert our_path(refresh_url, settings) == REFRESH
    assert response.status_code == 303
    assert response["Location"].startswith(f"{sandbox.url}/connect/onboarding/")
    assert response["Location"] != used_link
    assert len(sandbox_account_ids(sandbox)) == 1


def test_refresh_without_an_account_creates_none(sandbox, agent):
    response = client_for(agent).get(REFRESH)

    assert response["Location"] == EARNINGS_PANEL
    assert not PayoutAccount.objects.exists()
    assert sandbox_account_ids(sandbox) == []


# --- The dashboard --------------------------------------------------------------------------


def test_the_dashboard_button_opens_the_agents_express_dashboard(sandbox, agent, settings):
    client = client_for(agent)
    set_up_through_stripe(client, settings)

    response = client.post(DASHBOARD)

    assert response.status_code == 303
    assert response["Location"].startswith(f"{sandbox.url}/express/")
    dashboard = requests.get(response["Location"], timeout=10)
    account_id = PayoutAccount.objects.get(agent=agent).stripe_account_id
    assert account_id in dashboard.text


def test_the_dashboard_is_refused_before_setup_is_finished(sandbox, agent):
    client = client_for(agent)
    client.post(SETUP)

    response = client.post(DASHBOARD)

    assert response["Location"] == EARNINGS_PANEL
    assert messages_of(response) == [
        "Your Stripe dashboard opens once you have finished setting up payouts."
    ]


# --- Who may --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", SETUP), ("get", RETURN), ("get", REFRESH), ("post", DASHBOARD)],
)
def test_brand_users_get_403(sandbox, brand_admin, method, path):
    response = getattr(client_for(brand_admin), method)(path)

    assert response.status_code == 403
    assert "Payouts are for agent accounts." in response.content.decode()
    assert sandbox_account_ids(sandbox) == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", SETUP), ("get", RETURN), ("get", REFRESH), ("post", DASHBOARD)],
)
def test_anonymous_visitors_are_sent_to_log_in(db, method, path):
    response = getattr(Client(), method)(path)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_one_agent_can_never_act_on_anothers_account(sandbox, agent, other_agent, settings):
    set_up_through_stripe(client_for(agent), settings)
    mine = PayoutAccount.objects.get(agent=agent)
    theirs = client_for(other_agent)

    dashboard = theirs.post(DASHBOARD)
    returned = theirs.get(RETURN)
    refreshed = theirs.get(REFRESH)
    html = earnings_html(theirs)

    assert dashboard["Location"] == EARNINGS_PANEL  # refused: they have no account
    assert returned["Location"] == refreshed["Location"] == EARNINGS_PANEL
    assert "Set up payouts" in html
    assert mine.stripe_account_id not in html
    assert list(PayoutAccount.objects.values_list("agent", flat=True)) == [agent.pk]
    assert connect.payout_account_for(agent=other_agent) is None
