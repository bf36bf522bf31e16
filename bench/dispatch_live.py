"""The WebSocket half of ``python -m bench.dispatch``: offer to claim, and fan-out.

Two daphne processes serve ``marketplace.asgi`` with ``REDIS_URL`` set (the
Redis pub/sub channel layer, one hub per process). The agents are
``websockets`` clients in two processes of their own, logged in with session
rows made here, half of them on each daphne. Tasks come from
``gigs.services.task_create``: in producer processes at a fixed rate for
offer-to-claim, in the benchmark's own process one at a time for fan-out. The
baseline is a bare ``websockets`` server broadcasting the same frame to as
many clients, on the same machine.

Times are ``time.monotonic()``, one clock for every process on Linux, so a
time taken in a producer and one taken in a client subtract.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter, defaultdict
from contextlib import suppress
from pathlib import Path
from typing import Any

from bench.common import (
    PROJECT_ROOT,
    HttpClient,
    cores_used,
    cpu_seconds_of,
    free_port,
    latency_summary,
    machine_busy_since,
    machine_cpu,
    postgres_backend_pids,
    production_environment,
    redis_server_pid,
)

DAPHNE_PROCESSES = 2
CLIENT_PROCESSES = 2
RACE_AGENTS = 200
FANOUT_AGENTS = 1000
HEARTBEAT_SECONDS = 15.0
# How long a fan-out round waits for its last frame before counting the rest lost.
ROUND_TIMEOUT = 5.0
AIM_CONFIRM_P99_MS = 25.0
AIM_FANOUT_VS_RAW = 1.5


# --- Servers ------------------------------------------------------------------------


class DaphneServer:
    """One daphne process serving the project's ASGI application on a free port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.host = "127.0.0.1"
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws/agent/"

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        self.port = free_port()
        log_fd, log_name = tempfile.mkstemp(prefix="gigdesk-bench-daphne-", suffix=".log")
        self.log_path = Path(log_name)
        command = [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            self.host,
            "-p",
            str(self.port),
            "-v",
            "0",
            "marketplace.asgi:application",
        ]
        try:
            self.process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=self.env, stdout=log_fd, stderr=subprocess.STDOUT
            )
        finally:
            os.close(log_fd)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited at start:\n{self.log_tail()}")
            try:
                status = HttpClient(self.host, self.port, timeout=2).request("GET", "/healthz")[0]
            except OSError:
                time.sleep(0.1)
                continue
            if status == 200:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"daphne did not answer within {timeout:.0f} s")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None


def _raw_server_main(pipe, port: int, payload: dict[str, Any]) -> None:
    """A bare ``websockets`` server that broadcasts an offer-sized frame on command."""
    asyncio.run(_raw_server(pipe, port, payload))


async def _raw_server(pipe, port: int, payload: dict[str, Any]) -> None:
    from websockets.asyncio.server import broadcast, serve

    connections = set()

    async def handler(websocket) -> None:
        connections.add(websocket)
        try:
            await websocket.wait_closed()
        finally:
            connections.discard(websocket)

    loop = asyncio.get_running_loop()
    async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None):
        pipe.send("listening")
        while True:
            command = await loop.run_in_executor(None, pipe.recv)
            if command[0] == "stop":
                break
            round_number = command[1]
            text = json.dumps(
                {"type": "offer", "task": {**payload, "id": round_number}}, separators=(",", ":")
            )
            began = time.monotonic()
            broadcast(connections, text)
            pipe.send((began, len(connections)))


# --- Agents (the load generator) -------------------------------------------------------


def _int_after(text: str, key: str) -> int | None:
    """The integer following ``key`` in ``text``: enough to route a frame without
    decoding it, since most frames are offers and withdrawals."""
    position = text.find(key)
    if position < 0:
        return None
    position += len(key)
    end = position
    while end < len(text) and text[end].isdigit():
        end += 1
    return int(text[position:end]) if end > position else None


# Slots of each client process's shared counters, read by the parent while it waits.
OFFERS, FRAMES, PENDING = 0, 1, 2


class Record:
    """What one client process saw during a measured phase."""

    def __init__(self) -> None:
        self.offers = (array("q"), array("d"), array("i"))  # task id, time, agent index
        self.withdrawals = (array("q"), array("d"), array("i"))
        # (task id, agent index, sent, answered) for claims that won
        self.confirmed: list[tuple[int, int, float, float]] = []
        # (task id, agent index, sent, first sign it was taken) for claims that lost
        self.lost: list[tuple[int, int, float, float]] = []
        self.refusals: Counter = Counter()
        self.heartbeats = array("d")  # heartbeat round trips
        self.frames = 0
        self.kinds: Counter = Counter()

    def export(self) -> dict[str, Any]:
        return {
            "offers": self.offers,
            "withdrawals": self.withdrawals,
            "confirmed": self.confirmed,
            "lost": self.lost,
            "refusals": dict(self.refusals),
            "heartbeats": self.heartbeats,
            "frames": self.frames,
            "kinds": dict(self.kinds),
        }


def _clients_main(pipe, sockets: list[dict[str, Any]], options: dict[str, Any], counters) -> None:
    asyncio.run(_clients(pipe, sockets, options, counters))


async def _clients(pipe, sockets, options, counters) -> None:
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    clock = time.monotonic
    state: dict[str, Any] = {"record": Record(), "recording": False, "dropped": Counter()}
    pending: dict[tuple[int, int], float] = {}
    heartbeat_sent: dict[int, float] = {}
    race_modulus = options.get("race_modulus") or 0
    expects_snapshot = options.get("snapshot", True)
    open_sockets: dict[int, Any] = {}
    tasks: dict[int, list[asyncio.Task]] = {}

    def answered(record: Record, key: tuple[int, int], now: float, won: bool) -> None:
        sent = pending.pop(key, None)
        if sent is None:
            return
        counters[PENDING] -= 1
        entry = (key[1], key[0], sent, now)
        (record.confirmed if won else record.lost).append(entry)

    async def reader(index: int, websocket) -> None:
        try:
            async for text in websocket:
                now = clock()
                if not state["recording"]:
                    continue
                record: Record = state["record"]
                record.frames += 1
                counters[FRAMES] += 1
                if text.startswith('{"type":"offer"'):
                    task_id = _int_after(text, '"id":')
                    offers = record.offers
                    offers[0].append(task_id)
                    offers[1].append(now)
                    offers[2].append(index)
                    counters[OFFERS] += 1
                    if race_modulus and (task_id + index) % race_modulus == 0:
                        pending[(index, task_id)] = clock()
                        counters[PENDING] += 1
                        await websocket.send(
                            f'{{"type":"claim","task_id":{task_id},"ref":"{task_id}"}}'
                        )
                    continue
                if text.startswith('{"type":"withdraw"'):
                    task_id = _int_after(text, '"task_id":')
                    withdrawals = record.withdrawals
                    withdrawals[0].append(task_id)
                    withdrawals[1].append(now)
                    withdrawals[2].append(index)
                    answered(record, (index, task_id), now, won=False)
                    continue
                event = json.loads(text)
                kind = event.get("type")
                record.kinds[kind] += 1
                if kind == "claim.result":
                    answered(record, (index, event["task"]["id"]), now, won=True)
                elif kind == "error" and event.get("task_id") is not None:
                    record.refusals[event.get("code")] += 1
                    answered(record, (index, event["task_id"]), now, won=False)
                elif kind == "heartbeat.ack" and index in heartbeat_sent:
                    record.heartbeats.append(now - heartbeat_sent.pop(index))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a dropped socket is reported, not fatal
            state["dropped"][type(exc).__name__] += 1

    async def heartbeats(index: int, websocket, delay: float) -> None:
        with suppress(Exception):
            await asyncio.sleep(delay)
            while True:
                heartbeat_sent[index] = clock()
                await websocket.send('{"type":"heartbeat"}')
                await asyncio.sleep(HEARTBEAT_SECONDS)

    async def open_one(spec: dict[str, Any], gate: asyncio.Semaphore) -> tuple[str | None, float]:
        """Connect (and read the snapshot), retrying with a backoff as a browser would."""
        problem = None
        for attempt in range(5):
            if attempt:
                await asyncio.sleep(min(2 ** (attempt - 1), 4))
            async with gate:
                began = clock()
                try:
                    websocket = await connect(
                        spec["url"],
                        origin=spec.get("origin"),
                        additional_headers=(
                            {"Cookie": spec["cookie"]} if spec.get("cookie") else None
                        ),
                        compression=None,
                        ping_interval=None,
                        open_timeout=60,
                        max_size=2**22,
                    )
                    if expects_snapshot:
                        first = json.loads(await asyncio.wait_for(websocket.recv(), 60))
                        if first.get("type") != "snapshot":
                            await websocket.close()
                            return f"first frame {first.get('type')}: {str(first)[:200]}", 0.0
                except Exception as exc:
                    problem = f"{type(exc).__name__}: {str(exc)[:200]}"
                    continue
                took = clock() - began
            index = spec["index"]
            open_sockets[index] = websocket
            mine = [loop.create_task(reader(index, websocket))]
            if expects_snapshot:
                delay = HEARTBEAT_SECONDS * (index % 97) / 97
                mine.append(loop.create_task(heartbeats(index, websocket, delay)))
            tasks[index] = mine
            return (f"retried: {problem}" if problem else None), took
        return problem, 0.0

    async def close(indexes) -> None:
        closing = []
        for index in indexes:
            for task in tasks.pop(index, []):
                task.cancel()
            websocket = open_sockets.pop(index, None)
            if websocket is not None:
                closing.append(websocket.close())
        await asyncio.gather(*closing, return_exceptions=True)

    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        kind = command[0]
        if kind == "connect":
            began = clock()
            gate = asyncio.Semaphore(command[1])
            outcomes = await asyncio.gather(*(open_one(spec, gate) for spec in sockets))
            failed = Counter(
                problem
                for problem, _took in outcomes
                if problem and not problem.startswith("retried")
            )
            retried = Counter(
                problem for problem, _took in outcomes if problem and problem.startswith("retried")
            )
            pipe.send(
                {
                    "connected": sorted(open_sockets),
                    "failed": dict(failed),
                    "retried": dict(retried),
                    "latencies": [took for problem, took in outcomes if took],
                    "seconds": clock() - began,
                }
            )
        elif kind == "record":
            state["record"] = Record()
            pending.clear()
            for slot in (OFFERS, FRAMES, PENDING):
                counters[slot] = 0
            state["recording"] = True
            pipe.send("recording")
        elif kind == "collect":
            state["recording"] = False
            exported = state["record"].export()
            exported["dropped"] = dict(state["dropped"])
            exported["pending_claims"] = len(pending)
            pipe.send(exported)
        elif kind == "close":
            await close(list(open_sockets))
            pipe.send("closed")
            return


class Clients:
    """The load generator: WebSocket clients spread over processes of their own."""

    def __init__(self, sockets: list[dict[str, Any]], options: dict[str, Any], processes: int):
        context = multiprocessing.get_context("spawn")
        self.counters = []
        self.workers = []
        for part in range(processes):
            counters = context.RawArray("q", 3)
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=_clients_main,
                args=(child_end, sockets[part::processes], options, counters),
                daemon=True,
            )
            process.start()
            child_end.close()
            self.counters.append(counters)
            self.workers.append((process, parent_end))

    @property
    def pids(self) -> list[int]:
        return [process.pid for process, _ in self.workers]

    def count(self, slot: int) -> int:
        return sum(counters[slot] for counters in self.counters)

    def _all(self, command: tuple, timeout: float = 600) -> list[Any]:
        for _process, pipe in self.workers:
            pipe.send(command)
        answers = []
        for process, pipe in self.workers:
            if not pipe.poll(timeout):
                raise RuntimeError(f"client process {process.pid} did not answer {command[0]}")
            answers.append(pipe.recv())
        return answers

    def connect(self, concurrency: int = 10) -> dict[str, Any]:
        """Open every socket, ``concurrency`` at a time per client process."""
        answers = self._all(("connect", concurrency))
        failed: Counter = Counter()
        retried: Counter = Counter()
        latencies = []
        connected = []
        for answer in answers:
            failed.update(answer["failed"])
            retried.update(answer["retried"])
            latencies += answer["latencies"]
            connected += answer["connected"]
        seconds = max(answer["seconds"] for answer in answers)
        return {
            "connected": len(connected),
            "indexes": set(connected),
            "failed": dict(failed),
            "retried": dict(retried),
            "seconds": round(seconds, 2),
            "per_second": round(len(connected) / seconds, 1) if seconds else None,
            "latency": latency_summary(latencies),
        }

    def record(self) -> None:
        self._all(("record",))

    def collect(self) -> list[dict[str, Any]]:
        return self._all(("collect",))

    def wait_drained(self, quiet: float, limit: float) -> tuple[float, bool]:
        """Wait until every claim sent has its answer and no offer has come for
        ``quiet`` seconds (heartbeat answers go on), at most ``limit`` seconds;
        returns (waited, drained)."""
        began = time.monotonic()
        last_count, last_change = self.count(OFFERS), time.monotonic()
        while time.monotonic() - began < limit:
            time.sleep(0.1)
            count = self.count(OFFERS)
            if count != last_count:
                last_count, last_change = count, time.monotonic()
            elif time.monotonic() - last_change >= quiet and self.count(PENDING) <= 0:
                return time.monotonic() - began, True
        return time.monotonic() - began, False

    def close(self) -> None:
        with suppress(Exception):
            self._all(("close",), timeout=60)
        for process, _pipe in self.workers:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


# --- Setting the stage -------------------------------------------------------------------


def agent_sessions(agent_ids: list[int]) -> dict[int, str]:
    """A logged-in session row for each agent, made in bulk; agent id -> session key."""
    from datetime import timedelta

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from marketplace.models import User

    store = SessionStore()
    expires = timezone.now() + timedelta(days=1)
    keys, rows = {}, []
    for user in User.objects.filter(pk__in=agent_ids):
        key = store._get_new_session_key()
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expires))
        keys[user.pk] = key
    Session.objects.bulk_create(rows, batch_size=1000)
    return keys


def set_presence(online: list[int], offline: list[int]) -> None:
    from django.utils import timezone

    from gigs.models import AgentPresence, PresenceStatus

    now = timezone.now()
    AgentPresence.objects.filter(agent_id__in=online).update(
        status=PresenceStatus.ONLINE, last_heartbeat_at=now, lapsed_in_a_row=0
    )
    AgentPresence.objects.filter(agent_id__in=offline).update(status=PresenceStatus.OFFLINE)


def clear_live_tasks(brand_id: int) -> None:
    """Remove the live brand's tasks and everything hanging off them.

    A claim still under way can add a work session between the statements;
    the foreign keys are checked at COMMIT, so that attempt fails and is retried.
    """
    from django.db import IntegrityError

    for attempt in range(10):
        try:
            _delete_live_tasks(brand_id)
            return
        except IntegrityError:
            if attempt == 9:
                raise
            time.sleep(0.5)


def _delete_live_tasks(brand_id: int) -> None:
    from django.db import connection, transaction

    from gigs.models import Message, Task, TaskReservation, WorkSession

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {WorkSession._meta.db_table} WHERE brand_id = %s", [brand_id])
        cursor.execute(f"DELETE FROM {Message._meta.db_table} WHERE brand_id = %s", [brand_id])
        cursor.execute(
            f"DELETE FROM {TaskReservation._meta.db_table} WHERE task_id IN "
            f"(SELECT id FROM {Task._meta.db_table} WHERE brand_id = %s)",
            [brand_id],
        )
        cursor.execute(f"DELETE FROM {Task._meta.db_table} WHERE brand_id = %s", [brand_id])


def clear_claim_tasks(brand_id: int) -> None:
    """The claim part's 100,000 tasks leave before the WebSocket parts (see run())."""
    from django.db import connection

    from gigs.models import Task, WorkSession

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {WorkSession._meta.db_table} WHERE brand_id = %s", [brand_id])
        cursor.execute(f"DELETE FROM {Task._meta.db_table} WHERE brand_id = %s", [brand_id])
        cursor.execute(f"VACUUM ANALYZE {Task._meta.db_table}")


def socket_specs(
    agent_ids: list[int], sessions: dict[int, str], servers: list[DaphneServer]
) -> list[dict[str, Any]]:
    """Agent i goes to server i * len(servers) // len(agent_ids): the first half on one."""
    specs = []
    for index, agent_id in enumerate(agent_ids):
        server = servers[index * len(servers) // len(agent_ids)]
        specs.append(
            {
                "index": index,
                "agent_id": agent_id,
                "url": server.url,
                "origin": server.origin,
                "cookie": f"sessionid={sessions[agent_id]}",
            }
        )
    return specs


def snapshot_cost(agent_id: int, repeats: int = 3) -> float:
    """Milliseconds to read one agent's live snapshot (as a connect does), best of ``repeats``."""
    from gigs.selectors import agent_live_snapshot
    from marketplace.models import User

    agent = User.objects.get(pk=agent_id)
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        agent_live_snapshot(agent=agent)
        best = min(best, time.perf_counter() - began)
    return round(best * 1000, 2)


# --- Producers (in the claim processes of bench.dispatch) ------------------------------


def produce_tasks(pipe, command: dict[str, Any], wait_for_start) -> dict[str, Any]:
    """Create tasks through ``task_create`` at ``rate`` per second until the deadline."""
    from brands.models import Brand
    from gigs.models import Gig
    from gigs.services import TaskInput, task_create

    brand = Brand.objects.get(pk=command["brand_id"])
    gigs = list(Gig.objects.filter(pk__in=command["gig_ids"]).order_by("pk"))
    rate, offset, label = command["rate"], command["offset"], command["label"]

    def create(n: int):
        return task_create(
            brand=brand,
            data=TaskInput(
                gig=gigs[n % len(gigs)],
                subject=f"Order {label}-{n} arrived damaged",
                body="Hello, my order arrived with a cracked screen. Can you replace it?",
                customer_reference=f"customer-{n % 5000}",
            ),
        )[0]

    ids, began_at, ended_at = array("q"), array("d"), array("d")
    cpu_before = time.process_time()
    start, deadline = wait_for_start(pipe)
    clock = time.monotonic
    interval = 1.0 / rate
    n = 0
    late = 0
    while True:
        # A producer that falls behind its schedule stops at the deadline all
        # the same: the rate it reached is a figure, not a target to catch up on.
        due = start + (n + offset) * interval
        if due >= deadline or clock() >= deadline:
            break
        delay = due - clock()
        if delay > 0:
            time.sleep(delay)
        elif delay < -interval:
            late += 1
        began = clock()
        task = create(n)
        ids.append(task.pk)
        began_at.append(began)
        ended_at.append(clock())
        n += 1
    return {
        "ids": ids,
        "began": began_at,
        "ended": ended_at,
        "late": late,
        "cpu": time.process_time() - cpu_before,
    }


# --- Offer to claim ---------------------------------------------------------------------


def producers_for(rate: int) -> int:
    """Producer processes for ``rate`` tasks per second: one per 50, at least two."""
    return max(2, -(-rate // 50))


def measure_offer_to_claim(
    *,
    world,
    pool,
    clients: Clients,
    agents: set[int],
    rate: int,
    seconds: float,
    racers: int,
    drain_limit: float,
    watch,
) -> dict[str, Any]:
    modulus = RACE_AGENTS // racers
    producers = producers_for(rate)
    commands = [
        {
            "kind": "produce",
            "brand_id": world.live_brand_id,
            "gig_ids": world.live_gig_ids,
            "rate": rate / producers,
            "offset": part / producers,
            "label": f"r{rate}p{part}",
        }
        for part in range(producers)
    ]
    clients.record()
    before: dict[str, Any] = {}

    def read_counters() -> None:
        before["cpu"] = {name: cpu_seconds_of(pids) for name, pids in watch().items()}
        before["machine"] = machine_cpu()
        before["at"] = time.monotonic()

    results = pool.run(commands, seconds, before_start=read_counters)
    produced = time.monotonic() - before["at"]
    drain_s, drained = clients.wait_drained(quiet=1.0, limit=drain_limit)
    wall = time.monotonic() - before["at"]
    busy = machine_busy_since(before["machine"])
    cpu = cores_used(before["cpu"], wall, busy, now=watch())
    records = clients.collect()

    created: dict[int, float] = {}
    create_ms = []
    late = 0
    for result in results:
        late += result["late"]
        for task_id, began, ended in zip(
            result["ids"], result["began"], result["ended"], strict=True
        ):
            created[task_id] = began
            create_ms.append(ended - began)

    offer_latency = []
    offers_per_task: Counter = Counter()
    confirmed_by_task: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    losses = []
    refusals: Counter = Counter()
    kinds: Counter = Counter()
    dropped: Counter = Counter()
    heartbeats = []
    frames = 0
    unanswered = 0
    for record in records:
        task_ids, times, _indexes = record["offers"]
        for task_id, at in zip(task_ids, times, strict=True):
            made = created.get(task_id)
            if made is not None:
                offer_latency.append(at - made)
                offers_per_task[task_id] += 1
        for task_id, index, sent, answered in record["confirmed"]:
            confirmed_by_task[task_id].append((index, sent, answered))
        losses += [answered - sent for _t, _i, sent, answered in record["lost"]]
        refusals.update(record["refusals"])
        kinds.update(record["kinds"])
        dropped.update(record["dropped"])
        heartbeats += list(record["heartbeats"])
        frames += record["frames"]
        unanswered += record["pending_claims"]
    confirm = [
        answered - sent for wins in confirmed_by_task.values() for _i, sent, answered in wins
    ]
    winning_sent = {task_id: min(w[1] for w in wins) for task_id, wins in confirmed_by_task.items()}
    watched_taken = []
    for record in records:
        task_ids, times, indexes = record["withdrawals"]
        for task_id, at, index in zip(task_ids, times, indexes, strict=True):
            sent = winning_sent.get(task_id)
            if sent is not None and (task_id + index) % modulus != 0:
                watched_taken.append(at - sent)
    expected_offers = len(created) * len(agents)
    return {
        "rate_asked": rate,
        "seconds": seconds,
        "producers": producers,
        "tasks_created": len(created),
        "rate_achieved": round(len(created) / produced, 1) if produced else None,
        "creates_behind_schedule": late,
        "task_create_ms": latency_summary(create_ms),
        "agents": len(agents),
        "racers_per_task": racers,
        "offer_received": latency_summary(offer_latency),
        "offers_expected": expected_offers,
        "offers_missing": expected_offers - sum(offers_per_task.values()),
        "claim_confirmed": latency_summary(confirm),
        "loser_sees_taken": latency_summary(losses),
        "watcher_sees_taken": latency_summary(watched_taken),
        "heartbeat_round_trip": latency_summary(heartbeats),
        "tasks_claimed": len(confirmed_by_task),
        "double_claims": sum(1 for wins in confirmed_by_task.values() if len(wins) > 1),
        "claims_unanswered": unanswered,
        "refusals": dict(refusals),
        "frames_received": frames,
        "frames_per_s": round(frames / wall, 1),
        "other_frames": dict(kinds),
        "sockets_dropped": dict(dropped),
        "drain_s": round(drain_s, 2),
        "drained": drained,
        "machine_busy_cores": busy,
        "cores_used": cpu,
    }


def _live_line(figures: dict[str, Any]) -> str:
    offer = figures["offer_received"]
    confirm = figures["claim_confirmed"]
    loser = figures["loser_sees_taken"]
    return (
        f"  {figures['rate_asked']:>4} tasks/s asked, {figures['rate_achieved']}/s made: "
        f"offer p50 {offer['p50_ms']:.1f} / p99 {offer['p99_ms']:.1f} ms; claim confirmed "
        f"p50 {confirm['p50_ms']:.1f} / p99 {confirm['p99_ms']:.1f} ms; losers told p50 "
        f"{loser['p50_ms']:.1f} / p99 {loser['p99_ms']:.1f} ms; watchers p99 "
        f"{figures['watcher_sees_taken']['p99_ms']:.1f} ms\n"
        f"        claimed {figures['tasks_claimed']}/{figures['tasks_created']}, double "
        f"{figures['double_claims']}, unanswered {figures['claims_unanswered']}, offers missing "
        f"{figures['offers_missing']}, {figures['frames_per_s']:.0f} frames/s, task_create p50 "
        f"{figures['task_create_ms']['p50_ms']} ms, drained in {figures['drain_s']} s"
        f"{'' if figures['drained'] else ' (NOT drained)'}, busy {figures['machine_busy_cores']} "
        f"cores: {figures['cores_used']}"
    )


def check_live_claims(brand_id: int) -> dict[str, int]:
    from django.db import connection

    from gigs.models import Task, WorkSession

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT task_id FROM {WorkSession._meta.db_table} "
            "WHERE ended_at IS NULL AND brand_id = %s GROUP BY task_id HAVING count(*) > 1) d",
            [brand_id],
        )
        doubled = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT count(*) FROM {Task._meta.db_table} t WHERE t.brand_id = %s "
            "AND t.status = 'claimed' AND NOT EXISTS (SELECT 1 FROM "
            f"{WorkSession._meta.db_table} s WHERE s.task_id = t.id AND s.ended_at IS NULL "
            "AND s.agent_id = t.holder_id)",
            [brand_id],
        )
        mismatched = cursor.fetchone()[0]
    return {"tasks_with_two_open_sessions": doubled, "held_without_open_session": mismatched}


# --- Fan-out ---------------------------------------------------------------------------


def _rounds_summary(
    started: dict[int, float], records: list[dict[str, Any]], listeners: set[int]
) -> dict[str, Any]:
    """Per round: the time from ``started`` to the last receipt, and how many of
    ``listeners`` (agent indexes) never had it."""
    last_at: dict[int, float] = {}
    seen: dict[int, set] = defaultdict(set)
    for record in records:
        task_ids, times, indexes = record["offers"]
        for key, at, index in zip(task_ids, times, indexes, strict=True):
            if key in started:
                seen[key].add(index)
                if at > last_at.get(key, 0.0):
                    last_at[key] = at
    spans = [last_at[key] - began for key, began in started.items() if key in last_at]
    summary = latency_summary(spans)
    summary["rounds"] = len(started)
    summary["lost"] = sum(len(listeners - seen.get(key, set())) for key in started)
    return summary


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.002)
    return False


def measure_raw_broadcast(sockets: int, rounds: int, payload: dict[str, Any]) -> dict[str, Any]:
    """The same frame broadcast by a bare ``websockets`` server in its own process."""
    context = multiprocessing.get_context("spawn")
    port = free_port()
    parent_end, child_end = context.Pipe()
    server = context.Process(target=_raw_server_main, args=(child_end, port, payload), daemon=True)
    server.start()
    child_end.close()
    if not parent_end.poll(30):
        raise RuntimeError("the raw websockets server did not start")
    parent_end.recv()
    specs = [{"index": index, "url": f"ws://127.0.0.1:{port}/"} for index in range(sockets)]
    clients = Clients(specs, {"snapshot": False}, CLIENT_PROCESSES)
    try:
        connected = clients.connect(concurrency=100)
        time.sleep(0.5)
        clients.record()
        started: dict[int, float] = {}
        for round_number in range(1, rounds + 1):
            before = clients.count(OFFERS)
            parent_end.send(("broadcast", round_number))
            began, _listeners = parent_end.recv()
            started[round_number] = began
            _wait_for(
                lambda b=before: clients.count(OFFERS) - b >= connected["connected"], ROUND_TIMEOUT
            )
            time.sleep(0.05)
        records = clients.collect()
    finally:
        clients.close()
        with suppress(OSError):
            parent_end.send(("stop",))
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()
    summary = _rounds_summary(started, records, connected["indexes"])
    summary["sockets"] = connected["connected"]
    summary["frame_bytes"] = len(
        json.dumps({"type": "offer", "task": {**payload, "id": 1}}, separators=(",", ":"))
    )
    return summary


def measure_fanout(
    *, world, clients: Clients, listeners: set[int], rounds: int, gig_id: int, watch
) -> dict[str, Any]:
    """One task at a time created in a gig every connected agent may take; each
    round waits for its last frame (at most ROUND_TIMEOUT) before the next."""
    from brands.models import Brand
    from gigs.models import Gig
    from gigs.services import TaskInput, task_create

    brand = Brand.objects.get(pk=world.live_brand_id)
    gig = Gig.objects.get(pk=gig_id)
    clients.record()
    started: dict[int, float] = {}
    published: dict[int, float] = {}
    service = []
    before = {name: cpu_seconds_of(pids) for name, pids in watch().items()}
    machine_before = machine_cpu()
    at = time.monotonic()
    for n in range(rounds):
        seen_before = clients.count(OFFERS)
        began = time.monotonic()
        task, _ = task_create(
            brand=brand,
            data=TaskInput(
                gig=gig,
                subject=f"Fan-out round {n}",
                body="Hello, my order arrived with a cracked screen. Can you replace it?",
                customer_reference=f"customer-{n}",
            ),
        )
        # task_create publishes the offer as its last step (after its INSERT
        # committed and the eligible agents were read), then returns.
        ended = time.monotonic()
        service.append(ended - began)
        started[task.pk] = began
        published[task.pk] = ended
        _wait_for(lambda b=seen_before: clients.count(OFFERS) - b >= len(listeners), ROUND_TIMEOUT)
        time.sleep(0.05)
    wall = time.monotonic() - at
    busy = machine_busy_since(machine_before)
    cpu = cores_used(before, wall, busy, now=watch())
    records = clients.collect()
    summary = _rounds_summary(started, records, listeners)
    from_publish = _rounds_summary(published, records, listeners)
    summary["from_publish"] = {key: from_publish[key] for key in ("p50_ms", "p99_ms", "max_ms")}
    summary["task_create_ms"] = latency_summary(service)
    summary["machine_busy_cores"] = busy
    summary["cores_used"] = cpu
    return summary


# --- The part as a whole ----------------------------------------------------------------


class Servers:
    """DAPHNE_PROCESSES daphne processes, started and stopped together."""

    def __init__(self, env: dict[str, str], notes: list[str]) -> None:
        self.servers = [DaphneServer(env) for _ in range(DAPHNE_PROCESSES)]
        self.notes = notes

    def __enter__(self) -> list[DaphneServer]:
        try:
            for server in self.servers:
                server.start()
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self.servers

    def __exit__(self, *exc_info) -> None:
        for server in self.servers:
            if server.process is not None and server.process.poll() is not None:
                self.notes.append(f"daphne exited early:\n{server.log_tail()}")
            server.stop()

    @property
    def pids(self) -> list[int]:
        return [s.process.pid for s in self.servers if s.process is not None]


def _connected_line(label: str, connected: dict[str, Any]) -> str:
    text = (
        f"  {connected['connected']} agents connected {label} in {connected['seconds']} s "
        f"({connected['per_second']}/s; one connect p50 {connected['latency']['p50_ms']} ms, "
        f"p99 {connected['latency']['p99_ms']} ms)"
    )
    if connected["retried"]:
        text += f", retried: {connected['retried']}"
    return text


def run(args: argparse.Namespace, world, failures: list[str], notes: list[str]) -> dict[str, Any]:
    from django.conf import settings

    from bench.dispatch import ClaimPool, breakdown, breakdown_line
    from gigs.models import Gig
    from gigs.payloads import task_offer_payload
    from gigs.services import TaskInput, task_create

    report: dict[str, Any] = {
        "daphne_processes": DAPHNE_PROCESSES,
        "client_processes": CLIENT_PROCESSES,
        "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    }
    # A connect reads the agent's snapshot, whose offer query looks at the
    # queued tasks of every brand: measured here with the claim part's
    # 100,000 tasks still queued, then those tasks go so that connecting a
    # thousand agents is not slowed by another brand's backlog.
    report["snapshot_ms_with_100k_other_tasks"] = snapshot_cost(world.live_agent_ids[0])
    clear_claim_tasks(world.claim_brand_id)
    report["snapshot_ms_without"] = snapshot_cost(world.live_agent_ids[0])
    print(
        f"\nWebSockets: {DAPHNE_PROCESSES} daphne processes, {report['channel_layer']}; a live "
        f"agent's snapshot read takes {report['snapshot_ms_with_100k_other_tasks']} ms with "
        f"100,000 other brands' tasks queued, {report['snapshot_ms_without']} ms without",
        flush=True,
    )
    brand = world_brand(world)
    fanout_gig = Gig.objects.get(pk=world.live_gig_ids[0])
    gigs = list(Gig.objects.filter(pk__in=world.live_gig_ids).order_by("pk"))

    def new_task(n: int):
        return task_create(
            brand=brand,
            data=TaskInput(
                gig=gigs[n % len(gigs)],
                subject=f"Order {n} arrived damaged",
                body="Hello, my order arrived with a cracked screen. Can you replace it?",
                customer_reference=f"customer-{n}",
            ),
        )

    for online in (RACE_AGENTS, FANOUT_AGENTS):
        set_presence(world.live_agent_ids[:online], world.live_agent_ids[online:])
        figures = breakdown([lambda n=n: new_task(n) for n in range(200)], 2.0)
        report[f"task_create_breakdown_{online}_online"] = figures
        print(breakdown_line(f"task_create, {online} agents online", figures), flush=True)
    payload = json.loads(json.dumps(task_offer_payload(new_task(0)[0])))
    clear_live_tasks(world.live_brand_id)
    report.update(consumer_call_costs(world, new_task))
    clear_live_tasks(world.live_brand_id)

    sessions = agent_sessions(world.live_agent_ids)
    redis_pids = [pid] if (pid := redis_server_pid(settings.REDIS_URL)) else []
    env = {**os.environ, **production_environment(), "SECRET_KEY": os.environ["SECRET_KEY"]}

    # Fan-out, against a bare websockets broadcast first.
    raw = measure_raw_broadcast(FANOUT_AGENTS, args.rounds, payload)
    report["raw_broadcast"] = raw
    print(
        f"fan-out to {FANOUT_AGENTS} ({raw['frame_bytes']}-byte offer frame): raw websockets "
        f"broadcast, last receipt p50 {raw['p50_ms']} ms, p99 {raw['p99_ms']} ms, lost "
        f"{raw['lost']} over {raw['rounds']} rounds",
        flush=True,
    )
    if raw["lost"]:
        failures.append(f"raw broadcast: {raw['lost']} frames lost")
    set_presence(world.live_agent_ids, [])
    servers = Servers(env, notes)
    with servers as daphnes:
        clients = Clients(
            socket_specs(world.live_agent_ids, sessions, daphnes), {}, CLIENT_PROCESSES
        )
        try:
            connected = clients.connect()
            report["fanout_connect"] = {k: v for k, v in connected.items() if k != "indexes"}
            print(_connected_line("to daphne", connected), flush=True)
            if connected["failed"]:
                failures.append(f"agents could not connect: {connected['failed']}")

            def watch() -> dict[str, list[int]]:
                return {
                    "daphne": servers.pids,
                    "clients": clients.pids,
                    "bench": [os.getpid()],
                    "postgresql": postgres_backend_pids(),
                    "redis": redis_pids,
                }

            fanout = measure_fanout(
                world=world,
                clients=clients,
                listeners=connected["indexes"],
                rounds=args.rounds,
                gig_id=fanout_gig.pk,
                watch=watch,
            )
        finally:
            clients.close()
    fanout["sockets"] = connected["connected"]
    fanout["vs_raw_p50"] = round(fanout["p50_ms"] / raw["p50_ms"], 2) if raw["p50_ms"] else None
    fanout["from_publish_vs_raw_p50"] = (
        round(fanout["from_publish"]["p50_ms"] / raw["p50_ms"], 2) if raw["p50_ms"] else None
    )
    report["fanout"] = fanout
    print(
        f"  daphne x{DAPHNE_PROCESSES} + Redis: task_create -> last agent p50 {fanout['p50_ms']} "
        f"ms, p99 {fanout['p99_ms']} ms ({fanout['vs_raw_p50']}x raw); publish -> last agent "
        f"p50 {fanout['from_publish']['p50_ms']} ms ({fanout['from_publish_vs_raw_p50']}x raw); "
        f"lost {fanout['lost']} over {fanout['rounds']} rounds; task_create itself p50 "
        f"{fanout['task_create_ms']['p50_ms']} ms; busy {fanout['machine_busy_cores']} cores: "
        f"{fanout['cores_used']}",
        flush=True,
    )
    if fanout["lost"]:
        failures.append(f"fan-out: {fanout['lost']} offers lost")
    clear_live_tasks(world.live_brand_id)

    # Offer to claim: RACE_AGENTS online and connected, fresh servers for each rate
    # so that one rate's backlog cannot slow the next.
    race_ids = world.live_agent_ids[:RACE_AGENTS]
    racers = min(args.racers, RACE_AGENTS)
    print(
        f"offer to claim: {RACE_AGENTS} agents, {racers} race for each task, "
        f"{args.live_seconds:g} s per rate",
        flush=True,
    )
    report["offer_to_claim"] = []
    pool = ClaimPool(
        max(producers_for(rate) for rate in args.rate_list), {"DATABASE_POOL": "false"}
    )
    try:
        for rate in args.rate_list:
            set_presence(race_ids, world.live_agent_ids[RACE_AGENTS:])
            servers = Servers(env, notes)
            with servers as daphnes:
                clients = Clients(
                    socket_specs(race_ids, sessions, daphnes),
                    {"race_modulus": RACE_AGENTS // racers},
                    CLIENT_PROCESSES,
                )
                try:
                    connected = clients.connect()
                    print(_connected_line("to daphne", connected), flush=True)
                    if connected["failed"]:
                        failures.append(f"agents could not connect: {connected['failed']}")

                    def watch(servers=servers, clients=clients) -> dict[str, list[int]]:
                        return {
                            "daphne": servers.pids,
                            "clients": clients.pids,
                            "producers": pool.pids,
                            "postgresql": postgres_backend_pids(),
                            "redis": redis_pids,
                        }

                    figures = measure_offer_to_claim(
                        world=world,
                        pool=pool,
                        clients=clients,
                        agents=connected["indexes"],
                        rate=rate,
                        seconds=args.live_seconds,
                        racers=racers,
                        drain_limit=args.drain_limit,
                        watch=watch,
                    )
                finally:
                    clients.close()
            figures.update(check_live_claims(world.live_brand_id))
            report["offer_to_claim"].append(figures)
            print(_live_line(figures), flush=True)
            if figures["double_claims"] or figures["tasks_with_two_open_sessions"]:
                failures.append(f"offer to claim at {rate}/s: double claims")
            clear_live_tasks(world.live_brand_id)
    finally:
        pool.stop()
    report["aim"] = live_aims(report)
    return report


def consumer_call_costs(world, new_task) -> dict[str, Any]:
    """What the agent socket's busiest calls cost, in this process: a claim that
    wins, one that loses (the task was just taken), and a heartbeat. Daphne runs
    them one at a time on its one thread for database work (``database_sync_to_async``)."""
    from bench.dispatch import breakdown, breakdown_line
    from gigs.dispatch import agent_heartbeat, task_claim
    from gigs.models import Task, TaskStatus
    from marketplace.errors import GigdeskError
    from marketplace.models import User

    agent_ids = world.live_agent_ids[:RACE_AGENTS]
    set_presence(agent_ids, world.live_agent_ids[RACE_AGENTS:])
    agents = list(User.objects.filter(pk__in=agent_ids).order_by("pk"))
    tasks = [new_task(n)[0] for n in range(120)]

    def losing_claim(agent, task_id: int) -> None:
        with suppress(GigdeskError):
            task_claim(agent=agent, task_id=task_id)

    count = len(agents)
    costs = {
        "task_claim_won": breakdown(
            [
                lambda a=agents[n % count], t=task.pk: task_claim(agent=a, task_id=t)
                for n, task in enumerate(tasks)
            ],
            2.0,
        )
    }
    # Losers try the tasks the winners took, as the next agent in line.
    taken = Task.objects.filter(pk__in=[task.pk for task in tasks], status=TaskStatus.CLAIMED)
    holders = dict(taken.values_list("pk", "holder_id"))
    position = {agent.pk: n for n, agent in enumerate(agents)}
    costs["task_claim_lost"] = breakdown(
        [
            lambda a=agents[(position[holder] + 1) % count], t=task_id: losing_claim(a, t)
            for task_id, holder in holders.items()
        ],
        2.0,
    )
    costs["agent_heartbeat"] = breakdown(
        [lambda a=agent: agent_heartbeat(agent=a) for agent in agents], 2.0
    )
    for name, figures in costs.items():
        print(breakdown_line(name, figures), flush=True)
    return {f"{name}_breakdown": figures for name, figures in costs.items()}


def world_brand(world):
    from brands.models import Brand

    return Brand.objects.get(pk=world.live_brand_id)


def live_aims(report: dict[str, Any]) -> dict[str, Any]:
    aims: dict[str, Any] = {}
    at_top = max(report.get("offer_to_claim", []), key=lambda f: f["rate_asked"], default=None)
    if at_top is not None:
        p99 = at_top["claim_confirmed"]["p99_ms"]
        aims["claim_confirmed_p99_ms"] = p99
        aims["claim_confirmed_rate"] = at_top["rate_asked"]
        aims["claim_confirmed_aim_ms"] = AIM_CONFIRM_P99_MS
        aims["claim_confirmed_met"] = (
            bool(at_top["claim_confirmed"]["n"]) and p99 < AIM_CONFIRM_P99_MS
        )
    if report.get("fanout") and report.get("raw_broadcast"):
        # Judged twice: from the task's creation (the service reads the eligible
        # agents before it publishes) and from the publish (the broadcast itself,
        # what the raw figure measures).
        ratio = report["fanout"]["vs_raw_p50"]
        from_publish = report["fanout"]["from_publish_vs_raw_p50"]
        aims["fanout_vs_raw"] = ratio
        aims["fanout_from_publish_vs_raw"] = from_publish
        aims["fanout_vs_raw_aim"] = AIM_FANOUT_VS_RAW
        aims["fanout_vs_raw_met"] = ratio is not None and ratio <= AIM_FANOUT_VS_RAW
        aims["fanout_from_publish_vs_raw_met"] = (
            from_publish is not None and from_publish <= AIM_FANOUT_VS_RAW
        )
    return aims


def aims_line(aims: dict[str, Any]) -> str:
    parts = []
    if "claim_confirmed_p99_ms" in aims:
        parts.append(
            f"claim confirmed p99 < {AIM_CONFIRM_P99_MS:g} ms at {aims['claim_confirmed_rate']} "
            f"tasks/s ({aims['claim_confirmed_p99_ms']:.1f} ms: "
            f"{'met' if aims['claim_confirmed_met'] else 'NOT met'})"
        )
    if "fanout_vs_raw" in aims:
        parts.append(
            f"fan-out within {AIM_FANOUT_VS_RAW}x the raw broadcast (from creation "
            f"{aims['fanout_vs_raw']}x: {'met' if aims['fanout_vs_raw_met'] else 'NOT met'}; "
            f"from publish {aims['fanout_from_publish_vs_raw']}x: "
            f"{'met' if aims['fanout_from_publish_vs_raw_met'] else 'NOT met'})"
        )
    return "aim: " + "; ".join(parts)
