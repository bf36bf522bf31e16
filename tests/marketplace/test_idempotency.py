"""Idempotency-Key on API POSTs: replay, mismatch, in-flight duplicates, retention."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from brands.models import ApiKey
from brands.services import api_key_create
from gigs.models import Gig, Message, Task
from marketplace.idempotency import (
    STALE_LOCK,
    idempotency_record_claim,
    idempotency_record_finish,
    request_fingerprint,
)
from marketplace.models import IdempotencyRecord
from tests.gigs.factories import TaskFactory

TASKS_URL = "/api/v1/tasks"


def post(client, url, payload, key):
    return client.post(url, payload, HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def task_payload(gig):
    return {"gig": gig.pk, "subject": "Lost parcel", "body": "It never came."}


# --- Replay -----------------------------------------------------------------------


def test_same_key_and_body_replays_the_first_response(api_client, task_payload):
    first = post(api_client, TASKS_URL, task_payload, "key-1")

    second = post(api_client, TASKS_URL, task_payload, "key-1")

    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Task.objects.count() == 1
    assert Message.objects.count() == 1


def test_without_a_key_the_same_post_creates_twice(api_client, task_payload):
    api_client.post(TASKS_URL, task_payload)
    api_client.post(TASKS_URL, task_payload)

    assert Task.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_reformatted_json_with_the_same_content_is_a_replay(api_client, gig, task_payload):
    post(api_client, TASKS_URL, task_payload, "key-1")
    reordered = json.dumps(dict(reversed(list(task_payload.items()))), indent=2)

    second = api_client.post(
        TASKS_URL, data=reordered, content_type="application/json", HTTP_IDEMPOTENCY_KEY="key-1"
    )

    assert second["Idempotent-Replayed"] == "true"
    assert Task.objects.count() == 1


def test_message_post_is_replayed(api_client, gig):
    task = TaskFactory(gig=gig)
    url = f"{TASKS_URL}/{task.pk}/messages"

    first = post(api_client, url, {"body": "Any news?"}, "msg-1")
    second = post(api_client, url, {"body": "Any news?"}, "msg-1")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["id"] == first.json()["id"]
    assert task.messages.count() == 1


def test_gig_post_is_replayed(api_client, brand):
    payload = {"title": "Chat", "language": "en", "pay_model": "per_minute", "rate_minor": 20}

    first = post(api_client, "/api/v1/gigs", payload, "gig-1")
    second = post(api_client, "/api/v1/gigs", payload, "gig-1")

    assert second.json()["id"] == first.json()["id"]
    assert Gig.objects.count() == 1


def test_a_validation_error_is_stored_and_replayed(api_client, gig):
    payload = {"gig": gig.pk, "subject": ""}
    first = post(api_client, TASKS_URL, payload, "key-1")

    second = post(api_client, TASKS_URL, payload, "key-1")

    assert first.status_code == second.status_code == 400
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"


# --- Mismatch and scope ------------------------------------------------------------


def test_same_key_with_another_body_is_422_and_creates_nothing(api_client, task_payload):
    post(api_client, TASKS_URL, task_payload, "key-1")

    response = post(api_client, TASKS_URL, {**task_payload, "subject": "Other"}, "key-1")

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "idempotency_key_reused"
    assert "different request" in body["message"]
    assert Task.objects.count() == 1


def test_same_key_on_another_path_is_422(api_client, gig, task_payload):
    task = TaskFactory(gig=gig)
    post(api_client, f"{TASKS_URL}/{task.pk}/messages", {"body": "Hi"}, "key-1")

    response = post(api_client, TASKS_URL, task_payload, "key-1")

    assert response.status_code == 422
    assert Task.objects.count() == 1  # only the factory's task


def test_keys_are_scoped_per_api_key(api_client, brand, brand_admin, task_payload):
    second_secret = api_key_create(brand=brand, name="Other system", created_by=brand_admin).secret
    other_client = APIClient()
    other_client.credentials(HTTP_AUTHORIZATION=f"Bearer {second_secret}")
    first = post(api_client, TASKS_URL, task_payload, "shared-key")

    second = post(other_client, TASKS_URL, {**task_payload, "subject": "Mine"}, "shared-key")

    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    assert not second.has_header("Idempotent-Replayed")


def test_other_brands_key_does_not_see_the_stored_response(
    api_client, other_api_secret, other_gig, task_payload
):
    post(api_client, TASKS_URL, task_payload, "shared-key")
    other_client = APIClient()
    other_client.credentials(HTTP_AUTHORIZATION=f"Bearer {other_api_secret}")

    response = post(other_client, TASKS_URL, {**task_payload, "gig": other_gig.pk}, "shared-key")

    assert response.status_code == 201
    assert Task.objects.get(pk=response.json()["id"]).gig == other_gig


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
def test_a_blank_or_overlong_key_is_400(api_client, task_payload, key):
    response = post(api_client, TASKS_URL, task_payload, key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["fields"]
    assert not Task.objects.exists()


# --- In flight and retryable results -----------------------------------------------


def _in_flight_record(brand, task_payload, *, key="key-1", locked_at=None):
    body = json.dumps(task_payload).encode()
    return IdempotencyRecord.objects.create(
        api_key=ApiKey.objects.get(brand=brand),
        key=key,
        method="POST",
        path=TASKS_URL,
        request_hash=request_fingerprint(method="POST", path=TASKS_URL, body=body),
        locked_at=locked_at or timezone.now(),
    )


def test_a_duplicate_while_the_first_is_running_is_409_with_retry_after(
    api_client, brand, task_payload
):
    _in_flight_record(brand, task_payload)

    response = post(api_client, TASKS_URL, task_payload, "key-1")

    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert response.json()["code"] == "idempotency_request_in_flight"
    assert not Task.objects.exists()


def test_a_409_leaves_the_running_record_alone(api_client, brand, task_payload):
    record = _in_flight_record(brand, task_payload)

    post(api_client, TASKS_URL, task_payload, "key-1")

    record.refresh_from_db()
    assert record.in_flight
    assert record.response_body == ""


def test_a_record_locked_by_a_dead_request_is_taken_over(api_client, brand, task_payload):
    _in_flight_record(
        brand, task_payload, locked_at=timezone.now() - STALE_LOCK - timedelta(seconds=1)
    )

    response = post(api_client, TASKS_URL, task_payload, "key-1")

    assert response.status_code == 201
    assert Task.objects.count() == 1
    assert IdempotencyRecord.objects.get().response_status == 201


def test_the_finished_record_keeps_status_and_body(api_client, task_payload):
    response = post(api_client, TASKS_URL, task_payload, "key-1")

    record = IdempotencyRecord.objects.get()
    assert not record.in_flight
    assert record.locked_at is None
    assert record.response_status == 201
    assert json.loads(record.response_body) == response.json()


@pytest.mark.parametrize("status_code", [409, 429, 500, 503])
def test_retryable_results_are_not_stored(brand, api_secret, status_code):
    record, run = idempotency_record_claim(
        api_key=ApiKey.objects.get(brand=brand),
        key="key-1",
        method="POST",
        path=TASKS_URL,
        request_hash="0" * 64,
    )

    idempotency_record_finish(record=record, status_code=status_code, body="{}")

    assert run
    assert not IdempotencyRecord.objects.exists()


def test_a_404_is_stored(api_client, gig):
    response = post(api_client, f"{TASKS_URL}/999999/messages", {"body": "Hi"}, "key-1")

    assert response.status_code == 404
    assert IdempotencyRecord.objects.get().response_status == 404


# --- Retention --------------------------------------------------------------------


def test_purge_command_deletes_only_records_older_than_a_day(api_client, task_payload):
    post(api_client, TASKS_URL, task_payload, "old")
    post(api_client, TASKS_URL, {**task_payload, "subject": "New"}, "new")
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    out = StringIO()

    call_command("purge_idempotency_records", stdout=out)

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert "Deleted 1" in out.getvalue()


def test_after_purge_the_same_key_runs_again(api_client, task_payload):
    post(api_client, TASKS_URL, task_payload, "key-1")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(days=2))
    call_command("purge_idempotency_records", stdout=StringIO())

    response = post(api_client, TASKS_URL, task_payload, "key-1")

    assert response.status_code == 201
    assert Task.objects.count() == 2
