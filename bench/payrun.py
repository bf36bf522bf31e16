"""Pay run benchmark: 10,000 agents paid through the Stripe sandbox under its rate limit.

    python -m bench.payrun [--quick]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gigdesk_bench_payrun python -m bench.payrun

Needs PostgreSQL. The database is the benchmark's own (dropped and created
at the start, only if it carries the benchmark's label; dropped at the end
unless ``--keep-database``); the Stripe sandbox and the job worker run as
subprocesses with their state in a temporary directory.

1. **The world.** 10,000 agents (1,000 with ``--quick``) with an onboarded
   Express account at the sandbox and an available balance, plus agents the
   run must skip (no payout account; below the minimum). The sandbox's
   accounts and platform funds come from its ``/_sandbox/seed`` switch.
2. **Gather and approve** in this process: the time each takes and its SQL
   query count, at the full size and at a fifth of it, so the growth per
   agent shows.
3. **Execute** with the sandbox's rate limit on (429 past 25 requests a
   second, as in Stripe's test mode) in a ``run_huey`` worker; the worker
   is killed (SIGKILL) when 40 % of the lines are paid and started again.
   End to end is from ``payrun_execute`` to the run's completion; the floor
   is lines / 25 s. Then every transfer at the sandbox is counted per line
   (duplicates must be 0) and the ledger is checked.
4. **Execution's queries**: a separate small run (500 and 2,000 lines, no
   rate limit) executed in this process with its queries captured.

Ends with one line of JSON. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import (
    PROJECT_ROOT,
    drop_postgres_database,
    emit_json,
    machine_info,
    recreate_postgres_database,
    setup_django,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/gigdesk_bench_payrun"
DATABASE_MARK = "Gigdesk benchmark database, dropped and recreated by python -m bench.payrun"
RATE_LIMIT = 25  # Stripe's test-mode limit, requests a second
KILL_AT_SHARE = 0.4
AIM_VS_FLOOR = 1.1
SKIPPED_NO_ACCOUNT = 0.02  # extra agents, as a share of the paid ones
SKIPPED_BELOW_MINIMUM = 0.01
CURRENCY = "EUR"
MINIMUM_MINOR = 1000
WORLD_BATCH = 1000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.payrun", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="1,000 agents instead of 10,000")
    parser.add_argument("--agents", type=int, help="agents paid in the measured run")
    parser.add_argument("--no-kill", action="store_true", help="do not kill the worker partway")
    parser.add_argument("--keep-database", action="store_true", help="leave the database behind")
    return parser.parse_args(argv)


# --- The world ---------------------------------------------------------------------------------


def _staff(email: str):
    from marketplace.models import User

    return User.objects.create_user(email=email, password=None, is_staff=True)


def build_agents(sandbox, *, paid: int, label: str, currency: str = CURRENCY) -> dict[str, int]:
    """``paid`` agents who should be paid, plus some who must be skipped, with their money.

    Balances come as postings from a funded brand to each agent's available
    account (what released earnings leave behind), through the batched writer.
    """
    from django.utils import timezone

    from brands.models import Brand
    from marketplace.models import AccountType, User
    from payouts.models import PayoutAccount, Purpose
    from payouts.services import (
        PostingSpec,
        agent_ledger_accounts,
        ledger_account,
        posting_create,
        postings_create_many,
    )

    no_account = max(1, int(paid * SKIPPED_NO_ACCOUNT))
    below_minimum = max(1, int(paid * SKIPPED_BELOW_MINIMUM))
    total = paid + no_account + below_minimum
    stripe_ids = sandbox.seed(onboarded_accounts=paid + below_minimum)
    agents = User.objects.bulk_create(
        [
            User(email=f"{label}-agent{n}@bench.test", account_type=AccountType.AGENT)
            for n in range(total)
        ],
        batch_size=WORLD_BATCH,
    )
    with_accounts = agents[: paid + below_minimum]
    synced_at = timezone.now()
    PayoutAccount.objects.bulk_create(
        [
            PayoutAccount(
                agent=agent,
                stripe_account_id=stripe_id,
                country="IE",
                details_submitted=True,
                charges_enabled=True,
                payouts_enabled=True,
                synced_at=synced_at,
            )
            for agent, stripe_id in zip(with_accounts, stripe_ids, strict=True)
        ],
        batch_size=WORLD_BATCH,
    )
    brand = Brand.objects.create(name=f"Bench brand {label}", slug=f"bench-{label}")
    brand_balance = ledger_account(purpose=Purpose.BRAND_BALANCE, currency=currency, brand=brand)
    amounts = {
        agent.pk: (
            MINIMUM_MINOR // 2
            if index >= paid and index < paid + below_minimum
            else 2500 + index % 97
        )
        for index, agent in enumerate(agents)
    }
    posting_create(
        idempotency_key=f"bench-funding:{label}",
        kind="bench.funding",
        lines=[
            (brand_balance, sum(amounts.values())),
            (
                ledger_account(purpose=Purpose.STRIPE_CLEARING, currency=currency),
                -sum(amounts.values()),
            ),
        ],
    )
    available = agent_ledger_accounts(
        agent_ids=list(amounts), purpose=Purpose.AGENT_AVAILABLE, currency=currency
    )
    ids = list(amounts)
    for start in range(0, len(ids), WORLD_BATCH):
        postings_create_many(
            [
                PostingSpec(
                    idempotency_key=f"bench-earning:{label}:{agent_id}",
                    kind="bench.earning",
                    lines=[
                        (brand_balance, -amounts[agent_id]),
                        (available[agent_id], amounts[agent_id]),
                    ],
                )
                for agent_id in ids[start : start + WORLD_BATCH]
            ]
        )
    return {
        "paid": paid,
        "skipped_no_account": no_account,
        "skipped_below_minimum": below_minimum,
        "amount_minor": sum(amounts[a.pk] for a in agents[:paid]),
    }


def gather_and_approve(creator, approver, currency: str = CURRENCY) -> tuple[Any, dict[str, Any]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from payouts.payruns import payrun_approve, payrun_create

    figures: dict[str, Any] = {}
    with CaptureQueriesContext(connection) as captured:
        began = time.perf_counter()
        run = payrun_create(actor=creator, currency=currency, minimum_minor=MINIMUM_MINOR)
        figures["gather_s"] = round(time.perf_counter() - began, 2)
    figures["gather_queries"] = len(captured.captured_queries)
    with CaptureQueriesContext(connection) as captured:
        began = time.perf_counter()
        run = payrun_approve(run=run, actor=approver)
        figures["approve_s"] = round(time.perf_counter() - began, 2)
    figures["approve_queries"] = len(captured.captured_queries)
    figures["lines"] = run.lines.count()
    figures["skips"] = dict(Counter(run.skips.values_list("reason_code", flat=True)))
    return run, figures


# --- Processes -----------------------------------------------------------------------------


def worker_start(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_huey", "--quiet"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def worker_kill(worker: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)


def line_counts(run_id: int) -> dict[str, int]:
    from django.db.models import Count

    from payouts.models import PayRunLine

    return dict(
        PayRunLine.objects.filter(run_id=run_id)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )


def transfers_per_line(state_path: Path) -> Counter:
    counts: Counter = Counter()
    with sqlite3.connect(f"file:{state_path}?mode=ro", uri=True) as state:
        for (data,) in state.execute("SELECT data FROM objects WHERE type = 'transfer'"):
            counts[int(json.loads(data)["metadata"]["payrun_line_id"])] += 1
    return counts


def execute_measured(run, executor, *, env, directory: Path, kill: bool, timeout_s: float):
    """Execute in a worker subprocess, kill it partway, restart it, wait for completion."""
    from payouts.models import PayRun, PayRunStatus
    from payouts.payruns import payrun_execute

    log_path = directory / "worker.log"
    worker = worker_start(env, log_path)
    figures: dict[str, Any] = {"killed_at_paid": None, "restart_gap_s": None}
    try:
        time.sleep(3)  # the worker's Django is up before the clock starts
        began = time.monotonic()
        payrun_execute(run=run, actor=executor)
        target = int(run.lines.count() * KILL_AT_SHARE)
        restarted_at = None
        while True:
            status = PayRun.objects.filter(pk=run.pk).values_list("status", flat=True).get()
            if status == PayRunStatus.COMPLETED:
                break
            if time.monotonic() - began > timeout_s:
                raise RuntimeError(f"the pay run did not complete within {timeout_s:.0f} s")
            paid = line_counts(run.pk).get("paid", 0)
            if kill and figures["killed_at_paid"] is None and paid >= target:
                worker_kill(worker)
                figures["killed_at_paid"] = paid
                killed_at = time.monotonic()
                worker = worker_start(env, log_path)
                restarted_at = killed_at
                figures["paid_when_restarted"] = paid
            # The gap: from the kill until the first line after it is paid.
            if (
                restarted_at is not None
                and figures["restart_gap_s"] is None
                and line_counts(run.pk).get("paid", 0) > figures["paid_when_restarted"]
            ):
                figures["restart_gap_s"] = round(time.monotonic() - restarted_at, 2)
            time.sleep(0.2)
        figures["end_to_end_s"] = round(time.monotonic() - began, 2)
    finally:
        worker_kill(worker)
    return figures


def execution_queries(sandbox, creator, approver, executor, *, sizes: tuple[int, int]):
    """Queries of executing runs of two sizes, run in this process with no rate limit."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from huey.contrib.djhuey import HUEY

    from payouts.payrun_transfers import payrun_process
    from payouts.payruns import payrun_approve, payrun_create, payrun_execute

    queries: dict[int, int] = {}
    for size in sizes:
        build_agents(sandbox, paid=size, label=f"q{size}")
        run = payrun_create(actor=creator, currency=CURRENCY, minimum_minor=MINIMUM_MINOR)
        run = payrun_approve(run=run, actor=approver)
        lines = run.lines.count()
        with CaptureQueriesContext(connection) as captured:
            payrun_execute(run=run, actor=executor)
            # The job it queued would run this; here it runs in this process,
            # so that its queries are counted.
            HUEY.flush()
            payrun_process(run_id=run.pk)
        queries[lines] = len(captured.captured_queries)
        counts = line_counts(run.pk)
        if counts.get("paid", 0) != lines:
            raise RuntimeError(f"query phase: {counts} of {lines} lines paid")
    (small, q_small), (large, q_large) = sorted(queries.items())
    return {
        "execute_queries": {str(lines): count for lines, count in queries.items()},
        "execute_queries_per_extra_line": round((q_large - q_small) / (large - small), 3),
    }


def ledger_state() -> dict[str, int]:
    from payouts.selectors import balance_mismatches, unbalanced_postings

    return {
        "unbalanced_postings": len(unbalanced_postings()),
        "balance_mismatches": len(balance_mismatches()),
    }


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    agents = args.agents or (1000 if args.quick else 10_000)
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not database_url.startswith(("postgres://", "postgresql://")):
        print(
            "bench.payrun needs PostgreSQL: set DATABASE_URL to a postgres:// URL", file=sys.stderr
        )
        return 2
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    directory = Path(tempfile.mkdtemp(prefix="gigdesk-bench-payrun-"))
    recreate_postgres_database(database_url, mark=DATABASE_MARK)
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "GIGDESK_DATA_DIR": str(directory / "data"),
            "STRIPE_SECRET_KEY": "",
            "STRIPE_MAX_REQUESTS_PER_SECOND": str(RATE_LIMIT),
            "DATABASE_POOL": "false",
        }
    )
    os.environ.pop("REDIS_URL", None)  # the job queue in its embedded mode, in the temp dir
    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from stripe_sandbox.testing import SandboxProcess

    failures: list[str] = []
    report: dict[str, Any] = {"benchmark": "payrun", "quick": args.quick, "agents": agents}
    sandbox = None
    try:
        call_command("migrate", interactive=False, verbosity=0)
        info = machine_info()
        report["machine"] = info
        print(
            f"machine: {info['cores']} cores ({info['usable_cores']} usable), {info['platform']}, "
            f"load average {info['load_average_1m_at_start']} at start\n"
            f"python {info['python']}, django {info['django']}, "
            f"database: {info['database']} {info['database_version']}; "
            "the sandbox, the worker and this process share the machine",
            flush=True,
        )
        sandbox = SandboxProcess(directory=directory).start()
        settings.STRIPE_SANDBOX_URL = sandbox.url
        sandbox.seed(platform_funds=("eur", 10**12))
        creator = _staff("creator@bench.test")
        approver = _staff("approver@bench.test")
        executor = approver
        from huey.contrib.djhuey import HUEY

        HUEY.immediate = False  # jobs go to the worker's queue, as in production

        # 2. Gather and approve: a fifth of the size first (in another
        # currency, so the measured run does not gather it), then the measured run.
        small = max(agents // 5, 50)
        build_agents(sandbox, paid=small, label="small", currency="USD")
        _small_run, small_figures = gather_and_approve(creator, approver, currency="USD")
        began = time.monotonic()
        world = build_agents(sandbox, paid=agents, label="main")
        print(f"world: {world} ({time.monotonic() - began:.1f} s)", flush=True)
        run, figures = gather_and_approve(creator, approver)
        expected_lines = agents
        report["gather"] = {
            **figures,
            "small_agents": small,
            "small_gather_queries": small_figures["gather_queries"],
            "small_approve_queries": small_figures["approve_queries"],
        }
        print(
            f"gather: {figures['lines']:,} lines in {figures['gather_s']} s, "
            f"{figures['gather_queries']} queries ({small_figures['gather_queries']} for "
            f"{small_figures['lines']:,} lines); approve {figures['approve_s']} s, "
            f"{figures['approve_queries']} queries; skipped {figures['skips']}",
            flush=True,
        )
        if figures["lines"] != expected_lines:
            failures.append(f"gathered {figures['lines']} lines, expected {expected_lines}")

        # 3. Execute under the rate limit, with the worker killed partway.
        sandbox.rate_limit(RATE_LIMIT)
        env = {**os.environ, "STRIPE_SANDBOX_URL": sandbox.url}
        lines = figures["lines"]
        floor_s = lines / RATE_LIMIT
        execution = execute_measured(
            run,
            executor,
            env=env,
            directory=directory,
            kill=not args.no_kill,
            timeout_s=floor_s * 4 + 120,
        )
        sandbox.rate_limit(None)
        counts = line_counts(run.pk)
        transfers = transfers_per_line(sandbox.state_path)
        run_line_ids = set(run.lines.values_list("pk", flat=True))
        duplicates = sum(
            n - 1 for line_id, n in transfers.items() if line_id in run_line_ids and n > 1
        )
        missing = len(run_line_ids - set(transfers))
        execution.update(
            {
                "lines": lines,
                "floor_s": round(floor_s, 1),
                "vs_floor": round(execution["end_to_end_s"] / floor_s, 3),
                "line_states": counts,
                "duplicate_transfers": duplicates,
                "lines_without_transfer": missing,
            }
        )
        report["execute"] = execution
        print(
            f"execute: {lines:,} lines in {execution['end_to_end_s']} s against a floor of "
            f"{floor_s:.0f} s ({execution['vs_floor']}x); worker killed at "
            f"{execution['killed_at_paid']} paid, first payment {execution['restart_gap_s']} s "
            f"after the kill; states {counts}; duplicate transfers {duplicates}",
            flush=True,
        )
        if duplicates:
            failures.append(f"{duplicates} duplicate transfers")
        if counts.get("paid", 0) != lines or missing:
            failures.append(f"not every line paid: {counts}, {missing} without a transfer")

        # 4. Execution's queries at two sizes.
        queries = execution_queries(
            sandbox, creator, approver, executor, sizes=(100, 400) if args.quick else (500, 2000)
        )
        report["execute_queries"] = queries
        print(f"execute queries: {queries}", flush=True)

        report["ledger"] = ledger_state()
        print(f"ledger: {report['ledger']}", flush=True)
        if any(report["ledger"].values()):
            failures.append("the ledger check failed")
        report["aim"] = {
            "vs_floor": execution["vs_floor"],
            "vs_floor_met": execution["vs_floor"] <= AIM_VS_FLOOR,
            "duplicates_met": duplicates == 0,
        }
        print(
            f"\naim: end to end <= {AIM_VS_FLOOR}x the rate-limit floor "
            f"({execution['vs_floor']}x: {'met' if report['aim']['vs_floor_met'] else 'NOT met'}); "
            f"duplicate transfers 0 ({duplicates})",
            flush=True,
        )
    finally:
        if sandbox is not None:
            sandbox.stop()
        connection.close()
        if not args.keep_database:
            drop_postgres_database(database_url, mark=DATABASE_MARK)
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    report["failures"] = failures
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    print(f"elapsed: {report['elapsed_s']} s", flush=True)
    emit_json(report)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
