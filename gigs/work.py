"""Working a task: the agent's replies, notes, resolution and escalation; the
customer's replies and rating through their signed link."""

from __future__ import annotations

from django.core import signing
from django.db import transaction
from django.utils import timezone

from gigs import live
from gigs.dispatch import (
    expire_overdue,
    offer_waiting_directed_task,
    require_agent,
    session_close,
    task_for_agent,
)
from gigs.events import task_event, task_event_record
from gigs.models import (
    Message,
    MessageKind,
    ResolutionCode,
    SessionOutcome,
    Task,
    TaskEventKind,
    TaskStatus,
    WorkRecord,
)
from gigs.services import message_add
from marketplace.audit import audit_record
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.models import User

CUSTOMER_LINK_SALT = "gigdesk.customer-link"
# A customer link works for 30 days after it was made; a new one can be made
# from the task page at any time.
CUSTOMER_LINK_MAX_AGE = 30 * 24 * 3600

NOT_HOLDER = "Only the agent holding this task can do that; claim it first."


def _held_task(agent: User, task_id: int) -> Task:
    """The task, if the agent holds it now (an expired lease is not held)."""
    require_agent(agent)
    expire_overdue(holder=agent)
    task = task_for_agent(agent, task_id)
    if task.holder_id != agent.pk or task.status != TaskStatus.CLAIMED:
        raise PermissionDenied(NOT_HOLDER, code="not_holder")
    return task


def agent_reply(*, agent: User, task_id: int, body: str) -> Message:
    """Send the customer a reply. Only the task's holder may."""
    with transaction.atomic():
        task = _held_task(agent, task_id)
        message, _ = message_add(task=task, kind=MessageKind.AGENT, body=body, author=agent)
        task_event(task, "task.message.created", message=message)
    return message


def agent_note(*, agent: User, task_id: int, body: str) -> Message:
    """Leave an internal note: the brand and later agents see it, the customer never does."""
    with transaction.atomic():
        task = _held_task(agent, task_id)
        message, _ = message_add(task=task, kind=MessageKind.NOTE, body=body, author=agent)
    return message


def _finish(task: Task, agent: User, *, status: str, outcome: str, **fields) -> WorkRecord | None:
    now = timezone.now()
    finished = Task.objects.filter(pk=task.pk, holder=agent, status=TaskStatus.CLAIMED).update(
        status=status, lease_expires_at=None, closed_at=now, updated_at=now, **fields
    )
    if not finished:
        raise PermissionDenied(NOT_HOLDER, code="not_holder")
    task.status = status
    task.lease_expires_at = None
    task.closed_at = now
    for name, value in fields.items():
        setattr(task, name, value)
    record = session_close(task, now, outcome, fields.get("resolution_code", ""))
    task_event_record(
        task,
        TaskEventKind.RESOLVED if status == TaskStatus.RESOLVED else TaskEventKind.ESCALATED,
        now,
        agent_id=agent.pk,
        session=record.session_id if record is not None else None,
    )
    live.publish(
        {"type": "task.status", "task_id": task.pk, "status": status},
        topics=[
            live.task_topic(task.pk),
            live.customer_topic(task.pk),
            live.brand_topic(task.brand_id),
            live.agent_topic(agent.pk),
        ],
    )
    return record


def task_resolve(*, agent: User, task_id: int, resolution_code: str, note: str = "") -> Task:
    """Close the task as solved, with one of the brand's resolution codes."""
    code = (resolution_code or "").strip()
    with transaction.atomic():
        task = _held_task(agent, task_id)
        valid = ResolutionCode.objects.filter(brand_id=task.brand_id, code=code, is_active=True)
        if not code or not valid.exists():
            raise ValidationFailed(
                "Choose how the task was resolved.",
                fields={
                    "resolution_code": [f"“{code}” is not one of this brand's resolution codes."]
                }
                if code
                else {"resolution_code": ["Choose a resolution code."]},
            )
        if note.strip():
            message_add(task=task, kind=MessageKind.NOTE, body=note, author=agent)
        _finish(
            task,
            agent,
            status=TaskStatus.RESOLVED,
            outcome=SessionOutcome.RESOLVED,
            resolution_code=code,
            resolved_at=timezone.now(),
        )
        audit_record(
            actor=agent,
            action="task.resolved",
            target=task,
            brand=task.brand,
            changes={
                "status": [TaskStatus.CLAIMED, TaskStatus.RESOLVED],
                "resolution_code": [None, code],
            },
        )
        task_event(task, "task.resolved")
        from qa.tasks import qa_task_closed_job  # lazily: qa imports gigs

        transaction.on_commit(lambda: qa_task_closed_job(task.pk))
    offer_waiting_directed_task(agent, timezone.now())
    return task


def task_escalate(*, agent: User, task_id: int, reason: str) -> Task:
    """Hand the task to the brand's in-house tier, saying why."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "Say why the task needs the brand's own team.",
            fields={"reason": ["An escalation needs a reason."]},
        )
    if len(reason) > 2000:
        raise ValidationFailed(
            "The reason is too long.", fields={"reason": ["At most 2,000 characters."]}
        )
    with transaction.atomic():
        task = _held_task(agent, task_id)
        message_add(task=task, kind=MessageKind.NOTE, body=f"Escalated: {reason}", author=agent)
        _finish(
            task,
            agent,
            status=TaskStatus.ESCALATED,
            outcome=SessionOutcome.ESCALATED,
            escalation_reason=reason,
        )
        audit_record(
            actor=agent,
            action="task.escalated",
            target=task,
            brand=task.brand,
            changes={"status": [TaskStatus.CLAIMED, TaskStatus.ESCALATED]},
        )
        task_event(task, "task.escalated")
        from qa.tasks import qa_task_closed_job  # lazily: qa imports gigs

        transaction.on_commit(lambda: qa_task_closed_job(task.pk))
    offer_waiting_directed_task(agent, timezone.now())
    return task


# --- The customer's side -------------------------------------------------------------


def customer_link_token(task: Task) -> str:
    """The signed part of the task's customer link; it names the task and the brand."""
    return signing.dumps([task.pk, task.brand_id], salt=CUSTOMER_LINK_SALT, compress=False)


def task_for_customer_token(token: str) -> Task:
    """The task a customer link points at, or NotFound for a bad or expired link."""
    try:
        task_id, brand_id = signing.loads(
            token, salt=CUSTOMER_LINK_SALT, max_age=CUSTOMER_LINK_MAX_AGE
        )
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise NotFound("This link is not valid, or it has expired.") from exc
    task = Task.objects.select_related("gig", "brand").filter(pk=task_id, brand_id=brand_id).first()
    if task is None or task.status == TaskStatus.CANCELLED:
        raise NotFound("This link is not valid, or it has expired.")
    return task


def customer_reply(*, task: Task, body: str) -> Message:
    """The customer writes on their page; the agent sees it live."""
    if task.status in (TaskStatus.RESOLVED, TaskStatus.ESCALATED, TaskStatus.CANCELLED):
        raise Conflict(
            "This conversation is closed. Write to the brand's support to reopen it.",
            code="task_closed",
        )
    with transaction.atomic():
        message, _ = message_add(
            task=task,
            kind=MessageKind.CUSTOMER,
            body=body,
            author_name=task.customer_reference or "Customer",
        )
        task_event(task, "task.message.created", message=message)
    return message


def task_rate(*, task: Task, score, comment: str = "") -> Task:
    """Record the customer's 1–5 satisfaction rating, once, after resolution.

    The same rating sent again returns the task unchanged (a retry); a
    different one after the first is refused.
    """
    try:
        score = int(score)
    except (TypeError, ValueError):
        score = 0
    comment = (comment or "").strip()
    if not 1 <= score <= 5:
        raise ValidationFailed(
            "Rate from 1 (poor) to 5 (excellent).",
            fields={"score": ["A whole number from 1 to 5."]},
        )
    if len(comment) > 2000:
        raise ValidationFailed(
            "The comment is too long.", fields={"comment": ["At most 2,000 characters."]}
        )
    if task.status != TaskStatus.RESOLVED:
        raise Conflict("A task can be rated once it is resolved.", code="not_resolved")
    now = timezone.now()
    with transaction.atomic():
        rated = Task.objects.filter(pk=task.pk, csat_score__isnull=True).update(
            csat_score=score, csat_comment=comment, csat_at=now, updated_at=now
        )
        if not rated:
            task.refresh_from_db(fields=["csat_score", "csat_comment", "csat_at"])
            if task.csat_score == score and task.csat_comment == comment:
                return task
            raise Conflict("This task has already been rated.", code="already_rated")
        task.csat_score, task.csat_comment, task.csat_at = score, comment, now
        task_event_record(task, TaskEventKind.RATED, now, score=score)
        from qa.tasks import qa_task_rated_job  # lazily: qa imports gigs

        transaction.on_commit(lambda: qa_task_rated_job(task.pk))
        live.publish(
            {"type": "task.rated", "task_id": task.pk, "score": score},
            topics=[
                live.task_topic(task.pk),
                live.customer_topic(task.pk),
                live.brand_topic(task.brand_id),
            ],
        )
    return task
