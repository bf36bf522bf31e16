"""The brand REST API for tasks and their messages."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gigs.models import GigStatus, Message, MessageKind, Task, TaskPriority, TaskStatus
from tests.gigs.factories import GigFactory, MessageFactory, TaskFactory

TASKS_URL = "/api/v1/tasks"


def task_url(task) -> str:
    return f"{TASKS_URL}/{task.pk}"


def messages_url(task) -> str:
    return f"{TASKS_URL}/{task.pk}/messages"


# --- List -------------------------------------------------------------------------


def test_list_shows_the_brands_tasks_newest_first(api_client, gig):
    older, newer = TaskFactory(gig=gig), TaskFactory(gig=gig)

    response = api_client.get(TASKS_URL)

    assert response.status_code == 200
    assert [task["id"] for task in response.json()["results"]] == [newer.pk, older.pk]


def test_list_item_has_the_documented_fields_and_no_messages(api_client, gig):
    task = TaskFactory(gig=gig, priority=TaskPriority.HIGH, external_id="ZD-1")
    MessageFactory(task=task)

    item = api_client.get(TASKS_URL).json()["results"][0]

    assert set(item) == {
        "id",
        "gig",
        "subject",
        "status",
        "language",
        "priority",
        "customer_reference",
        "external_id",
        "created_at",
        "updated_at",
        "claimed_at",
        "resolved_at",
    }
    assert item["gig"] == gig.pk
    assert item["priority"] == "high"
    assert item["external_id"] == "ZD-1"


def test_list_query_count_does_not_grow_with_tasks_and_never_counts(api_client, gig):
    api_client.get(TASKS_URL)  # the first request also records the key's last use
    for _ in range(3):
        MessageFactory(task=TaskFactory(gig=gig))
    with CaptureQueriesContext(connection) as few:
        api_client.get(TASKS_URL)
    for _ in range(20):
        MessageFactory(task=TaskFactory(gig=gig, gig__brand=gig.brand))
    with CaptureQueriesContext(connection) as many:
        response = api_client.get(TASKS_URL)

    assert len(response.json()["results"]) == 23
    assert len(many) == len(few)
    assert not [q["sql"] for q in many.captured_queries if "COUNT(" in q["sql"].upper()]


def test_list_filters_by_status_and_gig(api_client, brand, gig):
    second_gig = GigFactory(brand=brand)
    TaskFactory(gig=gig, status=TaskStatus.RESOLVED)
    TaskFactory(gig=second_gig, status=TaskStatus.QUEUED)
    wanted = TaskFactory(gig=gig, status=TaskStatus.QUEUED)

    response = api_client.get(TASKS_URL, {"status": "queued", "gig": gig.pk})

    assert [task["id"] for task in response.json()["results"]] == [wanted.pk]


def test_list_filters_by_priority_name_or_number(api_client, gig):
    TaskFactory(gig=gig, priority=TaskPriority.LOW)
    urgent = TaskFactory(gig=gig, priority=TaskPriority.URGENT)

    by_name = api_client.get(TASKS_URL, {"priority": "urgent"}).json()["results"]
    by_number = api_client.get(TASKS_URL, {"priority": "40"}).json()["results"]

    assert [task["id"] for task in by_name] == [urgent.pk]
    assert [task["id"] for task in by_number] == [urgent.pk]


def test_list_filters_by_external_id_and_subject_search(api_client, gig):
    TaskFactory(gig=gig, subject="Broken zipper", external_id="ZD-1")
    wanted = TaskFactory(gig=gig, subject="Broken tent pole", external_id="ZD-2")

    by_external_id = api_client.get(TASKS_URL, {"external_id": "ZD-2"}).json()["results"]
    by_search = api_client.get(TASKS_URL, {"q": "tent"}).json()["results"]

    assert [task["id"] for task in by_external_id] == [wanted.pk]
    assert [task["id"] for task in by_search] == [wanted.pk]


def test_list_refuses_a_malformed_date_filter(api_client, gig):
    response = api_client.get(TASKS_URL, {"created_after": "last tuesday"})

    assert response.status_code == 400
    assert "created_after" in response.json()["fields"]


def test_list_pagination_follows_next_without_repeats(api_client, gig):
    tasks = [TaskFactory(gig=gig) for _ in range(7)]

    seen, pages, url = [], 0, f"{TASKS_URL}?page_size=3"
    while url:
        body = api_client.get(url).json()
        seen += [task["id"] for task in body["results"]]
        pages += 1
        url = body["next"]

    assert pages == 3
    assert seen == sorted((task.pk for task in tasks), reverse=True)


# --- Create -----------------------------------------------------------------------


def test_create_returns_201_and_stores_the_first_message(api_client, brand, gig):
    response = api_client.post(
        TASKS_URL,
        {
            "gig": gig.pk,
            "subject": "Tent pole snapped",
            "body": "The pole broke on day one.",
            "customer_name": "Dana",
            "customer_reference": "cust-77",
            "language": "en",
            "priority": "high",
            "external_id": "ZD-100",
        },
    )

    assert response.status_code == 201
    body = response.json()
    task = Task.objects.get(pk=body["id"])
    assert task.brand == brand
    assert task.priority == TaskPriority.HIGH
    assert body["priority"] == "high"
    assert body["status"] == TaskStatus.QUEUED
    message = task.messages.get()
    assert (message.kind, message.author_name, message.body) == (
        MessageKind.CUSTOMER,
        "Dana",
        "The pole broke on day one.",
    )


def test_create_without_body_stores_no_message_and_takes_the_gig_language(api_client, gig):
    response = api_client.post(TASKS_URL, {"gig": gig.pk, "subject": "Call me back"})

    task = Task.objects.get(pk=response.json()["id"])
    assert response.status_code == 201
    assert task.language == gig.language
    assert not task.messages.exists()


def test_create_accepts_priority_as_a_number(api_client, gig):
    response = api_client.post(TASKS_URL, {"gig": gig.pk, "subject": "Hi", "priority": 10})

    assert response.status_code == 201
    assert response.json()["priority"] == "low"


def test_create_with_a_used_external_id_returns_200_and_the_same_task(api_client, gig):
    payload = {"gig": gig.pk, "subject": "Where is my order?", "external_id": "ZD-9"}
    first = api_client.post(TASKS_URL, payload)

    second = api_client.post(TASKS_URL, {**payload, "subject": "Sent again"})

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["subject"] == "Where is my order?"
    assert Task.objects.count() == 1


def test_create_with_a_numeric_external_id_stores_it_as_text(api_client, gig):
    response = api_client.post(TASKS_URL, {"gig": gig.pk, "subject": "Hi", "external_id": 4711})

    assert response.status_code == 201
    assert Task.objects.get().external_id == "4711"


def _closed_gig_payload(gig):
    closed = GigFactory(brand=gig.brand, status=GigStatus.CLOSED)
    return {"gig": closed.pk, "subject": "Hi"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"subject": "Hi", "channel": "email"}, "channel"),
        ({"subject": ["Hi"]}, "subject"),
        ({"subject": "Hi", "gig": "first"}, "gig"),
        ({"subject": "Hi", "gig": True}, "gig"),
        ({"subject": "Hi", "priority": True}, "priority"),
        ({"subject": "Hi", "priority": "whenever"}, "priority"),
        ({"subject": "Hi", "priority": 25}, "priority"),
        ({"subject": "Hi", "external_id": {"id": 1}}, "external_id"),
        ({"subject": "Hi", "body": ["Hello", "again"]}, "body"),
        ({"subject": "x" * 201}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"subject": "Hi", "language": "xx"}, "language"),
        ({"subject": "Hi", "gig": 10**30}, "gig"),
        ({}, "subject"),
    ],
)
def test_create_refuses_bad_input_and_creates_nothing(api_client, gig, payload, field):
    response = api_client.post(TASKS_URL, {"gig": gig.pk, **payload})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"]
    assert not Task.objects.exists()


def test_create_in_a_closed_gig_is_refused_on_the_gig_field(api_client, gig):
    response = api_client.post(TASKS_URL, _closed_gig_payload(gig))

    assert response.status_code == 400
    assert "closed" in response.json()["fields"]["gig"][0]
    assert not Task.objects.exists()


def test_create_names_every_unknown_field(api_client, gig):
    response = api_client.post(
        TASKS_URL, {"gig": gig.pk, "subject": "Hi", "status": "resolved", "agent": 3}
    )

    fields = response.json()["fields"]
    assert fields == {"status": ["Unknown field."], "agent": ["Unknown field."]}


def test_create_with_malformed_json_is_400(api_client, gig):
    response = api_client.post(
        TASKS_URL, data='{"gig": 1, "subject": ', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert not Task.objects.exists()


def test_create_with_non_standard_json_numbers_is_400(api_client, gig):
    response = api_client.post(
        TASKS_URL,
        data=f'{{"gig": {gig.pk}, "subject": "Hi", "priority": NaN}}',
        content_type="application/json",
    )

    assert response.status_code == 400
    assert not Task.objects.exists()


def test_create_with_a_json_array_body_is_400(api_client, gig):
    response = api_client.post(TASKS_URL, [{"gig": gig.pk, "subject": "Hi"}])

    assert response.status_code == 400
    assert "non_field_errors" in response.json()["fields"]


def test_create_with_a_form_body_is_415_with_the_error_body(api_client, gig):
    response = api_client.post(TASKS_URL, data={"gig": gig.pk, "subject": "Hi"}, format="multipart")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert not Task.objects.exists()


# --- Read -------------------------------------------------------------------------


def test_read_one_task_with_its_messages_oldest_first(api_client, gig):
    task = TaskFactory(gig=gig)
    first = MessageFactory(task=task, body="Hello?", external_id="m-1")
    second = MessageFactory(task=task, kind=MessageKind.AGENT, body="Hi, I'm on it.")

    response = api_client.get(task_url(task))

    assert response.status_code == 200
    messages = response.json()["messages"]
    assert [message["id"] for message in messages] == [first.pk, second.pk]
    assert set(messages[0]) == {"id", "kind", "author_name", "body", "external_id", "created_at"}
    assert messages[0]["external_id"] == "m-1"
    assert messages[1]["kind"] == "agent"


def test_read_a_missing_task_is_404(api_client, gig):
    response = api_client.get(f"{TASKS_URL}/{10**30}")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- Messages ---------------------------------------------------------------------


def test_add_customer_message_returns_201(api_client, gig):
    task = TaskFactory(gig=gig)

    response = api_client.post(
        messages_url(task), {"body": "Any news?", "author_name": "Dana", "external_id": "m-2"}
    )

    assert response.status_code == 201
    message = task.messages.get()
    assert response.json()["id"] == message.pk
    assert (message.kind, message.author_name, message.external_id) == (
        MessageKind.CUSTOMER,
        "Dana",
        "m-2",
    )


def test_add_note(api_client, gig):
    task = TaskFactory(gig=gig)

    response = api_client.post(messages_url(task), {"kind": "note", "body": "VIP customer."})

    assert response.status_code == 201
    assert task.messages.get().kind == MessageKind.NOTE


def test_add_message_with_a_used_external_id_returns_200_and_adds_nothing(api_client, gig):
    task = TaskFactory(gig=gig)
    first = api_client.post(messages_url(task), {"body": "Any news?", "external_id": "m-3"})

    second = api_client.post(messages_url(task), {"body": "Any news??", "external_id": "m-3"})

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert task.messages.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "agent", "body": "I am the agent now."}, "kind"),
        ({"kind": "shout", "body": "Hello"}, "kind"),
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({}, "body"),
        ({"body": "Hello", "author": 1}, "author"),
        ({"body": {"text": "Hello"}}, "body"),
        ({"body": "Hello", "external_id": "x" * 121}, "external_id"),
    ],
)
def test_add_message_refuses_bad_input_and_adds_nothing(api_client, gig, payload, field):
    task = TaskFactory(gig=gig)

    response = api_client.post(messages_url(task), payload)

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Message.objects.exists()


def test_agent_kind_is_refused_with_a_reason(api_client, gig):
    task = TaskFactory(gig=gig)

    response = api_client.post(messages_url(task), {"kind": "agent", "body": "Hi"})

    assert "workspace" in response.json()["fields"]["kind"][0]


def test_add_message_to_a_cancelled_task_is_refused(api_client, gig):
    task = TaskFactory(gig=gig, status=TaskStatus.CANCELLED)

    response = api_client.post(messages_url(task), {"body": "Hello?"})

    assert response.status_code == 400
    assert "task" in response.json()["fields"]
    assert not task.messages.exists()


def test_add_message_to_a_missing_task_is_404(api_client, gig):
    response = api_client.post(f"{TASKS_URL}/999999/messages", {"body": "Hello?"})

    assert response.status_code == 404
    assert not Message.objects.exists()
