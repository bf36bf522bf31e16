"""The customer's page behind the signed link: no login, no notes, reply, rate."""

from unittest import mock

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from gigs import live
from gigs.dispatch import task_claim
from gigs.models import Message, MessageKind, Task, TaskStatus
from gigs.work import CUSTOMER_LINK_MAX_AGE, CUSTOMER_LINK_SALT, agent_reply, customer_link_token
from tests.gigs.factories import MessageFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent
from tests.gigs.test_work_services import hub_fixture  # noqa: F401  (the "hub" fixture)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def page_url(task, name="customer_conversation") -> str:
    return reverse(f"frontend:{name}", args=[customer_link_token(task)])


@pytest.fixture
def task(gig):
    task = TaskFactory(gig=gig, subject="Broken tent pole")
    MessageFactory(task=task, body="The pole snapped.", author_name="Dana")
    return task


@pytest.fixture
def resolved(gig):
    return TaskFactory(gig=gig, status=TaskStatus.RESOLVED, subject="Refund please")


# --- The page ------------------------------------------------------------------------------


def test_the_page_needs_no_login_and_shows_the_brand_and_conversation(client, task, brand):
    response = client.get(page_url(task))
    page = response.content.decode()
    assert response.status_code == 200
    assert brand.name in page and "Broken tent pole" in page and "The pole snapped." in page
    assert 'name="body"' in page


def test_the_page_has_no_site_navigation(client, task):
    page = client.get(page_url(task)).content.decode()
    assert reverse("account_login") not in page
    assert 'href="/"' not in page and "site-header" not in page


def test_internal_notes_never_appear(client, task):
    MessageFactory(task=task, kind=MessageKind.NOTE, body="Customer is a known complainer")
    MessageFactory(task=task, kind=MessageKind.AGENT, body="A new pole is on its way.")
    response = client.get(page_url(task))
    page = response.content.decode()
    assert "known complainer" not in page
    assert "A new pole is on its way." in page
    assert all(m.kind != MessageKind.NOTE for m in response.context["conversation"])


def test_agent_replies_show_the_brand_not_the_agents_name(client, task, brand):
    agent = make_agent(brand)
    task_claim(agent=agent, task_id=task.pk)
    agent_reply(agent=agent, task_id=task.pk, body="Sorry about that!")
    page = client.get(page_url(task)).content.decode()
    assert f"{brand.name} support" in page
    assert agent.get_full_name() not in page


def test_messages_are_escaped_and_keep_their_line_breaks(client, task):
    MessageFactory(task=task, body="<img src=x onerror=alert(1)>\nLine two")
    page = client.get(page_url(task)).content.decode()
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;<br>Line two" in page


def test_the_page_is_not_cached_indexed_or_leaked_as_referer(client, task):
    response = client.get(page_url(task))
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response["X-Robots-Tag"]


def test_the_page_opens_its_live_connection_script(client, task):
    url = page_url(task)
    page = client.get(url).content.decode()
    assert "js/customer.js" in page
    # The socket uses the link's own token (tokens carry the second they were made).
    token = url.rstrip("/").rsplit("/", 1)[-1]
    assert f'<meta name="gigdesk-live-path" content="/ws/customer/{token}/">' in page


def test_messages_partial_for_htmx(client, task):
    response = client.get(page_url(task), {"part": "messages"}, **HTMX)
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="messages"')
    assert "The pole snapped." in page


# --- Bad links -----------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["nonsense", "W1sxLDJd:1tAbCd:forged"])
def test_a_bad_link_is_404(client, task, token):
    response = client.get(reverse("frontend:customer_conversation", args=[token]))
    assert response.status_code == 404
    assert "The pole snapped." not in response.content.decode()


def test_a_tampered_link_is_404(client, task, gig):
    other = TaskFactory(gig=gig)
    token = customer_link_token(task)
    payload, rest = token.split(":", 1)
    forged = signing.dumps([other.pk, other.brand_id], salt=CUSTOMER_LINK_SALT).split(":", 1)[0]
    response = client.get(reverse("frontend:customer_conversation", args=[f"{forged}:{rest}"]))
    assert response.status_code == 404


def test_an_expired_link_is_404(client, task):
    made_at = timezone.now().timestamp() - CUSTOMER_LINK_MAX_AGE - 60
    with mock.patch("django.core.signing.time.time", return_value=made_at):
        token = customer_link_token(task)
    response = client.get(reverse("frontend:customer_conversation", args=[token]))
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_a_bad_link_cannot_post_a_reply(client, task):
    response = client.post(reverse("frontend:customer_reply", args=["nonsense"]), {"body": "Hi"})
    assert response.status_code == 404
    assert Message.objects.filter(task=task).count() == 1


def test_a_cancelled_tasks_link_is_404(client, task):
    url = page_url(task)
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.CANCELLED)
    assert client.get(url).status_code == 404


# --- Replying ------------------------------------------------------------------------------


def test_reply_adds_a_customer_message(client, task):
    token = customer_link_token(task)
    reply_url = reverse("frontend:customer_reply", args=[token])
    response = client.post(reply_url, {"body": "Any update?"})
    assert response.status_code == 302
    # Back to the page of the same link (a fresh token could carry another second).
    assert response["Location"] == (
        reverse("frontend:customer_conversation", args=[token]) + "#messages"
    )
    latest = Message.objects.filter(task=task).last()
    assert (latest.kind, latest.body) == (MessageKind.CUSTOMER, "Any update?")


def test_htmx_reply_refreshes_the_conversation(client, task):
    response = client.post(page_url(task, "customer_reply"), {"body": "Any update?"}, **HTMX)
    assert response["HX-Trigger"] == "messages-changed"
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="customer-state"')
    assert "Any update?" not in page  # a fresh, empty form


def test_reply_reaches_the_agent_live(client, task, hub, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(page_url(task, "customer_reply"), {"body": "Still waiting"})
    [(topics, event)] = [item for item in hub() if item[1]["type"] == "message"]
    assert live.task_topic(task.pk) in topics
    assert event["message"]["body"] == "Still waiting"


@pytest.mark.parametrize("body", ["", "   ", "x" * 20001])
def test_a_bad_reply_shows_an_error_and_adds_nothing(client, task, body):
    response = client.post(page_url(task, "customer_reply"), {"body": body})
    assert response.status_code == 200
    assert response.context["reply_form"].errors["body"]
    assert Message.objects.filter(task=task).count() == 1


def test_reply_on_a_resolved_task_is_refused_and_offers_the_rating(client, resolved):
    response = client.post(page_url(resolved, "customer_reply"), {"body": "One more thing"})
    page = response.content.decode()
    assert "This conversation is closed" in page
    assert 'name="score"' in page
    assert not Message.objects.filter(task=resolved).exists()


# --- Rating --------------------------------------------------------------------------------


def test_an_open_task_asks_for_no_rating(client, task):
    page = client.get(page_url(task)).content.decode()
    assert 'name="score"' not in page


def test_a_resolved_task_asks_for_a_rating_instead_of_a_reply(client, resolved):
    page = client.get(page_url(resolved)).content.decode()
    assert 'name="score"' in page and 'name="comment"' in page
    assert 'name="body"' not in page


def test_rating_records_score_and_comment_and_thanks(client, resolved):
    response = client.post(page_url(resolved, "customer_rate"), {"score": "4", "comment": "Fast"})
    assert response.status_code == 302
    task = Task.objects.get(pk=resolved.pk)
    assert (task.csat_score, task.csat_comment) == (4, "Fast")
    page = client.get(page_url(resolved)).content.decode()
    assert "Thank you for your feedback" in page
    assert 'name="score"' not in page


def test_htmx_rating_returns_the_thank_you(client, resolved):
    response = client.post(page_url(resolved, "customer_rate"), {"score": "5"}, **HTMX)
    assert "Thank you for your feedback" in response.content.decode()


@pytest.mark.parametrize("score", ["", "0", "6", "abc", "4.5"])
def test_a_bad_rating_shows_an_error(client, resolved, score):
    response = client.post(page_url(resolved, "customer_rate"), {"score": score})
    assert response.status_code == 200
    assert "Choose a rating from 1 to 5" in response.content.decode()
    assert Task.objects.get(pk=resolved.pk).csat_score is None


def test_a_second_different_rating_is_refused(client, resolved):
    client.post(page_url(resolved, "customer_rate"), {"score": "5"})
    response = client.post(page_url(resolved, "customer_rate"), {"score": "1"})
    assert "already been rated" in response.content.decode()
    assert Task.objects.get(pk=resolved.pk).csat_score == 5


def test_rating_an_open_task_is_refused(client, task):
    response = client.post(page_url(task, "customer_rate"), {"score": "5"})
    assert "once it is resolved" in response.content.decode()
    assert Task.objects.get(pk=task.pk).csat_score is None


def test_an_escalated_task_says_so_and_takes_no_reply(client, gig):
    task = TaskFactory(gig=gig, status=TaskStatus.ESCALATED)
    page = client.get(page_url(task)).content.decode()
    assert "in-house team" in page
    assert 'name="body"' not in page and 'name="score"' not in page
