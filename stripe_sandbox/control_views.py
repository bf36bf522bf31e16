"""``/_sandbox/``: the sandbox's own control API for tests (not Stripe's).

JSON in, JSON out, no key: it listens on a local port for local tests.
``stripe_sandbox.testing.SandboxProcess`` wraps every call.

- ``GET  /_sandbox/health``
- ``POST /_sandbox/reset``: forget all objects, events, deliveries and switches
- ``POST /_sandbox/faults`` ``{"mode": "error"|"timeout"|"lost_response", "count": N,
  "hold_seconds": S}``: the next N ``/v1/`` requests fail that way
- ``POST /_sandbox/rate_limit`` ``{"per_second": R}`` (``null`` lifts it): 429 past R a second
- ``POST /_sandbox/webhooks`` ``{"duplicate": bool, "out_of_order_batch": N}``: send each
  delivery twice; hold deliveries until N are due, then send them newest first
- ``GET  /_sandbox/switches``: the switches as set
- ``GET  /_sandbox/webhook_deliveries``: the latest deliveries and their outcomes
- ``POST /_sandbox/seed`` ``{"onboarded_accounts": N, "country": "IE", "platform_funds":
  {"currency": "eur", "amount": A}}``: N Express accounts already onboarded (payouts and
  transfers enabled) and money in the platform's balance, in one go and without events,
  for benchmarks that need thousands of both; returns the new account ids
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from stripe_sandbox.sandbox import Sandbox, sandbox_of
from stripe_sandbox.services import accounts, balances
from stripe_sandbox.store import PLATFORM
from stripe_sandbox.switches import FaultMode

DEFAULT_TIMEOUT_HOLD_SECONDS = 5.0
DELIVERIES_SHOWN = 200


class ControlError(Exception):
    """A bad control request: 400 with the message."""


def control(method: str) -> Callable:
    """One control endpoint: JSON body in, the handler's dict out, 400 on ControlError."""

    def decorate(handler: Callable[[Sandbox, dict[str, Any]], dict[str, Any]]) -> Callable:
        @csrf_exempt
        @require_http_methods([method])
        @functools.wraps(handler)
        def view(request: HttpRequest) -> HttpResponse:
            try:
                return JsonResponse(handler(sandbox_of(request), _json_body(request)))
            except ControlError as error:
                return JsonResponse({"error": str(error)}, status=400)

        return view

    return decorate


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if request.method != "POST" or not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except ValueError as exc:
        raise ControlError(f"The body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ControlError("The body must be a JSON object.")
    return body


def _int_field(body: dict[str, Any], name: str, *, default: int | None, minimum: int) -> int | None:
    value = body.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ControlError(f"{name} must be an integer of at least {minimum}.")
    return value


@control("GET")
def health(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    return {"status": "ok", "state": str(sandbox.store.path)}


@control("POST")
def reset(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    sandbox.reset()
    return {"reset": True}


@control("POST")
def faults(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    try:
        mode = FaultMode(body.get("mode", FaultMode.ERROR))
    except ValueError as exc:
        raise ControlError(f"mode must be one of {', '.join(FaultMode)}.") from exc
    count = _int_field(body, "count", default=1, minimum=1)
    default_hold = 0.0 if mode is FaultMode.ERROR else DEFAULT_TIMEOUT_HOLD_SECONDS
    hold_seconds = body.get("hold_seconds", default_hold)
    if (
        isinstance(hold_seconds, bool)
        or not isinstance(hold_seconds, int | float)
        or hold_seconds < 0
    ):
        raise ControlError("hold_seconds must be a number of seconds, 0 or more.")
    sandbox.switches.add_faults(mode=mode, count=count or 1, hold_seconds=float(hold_seconds))
    return sandbox.switches.describe()


@control("POST")
def rate_limit(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    sandbox.switches.set_rate_limit(_int_field(body, "per_second", default=None, minimum=1))
    return sandbox.switches.describe()


@control("POST")
def webhooks(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    batch = _int_field(body, "out_of_order_batch", default=0, minimum=0) or 0
    if batch == 1:
        raise ControlError("out_of_order_batch must be 0 (in order) or at least 2.")
    sandbox.switches.set_webhooks(duplicate=bool(body.get("duplicate")), out_of_order_batch=batch)
    sandbox.webhooks.wake()  # turning the hold off releases what it held
    return sandbox.switches.describe()


MAX_SEEDED_ACCOUNTS = 100_000


@control("POST")
def seed(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    count = _int_field(body, "onboarded_accounts", default=0, minimum=0) or 0
    if count > MAX_SEEDED_ACCOUNTS:
        raise ControlError(f"onboarded_accounts must be at most {MAX_SEEDED_ACCOUNTS}.")
    country = body.get("country", "IE")
    if not isinstance(country, str) or len(country) != 2 or not country.isalpha():
        raise ControlError("country must be a two-letter country code.")
    funds = body.get("platform_funds")
    if funds is not None:
        if not isinstance(funds, dict):
            raise ControlError('platform_funds must be {"currency": "eur", "amount": N}.')
        currency = funds.get("currency")
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
            raise ControlError("platform_funds.currency must be a three-letter currency code.")
        _int_field(funds, "amount", default=None, minimum=1)
    with sandbox.operation() as op:
        account_ids = accounts.accounts_seed_onboarded(op, count=count, country=country)
        if funds is not None:
            balances.balance_move(
                op,
                account=PLATFORM,
                currency=funds["currency"].lower(),
                amount=funds["amount"],
                type="adjustment",
                source="sandbox_seed",
                description="Funds added by /_sandbox/seed",
            )
    return {"accounts": account_ids}


@control("GET")
def switches(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    return sandbox.switches.describe()


@control("GET")
def webhook_deliveries(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    with sandbox.store.transaction() as tx:
        return {"data": tx.deliveries(limit=DELIVERIES_SHOWN)}
