"""Live dispatch benchmark: claims at the database, offers and claims over WebSockets, fan-out.

    python -m bench.dispatch [--quick]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gigdesk_bench_dispatch \\
        REDIS_URL=redis://127.0.0.1:6379/13 python -m bench.dispatch

Needs PostgreSQL and Redis on this machine. The database is the benchmark's
own: it is dropped and created at the start (only if it carries the
benchmark's label) and dropped at the end unless ``--keep-database``.

1. **Claims at the database.** 100,000 open tasks over 50 gigs (five
   languages, eight skills); 1, 2, 4, 8 and 16 processes, each calling
   ``gigs.dispatch.task_claim_next`` for its own agents, with agents who may
   take every task ("unfiltered") and agents with one language and four
   skills ("filtered"). Then the SQL statements one claim issues, captured
   from the service and replayed with psycopg in as many processes: the
   service's rate as a share of its own statements' rate.
2. **Offer to claim over WebSockets** (``bench.dispatch_live``): 200 agents connected
   to two daphne processes, tasks created at 100 and 200 per second, agents
   racing to claim each one.
3. **Fan-out**: one new task offered to 1,000 connected agents, against a
   bare ``websockets`` broadcast to 1,000 clients on this machine.

Ends with one line of JSON holding every figure. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import signal
import sys
import time
from array import array
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    cores_used,
    cpu_seconds_of,
    cpu_used_since,
    distribution_versions,
    drop_postgres_database,
    emit_json,
    latency_summary,
    machine_busy_since,
    machine_cpu,
    machine_info,
    postgres_backend_pids,
    recreate_postgres_database,
    redis_server_pid,
    setup_django,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/gigdesk_bench_dispatch"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
DATABASE_MARK = "Gigdesk benchmark database, dropped and recreated by python -m bench.dispatch"

CLAIM_BRAND = "Bench dispatch"
LIVE_BRAND = "Bench live"
LANGUAGES = ("en", "es", "fr", "de", "pt")
SKILL_COUNT = 8
GIG_COUNT = 50
TASK_COUNT = 100_000
# The most tasks of one gig an agent may hold at once that the gig form allows.
HOLD_LIMIT = 20
# Agents per kind for the claim runs. Each process cycles through its share,
# so no agent comes near its hold limit and the limit never ends a run.
CLAIM_AGENTS = 800
FILTERED_SKILLS = 4
LIVE_AGENTS = 1000
LIVE_GIG_COUNT = 10
# Task priorities in the seed: most normal, some of every other level.
PRIORITY_CYCLE = (20, 20, 20, 10, 30, 20, 40)
# Agent and task ids start here, far apart and far above any other id or
# number a claim sends (gig and brand ids, rates, seconds), so that the
# statement replay can tell them apart in a captured parameter list.
AGENT_ID_START = 1_000_000
TASK_ID_START = 10_000_000

# Aims from the issue.
AIM_SERVICE_VS_RAW = 0.5
AIM_FILTERED_VS_UNFILTERED = 0.7


def gig_language(index: int) -> str:
    return LANGUAGES[index % len(LANGUAGES)]


def gig_skill_indexes(index: int) -> list[int]:
    """None, one or two required skills, varying over the gigs."""
    return [(index + 3 * k) % SKILL_COUNT for k in range(index % 3)]


def filtered_agent_language(index: int) -> str:
    return LANGUAGES[index % len(LANGUAGES)]


def filtered_agent_skill_indexes(index: int) -> list[int]:
    return [(index + 2 * k) % SKILL_COUNT for k in range(FILTERED_SKILLS)]


# --- Arguments ----------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dispatch",
        description="Claims at the database, offer-to-claim over WebSockets, and fan-out.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            "about 3 minutes: shorter runs, 1 and 4 processes, 100 tasks/s only, 30 fan-out rounds"
        ),
    )
    parser.add_argument(
        "--processes", help="claim processes, comma-separated (1,2,4,8,16; quick 1,4)"
    )
    parser.add_argument(
        "--seconds", type=float, help="length of each service claim run (20; quick 5)"
    )
    parser.add_argument(
        "--raw-seconds", type=float, help="length of each raw statement run (6; quick 3)"
    )
    parser.add_argument(
        "--only",
        choices=["claims", "live"],
        help="run one part only: the database claims, or the WebSocket parts",
    )
    parser.add_argument(
        "--rates", help="tasks per second for offer-to-claim, comma-separated (100,200; quick 100)"
    )
    parser.add_argument(
        "--live-seconds", type=float, help="length of each offer-to-claim run (20; quick 8)"
    )
    parser.add_argument(
        "--racers",
        type=int,
        default=4,
        help="agents racing to claim each offered task (4; the others only watch it go)",
    )
    parser.add_argument(
        "--drain-limit",
        type=float,
        help="most seconds to wait for claims in flight after an offer-to-claim run (20; quick 10)",
    )
    parser.add_argument("--rounds", type=int, help="fan-out rounds (100; quick 30)")
    parser.add_argument(
        "--keep-database", action="store_true", help="leave the benchmark database in place"
    )
    parser.add_argument(
        "--show-queries", action="store_true", help="print the full SQL of one claim"
    )
    args = parser.parse_args(argv)
    default_processes = "1,4" if args.quick else "1,2,4,8,16"
    default_rates = "100" if args.quick else "100,200"
    try:
        args.process_counts = [
            int(part) for part in (args.processes or default_processes).split(",") if part.strip()
        ]
        args.rate_list = [
            int(part) for part in (args.rates or default_rates).split(",") if part.strip()
        ]
    except ValueError:
        parser.error("--processes and --rates take comma-separated whole numbers")
    if not args.process_counts or min(args.process_counts) < 1:
        parser.error("--processes needs one or more positive numbers")
    if args.seconds is None:
        args.seconds = 5.0 if args.quick else 20.0
    if args.raw_seconds is None:
        args.raw_seconds = 3.0 if args.quick else 6.0
    if args.live_seconds is None:
        args.live_seconds = 8.0 if args.quick else 20.0
    if args.drain_limit is None:
        args.drain_limit = 10.0 if args.quick else 20.0
    if args.rounds is None:
        args.rounds = 30 if args.quick else 100
    # The issue compares the last 10 s of a run with its first 10 s; shorter
    # runs compare their halves.
    args.window = min(10.0, args.seconds / 2)
    return args


# --- The world ------------------------------------------------------------------


@dataclass
class World:
    claim_brand_id: int
    gig_ids: list[int]
    unfiltered_agent_ids: list[int]
    filtered_agent_ids: list[int]
    probe_agent_id: int
    live_brand_id: int
    live_gig_ids: list[int]
    live_agent_ids: list[int]
    # Share of the open tasks each filtered agent may take, on average.
    filtered_share: float = 0.0


def build_world() -> World:
    """The two brands, their gigs, agents and 100,000 open tasks, bulk-loaded."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from brands.models import PoolMembership, PoolStatus
    from brands.services import brand_create
    from gigs.models import AgentPresence, DispatchMode, Gig, PayModel, PresenceStatus, Task
    from marketplace.languages import CEFRLevel
    from marketplace.models import AccountType, AgentLanguage, AgentProfile, Skill, User

    admin = User.objects.create_user(
        "bench-dispatch-admin@bench.invalid", account_type=AccountType.BRAND
    )
    claim_brand = brand_create(user=admin, name=CLAIM_BRAND)
    live_brand = brand_create(user=admin, name=LIVE_BRAND)
    # Claims reserve their expected cost from the brand's balance: fund both
    # brands far beyond every run (reset_claims keeps the reservations).
    fund_brand(claim_brand)
    fund_brand(live_brand)
    skills = Skill.objects.bulk_create(
        [Skill(slug=f"bench-skill-{n}", name=f"Bench skill {n}") for n in range(SKILL_COUNT)]
    )

    def gig(brand, index: int, title: str, language: str) -> Gig:
        return Gig(
            brand=brand,
            title=title,
            language=language,
            min_language_level=CEFRLevel.B2,
            pay_model=PayModel.PER_MINUTE if index % 2 else PayModel.PER_RESOLUTION,
            rate_minor=40 if index % 2 else 250,
            currency="EUR",
            max_tasks_per_agent=HOLD_LIMIT,
            dispatch_mode=DispatchMode.OPEN,
            created_by=admin,
        )

    gigs = Gig.objects.bulk_create(
        [gig(claim_brand, i, f"Bench gig {i}", gig_language(i)) for i in range(GIG_COUNT)]
    )
    Gig.required_skills.through.objects.bulk_create(
        [
            Gig.required_skills.through(gig_id=g.pk, skill_id=skills[s].pk)
            for i, g in enumerate(gigs)
            for s in gig_skill_indexes(i)
        ]
    )
    live_gigs = Gig.objects.bulk_create(
        [gig(live_brand, i, f"Bench live gig {i}", "en") for i in range(LIVE_GIG_COUNT)]
    )

    with connection.cursor() as cursor:
        for model, start in ((User, AGENT_ID_START), (Task, TASK_ID_START)):
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [model._meta.db_table, start]
            )
    password = make_password(None)  # unusable: the agents log in through sessions made here
    now = datetime.now(UTC)

    def agents(prefix: str, count: int) -> list[User]:
        return User.objects.bulk_create(
            [
                User(
                    email=f"{prefix}-{n}@bench.invalid",
                    full_name=f"{prefix} {n}",
                    account_type=AccountType.AGENT,
                    password=password,
                )
                for n in range(count)
            ],
            batch_size=1000,
        )

    probe = agents("bench-probe", 1)
    unfiltered = agents("bench-all", CLAIM_AGENTS)
    filtered = agents("bench-one", CLAIM_AGENTS)
    live = agents("bench-live", LIVE_AGENTS)
    everyone = probe + unfiltered + filtered + live
    profiles = AgentProfile.objects.bulk_create(
        [AgentProfile(user=user, display_name=user.full_name) for user in everyone],
        batch_size=1000,
    )
    profile_of = {profile.user_id: profile.pk for profile in profiles}

    languages, agent_skills = [], []
    for user in probe + unfiltered:
        languages += [
            AgentLanguage(profile_id=profile_of[user.pk], language=code, level=CEFRLevel.C2)
            for code in LANGUAGES
        ]
        agent_skills += [(profile_of[user.pk], skill.pk) for skill in skills]
    for n, user in enumerate(filtered):
        languages.append(
            AgentLanguage(
                profile_id=profile_of[user.pk],
                language=filtered_agent_language(n),
                level=CEFRLevel.C1,
            )
        )
        agent_skills += [
            (profile_of[user.pk], skills[s].pk) for s in filtered_agent_skill_indexes(n)
        ]
    for user in live:
        languages.append(
            AgentLanguage(profile_id=profile_of[user.pk], language="en", level=CEFRLevel.C1)
        )
    AgentLanguage.objects.bulk_create(languages, batch_size=2000)
    through = AgentProfile.skills.through
    through.objects.bulk_create(
        [through(agentprofile_id=p, skill_id=s) for p, s in agent_skills], batch_size=2000
    )
    PoolMembership.objects.bulk_create(
        [
            PoolMembership(brand=claim_brand, agent=user, status=PoolStatus.APPROVED)
            for user in probe + unfiltered + filtered
        ]
        + [
            PoolMembership(brand=live_brand, agent=user, status=PoolStatus.APPROVED)
            for user in live
        ],
        batch_size=2000,
    )
    AgentPresence.objects.bulk_create(
        [
            AgentPresence(agent=user, status=PresenceStatus.ONLINE, last_heartbeat_at=now)
            for user in probe + unfiltered + filtered
        ]
        + [
            AgentPresence(agent=user, status=PresenceStatus.OFFLINE, last_heartbeat_at=now)
            for user in live
        ],
        batch_size=2000,
    )
    _seed_tasks(claim_brand.pk, [g.pk for g in gigs], now)

    share = _filtered_share(len(gigs), len(filtered))
    return World(
        claim_brand_id=claim_brand.pk,
        gig_ids=[g.pk for g in gigs],
        unfiltered_agent_ids=[u.pk for u in unfiltered],
        filtered_agent_ids=[u.pk for u in filtered],
        probe_agent_id=probe[0].pk,
        live_brand_id=live_brand.pk,
        live_gig_ids=[g.pk for g in live_gigs],
        live_agent_ids=[u.pk for u in live],
        filtered_share=share,
    )


BENCH_FUNDS_MINOR = 10**13


def fund_brand(brand, currency: str = "EUR", amount_minor: int = BENCH_FUNDS_MINOR) -> None:
    """Credit ``brand``'s balance through a real posting, as a paid top-up does."""
    from payouts.models import Purpose
    from payouts.services import ledger_account, posting_create

    posting_create(
        idempotency_key=f"bench-funding:{brand.pk}:{currency}",
        kind="bench.funding",
        lines=[
            (
                ledger_account(purpose=Purpose.BRAND_BALANCE, currency=currency, brand=brand),
                amount_minor,
            ),
            (ledger_account(purpose=Purpose.STRIPE_CLEARING, currency=currency), -amount_minor),
        ],
        memo="Benchmark funds",
        reference="bench",
    )


def _seed_tasks(brand_id: int, gig_ids: list[int], now: datetime) -> None:
    """TASK_COUNT queued tasks, the gigs taking turns, generated by PostgreSQL itself."""
    from django.db import connection

    from gigs.models import Task

    languages = [gig_language(i) for i in range(len(gig_ids))]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Task._meta.db_table} (
                brand_id, gig_id, subject, customer_reference, language, priority,
                status, created_at, updated_at, resolution_code, escalation_reason, csat_comment
            )
            SELECT %s,
                   (%s::bigint[])[1 + mod(g, %s)],
                   'Bench task ' || g,
                   'customer-' || mod(g, 20000),
                   (%s::text[])[1 + mod(g, %s)],
                   (%s::int[])[1 + mod(g, %s)],
                   'queued',
                   %s::timestamptz - (%s - g) * interval '10 milliseconds',
                   %s::timestamptz - (%s - g) * interval '10 milliseconds',
                   '', '', ''
            FROM generate_series(1, %s) AS g
            """,
            [
                brand_id,
                gig_ids,
                len(gig_ids),
                languages,
                len(languages),
                list(PRIORITY_CYCLE),
                len(PRIORITY_CYCLE),
                now,
                TASK_COUNT,
                now,
                TASK_COUNT,
                TASK_COUNT,
            ],
        )
        cursor.execute("VACUUM ANALYZE")


def _filtered_share(gig_count: int, agent_count: int) -> float:
    """How many of the open tasks a filtered agent may take, on average (the gigs
    hold equal numbers of tasks)."""
    total = 0.0
    for n in range(agent_count):
        language = filtered_agent_language(n)
        has = set(filtered_agent_skill_indexes(n))
        fits = [
            i
            for i in range(gig_count)
            if gig_language(i) == language and set(gig_skill_indexes(i)) <= has
        ]
        total += len(fits) / gig_count
    return total / agent_count if agent_count else 0.0


def reset_claims(world: World) -> None:
    """Every claimed task back in the queue, no work sessions, every claim agent online.

    Run between measured runs so that each one starts from the same queue; the
    VACUUM takes away the dead rows the last run left.
    """
    from django.db import connection

    from gigs.models import AgentPresence, Task, WorkSession

    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {WorkSession._meta.db_table} WHERE brand_id = %s", [world.claim_brand_id]
        )
        cursor.execute(
            f"UPDATE {Task._meta.db_table} SET status = 'queued', holder_id = NULL, "
            "claimed_at = NULL, lease_expires_at = NULL "
            "WHERE brand_id = %s AND status <> 'queued'",
            [world.claim_brand_id],
        )
        cursor.execute(
            f"UPDATE {AgentPresence._meta.db_table} SET status = 'online', "
            "last_heartbeat_at = now() WHERE agent_id = ANY(%s)",
            [[world.probe_agent_id, *world.unfiltered_agent_ids, *world.filtered_agent_ids]],
        )
        for model in (Task, WorkSession, AgentPresence):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def check_claims(world: World, claimed_ids: list[int]) -> dict[str, int]:
    """Double claims and holder/session mismatches after a run; every count should be 0
    except ``claimed_tasks``, which should equal the claims the processes made."""
    from django.db import connection

    from gigs.models import Task, WorkSession

    task_table, session_table = Task._meta.db_table, WorkSession._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT task_id FROM {session_table} WHERE ended_at IS NULL "
            "GROUP BY task_id HAVING count(*) > 1) AS doubled"
        )
        doubled_sessions = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT count(*) FROM {task_table} t WHERE t.brand_id = %s AND t.status = 'claimed' "
            f"AND NOT EXISTS (SELECT 1 FROM {session_table} s WHERE s.task_id = t.id "
            "AND s.ended_at IS NULL AND s.agent_id = t.holder_id)",
            [world.claim_brand_id],
        )
        held_without_session = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT count(*) FROM {session_table} s JOIN {task_table} t ON t.id = s.task_id "
            "WHERE s.ended_at IS NULL AND s.brand_id = %s "
            "AND (t.holder_id IS DISTINCT FROM s.agent_id OR t.status <> 'claimed')",
            [world.claim_brand_id],
        )
        session_without_hold = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT count(*) FROM {task_table} WHERE brand_id = %s AND status = 'claimed'",
            [world.claim_brand_id],
        )
        claimed_tasks = cursor.fetchone()[0]
    returned_twice = len(claimed_ids) - len(set(claimed_ids))
    return {
        "double_claims": returned_twice + doubled_sessions,
        "task_returned_to_two_claims": returned_twice,
        "tasks_with_two_open_sessions": doubled_sessions,
        "held_without_open_session": held_without_session,
        "open_session_without_hold": session_without_hold,
        "claimed_tasks": claimed_tasks,
        "claims_made": len(claimed_ids),
        "claims_not_in_database": len(set(claimed_ids)) - claimed_tasks,
    }


# --- One claim's statements ---------------------------------------------------------


@dataclass
class Statement:
    """One SQL statement of a claim, with its parameters as the replay rebuilds them.

    Each parameter is ("const", value), ("agent",), ("task",), ("key",) (the
    reservation posting's idempotency key, unique per claim) or ("time",
    offset from the claim's own "now").
    """

    sql: str
    params: list[tuple]
    picks_task: bool = False


@dataclass
class Capture:
    statements: list[Statement]
    logged: list[str]  # what Django's query log shows, BEGIN and COMMIT included
    claimed_task_id: int


def capture_claim(world: World) -> Capture:
    """Claim a task for the probe agent with every statement recorded.

    ``execute_wrapper`` sees each statement with its parameters before psycopg
    binds them (Django's psycopg backend binds on the client, so the replay
    sends the same text); the query log shows where BEGIN and COMMIT fall.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gigs.dispatch import task_claim_next
    from marketplace.models import User

    agent = User.objects.get(pk=world.probe_agent_id)
    # A first claim fills the per-process caches (the brand's webhook
    # subscriptions, for one), so that the captured one is a steady-state claim.
    task_claim_next(agent=agent)
    recorded: list[tuple[str, list]] = []

    def record(execute, sql, params, many, context):
        recorded.append((sql, list(params or [])))
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as log, connection.execute_wrapper(record):
        task = task_claim_next(agent=agent)
    if task is None:
        raise RuntimeError("The probe agent found no task to claim.")
    reference = next(
        (value for _sql, params in recorded for value in params if isinstance(value, datetime)),
        None,
    )
    statements = []
    for sql, params in recorded:
        shaped = []
        for value in params:
            if isinstance(value, str) and value.startswith("reservation:"):
                # The reservation's posting key: unique per claim, or every
                # replayed claim after the first would fail on it.
                shaped.append(("key",))
            elif isinstance(value, bool) or not isinstance(value, int | datetime):
                shaped.append(("const", value))
            elif isinstance(value, datetime):
                shaped.append(("time", value - reference))
            elif value == agent.pk:
                shaped.append(("agent",))
            elif value == task.pk:
                shaped.append(("task",))
            else:
                shaped.append(("const", value))
        # The task is picked with SKIP LOCKED; the brand's balance and the
        # ledger accounts are locked with plain FOR UPDATE.
        statements.append(
            Statement(sql=sql, params=shaped, picks_task="SKIP LOCKED" in sql.upper())
        )
    if sum(statement.picks_task for statement in statements) != 1:
        raise RuntimeError("Expected exactly one SELECT … FOR UPDATE SKIP LOCKED in a claim.")
    return Capture(
        statements=statements,
        logged=[query["sql"] for query in log.captured_queries],
        claimed_task_id=task.pk,
    )


def describe_statement(sql: str) -> str:
    """A one-line label for a statement of the claim."""
    text = " ".join(sql.split())
    upper = text.upper()
    if upper in ("BEGIN", "COMMIT", "ROLLBACK"):
        return upper
    table = ""
    for keyword in (" FROM ", "UPDATE ", "INSERT INTO "):
        position = upper.find(keyword)
        if position >= 0:
            table = text[position + len(keyword) :].split()[0].strip('"')
            break
    verb = upper.split()[0]
    if verb == "SELECT" and "FOR UPDATE" in upper:
        verb = (
            "SELECT … FOR UPDATE SKIP LOCKED" if "SKIP LOCKED" in upper else "SELECT … FOR UPDATE"
        )
    return f"{verb} {table} ({len(text):,} characters)"


def explain_claim_select(capture: Capture, agent_id: int) -> dict[str, Any]:
    """EXPLAIN ANALYZE of the claim's SELECT for one agent, rolled back."""
    from django.db import connection, transaction

    statement = next(s for s in capture.statements if s.picks_task)
    params = _replay_params(statement.params, agent_id, None, datetime.now(UTC))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement.sql, params)
        plan = cursor.fetchone()[0]
        transaction.set_rollback(True)
    top = plan[0] if isinstance(plan, list) else plan
    return {
        "execution_ms": round(top.get("Execution Time", 0.0), 2),
        "planning_ms": round(top.get("Planning Time", 0.0), 2),
        "plan_top_node": top["Plan"]["Node Type"],
        "shared_buffers_hit": top["Plan"].get("Shared Hit Blocks"),
        "plan": top["Plan"],
    }


def _plan_lines(plan: dict[str, Any], depth: int = 0) -> list[str]:
    label = plan["Node Type"]
    if plan.get("Relation Name"):
        label += f" on {plan['Relation Name']}"
    if plan.get("Index Name"):
        label += f" using {plan['Index Name']}"
    rows = plan.get("Actual Rows")
    loops = plan.get("Actual Loops")
    line = (
        f"{'  ' * depth}{label}  (rows {rows}, loops {loops}, {plan.get('Actual Total Time')} ms)"
    )
    lines = [line]
    for child in plan.get("Plans", []):
        lines += _plan_lines(child, depth + 1)
    return lines


def _replay_params(
    shaped: list[tuple], agent_id: int, task_id: int | None, now: datetime, key: str = ""
):
    params = []
    for param in shaped:
        kind = param[0]
        if kind == "const":
            params.append(param[1])
        elif kind == "agent":
            params.append(agent_id)
        elif kind == "task":
            params.append(task_id)
        elif kind == "key":
            params.append(key)
        else:
            params.append(now + param[1])
    return params


# --- Claim processes ----------------------------------------------------------------


_OPEN_RAW_CONNECTIONS: list = []


def _worker_main(pipe, env: dict[str, str]) -> None:
    """A claim process (or a task producer for the WebSocket part): set up Django
    once, then run whatever the parent sends."""
    os.environ.update(env)
    setup_django()
    from django.db import connection

    try:
        while True:
            command = pipe.recv()
            # The last raw run's connection stays open until now, so that the
            # parent could still read its backend's CPU time after the run.
            while _OPEN_RAW_CONNECTIONS:
                _OPEN_RAW_CONNECTIONS.pop().close()
            if command["kind"] == "stop":
                break
            if command["kind"] == "service":
                result = _service_claims(pipe, command)
            elif command["kind"] == "raw":
                result = _raw_claims(pipe, command)
            else:
                from bench.dispatch_live import produce_tasks

                result = produce_tasks(pipe, command, _wait_for_start)
            pipe.send(result)
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        connection.close()


def _wait_for_start(pipe) -> tuple[float, float]:
    pipe.send({"ready": True})
    start, seconds = pipe.recv()
    while (delay := start - time.monotonic()) > 0:
        time.sleep(min(delay, 0.05))
    return start, start + seconds


def _service_claims(pipe, command: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection

    from gigs.dispatch import task_claim_next
    from marketplace.models import User

    agents = list(User.objects.filter(pk__in=command["agent_ids"]).order_by("pk"))
    # One claim before the clock starts: imports, compiled regexes and the
    # connection are warm, as in a server that has been up for a while.
    warm = task_claim_next(agent=agents[-1])
    warm_ids = [warm.pk] if warm is not None else []
    offsets, latencies, task_ids = array("d"), array("d"), array("q")
    errors: Counter = Counter()
    empty = 0
    cpu_before = time.process_time()
    start, deadline = _wait_for_start(pipe)
    clock = time.monotonic
    count = len(agents)
    n = 0
    while True:
        began = clock()
        if began >= deadline:
            break
        agent = agents[n % count]
        n += 1
        try:
            task = task_claim_next(agent=agent)
        except Exception as exc:  # counted and reported, never lost with the process
            errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
            if connection.connection is not None and connection.connection.closed:
                connection.close()
            continue
        ended = clock()
        if task is None:
            empty += 1
            continue
        offsets.append(ended - start)
        latencies.append(ended - began)
        task_ids.append(task.pk)
    return {
        "offsets": offsets,
        "latencies": latencies,
        "task_ids": array("q", [*task_ids, *warm_ids]),
        "empty": empty,
        "errors": dict(errors),
        "cpu": time.process_time() - cpu_before,
    }


def _raw_claims(pipe, command: dict[str, Any]) -> dict[str, Any]:
    """The captured statements of one claim, replayed with psycopg for each agent in turn.

    Same connection settings as Django's (client-side binding, so the same
    text reaches the server; autocommit off, so psycopg sends BEGIN before the
    first statement and COMMIT at the end, as ``atomic()`` does).
    """
    import psycopg

    statements: list[Statement] = command["statements"]
    agent_ids: list[int] = command["agent_ids"]
    conn = psycopg.connect(command["conninfo"], cursor_factory=psycopg.ClientCursor)
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()
    cursor = conn.cursor()

    replayed = iter(range(1, 2**62))
    pid = os.getpid()

    def claim(agent_id: int) -> int | None:
        now = datetime.now(UTC)
        task_id = None
        key = f"bench-replay:{pid}:{next(replayed)}"
        for statement in statements:
            cursor.execute(
                statement.sql, _replay_params(statement.params, agent_id, task_id, now, key)
            )
            if statement.picks_task:
                row = cursor.fetchone()
                if row is None:
                    conn.rollback()
                    return None
                task_id = row[0]
            elif cursor.description is not None:
                cursor.fetchall()
        conn.commit()
        return task_id

    warm = claim(agent_ids[-1])
    warm_ids = [warm] if warm is not None else []
    offsets, latencies, task_ids = array("d"), array("d"), array("q")
    errors: Counter = Counter()
    empty = 0
    cpu_before = time.process_time()
    start, deadline = _wait_for_start(pipe)
    clock = time.monotonic
    count = len(agent_ids)
    n = 0
    try:
        while True:
            began = clock()
            if began >= deadline:
                break
            agent_id = agent_ids[n % count]
            n += 1
            try:
                task_id = claim(agent_id)
            except psycopg.Error as exc:
                errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
                conn.rollback()
                continue
            ended = clock()
            if task_id is None:
                empty += 1
                continue
            offsets.append(ended - start)
            latencies.append(ended - began)
            task_ids.append(task_id)
    finally:
        _OPEN_RAW_CONNECTIONS.append(conn)
    return {
        "offsets": offsets,
        "latencies": latencies,
        "task_ids": array("q", [*task_ids, *warm_ids]),
        "empty": empty,
        "errors": dict(errors),
        "cpu": time.process_time() - cpu_before,
    }


class ClaimPool:
    """Long-lived claim processes (spawned, each with its own Django and connection),
    so that a run's figures never include starting Python and Django."""

    def __init__(self, size: int, env: dict[str, str]) -> None:
        context = multiprocessing.get_context("spawn")
        self.workers = []
        for _ in range(size):
            parent_end, child_end = context.Pipe()
            process = context.Process(target=_worker_main, args=(child_end, env), daemon=True)
            process.start()
            child_end.close()
            self.workers.append((process, parent_end))

    @property
    def pids(self) -> list[int]:
        return [process.pid for process, _ in self.workers]

    def run(self, commands: list[dict[str, Any]], seconds: float, before_start=None) -> list[dict]:
        """Send one command to each of the first len(commands) processes, call
        ``before_start`` once they are ready (connected), start them together and
        return their results."""
        active = self.workers[: len(commands)]
        for (_process, pipe), command in zip(active, commands, strict=True):
            pipe.send(command)
        for process, pipe in active:
            if not pipe.poll(120):
                raise RuntimeError(f"claim process {process.pid} did not get ready")
            pipe.recv()
        if before_start is not None:
            before_start()
        start = time.monotonic() + 0.2
        for _process, pipe in active:
            pipe.send((start, seconds))
        results = []
        for process, pipe in active:
            if not pipe.poll(seconds + 120):
                raise RuntimeError(f"claim process {process.pid} did not finish")
            results.append(pipe.recv())
        return results

    def stop(self) -> None:
        for _process, pipe in self.workers:
            with contextlib.suppress(OSError):
                pipe.send({"kind": "stop"})
        for process, _pipe in self.workers:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


def _split(ids: list[int], parts: int) -> list[list[int]]:
    return [ids[index::parts] for index in range(parts)]


def measure_claims(
    *,
    pool: ClaimPool,
    world: World,
    kind: str,
    agent_ids: list[int],
    processes: int,
    seconds: float,
    window: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One run: ``processes`` claim processes for ``seconds``, then the checks."""
    redis_pids = [pid] if (pid := redis_server_pid(os.environ["REDIS_URL"])) else []
    commands = [
        {"kind": kind, "agent_ids": share, **(extra or {})}
        for share in _split(agent_ids, processes)
    ]
    before: dict[str, Any] = {}

    def read_counters() -> None:
        before["cpu"] = {
            "claim_processes": cpu_seconds_of(pool.pids[:processes]),
            "postgresql": cpu_seconds_of(postgres_backend_pids()),
            "redis": cpu_seconds_of(redis_pids),
        }
        before["machine"] = machine_cpu()
        before["at"] = time.monotonic()

    results = pool.run(commands, seconds, before_start=read_counters)
    wall = time.monotonic() - before["at"]
    busy = machine_busy_since(before["machine"])
    db_cpu = cpu_used_since(before["cpu"]["postgresql"])
    workers_cpu = cpu_used_since(before["cpu"]["claim_processes"])
    cores = cores_used(before["cpu"], wall, busy)

    offsets = [value for result in results for value in result["offsets"]]
    latencies = [value for result in results for value in result["latencies"]]
    claimed_ids = [value for result in results for value in result["task_ids"]]
    errors: Counter = Counter()
    for result in results:
        errors.update(result["errors"])
    claims = len(latencies)
    elapsed = max(offsets, default=seconds)
    first = sum(1 for offset in offsets if offset < window)
    last = sum(1 for offset in offsets if offset >= elapsed - window)
    checks = check_claims(world, claimed_ids)
    figures = {
        "processes": processes,
        "seconds": round(elapsed, 2),
        "claims": claims,
        "claims_per_s": round(claims / elapsed, 1) if elapsed else 0.0,
        **latency_summary(latencies),
        "window_s": round(window, 2),
        "last_vs_first_window": round(last / first, 3) if first else None,
        "empty": sum(result["empty"] for result in results),
        "errors": dict(errors),
        "machine_busy_cores": busy,
        "cores_used": cores,
        "cpu_ms_per_claim": {
            "claim_processes": round(workers_cpu / claims * 1000, 3) if claims else None,
            "postgresql": round(db_cpu / claims * 1000, 3) if claims else None,
        },
        **checks,
    }
    figures.pop("n", None)
    return figures


def _claim_line(label: str, figures: dict[str, Any]) -> str:
    cpu = figures["cpu_ms_per_claim"]
    text = (
        f"  {label:<10} {figures['processes']:>2} proc  {figures['claims_per_s']:>8.1f} claims/s  "
        f"p50 {figures['p50_ms']:>6.2f} ms  p99 {figures['p99_ms']:>7.2f} ms  "
        f"last/first {figures['last_vs_first_window'] or 0:.2f}  "
        f"cpu ms/claim {cpu['claim_processes'] or 0:.2f} + pg {cpu['postgresql'] or 0:.2f}  "
        f"busy {figures['machine_busy_cores']} (other work {figures['cores_used'].get('other')})  "
        f"double {figures['double_claims']}"
    )
    if figures["errors"] or figures["empty"]:
        text += f"  ERRORS {figures['errors']} empty {figures['empty']}"
    return text


def breakdown(calls: list, seconds: float) -> dict[str, Any]:
    """Where the time of each call goes, in this process: SQL statements (by kind),
    COMMIT, the live publish after it, and the rest (Python: the ORM building
    queries and reading rows, the service's own work). The first call warms up
    and is not counted; the others run until ``seconds`` have passed."""
    from django.db import connection

    from gigs import live

    spent: Counter = Counter()
    statements: Counter = Counter()
    by_kind: Counter = Counter()

    def timed_execute(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            took = time.perf_counter() - began
            spent["statements"] += took
            kind = describe_statement(sql).split(" (")[0]
            by_kind[kind] += took
            statements[kind] += 1

    original_send = live._send
    original_commit = connection._commit

    def timed_send(items):
        began = time.perf_counter()
        try:
            return original_send(items)
        finally:
            spent["publish"] += time.perf_counter() - began

    def timed_commit():
        began = time.perf_counter()
        try:
            return original_commit()
        finally:
            spent["commit"] += time.perf_counter() - began
            statements["COMMIT"] += 1

    live._send = timed_send
    connection._commit = timed_commit
    try:
        calls[0]()
        spent.clear()
        cpu_before = time.process_time()
        began = time.perf_counter()
        done = 0
        with connection.execute_wrapper(timed_execute):
            for call in calls[1:]:
                call()
                done += 1
                if time.perf_counter() - began > seconds:
                    break
        wall = time.perf_counter() - began
        cpu = time.process_time() - cpu_before
    finally:
        live._send = original_send
        del connection._commit
    ms = 1000.0 / max(done, 1)
    rest = wall - sum(spent.values())
    return {
        "calls": done,
        "wall_ms": round(wall * ms, 3),
        "cpu_ms": round(cpu * ms, 3),
        "statements_ms": round(spent["statements"] * ms, 3),
        "commit_ms": round(spent["commit"] * ms, 3),
        "publish_ms": round(spent["publish"] * ms, 3),
        "python_ms": round(rest * ms, 3),
        "statements_per_call": {k: round(v / max(done, 1), 2) for k, v in statements.items()},
        "ms_by_statement": {k: round(v * ms, 3) for k, v in by_kind.items()},
    }


def breakdown_line(label: str, b: dict[str, Any]) -> str:
    return (
        f"  {label} ({b['calls']} calls in this process): {b['wall_ms']} ms wall, "
        f"{b['cpu_ms']} ms CPU; statements {b['statements_ms']} ms, COMMIT {b['commit_ms']} ms, "
        f"live publish {b['publish_ms']} ms, the rest (Python) {b['python_ms']} ms"
    )


def run_claims(args: argparse.Namespace, world: World, env: dict[str, str]) -> dict[str, Any]:
    from django.conf import settings

    report: dict[str, Any] = {
        "tasks": TASK_COUNT,
        "gigs": GIG_COUNT,
        "languages": list(LANGUAGES),
        "skills": SKILL_COUNT,
        "agents_per_kind": CLAIM_AGENTS,
        "hold_limit": HOLD_LIMIT,
        "filtered_share_of_tasks": round(world.filtered_share, 4),
        "service_seconds": args.seconds,
        "raw_seconds": args.raw_seconds,
        "window_s": args.window,
    }
    capture = capture_claim(world)
    report["statements"] = [describe_statement(sql) for sql in capture.logged]
    print(f"\none claim ({len(capture.logged)} entries in Django's query log):", flush=True)
    for sql in capture.logged:
        print(f"  {describe_statement(sql)}", flush=True)
        if args.show_queries:
            print(f"      {sql}", flush=True)
    report["explain"] = {
        "unfiltered": explain_claim_select(capture, world.unfiltered_agent_ids[0]),
        "filtered": explain_claim_select(capture, world.filtered_agent_ids[0]),
    }
    for kind, explained in report["explain"].items():
        print(
            f"  the SELECT for an {kind} agent: {explained['execution_ms']} ms in PostgreSQL "
            f"(+{explained['planning_ms']} ms planning)",
            flush=True,
        )
        if args.show_queries:
            print("\n".join("      " + line for line in _plan_lines(explained["plan"])))
        explained.pop("plan")
    reset_claims(world)
    from gigs.dispatch import task_claim_next
    from marketplace.models import User

    probe_agents = list(User.objects.filter(pk__in=world.unfiltered_agent_ids[:200]))
    report["breakdown"] = breakdown(
        [lambda a=agent: task_claim_next(agent=a) for agent in probe_agents],
        3.0 if args.quick else 6.0,
    )
    print(breakdown_line("one claim", report["breakdown"]), flush=True)
    reset_claims(world)

    conninfo = _conninfo(settings.DATABASES["default"])
    pool = ClaimPool(max(args.process_counts), env)
    agents = {"unfiltered": world.unfiltered_agent_ids, "filtered": world.filtered_agent_ids}
    points = []
    print(
        f"\nclaims: service runs {args.seconds:g} s, raw statement runs {args.raw_seconds:g} s, "
        f"windows {args.window:g} s; filtered agents may take "
        f"{world.filtered_share:.1%} of the tasks",
        flush=True,
    )
    try:
        for processes in args.process_counts:
            point: dict[str, Any] = {"processes": processes}
            for kind, ids in agents.items():
                for mode, seconds, extra in (
                    ("service", args.seconds, None),
                    (
                        "raw",
                        args.raw_seconds,
                        {"statements": capture.statements, "conninfo": conninfo},
                    ),
                ):
                    figures = measure_claims(
                        pool=pool,
                        world=world,
                        kind=mode,
                        agent_ids=ids,
                        processes=processes,
                        seconds=seconds,
                        window=min(args.window, seconds / 2),
                        extra=extra,
                    )
                    reset_claims(world)
                    point[f"{kind}_{mode}"] = figures
                    print(_claim_line(f"{kind[:5]} {mode}", figures), flush=True)
                raw = point[f"{kind}_raw"]["claims_per_s"] or 1e-9
                point[f"{kind}_service_vs_raw"] = round(
                    point[f"{kind}_service"]["claims_per_s"] / raw, 3
                )
            unfiltered = point["unfiltered_service"]["claims_per_s"] or 1e-9
            point["filtered_vs_unfiltered"] = round(
                point["filtered_service"]["claims_per_s"] / unfiltered, 3
            )
            print(
                f"  {processes:>2} proc: service/raw unfiltered "
                f"{point['unfiltered_service_vs_raw']:.2f}x, filtered "
                f"{point['filtered_service_vs_raw']:.2f}x; filtered/unfiltered "
                f"{point['filtered_vs_unfiltered']:.2f}x",
                flush=True,
            )
            points.append(point)
    finally:
        pool.stop()
    report["points"] = points
    return report


def _conninfo(database: dict[str, Any]) -> str:
    from psycopg.conninfo import make_conninfo

    params = {
        "dbname": database["NAME"],
        "host": database.get("HOST") or None,
        "port": database.get("PORT") or None,
        "user": database.get("USER") or None,
        "password": database.get("PASSWORD") or None,
    }
    return make_conninfo(**{key: str(value) for key, value in params.items() if value})


def claim_failures(report: dict[str, Any]) -> list[str]:
    failures = []
    for point in report.get("points", []):
        for name, figures in point.items():
            if not isinstance(figures, dict):
                continue
            label = f"{name} at {point['processes']} processes"
            if figures["double_claims"]:
                failures.append(f"{label}: {figures['double_claims']} double claims")
            if figures["held_without_open_session"] or figures["open_session_without_hold"]:
                failures.append(f"{label}: holders and work sessions disagree")
            if figures["claims_not_in_database"]:
                failures.append(f"{label}: claims returned that the database does not hold")
            if figures["errors"]:
                failures.append(f"{label}: errors {figures['errors']}")
    return failures


def claim_aims(report: dict[str, Any]) -> dict[str, Any]:
    """The issue's aims, judged at every process count."""
    points = report.get("points", [])
    if not points:
        return {}
    worst_raw = min(
        min(p["unfiltered_service_vs_raw"], p["filtered_service_vs_raw"]) for p in points
    )
    worst_filtered = min(p["filtered_vs_unfiltered"] for p in points)
    return {
        "service_vs_raw_min": worst_raw,
        "service_vs_raw_aim": AIM_SERVICE_VS_RAW,
        "service_vs_raw_met": worst_raw >= AIM_SERVICE_VS_RAW,
        "filtered_vs_unfiltered_min": worst_filtered,
        "filtered_vs_unfiltered_aim": AIM_FILTERED_VS_UNFILTERED,
        "filtered_vs_unfiltered_met": worst_filtered >= AIM_FILTERED_VS_UNFILTERED,
    }


# --- Main ---------------------------------------------------------------------------


def versions() -> dict[str, Any]:
    import redis

    found = distribution_versions(
        "daphne",
        "channels",
        "channels-redis",
        "redis",
        "websockets",
        "twisted",
        "psycopg",
    )
    try:
        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        found["redis_server"] = client.info("server")["redis_version"]
        client.close()
    except Exception as exc:  # the WebSocket parts report it again when they need Redis
        found["redis_server"] = f"unreachable: {exc}"
    return found


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    if not database_url.startswith(("postgres://", "postgresql://")):
        print(
            "bench.dispatch needs PostgreSQL: set DATABASE_URL to a postgres:// URL",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    # SIGTERM becomes SystemExit, so that the ``finally`` blocks stop daphne and
    # the claim processes and drop the database.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    recreate_postgres_database(database_url, mark=DATABASE_MARK)
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    failures: list[str] = []
    notes: list[str] = []
    report: dict[str, Any] = {"benchmark": "dispatch", "quick": args.quick}
    try:
        call_command("migrate", interactive=False, verbosity=0)
        info = machine_info()
        info.update(versions())
        report["machine"] = info
        print(
            f"machine: {info['cores']} cores ({info['usable_cores']} usable), {info['platform']}, "
            f"load average {info['load_average_1m_at_start']} at start\n"
            f"python {info['python']}, django {info['django']}, psycopg {info['psycopg']}, "
            f"daphne {info['daphne']}, channels {info['channels']}, "
            f"channels-redis {info['channels-redis']}, redis-py {info['redis']}, "
            f"websockets {info['websockets']}\n"
            f"database: {info['database']} {info['database_version']}, "
            f"redis {info['redis_server']}; everything on this machine, loopback only",
            flush=True,
        )
        began = time.monotonic()
        world = build_world()
        print(
            f"world: {TASK_COUNT:,} open tasks over {GIG_COUNT} gigs, "
            f"{CLAIM_AGENTS} + {CLAIM_AGENTS} claim agents, {LIVE_AGENTS} live agents "
            f"({time.monotonic() - began:.1f} s)",
            flush=True,
        )
        # Every process the benchmark starts inherits this process's environment
        # (the same database, Redis and SECRET_KEY); claim processes keep one
        # connection each instead of a pool.
        env = {"DATABASE_POOL": "false"}
        if args.only != "live":
            report["claims"] = run_claims(args, world, env)
            failures += claim_failures(report["claims"])
            report["claims"]["aim"] = claim_aims(report["claims"])
            aim = report["claims"]["aim"]
            if aim:
                print(
                    f"\naim: service >= {AIM_SERVICE_VS_RAW}x its raw statements "
                    f"(lowest {aim['service_vs_raw_min']:.2f}x: "
                    f"{'met' if aim['service_vs_raw_met'] else 'NOT met'}); "
                    f"filtered >= {AIM_FILTERED_VS_UNFILTERED}x unfiltered "
                    f"(lowest {aim['filtered_vs_unfiltered_min']:.2f}x: "
                    f"{'met' if aim['filtered_vs_unfiltered_met'] else 'NOT met'})",
                    flush=True,
                )
        if args.only != "claims":
            from bench import dispatch_live

            report["live"] = dispatch_live.run(args, world, failures, notes)
            print("\n" + dispatch_live.aims_line(report["live"]["aim"]), flush=True)
    finally:
        connection.close()
        if not args.keep_database:
            drop_postgres_database(database_url, mark=DATABASE_MARK)
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    report["failures"] = failures
    report["notes"] = notes
    for note in notes:
        print(f"note: {note}")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    print(f"elapsed: {report['elapsed_s']} s", flush=True)
    emit_json(report)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
