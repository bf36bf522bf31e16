"""The rows behind a dashboard number: which tasks (or QA reviews) a figure
counts, read from the raw history, not from the roll-ups.

Each metric here selects exactly the events the roll-up (``analytics.rollup``)
adds to the figure's sum, in the hour docs/metrics.md gives it, so that a
drill-down's count equals the number on the dashboard for the same period and
filters:

- ``created`` and ``waits``: the task's ``created`` event in the range; the
  agent is the first claimer (``waits``: tasks that were claimed at all);
- ``first_response``: the task's first ``agent_message`` in the range; the
  agent is its author;
- ``closed``, ``resolved``, ``escalated``, ``cancelled``, ``fcr``,
  ``handled``, ``rated``, ``satisfied``, ``unsatisfied``: the task's final
  close (the last close with no later close or reopen) in the range; the
  agent is the one who closed it; CSAT counts in the close's hour however
  late the rating came;
- ``qa`` and ``qa_passed``: counting QA reviews submitted in the range; the
  agent is the one reviewed.

Events at the same instant are ordered by id, as the roll-up reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from analytics.rollup import counting_reviews
from brands.models import Brand, PoolMembership
from gigs.metrics import CLOSE_KINDS, SATISFIED_SCORES
from gigs.models import TaskEvent, WorkRecord
from gigs.models import TaskEventKind as K

CREATION_METRICS = {
    "created": "Tasks created",
    "waits": "Tasks claimed (their wait time)",
}
REPLY_METRICS = {"first_response": "Tasks with a first response"}
CLOSE_METRICS = {
    "closed": "Tasks closed",
    "resolved": "Tasks resolved",
    "escalated": "Tasks escalated",
    "cancelled": "Tasks cancelled",
    "fcr": "Tasks resolved at first contact",
    "handled": "Closed tasks that were worked on (handle time)",
    "rated": "Closed tasks with a CSAT rating",
    "satisfied": "Closed tasks rated 4 or 5",
    "unsatisfied": "Closed tasks rated 1 to 3",
}
REVIEW_METRICS = {
    "qa": "QA reviews",
    "qa_passed": "QA reviews that passed",
}
METRICS = {**CREATION_METRICS, **REPLY_METRICS, **CLOSE_METRICS, **REVIEW_METRICS}


class UnknownMetric(ValueError):
    pass


@dataclass(frozen=True)
class DrillDown:
    """What a drill-down lists: ``rows`` are ``TaskEvent`` rows (one per task)
    or, for QA metrics, ``qa.Review`` rows, newest first, with ``task`` and its
    gig loaded. ``moment`` names the field that placed the row in the range."""

    metric: str
    label: str
    rows: QuerySet
    moment: str

    @property
    def is_reviews(self) -> bool:
        return self.metric in REVIEW_METRICS


def _relative_to_outer(*, before: bool) -> Q:
    """Events of the outer event's task before (or after) it, ties broken by id."""
    if before:
        return Q(occurred_at__lt=OuterRef("occurred_at")) | Q(
            occurred_at=OuterRef("occurred_at"), id__lt=OuterRef("id")
        )
    return Q(occurred_at__gt=OuterRef("occurred_at")) | Q(
        occurred_at=OuterRef("occurred_at"), id__gt=OuterRef("id")
    )


def _task_events(kind=None) -> QuerySet[TaskEvent]:
    events = TaskEvent.objects.filter(task_id=OuterRef("task_id"))
    if kind is not None:
        events = events.filter(kind=kind)
    return events


def _first_claimer() -> Subquery:
    return Subquery(_task_events(K.CLAIMED).order_by("occurred_at", "id").values("agent_id")[:1])


def _final_closes(brand: Brand, start: datetime, end: datetime) -> QuerySet[TaskEvent]:
    later_change = TaskEvent.objects.filter(
        _relative_to_outer(before=False),
        task_id=OuterRef("task_id"),
        kind__in=[*CLOSE_KINDS, K.REOPENED],
    )
    return TaskEvent.objects.filter(
        brand=brand, kind__in=CLOSE_KINDS, occurred_at__gte=start, occurred_at__lt=end
    ).filter(~Exists(later_change))


def _latest_score() -> Subquery:
    return Subquery(
        _task_events(K.RATED)
        .order_by("-occurred_at", "-id")
        .annotate(score=Cast(KeyTextTransform("score", "data"), IntegerField()))
        .values("score")[:1]
    )


def _close_rows(metric: str, brand: Brand, start: datetime, end: datetime) -> QuerySet:
    rows = _final_closes(brand, start, end)
    if metric in ("resolved", "escalated", "cancelled"):
        rows = rows.filter(kind=metric)
    elif metric == "fcr":
        claims_before = (
            _task_events(K.CLAIMED)
            .filter(occurred_at__lte=OuterRef("occurred_at"))
            .order_by()
            .values("task_id")
            .annotate(claims=Count("id"))
            .values("claims")
        )
        rows = (
            rows.filter(kind=K.RESOLVED)
            .filter(~Exists(_task_events(K.REOPENED)))
            .annotate(claims_before=Subquery(claims_before, output_field=IntegerField()))
            .filter(claims_before=1)
        )
    elif metric == "handled":
        rows = rows.filter(Exists(WorkRecord.objects.filter(task_id=OuterRef("task_id"))))
    elif metric in ("rated", "satisfied", "unsatisfied"):
        rows = rows.filter(Exists(_task_events(K.RATED)))
        if metric != "rated":
            rows = rows.annotate(score=_latest_score())
            satisfied = Q(score__in=sorted(SATISFIED_SCORES))
            rows = rows.filter(satisfied if metric == "satisfied" else ~satisfied)
    return rows


def drilldown(
    *,
    brand: Brand,
    metric: str,
    start: datetime,
    end: datetime,
    gig=None,
    language: str | None = None,
    agent=None,
    tier: int | str | None = None,
    no_agent: bool = False,
) -> DrillDown:
    """The rows behind ``metric`` for ``brand`` in [start, end), narrowed by
    the dashboard's filters (a gig, a language code, an agent, a pool tier;
    the agent and tier apply to the agent the figure belongs to). ``no_agent``
    keeps the rows whose figure belongs to nobody (never claimed, cancelled)."""
    if metric not in METRICS:
        raise UnknownMetric(metric)
    moment = "occurred_at"
    if metric in CREATION_METRICS:
        rows = TaskEvent.objects.filter(
            brand=brand, kind=K.CREATED, occurred_at__gte=start, occurred_at__lt=end
        ).annotate(figure_agent_id=_first_claimer())
        if metric == "waits":
            rows = rows.filter(figure_agent_id__isnull=False)
    elif metric in REPLY_METRICS:
        earlier_reply = TaskEvent.objects.filter(
            _relative_to_outer(before=True), task_id=OuterRef("task_id"), kind=K.AGENT_MESSAGE
        )
        rows = (
            TaskEvent.objects.filter(
                brand=brand, kind=K.AGENT_MESSAGE, occurred_at__gte=start, occurred_at__lt=end
            )
            .filter(~Exists(earlier_reply))
            .annotate(figure_agent_id=F("agent_id"))
        )
    elif metric in CLOSE_METRICS:
        rows = _close_rows(metric, brand, start, end).annotate(figure_agent_id=F("agent_id"))
    else:
        moment = "submitted_at"
        rows = (
            counting_reviews()
            .filter(brand=brand, submitted_at__gte=start, submitted_at__lt=end)
            .annotate(figure_agent_id=F("agent_id"))
        )
        if metric == "qa_passed":
            rows = rows.filter(passed=True)
    if gig is not None:
        rows = rows.filter(task__gig=gig)
    if language:
        rows = rows.filter(task__language=language)
    if agent is not None:
        rows = rows.filter(figure_agent_id=getattr(agent, "pk", agent))
    if no_agent:
        rows = rows.filter(figure_agent_id__isnull=True)
    if tier not in (None, ""):
        tier_agents = PoolMembership.objects.filter(brand=brand, tier=tier).values("agent_id")
        rows = rows.filter(figure_agent_id__in=tier_agents)
    rows = rows.select_related("task", "task__gig").order_by(f"-{moment}", "-id")
    return DrillDown(metric=metric, label=METRICS[metric], rows=rows, moment=moment)
