"""The sandbox's state: its own SQLite file, through the stdlib ``sqlite3`` module.

Not the platform's database and not the ORM: the sandbox plays a third
party, so it keeps its books apart, and a restart of its process loses
nothing. Tables:

- ``objects``: every Stripe object (accounts, sessions, transfers...) as
  JSON, with its type, the account it belongs to (``''`` for the platform,
  else the connected account's id) and its insertion order for lists;
- ``balances``: available and pending amounts per account and currency,
  kept in step with the balance transactions stored as objects;
- ``idempotency_records``: the saved answer for each ``Idempotency-Key``;
- ``events`` and ``webhook_deliveries``: what happened, and who was told.

One connection serves every thread, guarded by one lock: a ``transaction``
holds the lock from ``BEGIN IMMEDIATE`` to ``COMMIT``, so requests apply one
at a time. That is plenty for a test sandbox (Stripe's own test mode allows
25 requests a second) and makes check-then-write steps, like a balance
check before a transfer, race-free.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PLATFORM = ""  # the account scope of the platform's own objects and balance

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    account TEXT NOT NULL,
    created INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS objects_by_type ON objects (type, account, seq);

CREATE TABLE IF NOT EXISTS balances (
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    available INTEGER NOT NULL DEFAULT 0,
    pending INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, currency)
);

CREATE TABLE IF NOT EXISTS idempotency_records (
    account TEXT NOT NULL,
    key TEXT NOT NULL,
    request TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    request_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (account, key)
);

CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    account TEXT NOT NULL,
    created INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_account ON events (account, seq);

CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    url TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    created REAL NOT NULL,
    last_response_status INTEGER,
    last_error TEXT NOT NULL DEFAULT '',
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON webhook_deliveries (status, next_attempt_at);
"""
_TABLES = ("objects", "balances", "idempotency_records", "events", "webhook_deliveries")


class DeliveryStatus:
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the retry window


@dataclass(frozen=True)
class IdempotencyRecord:
    request: str  # "POST /v1/transfers": a key is bound to one endpoint
    body_hash: str
    request_id: str
    status: int
    response: str  # the JSON answer, replayed byte for byte


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: str
    url: str
    attempts: int
    created: float
    payload: str


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    has_more: bool


def _dump(data: Mapping[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves.
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute("PRAGMA busy_timeout=5000")
        self._connection.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self.path = path

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """Everything inside commits together, or not at all if an exception escapes."""
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._connection)
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def reset(self) -> None:
        with self.transaction() as tx:
            tx.delete_everything()

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class Tx:
    """Reads and writes inside one transaction of the store."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._savepoints = 0

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo only what happens inside, when an exception escapes it."""
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        self._db.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._db.execute(f"ROLLBACK TO {name}")
            raise
        finally:
            self._db.execute(f"RELEASE {name}")
            self._savepoints -= 1

    # --- objects -------------------------------------------------------------

    def insert(self, obj: dict[str, Any], *, account: str) -> dict[str, Any]:
        self._db.execute(
            "INSERT INTO objects (id, type, account, created, data) VALUES (?, ?, ?, ?, ?)",
            (obj["id"], obj["object"], account, obj["created"], _dump(obj)),
        )
        return obj

    def save(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._db.execute("UPDATE objects SET data = ? WHERE id = ?", (_dump(obj), obj["id"]))
        return obj

    def get(self, object_id: str, *, type: str, account: str | None) -> dict[str, Any] | None:
        """The object, if it has this type and belongs to ``account`` (``None``: any owner)."""
        row = self._db.execute(
            "SELECT data, account FROM objects WHERE id = ? AND type = ?", (object_id, type)
        ).fetchone()
        if row is None or (account is not None and row[1] != account):
            return None
        return json.loads(row[0])

    def page(
        self,
        *,
        type: str,
        account: str,
        limit: int,
        starting_after: str | None = None,
        equal: Mapping[str, str] | None = None,
    ) -> Page | None:
        """Newest first, as Stripe lists; ``None`` when ``starting_after`` is not in this list."""
        clauses, args = ["type = ?", "account = ?"], [type, account]
        for field, value in (equal or {}).items():
            clauses.append("json_extract(data, ?) = ?")
            args += [f"$.{field}", value]
        if starting_after is not None:
            cursor = self._db.execute(
                "SELECT seq FROM objects WHERE id = ? AND type = ? AND account = ?",
                (starting_after, type, account),
            ).fetchone()
            if cursor is None:
                return None
            clauses.append("seq < ?")
            args.append(cursor[0])
        rows = self._db.execute(
            f"SELECT data FROM objects WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT ?",
            (*args, limit + 1),
        ).fetchall()
        return Page(rows=[json.loads(row[0]) for row in rows[:limit]], has_more=len(rows) > limit)

    # --- balances ------------------------------------------------------------

    def balance_add(self, *, account: str, currency: str, available: int) -> None:
        self._db.execute(
            "INSERT INTO balances (account, currency, available) VALUES (?, ?, ?) "
            "ON CONFLICT (account, currency) DO UPDATE SET available = available + excluded.available",
            (account, currency, available),
        )

    def available(self, *, account: str, currency: str) -> int:
        row = self._db.execute(
            "SELECT available FROM balances WHERE account = ? AND currency = ?", (account, currency)
        ).fetchone()
        return row[0] if row else 0

    def balances(self, *, account: str) -> list[tuple[str, int, int]]:
        """(currency, available, pending) for each currency the account ever held."""
        return self._db.execute(
            "SELECT currency, available, pending FROM balances WHERE account = ? ORDER BY currency",
            (account,),
        ).fetchall()

    # --- idempotency ---------------------------------------------------------

    def idempotency_record(self, *, account: str, key: str) -> IdempotencyRecord | None:
        row = self._db.execute(
            "SELECT request, body_hash, request_id, status, response FROM idempotency_records "
            "WHERE account = ? AND key = ?",
            (account, key),
        ).fetchone()
        return IdempotencyRecord(*row) if row else None

    def idempotency_save(
        self, *, account: str, key: str, record: IdempotencyRecord, created: int
    ) -> None:
        self._db.execute(
            "INSERT INTO idempotency_records "
            "(account, key, request, body_hash, request_id, status, response, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                account,
                key,
                record.request,
                record.body_hash,
                record.request_id,
                record.status,
                record.response,
                created,
            ),
        )

    # --- events and their deliveries -----------------------------------------

    def event_insert(self, event: dict[str, Any], *, account: str) -> None:
        self._db.execute(
            "INSERT INTO events (id, type, account, created, data) VALUES (?, ?, ?, ?, ?)",
            (event["id"], event["type"], account, event["created"], _dump(event)),
        )

    def event_get(self, event_id: str, *, account: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT data FROM events WHERE id = ? AND account = ?", (event_id, account)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def event_page(
        self, *, account: str, limit: int, starting_after: str | None, type_pattern: str | None
    ) -> Page | None:
        """Events newest first; ``type_pattern`` may end in ``*``, like Stripe's ``transfer.*``."""
        clauses, args = ["account = ?"], [account]
        if type_pattern:
            clauses.append("type GLOB ?")
            args.append(type_pattern)
        if starting_after is not None:
            cursor = self._db.execute(
                "SELECT seq FROM events WHERE id = ? AND account = ?", (starting_after, account)
            ).fetchone()
            if cursor is None:
                return None
            clauses.append("seq < ?")
            args.append(cursor[0])
        rows = self._db.execute(
            f"SELECT data FROM events WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT ?",
            (*args, limit + 1),
        ).fetchall()
        return Page(rows=[json.loads(row[0]) for row in rows[:limit]], has_more=len(rows) > limit)

    def delivery_insert(self, *, event_id: str, url: str, now: float) -> None:
        self._db.execute(
            "INSERT INTO webhook_deliveries (event_id, url, next_attempt_at, created) "
            "VALUES (?, ?, ?, ?)",
            (event_id, url, now, now),
        )

    def deliveries_due(self, *, now: float, limit: int) -> list[Delivery]:
        """Pending deliveries whose time has come, oldest event first."""
        rows = self._db.execute(
            "SELECT d.id, d.event_id, d.url, d.attempts, d.created, e.data "
            "FROM webhook_deliveries d JOIN events e ON e.id = d.event_id "
            "WHERE d.status = ? AND d.next_attempt_at <= ? ORDER BY d.id LIMIT ?",
            (DeliveryStatus.PENDING, now, limit),
        ).fetchall()
        return [Delivery(*row) for row in rows]

    def next_delivery_at(self) -> float | None:
        row = self._db.execute(
            "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE status = ?",
            (DeliveryStatus.PENDING,),
        ).fetchone()
        return row[0]

    def delivery_record_attempt(
        self,
        *,
        delivery_id: int,
        status: str,
        response_status: int | None,
        error: str,
        next_attempt_at: float,
        delivered_at: float | None,
    ) -> None:
        self._db.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?, "
            "last_response_status = ?, last_error = ?, next_attempt_at = ?, delivered_at = ? "
            "WHERE id = ?",
            (status, response_status, error, next_attempt_at, delivered_at, delivery_id),
        )

    def deliveries(self, *, limit: int) -> list[dict[str, Any]]:
        """The latest deliveries, newest first, for the control API."""
        cursor = self._db.execute(
            "SELECT d.id, d.event_id, e.type, d.url, d.status, d.attempts, "
            "d.last_response_status, d.last_error, d.delivered_at "
            "FROM webhook_deliveries d JOIN events e ON e.id = d.event_id "
            "ORDER BY d.id DESC LIMIT ?",
            (limit,),
        )
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def delete_everything(self) -> None:
        for table in _TABLES:
            self._db.execute(f"DELETE FROM {table}")
