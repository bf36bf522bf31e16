"""Tasks with hand-written event histories and work, for the analytics tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from gigs.events import task_event_new, task_events_record
from gigs.models import SessionOutcome, Task
from gigs.models import TaskEventKind as K
from marketplace.management.commands.seed_demo import Command
from tests.gigs.factories import TaskFactory

SESSION_END_OUTCOMES = {
    K.RESOLVED: SessionOutcome.RESOLVED,
    K.ESCALATED: SessionOutcome.ESCALATED,
    K.RELEASED: SessionOutcome.RELEASED,
}


def task_with_history(gig, t0: datetime, *steps, language: str | None = None) -> Task:
    """A task of ``gig`` whose events are ``(seconds after t0, kind[, agent[, data]])``.

    Each claim opens a work session that the next release or close of the same
    agent ends, with a work record and its earning posted, as dispatch does;
    billable seconds are the session's length.
    """
    task = TaskFactory(gig=gig, language=language or gig.language)
    events = []
    open_sessions: dict[int, datetime] = {}
    for step in steps:
        seconds, kind, *rest = step
        agent = rest[0] if rest else None
        data = dict(rest[1]) if len(rest) > 1 else {}
        at = t0 + timedelta(seconds=seconds)
        if kind == K.CLAIMED:
            open_sessions[agent.pk] = at
        elif kind in SESSION_END_OUTCOMES and agent is not None and agent.pk in open_sessions:
            _work(task, agent, open_sessions.pop(agent.pk), at, SESSION_END_OUTCOMES[kind])
        events.append(task_event_new(task, kind, at, agent_id=agent.pk if agent else None, **data))
    task_events_record(events)
    return task


def _work(task: Task, agent, started_at: datetime, ended_at: datetime, outcome: str) -> None:
    # The demo seed's finished session, work record and posted earning, as
    # dispatch writes them.
    Command().work(task, task.gig, agent, started_at, ended_at, outcome, "")
