"""Live notifications: what services tell connected browsers after a commit.

The database is the record; these messages only say "look again". A client
that misses one loses nothing, because every (re)connection starts with a
snapshot read from the database.

Delivery is one channel-layer message per process, not one per socket: every
WebSocket process keeps one hub channel in ``HUB_GROUP`` and hands each event
to the sockets it holds itself (``gigs.hub``). A group send to each of a
thousand agents costs the channel layer a thousand deliveries; this costs it
one per process.

Topics a connection can listen to:

- ``agent:<user id>``: one agent's own events (reservations, held tasks, presence);
- ``pool:<brand id>``: every agent approved in a brand's pool (open offers and
  withdrawals). Each agent connection keeps the (gig, language) pairs it may
  be offered (``gigs.eligibility.offer_scope_for_agent``) and shows an open
  offer only when the task's pair is among them, so that raising an offer
  reads nothing about agents; ``scope.changed`` (never sent to a client)
  tells connections to read their pairs again;
- ``task:<task id>``: the holder's workspace, internal notes included;
- ``customer:<task id>``: the customer page, never internal notes;
- ``brand:<brand id>``: the brand's live console.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

HUB_GROUP = "gigdesk.hub"
HUB_MESSAGE_TYPE = "hub.batch"

# A publish that takes longer than this is given up on (and logged); the
# committed work stands and clients catch up from their next snapshot.
PUBLISH_TIMEOUT_SECONDS = 5

_in_flight: set[asyncio.Task] = set()


# Tells agent connections that what they may be offered changed; handled by
# the connection itself, never sent to a client.
SCOPE_CHANGED = "scope.changed"
# A safety net for changes nobody announced: connections read their offer
# scope again every this many heartbeats (15 s apart).
SCOPE_REFRESH_HEARTBEATS = 4


def agent_topic(user_id: int) -> str:
    return f"agent:{user_id}"


def pool_topic(brand_id: int) -> str:
    return f"pool:{brand_id}"


def task_topic(task_id: int) -> str:
    return f"task:{task_id}"


def customer_topic(task_id: int) -> str:
    return f"customer:{task_id}"


def brand_topic(brand_id: int) -> str:
    return f"brand:{brand_id}"


def agent_scope_changed(agent_id: int) -> None:
    """The agent's pools, profile or standing changed: their connections read
    their whole state again (pools to listen to, offers, offer scope)."""
    publish({"type": SCOPE_CHANGED, "resync": True}, topics=[agent_topic(agent_id)])


def pool_scope_changed(brand_id: int, *, resync: bool = False) -> None:
    """A gig of the brand changed what it requires or whether it runs: the
    pool's connections read their offer scope again.

    ``resync``: they read their whole state again (a snapshot), for a change
    that hides or shows tasks already in the queue (the brand's balance
    crossing what a claim needs, ``payouts.reservations``).
    """
    event: dict[str, Any] = {"type": SCOPE_CHANGED}
    if resync:
        event["resync"] = True
    publish(event, topics=[pool_topic(brand_id)])


class _Batch:
    """Events raised in one transaction (savepoint), sent together after it commits."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def __call__(self) -> None:
        _send(self.items)


def publish(
    event: dict[str, Any],
    *,
    topics: Iterable[str],
    agents: Iterable[int] | None = None,
    skip_agents: Iterable[int] | None = None,
) -> None:
    """Send ``event`` to the connections listening to any of ``topics`` once the
    current transaction commits (at once, outside one).

    ``agents``, when given, limits delivery to connections of those agent ids;
    ``skip_agents`` leaves those out. Events raised in one transaction leave
    together, in order, as one message; a rollback drops them with the
    transaction's other on-commit work.
    """
    item = {
        "topics": list(topics),
        "agents": None if agents is None else list(agents),
        "event": event,
    }
    if skip_agents:
        item["skip_agents"] = list(skip_agents)
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _send([item])
        return
    savepoints = set(connection.savepoint_ids)
    if connection.run_on_commit:
        # Join the batch of this same savepoint, so that rolling back the
        # savepoint also drops what was raised inside it.
        sids, callback, _robust = connection.run_on_commit[-1]
        if isinstance(callback, _Batch) and sids == savepoints:
            callback.items.append(item)
            return
    batch = _Batch()
    batch.items.append(item)
    transaction.on_commit(batch, robust=True)


class _PublisherLoop:
    """One event loop, in a daemon thread, for sending from synchronous code.

    ``async_to_sync`` outside an ASGI server starts a new event loop per call,
    and channels-redis keeps its connections per loop: every publish from a
    job worker or a management command would open a new Redis connection
    (3–6 ms). This loop lives as long as the process, so its connection does.
    A forked child starts its own (a loop thread does not survive a fork).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="gigdesk-live-publisher", daemon=True
                ).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def send(self, coroutine) -> None:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())
        # Waiting keeps events in commit order and surfaces errors here; it
        # costs one Redis round trip on a connection that is already open.
        future.result(timeout=PUBLISH_TIMEOUT_SECONDS)


_publisher_loop = _PublisherLoop()


def _send(items: list[dict[str, Any]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": HUB_MESSAGE_TYPE, "items": items}
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    try:
        if loop is not None:
            # Called from async code (not the services' usual sync threads):
            # send without blocking the loop.
            task = loop.create_task(layer.group_send(HUB_GROUP, message))
            _in_flight.add(task)
            task.add_done_callback(_in_flight.discard)
        elif isinstance(layer, InMemoryChannelLayer):
            # The in-memory layer's queues belong to the server's own loop;
            # ``async_to_sync`` hands the send back to it from a worker thread.
            async_to_sync(layer.group_send)(HUB_GROUP, message)
        else:
            _publisher_loop.send(layer.group_send(HUB_GROUP, message))
    except Exception:
        # A notification that cannot be sent must never undo or fail the
        # committed work; clients catch up from their next snapshot.
        logger.exception("Could not publish %d live event(s)", len(items))
