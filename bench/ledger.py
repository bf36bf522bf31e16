"""Ledger benchmark: postings per second from 8 and 32 concurrent writers.

    python -m bench.ledger [--quick]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gigdesk_bench_ledger python -m bench.ledger

Needs PostgreSQL. The database is the benchmark's own: dropped and created at
the start (only if it carries the benchmark's label) and dropped at the end
unless ``--keep-database``.

Four ways of writing, each from 8 and then 32 writers (up to 8 processes,
each running writers/processes threads with its own connection):

- ``raw``: a two-line posting as bare SQL through psycopg (insert the
  posting, insert its two entries, commit): the floor, between the two
  platform accounts, which keep no cached balance.
- ``raw_hot``: the same plus an update of one balance row every writer
  shares, the pattern that serialises writers.
- ``service``: ``payouts.services.posting_create`` with the same two lines
  (each writer's own brand balance, the platform's Stripe clearing account).
- ``service_earning``: ``posting_create`` shaped like an earning (a brand of
  50, an agent of 1,000, platform revenue): three lines and shared brands.

After the runs the trial balance is checked: every posting sums to zero, and
every cached balance equals its entries. Ends with one line of JSON.
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import signal
import sys
import threading
import time
from typing import Any

from bench.common import (
    drop_postgres_database,
    emit_json,
    machine_info,
    recreate_postgres_database,
    setup_django,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/gigdesk_bench_ledger"
DATABASE_MARK = "Gigdesk benchmark database, dropped and recreated by python -m bench.ledger"
WRITER_COUNTS = (8, 32)
MAX_PROCESSES = 8
EARNING_BRANDS = 50
EARNING_AGENTS = 1000
MODES = ("raw", "raw_hot", "service", "service_earning")
AIM_SERVICE_VS_RAW = 0.4
AIM_32_VS_8 = 0.9


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ledger", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="short runs (4 s instead of 15 s)")
    parser.add_argument("--seconds", type=float, help="seconds per run")
    parser.add_argument("--keep-database", action="store_true", help="leave the database behind")
    return parser.parse_args(argv)


# --- The world ---------------------------------------------------------------------------


def build_world() -> dict[str, Any]:
    """Accounts for every writer and the earning shape, created through the services."""
    from brands.models import Brand
    from marketplace.models import AccountType, User
    from payouts.models import Purpose
    from payouts.services import agent_ledger_accounts, ledger_account

    writer_brands = Brand.objects.bulk_create(
        [Brand(name=f"Writer {n}", slug=f"writer-{n}") for n in range(max(WRITER_COUNTS))]
    )
    earning_brands = Brand.objects.bulk_create(
        [Brand(name=f"Earning brand {n}", slug=f"earning-{n}") for n in range(EARNING_BRANDS)]
    )
    agents = User.objects.bulk_create(
        [
            User(email=f"agent{n}@bench.test", account_type=AccountType.AGENT)
            for n in range(EARNING_AGENTS)
        ]
    )
    pending = agent_ledger_accounts(
        agent_ids=[agent.pk for agent in agents], purpose=Purpose.AGENT_PENDING, currency="EUR"
    )
    hot_brand = Brand.objects.create(name="Hot row", slug="hot-row")
    return {
        "writer_accounts": [
            ledger_account(purpose=Purpose.BRAND_BALANCE, currency="EUR", brand=brand).pk
            for brand in writer_brands
        ],
        "earning_brand_accounts": [
            ledger_account(purpose=Purpose.BRAND_BALANCE, currency="EUR", brand=brand).pk
            for brand in earning_brands
        ],
        "agent_accounts": [account.pk for account in pending.values()],
        "clearing": ledger_account(purpose=Purpose.STRIPE_CLEARING, currency="EUR").pk,
        "revenue": ledger_account(purpose=Purpose.PLATFORM_REVENUE, currency="EUR").pk,
        "hot": ledger_account(purpose=Purpose.BRAND_BALANCE, currency="EUR", brand=hot_brand).pk,
    }


# --- Writers -------------------------------------------------------------------------------


def _raw_writer(command, writer: int, deadline: float, counts: list[int], errors: list[str]):
    import psycopg

    conn = psycopg.connect(command["conninfo"])
    world = command["world"]
    # Between the two platform accounts, which keep no cached balance: append
    # only, and the trial balance still holds afterwards.
    own = world["revenue"]
    hot = world["hot"] if command["mode"] == "raw_hot" else None
    clearing = world["clearing"]
    prefix = f"{command['mode']}:{command['run']}:{writer}:"
    n = 0
    try:
        while time.monotonic() < deadline:
            n += 1
            account = hot or own
            try:
                with conn.transaction():
                    (posting_id,) = conn.execute(
                        "INSERT INTO payouts_posting (idempotency_key, kind, memo, reference, "
                        "created_at) VALUES (%s, 'bench.raw', '', '', now()) RETURNING id",
                        [f"{prefix}{n}"],
                    ).fetchone()
                    conn.execute(
                        "INSERT INTO payouts_entry (posting_id, account_id, amount_minor, "
                        "currency) VALUES (%s, %s, %s, 'EUR'), (%s, %s, %s, 'EUR')",
                        [posting_id, account, 100, posting_id, clearing, -100],
                    )
                    if hot is not None:
                        conn.execute(
                            "UPDATE payouts_ledgeraccount SET balance_minor = balance_minor + 100 "
                            "WHERE id = %s",
                            [hot],
                        )
                counts[writer] += 1
            except psycopg.Error as exc:
                errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
    finally:
        conn.close()


def _service_writer(command, writer: int, deadline: float, counts: list[int], errors: list[str]):
    from django.db import connection

    from payouts.models import LedgerAccount
    from payouts.services import posting_create

    world = command["world"]
    accounts = LedgerAccount.objects.in_bulk(
        [
            world["writer_accounts"][writer],
            world["clearing"],
            world["revenue"],
            *world["earning_brand_accounts"],
            *world["agent_accounts"],
        ]
    )
    clearing, revenue = accounts[world["clearing"]], accounts[world["revenue"]]
    own = accounts[world["writer_accounts"][writer]]
    brands = [accounts[pk] for pk in world["earning_brand_accounts"]]
    agents = [accounts[pk] for pk in world["agent_accounts"]]
    chooser = random.Random(f"{command['run']}:{writer}")
    prefix = f"{command['mode']}:{command['run']}:{writer}:"
    n = 0
    try:
        while time.monotonic() < deadline:
            n += 1
            if command["mode"] == "service":
                lines = [(own, 100), (clearing, -100)]
            else:
                lines = [
                    (chooser.choice(brands), -120),
                    (chooser.choice(agents), 100),
                    (revenue, 20),
                ]
            try:
                posting_create(idempotency_key=f"{prefix}{n}", kind="bench.service", lines=lines)
                counts[writer] += 1
            except Exception as exc:  # counted and reported, never lost with the thread
                errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
    finally:
        connection.close()


def _process_main(pipe, env: dict[str, str]) -> None:
    os.environ.update(env)
    setup_django()
    try:
        while True:
            command = pipe.recv()
            if command["kind"] == "stop":
                break
            writers: list[int] = command["writers"]
            counts = [0] * (max(writers) + 1)
            errors: list[str] = []
            target = _raw_writer if command["mode"].startswith("raw") else _service_writer
            pipe.send({"ready": True})
            start, seconds = pipe.recv()
            while (delay := start - time.monotonic()) > 0:
                time.sleep(min(delay, 0.05))
            deadline = start + seconds
            threads = [
                threading.Thread(target=target, args=(command, w, deadline, counts, errors))
                for w in writers
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            pipe.send({"postings": sum(counts), "errors": errors[:20], "error_count": len(errors)})
    except (EOFError, KeyboardInterrupt):
        pass


class WriterPool:
    def __init__(self, size: int, env: dict[str, str]) -> None:
        context = multiprocessing.get_context("spawn")
        self.workers = []
        for _ in range(size):
            parent_end, child_end = context.Pipe()
            process = context.Process(target=_process_main, args=(child_end, env), daemon=True)
            process.start()
            child_end.close()
            self.workers.append((process, parent_end))

    def run(self, command: dict[str, Any], writers: int, seconds: float) -> dict[str, Any]:
        active = self.workers[: min(writers, len(self.workers))]
        for index, (_process, pipe) in enumerate(active):
            pipe.send({**command, "writers": list(range(index, writers, len(active)))})
        for process, pipe in active:
            if not pipe.poll(120):
                raise RuntimeError(f"writer process {process.pid} did not get ready")
            pipe.recv()
        start = time.monotonic() + 0.3
        for _process, pipe in active:
            pipe.send((start, seconds))
        results = []
        for process, pipe in active:
            if not pipe.poll(seconds + 120):
                raise RuntimeError(f"writer process {process.pid} did not finish")
            results.append(pipe.recv())
        postings = sum(result["postings"] for result in results)
        return {
            "writers": writers,
            "postings": postings,
            "per_second": round(postings / seconds, 1),
            "errors": sum(result["error_count"] for result in results),
            "error_samples": sorted({e for result in results for e in result["errors"]})[:5],
        }

    def stop(self) -> None:
        for _process, pipe in self.workers:
            with contextlib.suppress(OSError):
                pipe.send({"kind": "stop"})
        for process, _pipe in self.workers:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


# --- Checks and report ---------------------------------------------------------------------


def trial_balance() -> dict[str, Any]:
    from django.db.models import Sum

    from payouts.models import Entry, Posting
    from payouts.selectors import balance_mismatches, unbalanced_postings

    totals = dict(
        Entry.objects.order_by()
        .values("currency")
        .annotate(total=Sum("amount_minor"))
        .values_list("currency", "total")
    )
    return {
        "postings": Posting.objects.count(),
        "unbalanced_postings": len(unbalanced_postings()),
        "balance_mismatches": len(balance_mismatches()),
        "sum_per_currency": totals,
    }


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    seconds = args.seconds or (4.0 if args.quick else 15.0)
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not database_url.startswith(("postgres://", "postgresql://")):
        print(
            "bench.ledger needs PostgreSQL: set DATABASE_URL to a postgres:// URL", file=sys.stderr
        )
        return 2
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    recreate_postgres_database(database_url, mark=DATABASE_MARK)
    os.environ["DATABASE_URL"] = database_url
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    failures: list[str] = []
    report: dict[str, Any] = {"benchmark": "ledger", "quick": args.quick, "seconds": seconds}
    pool = None
    try:
        call_command("migrate", interactive=False, verbosity=0)
        info = machine_info()
        report["machine"] = info
        print(
            f"machine: {info['cores']} cores ({info['usable_cores']} usable), {info['platform']}, "
            f"load average {info['load_average_1m_at_start']} at start\n"
            f"python {info['python']}, django {info['django']}, psycopg {info['psycopg']}, "
            f"database: {info['database']} {info['database_version']}, loopback",
            flush=True,
        )
        world = build_world()
        conninfo = connection.get_connection_params()
        conninfo = " ".join(
            f"{key}={value}"
            for key, value in conninfo.items()
            if key in ("dbname", "user", "host", "port", "password") and value
        )
        env = {"DATABASE_POOL": "false", "DATABASE_URL": database_url}
        pool = WriterPool(MAX_PROCESSES, env)
        runs: dict[str, dict[str, Any]] = {}
        for mode in MODES:
            for writers in WRITER_COUNTS:
                command = {"kind": "run", "mode": mode, "run": f"{mode}{writers}", "world": world}
                command["conninfo"] = conninfo
                result = pool.run(command, writers, seconds)
                runs[f"{mode}_{writers}"] = result
                print(
                    f"{mode:>16} {writers:>3} writers: {result['per_second']:>8,.0f} postings/s"
                    + (f"  ({result['errors']} errors)" if result["errors"] else ""),
                    flush=True,
                )
                if result["errors"]:
                    failures.append(f"{mode} with {writers} writers: {result['error_samples']}")
        report["runs"] = runs
        balance = trial_balance()
        report["trial_balance"] = balance
        print(
            f"trial balance: {balance['postings']:,} postings, "
            f"{balance['unbalanced_postings']} unbalanced, "
            f"{balance['balance_mismatches']} cached balances off, "
            f"sum per currency {balance['sum_per_currency']}",
            flush=True,
        )
        if balance["unbalanced_postings"] or balance["balance_mismatches"]:
            failures.append("the trial balance does not hold")
        if any(total != 0 for total in balance["sum_per_currency"].values()):
            failures.append("the entries do not sum to zero per currency")
        aim = {
            f"service_vs_raw_{w}": round(
                runs[f"service_{w}"]["per_second"] / max(runs[f"raw_{w}"]["per_second"], 1), 2
            )
            for w in WRITER_COUNTS
        }
        aim["service_32_vs_8"] = round(
            runs["service_32"]["per_second"] / max(runs["service_8"]["per_second"], 1), 2
        )
        aim["service_earning_32_vs_8"] = round(
            runs["service_earning_32"]["per_second"]
            / max(runs["service_earning_8"]["per_second"], 1),
            2,
        )
        aim["raw_hot_32_vs_raw_32"] = round(
            runs["raw_hot_32"]["per_second"] / max(runs["raw_32"]["per_second"], 1), 2
        )
        aim["service_vs_raw_met"] = min(aim[f"service_vs_raw_{w}"] for w in WRITER_COUNTS) >= (
            AIM_SERVICE_VS_RAW
        )
        aim["no_collapse_met"] = aim["service_32_vs_8"] >= AIM_32_VS_8
        report["aim"] = aim
        print(
            f"\naim: service >= {AIM_SERVICE_VS_RAW}x raw "
            f"({aim['service_vs_raw_8']}x at 8, {aim['service_vs_raw_32']}x at 32: "
            f"{'met' if aim['service_vs_raw_met'] else 'NOT met'}); "
            f"32 writers >= {AIM_32_VS_8}x 8 writers ({aim['service_32_vs_8']}x: "
            f"{'met' if aim['no_collapse_met'] else 'NOT met'}); "
            f"for contrast, one hot row: raw_hot/raw at 32 = {aim['raw_hot_32_vs_raw_32']}x",
            flush=True,
        )
    finally:
        if pool is not None:
            pool.stop()
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
