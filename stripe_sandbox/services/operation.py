"""The context every sandbox service runs in."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from stripe_sandbox.store import Tx
from stripe_sandbox.wire import list_object, public_object, resource_missing


@dataclass(frozen=True)
class SandboxConfig:
    base_url: str  # where browsers reach the hosted pages, e.g. http://127.0.0.1:12111
    webhook_url: str  # where events are POSTed; empty: nowhere
    webhook_secret: str  # signs each delivery's Stripe-Signature


@dataclass(frozen=True)
class RequestOrigin:
    """The API request behind a change, as events report it in ``request``."""

    request_id: str
    idempotency_key: str | None
    api_version: str | None


@dataclass(frozen=True)
class Operation:
    tx: Tx
    config: SandboxConfig
    # None for changes made on a hosted page, which Stripe reports with a null request id.
    origin: RequestOrigin | None = None

    def hosted_url(self, path: str) -> str:
        return f"{self.config.base_url}{path}"


def now() -> int:
    """Stripe's timestamps: whole seconds since the epoch."""
    return int(time.time())


def object_or_404(
    op: Operation, object_id: str, *, type: str, account: str, resource: str, param: str = "id"
) -> dict[str, Any]:
    found = op.tx.get(object_id, type=type, account=account)
    if found is None:
        raise resource_missing(resource, object_id, param=param)
    return found


def list_page(
    op: Operation,
    *,
    type: str,
    account: str,
    url: str,
    limit: int,
    starting_after: str | None,
    resource: str,
    equal: dict[str, str] | None = None,
) -> dict[str, Any]:
    page = op.tx.page(
        type=type, account=account, limit=limit, starting_after=starting_after, equal=equal
    )
    if page is None:
        raise resource_missing(resource, starting_after or "", param="starting_after")
    return list_object(
        data=[public_object(row) for row in page.rows], has_more=page.has_more, url=url
    )
