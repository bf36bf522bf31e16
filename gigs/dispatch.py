"""Live dispatch services: agent presence, and exclusive task claims."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from brands.models import PoolMembership
from gigs.eligibility import CLAIMABLE_STATUSES, failed_rules
from gigs.models import AgentPresence, GigStatus, PresenceStatus, Task, TaskStatus
from marketplace.audit import audit_record
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.models import User

# How long a claim is held before dispatch may take it back from a silent agent.
CLAIM_LEASE = timedelta(minutes=5)

TASK_NOT_FOUND = "There is no such task among your brands' work."
TASK_TAKEN = "This task was just taken by another agent."


def _require_agent(user: User) -> None:
    if not user.is_agent or not user.is_active:
        raise PermissionDenied("Only agent accounts can do this.")


def presence_set(*, agent: User, status: str) -> AgentPresence:
    """Go online, pause or go offline; every call also counts as a heartbeat."""
    _require_agent(agent)
    if status not in PresenceStatus.values:
        raise ValidationFailed(
            "Choose online, paused or offline.",
            fields={"status": [f"“{status}” is not a presence status."]},
        )
    presence, _ = AgentPresence.objects.update_or_create(
        agent=agent, defaults={"status": status, "last_heartbeat_at": timezone.now()}
    )
    return presence


def _task_for_agent(agent: User, task_id: int) -> Task:
    """The task if it belongs to a brand whose pool has approved the agent, or to them.

    Any other brand's task is answered as unknown, like a brand user's 404.
    """
    pool_brands = PoolMembership.objects.approved().filter(agent=agent).values("brand_id")
    task = (
        Task.objects.select_related("gig")
        .filter(pk=task_id)
        .filter(brand_id__in=pool_brands)
        .first()
    )
    if task is None:
        task = Task.objects.select_related("gig").filter(pk=task_id, holder=agent).first()
    if task is None:
        raise NotFound(TASK_NOT_FOUND)
    return task


def task_claim(*, agent: User, task_id: int) -> Task:
    """Make the agent the task's only holder, or refuse and change nothing.

    Exclusivity comes from one conditional UPDATE: it matches only while the
    task is still open and unheld, so of any number of concurrent claimers
    exactly one changes a row (on PostgreSQL the others wait on the row lock,
    then re-check the condition and match nothing). The hold limit is a count,
    which no single-row condition can protect, so each agent's claims are
    serialised on their presence row instead.
    """
    _require_agent(agent)
    with transaction.atomic():
        presence = AgentPresence.objects.select_for_update().filter(agent=agent).first()
        task = _task_for_agent(agent, task_id)
        if task.holder_id == agent.pk and task.status == TaskStatus.CLAIMED:
            # A retried claim (double click, lost response) is not an error.
            return task
        if task.status == TaskStatus.CLAIMED:
            raise Conflict(TASK_TAKEN, code="task_taken")
        if task.status not in CLAIMABLE_STATUSES:
            raise Conflict(
                f"This task is {task.get_status_display().lower()}; it can no longer be claimed.",
                code="task_closed",
            )
        if task.gig.status != GigStatus.ACTIVE:
            raise Conflict(
                f"The gig “{task.gig}” is {task.gig.get_status_display().lower()}; "
                "its tasks cannot be claimed now.",
                code="gig_inactive",
            )
        if presence is None or presence.status != PresenceStatus.ONLINE:
            raise PermissionDenied(
                "Go online to claim tasks; you are offline or paused.", code="not_online"
            )
        failed = failed_rules(agent, task)
        if failed:
            rule = failed[0]
            if rule.is_capacity:
                raise Conflict(rule.refusal, code="at_limit")
            raise PermissionDenied(rule.refusal, code="not_eligible")

        now = timezone.now()
        claimed = Task.objects.filter(
            pk=task.pk,
            brand_id=task.brand_id,
            status__in=CLAIMABLE_STATUSES,
            holder__isnull=True,
        ).update(
            status=TaskStatus.CLAIMED,
            holder=agent,
            claimed_at=now,
            lease_expires_at=now + CLAIM_LEASE,
            updated_at=now,
        )
        if not claimed:
            raise Conflict(TASK_TAKEN, code="task_taken")
        old_status = task.status
        task.status = TaskStatus.CLAIMED
        task.holder = agent
        task.claimed_at = now
        task.lease_expires_at = now + CLAIM_LEASE
        task.updated_at = now
        audit_record(
            actor=agent,
            action="task.claimed",
            target=task,
            brand=task.brand,
            changes={"status": [old_status, TaskStatus.CLAIMED], "holder": [None, agent.email]},
        )
    return task


def task_release(*, agent: User, task_id: int) -> Task:
    """Give a claimed task back to the queue. Only its holder may."""
    _require_agent(agent)
    with transaction.atomic():
        task = _task_for_agent(agent, task_id)
        if task.holder_id != agent.pk or task.status != TaskStatus.CLAIMED:
            raise PermissionDenied(
                "Only the agent holding this task can release it.", code="not_holder"
            )
        now = timezone.now()
        released = Task.objects.filter(pk=task.pk, holder=agent, status=TaskStatus.CLAIMED).update(
            status=TaskStatus.QUEUED,
            holder=None,
            claimed_at=None,
            lease_expires_at=None,
            updated_at=now,
        )
        if not released:
            # A concurrent release, or the lease was taken back, between the read and now.
            raise PermissionDenied(
                "Only the agent holding this task can release it.", code="not_holder"
            )
        task.status = TaskStatus.QUEUED
        task.holder = None
        task.claimed_at = None
        task.lease_expires_at = None
        task.updated_at = now
        # The audit log, not the task row, keeps who held it.
        audit_record(
            actor=agent,
            action="task.released",
            target=task,
            brand=task.brand,
            changes={
                "status": [TaskStatus.CLAIMED, TaskStatus.QUEUED],
                "holder": [agent.email, None],
            },
        )
    return task
