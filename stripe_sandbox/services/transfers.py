"""Connect transfers from the platform's balance to connected accounts, and their reversals."""

from __future__ import annotations

import copy
from typing import Any

from stripe_sandbox.services.accounts import account_retrieve
from stripe_sandbox.services.balances import balance_move, require_available
from stripe_sandbox.services.events import changed_attributes, event_emit
from stripe_sandbox.services.operation import Operation, list_page, now, object_or_404
from stripe_sandbox.store import PLATFORM
from stripe_sandbox.wire import StripeError, new_id, public_object

EMBEDDED_REVERSALS = 10  # a transfer shows its latest reversals inline, as Stripe's does


def transfer_create(
    op: Operation,
    *,
    amount: int,
    currency: str,
    destination: str,
    description: str | None,
    transfer_group: str | None,
    metadata: dict[str, str] | None,
) -> dict[str, Any]:
    """Move ``amount`` from the platform's available balance to the destination's.

    Refused, with Stripe's errors, when the destination is unknown, cannot
    receive transfers yet (onboarding unfinished), or the platform lacks the
    funds in that currency.
    """
    _require_transfer_capability(op, destination=destination)
    require_available(op, account=PLATFORM, currency=currency, amount=amount)
    transfer_id, payment_id = new_id("tr_"), new_id("py_")
    transfer = {
        "id": transfer_id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": balance_move(
            op,
            account=PLATFORM,
            currency=currency,
            amount=-amount,
            type="transfer",
            source=transfer_id,
        ),
        "created": now(),
        "currency": currency,
        "description": description,
        "destination": destination,
        "destination_payment": payment_id,
        "livemode": False,
        "metadata": metadata or {},
        "reversals": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/transfers/{transfer_id}/reversals",
        },
        "reversed": False,
        "source_transaction": None,
        "source_type": "card",
        "transfer_group": transfer_group,
    }
    # The connected account receives the money as a payment (py_) in its own balance.
    balance_move(
        op, account=destination, currency=currency, amount=amount, type="payment", source=payment_id
    )
    op.tx.insert(transfer, account=PLATFORM)
    event_emit(op, type="transfer.created", obj=transfer)
    return transfer


def _require_transfer_capability(op: Operation, *, destination: str) -> None:
    # Stripe checks the capability, not payouts_enabled; the sandbox's onboarding
    # turns both on together, so either reads as "onboarding finished".
    account = account_retrieve(op, account_id=destination, param="destination")
    if account["capabilities"].get("transfers") != "active":
        raise StripeError(
            "Your destination account needs to have at least one of the following "
            "capabilities enabled: transfers, crypto_transfers, legacy_payments",
            code="insufficient_capabilities_for_transfer",
            param="destination",
        )


def transfer_retrieve(op: Operation, *, transfer_id: str) -> dict[str, Any]:
    return object_or_404(op, transfer_id, type="transfer", account=PLATFORM, resource="transfer")


def transfer_list(
    op: Operation,
    *,
    limit: int,
    starting_after: str | None,
    destination: str | None,
    transfer_group: str | None,
) -> dict[str, Any]:
    filters = {"destination": destination, "transfer_group": transfer_group}
    return list_page(
        op,
        type="transfer",
        account=PLATFORM,
        url="/v1/transfers",
        limit=limit,
        starting_after=starting_after,
        resource="transfer",
        equal={field: value for field, value in filters.items() if value is not None},
    )


# --- Reversals -------------------------------------------------------------------


def transfer_reversal_create(
    op: Operation,
    *,
    transfer_id: str,
    amount: int | None,
    description: str | None,
    metadata: dict[str, str] | None,
) -> dict[str, Any]:
    """Take back all (``amount`` None) or part of what is left of a transfer.

    The connected account's balance may go negative, as with Stripe: the
    platform is liable for it.
    """
    transfer = transfer_retrieve(op, transfer_id=transfer_id)
    amount = _reversible_amount(transfer, requested=amount)
    reversal_id, refund_id = new_id("trr_"), new_id("pyr_")
    currency = transfer["currency"]
    balance_move(
        op,
        account=transfer["destination"],
        currency=currency,
        amount=-amount,
        type="payment_refund",
        source=refund_id,
    )
    reversal = {
        "id": reversal_id,
        "object": "transfer_reversal",
        "amount": amount,
        "balance_transaction": balance_move(
            op,
            account=PLATFORM,
            currency=currency,
            amount=amount,
            type="transfer_refund",
            source=reversal_id,
            description=description,
        ),
        "created": now(),
        "currency": currency,
        "destination_payment_refund": refund_id,
        "metadata": metadata or {},
        "source_refund": None,
        "transfer": transfer_id,
    }
    op.tx.insert(reversal, account=PLATFORM)
    _record_reversal(op, transfer=transfer, reversal=reversal)
    return reversal


def _reversible_amount(transfer: dict[str, Any], *, requested: int | None) -> int:
    remaining = transfer["amount"] - transfer["amount_reversed"]
    if remaining == 0:
        raise StripeError(f"Transfer {transfer['id']} has already been fully reversed.")
    if requested is None:
        return remaining
    if requested > remaining:
        raise StripeError(
            f"Attempted to reverse {requested} {transfer['currency']}, but only {remaining} "
            f"remains unreversed on transfer {transfer['id']}.",
            param="amount",
        )
    return requested


def _record_reversal(op: Operation, *, transfer: dict[str, Any], reversal: dict[str, Any]) -> None:
    before = copy.deepcopy(transfer)
    transfer["amount_reversed"] += reversal["amount"]
    transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
    embedded = transfer["reversals"]
    embedded["total_count"] += 1
    embedded["data"] = [public_object(reversal), *embedded["data"]][:EMBEDDED_REVERSALS]
    embedded["has_more"] = embedded["total_count"] > EMBEDDED_REVERSALS
    op.tx.save(transfer)
    # Stripe sends transfer.reversed for partial reversals too.
    event_emit(
        op,
        type="transfer.reversed",
        obj=transfer,
        previous_attributes=changed_attributes(before, transfer),
    )


def transfer_reversal_list(
    op: Operation, *, transfer_id: str, limit: int, starting_after: str | None
) -> dict[str, Any]:
    transfer_retrieve(op, transfer_id=transfer_id)
    return list_page(
        op,
        type="transfer_reversal",
        account=PLATFORM,
        url=f"/v1/transfers/{transfer_id}/reversals",
        limit=limit,
        starting_after=starting_after,
        resource="transfer_reversal",
        equal={"transfer": transfer_id},
    )
