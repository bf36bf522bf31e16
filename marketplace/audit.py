"""The append-only audit log: every sensitive action calls ``audit_record``."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from marketplace.models import AuditEvent


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    # Behind the documented reverse proxy the client is the first hop it saw.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    actor,
    action: str,
    target: models.Model | None = None,
    brand=None,
    changes: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Append one event. Call it inside the transaction of the action it records."""
    if actor is not None and getattr(actor, "is_authenticated", False):
        label = actor_label or actor.email
        # An API client (brands.authentication.ApiClient) acts for a brand but
        # is no user row: its label ("api-key:<prefix>") is all we can keep.
        actor_user = actor if isinstance(actor, models.Model) else None
    else:
        label = actor_label or "system"
        actor_user = None
    return AuditEvent.objects.create(
        actor=actor_user,
        actor_label=label,
        action=action,
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target)[:255] if target is not None else "",
        brand=brand,
        changes=changes or {},
        ip_address=client_ip(request),
    )


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for every field whose value differs."""
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }
