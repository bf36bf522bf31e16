"""Stripe's wire format: bracket-notation parameters, object ids and error answers.

Requests carry ``application/x-www-form-urlencoded`` bodies (and query
strings) whose keys nest with brackets, as the SDK encodes them:
``metadata[order]=42``, ``line_items[0][price_data][currency]=eur``,
``expand[]=line_items``. ``parse_params`` turns them back into nested
dicts and lists of strings; ``params.Params`` reads typed values from them.

Answers are JSON. Errors have Stripe's shape,
``{"error": {"type", "code", "message", "param"}}``, so the SDK raises the
same exception classes it raises against Stripe.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterable
from typing import Any

_ID_ALPHABET = string.ascii_letters + string.digits
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_KEY_SEGMENT = re.compile(r"\[([^\[\]]*)\]")

# Keys of these hashes are the client's own, so "metadata[0]" is a key named
# "0", not the first element of a list.
_FREE_FORM_HASHES = frozenset({"metadata"})


class StripeError(Exception):
    """An answer in Stripe's error shape.

    ``saved`` says whether an ``Idempotency-Key`` keeps this answer. Stripe
    saves every result once an endpoint has started executing (a refused
    transfer, a declined card), but not a request that failed validation
    before that (a missing or malformed parameter, an unknown object id): the
    client may correct such a request and send it again with the same key.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        saved: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.saved = saved

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        if self.decline_code:
            error["decline_code"] = self.decline_code
        return {"error": error}


# --- Errors Stripe answers before an endpoint runs (never saved) -------------


def invalid_parameter(message: str, *, param: str, code: str = "parameter_invalid") -> StripeError:
    return StripeError(message, code=code, param=param, saved=False)


def parameter_missing(param: str) -> StripeError:
    return StripeError(
        f"Missing required param: {param}.", code="parameter_missing", param=param, saved=False
    )


def parameter_unknown(param: str) -> StripeError:
    return StripeError(
        f"Received unknown parameter: {param}", code="parameter_unknown", param=param, saved=False
    )


def resource_missing(resource: str, object_id: str, *, param: str = "id") -> StripeError:
    """A reference to an object that does not exist: 404 in the path, 400 in a parameter."""
    return StripeError(
        f"No such {resource}: '{object_id}'",
        status=404 if param == "id" else 400,
        code="resource_missing",
        param=param,
        saved=False,
    )


def unrecognized_url(method: str, path: str) -> StripeError:
    return StripeError(
        f"Unrecognized request URL ({method}: {path}). This sandbox serves only the "
        "endpoints Gigdesk uses; see stripe_sandbox/urls.py.",
        status=404,
        saved=False,
    )


def authentication_missing() -> StripeError:
    return StripeError(
        "You did not provide an API key. You need to provide your API key in the "
        "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        status=401,
        saved=False,
    )


def authentication_invalid(api_key: str) -> StripeError:
    shown = f"{api_key[:8]}***{api_key[-4:]}" if len(api_key) > 12 else "***"
    return StripeError(
        f"Invalid API Key provided: {shown}. The sandbox accepts any test-mode secret "
        "key (sk_test_...).",
        status=401,
        code="api_key_invalid",
        saved=False,
    )


def account_invalid(account_id: str) -> StripeError:
    return StripeError(
        f"The provided key does not have access to account '{account_id}' (or that "
        "account does not exist).",
        status=403,
        code="account_invalid",
        saved=False,
    )


def idempotency_mismatch(key: str) -> StripeError:
    return StripeError(
        "Keys for idempotent requests can only be used with the same parameters they were "
        f"first used with. Try using a key other than '{key}' if you meant to execute a "
        "different request.",
        type="idempotency_error",
        saved=False,
    )


def rate_limited() -> StripeError:
    return StripeError(
        "Request rate limit exceeded. You can learn more about rate limits here "
        "https://stripe.com/docs/rate-limits.",
        status=429,
        code="rate_limit",
        saved=False,
    )


def api_error(message: str) -> StripeError:
    return StripeError(message, status=500, type="api_error", saved=False)


# --- Ids ---------------------------------------------------------------------


def new_id(prefix: str, length: int = 24) -> str:
    """An id in Stripe's style: a type prefix (``acct_``, ``tr_``...) and random letters."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


# --- Parameters --------------------------------------------------------------


def parse_params(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest form pairs by their brackets: ``a[b][0]=x`` becomes ``{"a": {"b": ["x"]}}``."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        _insert(root, _key_segments(key), value, key)
    return _listify(root, parent_key="")


def _key_segments(key: str) -> list[str]:
    match = _KEY.match(key)
    if not match:
        raise invalid_parameter(f"Invalid parameter name: {key}", param=key)
    return [match.group(1), *_KEY_SEGMENT.findall(match.group(2))]


def _insert(root: dict[str, Any], segments: list[str], value: str, key: str) -> None:
    node = root
    for depth, segment in enumerate(segments):
        if segment == "":
            # "expand[]=a&expand[]=b" appends: give each value the next index.
            segment = str(len(node))
        if depth == len(segments) - 1:
            if isinstance(node.get(segment), dict):
                raise invalid_parameter(f"Invalid hash: {key} is also used as a hash", param=key)
            node[segment] = value
            return
        child = node.setdefault(segment, {})
        if not isinstance(child, dict):
            raise invalid_parameter(f"Invalid hash: {key} nests under a plain value", param=key)
        node = child


def _listify(node: Any, *, parent_key: str) -> Any:
    """Turn hashes keyed 0, 1, 2... into lists, as Stripe reads ``line_items[0]``."""
    if not isinstance(node, dict):
        return node
    children = {key: _listify(child, parent_key=key) for key, child in node.items()}
    if parent_key in _FREE_FORM_HASHES or not children:
        return children
    if all(key.isdigit() for key in children):
        return [children[key] for key in sorted(children, key=int)]
    return children


# --- Answers -----------------------------------------------------------------


def public_object(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored object as Stripe shows it: without the sandbox's own ``_``-prefixed fields."""
    return {key: value for key, value in stored.items() if not key.startswith("_")}


def list_object(*, data: list[dict[str, Any]], has_more: bool, url: str) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}
