"""Reads for SLA reports and the live view's at-risk list.

Checks are computed by ``gigs.sla`` from each task's events; the tasks are
walked in pages by id, with one query for a page of tasks and one for all
their events, so the number of queries grows with pages, never per task.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from brands.business_hours import BusinessCalendar
from brands.models import Brand
from brands.selectors import calendar_for
from gigs.metrics import Event
from gigs.models import Gig, Task, TaskEvent
from gigs.selectors import OPEN_STATUSES
from gigs.sla import SLACheck, SLAStatus, SLATargets, at_risk, breach_rate, task_sla

TASKS_PER_PAGE = 500
# The live view looks at this many of the oldest open tasks: the ones most
# likely at risk, and a bound on what a refresh every two seconds reads.
LIVE_OPEN_TASKS = 500
LIVE_AT_RISK_SHOWN = 20
QUEUE_AGENT_LABEL = "Nobody (waiting in the queue)"


@dataclass(frozen=True)
class TaskCheck:
    """One SLA check with the task it belongs to."""

    task_id: int
    subject: str
    gig_id: int
    check: SLACheck


def sla_tasks(
    brand: Brand, *, start: datetime, end: datetime, gig: Gig | None = None
) -> QuerySet[Task]:
    """The brand's tasks created or closed in [start, end), of ``gig`` if given."""
    tasks = Task.objects.for_brand(brand).filter(
        Q(created_at__gte=start, created_at__lt=end) | Q(closed_at__gte=start, closed_at__lt=end)
    )
    if gig is not None:
        tasks = tasks.filter(gig=gig)
    return tasks


def _events_by_task(task_ids: list[int]) -> dict[int, list[Event]]:
    events: dict[int, list[Event]] = defaultdict(list)
    rows = (
        TaskEvent.objects.filter(task_id__in=task_ids)
        .order_by("task_id", "occurred_at", "id")
        .values_list("task_id", "kind", "occurred_at", "agent_id")
    )
    for task_id, kind, occurred_at, agent_id in rows:
        events[task_id].append(Event(kind=kind, occurred_at=occurred_at, agent_id=agent_id))
    return events


def _checks_of(
    tasks: list[Task], calendar: BusinessCalendar, as_of: datetime
) -> Iterator[tuple[Task, SLACheck]]:
    events = _events_by_task([task.pk for task in tasks])
    for task in tasks:
        targets = SLATargets.from_gig(task.gig)
        for check in task_sla(events.get(task.pk, []), targets, calendar, as_of):
            yield task, check


def sla_checks(
    tasks: QuerySet[Task],
    *,
    calendar: BusinessCalendar,
    as_of: datetime,
    page_size: int = TASKS_PER_PAGE,
) -> Iterator[TaskCheck]:
    """Every check of ``tasks`` as of ``as_of``, task by task in id order:
    two queries per ``page_size`` tasks (the tasks with their gigs, their events)."""
    last_pk = 0
    page_query = tasks.select_related("gig").only(
        "pk",
        "subject",
        "gig_id",
        "gig__sla_first_response_seconds",
        "gig__sla_next_response_seconds",
        "gig__sla_resolution_seconds",
        "gig__sla_business_hours",
    )
    while True:
        page = list(page_query.filter(pk__gt=last_pk).order_by("pk")[:page_size])
        if not page:
            return
        for task, check in _checks_of(page, calendar, as_of):
            yield TaskCheck(task_id=task.pk, subject=task.subject, gig_id=task.gig_id, check=check)
        if len(page) < page_size:
            return
        last_pk = page[-1].pk


@dataclass
class SLARow:
    """Checks of one gig or agent (or all): decided ones count in the rate."""

    key: int | None
    label: str
    met: int = 0
    breached: int = 0
    pending: int = 0

    @property
    def decided(self) -> int:
        return self.met + self.breached

    @property
    def breach_rate(self) -> float | None:
        return breach_rate(self.breached, self.decided)

    def add(self, check: SLACheck) -> None:
        if check.status == SLAStatus.MET:
            self.met += 1
        elif check.status == SLAStatus.BREACHED:
            self.breached += 1
        else:
            self.pending += 1


@dataclass
class SLAReport:
    totals: SLARow
    gig_rows: list[SLARow]
    agent_rows: list[SLARow]
    # Newest due first.
    breaches: list[TaskCheck]
    gig_titles: dict[int, str] = field(default_factory=dict)
    agent_names: dict[int, str] = field(default_factory=dict)

    def agent_label(self, agent_id: int | None) -> str:
        if agent_id is None:
            return QUEUE_AGENT_LABEL
        return self.agent_names.get(agent_id, "Agent")


def agent_public_names(agent_ids) -> dict[int, str]:
    """``User.public_name`` of each agent, in one query: brands never see an email."""
    ids = list(agent_ids)
    if not ids:
        return {}
    names = {}
    rows = (
        get_user_model()
        .objects.filter(pk__in=ids)
        .values_list("pk", "agent_profile__display_name", "full_name")
    )
    for pk, display_name, full_name in rows:
        names[pk] = display_name or (full_name.split(" ")[0] if full_name else "Agent")
    return names


def sla_report(
    brand: Brand,
    *,
    start: datetime,
    end: datetime,
    as_of: datetime,
    gig: Gig | None = None,
) -> SLAReport:
    """The brand's SLA checks for tasks created or closed in [start, end):
    per gig, per responsible agent, and the breaches, newest due first."""
    calendar = calendar_for(brand)
    totals = SLARow(key=None, label="All gigs")
    by_gig: dict[int, SLARow] = {}
    by_agent: dict[int | None, SLARow] = {}
    breaches: list[TaskCheck] = []
    tasks = sla_tasks(brand, start=start, end=end, gig=gig)
    for item in sla_checks(tasks, calendar=calendar, as_of=as_of):
        check = item.check
        totals.add(check)
        by_gig.setdefault(item.gig_id, SLARow(key=item.gig_id, label="")).add(check)
        if check.decided:
            by_agent.setdefault(check.agent_id, SLARow(key=check.agent_id, label="")).add(check)
        if check.breached:
            breaches.append(item)
    gig_titles = dict(
        Gig.objects.for_brand(brand).filter(pk__in=list(by_gig)).values_list("pk", "title")
    )
    agent_names = agent_public_names(key for key in by_agent if key is not None)
    for row in by_gig.values():
        row.label = gig_titles.get(row.key, "")
    for row in by_agent.values():
        row.label = QUEUE_AGENT_LABEL if row.key is None else agent_names.get(row.key, "Agent")

    def worst_first(row: SLARow):
        return (-row.breached, -row.decided, row.label.lower(), row.key or 0)

    breaches.sort(key=lambda item: (item.check.due_at, item.task_id), reverse=True)
    return SLAReport(
        totals=totals,
        gig_rows=sorted(by_gig.values(), key=worst_first),
        agent_rows=sorted(by_agent.values(), key=worst_first),
        breaches=breaches,
        gig_titles=gig_titles,
        agent_names=agent_names,
    )


def sla_at_risk(brand: Brand, *, as_of: datetime) -> list[dict]:
    """Open tasks whose next SLA check is at risk (``gigs.sla.at_risk``) or
    already overdue, most urgent first, at most ``LIVE_AT_RISK_SHOWN``.

    Reads the ``LIVE_OPEN_TASKS`` oldest open tasks: five queries at most.
    """
    tasks = list(
        Task.objects.for_brand(brand)
        .filter(status__in=OPEN_STATUSES)
        .select_related("gig")
        .order_by("created_at", "pk")[:LIVE_OPEN_TASKS]
    )
    if not tasks:
        return []
    calendar = calendar_for(brand)
    urgent: dict[int, dict] = {}
    for task, check in _checks_of(tasks, calendar, as_of):
        overdue = check.overdue_open
        if not (overdue or at_risk(check, as_of)):
            continue
        current = urgent.get(task.pk)
        if current is None or check.due_at < current["check"].due_at:
            urgent[task.pk] = {"task": task, "check": check, "overdue": overdue}
    rows = sorted(urgent.values(), key=lambda row: (row["check"].due_at, row["task"].pk))
    rows = rows[:LIVE_AT_RISK_SHOWN]
    names = agent_public_names(
        {row["check"].agent_id for row in rows if row["check"].agent_id is not None}
    )
    for row in rows:
        agent_id = row["check"].agent_id
        row["agent_name"] = names.get(agent_id, "Agent") if agent_id else ""
    return rows
