"""The figures of one task, computed from its event history alone.

Pure functions: events in (``TaskEvent`` rows or ``Event`` tuples, anything
with ``kind``, ``occurred_at``, ``agent_id`` and ``data``), numbers out, no
database. The definitions, units and edge cases are in docs/metrics.md; these
functions are the reference for them, and roll-ups must agree with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from gigs.models import TaskEventKind

CLOSE_KINDS = frozenset({TaskEventKind.RESOLVED, TaskEventKind.ESCALATED, TaskEventKind.CANCELLED})
# Kinds after which the task waits for an agent again (a release is followed by
# "queued" at the same moment; either alone is enough).
REQUEUE_KINDS = frozenset({TaskEventKind.RELEASED, TaskEventKind.QUEUED, TaskEventKind.REOPENED})
SATISFIED_SCORES = frozenset({4, 5})


class EventLike(Protocol):
    kind: str
    occurred_at: datetime
    agent_id: int | None
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Event:
    """A task event as the metrics need it (a ``TaskEvent`` row works as well)."""

    kind: str
    occurred_at: datetime
    agent_id: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


def _ordered(events: Iterable[EventLike]) -> list[EventLike]:
    # Stable: events at the same moment keep the order they were written in.
    return sorted(events, key=lambda event: event.occurred_at)


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


def _first(events: list[EventLike], kind: str) -> EventLike | None:
    return next((event for event in events if event.kind == kind), None)


def created_at(events: Iterable[EventLike]) -> datetime | None:
    """When the task was created (its first event, if "created" is missing)."""
    ordered = _ordered(events)
    created = _first(ordered, TaskEventKind.CREATED)
    if created is not None:
        return created.occurred_at
    return ordered[0].occurred_at if ordered else None


def _waits(
    events: list[EventLike], as_of: datetime | None
) -> list[tuple[datetime, datetime, str | None]]:
    """The intervals the task waited with no agent holding it, as ``(start,
    end, kind that ended it)``: from creation, and from each release,
    lapse-and-requeue or reopen, to the next claim or close. Offers (directed
    reservations) are waiting: nobody works the task. One still running ends
    at ``as_of`` (kind ``None``) when given, else is left out."""
    waits = []
    waiting_since: datetime | None = None
    for event in events:
        if event.kind == TaskEventKind.CREATED:
            waiting_since = event.occurred_at
        elif event.kind == TaskEventKind.CLAIMED or event.kind in CLOSE_KINDS:
            if waiting_since is not None:
                waits.append((waiting_since, event.occurred_at, event.kind))
                waiting_since = None
        elif event.kind in REQUEUE_KINDS and waiting_since is None:
            waiting_since = event.occurred_at
    if waiting_since is not None and as_of is not None:
        waits.append((waiting_since, as_of, None))
    return waits


def wait_seconds(events: Iterable[EventLike]) -> float | None:
    """Created → first claim (less any time the task spent closed before it,
    should it have been cancelled and reopened unclaimed); ``None`` while, or
    if, nobody ever claimed it."""
    total = 0.0
    for start, end, ended_by in _waits(_ordered(events), None):
        total += _seconds(start, end)
        if ended_by == TaskEventKind.CLAIMED:
            return total
    return None


def total_wait_seconds(events: Iterable[EventLike], *, as_of: datetime | None = None) -> float:
    """Every interval the task waited with no agent holding it (``_waits``), summed."""
    return sum((_seconds(start, end) for start, end, _ in _waits(_ordered(events), as_of)), 0.0)


def first_response_seconds(events: Iterable[EventLike]) -> float | None:
    """Created → the first agent reply; ``None`` if no agent ever replied."""
    ordered = _ordered(events)
    start = created_at(ordered)
    reply = _first(ordered, TaskEventKind.AGENT_MESSAGE)
    if start is None or reply is None:
        return None
    return _seconds(start, reply.occurred_at)


def next_responses(events: Iterable[EventLike]) -> tuple[tuple[EventLike, float], ...]:
    """After the first agent reply: each agent reply that answered a run of
    customer messages, with the seconds from the run's first message to it.
    A customer message never answered adds nothing (the task's close or its
    SLA covers it)."""
    samples: list[tuple[EventLike, float]] = []
    answered_once = False
    pending_since: datetime | None = None
    for event in _ordered(events):
        if event.kind == TaskEventKind.CUSTOMER_MESSAGE:
            if answered_once and pending_since is None:
                pending_since = event.occurred_at
        elif event.kind == TaskEventKind.AGENT_MESSAGE:
            if pending_since is not None:
                samples.append((event, _seconds(pending_since, event.occurred_at)))
                pending_since = None
            answered_once = True
    return tuple(samples)


def next_response_seconds(events: Iterable[EventLike]) -> tuple[float, ...]:
    """The seconds of each next response (``next_responses``), in order."""
    return tuple(seconds for _, seconds in next_responses(events))


def back_and_forths(events: Iterable[EventLike]) -> int:
    """Turns: how many times an agent reply followed a customer message.
    Several messages in a row by one side are one turn; notes are not messages
    here. Customer, agent, customer, agent is 2; an agent writing first is 0."""
    turns = 0
    last_side: str | None = None
    for event in _ordered(events):
        if event.kind not in (TaskEventKind.CUSTOMER_MESSAGE, TaskEventKind.AGENT_MESSAGE):
            continue
        if (
            event.kind == TaskEventKind.AGENT_MESSAGE
            and last_side == TaskEventKind.CUSTOMER_MESSAGE
        ):
            turns += 1
        last_side = event.kind
    return turns


def final_close(events: Iterable[EventLike]) -> EventLike | None:
    """The event that closed the task for good: the last close with no reopen
    after it; ``None`` while the task is open."""
    close = None
    for event in _ordered(events):
        if event.kind in CLOSE_KINDS:
            close = event
        elif event.kind == TaskEventKind.REOPENED:
            close = None
    return close


def first_contact_resolution(events: Iterable[EventLike]) -> bool:
    """Resolved for good, in the first work session (one claim before the
    resolution), and never reopened."""
    ordered = _ordered(events)
    close = final_close(ordered)
    if close is None or close.kind != TaskEventKind.RESOLVED:
        return False
    if any(event.kind == TaskEventKind.REOPENED for event in ordered):
        return False
    claims = [
        event
        for event in ordered
        if event.kind == TaskEventKind.CLAIMED and event.occurred_at <= close.occurred_at
    ]
    return len(claims) == 1


def csat(events: Iterable[EventLike]) -> tuple[int | None, datetime | None]:
    """The customer's rating (the latest, should there be several) and when it came."""
    rating = None
    for event in _ordered(events):
        if event.kind == TaskEventKind.RATED:
            rating = event
    if rating is None:
        return None, None
    return int(rating.data["score"]), rating.occurred_at


@dataclass(frozen=True)
class TaskFacts:
    """What one task contributes to every metric (seconds, counts, flags)."""

    created_at: datetime | None
    first_claimed_at: datetime | None
    first_claimed_by_id: int | None
    first_replied_at: datetime | None
    first_replied_by_id: int | None
    # The final close: resolved, escalated or cancelled; None while open.
    outcome: str | None
    closed_at: datetime | None
    # The agent who closed it (none for a cancellation).
    closed_by_id: int | None
    wait_seconds: float | None
    total_wait_seconds: float
    first_response_seconds: float | None
    next_response_seconds: tuple[float, ...]
    back_and_forths: int
    claims: int
    releases: int
    lapsed_offers: int
    reopens: int
    resolved_by_agent_id: int | None
    first_contact_resolution: bool
    csat_score: int | None
    rated_at: datetime | None
    # The hour a rating counts in: the task's final close, however late the
    # rating came, so that a period's CSAT and response rate describe the
    # same tasks (its rating hour only for a rating of a task never closed).
    csat_counts_at: datetime | None

    @property
    def closed(self) -> bool:
        return self.outcome is not None

    @property
    def resolved(self) -> bool:
        return self.outcome == TaskEventKind.RESOLVED

    @property
    def escalated(self) -> bool:
        return self.outcome == TaskEventKind.ESCALATED

    @property
    def csat_satisfied(self) -> bool | None:
        return None if self.csat_score is None else self.csat_score in SATISFIED_SCORES


def task_facts(events: Iterable[EventLike], *, as_of: datetime | None = None) -> TaskFacts:
    """Every figure of one task from its events (in any order)."""
    ordered = _ordered(events)
    close = final_close(ordered)
    first_claim = _first(ordered, TaskEventKind.CLAIMED)
    first_reply = _first(ordered, TaskEventKind.AGENT_MESSAGE)
    score, rated_at = csat(ordered)

    def count(kind: str) -> int:
        return sum(1 for event in ordered if event.kind == kind)

    return TaskFacts(
        created_at=created_at(ordered),
        first_claimed_at=first_claim.occurred_at if first_claim else None,
        first_claimed_by_id=first_claim.agent_id if first_claim else None,
        first_replied_at=first_reply.occurred_at if first_reply else None,
        first_replied_by_id=first_reply.agent_id if first_reply else None,
        outcome=close.kind if close else None,
        closed_at=close.occurred_at if close else None,
        closed_by_id=close.agent_id if close else None,
        wait_seconds=wait_seconds(ordered),
        total_wait_seconds=total_wait_seconds(ordered, as_of=as_of),
        first_response_seconds=first_response_seconds(ordered),
        next_response_seconds=next_response_seconds(ordered),
        back_and_forths=back_and_forths(ordered),
        claims=count(TaskEventKind.CLAIMED),
        releases=count(TaskEventKind.RELEASED),
        lapsed_offers=count(TaskEventKind.RESERVATION_LAPSED),
        reopens=count(TaskEventKind.REOPENED),
        resolved_by_agent_id=(
            close.agent_id if close and close.kind == TaskEventKind.RESOLVED else None
        ),
        first_contact_resolution=first_contact_resolution(ordered),
        csat_score=score,
        rated_at=rated_at,
        csat_counts_at=(close.occurred_at if close else rated_at) if score is not None else None,
    )
