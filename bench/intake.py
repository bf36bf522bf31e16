"""Task intake benchmark: creating tasks through the REST API, and reading them back at scale.

    python -m bench.intake [--quick]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gigdesk_bench python -m bench.intake

Serves the project with gunicorn (sync workers, DEBUG off) and measures, at 1,
4 and 16 concurrent clients: a bare Django view doing one INSERT (the floor),
``POST /api/v1/tasks`` with fresh external_ids, and the same POSTs replayed
(the idempotent 200). Then it seeds a million tasks for one brand (100,000
with ``--quick``, reused by later runs) and times the filtered task list, its
``next`` pages, and the brand console's HTML task list. Ends with one line of
JSON holding every figure. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.common import (
    GunicornServer,
    HttpClient,
    LoadResult,
    emit_json,
    ensure_postgres_database,
    machine_info,
    path_of,
    print_machine,
    run_load,
    running_server,
    setup_django,
)

BRAND_SLUG = "bench-brand"
BRAND_NAME = "Bench brand"
ADMIN_EMAIL = "bench-admin@bench.invalid"
SEED_GIG_TITLES = [f"Bench seeded gig {n}" for n in range(1, 5)]
INTAKE_GIG_TITLE = "Bench intake gig"
TASKS_PATH = "/api/v1/tasks"
FLOOR_PATH = "/bench/floor"

# The seeded mix: one task in ten is queued, most are resolved, as in a brand
# that has been running for a while. The gigs take turns in blocks of
# SEED_BLOCK consecutive tasks, and each block holds every status once, so
# every gig has the same mix.
STATUS_CYCLE = ["queued"] * 2 + ["claimed", "escalated", "cancelled"] + ["resolved"] * 15
PRIORITY_CYCLE = [20, 20, 20, 10, 30, 40, 20]
SEED_BLOCK = 20  # consecutive tasks that share a gig
SEED_CHUNK = 100_000

# The aim from the issue, at the highest client count.
AIM_RATIO = 0.5
AIM_P99_MS = 50.0


@dataclass
class World:
    """The bench brand and what the load needs to reach it."""

    brand_id: int
    brand_slug: str
    seed_gig_ids: list[int]
    intake_gig_id: int
    api_secret: str
    session_key: str
    tasks_in_brand: int = 0


@dataclass
class Run:
    args: argparse.Namespace
    world: World
    host: str
    port: int
    token: str = field(default_factory=lambda: secrets.token_hex(4))
    created_ids: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Groups of process ids whose CPU time each load point measures.
    watch: Callable[[], dict[str, list[int]]] | None = None

    @property
    def api_headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {self.world.api_secret}",
        }

    def load(self, *, clients: int, seconds: float, request) -> LoadResult:
        return run_load(
            host=self.host,
            port=self.port,
            clients=clients,
            seconds=seconds,
            request=request,
            watch=self.watch,
        )


# --- Arguments ----------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.intake",
        description="Task intake through the REST API, against a one-INSERT floor.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="about a minute: shorter points, 100,000 tasks"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (2)")
    parser.add_argument(
        "--clients",
        default="1,4,16",
        help="concurrent clients for task creation, comma-separated (1,4,16)",
    )
    parser.add_argument(
        "--seconds", type=float, help="length of each measured point (4 quick, 15 full)"
    )
    parser.add_argument(
        "--tasks", type=int, help="tasks to seed for the list (100,000 quick, 1,000,000 full)"
    )
    parser.add_argument(
        "--list-clients", type=int, default=4, help="concurrent clients for the lists (4)"
    )
    parser.add_argument(
        "--show-queries", action="store_true", help="print the SQL of each probed request"
    )
    args = parser.parse_args(argv)
    try:
        args.client_counts = [int(part) for part in args.clients.split(",") if part.strip()]
    except ValueError:
        args.client_counts = []
    if not args.client_counts or min(args.client_counts) < 1:
        parser.error("--clients needs one or more positive numbers")
    if args.seconds is None:
        args.seconds = 4.0 if args.quick else 15.0
    if args.tasks is None:
        args.tasks = 100_000 if args.quick else 1_000_000
    args.warmup = 1.0 if args.quick else 2.0
    args.depth = 5 if args.quick else 10
    return args


# --- The bench brand ----------------------------------------------------------


def prepare_world() -> World:
    """Find or make the bench brand, its admin and gigs; a fresh API key and session.

    Tasks created through the API by an earlier run are deleted so that
    every run inserts into a table of the same size; the seeded tasks stay.
    """
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection

    from bench.urls import FLOOR_TABLE, FLOOR_TABLE_DDL
    from brands.models import ApiKey, Brand
    from brands.services import api_key_create, api_key_revoke, brand_create
    from gigs.models import Gig, Message, PayModel, Task
    from gigs.services import gig_create
    from marketplace.models import AccountType, User

    user = User.objects.filter(email=ADMIN_EMAIL).first()
    if user is None:
        user = User.objects.create_user(
            ADMIN_EMAIL, full_name="Bench admin", account_type=AccountType.BRAND
        )
    brand = Brand.objects.filter(slug=BRAND_SLUG).first()
    if brand is None:
        brand = brand_create(user=user, name=BRAND_NAME)
        if brand.slug != BRAND_SLUG:
            raise RuntimeError(f"Expected the slug {BRAND_SLUG!r}, got {brand.slug!r}.")

    gig_ids = []
    for title in [*SEED_GIG_TITLES, INTAKE_GIG_TITLE]:
        gig = Gig.objects.for_brand(brand).filter(title=title).order_by("id").first()
        if gig is None:
            gig = gig_create(
                brand=brand,
                created_by=user,
                title=title,
                language="en",
                pay_model=PayModel.PER_RESOLUTION,
                rate_minor=250,
                currency="EUR",
            )
        gig_ids.append(gig.pk)
    *seed_gig_ids, intake_gig_id = gig_ids
    # Tasks are offered live only while the brand's balance covers a claim
    # (payouts.reservations): fund it, as a paid top-up would, once.
    from bench.dispatch import fund_brand

    fund_brand(brand)

    for old_key in ApiKey.objects.active().filter(brand=brand):
        api_key_revoke(api_key=old_key, actor=user)
    secret = api_key_create(brand=brand, name="bench.intake", created_by=user).secret

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()

    intake_tasks = Task.objects.filter(gig_id=intake_gig_id)
    Message.objects.filter(task__in=intake_tasks).delete()
    intake_tasks.delete()
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_TABLE_DDL[connection.vendor])
        cursor.execute(f"DELETE FROM {FLOOR_TABLE}")

    return World(
        brand_id=brand.pk,
        brand_slug=brand.slug,
        seed_gig_ids=seed_gig_ids,
        intake_gig_id=intake_gig_id,
        api_secret=secret,
        session_key=session.session_key,
    )


def seed_tasks(world: World, target: int) -> int:
    """Top the seeded gigs up to ``target`` tasks; returns how many there are now.

    Seeded tasks are numbered 1..n through their external_id ``seed-<n>``, so
    a later run with a larger target adds only the missing numbers, and a
    repeat inserts nothing.
    """
    from django.db import connection

    from gigs.models import Task

    existing = Task.objects.filter(gig_id__in=world.seed_gig_ids).count()
    if existing < target:
        print(f"seeding tasks {existing + 1:,}..{target:,} for {world.brand_slug}", flush=True)
        started = time.perf_counter()
        for start in range(existing + 1, target + 1, SEED_CHUNK):
            stop = min(start + SEED_CHUNK - 1, target)
            if connection.vendor == "postgresql":
                _seed_postgresql(world, start, stop, target)
            else:
                _seed_executemany(world, start, stop, target)
            elapsed = time.perf_counter() - started
            print(f"  {stop:,} tasks, {elapsed:.1f} s", flush=True)
        existing = Task.objects.filter(gig_id__in=world.seed_gig_ids).count()
    with connection.cursor() as cursor:
        # Fresh statistics (and, on PostgreSQL, no dead rows from the last
        # run's deletes), so the planner sees the table as it is.
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM ANALYZE {Task._meta.db_table}")
        else:
            cursor.execute(f"ANALYZE {Task._meta.db_table}")
    return existing


_SEED_COLUMNS = (
    "brand_id, gig_id, subject, customer_reference, language, priority, "
    "external_id, status, created_at, updated_at, "
    # Blank text columns have no database default; the seed must fill them.
    "resolution_code, escalation_reason, csat_comment"
)


def _seed_postgresql(world: World, start: int, stop: int, target: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from gigs.models import Task

    # One statement per chunk, generated by the server: no rows cross the wire.
    sql = f"""
        INSERT INTO {Task._meta.db_table} ({_SEED_COLUMNS})
        SELECT %s,
               (%s::bigint[])[1 + mod(g / {SEED_BLOCK}, %s)],
               'Seeded task ' || g,
               'customer-' || mod(g, 50000),
               'en',
               (%s::int[])[1 + mod(g, {len(PRIORITY_CYCLE)})],
               'seed-' || g,
               (%s::text[])[1 + mod(g, {len(STATUS_CYCLE)})],
               %s::timestamptz - (%s - g) * interval '1 second',
               %s::timestamptz - (%s - g) * interval '1 second',
               '', '', ''
        FROM generate_series(%s::int, %s::int) AS g
        ON CONFLICT DO NOTHING
    """
    now = timezone.now()
    params = [
        world.brand_id,
        world.seed_gig_ids,
        len(world.seed_gig_ids),
        PRIORITY_CYCLE,
        STATUS_CYCLE,
        now,
        target,
        now,
        target,
        start,
        stop,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _seed_executemany(world: World, start: int, stop: int, target: int) -> None:
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from gigs.models import Task

    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    gigs = world.seed_gig_ids
    rows = []
    for n in range(start, stop + 1):
        created = adapt(now - timedelta(seconds=target - n))
        rows.append(
            (
                world.brand_id,
                gigs[(n // SEED_BLOCK) % len(gigs)],
                f"Seeded task {n}",
                f"customer-{n % 50000}",
                "en",
                PRIORITY_CYCLE[n % len(PRIORITY_CYCLE)],
                f"seed-{n}",
                STATUS_CYCLE[n % len(STATUS_CYCLE)],
                created,
                created,
                "",
                "",
                "",
            )
        )
    sql = (
        f"INSERT OR IGNORE INTO {Task._meta.db_table} ({_SEED_COLUMNS}) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


# --- Queries per request (in-process) -------------------------------------------


def probe_queries(world: World, *, show: bool) -> dict[str, Any]:
    """How many SQL statements each measured request runs, through Django's test client.

    Round trips to the database are what the figures are made of; counting
    them here, outside the load, says where the time goes.
    """
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    # Exceptions become the 500 a real server would answer, not a crash here.
    client = Client(HTTP_HOST="127.0.0.1", raise_request_exception=False)
    browser = Client(HTTP_HOST="127.0.0.1", raise_request_exception=False)
    browser.cookies["sessionid"] = world.session_key
    auth = {"HTTP_AUTHORIZATION": f"Bearer {world.api_secret}"}
    token = secrets.token_hex(4)

    def body(external_id: str) -> str:
        return json.dumps(_task_payload(world.intake_gig_id, external_id))

    probes = {
        "create": lambda: client.post(
            TASKS_PATH, body(f"probe-{token}-2"), content_type="application/json", **auth
        ),
        "replay": lambda: client.post(
            TASKS_PATH, body(f"probe-{token}-2"), content_type="application/json", **auth
        ),
        "list": lambda: client.get(
            TASKS_PATH, {"status": "queued", "gig": world.seed_gig_ids[0]}, **auth
        ),
        "html": lambda: browser.get(f"/brands/{world.brand_slug}/tasks/", {"status": "queued"}),
        "floor": lambda: client.post(
            FLOOR_PATH, body(f"probe-{token}"), content_type="application/json"
        ),
    }
    # A first call touches the key's last_used_at (once a minute), which the
    # load then never pays: leave it out of the count.
    client.post(TASKS_PATH, body(f"probe-{token}-1"), content_type="application/json", **auth)
    counts: dict[str, Any] = {}
    for name, call in probes.items():
        with CaptureQueriesContext(connection) as captured:
            response = call()
        counts[name] = len(captured.captured_queries)
        counts[f"{name}_status"] = response.status_code
        if show:
            print(f"-- {name}: HTTP {response.status_code}, {len(captured)} queries")
            for query in captured.captured_queries:
                print(f"   {query['sql'][:300]}")
    return counts


# --- Load phases --------------------------------------------------------------


def _task_payload(gig_id: int, external_id: str) -> dict[str, Any]:
    return {
        "gig": gig_id,
        "subject": "Order arrived damaged",
        "body": (
            "Hello, my order arrived with a cracked screen. "
            "Can you send a replacement or refund it? Order 4471-2210."
        ),
        "customer_reference": "customer-4471",
        "external_id": external_id,
    }


def create_request(run: Run, path: str, label: str, record: bool):
    """A request function posting a task with an external_id never used before."""
    headers = run.api_headers
    gig_id = run.world.intake_gig_id
    prefix = f"{run.token}-{label}"

    def request(client: HttpClient, index: int, seq: int) -> int:
        external_id = f"{prefix}-{index}-{seq}"
        body = json.dumps(_task_payload(gig_id, external_id)).encode()
        status, _ = client.request("POST", path, body, headers)
        if record and status == 201:
            run.created_ids.append(external_id)
        return status

    return request


def replay_request(run: Run):
    """A request function re-posting tasks the run created: each answer should be 200."""
    headers = run.api_headers
    gig_id = run.world.intake_gig_id
    ids = list(run.created_ids)
    if not ids:
        raise RuntimeError("No task was created, so there is nothing to replay.")
    bodies = [json.dumps(_task_payload(gig_id, external_id)).encode() for external_id in ids]

    def request(client: HttpClient, index: int, seq: int) -> int:
        body = bodies[(index * 7919 + seq) % len(bodies)]
        return client.request("POST", TASKS_PATH, body, headers)[0]

    return request


def get_request(paths: list[str], headers: dict[str, str]):
    def request(client: HttpClient, index: int, seq: int) -> int:
        return client.request("GET", paths[(index + seq) % len(paths)], b"", headers)[0]

    return request


def _check(run: Run, name: str, result: LoadResult, expected: int) -> None:
    unexpected = result.requests - result.statuses.get(expected, 0)
    if result.non_2xx or unexpected:
        run.failures.append(
            f"{name}: {result.non_2xx} non-2xx, {unexpected} not {expected} "
            f"({dict(result.statuses)}, {dict(result.errors)})"
        )


def measure_creation(run: Run, *, api: bool) -> list[dict[str, Any]]:
    """Floor, fresh and replayed task POSTs at each client count, interleaved.

    Interleaving keeps a drifting machine from favouring whichever ran first.
    Without the API (``api`` false) only the floor is measured.
    """
    args = run.args
    print(f"\ntask creation, {args.seconds:g} s per point", flush=True)
    warm_clients = max(args.client_counts)
    warm = [create_request(run, FLOOR_PATH, "warm-floor", record=False)]
    if api:
        warm.append(create_request(run, TASKS_PATH, "warm-api", record=True))
    for request in warm:
        run.load(clients=warm_clients, seconds=args.warmup, request=request)
    points = []
    for clients in args.client_counts:
        point: dict[str, Any] = {"clients": clients}
        phases = [
            ("floor", lambda c=clients: create_request(run, FLOOR_PATH, f"floor{c}", False), 201)
        ]
        if api:
            phases += [
                ("fresh", lambda c=clients: create_request(run, TASKS_PATH, f"api{c}", True), 201),
                ("replay", lambda: replay_request(run), 200),
            ]
        for name, make_request, expected in phases:
            result = run.load(clients=clients, seconds=args.seconds, request=make_request())
            _check(run, f"{name} at {clients} clients", result, expected)
            point[name] = result.to_dict()
            print(f"  {clients:>3} clients  {name:<7}{result.summary()}", flush=True)
        if api:
            floor_rps = point["floor"]["rps"] or 1.0
            point["fresh_vs_floor"] = round(point["fresh"]["rps"] / floor_rps, 3)
            point["replay_vs_floor"] = round(point["replay"]["rps"] / floor_rps, 3)
            # The same comparison by CPU spent per request (server, database
            # and client together): on two shared cores it predicts the rate
            # ratio, and it moves much less when other work shares the machine.
            floor_cpu = _cpu_per_request(point["floor"])
            for name in ("fresh", "replay"):
                point[f"{name}_cpu_vs_floor"] = round(floor_cpu / _cpu_per_request(point[name]), 3)
            print(
                f"  {clients:>3} clients  API/floor: fresh {point['fresh_vs_floor']:.2f}x, "
                f"replay {point['replay_vs_floor']:.2f}x (by CPU per request: fresh "
                f"{point['fresh_cpu_vs_floor']:.2f}x, replay {point['replay_cpu_vs_floor']:.2f}x)",
                flush=True,
            )
        points.append(point)
    return points


def _cpu_per_request(figures: dict[str, Any]) -> float:
    # Never zero: the client's own CPU time is always counted.
    return sum(figures["cpu_ms_per_request"].values()) or 1e-9


def _page_chain(run: Run, first: str, depth: int) -> list[str]:
    """The ``next`` paths after ``first``, ``depth`` pages deep."""
    client = HttpClient(run.host, run.port)
    paths, path = [], first
    try:
        for _ in range(depth):
            status, body = client.request("GET", path, b"", run.api_headers)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
            following = json.loads(body).get("next")
            if not following:
                break
            path = path_of(following)
            paths.append(path)
    finally:
        client.close()
    return paths


def measure_lists(run: Run) -> dict[str, Any]:
    args, world = run.args, run.world
    clients = args.list_clients
    first = f"{TASKS_PATH}?status=queued&gig={world.seed_gig_ids[0]}"
    print(
        f"\nbrand task list, {world.tasks_in_brand:,} seeded tasks, {clients} clients, "
        f"{args.seconds:g} s per point",
        flush=True,
    )
    results: dict[str, Any] = {"tasks_seeded": world.tasks_in_brand, "clients": clients}
    deep = _page_chain(run, first, args.depth)
    api = get_request([first], run.api_headers)
    run.load(clients=clients, seconds=args.warmup, request=api)
    phases = [("api_first_page", [first], run.api_headers)]
    if deep:
        phases.append((f"api_pages_2_to_{len(deep) + 1}", deep, run.api_headers))
    html_path = f"/brands/{world.brand_slug}/tasks/?status=queued"
    cookie = {"Cookie": f"sessionid={world.session_key}"}
    html_client = HttpClient(run.host, run.port)
    html_status, _ = html_client.request("GET", html_path, b"", cookie)
    html_client.close()
    if html_status == 200:
        run.load(clients=clients, seconds=args.warmup, request=get_request([html_path], cookie))
        phases.append(("html_first_page", [html_path], cookie))
    else:
        results["html_first_page"] = {"available": False, "status": html_status}
        run.notes.append(f"brand console task list answered {html_status}: not measured")
        print(f"  html task list answered {html_status}: not measured", flush=True)
    for name, paths, headers in phases:
        result = run.load(
            clients=clients, seconds=args.seconds, request=get_request(paths, headers)
        )
        _check(run, name, result, 200)
        results[name] = result.to_dict()
        print(f"  {name:<16}{result.summary()}", flush=True)
    return results


# --- Main ---------------------------------------------------------------------


def database_backend_pids() -> list[int]:
    """PostgreSQL backends serving the benchmark database, when the server runs here."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        pids = [row[0] for row in cursor.fetchall()]
    return [pid for pid in pids if os.path.exists(f"/proc/{pid}")]


def _api_status(run: Run) -> int:
    client = HttpClient(run.host, run.port)
    try:
        body = json.dumps(_task_payload(run.world.intake_gig_id, f"{run.token}-check")).encode()
        return client.request("POST", TASKS_PATH, body, run.api_headers)[0]
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url and ensure_postgres_database(database_url):
        print("created the benchmark database", flush=True)
    setup_django()

    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    info = machine_info()
    world = prepare_world()
    world.tasks_in_brand = seed_tasks(world, args.tasks)
    queries = probe_queries(world, show=args.show_queries)

    server = GunicornServer(workers=args.workers)
    report: dict[str, Any] = {
        "benchmark": "intake",
        "quick": args.quick,
        "seconds_per_point": args.seconds,
        "machine": info,
        "queries_per_request": queries,
    }
    run = Run(args=args, world=world, host=server.host, port=0)

    def watch() -> dict[str, list[int]]:
        groups = {"server": server.worker_pids()}
        if connection.vendor == "postgresql":
            groups["db"] = database_backend_pids()
        return groups

    run.watch = watch
    with running_server(server):
        run.port = server.port
        report["server"] = server.describe()
        print_machine(info, report["server"])
        print(
            "queries per request: "
            + ", ".join(f"{k} {v}" for k, v in queries.items() if not k.endswith("_status")),
            flush=True,
        )
        status = _api_status(run)
        api = status in (200, 201)
        if not api:
            run.failures.append(f"POST {TASKS_PATH} answered {status}: the task API is missing")
            print(f"POST {TASKS_PATH} answered {status}: measuring the floor only", flush=True)
        report["create"] = measure_creation(run, api=api)
        report["list"] = measure_lists(run) if api else None
        report["peak_rss_kib"] = server.peak_rss_kib()
        if run.failures:
            print(f"server log (tail):\n{server.log_tail()}", file=sys.stderr)

    top = report["create"][-1]
    if api:
        met = top["fresh_vs_floor"] >= AIM_RATIO and top["fresh"]["p99_ms"] < AIM_P99_MS
        report["aim"] = {
            "clients": top["clients"],
            "fresh_vs_floor": top["fresh_vs_floor"],
            "fresh_p99_ms": top["fresh"]["p99_ms"],
            "fresh_cpu_vs_floor": top.get("fresh_cpu_vs_floor"),
            "ratio_aim": AIM_RATIO,
            "p99_aim_ms": AIM_P99_MS,
            "met": met,
        }
        print(
            f"\naim at {top['clients']} clients: API {top['fresh_vs_floor']:.2f}x the floor "
            f"(aim >= {AIM_RATIO}), p99 {top['fresh']['p99_ms']:.1f} ms "
            f"(aim < {AIM_P99_MS:g}): " + ("met" if met else "NOT met"),
            flush=True,
        )
    rss = report["peak_rss_kib"]
    if rss:
        print(f"peak RSS of the workers: {', '.join(f'{kib / 1024:.0f} MiB' for kib in rss)}")
    report["failures"] = run.failures
    report["notes"] = run.notes
    for note in run.notes:
        print(f"note: {note}")
    for failure in run.failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    emit_json(report)
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
