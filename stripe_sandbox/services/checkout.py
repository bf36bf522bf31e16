"""Checkout Sessions in payment mode, paid on the sandbox's hosted checkout page.

Paying with a test card completes the session the way Stripe does: a
succeeded PaymentIntent and Charge, the amount added to the (platform's or,
with ``Stripe-Account``, the connected account's) available balance, and a
``checkout.session.completed`` event. Stripe's decline test cards are
declined, and then nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stripe_sandbox.services.balances import balance_move
from stripe_sandbox.services.events import event_emit
from stripe_sandbox.services.operation import Operation, now, object_or_404
from stripe_sandbox.wire import StripeError, new_id, public_object

CHECKOUT_SESSION_LIFETIME_SECONDS = 24 * 60 * 60  # as Stripe's default
SESSION_ID_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"
SUCCESS_TEST_CARD = "4242424242424242"
# Stripe's published decline test cards: number -> (decline code, message).
_DECLINED_TEST_CARDS = {
    "4000000000000002": ("generic_decline", "Your card was declined."),
    "4000000000009995": ("insufficient_funds", "Your card has insufficient funds."),
    "4000000000009987": ("lost_card", "Your card was declined."),
    "4000000000000069": ("expired_card", "Your card has expired."),
}


@dataclass(frozen=True)
class LineItem:
    name: str
    currency: str
    unit_amount: int
    quantity: int

    @property
    def amount(self) -> int:
        return self.unit_amount * self.quantity


def checkout_session_create(
    op: Operation,
    *,
    account: str,
    line_items: list[LineItem],
    success_url: str,
    cancel_url: str | None,
    client_reference_id: str | None,
    customer_email: str | None,
    metadata: dict[str, str] | None,
) -> dict[str, Any]:
    currency = _single_currency(line_items)
    amount_total = sum(item.amount for item in line_items)
    session_id = new_id("cs_test_", 58)
    created = now()
    session = {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "cancel_url": cancel_url,
        "client_reference_id": client_reference_id,
        "created": created,
        "currency": currency,
        "customer": None,
        "customer_details": None,
        "customer_email": customer_email,
        "expires_at": created + CHECKOUT_SESSION_LIFETIME_SECONDS,
        "livemode": False,
        "locale": None,
        "metadata": metadata or {},
        "mode": "payment",
        "payment_intent": None,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "status": "open",
        "submit_type": None,
        "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": op.hosted_url(f"/c/pay/{session_id}"),
        # Stripe shows line items only when expanded; the hosted page needs them too.
        "_line_items": [_line_item_object(item) for item in line_items],
        "_account": account,
    }
    return op.tx.insert(session, account=account)


def _single_currency(line_items: list[LineItem]) -> str:
    currencies = {item.currency for item in line_items}
    if len(currencies) != 1:
        raise StripeError(
            "All line items of a Checkout Session must have the same currency.",
            param="line_items",
            saved=False,
        )
    return currencies.pop()


def _line_item_object(item: LineItem) -> dict[str, Any]:
    return {
        "id": new_id("li_"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": item.amount,
        "amount_tax": 0,
        "amount_total": item.amount,
        "currency": item.currency,
        "description": item.name,
        "price": {
            "id": new_id("price_"),
            "object": "price",
            "currency": item.currency,
            "product": new_id("prod_", 14),
            "type": "one_time",
            "unit_amount": item.unit_amount,
        },
        "quantity": item.quantity,
    }


def checkout_session_retrieve(
    op: Operation, *, account: str, session_id: str, expand_line_items: bool = False
) -> dict[str, Any]:
    session = object_or_404(
        op, session_id, type="checkout.session", account=account, resource="checkout.session"
    )
    return checkout_session_public(session, expand_line_items=expand_line_items)


def checkout_session_public(
    session: dict[str, Any], *, expand_line_items: bool = False
) -> dict[str, Any]:
    shown = public_object(session)
    if expand_line_items:
        items = session["_line_items"]
        shown["line_items"] = {
            "object": "list",
            "data": items,
            "has_more": False,
            "url": f"/v1/checkout/sessions/{session['id']}/line_items",
        }
    return shown


def checkout_session_for_page(op: Operation, *, session_id: str) -> dict[str, Any] | None:
    """The session behind a hosted checkout URL, whichever account it belongs to."""
    return op.tx.get(session_id, type="checkout.session", account=None)


def checkout_session_is_open(session: dict[str, Any]) -> bool:
    return session["status"] == "open" and session["expires_at"] >= now()


def checkout_session_pay(
    op: Operation, *, session_id: str, card_number: str, email: str | None
) -> dict[str, Any]:
    """Charge the card for the session's total and complete it; a declined card changes nothing."""
    session = checkout_session_for_page(op, session_id=session_id)
    if session is None or not checkout_session_is_open(session):
        raise StripeError("This Checkout Session is no longer active.", code="session_not_open")
    card = _authorize_card(card_number)
    account = session["_account"]
    intent_id, charge_id = new_id("pi_"), new_id("ch_")
    charge = _succeeded_charge(
        op, session=session, charge_id=charge_id, intent_id=intent_id, card=card, email=email
    )
    op.tx.insert(charge, account=account)
    op.tx.insert(
        _succeeded_intent(session=session, intent_id=intent_id, charge=charge), account=account
    )
    session.update(
        customer_details={"email": email or session["customer_email"], "name": None, "phone": None},
        payment_intent=intent_id,
        payment_status="paid",
        status="complete",
    )
    op.tx.save(session)
    event_emit(op, type="checkout.session.completed", obj=session, account=account)
    return session


def success_redirect_url(session: dict[str, Any]) -> str:
    return session["success_url"].replace(SESSION_ID_PLACEHOLDER, session["id"])


# --- Cards ---------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    number: str

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def brand(self) -> str:
        return {"3": "amex", "4": "visa", "5": "mastercard"}.get(self.number[0], "unknown")


def _authorize_card(card_number: str) -> Card:
    number = "".join(card_number.split())
    if not number.isdigit() or not 12 <= len(number) <= 19 or not _luhn_valid(number):
        raise _card_error("Your card number is incorrect.", code="incorrect_number")
    if number in _DECLINED_TEST_CARDS:
        decline_code, message = _DECLINED_TEST_CARDS[number]
        raise _card_error(message, code="card_declined", decline_code=decline_code)
    return Card(number=number)


def _card_error(message: str, *, code: str, decline_code: str | None = None) -> StripeError:
    return StripeError(message, status=402, type="card_error", code=code, decline_code=decline_code)


def _luhn_valid(number: str) -> bool:
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(number)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _succeeded_charge(
    op: Operation,
    *,
    session: dict[str, Any],
    charge_id: str,
    intent_id: str,
    card: Card,
    email: str | None,
) -> dict[str, Any]:
    amount, currency = session["amount_total"], session["currency"]
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "balance_transaction": balance_move(
            op,
            account=session["_account"],
            currency=currency,
            amount=amount,
            type="charge",
            source=charge_id,
        ),
        "billing_details": {"email": email, "name": None, "phone": None},
        "captured": True,
        "created": now(),
        "currency": currency,
        "description": None,
        "livemode": False,
        "metadata": {},
        "outcome": {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": True,
        "payment_intent": intent_id,
        "payment_method": new_id("pm_"),
        "payment_method_details": {
            "card": {
                "brand": card.brand,
                "country": "US",
                "funding": "credit",
                "last4": card.last4,
            },
            "type": "card",
        },
        "refunded": False,
        "status": "succeeded",
        "transfer_group": None,
    }


def _succeeded_intent(
    *, session: dict[str, Any], intent_id: str, charge: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": charge["amount"],
        "amount_capturable": 0,
        "amount_received": charge["amount"],
        "capture_method": "automatic_async",
        "client_secret": f"{intent_id}_secret_{new_id('', 24)}",
        "created": charge["created"],
        "currency": charge["currency"],
        "customer": None,
        "description": None,
        "latest_charge": charge["id"],
        "livemode": False,
        "metadata": session["metadata"],
        "payment_method": charge["payment_method"],
        "payment_method_types": ["card"],
        "status": "succeeded",
        "transfer_group": None,
    }


def payment_intent_retrieve(op: Operation, *, account: str, intent_id: str) -> dict[str, Any]:
    return object_or_404(
        op, intent_id, type="payment_intent", account=account, resource="payment_intent"
    )


def charge_retrieve(op: Operation, *, account: str, charge_id: str) -> dict[str, Any]:
    return object_or_404(op, charge_id, type="charge", account=account, resource="charge")
