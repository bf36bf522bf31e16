"""Analytics benchmark: the roll-up and the brand dashboard over a large event history.

    python -m bench.analytics [--quick]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gigdesk_bench_analytics python -m bench.analytics

Without ``DATABASE_URL`` the embedded SQLite runs, in a file of its own in a
temporary folder. A PostgreSQL database is the benchmark's own: dropped and
created at the start (only if it carries the benchmark's label), dropped at
the end unless ``--keep-database``.

1. **The history.** 1,000,000 tasks and about 10,000,000 task events over
   100 brands and the last 90 days (a tenth with ``--quick``); one brand, in
   Europe/Berlin, holds a fifth of the tasks (200,000; 20,000 quick). Each
   task is created with a customer message and mostly claimed, answered over
   a few turns and resolved or escalated; some are cancelled, released and
   claimed again, offered to an agent who let the offer lapse, rated (some
   a day late) or left open. Busier in the brand's daytime and on weekdays.
   Written straight into the tables (``COPY`` on PostgreSQL, ``executemany``
   on SQLite), not through the services: dispatch has its own benchmark.
   There are no work sessions, earnings or QA reviews, so handle time, spend
   and QA figures are empty; the roll-up still reads their tables.
2. **The roll-up.** ``rollup_recompute_all`` for the big brand (events per
   second), then for every other brand; then ``rollup_recompute`` of one
   local day of the big brand, several times.
3. **The dashboard** of the big brand over 90 days: the page
   (``/brands/<slug>/analytics/``, Django's test client, signed in as a
   brand admin, in this process) and each of its reads on its own
   (``figures`` for the period and the previous one, ``figures_by`` agent and
   gig, ``figures_by_day``, ``volume_by_weekday_hour``), then the same sums
   written by hand in SQL over the roll-ups, then the nearest figures
   computed by hand-written SQL straight from the raw events (volume and
   wait from created/claimed pairs, outcomes per agent, CSAT from ratings,
   volume by weekday × hour). p50/p95 of each.
4. **Memory**: the process's peak resident set after each phase, and the
   peak Python allocation (tracemalloc) of one day's recompute and of one
   page.

Ends with one line of JSON. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import (
    drop_postgres_database,
    emit_json,
    latency_summary,
    machine_info,
    recreate_postgres_database,
    setup_django,
)

DATABASE_MARK = "Gigdesk benchmark database, dropped and recreated by python -m bench.analytics"
TASKS_FULL = 1_000_000
BRANDS = 100
DAYS = 90
BIG_SHARE = 0.2  # of all tasks, in the one brand the dashboard is measured for
BIG_AGENTS = 300
AGENTS_PER_BRAND = 12
BIG_LANGUAGES = ("en", "de", "fr", "es", "it", "nl")
OTHER_LANGUAGES = ("en", "de", "fr")
ZONES = (
    "Europe/London",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Sydney",
    "UTC",
    "Europe/Berlin",
    "America/Los_Angeles",
)
WRITE_CHUNK = 20_000  # tasks generated and written at a time: bounds the memory of seeding
SEED = 8
AIM_PAGE_P95_MS = 300.0
AIM_PAGE_VS_SQL = 3.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.analytics", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the history, fewer samples"
    )
    parser.add_argument("--tasks", type=int, help="tasks to seed over all brands")
    parser.add_argument("--samples", type=int, help="timed repetitions of each read")
    parser.add_argument(
        "--big-brand-rollup-only",
        action="store_true",
        help="roll up the big brand only (the others' roll-ups are then missing)",
    )
    parser.add_argument("--keep-database", action="store_true", help="leave the database behind")
    return parser.parse_args(argv)


def peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# --- The history ------------------------------------------------------------------------


@dataclass
class World:
    now: datetime
    start: datetime
    big_brand_id: int = 0
    big_slug: str = "bench-big"
    admin_id: int = 0
    tasks: int = 0
    events: int = 0
    big_tasks: int = 0
    big_events: int = 0
    per_kind: dict[str, int] = field(default_factory=dict)


def _hour_weights(zone: ZoneInfo, start: datetime, hours: int) -> list[float]:
    """Cumulative weights of each UTC hour since ``start``: support volume
    peaks in the brand's local afternoon and drops at night and weekends."""
    profile = [
        0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.4, 0.7, 1.0, 1.2, 1.3, 1.3,
        1.2, 1.25, 1.3, 1.25, 1.1, 1.0, 0.9, 0.8, 0.6, 0.45, 0.3, 0.2,
    ]  # fmt: skip
    total = 0.0
    cumulative = []
    for offset in range(hours):
        local = (start + timedelta(hours=offset)).astimezone(zone)
        weight = profile[local.hour] * (0.55 if local.weekday() >= 5 else 1.0)
        total += weight
        cumulative.append(total)
    return cumulative


def _task_history(
    rng: random.Random, agents: list[int], latest: datetime, t0: datetime
) -> tuple[list[tuple[str, datetime, int | None, str]], str]:
    """One task's events ``(kind, at, agent, data json)`` and its final status."""
    events: list[tuple[str, datetime, int | None, str]] = []
    now = t0

    def add(kind: str, seconds: float, agent: int | None = None, data: str = "{}") -> None:
        nonlocal now
        now = now + timedelta(seconds=seconds)
        if now < latest:
            events.append((kind, now, agent, data))

    add("created", 0)
    add("customer_message", 0)
    roll = rng.random()
    if roll < 0.04:  # a directed offer the agent let lapse, then back to the queue
        offered = rng.choice(agents)
        add("offered", 1, offered)
        add("reservation_lapsed", 30, offered)
        add("queued", 0)
    if roll > 0.97:  # the customer gave up before anyone claimed it
        add("cancelled", rng.expovariate(1 / 900))
        return events, "cancelled"
    agent = rng.choice(agents)
    add("claimed", rng.expovariate(1 / 150), agent)
    if rng.random() < 0.06:  # released (or the lease ran out) and claimed by another
        add("agent_message", rng.uniform(30, 240), agent)
        add("released", rng.uniform(60, 600), agent, '{"reason": "released"}')
        add("queued", 0)
        agent = rng.choice(agents)
        add("claimed", rng.expovariate(1 / 200), agent)
    turns = rng.randint(2, 5)
    for turn in range(turns):
        add("agent_message", rng.uniform(20, 400), agent)
        if turn < turns - 1:
            add("customer_message", rng.expovariate(1 / 600))
    close = rng.random()
    if close < 0.03:
        return events, "claimed"  # still open
    if close < 0.14:
        add("escalated", rng.uniform(30, 300), agent)
        return events, "escalated"
    add("resolved", rng.uniform(30, 300), agent)
    if rng.random() < 0.45:
        late = rng.random() < 0.1
        score = rng.choices((1, 2, 3, 4, 5), weights=(6, 5, 10, 29, 50))[0]
        add("rated", 86400 + rng.uniform(0, 7200) if late else rng.expovariate(1 / 1800),
            None, f'{{"score": {score}}}')  # fmt: skip
    status = "resolved"
    return events, status


class TableWriter:
    """Writes rows of one model straight into its table: ``COPY`` on
    PostgreSQL, ``executemany`` on SQLite. Rows are in column order."""

    def __init__(self, model, columns: list[str]):
        from django.db import connection

        self.connection = connection
        self.table = model._meta.db_table
        self.columns = columns
        self.vendor = connection.vendor
        fields = {f.column: f for f in model._meta.concrete_fields}
        self.datetime_columns = [
            index
            for index, column in enumerate(columns)
            if fields[column].get_internal_type() == "DateTimeField"
        ]

    def write(self, rows: list[tuple]) -> None:
        if not rows:
            return
        with self.connection.cursor() as cursor:
            if self.vendor == "postgresql":
                names = ", ".join(self.columns)
                with cursor.cursor.copy(f"COPY {self.table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                adapt = self.connection.ops.adapt_datetimefield_value
                converted = []
                for row in rows:
                    row = list(row)
                    for index in self.datetime_columns:
                        if row[index] is not None:
                            row[index] = adapt(row[index])
                    converted.append(row)
                marks = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(
                    f"INSERT INTO {self.table} ({', '.join(self.columns)}) VALUES ({marks})",
                    converted,
                )


def _plain(value: Any) -> Any:
    # Django's choices are str/int subclasses; the drivers want the plain value.
    return getattr(value, "value", value)


def seed(tasks_total: int, now: datetime) -> World:
    """Brands, gigs, agents and the task and event history, written in chunks."""
    from django.db import connection, transaction

    from brands.models import Brand, BrandMembership, BrandRole, PoolMembership, PoolStatus
    from gigs.models import Gig, PayModel, Task, TaskEvent
    from marketplace.models import AccountType, User

    rng = random.Random(SEED)
    start = (now - timedelta(days=DAYS)).replace(minute=0, second=0, microsecond=0)
    world = World(now=now, start=start)
    brands = Brand.objects.bulk_create(
        [
            Brand(
                name="Bench Big Brand" if n == 0 else f"Bench brand {n}",
                slug=world.big_slug if n == 0 else f"bench-{n}",
                support_email=f"support{n}@bench.test",
                time_zone="Europe/Berlin" if n == 0 else ZONES[n % len(ZONES)],
            )
            for n in range(BRANDS)
        ]
    )
    world.big_brand_id = brands[0].pk
    admin = User.objects.create_user(
        email="admin@bench-big.test", password=None, full_name="Bench Admin"
    )
    BrandMembership.objects.create(brand=brands[0], user=admin, role=BrandRole.ADMIN)
    world.admin_id = admin.pk
    gigs: dict[int, list[Gig]] = {}
    agents: dict[int, list[int]] = {}
    agent_number = 0
    for index, brand in enumerate(brands):
        languages = BIG_LANGUAGES if index == 0 else OTHER_LANGUAGES[: 1 + index % 3]
        gigs[brand.pk] = Gig.objects.bulk_create(
            [
                Gig(
                    brand=brand,
                    title=f"Support ({language.upper()})",
                    description="Benchmark gig.",
                    language=language,
                    pay_model=PayModel.PER_RESOLUTION,
                    rate_minor=300,
                    currency="EUR",
                )
                for language in languages
            ]
        )
        count = BIG_AGENTS if index == 0 else AGENTS_PER_BRAND
        users = User.objects.bulk_create(
            [
                User(
                    email=f"agent{agent_number + n}@bench.test",
                    full_name=f"Agent {agent_number + n}",
                    account_type=AccountType.AGENT,
                    password="!",
                )
                for n in range(count)
            ]
        )
        agent_number += count
        PoolMembership.objects.bulk_create(
            [
                PoolMembership(
                    brand=brand, agent=user, status=PoolStatus.APPROVED, tier=rng.randint(1, 5)
                )
                for user in users
            ]
        )
        agents[brand.pk] = [user.pk for user in users]

    big_tasks = round(tasks_total * BIG_SHARE)
    others = BRANDS - 1
    shares = [big_tasks] + [
        (tasks_total - big_tasks) // others + (1 if n < (tasks_total - big_tasks) % others else 0)
        for n in range(others)
    ]
    task_columns = [f.column for f in Task._meta.concrete_fields]
    task_defaults = {f.column: _plain(f.get_default()) for f in Task._meta.concrete_fields}
    event_columns = [f.column for f in TaskEvent._meta.concrete_fields]
    assert event_columns == [
        "id", "task_id", "brand_id", "gig_id", "agent_id", "kind", "occurred_at", "data",
        "created_at",
    ], event_columns  # fmt: skip
    task_writer = TableWriter(Task, task_columns)
    event_writer = TableWriter(TaskEvent, event_columns)
    hours = DAYS * 24
    latest = now - timedelta(minutes=5)
    task_id = event_id = 0
    per_kind: dict[str, int] = {}
    for brand, count in zip(brands, shares, strict=True):
        zone = ZoneInfo(brand.time_zone)
        cumulative = _hour_weights(zone, start, hours)
        hour_offsets = list(range(hours))
        brand_gigs = gigs[brand.pk]
        brand_agents = agents[brand.pk]
        brand_events = 0
        written = 0
        while written < count:
            size = min(WRITE_CHUNK, count - written)
            slots = rng.choices(hour_offsets, cum_weights=cumulative, k=size)
            task_rows, event_rows = [], []
            for slot in slots:
                task_id += 1
                gig = rng.choice(brand_gigs)
                t0 = start + timedelta(hours=slot, seconds=rng.uniform(0, 3600))
                history, status = _task_history(rng, brand_agents, latest, t0)
                if not history:
                    history, status = [("created", latest - timedelta(minutes=1), None, "{}")], ""
                if status != "cancelled" and not any(
                    kind in ("resolved", "escalated") for kind, *_ in history
                ):
                    claimed = any(kind == "claimed" for kind, *_ in history)
                    status = "claimed" if claimed else "queued"
                row = dict(task_defaults)
                claims = [at for kind, at, *_ in history if kind == "claimed"]
                closes = [
                    at for kind, at, *_ in history if kind in ("resolved", "escalated", "cancelled")
                ]
                rating = next(
                    (json.loads(data)["score"] for kind, _, _, data in history if kind == "rated"),
                    None,
                )
                row.update(
                    id=task_id,
                    brand_id=brand.pk,
                    gig_id=gig.pk,
                    subject=f"Question {task_id}",
                    language=gig.language,
                    status=status,
                    created_at=history[0][1],
                    updated_at=history[-1][1],
                    claimed_at=claims[0] if claims else None,
                    resolved_at=closes[0] if status == "resolved" else None,
                    closed_at=closes[0] if closes else None,
                    csat_score=rating,
                    csat_at=next((at for kind, at, *_ in history if kind == "rated"), None),
                )
                task_rows.append(tuple(row[column] for column in task_columns))
                for kind, at, agent, data in history:
                    event_id += 1
                    per_kind[kind] = per_kind.get(kind, 0) + 1
                    event_rows.append(
                        (event_id, task_id, brand.pk, gig.pk, agent, kind, at, data, at)
                    )
            with transaction.atomic():
                task_writer.write(task_rows)
                event_writer.write(event_rows)
            brand_events += len(event_rows)
            written += size
        if brand.pk == world.big_brand_id:
            world.big_tasks, world.big_events = count, brand_events
    world.tasks, world.events, world.per_kind = task_id, event_id, per_kind
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (Task, TaskEvent):
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
            # What autovacuum would have done by the time anyone looks at a dashboard.
            cursor.execute("ANALYZE")
    return world


# --- Timing --------------------------------------------------------------------------------


def timed(function: Callable[[], Any], samples: int, warmup: int = 1) -> dict[str, Any]:
    for _ in range(warmup):
        function()
    seconds = []
    for _ in range(samples):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    summary = latency_summary(seconds)
    summary.pop("p99_ms", None)
    return summary


# --- Reads: the dashboard's, then by hand over the roll-ups and over the events ------------


def selector_reads(brand, period) -> dict[str, Callable[[], Any]]:
    """The dashboard's reads, as the page makes them: daily rows over all
    agents, per-agent daily rows for the agent table."""
    from analytics.selectors import (
        figures,
        figures_by,
        figures_by_day,
        metric_days,
        volume_by_weekday_hour,
    )

    def rows(span=period, per_agent=False):
        return metric_days(
            brand_ids=[brand.pk], first=span.first, last=span.last, per_agent=per_agent
        )

    previous = period.previous()
    return {
        "figures": lambda: figures(rows()),
        "figures_previous": lambda: figures(rows(previous)),
        "figures_by_agent": lambda: figures_by(rows(per_agent=True), "agent_id"),
        "figures_by_gig": lambda: figures_by(rows(), "gig_id"),
        "figures_by_day": lambda: figures_by_day(rows(), period),
        "volume_by_weekday_hour": lambda: volume_by_weekday_hour(rows(), period.zone),
    }


def _local(column: str, zone: str, vendor: str, offset_hours: int) -> str:
    """A UTC timestamp column as the brand's local time, in SQL. SQLite has no
    time zones: a fixed offset (the zone's at the period's start) stands in."""
    if vendor == "postgresql":
        return f"({column} AT TIME ZONE '{zone}')"
    return f"datetime({column}, '{offset_hours:+d} hours')"


def rollup_sql_reads(brand, period) -> dict[str, Callable[[], Any]]:
    """The dashboard's sums written by hand over ``analytics_metricday``."""
    from django.db import connection

    from analytics.models import CREATED_BY_HOUR
    from analytics.rollup import MEASURES

    vendor = connection.vendor
    sums = ", ".join(f"SUM({name})" for name in MEASURES)
    hours = ", ".join(f"SUM({name})" for name in CREATED_BY_HOUR)
    where = "brand_id = %s AND all_agents = %s AND day >= %s AND day <= %s"
    weekday = (
        "CAST(strftime('%%w', day) AS integer)"
        if vendor == "sqlite"
        else "EXTRACT(ISODOW FROM day)"
    )
    table = "analytics_metricday"
    queries = {
        "figures": (f"SELECT currency, {sums} FROM {table} WHERE {where} GROUP BY currency", True),
        "figures_by_agent": (
            f"SELECT agent_id, currency, {sums} FROM {table} WHERE {where} "
            "GROUP BY agent_id, currency",
            False,
        ),
        "figures_by_gig": (
            f"SELECT gig_id, currency, {sums} FROM {table} WHERE {where} GROUP BY gig_id, currency",
            True,
        ),
        "figures_by_day": (
            f"SELECT day, currency, {sums} FROM {table} WHERE {where} GROUP BY day, currency",
            True,
        ),
        "volume_by_weekday_hour": (
            f"SELECT {weekday}, {hours} FROM {table} WHERE {where} GROUP BY 1",
            True,
        ),
    }
    return {
        name: _sql(sql, [brand.pk, everyone, period.first, period.last])
        for name, (sql, everyone) in queries.items()
    }


def event_sql_reads(brand, period) -> dict[str, Callable[[], Any]]:
    """The nearest figures straight from ``gigs_taskevent``, by hand-written SQL."""
    from django.db import connection

    vendor = connection.vendor
    offset = int(period.start.utcoffset().total_seconds() // 3600)
    if vendor == "postgresql":
        seconds = "EXTRACT(EPOCH FROM (claims.first_claim - created.occurred_at))"
        score = "CAST(data->>'score' AS integer)"
    else:
        seconds = "(julianday(claims.first_claim) - julianday(created.occurred_at)) * 86400"
        score = "CAST(json_extract(data, '$.score') AS integer)"
    local = _local("occurred_at", brand.time_zone, vendor, offset)
    weekday = (
        f"CAST(strftime('%%w', {local}) AS integer)"
        if vendor == "sqlite"
        else f"EXTRACT(ISODOW FROM {local})"
    )
    hour = (
        f"CAST(strftime('%%H', {local}) AS integer)"
        if vendor == "sqlite"
        else f"EXTRACT(HOUR FROM {local})"
    )
    in_period = "brand_id = %s AND occurred_at >= %s AND occurred_at < %s"
    args = [brand.pk, period.start, period.end]
    queries = {
        # Tasks created in the period and the mean wait to their first claim.
        "volume_and_wait": (
            f"SELECT COUNT(*), AVG({seconds}) FROM gigs_taskevent AS created "
            "LEFT JOIN (SELECT task_id, MIN(occurred_at) AS first_claim FROM gigs_taskevent "
            "WHERE brand_id = %s AND kind = 'claimed' AND occurred_at >= %s GROUP BY task_id) "
            "AS claims ON claims.task_id = created.task_id "
            "WHERE created.brand_id = %s AND created.kind = 'created' "
            "AND created.occurred_at >= %s AND created.occurred_at < %s",
            [brand.pk, period.start, *args],
        ),
        "outcomes_by_agent": (
            "SELECT agent_id, kind, COUNT(*) FROM gigs_taskevent "
            f"WHERE {in_period} AND kind IN ('resolved', 'escalated', 'cancelled') "
            "GROUP BY agent_id, kind",
            args,
        ),
        "csat": (
            f"SELECT COUNT(*), AVG({score}), SUM(CASE WHEN {score} >= 4 THEN 1 ELSE 0 END) "
            f"FROM gigs_taskevent WHERE {in_period} AND kind = 'rated'",
            args,
        ),
        "volume_by_weekday_hour": (
            f"SELECT {weekday}, {hour}, COUNT(*) FROM gigs_taskevent "
            f"WHERE {in_period} AND kind = 'created' GROUP BY 1, 2",
            args,
        ),
    }
    return {name: _sql(sql, params) for name, (sql, params) in queries.items()}


def _sql(sql: str, params: list) -> Callable[[], list]:
    from django.db import connection

    # Raw cursors skip the ORM's conversion: SQLite compares datetimes as the
    # UTC text Django stores, so an aware local moment must become that text.
    params = [
        connection.ops.adapt_datetimefield_value(value) if isinstance(value, datetime) else value
        for value in params
    ]

    def run() -> list:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    return run


def page_get(world: World, period, extra: dict[str, str] | None = None) -> Callable[[], int]:
    from django.test import Client

    from marketplace.models import User

    client = Client(SERVER_NAME="localhost")
    client.force_login(User.objects.get(pk=world.admin_id))
    url = f"/brands/{world.big_slug}/analytics/"
    params = {"start": period.first.isoformat(), "end": period.last.isoformat(), **(extra or {})}

    def get() -> int:
        response = client.get(url, params)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.content[:500]!r}")
        return len(response.content)

    return get


def page_exists(world: World) -> bool:
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("frontend:brand_analytics", args=[world.big_slug])
    except NoReverseMatch:
        return False
    return True


def agreement(brand, period) -> dict[str, Any]:
    """The roll-up against the raw events for figures both define the same way."""
    from analytics.selectors import figures, metric_hours

    total = figures(metric_hours(brand_ids=[brand.pk], start=period.start, end=period.end))
    created, wait = event_sql_reads(brand, period)["volume_and_wait"]()[0]
    outcomes = event_sql_reads(brand, period)["outcomes_by_agent"]()
    resolved = sum(count for _, kind, count in outcomes if kind == "resolved")
    return {
        "created_rollup": total.created,
        "created_events": created,
        "resolved_rollup": total.resolved,
        "resolved_events": resolved,
        "wait_avg_rollup_s": round(total.wait_avg or 0, 1),
        "wait_avg_events_s": round(float(wait or 0), 1),
        "agree": total.created == created
        and total.resolved == resolved
        and abs((total.wait_avg or 0) - float(wait or 0)) < 1.0,
    }


# --- Main ----------------------------------------------------------------------------------


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


@dataclass
class Database:
    url: str
    postgres: bool
    folder: str | None = None

    @classmethod
    def choose(cls) -> Database:
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith(("postgres://", "postgresql://")):
            return cls(url=url, postgres=True)
        folder = tempfile.mkdtemp(prefix="gigdesk-bench-analytics-")
        return cls(url=f"sqlite:///{folder}/analytics.sqlite3", postgres=False, folder=folder)

    def create(self) -> None:
        if self.postgres:
            recreate_postgres_database(self.url, mark=DATABASE_MARK)
            # One process, one connection: no pool needed.
            os.environ["DATABASE_POOL"] = "false"
        os.environ["DATABASE_URL"] = self.url

    def drop(self) -> None:
        if self.postgres:
            drop_postgres_database(self.url, mark=DATABASE_MARK)
        elif self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)


def _print_reads(title: str, reads: dict[str, dict[str, Any]]) -> None:
    print(title, flush=True)
    for name, summary in reads.items():
        print(
            f"  {name:<24} p50 {summary['p50_ms']:>9.2f} ms   p95 {summary['p95_ms']:>9.2f} ms",
            flush=True,
        )


def _sum_p(reads: dict[str, dict[str, Any]], key: str, names: Iterator[str] | None = None) -> float:
    return round(sum(reads[name][key] for name in (names or reads)), 2)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tasks_total = args.tasks or (TASKS_FULL // 10 if args.quick else TASKS_FULL)
    samples = args.samples or (15 if args.quick else 40)
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    database = Database.choose()
    database.create()
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    report: dict[str, Any] = {"benchmark": "analytics", "quick": args.quick, "samples": samples}
    failures: list[str] = []
    memory: dict[str, float] = {}
    try:
        call_command("migrate", interactive=False, verbosity=0)
        info = machine_info()
        report["machine"] = info
        print(
            f"machine: {info['cores']} cores ({info['usable_cores']} usable), {info['platform']}, "
            f"load average {info['load_average_1m_at_start']} at start\n"
            f"python {info['python']}, django {info['django']}, "
            f"database: {info['database']} {info['database_version']}",
            flush=True,
        )
        from django.utils import timezone

        from analytics.models import MetricDay, MetricHour
        from analytics.rollup import rollup_recompute, rollup_recompute_all
        from analytics.selectors import Period
        from brands.models import Brand
        from gigs.models import TaskEvent

        now = timezone.now().astimezone(UTC)
        memory["before_seed_mib"] = peak_rss_mib()
        seeding = time.perf_counter()
        world = seed(tasks_total, now)
        seed_s = time.perf_counter() - seeding
        memory["after_seed_mib"] = peak_rss_mib()
        report["history"] = {
            "brands": BRANDS,
            "days": DAYS,
            "tasks": world.tasks,
            "events": world.events,
            "big_brand_tasks": world.big_tasks,
            "big_brand_events": world.big_events,
            "events_per_kind": world.per_kind,
            "seed_s": round(seed_s, 1),
            "seed_events_per_s": round(world.events / seed_s),
        }
        print(
            f"history: {world.tasks:,} tasks, {world.events:,} events over {BRANDS} brands and "
            f"{DAYS} days in {seed_s:.1f} s; big brand {world.big_tasks:,} tasks, "
            f"{world.big_events:,} events",
            flush=True,
        )

        # --- The roll-up ------------------------------------------------------------------
        big = Brand.objects.get(pk=world.big_brand_id)
        rolling = time.perf_counter()
        result = rollup_recompute_all(big, now=now)
        big_s = time.perf_counter() - rolling
        memory["after_big_rollup_mib"] = peak_rss_mib()
        rollup: dict[str, Any] = {
            "big_brand_s": round(big_s, 1),
            "big_brand_events_per_s": round(world.big_events / big_s),
            "big_brand_tasks_per_s": round(world.big_tasks / big_s),
            "big_brand_rows": MetricHour.objects.filter(brand=big).count(),
            "big_brand_day_rows": MetricDay.objects.filter(brand=big).count(),
            # A task counted in two weeks' passes is read twice.
            "big_brand_task_reads": result.tasks,
        }
        print(
            f"roll-up, big brand: {big_s:.1f} s, {rollup['big_brand_events_per_s']:,} events/s, "
            f"{rollup['big_brand_rows']:,} hourly and {rollup['big_brand_day_rows']:,} daily rows",
            flush=True,
        )
        if not args.big_brand_rollup_only:
            rolling = time.perf_counter()
            for brand in Brand.objects.exclude(pk=big.pk).order_by("pk"):
                rollup_recompute_all(brand, now=now)
            others_s = time.perf_counter() - rolling
            other_events = world.events - world.big_events
            rollup["other_brands_s"] = round(others_s, 1)
            rollup["other_brands_events_per_s"] = round(other_events / others_s)
            rollup["all_rows"] = MetricHour.objects.count()
            print(
                f"roll-up, the other {BRANDS - 1} brands: {others_s:.1f} s, "
                f"{rollup['other_brands_events_per_s']:,} events/s; "
                f"{rollup['all_rows']:,} rows in all",
                flush=True,
            )
        memory["after_rollups_mib"] = peak_rss_mib()
        zone = ZoneInfo(big.time_zone)
        day = (now - timedelta(days=DAYS // 2)).astimezone(zone).date()
        day_period = Period(day, day, zone)
        day_events = TaskEvent.objects.filter(
            brand=big, occurred_at__gte=day_period.start, occurred_at__lt=day_period.end
        ).count()
        rollup["day"] = {
            "date": day.isoformat(),
            "events_that_day": day_events,
            **timed(
                lambda: rollup_recompute(big, day_period.start, day_period.end),
                samples=5 if args.quick else 10,
            ),
        }
        tracemalloc.start()
        rollup_recompute(big, day_period.start, day_period.end)
        rollup["day"]["python_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
        report["rollup"] = rollup
        print(
            f"recompute one day ({day}, {day_events:,} events): "
            f"p50 {rollup['day']['p50_ms']:.0f} ms, max {rollup['day']['max_ms']:.0f} ms",
            flush=True,
        )

        # --- The dashboard ------------------------------------------------------------------
        today = now.astimezone(zone).date()
        period = Period(today - timedelta(days=DAYS - 1), today, zone)
        selectors = {
            name: timed(read, samples) for name, read in selector_reads(big, period).items()
        }
        _print_reads(f"dashboard reads over the roll-ups, {DAYS} days:", selectors)
        by_hand = {
            name: timed(read, samples) for name, read in rollup_sql_reads(big, period).items()
        }
        _print_reads("the same sums by hand-written SQL over the roll-ups:", by_hand)
        events = {
            name: timed(read, max(3, samples // 3))
            for name, read in event_sql_reads(big, period).items()
        }
        _print_reads("nearest figures by hand-written SQL over the raw events:", events)
        dashboard: dict[str, Any] = {
            "period_days": DAYS,
            "selectors": selectors,
            "rollup_sql": by_hand,
            "event_sql": events,
            "selectors_p95_sum_ms": _sum_p(selectors, "p95_ms"),
            "rollup_sql_p95_sum_ms": _sum_p(by_hand, "p95_ms"),
            "event_sql_p95_sum_ms": _sum_p(events, "p95_ms"),
            "agreement": agreement(big, period),
        }
        if not dashboard["agreement"]["agree"]:
            failures.append(f"roll-up and raw events disagree: {dashboard['agreement']}")
        if page_exists(world):
            page = page_get(world, period)
            dashboard["page"] = timed(page, samples, warmup=2)
            dashboard["page_bytes"] = page()
            language = page_get(world, period, {"language": "de"})
            dashboard["page_language_filter"] = timed(language, samples, warmup=1)
            tracemalloc.start()
            page()
            dashboard["page_python_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
            tracemalloc.stop()
            p95 = dashboard["page"]["p95_ms"]
            sql_p95 = dashboard["rollup_sql_p95_sum_ms"] + by_hand["figures"]["p95_ms"]
            dashboard["aim"] = {
                "page_p95_ms": p95,
                "page_p95_under_ms": AIM_PAGE_P95_MS,
                "page_p95_met": p95 < AIM_PAGE_P95_MS,
                # The page's reads by hand: the five sums plus the previous period's total.
                "rollup_sql_p95_ms": round(sql_p95, 2),
                "page_vs_rollup_sql": round(p95 / sql_p95, 2) if sql_p95 else None,
                "page_vs_rollup_sql_met": sql_p95 > 0 and p95 <= AIM_PAGE_VS_SQL * sql_p95,
                "page_vs_event_sql": round(p95 / dashboard["event_sql_p95_sum_ms"], 3),
            }
            print(
                f"dashboard page: p50 {dashboard['page']['p50_ms']:.1f} ms, p95 {p95:.1f} ms "
                f"({dashboard['page_bytes']:,} bytes); with a language filter p95 "
                f"{dashboard['page_language_filter']['p95_ms']:.1f} ms\n"
                f"aim: p95 < {AIM_PAGE_P95_MS:.0f} ms "
                f"({'met' if dashboard['aim']['page_p95_met'] else 'NOT met'}); "
                f"within {AIM_PAGE_VS_SQL:.0f}x of the raw SQL over the roll-ups "
                f"({dashboard['aim']['page_vs_rollup_sql']}x: "
                f"{'met' if dashboard['aim']['page_vs_rollup_sql_met'] else 'NOT met'})",
                flush=True,
            )
        else:
            dashboard["page"] = None
            print("dashboard page: no such URL yet; the reads above stand in", flush=True)
        report["dashboard"] = dashboard
        memory["peak_mib"] = peak_rss_mib()
        report["memory"] = memory
        print(f"peak resident memory: {memory['peak_mib']} MiB", flush=True)
    finally:
        connection.close()
        if not args.keep_database:
            database.drop()
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    report["failures"] = failures
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    print(f"elapsed: {report['elapsed_s']} s", flush=True)
    emit_json(report)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
