"""Brand console task pages: list and filters, create, conversation, roles and tenant isolation."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gigs.models import GigStatus, Message, MessageKind, Task, TaskPriority, TaskStatus
from tests.gigs.factories import GigFactory, MessageFactory, TaskFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def _url(name, brand, *args):
    return reverse(f"frontend:{name}", args=[brand.slug, *args])


def _listed(response) -> list[int]:
    return [task.pk for task in response.context["page"].items]


@pytest.fixture
def viewer_client(brand_viewer):
    client = Client()
    client.force_login(brand_viewer)
    return client


# --- List -------------------------------------------------------------------------


def test_task_list_is_newest_first(admin_client, brand, gig):
    older, newer = TaskFactory(gig=gig), TaskFactory(gig=gig)
    response = admin_client.get(_url("task_list", brand))
    assert response.status_code == 200
    assert _listed(response) == [newer.pk, older.pk]


def test_task_list_filters_by_status(admin_client, brand, gig):
    TaskFactory(gig=gig)
    resolved = TaskFactory(gig=gig, status=TaskStatus.RESOLVED)
    response = admin_client.get(_url("task_list", brand), {"status": "resolved"})
    assert _listed(response) == [resolved.pk]


def test_task_list_filters_by_gig(admin_client, brand, gig):
    other_gig_of_brand = GigFactory(brand=brand)
    TaskFactory(gig=gig)
    wanted = TaskFactory(gig=other_gig_of_brand)
    response = admin_client.get(_url("task_list", brand), {"gig": other_gig_of_brand.pk})
    assert _listed(response) == [wanted.pk]


def test_task_list_searches_subject(admin_client, brand, gig):
    TaskFactory(gig=gig, subject="Where is my order?")
    refund = TaskFactory(gig=gig, subject="Refund for a broken kettle")
    response = admin_client.get(_url("task_list", brand), {"q": "kettle"})
    assert _listed(response) == [refund.pk]


def test_task_list_never_lists_other_brands_tasks(admin_client, brand, gig, other_gig):
    mine = TaskFactory(gig=gig, subject="Mine")
    TaskFactory(gig=other_gig, subject="Borealis secret")
    response = admin_client.get(_url("task_list", brand))
    assert _listed(response) == [mine.pk]
    assert "Borealis secret" not in response.content.decode()


def test_filtering_by_other_brands_gig_lists_nothing(admin_client, brand, gig, other_gig):
    TaskFactory(gig=gig)
    TaskFactory(gig=other_gig)
    response = admin_client.get(_url("task_list", brand), {"gig": other_gig.pk})
    assert _listed(response) == []
    assert response.context["filter"].errors["gig"]


def test_task_list_pages_by_id_without_counting(admin_client, brand, gig):
    tasks = TaskFactory.create_batch(51, gig=gig)
    first = admin_client.get(_url("task_list", brand))
    assert len(_listed(first)) == 50
    assert first.context["page"].newer is None
    older = first.context["page"].older
    second = admin_client.get(_url("task_list", brand), {"before": older})
    assert _listed(second) == [tasks[0].pk]
    assert second.context["page"].older is None
    back = admin_client.get(_url("task_list", brand), {"after": second.context["page"].newer})
    assert _listed(back) == _listed(first)


def test_task_list_pages_keep_filters(admin_client, brand, gig):
    TaskFactory.create_batch(51, gig=gig, status=TaskStatus.RESOLVED)
    response = admin_client.get(_url("task_list", brand), {"status": "resolved"})
    assert "status=resolved&amp;before=" in response.content.decode()


def test_htmx_filter_returns_the_table_partial(admin_client, brand, gig):
    TaskFactory(gig=gig)
    response = admin_client.get(_url("task_list", brand), {"status": "queued"}, **HTMX)
    assert [t.name for t in response.templates][0] == "tasks/task_list_table.html"
    assert "<html" not in response.content.decode()


def test_empty_task_list_says_so(admin_client, brand, gig):
    response = admin_client.get(_url("task_list", brand))
    assert "No tasks yet" in response.content.decode()


def test_viewer_can_read_task_list(viewer_client, brand, gig):
    task = TaskFactory(gig=gig)
    response = viewer_client.get(_url("task_list", brand))
    assert _listed(response) == [task.pk]


# --- Create -------------------------------------------------------------------------


def _task_post(gig, **overrides):
    data = {
        "gig": gig.pk,
        "subject": "Parcel never arrived",
        "body": "Ordered two weeks ago, still nothing.",
        "customer_name": "Ana García",
        "customer_reference": "cust-77",
        "language": "",
        "priority": str(TaskPriority.HIGH),
        "external_id": "",
    }
    data.update(overrides)
    return data


def test_admin_creates_task_with_first_customer_message(admin_client, brand, gig):
    response = admin_client.post(_url("task_create", brand), _task_post(gig))
    task = Task.objects.get(brand=brand)
    assert response.status_code == 302
    assert response.url == _url("task_detail", brand, task.pk)
    assert (task.language, task.priority) == (gig.language, TaskPriority.HIGH)
    message = task.messages.get()
    assert (message.kind, message.author_name) == (MessageKind.CUSTOMER, "Ana García")


def test_task_create_preselects_gig_from_query(admin_client, brand, gig):
    response = admin_client.get(_url("task_create", brand), {"gig": gig.pk})
    assert response.context["form"]["gig"].value() == gig.pk


def test_task_create_offers_only_this_brands_open_gigs(admin_client, brand, gig, other_gig):
    closed = GigFactory(brand=brand, status=GigStatus.CLOSED)
    response = admin_client.get(_url("task_create", brand))
    offered = list(response.context["form"].fields["gig"].queryset)
    assert offered == [gig]
    assert closed not in offered


def test_task_create_refuses_other_brands_gig(admin_client, brand, gig, other_gig):
    response = admin_client.post(_url("task_create", brand), _task_post(other_gig))
    assert response.status_code == 200
    assert "gig" in response.context["form"].errors
    assert not Task.objects.exists()


def test_task_create_shows_missing_subject(admin_client, brand, gig):
    response = admin_client.post(_url("task_create", brand), _task_post(gig, subject=""))
    assert "subject" in response.context["form"].errors
    assert not Task.objects.exists()


def test_replayed_external_id_opens_existing_task(admin_client, brand, gig):
    existing = TaskFactory(gig=gig, external_id="zd-1001")
    response = admin_client.post(
        _url("task_create", brand), _task_post(gig, external_id="zd-1001"), follow=True
    )
    assert response.redirect_chain[-1][0] == _url("task_detail", brand, existing.pk)
    assert "already exists" in response.content.decode()
    assert Task.objects.filter(brand=brand).count() == 1


def test_viewer_cannot_create_task(viewer_client, brand, gig):
    response = viewer_client.post(_url("task_create", brand), _task_post(gig))
    assert response.status_code == 403
    assert not Task.objects.exists()


def test_task_create_without_open_gigs_points_to_posting_one(admin_client, brand):
    response = admin_client.get(_url("task_create", brand))
    assert _url("gig_create", brand) in response.content.decode()


# --- Detail and conversation ---------------------------------------------------------


def test_task_detail_shows_conversation_by_kind(admin_client, brand, gig):
    task = TaskFactory(gig=gig, external_id="zd-5")
    MessageFactory(task=task, kind=MessageKind.CUSTOMER, body="Hello?")
    MessageFactory(task=task, kind=MessageKind.NOTE, body="VIP customer")
    body = admin_client.get(_url("task_detail", brand, task.pk)).content.decode()
    assert 'class="message message-customer"' in body
    assert 'class="message message-note"' in body
    assert "zd-5" in body


def test_other_brands_task_detail_is_404(admin_client, brand, other_gig):
    task = TaskFactory(gig=other_gig)
    assert admin_client.get(_url("task_detail", brand, task.pk)).status_code == 404


def test_admin_adds_internal_note(admin_client, brand, gig, brand_admin):
    task = TaskFactory(gig=gig)
    response = admin_client.post(
        _url("task_detail", brand, task.pk), {"kind": "note", "body": "Call them back"}
    )
    assert response.status_code == 302
    note = task.messages.get()
    assert (note.kind, note.author, note.body) == (MessageKind.NOTE, brand_admin, "Call them back")


def test_htmx_message_returns_conversation_partial(admin_client, brand, gig):
    task = TaskFactory(gig=gig)
    MessageFactory(task=task, author_name="Ana", body="First")
    response = admin_client.post(
        _url("task_detail", brand, task.pk), {"kind": "customer", "body": "Any news?"}, **HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "tasks/task_detail_conversation.html"
    assert "Any news?" in body
    added = task.messages.last()
    assert (added.kind, added.author, added.author_name) == (MessageKind.CUSTOMER, None, "Ana")


def test_empty_message_is_refused(admin_client, brand, gig):
    task = TaskFactory(gig=gig)
    response = admin_client.post(
        _url("task_detail", brand, task.pk), {"kind": "note", "body": "  "}, **HTMX
    )
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Message.objects.exists()


def test_message_on_cancelled_task_shows_service_error(admin_client, brand, gig):
    task = TaskFactory(gig=gig, status=TaskStatus.CANCELLED)
    response = admin_client.post(
        _url("task_detail", brand, task.pk), {"kind": "note", "body": "Hello"}
    )
    assert "was cancelled" in response.content.decode()
    assert not Message.objects.exists()


def test_agent_kind_cannot_be_posted_by_brand(admin_client, brand, gig):
    task = TaskFactory(gig=gig)
    response = admin_client.post(
        _url("task_detail", brand, task.pk), {"kind": "agent", "body": "Pretending"}
    )
    assert "kind" in response.context["form"].errors
    assert not Message.objects.exists()


def test_viewer_reads_task_but_cannot_add_messages(viewer_client, brand, gig):
    task = TaskFactory(gig=gig)
    page = viewer_client.get(_url("task_detail", brand, task.pk))
    assert page.status_code == 200
    assert page.context["form"] is None
    response = viewer_client.post(
        _url("task_detail", brand, task.pk), {"kind": "note", "body": "Sneaky"}
    )
    assert response.status_code == 403
    assert not Message.objects.exists()


def test_admin_cannot_message_other_brands_task(admin_client, brand, other_gig):
    task = TaskFactory(gig=other_gig)
    response = admin_client.post(
        _url("task_detail", brand, task.pk), {"kind": "note", "body": "Hi"}
    )
    assert response.status_code == 404
    assert not Message.objects.exists()


def test_task_list_runs_no_count_query(admin_client, brand, gig):
    TaskFactory.create_batch(3, gig=gig)
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(_url("task_list", brand), {"status": "queued"})
    task_queries = [q["sql"] for q in queries if '"gigs_task"' in q["sql"]]
    assert task_queries
    assert not any("COUNT(" in sql.upper() for sql in task_queries)
