"""WebSocket consumers: the agent's live queue (/ws/agent/) and the customer's
conversation page (/ws/customer/<token>/).

Thin on purpose: each frame is validated here, every decision is a service
call (``gigs.dispatch``) in a worker thread, and events reach the socket
through the process's hub (``gigs.hub``), never through a channel of the
socket's own. The wire protocol, for anyone writing a client, is
docs/protocols/agent-websocket.md.

Two rules keep a client's view right whatever the timing:

- A reply is sent before the events raised while the request ran (they are
  held back meanwhile), with the connection's own record already updated, so
  a client never sees its own claim announced as someone else's.
- A snapshot is sent before the events raised while it was read, and every
  event is idempotent by task id: replaying one the snapshot already shows
  changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from types import SimpleNamespace
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib import auth
from django.utils import timezone

from brands.models import PoolMembership
from gigs import live
from gigs.dispatch import (
    TASK_TAKEN,
    HeartbeatResult,
    agent_heartbeat,
    expire_overdue,
    presence_set,
    task_claim,
    task_reject,
)
from gigs.eligibility import OfferScope, offer_scope_for_agent
from gigs.hub import Hub, TaskTakenHere, hub_join
from gigs.models import MessageKind, PresenceStatus, Task, TaskStatus
from gigs.payloads import task_offer_payload
from gigs.selectors import agent_live_snapshot, agent_live_task_ids, customer_live_snapshot
from gigs.work import task_for_customer_token
from marketplace.errors import Conflict, GigdeskError, NotFound, PermissionDenied
from marketplace.models import User

logger = logging.getLogger(__name__)

MAX_FRAME_CHARS = 4096
MAX_REF_CHARS = 64
WORKSPACE_URL = "/agent/work/{task_id}/"
# Claim refusals after which the offer is gone for this agent: the server
# follows the error with a withdraw. "not_online" and "at_limit" keep it.
OFFER_GONE_CODES = frozenset(
    {
        "task_taken",
        "task_closed",
        "gig_inactive",
        "not_offered",
        "reservation_expired",
        "not_eligible",
        "not_found",
    }
)
FINISHED_STATUSES = frozenset({TaskStatus.RESOLVED, TaskStatus.ESCALATED, TaskStatus.CANCELLED})
# A WebSocket close code that tells the browser the failure is on our side
# and worth retrying (RFC 6455, "internal error").
CLOSE_SERVER_ERROR = 1011


def workspace_url(task_id: int) -> str:
    return WORKSPACE_URL.format(task_id=task_id)


def _now_iso(now: datetime | None = None) -> str:
    return (now or timezone.now()).isoformat().replace("+00:00", "Z")


# --- Frames -----------------------------------------------------------------------


class FrameError(Exception):
    """A client message that cannot be acted on; answered with an error event."""

    def __init__(
        self, code: str, message: str, *, ref: str | None = None, fields: dict | None = None
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref
        self.fields = fields or {}


def _task_id(value: Any) -> int:
    # bool is an int in Python, and "5" is not a number in this protocol.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise ValueError("A task id is a positive whole number.")
    return value


@dataclass(frozen=True)
class Frame:
    type: str
    ref: str | None
    fields: dict[str, Any]


def parse_frame(
    text_data: str | None, bytes_data: bytes | None, schema: dict[str, dict[str, Any]]
) -> Frame:
    """Check one client frame against ``schema`` (type -> {field: validator}).

    Every field a type names is required; ``ref`` is optional everywhere;
    anything else is refused, so a misspelt field is an error, not ignored.
    """
    if text_data is None:
        raise FrameError("bad_json", "Send each message as JSON in a text frame.")
    if len(text_data) > MAX_FRAME_CHARS:
        raise FrameError("too_large", f"A message is at most {MAX_FRAME_CHARS:,} characters.")
    try:
        data = json.loads(text_data)
    except ValueError:
        raise FrameError("bad_json", "This message is not valid JSON.") from None
    if not isinstance(data, dict):
        raise FrameError("bad_json", 'A message is a JSON object with a "type".')
    ref = data.get("ref")
    if ref is not None and (not isinstance(ref, str) or not 0 < len(ref) <= MAX_REF_CHARS):
        raise FrameError(
            "invalid_field",
            f'"ref" is a string of 1 to {MAX_REF_CHARS} characters.',
            fields={"ref": [f"A string of 1 to {MAX_REF_CHARS} characters."]},
        )
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in schema:
        shown = kind[:40] if isinstance(kind, str) else kind
        raise FrameError(
            "unknown_type",
            f"Unknown message type {json.dumps(shown)}; expected one of {', '.join(schema)}.",
            ref=ref,
        )
    validators = schema[kind]
    problems: dict[str, list[str]] = {}
    fields: dict[str, Any] = {}
    for name, validate in validators.items():
        if name not in data:
            problems[name] = ["This field is required."]
            continue
        try:
            fields[name] = validate(data[name])
        except ValueError as exc:
            problems[name] = [str(exc)]
    for name in data.keys() - validators.keys() - {"type", "ref"}:
        problems[name] = [f'"{kind}" takes no such field.']
    if problems:
        first_field, first_problems = sorted(problems.items())[0]
        raise FrameError(
            "invalid_field", f"{first_field}: {first_problems[0]}", ref=ref, fields=problems
        )
    return Frame(type=kind, ref=ref, fields=fields)


# --- The shared socket ------------------------------------------------------------


class LiveSocket(AsyncWebsocketConsumer):
    """What both sockets share: the hub, holding events back, errors, refusals."""

    # No channel of the socket's own: events come through the hub. (An alias
    # that names no layer makes channels skip creating one.)
    channel_layer_alias = None
    hub_agent_id: int | None = None
    schema: dict[str, dict[str, Any]] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hub: Hub | None = None
        self.closed = False
        # Events from the hub wait here while a request or a snapshot is under
        # way, and are relayed once its answer is out (None: relay at once).
        self._held_back: list[tuple[dict, str]] | None = None

    # The hub's side

    async def hub_deliver(self, event: dict[str, Any], text: str) -> None:
        if self.closed:
            return
        if self._held_back is not None:
            self._held_back.append((event, text))
            return
        await self.relay(event, text)

    def hub_catch_up(self) -> None:
        """Events may have been lost (the channel layer was unreachable)."""

    async def relay(self, event: dict[str, Any], text: str) -> None:
        await self.send(text_data=text)

    def hold_events(self) -> None:
        if self._held_back is None:
            self._held_back = []

    async def release_events(self) -> None:
        # Relay in order; events arriving meanwhile join the end of the line.
        while self._held_back:
            event, text = self._held_back.pop(0)
            if not self.closed:
                await self.relay(event, text)
        self._held_back = None

    # Our side

    async def send_event(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(event, separators=(",", ":")))

    async def send_error(
        self, code: str, message: str, *, ref: str | None = None, **extra: Any
    ) -> None:
        await self.send_event(
            {"type": "error", "ref": ref, "code": code, "message": message, **extra}
        )

    async def refuse(self, code: str, message: str, close_code: int) -> None:
        """Accept only to say why, then close: a browser sees the close code
        (a refused handshake reaches it as 1006, which says nothing)."""
        await self.accept()
        await self.send_error(code, message)
        await self.close(code=close_code)
        self.closed = True

    async def fail(self, what: str) -> None:
        """Close with "try again" (the client reconnects with backoff) and let go of the hub."""
        logger.exception(what)
        await self.close(code=CLOSE_SERVER_ERROR)
        await self.disconnect(CLOSE_SERVER_ERROR)

    async def join_hub(self, *topics: str) -> bool:
        try:
            self.hub = await hub_join(self)
        except Exception:
            logger.exception("Live hub unavailable")
            await self.close(code=CLOSE_SERVER_ERROR)
            self.closed = True
            return False
        self.hub.subscribe(self, *topics)
        return True

    async def disconnect(self, code):
        self.closed = True
        if self.hub is not None:
            self.hub.leave(self)
            self.hub = None

    async def receive(self, text_data=None, bytes_data=None):
        if self.closed:
            return
        try:
            frame = parse_frame(text_data, bytes_data, self.schema)
        except FrameError as exc:
            extra = {"fields": exc.fields} if exc.fields else {}
            await self.send_error(exc.code, exc.message, ref=exc.ref, **extra)
            return
        self.hold_events()
        try:
            await self.handle(frame)
        except GigdeskError as exc:
            await self.send_error(exc.code, exc.message, ref=frame.ref, **_error_extra(exc))
        except Exception:
            # The connection survives a bug or a database hiccup; the client
            # may retry, and its next snapshot is right either way.
            logger.exception("Live socket could not handle %r", frame.type)
            await self.send_error(
                "server_error", "Something went wrong on our side; try again.", ref=frame.ref
            )
        finally:
            await self.release_events()

    # Each socket defines ``async def handle(self, frame)`` for the frame types
    # its ``schema`` admits; ``parse_frame`` has refused every other type.


def _error_extra(exc: GigdeskError) -> dict[str, Any]:
    return {"fields": exc.fields} if exc.fields else {}


# --- The agent's socket --------------------------------------------------------------


def _agent_topics(agent: User) -> tuple[list[int], list[int]]:
    """The brands whose pools approved the agent, and the tasks they hold."""
    brand_ids = list(
        PoolMembership.objects.approved().filter(agent=agent).values_list("brand_id", flat=True)
    )
    held_ids = list(
        Task.objects.filter(holder=agent, status=TaskStatus.CLAIMED).values_list("pk", flat=True)
    )
    return brand_ids, held_ids


def _agent_snapshot(agent: User, *, heartbeat: bool) -> tuple[dict[str, Any], OfferScope]:
    """The snapshot to send, and the open offers the agent may be shown from now on."""
    # Expiry is enforced on read: a lease or reservation past its time is
    # settled before the agent is shown anything.
    expire_overdue()
    if heartbeat:
        agent_heartbeat(agent=agent)
    snapshot = agent_live_snapshot(agent=agent)
    for task in snapshot["held"]:
        task["workspace_url"] = workspace_url(task["id"])
    return snapshot, offer_scope_for_agent(agent)


def _claim(agent: User, task_id: int) -> dict[str, Any]:
    return task_offer_payload(task_claim(agent=agent, task_id=task_id))


def _session_user_id(session_key: str | None) -> int | None:
    """Whom the session logs in now, checked as Django checks a request (the
    session still exists, the password has not changed since, the account is active)."""
    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    user = auth.get_user(SimpleNamespace(session=store))
    if not user.is_authenticated or not user.is_active or not user.is_agent:
        return None
    return user.pk


@dataclass(frozen=True)
class _Heartbeat:
    result: HeartbeatResult | None
    signed_in: bool
    held_ids: frozenset[int] = frozenset()
    reserved_ids: frozenset[int] = frozenset()


def _heartbeat(agent: User, session_key: str | None, *, check_tasks: bool) -> _Heartbeat:
    if _session_user_id(session_key) != agent.pk:
        return _Heartbeat(result=None, signed_in=False)
    result = agent_heartbeat(agent=agent)
    if not check_tasks:
        return _Heartbeat(result=result, signed_in=True)
    held, reserved = agent_live_task_ids(agent=agent)
    return _Heartbeat(result=result, signed_in=True, held_ids=held, reserved_ids=reserved)


class AgentConsumer(LiveSocket):
    """/ws/agent/: the offers, held tasks and presence of the signed-in agent."""

    schema = {
        "claim": {"task_id": _task_id},
        "reject": {"task_id": _task_id},
        "heartbeat": {},
        "pause": {},
        "resume": {},
        "sync": {},
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.agent: User | None = None
        # What this socket has shown, so that only relevant events go out.
        self.offer_ids: set[int] = set()
        self.reserved_ids: set[int] = set()
        self.held_ids: set[int] = set()
        # Open tasks passed on here: a later re-offer (after a release) stays hidden.
        self.rejected_ids: set[int] = set()
        # The hub may have missed events: send a snapshot with the next heartbeat.
        self.stale = False
        # The open offers this agent may be shown, read with every snapshot
        # and again whenever it may have changed; and the gig of each held task.
        self.offer_scope = OfferScope()
        self.held_gigs: dict[int, int] = {}
        self._scope_refresh: asyncio.Task | None = None
        self._scope_refresh_again = False
        self._heartbeats = 0

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(
                "not_authenticated",
                "Log in as an agent to use the live queue.",
                PermissionDenied.ws_close_code,
            )
            return
        if not user.is_agent or not user.is_active:
            await self.refuse(
                "not_an_agent",
                "The live queue is for agent accounts.",
                PermissionDenied.ws_close_code,
            )
            return
        self.agent = getattr(user, "_wrapped", user)
        self.hub_agent_id = self.agent.pk
        await self.accept()
        self.hold_events()
        try:
            if await self.join_hub(live.agent_topic(self.agent.pk)):
                await self.send_snapshot(ref=None, heartbeat=True)
        except Exception:
            await self.fail("Could not send an agent's first snapshot")
        finally:
            await self.release_events()

    # --- Snapshots ----------------------------------------------------------------

    async def send_snapshot(self, *, ref: str | None, heartbeat: bool = False) -> None:
        """Subscribe to the agent's pools and held tasks, then read and send
        the state. Subscribing first means nothing raised after the read is
        missed; what was raised before it arrives after the snapshot, harmless."""
        brand_ids, held_ids = await database_sync_to_async(_agent_topics)(self.agent)
        self._subscribe_exactly(brand_ids, held_ids)
        snapshot, self.offer_scope = await database_sync_to_async(_agent_snapshot)(
            self.agent, heartbeat=heartbeat
        )
        self.offer_ids = {task["id"] for task in snapshot["offers"]}
        self.reserved_ids = {
            task["id"] for task in snapshot["offers"] if task["status"] == TaskStatus.OFFERED
        }
        self.held_ids = {task["id"] for task in snapshot["held"]}
        self.held_gigs = {task["id"]: task["gig"]["id"] for task in snapshot["held"]}
        self._subscribe_exactly(brand_ids, self.held_ids)
        self.stale = False
        event = {"type": "snapshot", **snapshot}
        if ref is not None:
            event["ref"] = ref
        await self.send_event(event)

    def _subscribe_exactly(self, brand_ids, task_ids) -> None:
        wanted = {live.agent_topic(self.agent.pk)}
        wanted |= {live.pool_topic(brand_id) for brand_id in brand_ids}
        wanted |= {live.task_topic(task_id) for task_id in task_ids}
        current = self.hub.topics_of(self)
        self.hub.unsubscribe(self, *(current - wanted))
        self.hub.subscribe(self, *(wanted - current))

    def hub_catch_up(self) -> None:
        self.stale = True

    # --- Events from the hub ---------------------------------------------------------

    async def relay(self, event: dict[str, Any], text: str) -> None:
        kind = event.get("type")
        task_id = event.get("task_id")
        if kind == live.SCOPE_CHANGED:
            # Never shown to the client: the agent's own eligibility changed
            # (their pool, profile or presence) and so may their pools, or a
            # brand's balance hid or showed its queue: read everything again.
            # For a gig's change, the pairs are enough.
            if event.get("resync"):
                await self.send_snapshot(ref=None)
            else:
                self.refresh_offer_scope()
            return
        if kind == "offer":
            task = event.get("task") or {}
            task_id = task.get("id")
            if task_id in self.rejected_ids or task_id in self.held_ids:
                return
            if task.get("status") == TaskStatus.QUEUED and not self._in_scope(task):
                return
            self.offer_ids.add(task_id)
            if task.get("status") == TaskStatus.OFFERED:
                self.reserved_ids.add(task_id)
        elif kind == "withdraw":
            # Only for offers this socket has shown: the pool hears of every
            # claim, and an agent need not hear of tasks never offered to them.
            if task_id not in self.offer_ids:
                return
            self._forget_offer(task_id)
        elif kind == "task.held":
            task_id = (event.get("task") or {}).get("id")
            self._forget_offer(task_id)
            if task_id in self.held_ids:
                return  # this socket's own claim; its claim.result said so
            self._hold(event["task"])
            self.refresh_offer_scope()  # one more held task: a hold limit may be reached
        elif kind == "task.lost" or (
            kind == "task.status" and event.get("status") in FINISHED_STATUSES
        ):
            if task_id in self.held_ids:
                self._let_go(task_id)
                self.refresh_offer_scope()
            else:
                self._let_go(task_id)
        elif kind == "presence":
            self.refresh_offer_scope()
        await self.send(text_data=text)

    def _forget_offer(self, task_id) -> None:
        self.offer_ids.discard(task_id)
        self.reserved_ids.discard(task_id)

    def _hold(self, task: dict[str, Any]) -> None:
        self.held_ids.add(task["id"])
        self.held_gigs[task["id"]] = task["gig"]["id"]
        self.hub.subscribe(self, live.task_topic(task["id"]))

    def _let_go(self, task_id) -> None:
        self.held_ids.discard(task_id)
        gig_id = self.held_gigs.pop(task_id, None)
        if gig_id is not None:
            # One fewer task held there: back under that gig's limit, at once,
            # so an offer in the same batch (a release re-offers) is shown.
            self.offer_scope = self.offer_scope.with_room_in(gig_id)
        if self.hub is not None:
            self.hub.unsubscribe(self, live.task_topic(task_id))

    def _in_scope(self, task: dict[str, Any]) -> bool:
        return self.offer_scope.allows((task.get("gig") or {}).get("id"), task.get("language"))

    def refresh_offer_scope(self) -> None:
        """Read the offer scope again, in the background. One read at a time;
        a request during a read starts another after it, since that read may
        predate the change that asked for it."""
        if self._scope_refresh is not None and not self._scope_refresh.done():
            self._scope_refresh_again = True
            return

        async def refresh() -> None:
            self._scope_refresh_again = True
            while self._scope_refresh_again:
                self._scope_refresh_again = False
                try:
                    scope = await database_sync_to_async(offer_scope_for_agent)(self.agent)
                except Exception:
                    logger.exception("Could not read an agent's offer scope")
                    return
                self.offer_scope = scope

        self._scope_refresh = asyncio.get_running_loop().create_task(refresh())

    # --- Client messages -------------------------------------------------------------

    async def handle(self, frame: Frame) -> None:
        handler = getattr(self, f"do_{frame.type}")
        await handler(frame)

    async def do_claim(self, frame: Frame) -> None:
        task_id = frame.fields["task_id"]
        try:
            task = await self.hub.claim(
                task_id,
                self.agent.pk,
                lambda: database_sync_to_async(_claim)(self.agent, task_id),
            )
        except (GigdeskError, TaskTakenHere) as refused:
            exc = refused
            if isinstance(refused, TaskTakenHere):
                exc = Conflict(TASK_TAKEN, code="task_taken")
            await self.send_error(
                exc.code, exc.message, ref=frame.ref, task_id=task_id, **_error_extra(exc)
            )
            # Let the pool's own withdraw (with its reason) go out first.
            await self.release_events()
            if exc.code in OFFER_GONE_CODES and task_id in self.offer_ids:
                self._forget_offer(task_id)
                await self.send_event({"type": "withdraw", "task_id": task_id, "reason": exc.code})
            return
        self._forget_offer(task_id)
        self._hold(task)
        self.refresh_offer_scope()  # after the answer: a hold limit may now be reached
        await self.send_event(
            {
                "type": "claim.result",
                "ref": frame.ref,
                "task": task,
                "workspace_url": workspace_url(task_id),
            }
        )

    async def do_reject(self, frame: Frame) -> None:
        task_id = frame.fields["task_id"]
        try:
            await database_sync_to_async(task_reject)(agent=self.agent, task_id=task_id)
        except GigdeskError as exc:
            await self.send_error(
                exc.code, exc.message, ref=frame.ref, task_id=task_id, **_error_extra(exc)
            )
            return
        self._forget_offer(task_id)
        self.rejected_ids.add(task_id)
        await self.send_event(
            {"type": "withdraw", "ref": frame.ref, "task_id": task_id, "reason": "rejected"}
        )

    async def do_heartbeat(self, frame: Frame) -> None:
        # Without Redis the job worker's events (lapsed reservations, expired
        # leases) cannot reach this process; check held and reserved tasks
        # against what this socket has shown instead.
        check_tasks = not settings.REDIS_URL
        beat = await database_sync_to_async(_heartbeat)(
            self.agent, self.scope["session"].session_key, check_tasks=check_tasks
        )
        if not beat.signed_in:
            await self.send_error(
                "session_ended", "You were logged out; log in again.", ref=frame.ref
            )
            await self.close(code=PermissionDenied.ws_close_code)
            self.closed = True
            return
        await self.send_event(
            {
                "type": "heartbeat.ack",
                "ref": frame.ref,
                "server_time": _now_iso(),
                "presence": beat.result.presence,
                "billable_seconds": {
                    str(task_id): seconds
                    for task_id, seconds in beat.result.billable_seconds.items()
                },
            }
        )
        self._heartbeats += 1
        if self._heartbeats % live.SCOPE_REFRESH_HEARTBEATS == 0:
            self.refresh_offer_scope()
        out_of_date = check_tasks and (
            beat.held_ids != self.held_ids or beat.reserved_ids != self.reserved_ids
        )
        if out_of_date or self.stale:
            await self.send_snapshot(ref=None)

    async def do_pause(self, frame: Frame) -> None:
        await self._presence(frame, PresenceStatus.PAUSED)

    async def do_resume(self, frame: Frame) -> None:
        await self._presence(frame, PresenceStatus.ONLINE)

    async def _presence(self, frame: Frame, status: str) -> None:
        await database_sync_to_async(presence_set)(agent=self.agent, status=status)
        # What the agent may be offered changes with presence: answer with
        # the whole state rather than a bare acknowledgement.
        await self.send_snapshot(ref=frame.ref)

    async def do_sync(self, frame: Frame) -> None:
        await self.send_snapshot(ref=frame.ref)


# --- The customer's socket ------------------------------------------------------------


def _customer_task_id(token: str) -> int:
    return task_for_customer_token(token).pk


def _customer_snapshot(task_id: int) -> dict[str, Any]:
    task = Task.objects.get(pk=task_id)
    return customer_live_snapshot(task=task)


class CustomerConsumer(LiveSocket):
    """/ws/customer/<token>/: one conversation, as the customer sees it (never notes)."""

    schema = {"sync": {}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.task_id: int | None = None
        self._catching_up: asyncio.Task | None = None

    async def connect(self):
        token = self.scope["url_route"]["kwargs"]["token"]
        try:
            self.task_id = await database_sync_to_async(_customer_task_id)(token)
        except NotFound as exc:
            await self.refuse(exc.code, exc.message, exc.ws_close_code)
            return
        await self.accept()
        self.hold_events()
        try:
            if await self.join_hub(live.customer_topic(self.task_id)):
                await self.send_snapshot(ref=None)
        except Exception:
            await self.fail("Could not send a customer's first snapshot")
        finally:
            await self.release_events()

    async def send_snapshot(self, *, ref: str | None) -> None:
        snapshot = await database_sync_to_async(_customer_snapshot)(self.task_id)
        event = {"type": "snapshot", **snapshot}
        if ref is not None:
            event["ref"] = ref
        await self.send_event(event)

    async def relay(self, event: dict[str, Any], text: str) -> None:
        # The customer topic never carries notes; this is the second lock on that door.
        if (
            event.get("type") == "message"
            and (event.get("message") or {}).get("kind") == MessageKind.NOTE
        ):
            return
        await self.send(text_data=text)

    def hub_catch_up(self) -> None:
        # Customers send no heartbeats to piggyback on: catch up now.
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.get_running_loop().create_task(self._catch_up())

    async def _catch_up(self) -> None:
        self.hold_events()
        try:
            await self.send_snapshot(ref=None)
        except Exception:
            logger.exception("Customer socket could not catch up")
        finally:
            await self.release_events()

    async def handle(self, frame: Frame) -> None:
        await self.send_snapshot(ref=frame.ref)
