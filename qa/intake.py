"""Intake: what happens in QA when a task closes or is rated, and the weekly top-up.

A closed task is sampled (``qa.sampling``, seeded, so reruns agree) and put
in the review queue with every reason that applies; AutoQA's findings are
stored once per task, and a possible leak queues the task too. The top-up
fills each agent's weekly minimum from the week's unsampled closed tasks.

Choices made here:
- "An agent's first N tasks after approval" counts the agent's closed tasks
  on the task's gig since their pool membership in the gig's brand was
  approved (``PoolMembership.decided_at``, set by both an approval and an
  accepted invitation). Per gig, because ``first_n`` is a gig setting; with
  no approved membership every closed task on the gig counts.
- The random sample's salt is ``settings.QA_SAMPLING_SALT`` when set, else
  derived from ``SECRET_KEY``: stable across runs and unguessable to agents.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from brands.models import PoolMembership, PoolStatus
from gigs.models import Gig, Message, MessageKind, Task, TaskStatus
from qa import autoqa, sampling
from qa.models import AutoQAFinding, ReviewAssignment, SamplingReason
from qa.selectors import brand_qa_settings, gig_qa_settings
from qa.services import assignment_create_for_task

# Turns between agent and customer before AutoQA calls a conversation long.
DEFAULT_BACK_AND_FORTH_LIMIT = 8
CLOSED_STATUSES = (TaskStatus.RESOLVED, TaskStatus.ESCALATED)

_AUTHOR_OF_KIND = {
    MessageKind.AGENT: autoqa.AGENT,
    MessageKind.CUSTOMER: autoqa.CUSTOMER,
    # Internal notes never reach the customer: neither a reply nor a leak.
    MessageKind.NOTE: autoqa.SYSTEM,
}


def sampling_salt() -> str:
    configured = getattr(settings, "QA_SAMPLING_SALT", "")
    if configured:
        return configured
    return hashlib.sha256(f"gigdesk.qa-sampling:{settings.SECRET_KEY}".encode()).hexdigest()[:32]


def back_and_forth_limit() -> int:
    return getattr(settings, "QA_BACK_AND_FORTH_LIMIT", DEFAULT_BACK_AND_FORTH_LIMIT)


def _is_closed(task: Task) -> bool:
    return (
        task.status in CLOSED_STATUSES and task.closed_at is not None and task.holder_id is not None
    )


def approved_since(*, agent_id: int, brand_id: int) -> datetime | None:
    """When the agent's pool membership in the brand was approved; None if it is not."""
    return (
        PoolMembership.objects.filter(
            brand_id=brand_id, agent_id=agent_id, status=PoolStatus.APPROVED
        )
        .values_list("decided_at", flat=True)
        .first()
    )


def agent_task_index(task: Task) -> int:
    """The task's place (1 = first) among its agent's closed tasks on its gig since approval."""
    earlier = Task.objects.filter(
        gig_id=task.gig_id, holder_id=task.holder_id, status__in=CLOSED_STATUSES
    ).filter(Q(closed_at__lt=task.closed_at) | Q(closed_at=task.closed_at, pk__lte=task.pk))
    since = approved_since(agent_id=task.holder_id, brand_id=task.brand_id)
    if since is not None:
        if task.closed_at < since:
            return 0  # closed before the approval: not one of the "first tasks after" it
        earlier = earlier.filter(closed_at__gte=since)
    return earlier.count()


def task_facts(task: Task) -> sampling.TaskFacts:
    return sampling.TaskFacts(
        gig_id=task.gig_id,
        task_id=task.pk,
        agent_id=task.holder_id,
        csat=task.csat_score,
        escalated=task.status == TaskStatus.ESCALATED,
        agent_task_index_since_approval=agent_task_index(task),
    )


def sampling_settings(gig: Gig) -> sampling.SamplingSettings:
    gig_settings = gig_qa_settings(gig)
    return sampling.SamplingSettings(
        random_pct=gig_settings.random_pct,
        csat_max=gig_settings.csat_max or 0,
        every_escalation=gig_settings.every_escalation,
        first_n=gig_settings.first_n,
        weekly_min=gig_settings.weekly_min,
    )


def sample_task(task: Task) -> ReviewAssignment | None:
    """Queue the task with every sampling reason that applies (merged into an
    existing assignment); None when no reason applies and none exists."""
    reasons = sampling.sampling_reasons(
        task_facts=task_facts(task), settings=sampling_settings(task.gig), salt=sampling_salt()
    )
    if not reasons:
        return None
    return assignment_create_for_task(task=task, reasons=reasons)


# --- AutoQA ------------------------------------------------------------------------------


def message_facts(task: Task) -> list[autoqa.MessageFacts]:
    return [
        autoqa.MessageFacts(author=_AUTHOR_OF_KIND.get(kind, autoqa.SYSTEM), body=body, at=at)
        for kind, body, at in Message.objects.filter(task=task)
        .order_by("created_at", "id")
        .values_list("kind", "body", "created_at")
    ]


def task_findings(task: Task) -> list[autoqa.Finding]:
    """AutoQA's findings on the task's conversation, computed, not stored."""
    brand_settings = brand_qa_settings(task.brand)
    support_domain = task.brand.support_email.partition("@")[2]
    return autoqa.findings(
        message_facts(task),
        sla_seconds=task.gig.sla_first_response_seconds,
        back_and_forth_limit=back_and_forth_limit(),
        greetings=brand_settings.greeting_phrases or [],
        closings=brand_settings.closing_phrases or [],
        allowed_email_domains=[support_domain] if support_domain else [],
    )


def autoqa_record(task: Task) -> list[AutoQAFinding]:
    """Store AutoQA's findings on the task, once: a task with findings already
    stored keeps them (a rerun adds nothing). A leak queues the task."""
    with transaction.atomic():
        # The lock orders a close job and a rating job running at once.
        Task.objects.select_for_update().filter(pk=task.pk).first()
        stored = list(AutoQAFinding.objects.filter(task=task))
        if not stored:
            stored = _store_findings(task)
    if any(finding.leak for finding in stored):
        assignment_create_for_task(task=task, reasons=[SamplingReason.AUTOQA_LEAK])
    return stored


def _store_findings(task: Task) -> list[AutoQAFinding]:
    now = timezone.now()
    return AutoQAFinding.objects.bulk_create(
        AutoQAFinding(
            task=task,
            brand_id=task.brand_id,
            kind=finding.kind,
            category_hint=finding.category_hint,
            detail=finding.detail,
            leak=finding.leak,
            created_at=now,
        )
        for finding in task_findings(task)
    )


# --- Entry points --------------------------------------------------------------------------


def _closed_task(task_id: int) -> Task | None:
    task = Task.objects.select_related("gig", "brand").filter(pk=task_id).first()
    return task if task is not None and _is_closed(task) else None


def qa_task_closed(task: Task | int) -> ReviewAssignment | None:
    """A task was resolved or escalated: sample it and run AutoQA on it.
    Safe to run again; returns the task's assignment, if it has one."""
    task = _closed_task(task if isinstance(task, int) else task.pk)
    if task is None:
        return None
    assignment = sample_task(task)
    autoqa_record(task)
    return assignment or ReviewAssignment.objects.filter(task=task).first()


def qa_task_rated(task: Task | int) -> ReviewAssignment | None:
    """The customer rated the task: a low CSAT adds its reason. Safe to run again."""
    task = _closed_task(task if isinstance(task, int) else task.pk)
    if task is None:
        return None
    return sample_task(task) or ReviewAssignment.objects.filter(task=task).first()


# --- Weekly top-up ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TopUpResult:
    iso_week: str
    created: int


def week_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC start (Monday 00:00) and end (next Monday 00:00) of ``day``'s ISO week."""
    monday = day - timedelta(days=day.isoweekday() - 1)
    start = datetime.combine(monday, time.min, tzinfo=UTC)
    return start, start + timedelta(days=7)


def weekly_topup(*, week_of: date | None = None, now: datetime | None = None) -> TopUpResult:
    """Bring every agent to their gig's weekly minimum of reviews for one ISO
    week (by default the last complete one), picking from the week's closed
    tasks not yet in the queue. Rerunning it creates nothing new."""
    now = now or timezone.now()
    if week_of is None:
        week_of = (now.astimezone(UTC) - timedelta(days=7)).date()
    start, end = week_bounds(week_of)
    week = sampling.iso_week(start)
    closed = Task.objects.filter(
        status__in=CLOSED_STATUSES,
        holder__isnull=False,
        closed_at__gte=start,
        closed_at__lt=end,
    )
    pairs = (
        closed.values("gig_id", "holder_id")
        .annotate(
            sampled=Count("pk", filter=Q(qa_assignment__isnull=False)),
        )
        .order_by("gig_id", "holder_id")
    )
    weekly_min_of: dict[int, int] = {}
    created = 0
    for pair in pairs:
        gig_id, agent_id = pair["gig_id"], pair["holder_id"]
        if gig_id not in weekly_min_of:
            weekly_min_of[gig_id] = gig_qa_settings(Gig.objects.get(pk=gig_id)).weekly_min
        needed = sampling.weekly_topup_needed(
            weekly_min=weekly_min_of[gig_id], reviews_this_week=pair["sampled"]
        )
        if not needed:
            continue
        candidates = closed.filter(
            gig_id=gig_id, holder_id=agent_id, qa_assignment__isnull=True
        ).values_list("pk", flat=True)
        picked = sampling.weekly_topup_pick(gig_id, agent_id, week, list(candidates), needed)
        for task in Task.objects.filter(pk__in=picked).select_related("gig", "brand"):
            assignment_create_for_task(task=task, reasons=[SamplingReason.WEEKLY_TOPUP])
            created += 1
    return TopUpResult(iso_week=week, created=created)
