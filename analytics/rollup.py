"""The roll-up: from the task event history to ``MetricHour`` rows.

Each task's figures come from ``gigs.metrics.task_facts`` (and
``gigs.sla.task_sla`` for its SLA checks), the reference for
docs/metrics.md, and are added to the bucket of the hour each one belongs
to. ``rollup_recompute`` rebuilds every bucket of a brand within a range
from scratch, so it can be run again at will and always leaves the same rows.
``rollup_pending`` (the periodic job) finds what changed since its last pass,
including late events such as a rating that came a day after the close, and
recomputes the hours those tasks count in.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from analytics.models import CREATED_BY_HOUR, HANDLE_BIN_BOUNDS, MetricDay, MetricHour, RollupRun
from brands.models import Brand
from brands.selectors import calendar_for
from gigs.metrics import Event, next_responses, task_facts
from gigs.models import Gig, Task, TaskEvent, TaskEventKind, WorkRecord
from gigs.sla import SLATargets, task_sla
from payouts.models import Earning
from qa.models import Review

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
# Tasks whose events are read per database round trip: bounds memory on a
# recompute of months, and keeps each ``IN`` list short.
TASK_CHUNK = 2000
# A pass looks at events inserted this long before the previous pass began:
# a transaction still open then may commit its events with earlier insert
# times. Recomputing an hour twice changes nothing.
OVERLAP = timedelta(minutes=10)
# Dirty hours closer than this are recomputed as one range (one read).
MERGE_GAP = timedelta(hours=3)
MISSED_OFFER_KINDS = (TaskEventKind.RESERVATION_LAPSED, TaskEventKind.RESERVATION_DECLINED)

# The summable fields of MetricHour, in model order.
MEASURES = tuple(
    field.name
    for field in MetricHour._meta.concrete_fields
    if field.name not in {"id", "brand", "gig", "agent", "language", "hour", "currency"}
)


def local_hour(instant: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the local hour holding ``instant`` begins.

    Cut in the brand's zone, so a half-hour offset gives :30 UTC starts, and
    the repeated hour of a DST change gives two distinct buckets.
    """
    local = instant.astimezone(zone)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def handle_bin(seconds: int) -> int:
    """The index of the handle-time distribution bin ``seconds`` falls in."""
    for index, bound in enumerate(HANDLE_BIN_BOUNDS):
        if seconds < bound:
            return index
    return len(HANDLE_BIN_BOUNDS)


@dataclass(frozen=True)
class TaskInputs:
    """Everything one task contributes from: its row's fixed fields, its
    events, and the work records, earnings and reviews attached to it."""

    task_id: int
    gig_id: int
    language: str
    events: list[Event]
    # (agent_id, started_at, ended_at, billable_seconds, earning amount, earning + fee)
    records: list[tuple[int, datetime, datetime, int, int, int]]
    # (agent_id, submitted_at, score, passed)
    reviews: list[tuple[int, datetime, float, bool]]


BucketKey = tuple[int, int | None, str, datetime]  # gig, agent, language, hour


class Buckets:
    """Sums per bucket key, built task by task."""

    def __init__(self, zone: ZoneInfo, hours: tuple[datetime, datetime] | None = None) -> None:
        self.zone = zone
        # Only contributions to hours in [start, end) are kept, when given.
        self.hours = hours
        self.sums: dict[BucketKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, gig_id: int, agent_id: int | None, language: str, at: datetime, **values) -> None:
        hour = local_hour(at, self.zone)
        if self.hours is not None and not (self.hours[0] <= hour < self.hours[1]):
            return
        bucket = self.sums[(gig_id, agent_id, language, hour)]
        for name, value in values.items():
            bucket[name] += value

    def add_task(self, task: TaskInputs, targets: SLATargets, calendar) -> None:
        """Every figure of one task, each in its hour (docs/metrics.md)."""
        facts = task_facts(task.events)
        gig, language = task.gig_id, task.language
        if facts.created_at is not None:
            creation: dict[str, int] = {
                "created": 1,
                "total_wait_seconds": round(facts.total_wait_seconds),
            }
            if facts.wait_seconds is not None:
                creation.update(waits=1, wait_seconds=round(facts.wait_seconds))
            self.add(gig, facts.first_claimed_by_id, language, facts.created_at, **creation)
        if facts.first_response_seconds is not None:
            self.add(
                gig,
                facts.first_replied_by_id,
                language,
                facts.first_replied_at,
                first_responses=1,
                first_response_seconds=round(facts.first_response_seconds),
            )
        for reply, seconds in next_responses(task.events):
            self.add(
                gig,
                reply.agent_id,
                language,
                reply.occurred_at,
                next_responses=1,
                next_response_seconds=round(seconds),
            )
        for event in task.events:
            if event.kind in MISSED_OFFER_KINDS:
                self.add(gig, event.agent_id, language, event.occurred_at, offers_missed=1)
        for agent_id, started_at, ended_at, billable, earned, _ in task.records:
            self.add(
                gig,
                agent_id,
                language,
                ended_at,
                sessions=1,
                billable_seconds=billable,
                engaged_seconds=round((ended_at - started_at).total_seconds()),
                earnings_minor=earned,
            )
        for agent_id, submitted_at, score, passed in task.reviews:
            self.add(
                gig,
                agent_id,
                language,
                submitted_at,
                qa_reviews=1,
                qa_passed=int(passed),
                qa_score_tenths=round(score * 10),
            )
        if facts.closed:
            self._add_close(task, facts, targets, calendar)

    def _add_close(self, task: TaskInputs, facts, targets: SLATargets, calendar) -> None:
        closed_at = facts.closed_at
        close: dict[str, int] = {
            "closed": 1,
            facts.outcome: 1,  # resolved, escalated or cancelled
            "first_contact_resolutions": int(facts.first_contact_resolution),
            "back_and_forths": facts.back_and_forths,
            "spend_minor": sum(spend for *_, spend in task.records),
        }
        if facts.csat_score is not None:
            close.update(
                rated=1,
                satisfied=int(bool(facts.csat_satisfied)),
                csat_points=facts.csat_score,
            )
        if task.records:
            handle = sum(record[3] for record in task.records)
            close.update(handled=1, handle_seconds=handle)
            close[f"handle_bin_{handle_bin(handle)}"] = 1
        self.add(task.gig_id, facts.closed_by_id, task.language, closed_at, **close)
        # A closed task's checks are all decided as of its close.
        for check in task_sla(task.events, targets, calendar, closed_at):
            if check.decided:
                self.add(
                    task.gig_id,
                    check.agent_id,
                    task.language,
                    closed_at,
                    sla_checks=1,
                    sla_breaches=int(check.breached),
                )

    def rows(self, brand_id: int, currencies: dict[int, str]) -> list[MetricHour]:
        return [
            MetricHour(
                brand_id=brand_id,
                gig_id=gig_id,
                agent_id=agent_id,
                language=language,
                hour=hour,
                currency=currencies[gig_id],
                **values,
            )
            for (gig_id, agent_id, language, hour), values in self.sums.items()
            if any(values.values())
        ]


def _chunks(values: Iterable[int], size: int) -> Iterator[list[int]]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


def task_inputs(task_ids: list[int]) -> Iterator[TaskInputs]:
    """The inputs of ``task_ids``, read in a few queries per chunk of tasks."""
    for chunk in _chunks(sorted(task_ids), TASK_CHUNK):
        tasks = {
            pk: (gig_id, language)
            for pk, gig_id, language in Task.objects.filter(pk__in=chunk).values_list(
                "pk", "gig_id", "language"
            )
        }
        events: dict[int, list[Event]] = defaultdict(list)
        for task_id, kind, at, agent_id, data in (
            TaskEvent.objects.filter(task_id__in=chunk)
            .order_by("task_id", "occurred_at", "id")
            .values_list("task_id", "kind", "occurred_at", "agent_id", "data")
        ):
            events[task_id].append(Event(kind, at, agent_id, data))
        earnings = {
            record_id: (amount, amount + fee)
            for record_id, amount, fee in Earning.objects.filter(
                work_record__task_id__in=chunk, clawback_posting__isnull=True
            ).values_list("work_record_id", "amount_minor", "fee_minor")
        }
        records: dict[int, list] = defaultdict(list)
        for pk, task_id, agent_id, started_at, ended_at, billable in WorkRecord.objects.filter(
            task_id__in=chunk
        ).values_list("pk", "task_id", "agent_id", "started_at", "ended_at", "billable_seconds"):
            earned, spend = earnings.get(pk, (0, 0))
            records[task_id].append((agent_id, started_at, ended_at, billable, earned, spend))
        reviews: dict[int, list] = defaultdict(list)
        for task_id, agent_id, submitted_at, score, passed in (
            counting_reviews()
            .filter(task_id__in=chunk)
            .values_list("task_id", "agent_id", "submitted_at", "score", "passed")
        ):
            reviews[task_id].append((agent_id, submitted_at, float(score), bool(passed)))
        for task_id, (gig_id, language) in tasks.items():
            yield TaskInputs(
                task_id=task_id,
                gig_id=gig_id,
                language=language,
                events=events.get(task_id, []),
                records=records.get(task_id, []),
                reviews=reviews.get(task_id, []),
            )


def counting_reviews():
    """The reviews QA figures count: submitted, scored, not calibration."""
    return Review.objects.counting().filter(submitted_at__isnull=False)


def _tasks_in_range(brand: Brand, start: datetime, end: datetime) -> set[int]:
    """Every task with a figure that may fall in [start, end): an event, a
    finished work session or a counting review in it. (A rating counts at
    the close, an event of its own.)"""
    task_ids = set(
        TaskEvent.objects.filter(brand=brand, occurred_at__gte=start, occurred_at__lt=end)
        .values_list("task_id", flat=True)
        .distinct()
    )
    task_ids.update(
        WorkRecord.objects.filter(brand=brand, ended_at__gte=start, ended_at__lt=end).values_list(
            "task_id", flat=True
        )
    )
    task_ids.update(
        counting_reviews()
        .filter(brand=brand, submitted_at__gte=start, submitted_at__lt=end)
        .values_list("task_id", flat=True)
    )
    return task_ids


@dataclass(frozen=True)
class RecomputeResult:
    tasks: int
    rows: int


def rollup_recompute(brand: Brand, start: datetime, end: datetime) -> RecomputeResult:
    """Rebuild every ``MetricHour`` of ``brand`` whose hour starts in [start, end).

    ``start`` is taken down and ``end`` up to the brand's local hours.
    Idempotent: reads only the event history and the rows attached to it.
    One transaction per call, holding the brand's row so that two passes over
    the same hours queue rather than interleave their deletes and inserts.
    """
    zone = ZoneInfo(brand.time_zone)
    start = local_hour(start, zone)
    end_hour = local_hour(end, zone)
    end = end_hour if end_hour == end else end_hour + HOUR
    targets = {gig.pk: SLATargets.from_gig(gig) for gig in Gig.objects.filter(brand=brand)}
    currencies = dict(Gig.objects.filter(brand=brand).values_list("pk", "currency"))
    calendar = calendar_for(brand)
    with transaction.atomic():
        Brand.objects.select_for_update().filter(pk=brand.pk).first()
        buckets = Buckets(zone, hours=(start, end))
        task_ids = _tasks_in_range(brand, start, end)
        for task in task_inputs(list(task_ids)):
            buckets.add_task(task, targets[task.gig_id], calendar)
        MetricHour.objects.filter(brand=brand, hour__gte=start, hour__lt=end).delete()
        rows = MetricHour.objects.bulk_create(buckets.rows(brand.pk, currencies), batch_size=2000)
        days_rebuild(brand, zone, start, end)
    return RecomputeResult(tasks=len(task_ids), rows=len(rows))


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def days_rebuild(brand: Brand, zone: ZoneInfo, start: datetime, end: datetime) -> int:
    """Rewrite the ``MetricDay`` rows of every local day touching [start, end)
    from that whole day's ``MetricHour`` rows: per agent, and over all agents."""
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    per_agent: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    all_agents: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    hours = MetricHour.objects.filter(
        brand=brand,
        hour__gte=_local_midnight(first, zone),
        hour__lt=_local_midnight(last + timedelta(days=1), zone),
    ).values_list("gig_id", "agent_id", "language", "currency", "hour", *MEASURES)
    for gig_id, agent_id, language, currency, hour, *values in hours.iterator(chunk_size=5000):
        local = hour.astimezone(zone)
        keys = (
            (gig_id, agent_id, language, currency, local.date()),
            (gig_id, language, currency, local.date()),
        )
        for sums in (per_agent[keys[0]], all_agents[keys[1]]):
            for name, value in zip(MEASURES, values, strict=True):
                sums[name] += value
            sums[CREATED_BY_HOUR[local.hour]] += values[0]  # MEASURES[0] is "created"
    rows = [
        MetricDay(
            brand=brand,
            gig_id=gig_id,
            agent_id=agent_id,
            all_agents=False,
            language=language,
            currency=currency,
            day=day,
            **sums,
        )
        for (gig_id, agent_id, language, currency, day), sums in per_agent.items()
    ] + [
        MetricDay(
            brand=brand,
            gig_id=gig_id,
            agent_id=None,
            all_agents=True,
            language=language,
            currency=currency,
            day=day,
            **sums,
        )
        for (gig_id, language, currency, day), sums in all_agents.items()
    ]
    MetricDay.objects.filter(brand=brand, day__gte=first, day__lte=last).delete()
    MetricDay.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def rollup_recompute_all(brand: Brand, *, now: datetime | None = None) -> RecomputeResult:
    """Rebuild all of ``brand``'s roll-ups, from its first event to now, a week at a time."""
    now = now or timezone.now()
    first = TaskEvent.objects.filter(brand=brand).aggregate(first=Min("occurred_at"))["first"]
    reviewed = counting_reviews().filter(brand=brand).aggregate(first=Min("submitted_at"))["first"]
    starts = [moment for moment in (first, reviewed) if moment is not None]
    tasks = rows = 0
    if starts:
        start = min(starts)
        zone = ZoneInfo(brand.time_zone)
        MetricHour.objects.filter(brand=brand, hour__lt=local_hour(start, zone)).delete()
        MetricDay.objects.filter(brand=brand, day__lt=start.astimezone(zone).date()).delete()
        while start <= now:
            result = rollup_recompute(brand, start, min(start + timedelta(days=7), now + HOUR))
            tasks, rows = tasks + result.tasks, rows + result.rows
            start += timedelta(days=7)
    return RecomputeResult(tasks=tasks, rows=rows)


def _dirty_task_ids(since: datetime) -> set[int]:
    """Tasks with something new since ``since``: an event written, a review
    submitted or amended, an earning clawed back."""
    task_ids = set(
        TaskEvent.objects.filter(created_at__gte=since).values_list("task_id", flat=True).distinct()
    )
    task_ids.update(
        counting_reviews().filter(updated_at__gte=since).values_list("task_id", flat=True)
    )
    task_ids.update(
        Earning.objects.filter(clawed_back_at__gte=since).values_list(
            "work_record__task_id", flat=True
        )
    )
    return task_ids


def _dirty_hours(task_ids: set[int]) -> dict[int, set[datetime]]:
    """Per brand, every hour the tasks count in, now or before their latest
    change: the hour of each of their events (a reopen leaves the old close's
    hour to be emptied), work records and reviews."""
    zones = {pk: ZoneInfo(tz) for pk, tz in Brand.objects.values_list("pk", "time_zone")}
    hours: dict[int, set[datetime]] = defaultdict(set)
    for chunk in _chunks(sorted(task_ids), TASK_CHUNK):
        moments = list(
            TaskEvent.objects.filter(task_id__in=chunk).values_list("brand_id", "occurred_at")
        )
        moments += WorkRecord.objects.filter(task_id__in=chunk).values_list("brand_id", "ended_at")
        moments += Review.objects.filter(task_id__in=chunk, submitted_at__isnull=False).values_list(
            "brand_id", "submitted_at"
        )
        for brand_id, at in moments:
            hours[brand_id].add(local_hour(at, zones[brand_id]))
    return hours


def hour_ranges(hours: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted hours merged into [start, end) ranges, joining gaps up to ``MERGE_GAP``."""
    ranges: list[tuple[datetime, datetime]] = []
    for hour in sorted(hours):
        if ranges and hour - ranges[-1][1] <= MERGE_GAP:
            ranges[-1] = (ranges[-1][0], hour + HOUR)
        else:
            ranges.append((hour, hour + HOUR))
    return ranges


def rollup_pending(*, now: datetime | None = None) -> RollupRun:
    """One pass of the periodic job: recompute the hours of every task that
    changed since the previous pass began (less ``OVERLAP``). The first pass
    ever recomputes everything."""
    now = now or timezone.now()
    previous = RollupRun.objects.filter(finished_at__isnull=False).order_by("-started_at").first()
    run = RollupRun.objects.create(started_at=now)
    if previous is None:
        run.since = None
        for brand in Brand.objects.all():
            result = rollup_recompute_all(brand, now=now)
            run.tasks += result.tasks
    else:
        run.since = previous.started_at - OVERLAP
        task_ids = _dirty_task_ids(run.since)
        run.events = TaskEvent.objects.filter(created_at__gte=run.since).count()
        brands = Brand.objects.in_bulk()
        for brand_id, hours in _dirty_hours(task_ids).items():
            run.hours += len(hours)
            for start, end in hour_ranges(hours):
                result = rollup_recompute(brands[brand_id], start, end)
                run.tasks += result.tasks
    run.finished_at = timezone.now()
    run.save()
    logger.info(
        "Roll-up pass: %s hours, %s tasks recomputed, %s new events.",
        run.hours,
        run.tasks,
        run.events,
    )
    return run


def last_rollup() -> RollupRun | None:
    """The latest finished pass: dashboards say how fresh their figures are."""
    return RollupRun.objects.filter(finished_at__isnull=False).order_by("-started_at").first()
