"""Live dispatch: presence, offers and reservations, exclusive claims, work
sessions with their billable time, and the expiry of leases and reservations.

Everything here is decided by the database. Timers (the job queue's scheduled
checks) only make expiry prompt; ``expire_overdue`` also runs whenever the
live state is read, so a late or lost timer changes nothing but latency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from brands.models import PoolMembership
from gigs import live
from gigs.eligibility import (
    CLAIMABLE_STATUSES,
    _task_match,
    claimable_by,
    conditions,
    directed_candidates,
    failed_rules,
    gigs_open_to_agent,
    offerable_tasks_for_agent,
    reserved_tasks_for_agent,
    waiting_directed_tasks_for_agent,
)
from gigs.events import (
    RESERVATION_END_KINDS,
    task_event,
    task_event_new,
    task_event_record,
    task_events_record,
)
from gigs.models import (
    AgentPresence,
    DispatchMode,
    GigStatus,
    PresenceStatus,
    ReservationOutcome,
    SessionOutcome,
    Task,
    TaskEventKind,
    TaskReservation,
    TaskStatus,
    WorkRecord,
    WorkSession,
)
from gigs.payloads import task_offer_payload
from marketplace.audit import audit_record
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.models import User
from payouts.earnings import earning_post
from payouts.reservations import (
    BrandCannotCover,
    gig_can_cover,
    reservation_check,
    reservation_post,
)

# Directed dispatch sets an agent "away" after this many reservations in a row
# lapse unanswered, so that tasks stop waiting on someone who has walked off.
LAPSES_BEFORE_AWAY = 3

TASK_NOT_FOUND = "There is no such task among your brands' work."
TASK_TAKEN = "This task was just taken by another agent."

AGENT_SETTABLE_PRESENCE = (PresenceStatus.ONLINE, PresenceStatus.PAUSED, PresenceStatus.OFFLINE)


def require_agent(user: User) -> None:
    if not user.is_agent or not user.is_active:
        raise PermissionDenied("Only agent accounts can do this.")


# --- Presence ------------------------------------------------------------------------


def presence_set(*, agent: User, status: str) -> AgentPresence:
    """Go online, pause or go offline; every call also counts as a heartbeat.

    Coming online (or back from "away") offers the agent any directed task
    that was waiting for someone like them.
    """
    require_agent(agent)
    if status not in AGENT_SETTABLE_PRESENCE:
        raise ValidationFailed(
            "Choose online, paused or offline.",
            fields={"status": [f"“{status}” is not a presence status you can choose."]},
        )
    now = timezone.now()
    with transaction.atomic():
        presence, _ = AgentPresence.objects.update_or_create(
            agent=agent,
            defaults={"status": status, "last_heartbeat_at": now, "lapsed_in_a_row": 0},
        )
        live.publish({"type": "presence", "status": status}, topics=[live.agent_topic(agent.pk)])
        if status == PresenceStatus.ONLINE:
            offer_waiting_directed_task(agent, now)
    return presence


def presence_for(agent: User) -> AgentPresence:
    presence = AgentPresence.objects.filter(agent=agent).first()
    return presence or AgentPresence(agent=agent, status=PresenceStatus.OFFLINE)


# --- Sessions and billable time ----------------------------------------------------------


def session_billable_ms(session: WorkSession, at: datetime) -> int:
    """Billable milliseconds of ``session`` as of ``at``, capped by the gig's maximum.

    The open interval runs to ``at`` while the last heartbeat is within the
    grace period; past it, billing stopped at the last heartbeat.
    """
    grace = timedelta(seconds=session.grace_seconds)
    end = at if at - session.last_heartbeat_at <= grace else session.last_heartbeat_at
    open_ms = max(0, int((end - session.active_since).total_seconds() * 1000))
    return min(session.closed_ms + open_ms, session.max_billable_seconds * 1000)


def _session_open(task: Task, agent: User, now: datetime, reserved_minor: int) -> WorkSession:
    gig = task.gig
    return WorkSession.objects.create(
        task=task,
        agent=agent,
        brand_id=task.brand_id,
        gig=gig,
        pay_model=gig.pay_model,
        rate_minor=gig.rate_minor,
        currency=gig.currency,
        grace_seconds=gig.heartbeat_grace_seconds,
        lease_seconds=gig.lease_seconds,
        max_billable_seconds=gig.max_billable_minutes * 60,
        started_at=now,
        active_since=now,
        last_heartbeat_at=now,
        reserved_minor=reserved_minor,
    )


def session_close(
    task: Task, now: datetime, outcome: str, resolution_code: str = ""
) -> WorkRecord | None:
    """End the task's open session, write its immutable work record and post
    what it earned (``payouts.earnings``), all in the caller's transaction."""
    session = (
        WorkSession.objects.select_for_update().filter(task=task, ended_at__isnull=True).first()
    )
    if session is None:
        return None
    billable_seconds = session_billable_ms(session, now) // 1000
    session.ended_at = now
    session.outcome = outcome
    session.save(update_fields=["ended_at", "outcome"])
    record = WorkRecord.objects.create(
        session=session,
        agent_id=session.agent_id,
        task=task,
        gig_id=session.gig_id,
        brand_id=session.brand_id,
        started_at=session.started_at,
        ended_at=now,
        billable_seconds=billable_seconds,
        outcome=outcome,
        resolution_code=resolution_code,
        pay_model=session.pay_model,
        rate_minor=session.rate_minor,
        currency=session.currency,
    )
    earning_post(work_record=record)
    return record


@dataclass(frozen=True)
class HeartbeatResult:
    presence: str
    # task id -> billable seconds so far, for the workspace timers
    billable_seconds: dict[int, int]


def agent_heartbeat(*, agent: User, now: datetime | None = None) -> HeartbeatResult:
    """The agent's page is open: keep them online, bill on, extend their leases.

    A heartbeat after a gap longer than the grace period does not bill the gap:
    it closes the interval at the previous heartbeat and opens a new one.
    Tasks whose lease already expired are not revived; they go back to the queue.
    """
    require_agent(agent)
    now = now or timezone.now()
    # Every heartbeat sweeps all overdue leases and reservations, not only this
    # agent's: with agents online that is every few seconds, from the process
    # that holds the sockets, so the tasks it returns are offered at once even
    # where the job worker cannot reach those sockets (embedded mode).
    expire_overdue(now=now)
    billable: dict[int, int] = {}
    with transaction.atomic():
        presence = AgentPresence.objects.filter(agent=agent).first()
        if presence is None:
            presence = AgentPresence.objects.create(
                agent=agent, status=PresenceStatus.OFFLINE, last_heartbeat_at=now
            )
        else:
            AgentPresence.objects.filter(pk=presence.pk).update(last_heartbeat_at=now)
        sessions = list(
            WorkSession.objects.select_for_update()
            .filter(agent=agent, ended_at__isnull=True, task__holder=agent)
            .order_by("pk")
        )
        for session in sessions:
            if now - session.last_heartbeat_at > timedelta(seconds=session.grace_seconds):
                gap_start = session.last_heartbeat_at
                session.closed_ms += max(
                    0, int((gap_start - session.active_since).total_seconds() * 1000)
                )
                session.active_since = now
            session.last_heartbeat_at = max(session.last_heartbeat_at, now)
            session.save(update_fields=["closed_ms", "active_since", "last_heartbeat_at"])
            Task.objects.filter(pk=session.task_id, holder=agent, status=TaskStatus.CLAIMED).update(
                lease_expires_at=now + timedelta(seconds=session.lease_seconds)
            )
            billable[session.task_id] = session_billable_ms(session, now) // 1000
    return HeartbeatResult(presence=presence.status, billable_seconds=billable)


# --- Claims ---------------------------------------------------------------------------


def task_for_agent(agent: User, task_id: int) -> Task:
    """The task if it belongs to a brand whose pool has approved the agent, or to them.

    Any other brand's task is answered as unknown, like a brand user's 404.
    """
    pool_brands = PoolMembership.objects.approved().filter(agent=agent).values("brand_id")
    task = (
        Task.objects.select_related("gig", "brand")
        .filter(Q(brand_id__in=pool_brands) | Q(holder=agent), pk=task_id)
        .first()
    )
    if task is None:
        raise NotFound(TASK_NOT_FOUND)
    return task


def _refusal(agent: User, task: Task, now: datetime) -> Exception:
    """Why the agent cannot claim ``task``: the first reason that applies."""
    if task.status == TaskStatus.CLAIMED:
        return Conflict(TASK_TAKEN, code="task_taken")
    if task.status not in CLAIMABLE_STATUSES:
        return Conflict(
            f"This task is {task.get_status_display().lower()}; it can no longer be claimed.",
            code="task_closed",
        )
    if task.gig.status != GigStatus.ACTIVE:
        return Conflict(
            f"The gig “{task.gig}” is {task.gig.get_status_display().lower()}; "
            "its tasks cannot be claimed now.",
            code="gig_inactive",
        )
    presence = AgentPresence.objects.filter(agent=agent).first()
    if presence is None or presence.status != PresenceStatus.ONLINE:
        return PermissionDenied(
            "Go online to claim tasks; you are offline, paused or away.", code="not_online"
        )
    if task.status == TaskStatus.OFFERED and task.reserved_for_id != agent.pk:
        return Conflict("This task is reserved for another agent.", code="not_offered")
    if task.status == TaskStatus.OFFERED and task.reservation_expires_at <= now:
        return Conflict("Your reservation of this task has expired.", code="reservation_expired")
    if task.status == TaskStatus.QUEUED and task.gig.dispatch_mode == DispatchMode.DIRECTED:
        return Conflict(
            "This gig's tasks are offered to one agent at a time; this one was not offered to you.",
            code="not_offered",
        )
    failed = failed_rules(agent, task)
    if failed:
        rule = failed[0]
        if rule.explain is not None:
            return PermissionDenied(rule.explain(agent, task) or rule.refusal, code="not_eligible")
        if rule.code == BrandCannotCover.code:
            return BrandCannotCover(rule.refusal)
        if rule.code:
            return Conflict(rule.refusal, code=rule.code)
        if rule.is_capacity:
            return Conflict(rule.refusal, code="at_limit")
        return PermissionDenied(rule.refusal, code="not_eligible")
    return Conflict(TASK_TAKEN, code="task_taken")


def _take(agent: User, candidates, now: datetime) -> Task | None:
    """Lock the first candidate nobody else is claiming, reserve its expected
    cost from the brand's balance, and make the agent its holder.

    On PostgreSQL the candidate row is locked with ``FOR UPDATE SKIP LOCKED``,
    so concurrent claimers never queue behind each other; the conditional
    UPDATE that follows is then certain to match. On SQLite the write
    transaction is already exclusive and the UPDATE's own condition decides.
    Must run inside the transaction that holds the agent's presence lock.

    Raises ``BrandCannotCover`` before writing anything when the brand's
    balance cannot pay for the claim (``payouts.reservations``): the caller
    may go on to another gig in the same transaction.
    """
    task = (
        candidates.select_related("gig", "brand")
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )
    if task is None:
        return None
    # Locks the brand's balance row until commit: claims on one brand queue
    # here, so that none spends what another has already reserved.
    hold = reservation_check(gig=task.gig)
    lease_expires_at = now + timedelta(seconds=task.gig.lease_seconds)
    taken = Task.objects.filter(
        pk=task.pk, status__in=CLAIMABLE_STATUSES, holder__isnull=True
    ).update(
        status=TaskStatus.CLAIMED,
        holder=agent,
        claimed_at=now,
        lease_expires_at=lease_expires_at,
        reserved_for=None,
        reservation_expires_at=None,
        updated_at=now,
    )
    if not taken:
        return None
    was_reserved = task.status == TaskStatus.OFFERED
    task.status = TaskStatus.CLAIMED
    task.holder = agent
    task.claimed_at = now
    task.lease_expires_at = lease_expires_at
    task.reserved_for = None
    task.reservation_expires_at = None
    task.updated_at = now
    session = _session_open(task, agent, now, reserved_minor=hold.amount_minor)
    reservation_post(hold=hold, session=session)
    # The claim's history: one INSERT of ids already in hand, no read.
    task_event_record(task, TaskEventKind.CLAIMED, now, agent_id=agent.pk, session=session.pk)
    if was_reserved:
        TaskReservation.objects.filter(
            task=task, agent=agent, outcome=ReservationOutcome.PENDING
        ).update(outcome=ReservationOutcome.ACCEPTED, decided_at=now)
    return task


def _lock_presence_for_claim(agent: User, now: datetime) -> bool:
    """Serialise this agent's claims (the hold limit is a count no row lock covers)
    and check they are online, in one statement. A claim is also a sign of life."""
    return bool(
        AgentPresence.objects.filter(agent=agent, status=PresenceStatus.ONLINE).update(
            last_heartbeat_at=now, last_assigned_at=now, lapsed_in_a_row=0
        )
    )


def _after_claim(agent: User, task: Task) -> None:
    live.publish(
        {"type": "withdraw", "task_id": task.pk, "reason": "taken"},
        topics=[live.pool_topic(task.brand_id)],
    )
    live.publish(
        {"type": "task.held", "task": task_offer_payload(task)},
        topics=[live.agent_topic(agent.pk)],
    )
    live.publish(
        {"type": "task.status", "task_id": task.pk, "status": task.status},
        topics=[
            live.task_topic(task.pk),
            live.customer_topic(task.pk),
            live.brand_topic(task.brand_id),
        ],
    )
    task_event(task, "task.claimed")


def task_claim(*, agent: User, task_id: int) -> Task:
    """Make the agent the task's only holder, or refuse and change nothing."""
    require_agent(agent)
    now = timezone.now()
    with transaction.atomic():
        online = _lock_presence_for_claim(agent, now)
        if online:
            candidates = Task.objects.filter(claimable_by(agent), pk=task_id).filter(
                *conditions(_task_match(agent)), gig__status=GigStatus.ACTIVE
            )
            task = _take(agent, candidates, now)
            if task is not None:
                _after_claim(agent, task)
                return task
    # The slow path: work out which rule refused, for a useful answer.
    task = task_for_agent(agent, task_id)
    if task.holder_id == agent.pk and task.status == TaskStatus.CLAIMED:
        # A retried claim (double click, lost response) is not an error.
        return task
    raise _refusal(agent, task, now)


def task_claim_next(*, agent: User, gig_id: int | None = None) -> Task | None:
    """Claim the most urgent, oldest task the agent may take (of one gig, if given):
    a reservation of theirs first, then the open queue. ``None`` when there is
    nothing to take.
    """
    require_agent(agent)
    now = timezone.now()
    with transaction.atomic():
        if not _lock_presence_for_claim(agent, now):
            raise PermissionDenied(
                "Go online to claim tasks; you are offline, paused or away.", code="not_online"
            )
        # The per-gig rules once, here, rather than for every queued task the
        # walk passes; with no gig open to the agent there is nothing to walk.
        open_gigs = gigs_open_to_agent(agent)
        if gig_id is not None:
            open_gigs = open_gigs.filter(pk=gig_id)
        # gig id -> (mode, brand, currency): a brand that cannot cover a claim
        # cannot cover any other in that currency either.
        gigs = {
            pk: (mode, brand_id, currency)
            for pk, mode, brand_id, currency in open_gigs.values_list(
                "pk", "dispatch_mode", "brand_id", "currency"
            )
        }
        while gigs:
            try:
                task = _take_next(agent, gigs, now)
            except BrandCannotCover as refused:
                # The balance ran short since the gigs were read (another
                # claim reserved the rest): nothing was written, so go on
                # with the gigs of other brands or currencies.
                gigs = {
                    pk: value
                    for pk, value in gigs.items()
                    if pk != refused.gig_id and value[1:] != (refused.brand_id, refused.currency)
                }
                continue
            if task is not None:
                _after_claim(agent, task)
            return task
        return None


def _take_next(agent: User, gigs: dict[int, tuple[str, int, str]], now: datetime) -> Task | None:
    """``_take`` on the agent's reservations in the directed gigs, then the open queue."""
    directed = [pk for pk, (mode, _, _) in gigs.items() if mode == DispatchMode.DIRECTED]
    open_ = [pk for pk, (mode, _, _) in gigs.items() if mode == DispatchMode.OPEN]
    task = None
    if directed:
        task = _take(agent, reserved_tasks_for_agent(agent, gig_ids=directed), now)
    if task is None and open_:
        task = _take(agent, offerable_tasks_for_agent(agent, gig_ids=open_), now)
    return task


# --- Offers and reservations ------------------------------------------------------------


def task_offer(task: Task) -> None:
    """Tell the agents who may take ``task`` that it is there (after it enters the queue).

    Open gigs: every eligible online agent hears of it (their connections
    decide, see ``gigs.eligibility.offer_scope_for_agent``); the first claim wins.
    Directed gigs: the best-matched agent gets a reservation.
    """
    if task.status != TaskStatus.QUEUED or task.holder_id is not None:
        return
    gig = task.gig
    if gig.status != GigStatus.ACTIVE:
        return
    if gig.dispatch_mode == DispatchMode.DIRECTED:
        _reserve_next(task, timezone.now())
        return
    if not gig_can_cover(gig):
        # Waits in the queue, unseen, until the brand's balance covers a
        # claim again; that change re-reads every connected agent's queue.
        return
    # Who may see it is decided by each agent's connection (its offer scope:
    # ``gigs.eligibility.offer_scope_for_agent``), so that creating a task
    # reads nothing about agents. Only those who passed on it are left out here.
    passed = TaskReservation.objects.filter(
        task=task, outcome=ReservationOutcome.REJECTED
    ).values_list("agent_id", flat=True)
    live.publish(
        {"type": "offer", "task": task_offer_payload(task)},
        topics=[live.pool_topic(task.brand_id)],
        skip_agents=list(passed),
    )


def tasks_offer(tasks: list[Task]) -> None:
    """``task_offer`` for many new tasks (a CSV import): open offers go out
    as they are, directed tasks get reservations while candidates last."""
    by_group: dict[tuple[int, str], list[Task]] = {}
    for task in tasks:
        by_group.setdefault((task.gig_id, task.language), []).append(task)
    now = timezone.now()
    for group in by_group.values():
        first = group[0]
        if first.gig.status != GigStatus.ACTIVE:
            continue
        if first.gig.dispatch_mode == DispatchMode.DIRECTED:
            for task in sorted(group, key=lambda t: (-t.priority, t.pk)):
                if _reserve_next(task, now) is None:
                    break  # nobody free for this gig and language; they wait in the queue
            continue
        if not gig_can_cover(first.gig):
            continue  # offered once the brand's balance covers a claim again
        for task in group:
            # New tasks: nobody has passed on them yet.
            live.publish(
                {"type": "offer", "task": task_offer_payload(task)},
                topics=[live.pool_topic(task.brand_id)],
            )


def _reserve_next(task: Task, now: datetime) -> User | None:
    """Reserve a queued directed task for the best candidate; ``None`` if nobody fits."""
    from gigs.tasks import reservation_expire_job

    for agent in directed_candidates(task)[:5]:
        with transaction.atomic():
            expires_at = now + timedelta(seconds=task.gig.reservation_timeout_seconds)
            reserved = Task.objects.filter(
                pk=task.pk, status=TaskStatus.QUEUED, holder__isnull=True
            ).update(
                status=TaskStatus.OFFERED,
                reserved_for=agent,
                reservation_expires_at=expires_at,
                updated_at=now,
            )
            if not reserved:
                return None
            if TaskReservation.objects.filter(
                agent=agent, outcome=ReservationOutcome.PENDING
            ).exists():
                # Reserved by someone else a moment ago; try the next candidate.
                transaction.set_rollback(True)
                continue
            reservation = TaskReservation.objects.create(
                task=task, agent=agent, created_at=now, expires_at=expires_at
            )
            task_event_record(
                task,
                TaskEventKind.OFFERED,
                now,
                agent_id=agent.pk,
                reservation=reservation.pk,
            )
            AgentPresence.objects.filter(agent=agent).update(last_assigned_at=now)
            task.status = TaskStatus.OFFERED
            task.reserved_for = agent
            task.reservation_expires_at = expires_at
            live.publish(
                {"type": "offer", "task": task_offer_payload(task)},
                topics=[live.agent_topic(agent.pk)],
            )
            transaction.on_commit(
                lambda: reservation_expire_job.schedule(
                    (task.pk,), delay=task.gig.reservation_timeout_seconds + 1
                )
            )
            return agent
    return None


def offer_waiting_directed_task(agent: User, now: datetime) -> None:
    """Give an agent who just became free a directed task that found nobody."""
    if TaskReservation.objects.filter(agent=agent, outcome=ReservationOutcome.PENDING).exists():
        return
    for task in waiting_directed_tasks_for_agent(agent).select_related("gig", "brand")[:3]:
        if _reserve_next(task, now) is not None:
            return


def _end_reservation(task: Task, outcome: str, now: datetime) -> TaskReservation | None:
    """Put a reserved task back in the queue; ``None`` if it was no longer reserved."""
    reservation = (
        TaskReservation.objects.filter(task=task, outcome=ReservationOutcome.PENDING)
        .select_related("agent")
        .first()
    )
    released = Task.objects.filter(pk=task.pk, status=TaskStatus.OFFERED).update(
        status=TaskStatus.QUEUED, reserved_for=None, reservation_expires_at=None, updated_at=now
    )
    if not released:
        return None
    agent_id = reservation.agent_id if reservation is not None else task.reserved_for_id
    task_events_record(
        [
            task_event_new(task, RESERVATION_END_KINDS[outcome], now, agent_id=agent_id),
            task_event_new(task, TaskEventKind.QUEUED, now),
        ]
    )
    if reservation is not None:
        TaskReservation.objects.filter(pk=reservation.pk).update(outcome=outcome, decided_at=now)
        live.publish(
            {"type": "withdraw", "task_id": task.pk, "reason": outcome},
            topics=[live.agent_topic(reservation.agent_id)],
        )
    task.status = TaskStatus.QUEUED
    task.reserved_for = None
    task.reservation_expires_at = None
    return reservation


def task_reject(*, agent: User, task_id: int) -> None:
    """Pass on a task: a reservation goes to the next agent; an open offer is
    not shown to this agent again."""
    require_agent(agent)
    task = task_for_agent(agent, task_id)
    now = timezone.now()
    if task.status == TaskStatus.OFFERED and task.reserved_for_id == agent.pk:
        with transaction.atomic():
            if _end_reservation(task, ReservationOutcome.REJECTED, now) is None:
                raise Conflict("This reservation has already ended.", code="reservation_expired")
            AgentPresence.objects.filter(agent=agent).update(lapsed_in_a_row=0)
        _reserve_next(task, now)
        offer_waiting_directed_task(agent, now)
        return
    if task.status == TaskStatus.QUEUED and task.gig.dispatch_mode == DispatchMode.OPEN:
        if not TaskReservation.objects.filter(
            task=task, agent=agent, outcome=ReservationOutcome.REJECTED
        ).exists():
            TaskReservation.objects.create(
                task=task,
                agent=agent,
                created_at=now,
                outcome=ReservationOutcome.REJECTED,
                decided_at=now,
            )
        live.publish(
            {"type": "withdraw", "task_id": task.pk, "reason": "rejected"},
            topics=[live.agent_topic(agent.pk)],
        )
        return
    raise Conflict("This task is not offered to you.", code="not_offered")


# --- Release, and the expiry of leases and reservations -----------------------------------


def _return_to_queue(task: Task, *, agent_id: int, now: datetime, outcome: str) -> bool:
    """Take the task off its holder and back into the queue, closing the session."""
    filters = Q(pk=task.pk, holder_id=agent_id, status=TaskStatus.CLAIMED)
    if outcome == SessionOutcome.LEASE_EXPIRED:
        # A heartbeat that extended the lease since the sweep read it wins.
        filters &= Q(lease_expires_at__lt=now)
    released = Task.objects.filter(filters).update(
        status=TaskStatus.QUEUED,
        holder=None,
        claimed_at=None,
        lease_expires_at=None,
        updated_at=now,
    )
    if not released:
        return False
    record = session_close(task, now, outcome)
    # Released (by the agent, or their lease ran out: ``reason``) and back in
    # the queue, at the same moment, in one INSERT.
    task_events_record(
        [
            task_event_new(
                task,
                TaskEventKind.RELEASED,
                now,
                agent_id=agent_id,
                reason=outcome,
                session=record.session_id if record is not None else None,
            ),
            task_event_new(task, TaskEventKind.QUEUED, now),
        ]
    )
    task.status = TaskStatus.QUEUED
    task.holder = None
    task.claimed_at = None
    task.lease_expires_at = None
    task.updated_at = now
    live.publish(
        {"type": "task.lost", "task_id": task.pk, "reason": outcome},
        topics=[live.agent_topic(agent_id)],
    )
    live.publish(
        {"type": "task.status", "task_id": task.pk, "status": task.status},
        topics=[
            live.task_topic(task.pk),
            live.customer_topic(task.pk),
            live.brand_topic(task.brand_id),
        ],
    )
    task_event(task, "task.released", reason=outcome)
    return True


def task_release(*, agent: User, task_id: int) -> Task:
    """Give a claimed task back to the queue. Only its holder may."""
    require_agent(agent)
    now = timezone.now()
    with transaction.atomic():
        task = task_for_agent(agent, task_id)
        if task.holder_id != agent.pk or task.status != TaskStatus.CLAIMED:
            raise PermissionDenied(
                "Only the agent holding this task can release it.", code="not_holder"
            )
        if not _return_to_queue(task, agent_id=agent.pk, now=now, outcome=SessionOutcome.RELEASED):
            raise PermissionDenied(
                "Only the agent holding this task can release it.", code="not_holder"
            )
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
    task_offer(task)
    return task


def _lapse(task: Task, now: datetime) -> bool:
    with transaction.atomic():
        reservation = _end_reservation(task, ReservationOutcome.LAPSED, now)
        if reservation is None:
            return False
        AgentPresence.objects.filter(agent_id=reservation.agent_id).update(
            lapsed_in_a_row=F("lapsed_in_a_row") + 1
        )
        went_away = AgentPresence.objects.filter(
            agent_id=reservation.agent_id,
            status=PresenceStatus.ONLINE,
            lapsed_in_a_row__gte=LAPSES_BEFORE_AWAY,
        ).update(status=PresenceStatus.AWAY)
        if went_away:
            live.publish(
                {"type": "presence", "status": PresenceStatus.AWAY, "reason": "lapsed_offers"},
                topics=[live.agent_topic(reservation.agent_id)],
            )
            audit_record(
                actor=None,
                action="agent.presence.away",
                target=reservation.agent,
                changes={"status": [PresenceStatus.ONLINE, PresenceStatus.AWAY]},
            )
    _reserve_next(task, now)
    return True


def expire_overdue(*, now: datetime | None = None, holder: User | None = None) -> int:
    """Return to the queue every task whose lease ran out, and move on every
    reservation whose time is up. Safe to run anywhere, any number of times:
    each change is a conditional update that only one caller can win.

    ``holder`` limits the lease part to one agent's tasks (their heartbeat).
    """
    now = now or timezone.now()
    changed = 0
    overdue = Task.objects.filter(status=TaskStatus.CLAIMED, lease_expires_at__lt=now)
    if holder is not None:
        overdue = overdue.filter(holder=holder)
    for task in overdue.select_related("gig", "brand")[:200]:
        with transaction.atomic():
            returned = _return_to_queue(
                task, agent_id=task.holder_id, now=now, outcome=SessionOutcome.LEASE_EXPIRED
            )
        if returned:
            changed += 1
            task_offer(task)
    lapsed = Task.objects.filter(status=TaskStatus.OFFERED, reservation_expires_at__lt=now)
    for task in lapsed.select_related("gig", "brand")[:200]:
        changed += _lapse(task, now)
    return changed


def reservation_expire(*, task_id: int) -> None:
    """The scheduled check at a reservation's end (the job queue runs it)."""
    task = Task.objects.select_related("gig", "brand").filter(pk=task_id).first()
    if task is None or task.status != TaskStatus.OFFERED:
        return
    if task.reservation_expires_at and task.reservation_expires_at < timezone.now():
        _lapse(task, timezone.now())
