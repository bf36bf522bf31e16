"""The JSON shapes of tasks and messages in live events, snapshots and webhooks.

One place, so that the WebSocket protocol (docs/protocols/agent-websocket.md),
the snapshot and the webhooks describe a task the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gigs.models import Message, Task


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def task_offer_payload(task: Task) -> dict[str, Any]:
    """What an agent needs to decide to take a task. Needs ``gig`` and ``brand`` loaded."""
    gig = task.gig
    return {
        "id": task.pk,
        "subject": task.subject,
        "language": task.language,
        "priority": task.priority,
        "status": task.status,
        "created_at": _iso(task.created_at),
        "reservation_expires_at": _iso(task.reservation_expires_at),
        "lease_expires_at": _iso(task.lease_expires_at),
        "gig": {
            "id": gig.pk,
            "title": gig.title,
            "pay_model": gig.pay_model,
            "rate_minor": gig.rate_minor,
            "currency": gig.currency,
            "dispatch_mode": gig.dispatch_mode,
        },
        "brand": {"slug": task.brand.slug, "name": task.brand.name},
    }


def message_payload(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "task_id": message.task_id,
        "kind": message.kind,
        "author_name": message.author_name,
        "body": message.body,
        "created_at": _iso(message.created_at),
    }


def task_webhook_payload(task: Task) -> dict[str, Any]:
    """The task as a brand's helpdesk sees it in webhooks: its own ids, no agent contact data."""
    return {
        "id": task.pk,
        "external_id": task.external_id,
        "gig_id": task.gig_id,
        "status": task.status,
        "subject": task.subject,
        "language": task.language,
        "customer_reference": task.customer_reference,
        "claimed_at": _iso(task.claimed_at),
        "resolved_at": _iso(task.resolved_at),
        "resolution_code": task.resolution_code or None,
        "escalation_reason": task.escalation_reason or None,
        "agent": (
            {"id": task.holder_id, "name": task.holder.public_name} if task.holder_id else None
        ),
    }
