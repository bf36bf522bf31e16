"""Balances, the balance transactions that move them, and payouts.

Every movement of money is a ``balance_transaction`` object plus the same
amount added to the ``balances`` row of its account and currency, in one
transaction: the balance is always the sum of its balance transactions.
Money is available at once (Stripe's test mode would hold card funds as
pending for days unless a special card is used) and carries no fees, so a
test can predict every amount exactly.
"""

from __future__ import annotations

from typing import Any

from stripe_sandbox.services.accounts import account_retrieve
from stripe_sandbox.services.events import event_emit
from stripe_sandbox.services.operation import Operation, list_page, now, object_or_404
from stripe_sandbox.store import PLATFORM
from stripe_sandbox.wire import StripeError, new_id

PLATFORM_DEFAULT_CURRENCY = "eur"  # Gigdesk's own; shown while the platform holds nothing


def balance_move(
    op: Operation,
    *,
    account: str,
    currency: str,
    amount: int,
    type: str,
    source: str,
    description: str | None = None,
) -> str:
    """Add ``amount`` (negative to take) to the account's available balance; return the txn id."""
    created = now()
    transaction = {
        "id": new_id("txn_"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created,
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": 0,
        "fee_details": [],
        "net": amount,
        "reporting_category": type,
        "source": source,
        "status": "available",
        "type": type,
    }
    op.tx.insert(transaction, account=account)
    op.tx.balance_add(account=account, currency=currency, available=amount)
    return transaction["id"]


def require_available(op: Operation, *, account: str, currency: str, amount: int) -> None:
    """Refuse, as Stripe does, to spend more than the available balance in that currency."""
    if op.tx.available(account=account, currency=currency) < amount:
        raise StripeError(
            "You have insufficient available funds in your Stripe account. In the sandbox, "
            "add funds by paying a Checkout Session with the test card 4242 4242 4242 4242.",
            code="balance_insufficient",
        )


def balance_retrieve(op: Operation, *, account: str) -> dict[str, Any]:
    rows = op.tx.balances(account=account)
    if not rows:
        rows = [(_default_currency(op, account=account), 0, 0)]
    balance: dict[str, Any] = {
        "object": "balance",
        "available": [
            {"amount": available, "currency": currency, "source_types": {"card": available}}
            for currency, available, _pending in rows
        ],
        "livemode": False,
        "pending": [
            {"amount": pending, "currency": currency, "source_types": {"card": pending}}
            for currency, _available, pending in rows
        ],
    }
    if account == PLATFORM:
        balance["connect_reserved"] = [{"amount": 0, "currency": currency} for currency, *_ in rows]
    return balance


def _default_currency(op: Operation, *, account: str) -> str:
    if account == PLATFORM:
        return PLATFORM_DEFAULT_CURRENCY
    return account_retrieve(op, account_id=account)["default_currency"]


# --- Payouts -------------------------------------------------------------------


def payout_create(
    op: Operation,
    *,
    account: str,
    amount: int,
    currency: str,
    description: str | None,
    metadata: dict[str, str] | None,
) -> dict[str, Any]:
    """Pay out to the account's bank; the sandbox's banks answer at once, so it is ``paid``."""
    destination = _payout_destination(op, account=account)
    require_available(op, account=account, currency=currency, amount=amount)
    payout_id = new_id("po_")
    created = now()
    payout = {
        "id": payout_id,
        "object": "payout",
        "amount": amount,
        "arrival_date": created,
        "automatic": False,
        "balance_transaction": balance_move(
            op, account=account, currency=currency, amount=-amount, type="payout", source=payout_id
        ),
        "created": created,
        "currency": currency,
        "description": description,
        "destination": destination,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": metadata or {},
        "method": "standard",
        "source_type": "card",
        "statement_descriptor": None,
        "status": "paid",
        "type": "bank_account",
    }
    op.tx.insert(payout, account=account)
    event_emit(op, type="payout.created", obj=payout, account=account)
    event_emit(op, type="payout.paid", obj=payout, account=account)
    return payout


def _payout_destination(op: Operation, *, account: str) -> str | None:
    """The connected account's bank account; the platform's bank is not modelled."""
    if account == PLATFORM:
        return None
    connected = account_retrieve(op, account_id=account)
    if not connected["payouts_enabled"]:
        raise StripeError(
            "Payouts are not enabled for this account: it has not completed onboarding.",
            code="payouts_not_allowed",
        )
    return connected["external_accounts"]["data"][0]["id"]


def payout_retrieve(op: Operation, *, account: str, payout_id: str) -> dict[str, Any]:
    return object_or_404(op, payout_id, type="payout", account=account, resource="payout")


def payout_list(
    op: Operation, *, account: str, limit: int, starting_after: str | None
) -> dict[str, Any]:
    return list_page(
        op,
        type="payout",
        account=account,
        url="/v1/payouts",
        limit=limit,
        starting_after=starting_after,
        resource="payout",
    )
