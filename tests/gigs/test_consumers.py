"""The live WebSockets, through the real ASGI application (origin check, session
auth, routing) and the configured channel layer: in memory, or Redis when
REDIS_URL is set.

Services are called the way the rest of the app calls them; the sockets only
ever learn of changes through the hub.
"""

import asyncio
import time
from datetime import timedelta
from uuid import uuid4

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from brands.models import PoolMembership
from brands.pool_services import pool_decide
from gigs import hub as hub_module
from gigs import live
from gigs.dispatch import task_claim, task_offer, task_release
from gigs.models import (
    AgentPresence,
    DispatchMode,
    MessageKind,
    PresenceStatus,
    ReservationOutcome,
    Task,
    TaskReservation,
    TaskStatus,
)
from gigs.services import TaskInput, gig_update, task_create
from gigs.work import agent_note, agent_reply, customer_link_token
from marketplace.asgi import application
from tests.gigs.factories import GigFactory, MessageFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent
from tests.marketplace.factories import SkillFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

db = database_sync_to_async
# Test data is made in a worker thread: the ORM refuses to run inside the event loop.
new_agent = db(make_agent)
new_gig = db(GigFactory)
new_task = db(TaskFactory)
new_message = db(MessageFactory)
ORIGIN = (b"origin", b"http://testserver")


@pytest.fixture(autouse=True)
def _private_channel_layer(settings):
    """With Redis, a prefix of this run's own: pub/sub channels are shared by
    every database number, and other test runs may be publishing."""
    if settings.REDIS_URL:
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": f"test-{uuid4().hex[:12]}"},
            }
        }


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


async def open_socket(user=None, path="/ws/agent/", origin=ORIGIN) -> WebsocketCommunicator:
    headers = [origin]
    if user is not None:
        headers.append((b"cookie", await db(session_cookie)(user)))
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await socket.connect(timeout=5)
    assert connected
    return socket


async def open_agent_socket(user) -> tuple[WebsocketCommunicator, dict]:
    socket = await open_socket(user)
    snapshot = await socket.receive_json_from(timeout=5)
    assert snapshot["type"] == "snapshot"
    return socket, snapshot


async def next_of_type(socket, kind, timeout=3) -> dict:
    """The next event of ``kind``, skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        event = await socket.receive_json_from(timeout=max(0.01, deadline - time.monotonic()))
        if event["type"] == kind:
            return event


async def drain(socket, timeout=0.3) -> list[dict]:
    """Every event that arrives within ``timeout``."""
    events = []
    while not await socket.receive_nothing(timeout=timeout):
        events.append(await socket.receive_json_from())
    return events


async def closing_code(socket) -> int:
    message = await socket.receive_output(timeout=3)
    assert message["type"] == "websocket.close"
    return message["code"]


@database_sync_to_async
def reserve(task, agent) -> None:
    """Reserve ``task`` for ``agent`` in the database alone, telling no socket."""
    expires_at = timezone.now() + timedelta(seconds=60)
    Task.objects.filter(pk=task.pk).update(
        status=TaskStatus.OFFERED, reserved_for=agent, reservation_expires_at=expires_at
    )
    TaskReservation.objects.create(
        task=task, agent=agent, created_at=timezone.now(), expires_at=expires_at
    )


def offer_ids(snapshot) -> list[int]:
    return [task["id"] for task in snapshot["offers"]]


# --- Connecting ---------------------------------------------------------------------


async def test_connecting_sends_a_snapshot_of_offers_held_tasks_and_presence(brand, gig, other_gig):
    agent = await new_agent(brand)
    offered = await new_task(gig=gig, subject="Tent pole snapped")
    held = await new_task(gig=await new_gig(brand=brand, max_tasks_per_agent=2))
    await db(task_claim)(agent=agent, task_id=held.pk)
    await new_task(gig=other_gig)  # another brand's: never shown

    socket, snapshot = await open_agent_socket(agent)

    assert snapshot["presence"] == PresenceStatus.ONLINE
    assert offer_ids(snapshot) == [offered.pk]
    assert snapshot["offers"][0]["subject"] == "Tent pole snapped"
    assert snapshot["offers"][0]["brand"] == {"slug": "acme", "name": "Acme Outdoors"}
    [held_task] = snapshot["held"]
    assert held_task["id"] == held.pk
    assert held_task["workspace_url"] == f"/agent/work/{held.pk}/"
    assert held_task["billable_seconds"] >= 0
    assert snapshot["server_time"].endswith("Z")
    await socket.disconnect()


async def test_connecting_counts_as_a_heartbeat(brand):
    agent = await new_agent(brand)
    stale = timezone.now() - timedelta(minutes=10)
    await db(AgentPresence.objects.filter(agent=agent).update)(last_heartbeat_at=stale)

    socket, _ = await open_agent_socket(agent)

    presence = await db(AgentPresence.objects.get)(agent=agent)
    assert presence.last_heartbeat_at > stale
    await socket.disconnect()


async def test_a_brand_user_is_refused_with_4403(brand_admin):
    socket = await open_socket(brand_admin)
    error = await socket.receive_json_from()
    assert (error["type"], error["code"]) == ("error", "not_an_agent")
    assert await closing_code(socket) == 4403


async def test_an_anonymous_visitor_is_refused_with_4403(db):
    socket = await open_socket(None)
    error = await socket.receive_json_from()
    assert error["code"] == "not_authenticated"
    assert await closing_code(socket) == 4403


async def test_a_socket_from_another_site_is_refused(brand):
    agent = await new_agent(brand)
    socket = WebsocketCommunicator(
        application,
        "/ws/agent/",
        headers=[
            (b"origin", b"https://evil.example"),
            (b"cookie", await db(session_cookie)(agent)),
        ],
    )
    connected, _ = await socket.connect()
    assert not connected


# --- Offers and withdrawals ----------------------------------------------------------------


async def test_a_new_task_is_offered_live_to_eligible_agents_only(brand, gig, other_brand):
    agent = await new_agent(brand)
    german_speaker = await new_agent(brand, language="de")
    outsider = await new_agent(other_brand)
    socket, _ = await open_agent_socket(agent)
    german_socket, _ = await open_agent_socket(german_speaker)
    outsider_socket, _ = await open_agent_socket(outsider)

    task, _ = await db(task_create)(
        brand=brand, data=TaskInput(gig=gig, subject="Zip broke on day one", body="Help")
    )

    offer = await socket.receive_json_from(timeout=3)
    assert offer["type"] == "offer"
    assert (offer["task"]["id"], offer["task"]["subject"]) == (task.pk, "Zip broke on day one")
    assert await german_socket.receive_nothing(timeout=0.3)
    assert await outsider_socket.receive_nothing(timeout=0.1)
    for s in (socket, german_socket, outsider_socket):
        await s.disconnect()


async def _offered(socket, task_id, timeout=0.5) -> bool:
    """Whether an offer of ``task_id`` reaches ``socket`` within ``timeout``
    (waiting with ``receive_nothing``: a timed-out receive would end the app)."""
    events = await drain(socket, timeout=timeout)
    return any(e["type"] == "offer" and e["task"]["id"] == task_id for e in events)


async def test_an_agent_blocked_from_the_pool_is_offered_nothing_more(brand, gig, brand_admin):
    agent = await new_agent(brand)
    socket, _ = await open_agent_socket(agent)
    membership = await db(PoolMembership.objects.get)(brand=brand, agent=agent)
    await db(pool_decide)(
        membership=membership, actor=brand_admin, decision="block", reason="No-shows"
    )
    await next_of_type(socket, "snapshot")  # the pool's change resyncs the agent's page

    task = await new_task(gig=gig)
    await db(task_offer)(task)
    assert not await _offered(socket, task.pk, timeout=0.5)
    await socket.disconnect()


async def test_an_agent_at_the_hold_limit_is_offered_no_more_of_that_gig(brand):
    gig = await new_gig(brand=brand, max_tasks_per_agent=1)
    other_gig = await new_gig(brand=brand)
    agent = await new_agent(brand)
    first = await new_task(gig=gig)
    socket, _ = await open_agent_socket(agent)
    await socket.send_json_to({"type": "claim", "task_id": first.pk})
    await next_of_type(socket, "claim.result")
    await asyncio.sleep(0.3)  # the scope is read again after the answer

    same_gig, elsewhere = await new_task(gig=gig), await new_task(gig=other_gig)
    await db(task_offer)(same_gig)
    await db(task_offer)(elsewhere)
    offered = {e["task"]["id"] for e in await drain(socket, timeout=0.5) if e["type"] == "offer"}
    assert offered == {elsewhere.pk}
    # Releasing makes room again at once: the release's own re-offer is shown.
    await db(task_release)(agent=agent, task_id=first.pk)
    assert await _offered(socket, first.pk)
    await db(task_offer)(same_gig)
    assert await _offered(socket, same_gig.pk)
    await socket.disconnect()


async def test_a_gig_that_starts_requiring_a_skill_stops_offering_to_agents_without_it(
    brand, gig, brand_admin
):
    agent = await new_agent(brand)
    socket, _ = await open_agent_socket(agent)
    skill = await db(SkillFactory)()
    await db(gig_update)(gig=gig, actor=brand_admin, skills=[skill])
    await asyncio.sleep(0.3)  # the pool's connections read their scope again

    task = await new_task(gig=gig)
    await db(task_offer)(task)
    assert not await _offered(socket, task.pk, timeout=0.5)
    await socket.disconnect()


async def test_when_one_agent_claims_the_other_sees_the_offer_withdrawn_within_a_second(brand, gig):
    ana, ben = await new_agent(brand), await new_agent(brand)
    task = await new_task(gig=gig)
    ana_socket, ana_snapshot = await open_agent_socket(ana)
    ben_socket, ben_snapshot = await open_agent_socket(ben)
    assert offer_ids(ana_snapshot) == offer_ids(ben_snapshot) == [task.pk]

    claimed_at = time.monotonic()
    await ana_socket.send_json_to({"type": "claim", "task_id": task.pk, "ref": "c-1"})
    result = await ana_socket.receive_json_from(timeout=3)
    withdraw = await ben_socket.receive_json_from(timeout=1)

    assert time.monotonic() - claimed_at < 1
    assert result["type"] == "claim.result"
    assert (result["ref"], result["task"]["id"]) == ("c-1", task.pk)
    assert result["task"]["status"] == TaskStatus.CLAIMED
    assert result["workspace_url"] == f"/agent/work/{task.pk}/"
    assert withdraw == {"type": "withdraw", "task_id": task.pk, "reason": "taken"}
    # The winner is not told that "someone" took the task, nor told twice it has it.
    later = [event["type"] for event in await drain(ana_socket)]
    assert "withdraw" not in later
    assert "task.held" not in later
    await ana_socket.disconnect()
    await ben_socket.disconnect()


async def test_the_agents_other_socket_learns_of_the_claim(brand, gig):
    agent = await new_agent(brand)
    task = await new_task(gig=gig)
    queue_tab, _ = await open_agent_socket(agent)
    other_tab, _ = await open_agent_socket(agent)

    await queue_tab.send_json_to({"type": "claim", "task_id": task.pk})
    await next_of_type(queue_tab, "claim.result")

    events = [await other_tab.receive_json_from(timeout=3) for _ in range(2)]
    by_type = {event["type"]: event for event in events}
    assert by_type["task.held"]["task"]["id"] == task.pk
    assert by_type["withdraw"]["task_id"] == task.pk
    await queue_tab.disconnect()
    await other_tab.disconnect()


async def test_claiming_a_task_someone_else_took_is_an_error_and_changes_nothing(brand, gig):
    ana, ben = await new_agent(brand), await new_agent(brand)
    task = await new_task(gig=gig)
    ben_socket, _ = await open_agent_socket(ben)
    await db(task_claim)(agent=ana, task_id=task.pk)
    await next_of_type(ben_socket, "withdraw")

    await ben_socket.send_json_to({"type": "claim", "task_id": task.pk, "ref": "late"})
    error = await ben_socket.receive_json_from()

    assert error["type"] == "error"
    assert (error["code"], error["ref"], error["task_id"]) == ("task_taken", "late", task.pk)
    assert error["message"]
    await db(task.refresh_from_db)()
    assert (task.holder_id, task.status) == (ana.pk, TaskStatus.CLAIMED)
    await ben_socket.disconnect()


async def test_claiming_another_brands_task_is_answered_as_unknown(brand, other_gig):
    agent = await new_agent(brand)
    foreign = await new_task(gig=other_gig)
    socket, _ = await open_agent_socket(agent)

    await socket.send_json_to({"type": "claim", "task_id": foreign.pk})
    error = await socket.receive_json_from()

    assert (error["code"], error["ref"]) == ("not_found", None)
    await db(foreign.refresh_from_db)()
    assert (foreign.holder_id, foreign.status) == (None, TaskStatus.QUEUED)
    await socket.disconnect()


async def test_claiming_a_task_reserved_for_someone_else_is_refused(brand):
    ana, ben = await new_agent(brand), await new_agent(brand)
    task = await new_task(gig=await new_gig(brand=brand, dispatch_mode=DispatchMode.DIRECTED))
    await reserve(task, ben)
    socket, snapshot = await open_agent_socket(ana)
    assert offer_ids(snapshot) == []

    await socket.send_json_to({"type": "claim", "task_id": task.pk, "ref": "x"})
    error = await socket.receive_json_from()

    assert error["code"] == "not_offered"
    await db(task.refresh_from_db)()
    assert (task.status, task.reserved_for_id, task.holder_id) == (
        TaskStatus.OFFERED,
        ben.pk,
        None,
    )
    await socket.disconnect()


async def test_a_directed_reservation_shows_with_its_deadline_and_can_be_claimed(brand):
    agent = await new_agent(brand)
    task = await new_task(gig=await new_gig(brand=brand, dispatch_mode=DispatchMode.DIRECTED))
    socket, _ = await open_agent_socket(agent)

    await db(task_offer)(task)
    offer = await socket.receive_json_from(timeout=3)
    assert offer["type"] == "offer"
    assert offer["task"]["id"] == task.pk
    assert offer["task"]["reservation_expires_at"]

    await socket.send_json_to({"type": "claim", "task_id": task.pk})
    result = await next_of_type(socket, "claim.result")
    assert result["task"]["id"] == task.pk
    await socket.disconnect()


async def test_passing_on_an_open_offer_withdraws_it_from_this_agent_only(brand, gig):
    ana, ben = await new_agent(brand), await new_agent(brand)
    task = await new_task(gig=gig)
    ana_socket, _ = await open_agent_socket(ana)
    ben_socket, _ = await open_agent_socket(ben)

    await ana_socket.send_json_to({"type": "reject", "task_id": task.pk, "ref": "pass-1"})
    withdraw = await ana_socket.receive_json_from()

    assert withdraw == {
        "type": "withdraw",
        "ref": "pass-1",
        "task_id": task.pk,
        "reason": "rejected",
    }
    assert await ben_socket.receive_nothing(timeout=0.3)
    assert await db(
        TaskReservation.objects.filter(
            task=task, agent=ana, outcome=ReservationOutcome.REJECTED
        ).exists
    )()
    await ana_socket.send_json_to({"type": "sync", "ref": "s"})
    snapshot = await next_of_type(ana_socket, "snapshot")
    assert (snapshot["ref"], offer_ids(snapshot)) == ("s", [])
    await ana_socket.disconnect()
    await ben_socket.disconnect()


# --- Bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ("{not json", "bad_json", None),
        ("[1, 2]", "bad_json", None),
        ('{"type": "dance"}', "unknown_type", None),
        ('{"task_id": 1}', "unknown_type", None),
        ('{"type": "claim"}', "invalid_field", "task_id"),
        ('{"type": "claim", "task_id": "7"}', "invalid_field", "task_id"),
        ('{"type": "claim", "task_id": -3}', "invalid_field", "task_id"),
        ('{"type": "claim", "task_id": true}', "invalid_field", "task_id"),
        ('{"type": "claim", "task_id": 1.5}', "invalid_field", "task_id"),
        ('{"type": "reject", "task_id": 99999999999999999999}', "invalid_field", "task_id"),
        ('{"type": "heartbeat", "mood": "sunny"}', "invalid_field", "mood"),
        ('{"type": "heartbeat", "ref": 12}', "invalid_field", "ref"),
        ('{"type": "heartbeat", "ref": "' + "r" * 65 + '"}', "invalid_field", "ref"),
        ('{"type": "sync", "pad": "' + "x" * 5000 + '"}', "too_large", None),
    ],
)
async def test_a_malformed_message_gets_an_error_changes_nothing_and_the_socket_lives_on(
    brand, gig, frame, code, field
):
    agent = await new_agent(brand)
    task = await new_task(gig=gig)
    socket, _ = await open_agent_socket(agent)

    await socket.send_to(text_data=frame)
    error = await socket.receive_json_from()

    assert (error["type"], error["code"]) == ("error", code)
    assert error["message"]
    if field:
        assert field in error["fields"]
    await db(task.refresh_from_db)()
    assert (task.status, task.holder_id) == (TaskStatus.QUEUED, None)
    await socket.send_json_to({"type": "heartbeat", "ref": "still-there"})
    ack = await socket.receive_json_from()
    assert (ack["type"], ack["ref"]) == ("heartbeat.ack", "still-there")
    await socket.disconnect()


async def test_a_binary_frame_gets_an_error(brand):
    socket, _ = await open_agent_socket(await new_agent(brand))
    await socket.send_to(bytes_data=b'{"type": "heartbeat"}')
    error = await socket.receive_json_from()
    assert error["code"] == "bad_json"
    await socket.disconnect()


async def test_an_error_echoes_the_ref_of_a_well_formed_message(brand):
    socket, _ = await open_agent_socket(await new_agent(brand))
    await socket.send_json_to({"type": "claim", "task_id": "1", "ref": "mine"})
    error = await socket.receive_json_from()
    assert (error["code"], error["ref"]) == ("invalid_field", "mine")
    await socket.disconnect()


# --- Presence and heartbeats ----------------------------------------------------------------


async def test_pausing_hides_offers_and_resuming_brings_them_back(brand, gig):
    agent = await new_agent(brand)
    task = await new_task(gig=gig)
    socket, snapshot = await open_agent_socket(agent)
    assert offer_ids(snapshot) == [task.pk]

    await socket.send_json_to({"type": "pause", "ref": "p"})
    paused = await next_of_type(socket, "snapshot")
    assert (paused["ref"], paused["presence"], paused["offers"]) == ("p", "paused", [])
    presence = await db(AgentPresence.objects.get)(agent=agent)
    assert presence.status == PresenceStatus.PAUSED

    await socket.send_json_to({"type": "claim", "task_id": task.pk})
    error = await next_of_type(socket, "error")
    assert error["code"] == "not_online"

    await socket.send_json_to({"type": "resume", "ref": "r"})
    resumed = await next_of_type(socket, "snapshot")
    assert (resumed["ref"], resumed["presence"], offer_ids(resumed)) == ("r", "online", [task.pk])
    await socket.disconnect()


async def test_a_heartbeat_is_acknowledged_with_billable_seconds(brand, gig):
    agent = await new_agent(brand)
    task = await new_task(gig=gig)
    await db(task_claim)(agent=agent, task_id=task.pk)
    socket, _ = await open_agent_socket(agent)

    await socket.send_json_to({"type": "heartbeat", "ref": "hb"})
    ack = await socket.receive_json_from()

    assert ack["type"] == "heartbeat.ack"
    assert (ack["ref"], ack["presence"]) == ("hb", PresenceStatus.ONLINE)
    assert set(ack["billable_seconds"]) == {str(task.pk)}
    assert ack["server_time"].endswith("Z")
    await socket.disconnect()


async def test_without_redis_a_heartbeat_catches_up_with_changes_made_elsewhere(brand, settings):
    # Embedded mode: the job worker's changes publish into another process.
    settings.REDIS_URL = ""
    agent = await new_agent(brand)
    task = await new_task(gig=await new_gig(brand=brand, dispatch_mode=DispatchMode.DIRECTED))
    socket, _ = await open_agent_socket(agent)

    # As a directed offer made by another process would (no event reaches us).
    await reserve(task, agent)
    assert await socket.receive_nothing(timeout=0.2)

    await socket.send_json_to({"type": "heartbeat"})
    assert (await socket.receive_json_from())["type"] == "heartbeat.ack"
    snapshot = await socket.receive_json_from()
    assert snapshot["type"] == "snapshot"
    assert offer_ids(snapshot) == [task.pk]

    # Now the socket is up to date: the next heartbeat sends no snapshot.
    await socket.send_json_to({"type": "heartbeat"})
    assert (await socket.receive_json_from())["type"] == "heartbeat.ack"
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_after_logging_out_the_next_heartbeat_closes_the_socket(brand):
    agent = await new_agent(brand)
    socket, _ = await open_agent_socket(agent)

    await db(Session.objects.all().delete)()
    await socket.send_json_to({"type": "heartbeat", "ref": "hb"})

    error = await socket.receive_json_from()
    assert (error["code"], error["ref"]) == ("session_ended", "hb")
    assert await closing_code(socket) == 4403


async def test_an_event_lost_by_the_channel_layer_is_caught_up_at_the_next_heartbeat(brand, gig):
    agent = await new_agent(brand)
    socket, _ = await open_agent_socket(agent)
    hub = hub_module._hubs[asyncio.get_running_loop()]

    # The layer forgets this process's hub (the in-memory layer does so after
    # a day; Redis, when it restarts): the next offer never arrives.
    await hub.layer.group_discard(live.HUB_GROUP, hub.channel)
    task = await db(TaskFactory)(gig=gig)
    await db(task_offer)(task)
    assert await socket.receive_nothing(timeout=0.3)

    # The hub's watch notices its ping went missing, joins again, and once
    # pings return marks its connections for catching up.
    for _ in range(3):
        await hub.check_delivery()
        await asyncio.sleep(0.2)

    await socket.send_json_to({"type": "heartbeat"})
    assert (await socket.receive_json_from())["type"] == "heartbeat.ack"
    snapshot = await socket.receive_json_from()
    assert snapshot["type"] == "snapshot"
    assert offer_ids(snapshot) == [task.pk]
    await socket.disconnect()


async def test_a_released_task_leaves_the_held_list_and_returns_as_an_offer(brand, gig):
    agent = await new_agent(brand)
    task = await new_task(gig=gig)
    await db(task_claim)(agent=agent, task_id=task.pk)
    socket, snapshot = await open_agent_socket(agent)
    assert [t["id"] for t in snapshot["held"]] == [task.pk]

    await db(task_release)(agent=agent, task_id=task.pk)

    lost = await next_of_type(socket, "task.lost")
    assert (lost["task_id"], lost["reason"]) == (task.pk, "released")
    offer = await next_of_type(socket, "offer")
    assert offer["task"]["id"] == task.pk
    await socket.disconnect()


# --- The customer's socket ------------------------------------------------------------------


async def test_the_customer_sees_agent_replies_live_but_never_internal_notes(brand, gig):
    agent = await new_agent(brand)
    task = await new_task(gig=gig)
    await new_message(task=task, body="My parcel never came.")
    await new_message(
        task=task, kind=MessageKind.NOTE, author_name="QA", body="Known courier issue"
    )
    await db(task_claim)(agent=agent, task_id=task.pk)
    token = await db(customer_link_token)(task)
    agent_socket, _ = await open_agent_socket(agent)
    customer = await open_socket(None, f"/ws/customer/{token}/")

    snapshot = await customer.receive_json_from()
    assert snapshot["type"] == "snapshot"
    assert snapshot["task"] == {
        "id": task.pk,
        "subject": task.subject,
        "status": TaskStatus.CLAIMED,
        "csat_score": None,
    }
    assert [m["body"] for m in snapshot["messages"]] == ["My parcel never came."]

    await db(agent_note)(agent=agent, task_id=task.pk, body="Refund approved by lead")
    await db(agent_reply)(agent=agent, task_id=task.pk, body="Your refund is on its way.")

    event = await customer.receive_json_from(timeout=3)
    assert event["type"] == "message"
    assert event["message"]["body"] == "Your refund is on its way."
    assert await customer.receive_nothing(timeout=0.3)
    # The holder's socket has both, the note included.
    bodies = [(await next_of_type(agent_socket, "message"))["message"]["body"] for _ in range(2)]
    assert bodies == ["Refund approved by lead", "Your refund is on its way."]
    await customer.disconnect()
    await agent_socket.disconnect()


async def test_a_customer_socket_with_a_bad_token_is_refused_with_4404(db):
    socket = await open_socket(None, "/ws/customer/not-a-real-token/")
    error = await socket.receive_json_from()
    assert error["code"] == "not_found"
    assert await closing_code(socket) == 4404


async def test_the_customer_socket_answers_anything_but_sync_with_an_error(brand, gig):
    task = await new_task(gig=gig)
    token = await db(customer_link_token)(task)
    customer = await open_socket(None, f"/ws/customer/{token}/")
    await customer.receive_json_from()

    await customer.send_json_to({"type": "claim", "task_id": task.pk})
    error = await customer.receive_json_from()
    assert error["code"] == "unknown_type"
    await customer.send_json_to({"type": "sync", "ref": "again"})
    snapshot = await customer.receive_json_from()
    assert (snapshot["type"], snapshot["ref"]) == ("snapshot", "again")
    await customer.disconnect()
