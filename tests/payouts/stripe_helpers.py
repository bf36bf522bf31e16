"""Steps the funding, Stripe-event and billing-page tests share.

Everything Stripe-side goes through the real SDK against a sandbox
subprocess; webhooks reach our endpoint as the exact bytes and
``Stripe-Signature`` the sandbox sent (``ReceivedWebhook``), or, for events
the sandbox never emits (an expired session), as JSON signed here the way
Stripe signs.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import stripe
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from payouts import funding
from payouts.models import LedgerAccount, Purpose, StripeEvent, TopUp
from payouts.selectors import balance_mismatches, unbalanced_postings
from payouts.stripe_api import stripe_client, webhook_secret
from stripe_sandbox.testing import ReceivedWebhook, WebhookReceiver, pay_checkout

DECLINED_CARD = "4000 0000 0000 0002"


def post_to_endpoint(client: Client, body: bytes, signature: str | None) -> HttpResponse:
    headers = {} if signature is None else {"Stripe-Signature": signature}
    return client.post(
        reverse("stripe_webhook"), data=body, content_type="application/json", headers=headers
    )


def stored_event(response: HttpResponse) -> StripeEvent:
    """The event our endpoint stored for a delivery it answered."""
    return StripeEvent.objects.get(event_id=response.json()["received"])


def signed_event(event: dict[str, Any], *, secret: str | None = None, timestamp=None):
    """``(body, Stripe-Signature)`` for ``event``, signed as Stripe signs."""
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(
        body, secret or webhook_secret(), timestamp
    )
    return body.encode(), header


def stripe_event(event_type: str, obj: dict[str, Any], **fields) -> dict[str, Any]:
    """An event in Stripe's shape, for types the sandbox does not emit."""
    return {
        "id": f"evt_test_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": None,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        **fields,
    }


def checkout_session(session_id: str) -> dict[str, Any]:
    """The session as Stripe has it now, as plain JSON."""
    return stripe_client().v1.checkout.sessions.retrieve(session_id).to_dict()


def completed_webhook(receiver: WebhookReceiver, session_id: str) -> ReceivedWebhook:
    """The first delivery of the session's completed event (with duplicates on, one of two)."""
    return receiver.wait_for(
        "checkout.session.completed",
        where=lambda event: event["data"]["object"]["id"] == session_id,
    )[0]


def pay_top_up(checkout_url: str) -> None:
    response = pay_checkout(checkout_url)
    assert response.status_code == 302, response.text


def paid_top_up(
    receiver: WebhookReceiver, *, brand, actor, amount_minor: int, currency: str = "EUR"
) -> tuple[TopUp, ReceivedWebhook]:
    """A top-up started and paid on the hosted page, and Stripe's webhook about it."""
    checkout = funding.topup_start(
        brand=brand, actor=actor, amount_minor=amount_minor, currency=currency
    )
    pay_top_up(checkout.checkout_url)
    return checkout.top_up, completed_webhook(receiver, checkout.top_up.checkout_session_id)


def available_balance(brand, currency: str = "EUR") -> int:
    account = LedgerAccount.objects.filter(
        brand=brand, purpose=Purpose.BRAND_BALANCE, currency=currency
    ).first()
    return account.balance_minor if account else 0


def assert_ledger_balanced() -> None:
    assert unbalanced_postings() == []
    assert balance_mismatches() == []
