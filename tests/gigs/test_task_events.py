"""The task event history: each change writes its event, in its own
transaction, at its own moment; events never change; the backfill gives
tasks written without events the same history."""

from contextlib import contextmanager
from datetime import datetime, timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gigs.dispatch import expire_overdue, task_claim, task_offer, task_reject, task_release
from gigs.events import task_event_record, task_events_backfill, task_events_from_rows
from gigs.models import (
    DispatchMode,
    MessageKind,
    PayModel,
    SessionOutcome,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskStatus,
    WorkSession,
)
from gigs.services import (
    TaskInput,
    message_add,
    resolution_codes_seed,
    task_create,
    tasks_bulk_create,
)
from gigs.work import (
    agent_note,
    agent_reply,
    customer_reply,
    task_escalate,
    task_rate,
    task_resolve,
)
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from tests.gigs.factories import GigFactory, MessageFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent

pytestmark = pytest.mark.django_db


@contextmanager
def at(moment: datetime):
    """Every ``timezone.now()`` (services, auto_now fields) returns ``moment``."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


@pytest.fixture
def t0() -> datetime:
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def seconds(t0):
    return lambda n: t0 + timedelta(seconds=n)


@pytest.fixture(autouse=True)
def resolution_codes(brand):
    resolution_codes_seed(brand)


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
    with at(t0):
        return task_claim(agent=agent, task_id=task.pk)


def history(task) -> list[tuple[str, int | None]]:
    return [(event.kind, event.agent_id) for event in TaskEvent.objects.filter(task=task)]


def last_event(task) -> TaskEvent:
    return TaskEvent.objects.filter(task=task).order_by("-id").first()


# --- Creation and messages ---------------------------------------------------------------


def test_a_created_task_records_its_creation_and_first_message(brand, gig):
    task, created = task_create(
        brand=brand, data=TaskInput(gig=gig, subject="Hi", body="Where is it?", external_id="e1")
    )

    assert created
    events = list(TaskEvent.objects.filter(task=task))
    assert [event.kind for event in events] == [
        TaskEventKind.CREATED,
        TaskEventKind.CUSTOMER_MESSAGE,
    ]
    message = task.messages.get()
    assert events[0].occurred_at == Task.objects.get(pk=task.pk).created_at
    assert (events[1].occurred_at, events[1].data) == (message.created_at, {"message": message.pk})
    assert {(e.brand_id, e.gig_id, e.agent_id) for e in events} == {(brand.pk, gig.pk, None)}


def test_a_task_sent_again_with_its_external_id_records_nothing_more(brand, gig):
    data = TaskInput(gig=gig, subject="Hi", body="Hello", external_id="e2")
    task, _ = task_create(brand=brand, data=data)
    again, created = task_create(brand=brand, data=data)

    assert (again.pk, created) == (task.pk, False)
    assert TaskEvent.objects.filter(task=task).count() == 2


def test_refused_task_input_records_nothing(brand, gig):
    with pytest.raises(ValidationFailed):
        task_create(brand=brand, data=TaskInput(gig=gig, subject=""))
    assert not TaskEvent.objects.exists()


def test_imported_tasks_each_record_their_creation(brand, gig):
    tasks = tasks_bulk_create(
        brand=brand,
        rows=[
            TaskInput(gig=gig, subject="A", body="First"),
            TaskInput(gig=gig, subject="B"),
        ],
    )

    assert history(tasks[0]) == [
        (TaskEventKind.CREATED, None),
        (TaskEventKind.CUSTOMER_MESSAGE, None),
    ]
    assert history(tasks[1]) == [(TaskEventKind.CREATED, None)]


def test_agent_reply_and_customer_reply_record_messages_but_a_note_does_not(agent, held, seconds):
    with at(seconds(10)):
        reply = agent_reply(agent=agent, task_id=held.pk, body="On its way")
    with at(seconds(20)):
        agent_note(agent=agent, task_id=held.pk, body="Customer sounds upset")
    with at(seconds(30)):
        answer = customer_reply(task=held, body="Thanks!")

    events = list(TaskEvent.objects.filter(task=held).exclude(kind=TaskEventKind.CLAIMED))
    assert [(e.kind, e.agent_id, e.occurred_at, e.data) for e in events] == [
        (TaskEventKind.AGENT_MESSAGE, agent.pk, seconds(10), {"message": reply.pk}),
        (TaskEventKind.CUSTOMER_MESSAGE, None, seconds(30), {"message": answer.pk}),
    ]


def test_a_message_sent_again_with_its_external_id_records_one_event(task):
    message_add(task=task, kind=MessageKind.CUSTOMER, body="Hello", external_id="m1")
    message_add(task=task, kind=MessageKind.CUSTOMER, body="Hello", external_id="m1")

    assert history(task) == [(TaskEventKind.CUSTOMER_MESSAGE, None)]


def test_a_refused_reply_records_nothing(brand, held):
    rival = make_agent(brand)
    before = TaskEvent.objects.count()
    with pytest.raises(PermissionDenied):
        agent_reply(agent=rival, task_id=held.pk, body="Let me help")
    assert TaskEvent.objects.count() == before


# --- Claims, releases, lease expiry ---------------------------------------------------------


def test_a_claim_records_the_agent_the_moment_and_the_work_session(agent, held, t0):
    event = last_event(held)
    session = WorkSession.objects.get(task=held)

    assert (event.kind, event.agent_id, event.occurred_at) == (TaskEventKind.CLAIMED, agent.pk, t0)
    assert event.data == {"session": session.pk}
    assert (event.brand_id, event.gig_id) == (held.brand_id, held.gig_id)


def test_a_claim_writes_one_event_row_and_reads_none(agent, task):
    with CaptureQueriesContext(connection) as captured:
        task_claim(agent=agent, task_id=task.pk)

    touching = [q["sql"] for q in captured.captured_queries if "gigs_taskevent" in q["sql"]]
    assert len(touching) == 1
    assert touching[0].lstrip().upper().startswith("INSERT")


def test_a_refused_claim_records_nothing(brand, held):
    rival = make_agent(brand)
    with pytest.raises(Conflict):
        task_claim(agent=rival, task_id=held.pk)
    assert history(held) == [(TaskEventKind.CLAIMED, held.holder_id)]


def test_a_release_records_who_let_go_and_the_return_to_the_queue(agent, held, seconds):
    with at(seconds(90)):
        task_release(agent=agent, task_id=held.pk)

    released, queued = TaskEvent.objects.filter(task=held).order_by("id")[1:]
    assert (released.kind, released.agent_id, released.occurred_at) == (
        TaskEventKind.RELEASED,
        agent.pk,
        seconds(90),
    )
    assert released.data == {
        "reason": SessionOutcome.RELEASED,
        "session": WorkSession.objects.get(task=held).pk,
    }
    assert (queued.kind, queued.agent_id, queued.occurred_at) == (
        TaskEventKind.QUEUED,
        None,
        seconds(90),
    )


def test_a_lapsed_lease_records_a_release_for_that_reason(agent, held, seconds):
    expired_at = seconds(held.gig.lease_seconds + 1)
    assert expire_overdue(now=expired_at) == 1

    kinds = history(held)
    assert kinds == [
        (TaskEventKind.CLAIMED, agent.pk),
        (TaskEventKind.RELEASED, agent.pk),
        (TaskEventKind.QUEUED, None),
    ]
    released = TaskEvent.objects.get(task=held, kind=TaskEventKind.RELEASED)
    assert (released.occurred_at, released.data["reason"]) == (
        expired_at,
        SessionOutcome.LEASE_EXPIRED,
    )


def test_a_release_and_reclaim_records_two_claims(brand, agent, held, seconds):
    other = make_agent(brand)
    with at(seconds(60)):
        task_release(agent=agent, task_id=held.pk)
    with at(seconds(120)):
        task_claim(agent=other, task_id=held.pk)

    assert history(held) == [
        (TaskEventKind.CLAIMED, agent.pk),
        (TaskEventKind.RELEASED, agent.pk),
        (TaskEventKind.QUEUED, None),
        (TaskEventKind.CLAIMED, other.pk),
    ]


# --- Directed offers ------------------------------------------------------------------------


@pytest.fixture
def directed_gig(brand):
    return GigFactory(
        brand=brand, dispatch_mode=DispatchMode.DIRECTED, reservation_timeout_seconds=30
    )


def test_a_directed_offer_records_who_it_went_to(brand, directed_gig, t0):
    agent = make_agent(brand)
    task = TaskFactory(gig=directed_gig)
    with at(t0):
        task_offer(task)

    event = last_event(task)
    assert (event.kind, event.agent_id, event.occurred_at) == (
        TaskEventKind.OFFERED,
        agent.pk,
        t0,
    )
    assert event.data == {"reservation": task.reservations.get().pk}


def test_a_lapsed_offer_records_the_lapse_and_the_return_to_the_queue(brand, directed_gig, t0):
    agent = make_agent(brand)
    task = TaskFactory(gig=directed_gig)
    with at(t0):
        task_offer(task)
    lapsed_at = t0 + timedelta(seconds=31)
    expire_overdue(now=lapsed_at)

    # The only agent lapsed: nobody else to offer it to, so it stays queued.
    assert history(task) == [
        (TaskEventKind.OFFERED, agent.pk),
        (TaskEventKind.RESERVATION_LAPSED, agent.pk),
        (TaskEventKind.QUEUED, None),
    ]
    assert TaskEvent.objects.get(task=task, kind=TaskEventKind.QUEUED).occurred_at == lapsed_at


def test_a_declined_offer_records_the_decline_and_the_next_offer(brand, directed_gig):
    first, second = make_agent(brand), make_agent(brand)
    task = TaskFactory(gig=directed_gig)
    task_offer(task)
    offered_to = task.reserved_for
    task_reject(agent=offered_to, task_id=task.pk)
    other = second if offered_to == first else first

    assert history(task) == [
        (TaskEventKind.OFFERED, offered_to.pk),
        (TaskEventKind.RESERVATION_DECLINED, offered_to.pk),
        (TaskEventKind.QUEUED, None),
        (TaskEventKind.OFFERED, other.pk),
    ]


# --- Resolve, escalate, rate -------------------------------------------------------------------


def test_resolving_records_the_close_at_the_tasks_close_time(agent, held, seconds):
    with at(seconds(300)):
        task_resolve(agent=agent, task_id=held.pk, resolution_code="answered")

    event = last_event(held)
    held.refresh_from_db()
    assert (event.kind, event.agent_id, event.occurred_at) == (
        TaskEventKind.RESOLVED,
        agent.pk,
        held.closed_at,
    )
    assert held.closed_at == seconds(300)
    assert event.data == {"session": WorkSession.objects.get(task=held).pk}


def test_a_refused_resolution_records_nothing(agent, held):
    with pytest.raises(ValidationFailed):
        task_resolve(agent=agent, task_id=held.pk, resolution_code="no-such-code")
    assert last_event(held).kind == TaskEventKind.CLAIMED


def test_escalating_records_the_escalation(agent, held, seconds):
    with at(seconds(200)):
        task_escalate(agent=agent, task_id=held.pk, reason="Legal threat")

    event = last_event(held)
    assert (event.kind, event.agent_id, event.occurred_at) == (
        TaskEventKind.ESCALATED,
        agent.pk,
        seconds(200),
    )


def test_a_rating_records_its_score_once(agent, held, seconds):
    with at(seconds(100)):
        task_resolve(agent=agent, task_id=held.pk, resolution_code="answered")
    held.refresh_from_db()
    with at(seconds(86400)):
        task_rate(task=held, score=4, comment="Quick")
    task_rate(task=held, score=4, comment="Quick")  # a retry changes nothing
    with pytest.raises(Conflict):
        task_rate(task=held, score=2)
    with pytest.raises(ValidationFailed):
        task_rate(task=held, score=9)

    [rated] = TaskEvent.objects.filter(task=held, kind=TaskEventKind.RATED)
    assert (rated.agent_id, rated.occurred_at, rated.data) == (None, seconds(86400), {"score": 4})


# --- Append-only -----------------------------------------------------------------------------


def test_an_event_cannot_be_changed_or_deleted(held):
    event = last_event(held)
    event.kind = TaskEventKind.RESOLVED
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        TaskEvent.objects.filter(pk=event.pk).update(kind=TaskEventKind.RESOLVED)
    with pytest.raises(TypeError):
        TaskEvent.objects.filter(pk=event.pk).delete()
    assert TaskEvent.objects.get(pk=event.pk).kind == TaskEventKind.CLAIMED


def test_a_new_event_can_be_recorded_directly(task, t0):
    event = task_event_record(task, TaskEventKind.REOPENED, t0)
    assert TaskEvent.objects.get(pk=event.pk).occurred_at == t0


# --- Backfill from stored rows ------------------------------------------------------------------


def test_backfilled_history_matches_the_history_the_services_wrote(brand, gig, agent, t0):
    """The same life, lived through the services: the backfill from its rows
    gives the same events, at the same moments, by the same agents."""
    with at(t0):
        task, _ = task_create(brand=brand, data=TaskInput(gig=gig, subject="Hi", body="Help"))
    with at(t0 + timedelta(seconds=30)):
        task_claim(agent=agent, task_id=task.pk)
    with at(t0 + timedelta(seconds=60)):
        task_release(agent=agent, task_id=task.pk)
    with at(t0 + timedelta(seconds=90)):
        task_claim(agent=agent, task_id=task.pk)
    with at(t0 + timedelta(seconds=120)):
        agent_reply(agent=agent, task_id=task.pk, body="Here you go")
    with at(t0 + timedelta(seconds=150)):
        customer_reply(task=task, body="Thanks")
    with at(t0 + timedelta(seconds=180)):
        task_resolve(agent=agent, task_id=task.pk, resolution_code="answered")
    task.refresh_from_db()
    with at(t0 + timedelta(days=1)):
        task_rate(task=task, score=5)

    def shape(events):
        return [(e.kind, e.agent_id, e.occurred_at, e.data.get("score")) for e in events]

    written = list(TaskEvent.objects.filter(task=task))
    task.refresh_from_db()
    assert shape(task_events_from_rows(task)) == shape(written)


def seeded_task(gig, agent, t0) -> Task:
    """A resolved, rated task written straight to its rows, as the demo seed does."""
    task = TaskFactory(gig=gig, status=TaskStatus.RESOLVED)
    MessageFactory(task=task)
    message = task.messages.get()
    type(message).objects.filter(pk=message.pk).update(created_at=t0)
    WorkSession.objects.create(
        task=task,
        agent=agent,
        brand=task.brand,
        gig=gig,
        pay_model=gig.pay_model,
        rate_minor=gig.rate_minor,
        currency=gig.currency,
        grace_seconds=60,
        lease_seconds=300,
        max_billable_seconds=3600,
        started_at=t0 + timedelta(minutes=5),
        active_since=t0 + timedelta(minutes=5),
        last_heartbeat_at=t0 + timedelta(minutes=20),
        ended_at=t0 + timedelta(minutes=20),
        outcome=SessionOutcome.RESOLVED,
    )
    Task.objects.filter(pk=task.pk).update(
        created_at=t0,
        closed_at=t0 + timedelta(minutes=20),
        resolved_at=t0 + timedelta(minutes=20),
        csat_score=2,
        csat_at=t0 + timedelta(hours=3),
    )
    return task


def test_backfill_writes_a_seeded_tasks_history_once(gig, agent, t0):
    task = seeded_task(gig, agent, t0)
    queued = TaskFactory(gig=gig)

    assert task_events_backfill() == 2
    assert task_events_backfill() == 0

    events = list(TaskEvent.objects.filter(task=task))
    assert [(e.kind, e.agent_id, e.occurred_at) for e in events] == [
        (TaskEventKind.CREATED, None, t0),
        (TaskEventKind.CUSTOMER_MESSAGE, None, t0),
        (TaskEventKind.CLAIMED, agent.pk, t0 + timedelta(minutes=5)),
        (TaskEventKind.RESOLVED, agent.pk, t0 + timedelta(minutes=20)),
        (TaskEventKind.RATED, None, t0 + timedelta(hours=3)),
    ]
    assert events[-1].data == {"score": 2}
    assert history(queued) == [(TaskEventKind.CREATED, None)]


def test_backfill_skips_tasks_that_already_have_events(held):
    assert task_events_backfill() == 0
    assert history(held) == [(TaskEventKind.CLAIMED, held.holder_id)]


def test_backfill_command_writes_one_brands_history(gig, agent, t0, other_gig):
    task = seeded_task(gig, agent, t0)
    foreign = TaskFactory(gig=other_gig)
    out = StringIO()

    call_command("task_events_backfill", brand=gig.brand.slug, stdout=out)

    assert "1 task(s)" in out.getvalue()
    assert TaskEvent.objects.filter(task=task).count() == 5
    assert not TaskEvent.objects.filter(task=foreign).exists()


def test_backfill_command_refuses_an_unknown_brand(task):
    with pytest.raises(CommandError, match="no brand"):
        call_command("task_events_backfill", brand="nope", stdout=StringIO())
    assert not TaskEvent.objects.exists()
