"""The ``/v1/`` request pipeline shared by every API view.

``endpoint(get=..., post=...)`` builds the Django view for one URL. It
checks the ``Authorization`` key, resolves the ``Stripe-Account`` scope,
parses the bracket-notation parameters, runs the handler in one store
transaction, applies ``Idempotency-Key`` replay to POSTs, and answers JSON
(errors in Stripe's shape) with a ``Request-Id``.

Idempotency follows Stripe: keys are scoped per account; the first answer
is saved once the endpoint has started executing, including refusals like a
declined card or an insufficient balance, but not a request that failed
validation; the same key with the same endpoint and parameters replays it
(``Idempotent-Replayed: true``); the same key with anything else is an
``idempotency_error``. Requests apply one at a time (see ``store``), so a
concurrent duplicate simply waits and then replays.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from stripe_sandbox.params import Params
from stripe_sandbox.sandbox import sandbox_of
from stripe_sandbox.services.accounts import account_is_connected
from stripe_sandbox.services.operation import Operation, RequestOrigin, now
from stripe_sandbox.store import PLATFORM, IdempotencyRecord
from stripe_sandbox.wire import (
    StripeError,
    account_invalid,
    api_error,
    authentication_invalid,
    authentication_missing,
    idempotency_mismatch,
    invalid_parameter,
    new_id,
    parse_params,
    unrecognized_url,
)

logger = logging.getLogger(__name__)

TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")
MAX_IDEMPOTENCY_KEY_LENGTH = 255


@dataclass(frozen=True)
class ApiCall:
    op: Operation
    params: Params
    account: str  # PLATFORM, or the connected account named by Stripe-Account


Handler = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    replay_of: str | None = None  # the original request's id, when replayed


def endpoint(*, get: Handler | None = None, post: Handler | None = None) -> Callable:
    handlers = {"GET": get, "POST": post}

    @csrf_exempt  # an API authenticated by its key, as Stripe's is
    def view(request: HttpRequest, **url_kwargs: str) -> HttpResponse:
        origin = RequestOrigin(
            request_id=new_id("req_", 14),
            idempotency_key=request.headers.get("Idempotency-Key") or None,
            api_version=request.headers.get("Stripe-Version") or None,
        )
        handler = handlers.get(request.method or "")
        try:
            if handler is None:
                raise unrecognized_url(request.method or "", request.path)
            answer = _answer(request, handler, url_kwargs, origin)
        except StripeError as error:
            answer = Answer(status=error.status, body=_json(error.body()))
        except Exception:
            logger.exception("Sandbox request %s failed", origin.request_id)
            answer = Answer(status=500, body=_json(api_error("The sandbox failed.").body()))
        return _http_response(answer, origin)

    return view


def unrecognized(request: HttpRequest, **_url_kwargs: str) -> HttpResponse:
    """Any other ``/v1/`` URL: Stripe's 404 JSON rather than an HTML page."""
    error = unrecognized_url(request.method or "", request.path)
    return HttpResponse(_json(error.body()), status=error.status, content_type="application/json")


def _answer(
    request: HttpRequest, handler: Handler, url_kwargs: dict[str, str], origin: RequestOrigin
) -> Answer:
    _authenticate(request)
    values = _request_params(request)
    with sandbox_of(request).operation(origin=origin) as op:
        call = ApiCall(op=op, params=Params(values), account=_account_scope(op, request))
        if request.method == "POST" and origin.idempotency_key:
            return _run_idempotently(
                call,
                handler,
                url_kwargs,
                key=origin.idempotency_key,
                request_line=f"POST {request.path}",
                body_hash=_params_hash(values),
            )
        return Answer(status=200, body=_json(handler(call, **url_kwargs)))


def _authenticate(request: HttpRequest) -> None:
    api_key = _api_key(request)
    if not api_key:
        raise authentication_missing()
    # Any test-mode key works: the sandbox has one platform, whoever calls it.
    if not api_key.startswith(TEST_KEY_PREFIXES):
        raise authentication_invalid(api_key)


def _api_key(request: HttpRequest) -> str:
    """The key from ``Bearer <key>``, or from ``Basic`` as ``curl -u sk_test_...:`` sends it."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(credentials).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


def _request_params(request: HttpRequest) -> dict[str, Any]:
    pairs = parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True)
    if request.method == "POST":
        if request.content_type == "application/json":
            raise invalid_parameter(
                "Stripe's v1 API takes form-encoded bodies "
                "(application/x-www-form-urlencoded), not JSON.",
                param="body",
            )
        try:
            body = request.body.decode()
        except UnicodeDecodeError as exc:
            raise invalid_parameter("The request body is not UTF-8.", param="body") from exc
        pairs += parse_qsl(body, keep_blank_values=True)
    return parse_params(pairs)


def _account_scope(op: Operation, request: HttpRequest) -> str:
    account_id = request.headers.get("Stripe-Account", "").strip()
    if not account_id:
        return PLATFORM
    if not account_is_connected(op, account_id=account_id):
        raise account_invalid(account_id)
    return account_id


def _run_idempotently(
    call: ApiCall,
    handler: Handler,
    url_kwargs: dict[str, str],
    *,
    key: str,
    request_line: str,
    body_hash: str,
) -> Answer:
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise invalid_parameter(
            f"Idempotency keys may have at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters.",
            param="Idempotency-Key",
        )
    tx = call.op.tx
    saved = tx.idempotency_record(account=call.account, key=key)
    if saved is not None:
        return _replay(saved, key=key, request_line=request_line, body_hash=body_hash)
    answer = _run_once(call, handler, url_kwargs)
    request_id = call.op.origin.request_id if call.op.origin else ""
    tx.idempotency_save(
        account=call.account,
        key=key,
        record=IdempotencyRecord(
            request=request_line,
            body_hash=body_hash,
            request_id=request_id,
            status=answer.status,
            response=answer.body,
        ),
        created=now(),
    )
    return answer


def _run_once(call: ApiCall, handler: Handler, url_kwargs: dict[str, str]) -> Answer:
    """Run the handler; a refusal it raises is an answer to save, after undoing its writes."""
    try:
        with call.op.tx.savepoint():
            return Answer(status=200, body=_json(handler(call, **url_kwargs)))
    except StripeError as error:
        if not error.saved:
            raise
        return Answer(status=error.status, body=_json(error.body()))


def _replay(saved: IdempotencyRecord, *, key: str, request_line: str, body_hash: str) -> Answer:
    if saved.request != request_line or saved.body_hash != body_hash:
        raise idempotency_mismatch(key)
    return Answer(status=saved.status, body=saved.response, replay_of=saved.request_id)


def _params_hash(values: dict[str, Any]) -> str:
    """Parameters compared by content, so a retry that orders its fields differently still matches."""
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _json(body: dict[str, Any]) -> str:
    return json.dumps(body, indent=2)


def _http_response(answer: Answer, origin: RequestOrigin) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status, content_type="application/json")
    response["Request-Id"] = origin.request_id
    if origin.api_version:
        response["Stripe-Version"] = origin.api_version
    if origin.idempotency_key:
        response["Idempotency-Key"] = origin.idempotency_key
    if answer.replay_of is not None:
        response["Idempotent-Replayed"] = "true"
        response["Original-Request"] = answer.replay_of
    return response
