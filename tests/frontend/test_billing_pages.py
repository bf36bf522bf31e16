"""The brand billing page: balances, top-ups through Stripe Checkout, the statement, isolation.

Top-ups go through the real SDK to a sandbox subprocess and come back as the
webhook the sandbox signed, posted to our endpoint.
"""

from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from brands.models import BrandRole
from payouts.funding import TOPUP_POSTING_KIND
from payouts.models import Posting, Purpose, StripeEvent, TopUp, TopUpStatus
from payouts.services import ledger_account, posting_create
from stripe_sandbox.testing import pay_checkout
from tests.brands.factories import MembershipFactory
from tests.gigs.factories import GigFactory
from tests.payouts.stripe_helpers import (
    DECLINED_CARD,
    assert_ledger_balanced,
    available_balance,
    completed_webhook,
    pay_top_up,
)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def billing_url(brand) -> str:
    return reverse("frontend:brand_billing", args=[brand.slug])


def cancel_url(brand, top_up) -> str:
    return reverse("frontend:topup_cancel", args=[brand.slug, top_up.pk])


def start_top_up(client: Client, brand, amount: str = "250.00", currency: str = "EUR"):
    return client.post(billing_url(brand), {"amount": amount, "currency": currency})


def credit(brand, amount_minor: int, *, key: str, purpose: str = Purpose.BRAND_BALANCE):
    """Money on the brand's books without Stripe, for pages that only read it."""
    return posting_create(
        idempotency_key=key,
        kind=TOPUP_POSTING_KIND,
        lines=[
            (ledger_account(purpose=purpose, currency="EUR", brand=brand), amount_minor),
            (ledger_account(purpose=Purpose.STRIPE_CLEARING, currency="EUR"), -amount_minor),
        ],
        memo="Seeded for the page",
        reference=key,
    )


# --- Who sees what ---------------------------------------------------------------------


def test_every_member_sees_the_billing_link(brand, brand_viewer):
    response = client_for(brand_viewer).get(reverse("frontend:brand_home", args=[brand.slug]))

    assert billing_url(brand).encode() in response.content


@pytest.mark.parametrize("role", [BrandRole.VIEWER, BrandRole.QA_REVIEWER])
def test_non_admin_members_see_balances_but_no_top_up_form(brand, role):
    member = MembershipFactory(brand=brand, role=role).user
    credit(brand, 12_345, key="seed:1")

    response = client_for(member).get(billing_url(brand))

    assert response.status_code == 200
    assert "€123.45" in response.content.decode()
    assert b'name="amount"' not in response.content


def test_a_viewer_cannot_top_up(brand, brand_viewer):
    response = start_top_up(client_for(brand_viewer), brand)

    assert response.status_code == 403
    assert not TopUp.objects.exists()


def test_another_brands_admin_gets_404(brand, other_admin):
    client = client_for(other_admin)

    assert client.get(billing_url(brand)).status_code == 404
    assert start_top_up(client, brand).status_code == 404
    assert not TopUp.objects.exists()


def test_a_user_of_no_brand_gets_404(brand, django_user_model):
    outsider = django_user_model.objects.create_user(email="who@else.test", password="x" * 12)

    assert client_for(outsider).get(billing_url(brand)).status_code == 404


def test_anonymous_users_are_sent_to_log_in(client, brand):
    response = client.get(billing_url(brand))

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_balances_show_available_and_reserved_per_currency(admin_client, brand, other_brand):
    credit(brand, 50_000, key="seed:available")
    credit(brand, 2_000, key="seed:reserved", purpose=Purpose.BRAND_RESERVED)
    credit(other_brand, 99_900, key="seed:theirs")

    page = admin_client.get(billing_url(brand)).content.decode()

    assert "€500.00" in page
    assert "€20.00" in page
    assert "€999.00" not in page  # another brand's money


# --- The top-up form --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("-5.00", "EUR", "more than zero"),
        ("0", "EUR", "more than zero"),
        ("0.00", "EUR", "more than zero"),
        ("1.005", "EUR", "at most 2 decimals"),
        ("12,50", "EUR", "Enter an amount like 2.50"),
        ("abc", "EUR", "Enter an amount like 2.50"),
        ("", "EUR", "This field is required"),
        ("1000000.01", "EUR", "at most €1,000,000.00"),
        ("250.00", "JPY", "Top up in a currency your gigs pay in: EUR"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_changes_nothing(
    admin_client, brand, amount, currency, message
):
    GigFactory(brand=brand, currency="EUR")

    response = start_top_up(admin_client, brand, amount=amount, currency=currency)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TopUp.objects.exists()


def test_a_valid_top_up_goes_to_stripe_checkout(sandbox, admin_client, brand):
    response = start_top_up(admin_client, brand, amount="250.00")

    top_up = TopUp.objects.get()
    assert (top_up.amount_minor, top_up.currency, top_up.status) == (25_000, "EUR", "pending")
    assert response.status_code == 302
    assert response.url == f"{sandbox.url}/c/pay/{top_up.checkout_session_id}"


def test_stripe_being_down_is_explained_and_nothing_is_charged(sandbox, admin_client, brand):
    sandbox.fail_next(3)

    response = start_top_up(admin_client, brand)

    assert response.status_code == 400
    assert "nothing was charged" in response.content.decode()
    assert TopUp.objects.get().status == TopUpStatus.CANCELED


# --- The whole flow -------------------------------------------------------------------------


def test_top_up_paid_on_checkout_is_credited_once_from_the_webhook(
    sandbox, stripe_webhooks, deliver, admin_client, brand, settings
):
    started = start_top_up(admin_client, brand, amount="250.00")
    top_up = TopUp.objects.get()

    paid = pay_checkout(started.url)
    assert paid.status_code == 302
    success_url = paid.headers["Location"]
    assert success_url.startswith(settings.SITE_URL)

    # Back from Checkout, before Stripe's word: confirming, and no money yet.
    returned = admin_client.get(urlsplit(success_url).path + "?" + urlsplit(success_url).query)
    assert "is being confirmed" in returned.content.decode()
    assert available_balance(brand) == 0

    webhook = completed_webhook(stripe_webhooks, top_up.checkout_session_id)
    deliver(webhook.body, webhook.signature)
    deliver(webhook.body, webhook.signature)  # Stripe delivers at least once

    assert available_balance(brand) == 25_000
    assert Posting.objects.filter(kind=TOPUP_POSTING_KIND).count() == 1
    assert StripeEvent.objects.count() == 1
    assert_ledger_balanced()
    page = admin_client.get(f"{billing_url(brand)}?topup={top_up.pk}").content.decode()
    assert "is confirmed and in the balance" in page
    assert "€250.00" in page


def test_a_declined_card_leaves_the_top_up_pending_and_the_balance_empty(
    sandbox, admin_client, brand
):
    started = start_top_up(admin_client, brand)

    declined = pay_checkout(started.url, card_number=DECLINED_CARD)

    assert declined.status_code == 402
    assert TopUp.objects.get().status == TopUpStatus.PENDING
    assert available_balance(brand) == 0
    assert sandbox.webhook_deliveries() == []


def test_the_confirmation_notice_polls_until_the_webhook_lands(
    sandbox, stripe_webhooks, deliver, admin_client, brand
):
    pay_top_up(start_top_up(admin_client, brand).url)
    top_up = TopUp.objects.get()
    poll_url = f"{billing_url(brand)}?topup={top_up.pk}"

    waiting = admin_client.get(poll_url, headers={"HX-Request": "true"})
    assert "hx-trigger" in waiting.content.decode()
    assert "HX-Refresh" not in waiting.headers

    webhook = completed_webhook(stripe_webhooks, top_up.checkout_session_id)
    deliver(webhook.body, webhook.signature)

    settled = admin_client.get(poll_url, headers={"HX-Request": "true"})
    assert settled.headers["HX-Refresh"] == "true"
    assert "hx-trigger" not in settled.content.decode()


def test_another_brands_top_up_id_in_the_return_url_shows_nothing(
    sandbox, admin_client, brand, other_admin, other_brand
):
    GigFactory(brand=other_brand, currency="EUR")
    start_top_up(client_for(other_admin), other_brand, amount="777.00")
    theirs = TopUp.objects.get()

    response = admin_client.get(f"{billing_url(brand)}?topup={theirs.pk}")

    assert response.status_code == 200
    assert "777.00" not in response.content.decode()


# --- Canceling ----------------------------------------------------------------------------------


def test_leaving_checkout_cancels_the_top_up(sandbox, admin_client, brand):
    start_top_up(admin_client, brand)
    top_up = TopUp.objects.get()

    response = admin_client.get(cancel_url(brand, top_up), follow=True)

    top_up.refresh_from_db()
    assert top_up.status == TopUpStatus.CANCELED
    assert "canceled. Nothing was charged." in response.content.decode()


def test_the_cancel_button_cancels_a_pending_top_up(sandbox, admin_client, brand):
    start_top_up(admin_client, brand)
    top_up = TopUp.objects.get()

    response = admin_client.post(cancel_url(brand, top_up))

    assert response.status_code == 302
    top_up.refresh_from_db()
    assert top_up.status == TopUpStatus.CANCELED


def test_a_viewer_cannot_cancel(sandbox, admin_client, brand, brand_viewer):
    start_top_up(admin_client, brand)
    top_up = TopUp.objects.get()

    assert client_for(brand_viewer).post(cancel_url(brand, top_up)).status_code == 403
    top_up.refresh_from_db()
    assert top_up.status == TopUpStatus.PENDING


def test_another_brands_admin_cannot_cancel(sandbox, admin_client, brand, other_brand, other_admin):
    start_top_up(admin_client, brand)
    top_up = TopUp.objects.get()
    theirs = client_for(other_admin)

    assert theirs.post(cancel_url(brand, top_up)).status_code == 404
    # Nor through their own brand's URL with our top-up's id.
    assert theirs.post(cancel_url(other_brand, top_up)).status_code == 404
    top_up.refresh_from_db()
    assert top_up.status == TopUpStatus.PENDING


# --- The statement ------------------------------------------------------------------------------


def test_the_statement_lists_movements_with_running_balances(admin_client, brand):
    credit(brand, 10_000, key="seed:first")
    credit(brand, 2_500, key="seed:second")

    page = admin_client.get(billing_url(brand)).content.decode()

    statement = page[page.index('id="statement"') :]
    assert statement.count("Top-up") == 2
    assert "seed:second" in statement
    # Newest first, each with its balance right after it.
    assert statement.index("€125.00") < statement.index("€100.00")


def test_the_statement_is_paginated(admin_client, brand):
    for number in range(30):
        credit(brand, 100, key=f"seed:{number}")

    first = admin_client.get(billing_url(brand)).content.decode()
    second = admin_client.get(billing_url(brand) + "?page=2").content.decode()

    assert "Page 1 of 2" in first
    assert "seed:29" in first and "seed:0<" not in first
    assert "seed:0<" in second
    # Running balances hold across pages: the oldest entry's balance is its own amount.
    assert "€1.00" in second
    assert "€30.00" in first


def test_the_statement_shows_no_other_brands_movements(admin_client, brand, other_brand):
    credit(other_brand, 4_200, key="seed:theirs")

    page = admin_client.get(billing_url(brand)).content.decode()

    assert "seed:theirs" not in page
    assert "Nothing has moved yet" in page
