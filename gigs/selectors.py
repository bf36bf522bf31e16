"""Reads for gigs and tasks. Every one starts from a brand: nothing crosses tenants."""

from __future__ import annotations

import functools
import operator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import (
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.http import Http404
from django.utils import timezone

from brands.models import Brand, PoolMembership, PoolStatus
from gigs.dispatch import expire_overdue, session_billable_ms
from gigs.eligibility import PRESENCE_TIMEOUT, RULES, Match, offerable_tasks_for_agent
from gigs.models import (
    AgentPresence,
    Gig,
    GigStatus,
    Message,
    MessageKind,
    PresenceStatus,
    ReservationOutcome,
    Task,
    TaskImport,
    TaskReservation,
    TaskStatus,
    WorkSession,
)
from gigs.payloads import message_payload, task_offer_payload
from marketplace.models import AccountType, User

OPEN_STATUSES = (TaskStatus.QUEUED, TaskStatus.OFFERED, TaskStatus.CLAIMED)


def gig_list(*, brand: Brand) -> QuerySet[Gig]:
    return (
        Gig.objects.for_brand(brand)
        .prefetch_related("required_skills")
        .annotate(open_tasks=Count("tasks", filter=Q(tasks__status__in=OPEN_STATUSES)))
    )


def task_list(*, brand: Brand) -> QuerySet[Task]:
    return Task.objects.for_brand(brand).select_related("gig")


def access_gig(*, brand: Brand, gig_id: int, lock: bool = False) -> Gig:
    """The brand's gig ``gig_id``, or 404: another brand's gig does not exist for this one."""
    queryset = Gig.objects.for_brand(brand)
    if lock:
        queryset = queryset.select_for_update()
    gig = queryset.filter(pk=gig_id).first()
    if gig is None:
        raise Http404("No such gig.")
    return gig


def access_task(*, brand: Brand, task_id: int, with_messages: bool = False) -> Task:
    queryset = Task.objects.for_brand(brand).select_related("gig")
    if with_messages:
        queryset = queryset.prefetch_related(
            Prefetch("messages", queryset=Message.objects.select_related("author"))
        )
    task = queryset.filter(pk=task_id).first()
    if task is None:
        raise Http404("No such task.")
    return task


def access_task_import(*, brand: Brand, import_id: int) -> TaskImport:
    task_import = (
        TaskImport.objects.for_brand(brand).select_related("gig").filter(pk=import_id).first()
    )
    if task_import is None:
        raise Http404("No such import.")
    return task_import


# --- Live figures: the brand console's and the staff console's live views ------------

# Waiting for an agent: in the queue, or reserved for one by a directed offer.
WAITING_STATUSES = (TaskStatus.QUEUED, TaskStatus.OFFERED)
_GIG_STATUS_ORDER = {GigStatus.ACTIVE: 0, GigStatus.PAUSED: 1, GigStatus.CLOSED: 2}


def _start_of_day(now: datetime, time_zone: str) -> datetime:
    """Midnight at the start of ``now``'s day in ``time_zone``."""
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)


def _wait_seconds(since: datetime | None, now: datetime) -> int | None:
    return None if since is None else max(0, int((now - since).total_seconds()))


def _task_figures(tasks: QuerySet[Task], *, group_by: str, resolved_today: Q) -> dict[int, dict]:
    """Live task counts per ``group_by`` value, in one grouped query.

    Only tasks of active gigs are queued: a paused gig's tasks wait for the
    brand to resume it, not for an agent, so they are counted apart (``held_back``).
    """
    waiting = Q(status__in=WAITING_STATUSES)
    active = Q(gig__status=GigStatus.ACTIVE)
    rows = (
        tasks.filter(Q(status__in=OPEN_STATUSES) | resolved_today)
        .order_by()
        .values(group_by)
        .annotate(
            queue_depth=Count("pk", filter=waiting & active),
            held_back=Count("pk", filter=waiting & ~active),
            oldest_waiting_at=Min("created_at", filter=waiting & active),
            in_progress=Count("pk", filter=Q(status=TaskStatus.CLAIMED)),
            resolved_today=Count("pk", filter=resolved_today),
        )
    )
    return {row.pop(group_by): row for row in rows}


_NO_TASKS = {
    "queue_depth": 0,
    "held_back": 0,
    "oldest_waiting_at": None,
    "in_progress": 0,
    "resolved_today": 0,
}


def _presence_counts(
    prefix: str, *, count: str, now: datetime, distinct: bool = False
) -> dict[str, Count]:
    """Agents by presence. Only pages that still send heartbeats count: a row
    saying "online" for a closed tab is offline in all but name (the same
    timeout dispatch applies before offering work)."""
    connected = Q(**{f"{prefix}last_heartbeat_at__gte": now - PRESENCE_TIMEOUT})
    statuses = {
        "agents_online": PresenceStatus.ONLINE,
        "agents_paused": PresenceStatus.PAUSED,
        "agents_away": PresenceStatus.AWAY,
    }
    return {
        name: Count(count, distinct=distinct, filter=connected & Q(**{f"{prefix}status": status}))
        for name, status in statuses.items()
    }


def _approved_members() -> QuerySet[PoolMembership]:
    return PoolMembership.objects.approved().filter(
        agent__is_active=True, agent__account_type=AccountType.AGENT
    )


def _qualified_agents_online(now: datetime) -> Subquery:
    """For each gig row: the online agents who meet every requirement of the
    gig's tasks but capacity (an agent at their hold limit is busy, not gone)."""
    match = Match(
        agent=F("pk"),
        brand=OuterRef("brand_id"),
        gig=OuterRef("pk"),
        language=OuterRef("language"),
        min_level=OuterRef("min_language_level"),
        max_tasks=OuterRef("max_tasks_per_agent"),
    )
    agents = User.objects.filter(
        account_type=AccountType.AGENT,
        is_active=True,
        # Repeats the "is_online" rule as a join, so that the database starts
        # from the few online agents (an index) rather than from every agent.
        presence__status=PresenceStatus.ONLINE,
        presence__last_heartbeat_at__gte=now - PRESENCE_TIMEOUT,
    ).filter(*(rule.condition(match) for rule in RULES if not rule.is_capacity))
    # COUNT(*) without GROUP BY: one row, 0 when nobody qualifies.
    count = Func(F("pk"), function="COUNT", output_field=IntegerField())
    return Subquery(agents.order_by().annotate(n=count).values("n"), output_field=IntegerField())


def _live_row(figures: dict, now: datetime) -> dict[str, Any]:
    return {
        "queue_depth": figures["queue_depth"],
        "held_back": figures["held_back"],
        "oldest_wait_seconds": _wait_seconds(figures["oldest_waiting_at"], now),
        "in_progress": figures["in_progress"],
        "resolved_today": figures["resolved_today"],
    }


def brand_live_stats(*, brand: Brand) -> dict[str, Any]:
    """What the brand console's live view shows, now, for the brand and each of its gigs.

    - ``queue_depth``: tasks of active gigs waiting for an agent (queued, or
      offered to one and not yet claimed); ``held_back``: those of paused gigs;
    - ``oldest_wait_seconds``: age of the oldest of them (``None``: none waits);
    - ``agents_online`` / ``agents_paused`` / ``agents_away``: approved pool
      members by presence, heartbeat within ``PRESENCE_TIMEOUT``; per gig,
      the online agents who qualify for its tasks;
    - ``in_progress``: claimed tasks; ``resolved_today``: since midnight in
      the brand's time zone.

    Leases and reservations past their time are expired first, so the
    figures never count a task that only a late timer still calls claimed.
    Three queries after that, however many gigs and tasks.
    """
    expire_overdue()
    now = timezone.now()
    resolved_today = Q(
        status=TaskStatus.RESOLVED, resolved_at__gte=_start_of_day(now, brand.time_zone)
    )
    figures = _task_figures(
        Task.objects.for_brand(brand), group_by="gig_id", resolved_today=resolved_today
    )
    gigs = (
        Gig.objects.for_brand(brand)
        # Closed gigs drop off once their last open task is done.
        .filter(~Q(status=GigStatus.CLOSED) | Q(pk__in=list(figures)))
        .annotate(agents_online=_qualified_agents_online(now))
    )
    gig_rows = [
        {
            "gig": gig,
            **_live_row(figures.get(gig.pk, _NO_TASKS), now),
            "agents_online": gig.agents_online,
        }
        for gig in gigs
    ]
    gig_rows.sort(
        key=lambda row: (
            _GIG_STATUS_ORDER.get(row["gig"].status, 3),
            -row["queue_depth"],
            row["gig"].title.lower(),
            row["gig"].pk,
        )
    )
    presence = (
        _approved_members()
        .filter(brand=brand)
        .aggregate(**_presence_counts("agent__presence__", count="pk", now=now))
    )
    oldest = [f["oldest_waiting_at"] for f in figures.values() if f["oldest_waiting_at"]]
    return {
        "as_of": now,
        "queue_depth": sum(row["queue_depth"] for row in gig_rows),
        "held_back": sum(row["held_back"] for row in gig_rows),
        "oldest_wait_seconds": _wait_seconds(min(oldest, default=None), now),
        **presence,
        "in_progress": sum(row["in_progress"] for row in gig_rows),
        "resolved_today": sum(row["resolved_today"] for row in gig_rows),
        "gigs": gig_rows,
    }


def platform_live_stats() -> dict[str, Any]:
    """Every brand's live figures (as in ``brand_live_stats``, without the
    per-gig rows), busiest first, and the platform's totals.

    For the staff console: the one read here that crosses tenants, on purpose.
    The totals count each agent once, however many pools they are in.
    Four queries after expiry, however many brands.
    """
    expire_overdue()
    now = timezone.now()
    brands = list(Brand.objects.order_by("name", "pk"))
    if not brands:
        return {"as_of": now, "brands": [], "totals": _platform_totals([], now)}
    # "Today" is each brand's own: one condition per time zone in use.
    zones = sorted({brand.time_zone for brand in brands})
    resolved_today = Q(status=TaskStatus.RESOLVED) & functools.reduce(
        operator.or_,
        [Q(brand__time_zone=zone, resolved_at__gte=_start_of_day(now, zone)) for zone in zones],
    )
    figures = _task_figures(Task.objects.all(), group_by="brand_id", resolved_today=resolved_today)
    presence_counts = _presence_counts("agent__presence__", count="pk", now=now)
    presence = {
        row.pop("brand_id"): row
        for row in _approved_members().order_by().values("brand_id").annotate(**presence_counts)
    }
    no_presence = dict.fromkeys(presence_counts, 0)
    rows = [
        {
            "brand": brand,
            **_live_row(figures.get(brand.pk, _NO_TASKS), now),
            **presence.get(brand.pk, no_presence),
        }
        for brand in brands
    ]
    rows.sort(key=lambda row: (-row["queue_depth"], -row["in_progress"]))
    return {"as_of": now, "brands": rows, "totals": _platform_totals(rows, now)}


def _platform_totals(rows: list[dict], now: datetime) -> dict[str, Any]:
    agents = AgentPresence.objects.filter(
        agent__is_active=True,
        agent__account_type=AccountType.AGENT,
        agent__pool_memberships__status=PoolStatus.APPROVED,
    ).aggregate(**_presence_counts("", count="agent", now=now, distinct=True))
    oldest = [row["oldest_wait_seconds"] for row in rows if row["oldest_wait_seconds"] is not None]
    return {
        "brands": len(rows),
        "queue_depth": sum(row["queue_depth"] for row in rows),
        "held_back": sum(row["held_back"] for row in rows),
        "oldest_wait_seconds": max(oldest, default=None),
        **agents,
        "in_progress": sum(row["in_progress"] for row in rows),
        "resolved_today": sum(row["resolved_today"] for row in rows),
    }


# --- The agent's live queue and the customer's page (gigs.consumers) --------------------

# A queue page shows at most this many offers; the rest wait their turn.
LIVE_OFFERS_LIMIT = 50
# The customer's page shows the latest messages of a long conversation.
CUSTOMER_MESSAGES_LIMIT = 500


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _reserved_for(agent: User, now: datetime) -> QuerySet[Task]:
    """Directed offers waiting on the agent's answer, soonest to lapse first."""
    return Task.objects.filter(
        status=TaskStatus.OFFERED,
        reserved_for=agent,
        reservation_expires_at__gt=now,
        holder__isnull=True,
    ).order_by("reservation_expires_at", "id")


def _held_by(agent: User) -> QuerySet[Task]:
    return Task.objects.filter(holder=agent, status=TaskStatus.CLAIMED).order_by("claimed_at", "id")


def agent_live_snapshot(*, agent: User) -> dict[str, Any]:
    """What the agent's live queue shows now: presence, offers and held tasks.

    ``offers``: the tasks reserved for the agent, then the open tasks every
    eligibility rule lets them claim (so none while paused or at the hold
    limit), most urgent and oldest first, without those they passed on; at
    most ``LIVE_OFFERS_LIMIT``. ``held``: claimed tasks with the seconds
    billed so far. Reads only; the caller runs ``expire_overdue()`` first.
    Five queries.
    """
    now = timezone.now()
    offers = list(_reserved_for(agent, now).select_related("gig", "brand")[:LIVE_OFFERS_LIMIT])
    if len(offers) < LIVE_OFFERS_LIMIT:
        passed_on = TaskReservation.objects.filter(
            task=OuterRef("pk"), agent=agent, outcome=ReservationOutcome.REJECTED
        )
        open_tasks = offerable_tasks_for_agent(agent).filter(~Exists(passed_on))
        offers += open_tasks.select_related("gig", "brand")[: LIVE_OFFERS_LIMIT - len(offers)]
    held = list(_held_by(agent).select_related("gig", "brand"))
    sessions = {
        session.task_id: session
        for session in WorkSession.objects.filter(
            agent=agent, ended_at__isnull=True, task__in=[task.pk for task in held]
        )
    }
    presence = AgentPresence.objects.filter(agent=agent).values_list("status", flat=True).first()
    return {
        "presence": presence or PresenceStatus.OFFLINE,
        "offers": [task_offer_payload(task) for task in offers],
        "held": [
            {
                **task_offer_payload(task),
                "billable_seconds": (
                    session_billable_ms(sessions[task.pk], now) // 1000
                    if task.pk in sessions
                    else 0
                ),
            }
            for task in held
        ],
        "server_time": _iso(now),
    }


def agent_live_task_ids(*, agent: User) -> tuple[frozenset[int], frozenset[int]]:
    """The ids of the tasks the agent holds and of those reserved for them, in
    one query: a cheap check that a live queue still shows the right ones."""
    now = timezone.now()
    rows = Task.objects.filter(
        Q(holder=agent, status=TaskStatus.CLAIMED)
        | Q(
            status=TaskStatus.OFFERED,
            reserved_for=agent,
            reservation_expires_at__gt=now,
            holder__isnull=True,
        )
    ).values_list("pk", "status")
    held = frozenset(pk for pk, status in rows if status == TaskStatus.CLAIMED)
    reserved = frozenset(pk for pk, status in rows if status == TaskStatus.OFFERED)
    return held, reserved


def customer_live_snapshot(*, task: Task) -> dict[str, Any]:
    """The customer's page: the task and its conversation, never internal notes."""
    messages = list(
        Message.objects.filter(task=task)
        .exclude(kind=MessageKind.NOTE)
        .order_by("-created_at", "-id")[:CUSTOMER_MESSAGES_LIMIT]
    )
    messages.reverse()
    return {
        "task": {
            "id": task.pk,
            "subject": task.subject,
            "status": task.status,
            "csat_score": task.csat_score,
        },
        "messages": [message_payload(message) for message in messages],
    }
