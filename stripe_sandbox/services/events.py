"""Events: the record of what happened, each queued for webhook delivery in the same transaction."""

from __future__ import annotations

import time
from typing import Any

from stripe_sandbox.services.operation import Operation, now
from stripe_sandbox.store import PLATFORM
from stripe_sandbox.wire import list_object, new_id, public_object, resource_missing


def event_emit(
    op: Operation,
    *,
    type: str,
    obj: dict[str, Any],
    account: str = PLATFORM,
    previous_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record an event about ``obj`` and queue its delivery to the webhook endpoint.

    An event about a connected account's object is a Connect event: it
    carries ``"account": "acct_..."`` and belongs to that account's event
    list. The delivery row commits with the change itself, so a crash can
    never lose the notification of a change that happened.
    """
    origin = op.origin
    event: dict[str, Any] = {
        "id": new_id("evt_"),
        "object": "event",
        "api_version": origin.api_version if origin else None,
        "created": now(),
        "data": {"object": public_object(obj)},
        "livemode": False,
        "pending_webhooks": 1 if op.config.webhook_url else 0,
        "request": {
            "id": origin.request_id if origin else None,
            "idempotency_key": origin.idempotency_key if origin else None,
        },
        "type": type,
    }
    if account != PLATFORM:
        event["account"] = account
    if previous_attributes:
        event["data"]["previous_attributes"] = previous_attributes
    op.tx.event_insert(event, account=account)
    if op.config.webhook_url:
        op.tx.delivery_insert(event_id=event["id"], url=op.config.webhook_url, now=time.time())
    return event


def changed_attributes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The previous values of the top-level fields that changed, as ``*.updated`` events show."""
    return {
        key: before.get(key)
        for key in after
        if not key.startswith("_") and before.get(key) != after[key]
    }


def event_retrieve(op: Operation, *, account: str, event_id: str) -> dict[str, Any]:
    event = op.tx.event_get(event_id, account=account)
    if event is None:
        raise resource_missing("event", event_id)
    return event


def event_list(
    op: Operation, *, account: str, limit: int, starting_after: str | None, type: str | None
) -> dict[str, Any]:
    page = op.tx.event_page(
        account=account, limit=limit, starting_after=starting_after, type_pattern=type
    )
    if page is None:
        raise resource_missing("event", starting_after or "", param="starting_after")
    return list_object(data=page.rows, has_more=page.has_more, url="/v1/events")
