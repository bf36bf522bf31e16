"""A task's SLA checks, computed from its event history alone.

Pure functions like ``gigs.metrics``: events in (``TaskEvent`` rows or
``metrics.Event`` tuples), checks out, no database. The rules (when each clock
starts and stops, who is responsible, what "at risk" means) are written in
docs/metrics.md under "SLA"; these functions are their reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from brands.business_hours import BusinessCalendar, business_deadline
from gigs.metrics import CLOSE_KINDS, EventLike, created_at, final_close
from gigs.models import TaskEventKind

# A pending check is at risk once the time left to its due moment is at most
# this share of its target (wall-clock time left, in either counting mode).
RISK_SHARE = 0.2

# Kinds after which nobody holds the task.
_HOLD_END_KINDS = frozenset({TaskEventKind.RELEASED, *CLOSE_KINDS})


class SLAKind:
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"

    LABELS = {
        FIRST_RESPONSE: "First response",
        NEXT_RESPONSE: "Next response",
        RESOLUTION: "Resolution",
    }


class SLAStatus:
    MET = "met"
    BREACHED = "breached"
    PENDING = "pending"


@dataclass(frozen=True)
class SLATargets:
    """A gig's targets in seconds (``None``: no target) and how they are counted."""

    first_response_seconds: int | None = None
    next_response_seconds: int | None = None
    resolution_seconds: int | None = None
    business_hours: bool = True

    @classmethod
    def from_gig(cls, gig: Any) -> SLATargets:
        return cls(
            first_response_seconds=gig.sla_first_response_seconds,
            next_response_seconds=gig.sla_next_response_seconds,
            resolution_seconds=gig.sla_resolution_seconds,
            business_hours=gig.sla_business_hours,
        )


@dataclass(frozen=True)
class SLACheck:
    """One target of one task: when its clock started, when it is due, and how it went.

    ``done_at``: the reply or resolution that met (or missed) it. ``stopped_at``:
    the task closed with the target still undone and already overdue (a
    breach with no ``done_at``). ``agent_id``: who is responsible (see
    docs/metrics.md). ``late_seconds``: wall-clock seconds past ``due_at`` of
    a breach, up to its answer, the close, or ``as_of`` while still open.
    """

    kind: str
    started_at: datetime
    due_at: datetime
    done_at: datetime | None
    status: str
    agent_id: int | None
    target_seconds: int
    stopped_at: datetime | None = None
    late_seconds: int | None = None

    @property
    def decided(self) -> bool:
        return self.status != SLAStatus.PENDING

    @property
    def breached(self) -> bool:
        return self.status == SLAStatus.BREACHED

    @property
    def overdue_open(self) -> bool:
        """Breached and still waiting for its reply or resolution."""
        return self.breached and self.done_at is None and self.stopped_at is None

    @property
    def kind_label(self) -> str:
        return SLAKind.LABELS[self.kind]


@dataclass(frozen=True)
class _Hold:
    agent_id: int | None
    claimed_at: datetime
    ended_at: datetime | None


def _holds(events: list[EventLike]) -> list[_Hold]:
    """Who held the task when: from each claim to the next release or close."""
    holds: list[_Hold] = []
    current: tuple[int | None, datetime] | None = None
    for event in events:
        if event.kind == TaskEventKind.CLAIMED:
            if current is not None:  # a claim over a claim: the first hold ends here
                holds.append(_Hold(current[0], current[1], event.occurred_at))
            current = (event.agent_id, event.occurred_at)
        elif event.kind in _HOLD_END_KINDS and current is not None:
            holds.append(_Hold(current[0], current[1], event.occurred_at))
            current = None
    if current is not None:
        holds.append(_Hold(current[0], current[1], None))
    return holds


def _holder_when_due(holds: list[_Hold], due_at: datetime) -> int | None:
    """The agent holding the task as its clock ran out: claimed before the due
    moment, not let go before it. ``None``: it was waiting in the queue."""
    for hold in holds:
        if hold.claimed_at < due_at and (hold.ended_at is None or hold.ended_at >= due_at):
            return hold.agent_id
    return None


def _holder_at(holds: list[_Hold], at: datetime) -> int | None:
    for hold in reversed(holds):
        if hold.claimed_at <= at and (hold.ended_at is None or hold.ended_at >= at):
            return hold.agent_id
    return None


class _Clock:
    """Due moments for one task's targets, in its counting mode."""

    def __init__(self, targets: SLATargets, calendar: BusinessCalendar | None) -> None:
        self.calendar = calendar if targets.business_hours else None

    def due(self, start: datetime, seconds: int) -> datetime | None:
        if self.calendar is None:
            return start + timedelta(seconds=seconds)
        try:
            return business_deadline(start, seconds, self.calendar)
        except ValueError:
            return None  # a calendar closed for over a year: no due moment exists


def _late(due_at: datetime, end: datetime) -> int:
    return max(0, int((end - due_at).total_seconds()))


def _check(
    kind: str,
    *,
    start: datetime,
    seconds: int,
    clock: _Clock,
    done: EventLike | None,
    stopped_at: datetime | None,
    holds: list[_Hold],
    as_of: datetime,
) -> SLACheck | None:
    """One check, or ``None`` when it never came due: the task closed before
    its due moment with the target undone, or no due moment exists."""
    due_at = clock.due(start, seconds)
    if due_at is None:
        return None
    common = {"kind": kind, "started_at": start, "due_at": due_at, "target_seconds": seconds}
    if done is not None:
        met = done.occurred_at <= due_at
        agent_id = done.agent_id or _holder_at(holds, done.occurred_at)
        return SLACheck(
            **common,
            done_at=done.occurred_at,
            status=SLAStatus.MET if met else SLAStatus.BREACHED,
            agent_id=agent_id if met else _holder_when_due(holds, due_at),
            late_seconds=None if met else _late(due_at, done.occurred_at),
        )
    if stopped_at is not None:
        if stopped_at <= due_at:
            return None
        return SLACheck(
            **common,
            done_at=None,
            status=SLAStatus.BREACHED,
            agent_id=_holder_when_due(holds, due_at),
            stopped_at=stopped_at,
            late_seconds=_late(due_at, stopped_at),
        )
    if as_of > due_at:
        return SLACheck(
            **common,
            done_at=None,
            status=SLAStatus.BREACHED,
            agent_id=_holder_when_due(holds, due_at),
            late_seconds=_late(due_at, as_of),
        )
    return SLACheck(
        **common, done_at=None, status=SLAStatus.PENDING, agent_id=_holder_at(holds, as_of)
    )


def _first_close_after(events: list[EventLike], moment: datetime) -> datetime | None:
    return next(
        (e.occurred_at for e in events if e.kind in CLOSE_KINDS and e.occurred_at >= moment),
        None,
    )


def _response_runs(
    events: list[EventLike],
) -> list[tuple[datetime, EventLike | None, datetime | None]]:
    """Next-response clocks: ``(customer message that started an unanswered
    run after the first agent reply, the reply that ended it, the close that
    stopped it unanswered)``."""
    runs: list[tuple[datetime, EventLike | None, datetime | None]] = []
    answered_once = False
    pending_since: datetime | None = None
    for event in events:
        if event.kind == TaskEventKind.CUSTOMER_MESSAGE:
            if answered_once and pending_since is None:
                pending_since = event.occurred_at
        elif event.kind == TaskEventKind.AGENT_MESSAGE:
            if pending_since is not None:
                runs.append((pending_since, event, None))
                pending_since = None
            answered_once = True
        elif event.kind in CLOSE_KINDS and pending_since is not None:
            runs.append((pending_since, None, event.occurred_at))
            pending_since = None
    if pending_since is not None:
        runs.append((pending_since, None, None))
    return runs


def task_sla(
    events: Iterable[EventLike],
    targets: SLATargets,
    calendar: BusinessCalendar | None,
    as_of: datetime,
) -> list[SLACheck]:
    """Every SLA check of one task as of ``as_of``: first response, each next
    response, resolution, in that order. Events after ``as_of`` are ignored.

    ``calendar`` is the brand's (``brands.selectors.calendar_for``); ``None``
    counts around the clock, as does a gig with ``business_hours`` off.
    """
    ordered = sorted(
        (event for event in events if event.occurred_at <= as_of),
        key=lambda event: event.occurred_at,
    )
    start = created_at(ordered)
    if start is None:
        return []
    clock = _Clock(targets, calendar)
    holds = _holds(ordered)
    checks: list[SLACheck | None] = []

    if targets.first_response_seconds is not None:
        reply = next((e for e in ordered if e.kind == TaskEventKind.AGENT_MESSAGE), None)
        closed = _first_close_after(ordered, start)
        if reply is not None and closed is not None and closed < reply.occurred_at:
            reply = None  # closed unanswered first: the close stops the clock
        checks.append(
            _check(
                SLAKind.FIRST_RESPONSE,
                start=start,
                seconds=targets.first_response_seconds,
                clock=clock,
                done=reply,
                stopped_at=closed if reply is None else None,
                holds=holds,
                as_of=as_of,
            )
        )

    if targets.next_response_seconds is not None:
        for run_start, reply, closed in _response_runs(ordered):
            checks.append(
                _check(
                    SLAKind.NEXT_RESPONSE,
                    start=run_start,
                    seconds=targets.next_response_seconds,
                    clock=clock,
                    done=reply,
                    stopped_at=closed,
                    holds=holds,
                    as_of=as_of,
                )
            )

    if targets.resolution_seconds is not None:
        close = final_close(ordered)
        resolved = close if close is not None and close.kind == TaskEventKind.RESOLVED else None
        checks.append(
            _check(
                SLAKind.RESOLUTION,
                start=start,
                seconds=targets.resolution_seconds,
                clock=clock,
                done=resolved,
                # Escalated or cancelled: closed without a resolution.
                stopped_at=close.occurred_at if close is not None and resolved is None else None,
                holds=holds,
                as_of=as_of,
            )
        )
    return [check for check in checks if check is not None]


def at_risk(check: SLACheck, as_of: datetime, threshold: float = RISK_SHARE) -> bool:
    """Pending, and due within ``threshold`` (a share of the target) of ``as_of``."""
    if check.status != SLAStatus.PENDING:
        return False
    left = check.due_at - as_of
    return left <= timedelta(seconds=check.target_seconds * threshold)


def breach_rate(breached: int, decided: int) -> float | None:
    """Breached ÷ decided checks, as a percentage with one decimal; ``None``
    with nothing decided (shown as "–", never 0)."""
    if not decided:
        return None
    return round(100 * breached / decided, 1)
