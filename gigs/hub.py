"""The per-process hub: one channel-layer subscription per WebSocket process,
fanned out to the sockets this process holds.

``gigs.live.publish`` sends each batch of events once, to the group
``HUB_GROUP``. Every process (every event loop, in tests) keeps one channel
in that group; the hub reads it and hands each event to the local
connections subscribed to one of the event's topics, calling their own send.
No socket has a channel of its own: a group send to a thousand sockets costs
the channel layer a thousand deliveries, this costs it one per process
(docs/decisions/0002-live-dispatch.md, "Fan-out").

A connection is any object with ``hub_agent_id`` (the agent user id, or
``None``), ``async hub_deliver(event, text)`` (``text`` is the event already
encoded as JSON, once for all sockets) and ``hub_catch_up()`` (events may
have been lost: read the state again). The hub starts with the first
connection of its event loop and stops with the last.

Works with ``InMemoryChannelLayer`` (tests, embedded mode: one process) and
``RedisPubSubChannelLayer`` (``REDIS_URL``: every process hears every batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from channels.layers import get_channel_layer

from gigs.live import HUB_GROUP, HUB_MESSAGE_TYPE

logger = logging.getLogger(__name__)

PING_MESSAGE_TYPE = "hub.ping"
# How long the hub remembers that a task was just taken. Agents race for an
# open task within milliseconds of its offer; a claim that arrives after
# the hub has seen the task go is refused without a database round trip.
# Short, so that a task back in the queue is never refused for long even
# where no new offer announced its return.
TAKEN_MEMORY_SECONDS = 2.0
# How often the hub checks, with a ping sent through the group to itself,
# that batches still reach it.
WATCH_SECONDS = 5.0


class TaskTakenHere(Exception):
    """The hub saw another agent take this task moments ago."""


class Connection(Protocol):
    hub_agent_id: int | None

    async def hub_deliver(self, event: dict[str, Any], text: str) -> None: ...

    def hub_catch_up(self) -> None: ...


class Hub:
    """Topic -> local connections, fed by one channel in ``HUB_GROUP``."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.channel = ""
        self._subscribers: dict[str, set[Connection]] = {}
        self._topics: dict[Connection, set[str]] = {}
        self._tasks: list[asyncio.Task] = []
        self._pings_sent = 0
        self._pings_seen = 0
        # Set when a ping did not come back: batches may have been lost
        # (Redis restarting, say). Once pings flow again, connections catch up.
        self._lost = False
        # Claims this process is making now, and tasks it saw taken (task id
        # -> the taker's user id, and when): see ``claim``.
        self._claims_in_flight: dict[int, asyncio.Future] = {}
        self._taken: dict[int, tuple[int | None, float]] = {}
        self.starting: asyncio.Task = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        if self.layer is None:
            return  # no channel layer configured: nothing is published either
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(HUB_GROUP, self.channel)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._receive()), loop.create_task(self._watch())]

    # --- Subscriptions (synchronous: nothing can interleave) ---------------------------

    def subscribe(self, connection: Connection, *topics: str) -> None:
        mine = self._topics.setdefault(connection, set())
        for topic in topics:
            mine.add(topic)
            self._subscribers.setdefault(topic, set()).add(connection)

    def unsubscribe(self, connection: Connection, *topics: str) -> None:
        mine = self._topics.get(connection, set())
        for topic in topics:
            mine.discard(topic)
            subscribers = self._subscribers.get(topic)
            if subscribers is not None:
                subscribers.discard(connection)
                if not subscribers:
                    del self._subscribers[topic]

    def topics_of(self, connection: Connection) -> set[str]:
        return set(self._topics.get(connection, ()))

    def leave(self, connection: Connection) -> None:
        self.unsubscribe(connection, *self._topics.pop(connection, ()))
        if not self._topics:
            self._stop()

    # --- Claims ----------------------------------------------------------------------

    def _taken_by(self, task_id: int) -> int | None:
        """Who took ``task_id`` moments ago, as far as this process knows (0: unknown who)."""
        taken = self._taken.get(task_id)
        if taken is None:
            return None
        taker, at = taken
        if time.monotonic() - at > TAKEN_MEMORY_SECONDS:
            del self._taken[task_id]
            return None
        return taker or 0

    def _remember_taken(self, task_id: int, taker: int | None) -> None:
        now = time.monotonic()
        if len(self._taken) > 10_000:
            self._taken = {
                k: v for k, v in self._taken.items() if now - v[1] <= TAKEN_MEMORY_SECONDS
            }
        self._taken[task_id] = (taker, now)

    async def claim(self, task_id: int, agent_id: int, attempt: Callable[[], Awaitable[Any]]):
        """Run ``attempt`` (the database claim) unless the task is known to be gone.

        When several sockets of this process claim the same task at once,
        only the first goes to the database; the others wait for it, and if it
        won they are refused at once (``taken``), with no round trip that
        could only fail. The database stays the judge: a claim the hub lets
        through is decided there, and the hub never grants one itself.
        """
        while True:
            taker = self._taken_by(task_id)
            if taker is not None and taker != agent_id:
                raise TaskTakenHere()
            pending = self._claims_in_flight.get(task_id)
            if pending is None:
                break
            with contextlib.suppress(Exception):  # that claim failed for its agent; try ours
                await asyncio.shield(pending)
        done = asyncio.get_running_loop().create_future()
        self._claims_in_flight[task_id] = done
        try:
            result = await attempt()
        except BaseException as exc:
            done.set_exception(exc)
            done.exception()  # retrieved: waiters that come later need not see it
            raise
        else:
            self._remember_taken(task_id, agent_id)
            done.set_result(None)
            return result
        finally:
            del self._claims_in_flight[task_id]

    # --- Delivery ------------------------------------------------------------------

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Live hub could not read its channel")
                self._lost = True
                await asyncio.sleep(1)
                continue
            kind = message.get("type")
            if kind == HUB_MESSAGE_TYPE:
                await self._deliver(message.get("items") or [])
            elif kind == PING_MESSAGE_TYPE and message.get("hub") == self.channel:
                self._pings_seen = max(self._pings_seen, message.get("n", 0))

    def _note_availability(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "withdraw" and event.get("reason") == "taken":
            task_id = event.get("task_id")
            # Our own win, remembered with its taker, stays as it is: the
            # taker's retried claim must still reach the database (and succeed).
            if self._taken_by(task_id) is None:
                self._remember_taken(task_id, None)
        elif kind == "offer":
            self._taken.pop((event.get("task") or {}).get("id"), None)

    async def _deliver(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            event = item["event"]
            self._note_availability(event)
            targets: set[Connection] = set()
            for topic in item.get("topics") or ():
                # A copy: a delivery below may change subscriptions.
                targets |= self._subscribers.get(topic, set())
            agents = item.get("agents")
            if agents is not None:
                allowed = set(agents)
                targets = {c for c in targets if c.hub_agent_id in allowed}
            skipped = item.get("skip_agents")
            if skipped:
                skipped = set(skipped)
                targets = {c for c in targets if c.hub_agent_id not in skipped}
            if not targets:
                continue
            text = json.dumps(event, separators=(",", ":"))
            for connection in targets:
                try:
                    await connection.hub_deliver(event, text)
                except Exception:
                    # One broken socket must not cost the others their events.
                    logger.exception("Live hub could not deliver %s", event.get("type"))

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            await self.check_delivery()

    async def check_delivery(self) -> None:
        """One watch: did the last ping come back? Then send the next.

        A ping that never came back means batches may have been lost too
        (Redis restarting, or the in-memory layer dropping this member after
        a day or a stalled read): join the group again, and once pings flow
        again tell every connection to catch up from the database.
        """
        try:
            if self._pings_seen < self._pings_sent:
                self._lost = True
                await self.layer.group_add(HUB_GROUP, self.channel)
            elif self._lost:
                self._lost = False
                logger.warning("Live hub receives again; its connections will catch up")
                for connection in list(self._topics):
                    connection.hub_catch_up()
            self._pings_sent += 1
            ping = {"type": PING_MESSAGE_TYPE, "hub": self.channel, "n": self._pings_sent}
            await asyncio.wait_for(self.layer.group_send(HUB_GROUP, ping), WATCH_SECONDS)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("Live hub could not reach the channel layer", exc_info=True)
            self._lost = True

    def _stop(self) -> None:
        loop = asyncio.get_running_loop()
        if _hubs.get(loop) is self:
            del _hubs[loop]
        tasks = [self.starting, *self._tasks]
        for task in tasks:
            task.cancel()

        async def leave_group() -> None:
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.channel:
                try:
                    await self.layer.group_discard(HUB_GROUP, self.channel)
                except Exception:
                    logger.warning("Live hub could not leave its group", exc_info=True)

        cleanup = loop.create_task(leave_group())
        _cleanups.add(cleanup)
        cleanup.add_done_callback(_cleanups.discard)


# One hub per event loop: daphne runs one loop per process; tests run one per test.
_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}
_cleanups: set[asyncio.Task] = set()


async def hub_join(connection: Connection) -> Hub:
    """The running loop's hub, started if needed, with ``connection`` registered
    (no topics yet). Call ``hub.leave(connection)`` when the socket closes."""
    loop = asyncio.get_running_loop()
    layer = get_channel_layer()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        # A different layer means the settings changed (tests): start afresh.
        hub = _hubs[loop] = Hub(layer)
    # Registered before the first await, so that no other connection's leave
    # can find the hub empty and stop it under us.
    hub._topics.setdefault(connection, set())
    try:
        await asyncio.shield(hub.starting)
    except Exception:
        hub.leave(connection)
        raise
    return hub
