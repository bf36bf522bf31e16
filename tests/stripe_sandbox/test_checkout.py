"""Checkout Sessions paid (or not) on the sandbox's hosted checkout page."""

import pytest
import requests
import stripe

from payouts.stripe_api import webhook_secret
from stripe_sandbox.testing import pay_checkout
from tests.stripe_sandbox.builders import CANCEL_URL, available, top_up_session

DECLINED_CARD = "4000 0000 0000 0002"


def test_a_new_session_is_open_and_unpaid(client, sandbox):
    session = top_up_session(
        client,
        amount=2500,
        client_reference_id="brand-7",
        customer_email="admin@acme.test",
        metadata={"brand_id": "7"},
    )

    assert session.id.startswith("cs_test_")
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert (session.amount_total, session.currency) == (2500, "eur")
    assert session.client_reference_id == "brand-7"
    assert session.url == f"{sandbox.url}/c/pay/{session.id}"


def test_paying_completes_the_session_and_redirects_to_success(client):
    session = top_up_session(client, amount=2500)

    response = pay_checkout(session.url)

    assert response.status_code == 302
    assert response.headers["Location"] == (
        f"https://gigdesk.test/brand/billing/success?session={session.id}"
    )
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    intent = client.v1.payment_intents.retrieve(paid.payment_intent)
    assert (intent.status, intent.amount) == ("succeeded", 2500)
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.status, charge.paid, charge.payment_method_details.card.last4) == (
        "succeeded",
        True,
        "4242",
    )


def test_paying_adds_the_amount_to_the_platform_balance(client):
    before = available(client)

    pay_checkout(top_up_session(client, amount=2500).url)

    assert available(client) == before + 2500


def test_paying_sends_a_signed_checkout_session_completed_webhook(client, webhook_receiver):
    session = top_up_session(client, amount=2500, metadata={"brand_id": "7"})

    pay_checkout(session.url)

    [webhook] = webhook_receiver.wait_for(
        "checkout.session.completed",
        where=lambda event: event["data"]["object"]["id"] == session.id,
    )
    event = stripe.Webhook.construct_event(webhook.body, webhook.signature, webhook_secret())
    assert event.data.object.payment_status == "paid"
    assert event.data.object.metadata.to_dict() == {"brand_id": "7"}
    assert "account" not in event  # a platform event, not a Connect one


def test_a_declined_card_shows_the_decline_and_changes_nothing(client, sandbox):
    session = top_up_session(client, amount=2500)

    response = pay_checkout(session.url, card_number=DECLINED_CARD)

    assert response.status_code == 402
    assert "Your card was declined." in response.text
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "unpaid"
    assert available(client) == 0
    assert client.v1.events.list().data == []


def test_a_paid_session_cannot_be_paid_twice(client):
    session = top_up_session(client, amount=2500)
    pay_checkout(session.url)

    again = requests.post(session.url, data={"card_number": "4242424242424242"}, timeout=5)

    assert again.status_code == 400
    assert available(client) == 2500


def test_the_cancel_link_goes_back_to_the_cancel_url(client):
    session = top_up_session(client, amount=2500)

    page = requests.get(session.url, timeout=5)

    assert f'href="{CANCEL_URL}"' in page.text
    assert "4242 4242 4242 4242" in page.text  # the test card is prefilled


def test_line_items_and_metadata_survive_bracket_encoding(client):
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 1500,
                        "product_data": {"name": "Order support minutes"},
                    },
                    "quantity": 3,
                },
                {
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 250,
                        "product_data": {"name": "Resolutions"},
                    },
                    "quantity": 2,
                },
            ],
            "metadata": {"brand_id": "7", "0": "a numeric key stays a key"},
            "success_url": "https://gigdesk.test/ok",
        }
    )

    expanded = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["line_items"]})

    assert session.amount_total == 1500 * 3 + 250 * 2
    assert [(item.description, item.quantity) for item in expanded.line_items.data] == [
        ("Order support minutes", 3),
        ("Resolutions", 2),
    ]
    assert expanded.metadata.to_dict() == {"brand_id": "7", "0": "a numeric key stays a key"}


def test_line_items_in_two_currencies_are_refused(client):
    def item(currency):
        return {
            "price_data": {"currency": currency, "unit_amount": 100, "product_data": {"name": "x"}},
            "quantity": 1,
        }

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [item("eur"), item("usd")],
                "success_url": "https://gigdesk.test/ok",
            }
        )

    assert refused.value.param == "line_items"
