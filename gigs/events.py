"""What happens to a task, told twice: as signed webhooks to the brand's
endpoints (``task_event``) and as rows of the append-only task event history
that analytics reads (``task_event_record``), the latter in the transaction of
the change itself."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef

from brands.webhooks import webhook_event_emit, webhook_subscribed
from gigs.models import (
    Message,
    MessageKind,
    ReservationOutcome,
    SessionOutcome,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskStatus,
)
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


# --- The task event history ------------------------------------------------------------


def task_event_new(
    task: Task, kind: str, at: datetime, *, agent_id: int | None = None, **data: Any
) -> TaskEvent:
    """An unsaved event of ``task``. Reads only ids the task already holds, so
    that writers on the claim path add no query."""
    return TaskEvent(
        task_id=task.pk,
        brand_id=task.brand_id,
        gig_id=task.gig_id,
        agent_id=agent_id,
        kind=kind,
        occurred_at=at,
        data=data,
    )


def task_event_record(
    task: Task, kind: str, at: datetime, *, agent_id: int | None = None, **data: Any
) -> TaskEvent:
    """Append one event to ``task``'s history: one INSERT, in the caller's transaction.

    ``at`` is the moment of the change, the ``now`` the caller already used
    for it, so that the event and the row it describes agree to the microsecond.
    """
    event = task_event_new(task, kind, at, agent_id=agent_id, **data)
    event.save()
    return event


def task_events_record(events: Iterable[TaskEvent]) -> list[TaskEvent]:
    """Append several events (from ``task_event_new``) in one INSERT."""
    return TaskEvent.objects.bulk_create(list(events))


def message_event_kind(kind: str) -> str | None:
    """The event a message of ``kind`` makes; internal notes make none."""
    return {
        MessageKind.CUSTOMER: TaskEventKind.CUSTOMER_MESSAGE,
        MessageKind.AGENT: TaskEventKind.AGENT_MESSAGE,
    }.get(kind)


# --- Backfill: a history for tasks written without one -----------------------------------

_SESSION_END_KINDS = {
    SessionOutcome.RESOLVED: TaskEventKind.RESOLVED,
    SessionOutcome.ESCALATED: TaskEventKind.ESCALATED,
    SessionOutcome.RELEASED: TaskEventKind.RELEASED,
    SessionOutcome.LEASE_EXPIRED: TaskEventKind.RELEASED,
    SessionOutcome.CANCELLED: TaskEventKind.CANCELLED,
}

RESERVATION_END_KINDS = {
    ReservationOutcome.LAPSED: TaskEventKind.RESERVATION_LAPSED,
    ReservationOutcome.REJECTED: TaskEventKind.RESERVATION_DECLINED,
}

# Events at the same moment, in the order they happen: a release before the
# task is back in the queue, a close before its rating.
_SAME_MOMENT_ORDER = {
    TaskEventKind.CREATED: 0,
    TaskEventKind.OFFERED: 1,
    TaskEventKind.CLAIMED: 2,
    TaskEventKind.CUSTOMER_MESSAGE: 3,
    TaskEventKind.AGENT_MESSAGE: 3,
    TaskEventKind.RESERVATION_LAPSED: 4,
    TaskEventKind.RESERVATION_DECLINED: 4,
    TaskEventKind.RELEASED: 4,
    TaskEventKind.QUEUED: 5,
    TaskEventKind.RESOLVED: 6,
    TaskEventKind.ESCALATED: 6,
    TaskEventKind.CANCELLED: 6,
    TaskEventKind.REOPENED: 7,
    TaskEventKind.RATED: 8,
}


def task_events_from_rows(task: Task) -> list[TaskEvent]:
    """The history the stored rows of ``task`` imply: creation, offers, work
    sessions, messages, close and rating, at their own times, in order.

    For tasks written without events (the demo seed, rows older than the
    history). Reads the task's messages, reservations and work sessions.
    """
    events = [task_event_new(task, TaskEventKind.CREATED, task.created_at)]
    for reservation in task.reservations.all():
        if reservation.expires_at is None:
            continue  # an agent passing on an open task: nothing happened to the task
        events.append(
            task_event_new(
                task,
                TaskEventKind.OFFERED,
                reservation.created_at,
                agent_id=reservation.agent_id,
                reservation=reservation.pk,
            )
        )
        end_kind = RESERVATION_END_KINDS.get(reservation.outcome)
        if end_kind and reservation.decided_at:
            events += [
                task_event_new(
                    task, end_kind, reservation.decided_at, agent_id=reservation.agent_id
                ),
                task_event_new(task, TaskEventKind.QUEUED, reservation.decided_at),
            ]
    closed_by_session = False
    for session in sorted(task.work_sessions.all(), key=lambda s: (s.started_at, s.pk)):
        events.append(
            task_event_new(
                task,
                TaskEventKind.CLAIMED,
                session.started_at,
                agent_id=session.agent_id,
                session=session.pk,
            )
        )
        end_kind = _SESSION_END_KINDS.get(session.outcome)
        if session.ended_at is None or end_kind is None:
            continue
        extra: dict[str, Any] = {"session": session.pk}
        if end_kind == TaskEventKind.RELEASED:
            extra["reason"] = session.outcome
        events.append(
            task_event_new(task, end_kind, session.ended_at, agent_id=session.agent_id, **extra)
        )
        if end_kind == TaskEventKind.RELEASED:
            events.append(task_event_new(task, TaskEventKind.QUEUED, session.ended_at))
        else:
            closed_by_session = True
    if not closed_by_session and task.closed_at is not None:
        close_kind = {
            TaskStatus.RESOLVED: TaskEventKind.RESOLVED,
            TaskStatus.ESCALATED: TaskEventKind.ESCALATED,
            TaskStatus.CANCELLED: TaskEventKind.CANCELLED,
        }.get(task.status)
        if close_kind:
            events.append(task_event_new(task, close_kind, task.closed_at))
    for message in task.messages.all():
        kind = message_event_kind(message.kind)
        if kind:
            agent_id = message.author_id if kind == TaskEventKind.AGENT_MESSAGE else None
            events.append(
                task_event_new(
                    task, kind, message.created_at, agent_id=agent_id, message=message.pk
                )
            )
    if task.csat_score is not None:
        rated_at = task.csat_at or task.closed_at or task.updated_at
        events.append(task_event_new(task, TaskEventKind.RATED, rated_at, score=task.csat_score))
    events.sort(key=lambda event: (event.occurred_at, _SAME_MOMENT_ORDER[event.kind]))
    return events


def task_events_backfill(tasks=None, *, batch_size: int = 500) -> int:
    """Write the history of every task (of ``tasks``, a queryset, if given)
    that has no event yet; the number of tasks backfilled.

    Idempotent: a task with any event is skipped, so running it twice, or
    after the services began writing events, adds nothing twice. Run it in
    a transaction when tasks may change meanwhile.
    """
    queryset = Task.objects.all() if tasks is None else tasks
    missing = (
        queryset.filter(~Exists(TaskEvent.objects.filter(task_id=OuterRef("pk"))))
        .order_by("pk")
        .prefetch_related("messages", "reservations", "work_sessions")
    )
    done = 0
    pending: list[TaskEvent] = []
    for task in missing.iterator(chunk_size=batch_size):
        pending += task_events_from_rows(task)
        done += 1
        if len(pending) >= batch_size:
            task_events_record(pending)
            pending = []
    task_events_record(pending)
    return done
