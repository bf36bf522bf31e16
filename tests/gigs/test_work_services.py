"""Working a task (gigs.work): replies, notes, resolution, escalation, billable time,
lease expiry, immutable work records, the customer's link and rating."""

from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core import signing
from django.utils import timezone

from gigs import live
from gigs.dispatch import agent_heartbeat, expire_overdue, session_billable_ms, task_claim
from gigs.models import (
    Message,
    MessageKind,
    PayModel,
    ResolutionCode,
    SessionOutcome,
    Task,
    TaskStatus,
    WorkRecord,
    WorkSession,
)
from gigs.services import resolution_codes_seed
from gigs.work import (
    CUSTOMER_LINK_MAX_AGE,
    CUSTOMER_LINK_SALT,
    agent_note,
    agent_reply,
    customer_link_token,
    customer_reply,
    task_escalate,
    task_for_customer_token,
    task_rate,
    task_resolve,
)
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent

pytestmark = pytest.mark.django_db


@contextmanager
def at(moment: datetime):
    """Every ``timezone.now()`` (services, auto_now fields) returns ``moment``."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


@pytest.fixture
def t0() -> datetime:
    """When the test's task is claimed; ``seconds(n)`` is n seconds later."""
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def seconds(t0):
    return lambda n: t0 + timedelta(seconds=n)


@pytest.fixture(name="hub")
def hub_fixture(settings):
    """The live events services publish, as ``[(topics, event), ...]`` once delivered."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    name = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(live.HUB_GROUP, name)

    def received() -> list[tuple[list[str], dict]]:
        async def drain():
            import asyncio

            items = []
            while True:
                try:
                    message = await asyncio.wait_for(layer.receive(name), timeout=0.05)
                except TimeoutError:
                    return items
                items.extend((item["topics"], item["event"]) for item in message["items"])

        return async_to_sync(drain)()

    yield received
    async_to_sync(layer.group_discard)(live.HUB_GROUP, name)


@pytest.fixture(autouse=True)
def resolution_codes(brand, other_brand):
    resolution_codes_seed(brand)
    resolution_codes_seed(other_brand)


@pytest.fixture
def gig(brand):
    return GigFactory(brand=brand, pay_model=PayModel.PER_MINUTE, rate_minor=40)


@pytest.fixture
def agent(brand):
    return make_agent(brand)


@pytest.fixture
def task(gig):
    return TaskFactory(gig=gig)


@pytest.fixture
def held(agent, task, t0):
    """``task``, claimed by ``agent`` at ``t0``."""
    with at(t0):
        return task_claim(agent=agent, task_id=task.pk)


def resolved_task(gig, **fields) -> Task:
    return TaskFactory(gig=gig, status=TaskStatus.RESOLVED, **fields)


# --- Replies and notes -------------------------------------------------------------------


def test_holder_reply_is_an_agent_message_with_their_name(agent, held):
    message = agent_reply(agent=agent, task_id=held.pk, body="  Your parcel ships today.  ")
    assert (message.kind, message.body, message.author) == (
        MessageKind.AGENT,
        "Your parcel ships today.",
        agent,
    )


def test_reply_by_an_agent_who_does_not_hold_the_task_is_refused(brand, held):
    rival = make_agent(brand)
    with pytest.raises(PermissionDenied) as refusal:
        agent_reply(agent=rival, task_id=held.pk, body="Let me help")
    assert refusal.value.code == "not_holder"
    assert not Message.objects.filter(task=held).exists()


def test_reply_on_a_queued_task_is_refused(agent, task):
    with pytest.raises(PermissionDenied):
        agent_reply(agent=agent, task_id=task.pk, body="Hello")
    assert not Message.objects.filter(task=task).exists()


def test_reply_on_another_brands_task_is_not_found(agent, other_brand):
    foreign = TaskFactory(gig=GigFactory(brand=other_brand))
    with pytest.raises(NotFound):
        agent_reply(agent=agent, task_id=foreign.pk, body="Hello")
    assert not Message.objects.filter(task=foreign).exists()


def test_reply_after_the_lease_ran_out_is_refused(agent, held, seconds):
    with at(seconds(held.gig.lease_seconds + 1)), pytest.raises(PermissionDenied):
        agent_reply(agent=agent, task_id=held.pk, body="Still there?")
    assert not Message.objects.filter(task=held).exists()


def test_empty_reply_is_refused(agent, held):
    with pytest.raises(ValidationFailed) as refusal:
        agent_reply(agent=agent, task_id=held.pk, body="   ")
    assert "body" in refusal.value.fields


def test_reply_reaches_the_workspace_and_the_customer(
    agent, held, hub, django_capture_on_commit_callbacks
):
    hub()  # the claim's own events
    with django_capture_on_commit_callbacks(execute=True):
        message = agent_reply(agent=agent, task_id=held.pk, body="On its way")
    [(topics, event)] = [item for item in hub() if item[1]["type"] == "message"]
    assert set(topics) == {live.task_topic(held.pk), live.customer_topic(held.pk)}
    assert event["message"]["id"] == message.pk


def test_a_note_never_reaches_the_customer(agent, held, hub, django_capture_on_commit_callbacks):
    hub()
    with django_capture_on_commit_callbacks(execute=True):
        note = agent_note(agent=agent, task_id=held.pk, body="Customer sounds upset")
    messages = [item for item in hub() if item[1]["type"] == "message"]
    assert [topics for topics, _ in messages] == [[live.task_topic(held.pk)]]
    assert note.kind == MessageKind.NOTE


def test_note_by_an_agent_who_does_not_hold_the_task_is_refused(brand, held):
    rival = make_agent(brand)
    with pytest.raises(PermissionDenied):
        agent_note(agent=rival, task_id=held.pk, body="Sneaky")
    assert not Message.objects.filter(task=held).exists()


# --- Resolve and escalate ------------------------------------------------------------------


def test_resolve_with_a_code_of_the_tasks_brand(agent, held, seconds):
    with at(seconds(30)):
        task_resolve(agent=agent, task_id=held.pk, resolution_code="answered")
    held.refresh_from_db()
    record = WorkRecord.objects.get(task=held)
    assert (held.status, held.resolution_code, held.holder) == (
        TaskStatus.RESOLVED,
        "answered",
        agent,
    )
    assert (record.outcome, record.resolution_code) == (SessionOutcome.RESOLVED, "answered")


def test_resolve_with_another_brands_code_is_refused(agent, held, other_brand):
    ResolutionCode.objects.create(brand=other_brand, code="borealis_only", label="Borealis")
    with pytest.raises(ValidationFailed) as refusal:
        task_resolve(agent=agent, task_id=held.pk, resolution_code="borealis_only")
    assert "resolution_code" in refusal.value.fields
    held.refresh_from_db()
    assert (held.status, held.resolution_code) == (TaskStatus.CLAIMED, "")
    assert not WorkRecord.objects.filter(task=held).exists()


def test_resolve_with_an_inactive_code_is_refused(agent, held, brand):
    brand.resolution_codes.filter(code="duplicate").update(is_active=False)
    with pytest.raises(ValidationFailed):
        task_resolve(agent=agent, task_id=held.pk, resolution_code="duplicate")
    held.refresh_from_db()
    assert held.status == TaskStatus.CLAIMED


def test_resolve_without_a_code_is_refused(agent, held):
    with pytest.raises(ValidationFailed, match="Choose how"):
        task_resolve(agent=agent, task_id=held.pk, resolution_code="")


def test_resolve_by_an_agent_who_does_not_hold_the_task_is_refused(brand, held):
    rival = make_agent(brand)
    with pytest.raises(PermissionDenied):
        task_resolve(agent=rival, task_id=held.pk, resolution_code="answered")
    held.refresh_from_db()
    assert held.status == TaskStatus.CLAIMED


def test_escalate_needs_a_reason(agent, held):
    with pytest.raises(ValidationFailed) as refusal:
        task_escalate(agent=agent, task_id=held.pk, reason="   ")
    assert "reason" in refusal.value.fields
    held.refresh_from_db()
    assert held.status == TaskStatus.CLAIMED


def test_escalate_hands_the_task_to_the_brand_with_the_reason(agent, held):
    task_escalate(agent=agent, task_id=held.pk, reason="Needs a refund over the limit")
    held.refresh_from_db()
    assert (held.status, held.escalation_reason) == (
        TaskStatus.ESCALATED,
        "Needs a refund over the limit",
    )
    assert WorkRecord.objects.get(task=held).outcome == SessionOutcome.ESCALATED
    note = Message.objects.get(task=held)
    assert (note.kind, note.body) == (MessageKind.NOTE, "Escalated: Needs a refund over the limit")


# --- Billable time -------------------------------------------------------------------------


def _session(task) -> WorkSession:
    return WorkSession.objects.get(task=task, ended_at__isnull=True)


def test_heartbeats_within_the_grace_period_bill_continuously(agent, held, seconds):
    for t in (30, 60, 90):
        agent_heartbeat(agent=agent, now=seconds(t))
    assert session_billable_ms(_session(held), seconds(90)) == 90_000
    assert agent_heartbeat(agent=agent, now=seconds(120)).billable_seconds == {held.pk: 120}


def test_silence_longer_than_the_grace_bills_only_to_the_last_heartbeat(agent, held, seconds):
    agent_heartbeat(agent=agent, now=seconds(30))
    grace = held.gig.heartbeat_grace_seconds
    assert session_billable_ms(_session(held), seconds(30 + grace + 100)) == 30_000


def test_a_heartbeat_after_a_gap_bills_the_time_before_and_after_but_not_the_gap(
    agent, held, seconds
):
    agent_heartbeat(agent=agent, now=seconds(30))
    agent_heartbeat(agent=agent, now=seconds(200))  # 170 s of silence, grace is 60 s
    result = agent_heartbeat(agent=agent, now=seconds(230))
    assert result.billable_seconds == {held.pk: 60}


def test_billable_time_is_capped_by_the_gigs_maximum(brand, agent, seconds, t0):
    gig = GigFactory(brand=brand, pay_model=PayModel.PER_MINUTE, max_billable_minutes=1)
    task = TaskFactory(gig=gig)
    with at(t0):
        task_claim(agent=agent, task_id=task.pk)
    for t in range(30, 181, 30):
        result = agent_heartbeat(agent=agent, now=seconds(t))
    assert result.billable_seconds == {task.pk: 60}
    with at(seconds(180)):
        task_resolve(agent=agent, task_id=task.pk, resolution_code="answered")
    assert WorkRecord.objects.get(task=task).billable_seconds == 60


def test_lease_expiry_returns_the_task_to_the_queue_with_a_work_record(agent, held, seconds):
    agent_heartbeat(agent=agent, now=seconds(30))
    lease_end = seconds(30 + held.gig.lease_seconds)
    assert expire_overdue(now=lease_end + timedelta(seconds=1)) == 1
    held.refresh_from_db()
    record = WorkRecord.objects.get(task=held)
    assert (held.status, held.holder, held.lease_expires_at) == (TaskStatus.QUEUED, None, None)
    assert (record.outcome, record.agent, record.billable_seconds) == (
        SessionOutcome.LEASE_EXPIRED,
        agent,
        30,
    )


def test_a_lease_extended_by_a_heartbeat_does_not_expire(agent, held, seconds):
    agent_heartbeat(agent=agent, now=seconds(200))
    assert expire_overdue(now=seconds(held.gig.lease_seconds + 1)) == 0
    held.refresh_from_db()
    assert (held.status, held.holder) == (TaskStatus.CLAIMED, agent)


def test_work_records_are_immutable(agent, held):
    task_resolve(agent=agent, task_id=held.pk, resolution_code="answered")
    record = WorkRecord.objects.get(task=held)
    record.billable_seconds = 9999
    with pytest.raises(TypeError):
        record.save()
    with pytest.raises(TypeError):
        record.delete()
    with pytest.raises(TypeError):
        WorkRecord.objects.filter(pk=record.pk).update(billable_seconds=9999)
    with pytest.raises(TypeError):
        WorkRecord.objects.filter(pk=record.pk).delete()
    assert WorkRecord.objects.get(pk=record.pk).billable_seconds != 9999


# --- The customer's link -------------------------------------------------------------------


def test_customer_link_finds_its_task(task):
    assert task_for_customer_token(customer_link_token(task)) == task


@pytest.mark.parametrize("token", ["", "nonsense", "1:2:3", "W1wxXQ:1t0ZQ:abc"])
def test_a_bad_customer_link_is_not_found(task, token):
    with pytest.raises(NotFound):
        task_for_customer_token(token)


def test_a_tampered_customer_link_is_not_found(task):
    token = customer_link_token(task)
    with pytest.raises(NotFound):
        task_for_customer_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))


def test_an_expired_customer_link_is_not_found(task):
    made_at = timezone.now().timestamp() - CUSTOMER_LINK_MAX_AGE - 60
    with mock.patch("django.core.signing.time.time", return_value=made_at):
        token = customer_link_token(task)
    with pytest.raises(NotFound):
        task_for_customer_token(token)


def test_a_customer_link_naming_another_brand_is_not_found(task, other_brand):
    token = signing.dumps([task.pk, other_brand.pk], salt=CUSTOMER_LINK_SALT, compress=False)
    with pytest.raises(NotFound):
        task_for_customer_token(token)


def test_a_cancelled_tasks_customer_link_is_not_found(task):
    token = customer_link_token(task)
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.CANCELLED)
    with pytest.raises(NotFound):
        task_for_customer_token(token)


def test_customer_reply_reaches_the_agents_workspace(held, hub, django_capture_on_commit_callbacks):
    hub()
    with django_capture_on_commit_callbacks(execute=True):
        message = customer_reply(task=held, body="Thanks, any tracking number?")
    [(topics, event)] = [item for item in hub() if item[1]["type"] == "message"]
    assert live.task_topic(held.pk) in topics
    assert (event["task_id"], event["message"]["kind"]) == (held.pk, MessageKind.CUSTOMER)
    assert message.kind == MessageKind.CUSTOMER


def test_customer_reply_on_a_closed_task_is_refused(gig):
    task = resolved_task(gig)
    with pytest.raises(Conflict):
        customer_reply(task=task, body="One more thing")
    assert not Message.objects.filter(task=task).exists()


# --- CSAT ----------------------------------------------------------------------------------


def test_rating_a_resolved_task_records_score_and_comment(gig):
    task = task_rate(task=resolved_task(gig), score=4, comment=" Quick help ")
    task.refresh_from_db()
    assert (task.csat_score, task.csat_comment) == (4, "Quick help")
    assert task.csat_at is not None


def test_the_same_rating_again_changes_nothing(gig):
    task = resolved_task(gig)
    first = task_rate(task=task, score=5)
    again = task_rate(task=Task.objects.get(pk=task.pk), score=5)
    assert (again.csat_score, again.csat_at) == (5, first.csat_at)


def test_a_different_rating_after_the_first_is_refused(gig):
    task = resolved_task(gig)
    task_rate(task=task, score=5)
    with pytest.raises(Conflict) as refusal:
        task_rate(task=Task.objects.get(pk=task.pk), score=1)
    assert refusal.value.code == "already_rated"
    assert Task.objects.get(pk=task.pk).csat_score == 5


@pytest.mark.parametrize("status", [TaskStatus.QUEUED, TaskStatus.CLAIMED, TaskStatus.ESCALATED])
def test_rating_before_resolution_is_refused(gig, status):
    task = TaskFactory(gig=gig, status=status)
    with pytest.raises(Conflict) as refusal:
        task_rate(task=task, score=5)
    assert refusal.value.code == "not_resolved"
    assert Task.objects.get(pk=task.pk).csat_score is None


@pytest.mark.parametrize("score", [0, 6, -1, "five", None, "3.5"])
def test_a_score_outside_one_to_five_is_refused(gig, score):
    task = resolved_task(gig)
    with pytest.raises(ValidationFailed):
        task_rate(task=task, score=score)
    assert Task.objects.get(pk=task.pk).csat_score is None


def test_rating_is_published_to_the_brand_and_the_customer(
    gig, hub, django_capture_on_commit_callbacks
):
    task = resolved_task(gig)
    with django_capture_on_commit_callbacks(execute=True):
        task_rate(task=task, score=3)
    [(topics, event)] = hub()
    assert event == {"type": "task.rated", "task_id": task.pk, "score": 3}
    assert live.customer_topic(task.pk) in topics and live.brand_topic(task.brand_id) in topics
