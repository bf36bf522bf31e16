"""The agent workspace: held tasks, the conversation, reply, note, canned replies,
resolve, escalate, release; refusals for tasks the agent does not hold."""

from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gigs.dispatch import task_claim
from gigs.models import (
    CannedReply,
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
from tests.gigs.factories import GigFactory, MessageFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
QUEUE_URL = "/agent/queue/"


def url(name, *args):
    return reverse(f"frontend:{name}", args=args)


@pytest.fixture(autouse=True)
def resolution_codes(brand, other_brand):
    resolution_codes_seed(brand)
    resolution_codes_seed(other_brand)


@pytest.fixture
def agent(brand):
    return make_agent(brand)


@pytest.fixture
def agent_client(agent) -> Client:
    client = Client()
    client.force_login(agent)
    return client


@pytest.fixture
def held(agent, gig):
    task = TaskFactory(gig=gig, subject="Where is my tent?")
    MessageFactory(task=task, body="It has been a week.", author_name="Dana")
    return task_claim(agent=agent, task_id=task.pk)


def _reload(task) -> Task:
    return Task.objects.get(pk=task.pk)


# --- Access --------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(url("work_list"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_brand_users_get_a_clear_403(admin_client):
    response = admin_client.get(url("work_list"))
    assert response.status_code == 403
    assert "for agent accounts" in response.content.decode()


# --- Held tasks ----------------------------------------------------------------------------


def test_work_list_shows_the_held_tasks_with_brand_and_gig(agent_client, held, brand, gig):
    response = agent_client.get(url("work_list"))
    page = response.content.decode()
    assert response.status_code == 200
    assert [item.task.pk for item in response.context["held"]] == [held.pk]
    assert "Where is my tent?" in page and brand.name in page and gig.title in page
    assert url("work_detail", held.pk) in page


def test_work_list_never_shows_another_agents_tasks(agent_client, brand, gig, held):
    rival = make_agent(brand)
    theirs = task_claim(agent=rival, task_id=TaskFactory(gig=gig, subject="Rival's task").pk)
    response = agent_client.get(url("work_list"))
    assert [item.task.pk for item in response.context["held"]] == [held.pk]
    assert theirs.subject not in response.content.decode()


def test_empty_work_list_links_to_the_queue(agent_client):
    response = agent_client.get(url("work_list"))
    page = response.content.decode()
    assert "You hold no tasks right now" in page
    assert f'href="{QUEUE_URL}"' in page


def test_several_held_tasks_are_listed_and_tabbed(agent_client, agent, brand):
    gig = GigFactory(brand=brand, max_tasks_per_agent=3)
    first, second = (
        task_claim(agent=agent, task_id=TaskFactory(gig=gig, subject=subject).pk)
        for subject in ("First problem", "Second problem")
    )
    listed = agent_client.get(url("work_list"))
    assert [item.task.pk for item in listed.context["held"]] == [first.pk, second.pk]
    detail = agent_client.get(url("work_detail", first.pk)).content.decode()
    assert url("work_detail", second.pk) in detail
    assert 'aria-current="page"' in detail


def test_work_list_partial_for_htmx_is_only_the_list(agent_client, held):
    response = agent_client.get(url("work_list"), **HTMX)
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="held-tasks"')
    assert "<html" not in page


def test_work_list_tabs_partial_marks_the_current_task(agent_client, held):
    response = agent_client.get(url("work_list"), {"part": "tabs", "current": held.pk}, **HTMX)
    page = response.content.decode()
    assert page.lstrip().startswith('<nav id="work-tabs"')
    assert 'aria-current="page"' in page


def test_opening_the_workspace_counts_as_a_heartbeat(agent_client, agent, held):
    later = timezone.now() + timedelta(seconds=120)
    with mock.patch("django.utils.timezone.now", return_value=later):
        agent_client.get(url("work_detail", held.pk))
    task = _reload(held)
    assert task.lease_expires_at == later + timedelta(seconds=held.gig.lease_seconds)


# --- One task ------------------------------------------------------------------------------


def test_detail_shows_the_conversation_oldest_first_with_notes(agent_client, held):
    MessageFactory(task=held, kind=MessageKind.NOTE, body="VIP customer", author_name="Sam")
    MessageFactory(task=held, kind=MessageKind.CUSTOMER, body="Hello again?")
    response = agent_client.get(url("work_detail", held.pk))
    bodies = [message.body for message in response.context["conversation"]]
    assert bodies == ["It has been a week.", "VIP customer", "Hello again?"]
    page = response.content.decode()
    assert (
        page.index("It has been a week.") < page.index("VIP customer") < page.index("Hello again?")
    )
    assert "Internal note" in page


def test_messages_are_escaped_and_keep_their_line_breaks(agent_client, held):
    MessageFactory(task=held, body="<script>alert(1)</script>\nSecond line")
    page = agent_client.get(url("work_detail", held.pk)).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>Second line" in page


def test_per_minute_task_shows_a_timer_from_the_servers_billable_seconds(
    agent_client, agent, brand
):
    gig = GigFactory(brand=brand, pay_model=PayModel.PER_MINUTE, rate_minor=40)
    task = task_claim(agent=agent, task_id=TaskFactory(gig=gig).pk)
    WorkSession.objects.filter(task=task).update(closed_ms=125_000)
    response = agent_client.get(url("work_detail", task.pk))
    current = response.context["current"]
    page = response.content.decode()
    assert current.billable_seconds >= 125
    assert f'data-seconds="{current.billable_seconds}"' in page
    assert 'data-running="true"' in page
    assert "€0.40 per minute" in page


def test_per_resolution_task_shows_its_pay_and_no_timer(agent_client, held):
    page = agent_client.get(url("work_detail", held.pk)).content.decode()
    assert "€2.50 per resolution" in page
    assert "data-timer" not in page


def test_timer_shows_stopped_once_heartbeats_stopped(agent_client, agent, brand):
    gig = GigFactory(brand=brand, pay_model=PayModel.PER_MINUTE)
    task = task_claim(agent=agent, task_id=TaskFactory(gig=gig).pk)
    session = WorkSession.objects.get(task=task)
    long_ago = timezone.now() - timedelta(seconds=gig.heartbeat_grace_seconds + 30)
    WorkSession.objects.filter(pk=session.pk).update(
        started_at=long_ago, active_since=long_ago, last_heartbeat_at=long_ago
    )
    # The list partial sends no heartbeat: it shows billing as it stands.
    response = agent_client.get(url("work_list"), **HTMX)
    [item] = response.context["held"]
    assert (item.billing, item.billable_seconds) == (False, 0)
    assert 'data-running="false"' in response.content.decode()


def test_conversation_partial_for_htmx(agent_client, held):
    response = agent_client.get(url("work_conversation", held.pk), **HTMX)
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="conversation"')
    assert "It has been a week." in page


# --- Tasks the agent does not hold ---------------------------------------------------------


def test_a_task_in_the_pool_not_held_gets_a_clear_page(agent_client, gig):
    task = TaskFactory(gig=gig, subject="Queued task")
    response = agent_client.get(url("work_detail", task.pk))
    assert response.status_code == 403
    page = response.content.decode()
    assert "You don't hold this task" in page and "Claim it from the queue" in page


def test_a_task_whose_lease_expired_says_it_is_no_longer_theirs(agent_client, held):
    later = timezone.now() + timedelta(seconds=held.gig.lease_seconds + 5)
    with mock.patch("django.utils.timezone.now", return_value=later):
        response = agent_client.get(url("work_detail", held.pk))
    assert response.status_code == 403
    page = response.content.decode()
    assert "This task is no longer yours" in page
    assert "lease on this task ran out" in page
    assert WorkRecord.objects.get(task=held).outcome == SessionOutcome.LEASE_EXPIRED


def test_a_released_task_says_so(agent_client, held):
    agent_client.post(url("work_release", held.pk))
    response = agent_client.get(url("work_detail", held.pk))
    assert response.status_code == 403
    assert "You released this task" in response.content.decode()


def test_another_brands_task_is_404(agent_client, other_gig):
    theirs = TaskFactory(gig=other_gig, subject="Borealis secret")
    response = agent_client.get(url("work_detail", theirs.pk))
    assert response.status_code == 404
    assert "Borealis secret" not in response.content.decode()


def test_another_brands_task_held_by_someone_else_is_404_for_every_action(
    agent_client, other_brand, other_gig
):
    rival = make_agent(other_brand)
    theirs = task_claim(agent=rival, task_id=TaskFactory(gig=other_gig).pk)
    for name in ("work_reply", "work_note", "work_resolve", "work_escalate", "work_release"):
        response = agent_client.post(url(name, theirs.pk), {"body": "x", "reason": "x"})
        assert response.status_code == 404, name
    assert not Message.objects.filter(task=theirs).exists()
    assert _reload(theirs).holder == rival


def test_reply_on_a_task_the_agent_does_not_hold_is_refused(agent_client, brand, gig):
    rival = make_agent(brand)
    theirs = task_claim(agent=rival, task_id=TaskFactory(gig=gig).pk)
    response = agent_client.post(url("work_reply", theirs.pk), {"body": "Let me take this"})
    assert response.status_code == 403
    assert "Another agent is working on this task" in response.content.decode()
    assert not Message.objects.filter(task=theirs).exists()


def test_htmx_reply_on_a_lost_task_redirects_to_the_explanation(agent_client, held):
    later = timezone.now() + timedelta(seconds=held.gig.lease_seconds + 5)
    with mock.patch("django.utils.timezone.now", return_value=later):
        response = agent_client.post(url("work_reply", held.pk), {"body": "Hi"}, **HTMX)
    assert response["HX-Redirect"] == url("work_detail", held.pk)
    assert not Message.objects.filter(task=held, kind=MessageKind.AGENT).exists()


# --- Reply, canned replies, note -----------------------------------------------------------


def test_reply_adds_an_agent_message_and_returns_to_the_conversation(agent_client, agent, held):
    response = agent_client.post(url("work_reply", held.pk), {"body": "It ships today."})
    assert response.status_code == 302
    assert response["Location"] == url("work_detail", held.pk) + "#conversation"
    message = Message.objects.get(task=held, kind=MessageKind.AGENT)
    assert (message.body, message.author) == ("It ships today.", agent)


def test_htmx_reply_returns_a_fresh_form_and_refreshes_the_conversation(agent_client, held):
    response = agent_client.post(url("work_reply", held.pk), {"body": "On its way"}, **HTMX)
    assert response["HX-Trigger"] == "conversation-changed"
    page = response.content.decode()
    assert page.lstrip().startswith('<form id="reply-form"')
    assert "On its way" not in page
    assert Message.objects.filter(task=held, kind=MessageKind.AGENT, body="On its way").exists()


def test_empty_reply_shows_an_error_and_sends_nothing(agent_client, held):
    response = agent_client.post(url("work_reply", held.pk), {"body": "   "})
    assert response.status_code == 200
    assert "Write a reply first" in response.content.decode()
    assert not Message.objects.filter(task=held, kind=MessageKind.AGENT).exists()


def test_canned_reply_picker_offers_the_brands_replies_in_the_tasks_language(
    agent_client, held, brand, other_brand
):
    CannedReply.objects.create(brand=brand, title="Shipping times", body="3 days", language="")
    CannedReply.objects.create(brand=brand, title="Delivery (EN)", body="Soon", language="en")
    CannedReply.objects.create(brand=brand, title="Entrega (ES)", body="Pronto", language="es")
    CannedReply.objects.create(brand=other_brand, title="Borealis script", body="x")
    form = agent_client.get(url("work_detail", held.pk)).context["reply_form"]
    titles = sorted(reply.title for reply in form.fields["canned"].queryset)
    assert titles == ["Delivery (EN)", "Shipping times"]


def test_inserting_a_canned_reply_adds_its_text_to_the_draft_without_sending(
    agent_client, held, brand
):
    canned = CannedReply.objects.create(brand=brand, title="Refunds", body="Refunds take 5 days.")
    response = agent_client.post(
        url("work_reply", held.pk), {"body": "Hi Dana,", "canned": canned.pk, "insert": "1"}
    )
    assert response.context["reply_form"].initial["body"] == "Hi Dana,\n\nRefunds take 5 days."
    assert not Message.objects.filter(task=held, kind=MessageKind.AGENT).exists()


def test_htmx_insert_returns_the_reply_form_with_the_text(agent_client, held, brand):
    canned = CannedReply.objects.create(brand=brand, title="Refunds", body="Refunds take 5 days.")
    response = agent_client.post(
        url("work_reply", held.pk), {"body": "", "canned": canned.pk, "insert": "1"}, **HTMX
    )
    page = response.content.decode()
    assert page.lstrip().startswith('<form id="reply-form"')
    assert "Refunds take 5 days.</textarea>" in page
    assert "HX-Trigger" not in response


def test_another_brands_canned_reply_cannot_be_inserted(agent_client, held, other_brand):
    theirs = CannedReply.objects.create(brand=other_brand, title="Secret", body="Borealis only")
    response = agent_client.post(
        url("work_reply", held.pk), {"body": "", "canned": theirs.pk, "insert": "1"}
    )
    page = response.content.decode()
    assert "Borealis only" not in page
    assert response.context["reply_form"].errors["canned"]


def test_note_is_added_as_an_internal_note(agent_client, agent, held):
    response = agent_client.post(url("work_note", held.pk), {"body": "Called the courier"})
    assert response.status_code == 302
    note = Message.objects.get(task=held, kind=MessageKind.NOTE)
    assert (note.body, note.author) == ("Called the courier", agent)


def test_empty_note_shows_an_error(agent_client, held):
    response = agent_client.post(url("work_note", held.pk), {"body": ""}, **HTMX)
    assert "Write the note first" in response.content.decode()
    assert not Message.objects.filter(task=held, kind=MessageKind.NOTE).exists()


# --- Resolve, escalate, release ------------------------------------------------------------


def test_resolve_form_offers_only_the_brands_active_codes(agent_client, held, brand, other_brand):
    brand.resolution_codes.filter(code="duplicate").update(is_active=False)
    ResolutionCode.objects.create(brand=other_brand, code="borealis_only", label="Borealis")
    form = agent_client.get(url("work_detail", held.pk)).context["resolve_form"]
    codes = [value for value, _ in form.fields["resolution_code"].choices if value]
    assert "answered" in codes
    assert "duplicate" not in codes and "borealis_only" not in codes


def test_resolve_with_a_code_closes_the_task_and_returns_to_my_work(agent_client, held):
    response = agent_client.post(
        url("work_resolve", held.pk), {"resolution_code": "refund_issued", "note": "Refunded"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("work_list")
    task = _reload(held)
    assert (task.status, task.resolution_code) == (TaskStatus.RESOLVED, "refund_issued")
    assert Message.objects.filter(task=held, kind=MessageKind.NOTE, body="Refunded").exists()


def test_resolve_with_another_brands_code_is_refused(agent_client, held, other_brand):
    ResolutionCode.objects.create(brand=other_brand, code="borealis_only", label="Borealis")
    response = agent_client.post(url("work_resolve", held.pk), {"resolution_code": "borealis_only"})
    assert response.status_code == 200
    assert response.context["resolve_form"].errors["resolution_code"]
    assert _reload(held).status == TaskStatus.CLAIMED


def test_escalate_without_a_reason_is_refused(agent_client, held):
    response = agent_client.post(url("work_escalate", held.pk), {"reason": ""})
    assert "An escalation needs a reason" in response.content.decode()
    assert _reload(held).status == TaskStatus.CLAIMED


def test_escalate_with_a_reason_hands_the_task_to_the_brand(agent_client, held):
    response = agent_client.post(url("work_escalate", held.pk), {"reason": "Legal question"})
    assert response["Location"] == url("work_list")
    task = _reload(held)
    assert (task.status, task.escalation_reason) == (TaskStatus.ESCALATED, "Legal question")


def test_release_returns_the_task_to_the_queue(agent_client, held):
    response = agent_client.post(url("work_release", held.pk))
    assert response["Location"] == url("work_list")
    task = _reload(held)
    assert (task.status, task.holder) == (TaskStatus.QUEUED, None)
    assert WorkRecord.objects.get(task=held).outcome == SessionOutcome.RELEASED


def test_release_needs_a_post(agent_client, held):
    assert agent_client.get(url("work_release", held.pk)).status_code == 405
    assert _reload(held).status == TaskStatus.CLAIMED


def test_the_workspace_page_includes_the_live_scripts(agent_client, held):
    page = agent_client.get(url("work_detail", held.pk)).content.decode()
    assert "js/workspace.js" in page
    assert f'data-task-id="{held.pk}"' in page
