"""Task events for brands: each becomes a signed webhook to the endpoints that asked for it."""

from __future__ import annotations

from typing import Any

from brands.webhooks import webhook_event_emit, webhook_subscribed
from gigs.models import Message, Task
from gigs.payloads import message_payload, task_webhook_payload


def task_event(
    task: Task, event_type: str, *, message: Message | None = None, **extra: Any
) -> None:
    """Emit ``event_type`` about ``task`` (inside the caller's transaction).

    Costs no query when the brand has no endpoint for this event: the payload
    (which may read the agent's profile) is built only for a subscriber.
    """
    if not webhook_subscribed(brand_id=task.brand_id, event_type=event_type):
        return
    data: dict[str, Any] = {"task": task_webhook_payload(task), **extra}
    if message is not None:
        data["message"] = message_payload(message)
    webhook_event_emit(brand_id=task.brand_id, event_type=event_type, data=data)
