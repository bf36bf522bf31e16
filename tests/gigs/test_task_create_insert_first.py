"""task_create inserts first and reads only on conflict; the API answers without a ModelSerializer."""

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from gigs.models import Message, Task
from gigs.serializers import TaskSerializer, task_representation
from gigs.services import TaskInput, task_create
from tests.gigs.factories import TaskFactory

TASKS_URL = "/api/v1/tasks"


def _task_selects(captured) -> list[str]:
    return [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].lstrip().upper().startswith("SELECT") and '"gigs_task"' in query["sql"]
    ]


def test_fresh_task_is_inserted_without_looking_for_its_external_id(brand, gig):
    data = TaskInput(gig=gig, subject="Hi", body="Hello", external_id="ZD-1")

    with CaptureQueriesContext(connection) as captured:
        task, created = task_create(brand=brand, data=data)

    assert created
    assert _task_selects(captured) == []
    assert Task.objects.get(external_id="ZD-1").pk == task.pk


def test_fresh_task_and_its_first_message_are_saved_instances(brand, gig):
    task, _ = task_create(
        brand=brand, data=TaskInput(gig=gig, subject="Hi", body="Where is it?", external_id="a")
    )

    stored = Task.objects.get(pk=task.pk)
    assert (task._state.adding, task.created_at) == (False, stored.created_at)
    assert Message.objects.get().task_id == task.pk


def test_task_without_external_id_is_always_created(brand, gig):
    first, created_first = task_create(brand=brand, data=TaskInput(gig=gig, subject="A"))
    second, created_second = task_create(brand=brand, data=TaskInput(gig=gig, subject="A"))

    assert (created_first, created_second) == (True, True)
    assert first.pk != second.pk


def test_blank_external_id_is_stored_as_none_and_never_conflicts(brand, gig):
    task_create(brand=brand, data=TaskInput(gig=gig, subject="A", external_id="  "))
    task, created = task_create(brand=brand, data=TaskInput(gig=gig, subject="B", external_id=""))

    assert created
    assert task.external_id is None
    assert Task.objects.filter(external_id__isnull=True).count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_external_id_yields_one_task_and_one_message(brand, gig):
    """The second request waits for the first to commit, then gets its task."""
    first_inserted = threading.Event()
    results: dict[str, tuple[int, bool]] = {}
    errors: list[BaseException] = []

    def data(subject: str) -> TaskInput:
        return TaskInput(gig=gig, subject=subject, body="Hello", external_id="race-1")

    def winner() -> None:
        try:
            with transaction.atomic():
                task, created = task_create(brand=brand, data=data("first"))
                first_inserted.set()
                # Hold the uncommitted row while the other request tries.
                time.sleep(0.3)
            results["winner"] = (task.pk, created)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            first_inserted.set()
        finally:
            connections.close_all()

    def loser() -> None:
        try:
            first_inserted.wait(5)
            task, created = task_create(brand=brand, data=data("second"))
            results["loser"] = (task.pk, created)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=winner), threading.Thread(target=loser)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert results["winner"][1] is True
    assert results["loser"] == (results["winner"][0], False)
    assert Task.objects.filter(external_id="race-1").count() == 1
    assert Message.objects.count() == 1
    assert Task.objects.get().subject == "first"


def test_task_representation_matches_the_task_serializer(gig):
    task = TaskFactory(gig=gig, external_id="ZD-5", priority=30, status="claimed")
    Task.objects.filter(pk=task.pk).update(claimed_at=task.created_at)
    task.refresh_from_db()

    assert task_representation(task) == TaskSerializer(task).data


def test_created_task_response_matches_the_task_serializer(api_client, gig):
    response = api_client.post(
        TASKS_URL, {"gig": gig.pk, "subject": "Hi", "body": "Hello", "external_id": "x-1"}
    )

    assert response.status_code == 201
    task = Task.objects.get(pk=response.json()["id"])
    assert response.json() == TaskSerializer(task).data


def test_api_create_reads_no_task_before_inserting(api_client, gig):
    api_client.get(TASKS_URL)  # the key is now authenticated and remembered
    with CaptureQueriesContext(connection) as captured:
        response = api_client.post(
            TASKS_URL, {"gig": gig.pk, "subject": "Hi", "body": "Hello", "external_id": "x-2"}
        )

    assert response.status_code == 201
    assert _task_selects(captured) == []
