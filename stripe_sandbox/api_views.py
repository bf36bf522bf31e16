"""Stripe's ``/v1/`` endpoints: read the parameters, call one service, return the object.

Each handler takes an ``endpoint.ApiCall`` (plus the URL's ids) and returns
the JSON object; ``urls.py`` binds them to methods with ``endpoint()``.
Parameters are checked here, the way Stripe checks them before an endpoint
runs: an unknown, missing or malformed one is refused and never saved for
idempotency.
"""

from __future__ import annotations

import re
from typing import Any

from stripe_sandbox.endpoint import ApiCall
from stripe_sandbox.params import Params
from stripe_sandbox.services import accounts, balances, checkout, events, transfers
from stripe_sandbox.store import PLATFORM
from stripe_sandbox.wire import StripeError, invalid_parameter, public_object

DEFAULT_LIST_LIMIT = 10
MAX_LIST_LIMIT = 100
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


def _paging(params: Params) -> tuple[int, str | None]:
    limit = params.optional_int("limit", minimum=1) or DEFAULT_LIST_LIMIT
    if limit > MAX_LIST_LIMIT:
        raise invalid_parameter(
            f"This value must be less than or equal to {MAX_LIST_LIMIT}.", param="limit"
        )
    return limit, params.optional_text("starting_after")


def _require_platform(call: ApiCall) -> None:
    if call.account != PLATFORM:
        raise StripeError(
            "The sandbox makes transfers from the platform only: drop the Stripe-Account header.",
            saved=False,
        )


# --- Accounts ------------------------------------------------------------------


def account_create(call: ApiCall) -> dict[str, Any]:
    p = call.params.only("type", "country", "email", "capabilities", "metadata")
    return public_object(
        accounts.account_create(
            call.op,
            type=p.required_text("type", choices=accounts.ACCOUNT_TYPES),
            country=_country(p),
            email=p.optional_text("email"),
            requested_capabilities=_requested_capabilities(p),
            metadata=p.metadata(),
        )
    )


def _country(p: Params) -> str | None:
    country = p.optional_text("country")
    if country is not None and not _COUNTRY.match(country):
        raise invalid_parameter(
            f"Invalid country: {country}. Use a two-letter ISO code, like DE.", param="country"
        )
    return country


def _requested_capabilities(p: Params) -> list[str]:
    """``capabilities[transfers][requested]=true`` -> ``["transfers"]``."""
    capabilities = p.optional_child("capabilities")
    if capabilities is None:
        return []
    requested = []
    for name in capabilities.child_keys():
        if capabilities.required_child(name).only("requested").flag("requested"):
            requested.append(name)
    return requested


def account_retrieve(call: ApiCall, account_id: str) -> dict[str, Any]:
    call.params.only()
    return public_object(accounts.account_retrieve(call.op, account_id=account_id))


def account_update(call: ApiCall, account_id: str) -> dict[str, Any]:
    p = call.params.only("email", "metadata")
    return public_object(
        accounts.account_update(
            call.op, account_id=account_id, email=p.optional_text("email"), metadata=p.metadata()
        )
    )


def account_link_create(call: ApiCall) -> dict[str, Any]:
    p = call.params.only("account", "refresh_url", "return_url", "type")
    return accounts.account_link_create(
        call.op,
        account_id=p.required_text("account"),
        refresh_url=p.required_text("refresh_url"),
        return_url=p.required_text("return_url"),
        type=p.required_text("type", choices=accounts.ACCOUNT_LINK_TYPES),
    )


def login_link_create(call: ApiCall, account_id: str) -> dict[str, Any]:
    call.params.only()
    return accounts.login_link_create(call.op, account_id=account_id)


# --- Checkout --------------------------------------------------------------------


def checkout_session_create(call: ApiCall) -> dict[str, Any]:
    p = call.params.only(
        "mode",
        "line_items",
        "success_url",
        "cancel_url",
        "client_reference_id",
        "customer_email",
        "metadata",
        "payment_method_types",
    )
    p.required_text("mode", choices=("payment",))
    session = checkout.checkout_session_create(
        call.op,
        account=call.account,
        line_items=[_line_item(item) for item in p.required_children("line_items")],
        success_url=p.required_text("success_url"),
        cancel_url=p.optional_text("cancel_url"),
        client_reference_id=p.optional_text("client_reference_id"),
        customer_email=p.optional_text("customer_email"),
        metadata=p.metadata(),
    )
    return checkout.checkout_session_public(session)


def _line_item(item: Params) -> checkout.LineItem:
    """An ad-hoc price: ``price_data`` (currency, unit_amount, product_data[name]) and a quantity."""
    item.only("price_data", "quantity")
    price = item.required_child("price_data").only("currency", "unit_amount", "product_data")
    product = price.required_child("product_data").only("name", "description")
    return checkout.LineItem(
        name=product.required_text("name"),
        currency=price.currency(),
        unit_amount=price.required_int("unit_amount", minimum=0),
        quantity=item.required_int("quantity", minimum=1),
    )


def checkout_session_retrieve(call: ApiCall, session_id: str) -> dict[str, Any]:
    p = call.params.only()
    return checkout.checkout_session_retrieve(
        call.op,
        account=call.account,
        session_id=session_id,
        expand_line_items="line_items" in p.expansions(),
    )


def payment_intent_retrieve(call: ApiCall, intent_id: str) -> dict[str, Any]:
    call.params.only()
    return checkout.payment_intent_retrieve(call.op, account=call.account, intent_id=intent_id)


def charge_retrieve(call: ApiCall, charge_id: str) -> dict[str, Any]:
    call.params.only()
    return checkout.charge_retrieve(call.op, account=call.account, charge_id=charge_id)


# --- Transfers ---------------------------------------------------------------------


def transfer_create(call: ApiCall) -> dict[str, Any]:
    _require_platform(call)
    p = call.params.only(
        "amount", "currency", "destination", "description", "transfer_group", "metadata"
    )
    return public_object(
        transfers.transfer_create(
            call.op,
            amount=p.required_int("amount", minimum=1),
            currency=p.currency(),
            destination=p.required_text("destination"),
            description=p.optional_text("description"),
            transfer_group=p.optional_text("transfer_group"),
            metadata=p.metadata(),
        )
    )


def transfer_retrieve(call: ApiCall, transfer_id: str) -> dict[str, Any]:
    _require_platform(call)
    call.params.only()
    return public_object(transfers.transfer_retrieve(call.op, transfer_id=transfer_id))


def transfer_list(call: ApiCall) -> dict[str, Any]:
    _require_platform(call)
    p = call.params.only("limit", "starting_after", "destination", "transfer_group")
    limit, starting_after = _paging(p)
    return transfers.transfer_list(
        call.op,
        limit=limit,
        starting_after=starting_after,
        destination=p.optional_text("destination"),
        transfer_group=p.optional_text("transfer_group"),
    )


def transfer_reversal_create(call: ApiCall, transfer_id: str) -> dict[str, Any]:
    _require_platform(call)
    p = call.params.only("amount", "description", "metadata")
    return public_object(
        transfers.transfer_reversal_create(
            call.op,
            transfer_id=transfer_id,
            amount=p.optional_int("amount", minimum=1),
            description=p.optional_text("description"),
            metadata=p.metadata(),
        )
    )


def transfer_reversal_list(call: ApiCall, transfer_id: str) -> dict[str, Any]:
    _require_platform(call)
    limit, starting_after = _paging(call.params.only("limit", "starting_after"))
    return transfers.transfer_reversal_list(
        call.op, transfer_id=transfer_id, limit=limit, starting_after=starting_after
    )


# --- Balance and payouts (scoped by Stripe-Account) -----------------------------------


def balance_retrieve(call: ApiCall) -> dict[str, Any]:
    call.params.only()
    return balances.balance_retrieve(call.op, account=call.account)


def payout_create(call: ApiCall) -> dict[str, Any]:
    p = call.params.only("amount", "currency", "description", "metadata", "method")
    p.optional_text("method", choices=("standard",))
    return public_object(
        balances.payout_create(
            call.op,
            account=call.account,
            amount=p.required_int("amount", minimum=1),
            currency=p.currency(),
            description=p.optional_text("description"),
            metadata=p.metadata(),
        )
    )


def payout_retrieve(call: ApiCall, payout_id: str) -> dict[str, Any]:
    call.params.only()
    return public_object(
        balances.payout_retrieve(call.op, account=call.account, payout_id=payout_id)
    )


def payout_list(call: ApiCall) -> dict[str, Any]:
    limit, starting_after = _paging(call.params.only("limit", "starting_after"))
    return balances.payout_list(
        call.op, account=call.account, limit=limit, starting_after=starting_after
    )


# --- Events ------------------------------------------------------------------------------


def event_list(call: ApiCall) -> dict[str, Any]:
    p = call.params.only("limit", "starting_after", "type")
    limit, starting_after = _paging(p)
    return events.event_list(
        call.op,
        account=call.account,
        limit=limit,
        starting_after=starting_after,
        type=p.optional_text("type"),
    )


def event_retrieve(call: ApiCall, event_id: str) -> dict[str, Any]:
    call.params.only()
    return events.event_retrieve(call.op, account=call.account, event_id=event_id)
