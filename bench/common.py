"""Pieces every benchmark shares: the machine, the server, the load loop, the report.

The load generator runs in the benchmark's own process, on the same cores as
the server it measures, so every figure it prints is a floor-relative one:
compare ratios from one run, not absolute numbers across machines.
"""

from __future__ import annotations

import json
import math
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_SETTINGS = "bench.settings"


# --- Environment --------------------------------------------------------------


def production_environment() -> dict[str, str]:
    """The variables that put the settings in production mode over plain HTTP.

    DEBUG off is what makes the figures fair (no query log, no debug pages);
    the TLS redirect is off because the benchmark talks HTTP on loopback, as
    gunicorn does behind a TLS-terminating proxy.
    """
    return {
        "DJANGO_SETTINGS_MODULE": BENCH_SETTINGS,
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }


def setup_django() -> None:
    """Configure this process like the server it will start, then load Django.

    The server inherits these variables, so both sides share the SECRET_KEY
    that signs session authentication hashes.
    """
    os.environ.update(production_environment())
    # WhiteNoise warns that STATIC_ROOT is empty: the benchmarks never serve assets.
    warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers")
    import django

    django.setup()


def ensure_postgres_database(url: str) -> bool:
    """Create the database ``url`` names if it is missing; True when it was created."""
    import dj_database_url
    import psycopg
    from psycopg import sql

    config = dj_database_url.parse(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        return False
    params = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
    }
    params = {key: value for key, value in params.items() if value}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
    return True


# --- Machine ------------------------------------------------------------------


def _version(module_name: str) -> str:
    try:
        module = __import__(module_name)
    except ImportError:
        return "not installed"
    return str(getattr(module, "__version__", "unknown"))


def machine_info() -> dict[str, Any]:
    """What the figures depend on. Call after Django is set up."""
    import django
    from django.db import connection

    connection.ensure_connection()
    if connection.vendor == "postgresql":
        major, rest = divmod(connection.pg_version, 10000)
        db_version = f"{major}.{rest}"
    elif connection.vendor == "sqlite":
        import sqlite3

        db_version = sqlite3.sqlite_version
    else:
        db_version = "unknown"
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    return {
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "load_average_1m_at_start": load,
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "django": django.get_version(),
        "psycopg": _version("psycopg"),
        "gunicorn": _version("gunicorn"),
        "database": connection.vendor,
        "database_version": db_version,
    }


def print_machine(info: dict[str, Any], server: dict[str, Any]) -> None:
    print(
        f"machine: {info['cores']} cores ({info['usable_cores']} usable), {info['platform']}, "
        f"load average {info['load_average_1m_at_start']} at start\n"
        f"python {info['python']}, django {info['django']}, psycopg {info['psycopg']}, "
        f"gunicorn {info['gunicorn']}\n"
        f"database: {info['database']} {info['database_version']}\n"
        f"server: {server['layout']}; load generator in this process, sharing the cores",
        flush=True,
    )


# --- Server -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(child) for child in text.split()]
    except OSError:
        pass
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces; the parent pid follows its closing parenthesis.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return children


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a process has used, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    # After the command name: state is field 3 of proc(5), utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_cpu() -> tuple[float, float, float] | None:
    """Seconds of (busy, I/O wait, total) CPU time on the whole machine, from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    # user nice system idle iowait irq softirq steal (guest time is inside user).
    ticks = [int(value) for value in fields[:8]]
    idle, iowait = ticks[3], ticks[4]
    total = sum(ticks)
    return (total - idle - iowait) / CLOCK_TICKS, iowait / CLOCK_TICKS, total / CLOCK_TICKS


def peak_rss_kib(pid: int) -> int | None:
    """The process's peak resident set (VmHWM) in KiB, or None where /proc has none."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class GunicornServer:
    """gunicorn with sync workers, the production layout for plain HTTP."""

    workers: int = 2
    app: str = "marketplace.wsgi:application"
    host: str = "127.0.0.1"
    port: int = 0
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def layout(self) -> str:
        return (
            f"gunicorn {self.workers} sync workers (WSGI), {self.app}, "
            f"{BENCH_SETTINGS}, DEBUG off, http://{self.host}:{self.port}"
        )

    def describe(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "server": "gunicorn",
            "worker_class": "sync",
            "workers": self.workers,
        }

    def start(self, timeout: float = 30.0) -> None:
        self.port = self.port or free_port()
        env = {**os.environ, **production_environment()}
        # The server's output goes to a file rather than a pipe nobody reads
        # (a full pipe would block it); the tail is shown when something fails.
        log_fd, log_name = tempfile.mkstemp(prefix="gigdesk-bench-server-", suffix=".log")
        self.log_path = Path(log_name)
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            self.app,
            "--worker-class",
            "sync",
            "--workers",
            str(self.workers),
            "--bind",
            f"{self.host}:{self.port}",
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
        ]
        try:
            self.process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=env, stdout=log_fd, stderr=subprocess.STDOUT
            )
        finally:
            os.close(log_fd)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited at start:\n{self.log_tail()}")
            try:
                status = HttpClient(self.host, self.port, timeout=2).request("GET", "/healthz")[0]
            except OSError:
                time.sleep(0.1)
                continue
            if status == 200 and len(self.worker_pids()) >= self.workers:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        if self.process is None or self.process.poll() is not None:
            return []
        return _children(self.process.pid)

    def peak_rss_kib(self) -> list[int]:
        return [rss for pid in self.worker_pids() if (rss := peak_rss_kib(pid)) is not None]

    def log_tail(self, lines: int = 40) -> str:
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


@contextmanager
def running_server(server: GunicornServer) -> Iterator[GunicornServer]:
    """Start ``server`` and stop it on the way out, whatever happens in between.

    SIGTERM to the benchmark becomes SystemExit so that the ``finally`` runs
    and no gunicorn is left holding the port and database connections.
    """
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        server.start()
        yield server
    except Exception:
        print(f"server log (tail):\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


# --- HTTP client --------------------------------------------------------------


class HttpClient:
    """A small HTTP/1.1 client on one socket, reconnecting when the server closes.

    ``http.client`` parses headers through the email package; on two shared
    cores that client cost shows up in the server's figures. This one only
    reads the status line, ``Content-Length``, chunking and ``Connection``.
    gunicorn's sync workers close after each response, so most requests here
    open a fresh connection, as they would for wrk.
    """

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.rfile = None
        self.host_header = f"{host}:{port}"

    def close(self) -> None:
        if self.rfile is not None:
            self.rfile.close()
        if self.sock is not None:
            self.sock.close()
        self.sock = self.rfile = None

    def _connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host_header}"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body or method in {"POST", "PUT", "PATCH"}:
            lines.append(f"Content-Length: {len(body)}")
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        reused = self.sock is not None
        if not reused:
            self._connect()
        try:
            self.sock.sendall(payload)
            status_line = self.rfile.readline()
        except OSError:
            if not reused:
                raise
            status_line = b""
        if not status_line and reused:
            # The server closed the idle keep-alive connection: one fresh try.
            self.close()
            self._connect()
            self.sock.sendall(payload)
            status_line = self.rfile.readline()
        try:
            return self._read_response(status_line)
        except Exception:
            self.close()
            raise

    def _read_response(self, status_line: bytes) -> tuple[int, bytes]:
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise ConnectionError(f"bad status line {status_line!r}")
        status = int(parts[1])
        length: int | None = None
        chunked = False
        close = parts[0] == b"HTTP/1.0"
        while True:
            line = self.rfile.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            value = value.strip()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.lower() == b"close"
        if chunked:
            body = self._read_chunked()
        elif length is not None:
            body = self.rfile.read(length)
        else:
            body = self.rfile.read()
            close = True
        if close:
            self.close()
        return status, body

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()


def path_of(url: str) -> str:
    """The path and query of an absolute URL, as a request line needs them."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- Load loop ----------------------------------------------------------------


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list; 0.0 for an empty one."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list, repr=False)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    # CPU seconds spent during the run, by group: "client" (this process),
    # and whatever groups of pids the caller asked to watch ("server", "db").
    cpu: dict[str, float] = field(default_factory=dict)
    # Cores the whole machine kept busy (and waiting on I/O) during the run:
    # under 2 means the point was not bound by CPU, or something else ran.
    machine_busy_cores: float | None = None
    machine_iowait_cores: float | None = None

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def non_2xx(self) -> int:
        bad = sum(count for status, count in self.statuses.items() if not 200 <= status < 300)
        return bad + sum(self.errors.values())

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        ms = 1000.0
        return {
            "clients": self.clients,
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "rps": round(self.rate, 1),
            "p50_ms": round(percentile(ordered, 50) * ms, 2),
            "p95_ms": round(percentile(ordered, 95) * ms, 2),
            "p99_ms": round(percentile(ordered, 99) * ms, 2),
            "max_ms": round((ordered[-1] if ordered else 0.0) * ms, 2),
            "statuses": {str(status): count for status, count in sorted(self.statuses.items())},
            "errors": dict(self.errors),
            "non_2xx": self.non_2xx,
            "machine_busy_cores": self.machine_busy_cores,
            "machine_iowait_cores": self.machine_iowait_cores,
            "cpu_ms_per_request": {
                group: round(seconds / self.requests * ms, 3) if self.requests else 0.0
                for group, seconds in sorted(self.cpu.items())
            },
        }

    def summary(self) -> str:
        data = self.to_dict()
        text = (
            f"{data['rps']:>8.1f} req/s  p50 {data['p50_ms']:>7.2f} ms  "
            f"p95 {data['p95_ms']:>7.2f} ms  p99 {data['p99_ms']:>7.2f} ms  "
            f"n={data['requests']}"
        )
        if self.cpu and self.requests:
            per = data["cpu_ms_per_request"]
            text += "  cpu ms/req " + " ".join(
                f"{group} {value:.2f}" for group, value in per.items()
            )
        if self.non_2xx:
            text += f"  NON-2XX {self.non_2xx} {data['statuses']} {data['errors']}"
        return text


# One request: given the thread's client, its index and its sequence number,
# return the HTTP status.
RequestFn = Callable[[HttpClient, int, int], int]


def run_load(
    *,
    host: str,
    port: int,
    clients: int,
    seconds: float,
    request: RequestFn,
    watch: Callable[[], dict[str, list[int]]] | None = None,
) -> LoadResult:
    """``clients`` threads, each sending ``request`` back to back for ``seconds``.

    Only requests started before the deadline count; the rate divides them by
    the time until the last one finished. ``watch`` names groups of process
    ids whose CPU time to measure over the run; on two shared cores, CPU per
    request says more about cost than the rate does.
    """
    groups = watch() if watch is not None else {}
    cpu_before = {group: {pid: cpu_seconds(pid) for pid in pids} for group, pids in groups.items()}
    client_before = time.process_time()
    machine_before = machine_cpu()
    barrier = threading.Barrier(clients + 1)
    per_thread: list[tuple[list[float], Counter, Counter]] = [
        ([], Counter(), Counter()) for _ in range(clients)
    ]
    deadline_box: list[float] = []

    def worker(index: int) -> None:
        latencies, statuses, errors = per_thread[index]
        client = HttpClient(host, port)
        clock = time.perf_counter
        barrier.wait()
        deadline = deadline_box[0]
        seq = 0
        try:
            while True:
                start = clock()
                if start >= deadline:
                    break
                try:
                    status = request(client, index, seq)
                except Exception as exc:  # counted and shown, never lost with the thread
                    client.close()
                    errors[type(exc).__name__] += 1
                    latencies.append(clock() - start)
                else:
                    latencies.append(clock() - start)
                    statuses[status] += 1
                seq += 1
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    deadline_box.append(started + seconds)
    barrier.wait()
    for thread in threads:
        thread.join()
    result = LoadResult(clients=clients, seconds=time.perf_counter() - started)
    result.cpu["client"] = time.process_time() - client_before
    machine_after = machine_cpu()
    if machine_before is not None and machine_after is not None:
        busy, iowait, total = (
            after - before for after, before in zip(machine_after, machine_before, strict=True)
        )
        cores = os.cpu_count() or 1
        wall = total / cores  # elapsed time as the kernel counted it
        if wall > 0:
            result.machine_busy_cores = round(busy / wall, 2)
            result.machine_iowait_cores = round(iowait / wall, 2)
    for group, before in cpu_before.items():
        used = 0.0
        for pid, start in before.items():
            end = cpu_seconds(pid)
            if start is not None and end is not None:
                used += end - start
        result.cpu[group] = used
    for latencies, statuses, errors in per_thread:
        result.latencies.extend(latencies)
        result.statuses.update(statuses)
        result.errors.update(errors)
    return result


# --- Report -------------------------------------------------------------------


def json_line(data: dict[str, Any]) -> str:
    """All figures on one line, keys sorted, so that runs diff and parse cleanly."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def emit_json(data: dict[str, Any]) -> None:
    print(json_line(data), flush=True)


# --- Databases the benchmarks own ------------------------------------------------


def _postgres_params(url: str) -> tuple[str, dict[str, Any]]:
    import dj_database_url

    config = dj_database_url.parse(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise ValueError(f"Not a PostgreSQL URL: {url}")
    params = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
    }
    return config["NAME"], {key: value for key, value in params.items() if value}


def recreate_postgres_database(url: str, *, mark: str) -> None:
    """Drop and create the database ``url`` names, and label it with ``mark``.

    A database that exists without that label was not made by the benchmark,
    so it is never dropped: the benchmark stops with an error instead.
    """
    import psycopg
    from psycopg import sql

    name, params = _postgres_params(url)
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
        if row is not None:
            if row[0] != mark:
                raise RuntimeError(
                    f"The database {name!r} exists and was not created by this benchmark; "
                    "it drops and recreates its database, so point it at another name."
                )
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(mark))
        )


def drop_postgres_database(url: str, *, mark: str) -> bool:
    """Drop the database ``url`` names if it carries ``mark``; True when it was dropped."""
    import psycopg
    from psycopg import sql

    name, params = _postgres_params(url)
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
        if row is None or row[0] != mark:
            return False
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    return True


def postgres_backend_pids() -> list[int]:
    """PostgreSQL backends serving Django's database (this process's own excluded)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        pids = [row[0] for row in cursor.fetchall()]
    return [pid for pid in pids if os.path.exists(f"/proc/{pid}")]


def distribution_versions(*names: str) -> dict[str, str]:
    """Installed versions of the named distributions, "not installed" for missing ones."""
    from importlib import metadata

    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def cpu_seconds_of(pids: list[int]) -> dict[int, float]:
    """CPU seconds used so far by each of ``pids`` that is still running."""
    return {pid: used for pid in pids if (used := cpu_seconds(pid)) is not None}


def cpu_used_since(before: dict[int, float]) -> float:
    """CPU seconds the processes in ``before`` (from ``cpu_seconds_of``) used since then."""
    used = 0.0
    for pid, start in before.items():
        end = cpu_seconds(pid)
        if end is not None:
            used += end - start
    return used


def machine_busy_since(before: tuple[float, float, float] | None) -> float | None:
    """Cores the whole machine kept busy since ``before`` (a ``machine_cpu()`` reading)."""
    after = machine_cpu()
    if before is None or after is None:
        return None
    busy, _iowait, total = (a - b for a, b in zip(after, before, strict=True))
    wall = total / (os.cpu_count() or 1)
    return round(busy / wall, 2) if wall > 0 else None


def latency_summary(seconds: list[float] | Any) -> dict[str, Any]:
    """Count, p50, p95, p99 and max, in milliseconds, of latencies given in seconds."""
    ordered = sorted(seconds)
    ms = 1000.0
    return {
        "n": len(ordered),
        "p50_ms": round(percentile(ordered, 50) * ms, 2),
        "p95_ms": round(percentile(ordered, 95) * ms, 2),
        "p99_ms": round(percentile(ordered, 99) * ms, 2),
        "max_ms": round((ordered[-1] if ordered else 0.0) * ms, 2),
    }


def redis_server_pid(url: str) -> int | None:
    """The process id of the Redis server at ``url``, when it runs on this machine."""
    import redis

    try:
        client = redis.Redis.from_url(url)
        pid = int(client.info("server")["process_id"])
        client.close()
    except Exception:
        return None
    return pid if os.path.exists(f"/proc/{pid}") else None


def cores_used(
    before: dict[str, dict[int, float]],
    wall: float,
    machine_busy: float | None,
    now: dict[str, list[int]] | None = None,
) -> dict[str, float]:
    """Cores each group of processes kept busy since ``before`` (group -> ``cpu_seconds_of``),
    and under "other" whatever else kept the machine busy meanwhile (other work on the
    machine, the kernel's network processing): when that is large, the figures were
    measured on a shared machine. ``now`` (group -> pids) adds processes that started
    meanwhile (new database connections, say) with all the CPU time they used."""
    used = {}
    for name, pids in before.items():
        seconds = cpu_used_since(pids)
        for pid in (now or {}).get(name, []):
            if pid not in pids:
                seconds += cpu_seconds(pid) or 0.0
        used[name] = round(seconds / wall, 2)
    if machine_busy is not None:
        used["other"] = round(max(0.0, machine_busy - sum(used.values())), 2)
    return used
