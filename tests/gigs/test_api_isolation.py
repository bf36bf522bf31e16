"""API keys: who may call, and that one brand's key never reaches another brand's data."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from brands.models import ApiKey
from brands.services import api_key_revoke
from gigs.models import Gig, Message, Task
from tests.gigs.factories import MessageFactory, TaskFactory

ENDPOINTS = [
    ("get", "/api/v1/gigs"),
    ("post", "/api/v1/gigs"),
    ("get", "/api/v1/tasks"),
    ("post", "/api/v1/tasks"),
    ("get", "/api/v1/tasks/1"),
    ("post", "/api/v1/tasks/1/messages"),
]


@pytest.fixture
def other_task(other_gig):
    task = TaskFactory(gig=other_gig, subject="Borealis invoice query", external_id="B-1")
    MessageFactory(task=task, body="Why was I charged twice?")
    return task


def client_with(authorization: str | None) -> APIClient:
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


# --- Authentication ---------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_missing_key_is_401_with_the_error_body(db, method, url):
    response = getattr(client_with(None), method)(url, {})

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer gdk_000000000000_not-a-real-secret",
        "Bearer not-even-our-format",
        "Token gdk_000000000000_not-a-real-secret",
        "Bearer ",
    ],
)
def test_invalid_key_is_401(db, authorization):
    response = client_with(authorization).get("/api/v1/tasks")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_forged_secret_with_a_real_prefix_is_401(api_secret):
    response = client_with(f"Bearer {api_secret[:-4]}AAAA").get("/api/v1/tasks")

    assert response.status_code == 401


def test_revoked_key_is_401_and_its_last_use_is_not_updated(api_secret, brand, brand_admin):
    api_key = ApiKey.objects.get(brand=brand)
    api_key_revoke(api_key=api_key, actor=brand_admin)
    stale = timezone.now() - timedelta(days=3)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=stale)

    response = client_with(f"Bearer {api_secret}").post(
        "/api/v1/tasks", {"gig": 1, "subject": "Hi"}
    )

    assert response.status_code == 401
    api_key.refresh_from_db()
    assert api_key.last_used_at == stale
    assert not Task.objects.exists()


def test_valid_key_records_its_last_use(api_client, brand):
    api_client.get("/api/v1/tasks")

    assert ApiKey.objects.get(brand=brand).last_used_at is not None


# --- Tenant isolation -------------------------------------------------------------


def test_list_tasks_shows_none_of_another_brands(api_client, gig, other_task):
    own = TaskFactory(gig=gig)

    response = api_client.get("/api/v1/tasks")

    assert [task["id"] for task in response.json()["results"]] == [own.pk]


def test_list_gigs_shows_none_of_another_brands(api_client, gig, other_gig):
    response = api_client.get("/api/v1/gigs")

    assert [item["id"] for item in response.json()["results"]] == [gig.pk]


def test_filtering_tasks_by_another_brands_gig_is_refused(api_client, gig, other_task):
    response = api_client.get("/api/v1/tasks", {"gig": other_task.gig_id})

    assert response.status_code == 400
    assert "gig" in response.json()["fields"]


def test_filtering_by_another_brands_external_id_finds_nothing(api_client, gig, other_task):
    response = api_client.get("/api/v1/tasks", {"external_id": "B-1"})

    assert response.json()["results"] == []


def test_reading_another_brands_task_is_404(api_client, gig, other_task):
    response = api_client.get(f"/api/v1/tasks/{other_task.pk}")

    assert response.status_code == 404
    assert "Borealis" not in response.content.decode()


def test_reading_another_brands_gig_is_404(api_client, gig, other_gig):
    response = api_client.get(f"/api/v1/gigs/{other_gig.pk}")

    assert response.status_code == 404


def test_posting_a_message_to_another_brands_task_is_404_and_changes_nothing(
    api_client, gig, other_task
):
    updated_at = other_task.updated_at

    response = api_client.post(
        f"/api/v1/tasks/{other_task.pk}/messages", {"body": "Injected", "kind": "note"}
    )

    assert response.status_code == 404
    assert Message.objects.filter(task=other_task).count() == 1
    other_task.refresh_from_db()
    assert other_task.updated_at == updated_at


def test_creating_a_task_in_another_brands_gig_is_400_no_such_gig(
    api_client, gig, other_gig, other_brand
):
    response = api_client.post("/api/v1/tasks", {"gig": other_gig.pk, "subject": "Sneaky"})

    assert response.status_code == 400
    assert response.json()["fields"]["gig"] == ["No such gig."]
    assert not Task.objects.exists()


def test_another_gig_id_and_a_missing_one_get_the_same_answer(api_client, gig, other_gig):
    foreign = api_client.post("/api/v1/tasks", {"gig": other_gig.pk, "subject": "Hi"})
    missing = api_client.post("/api/v1/tasks", {"gig": 999999, "subject": "Hi"})

    assert foreign.json() == missing.json()


def test_an_external_id_used_by_another_brand_creates_a_new_task(
    api_client, gig, other_task, other_brand
):
    response = api_client.post(
        "/api/v1/tasks", {"gig": gig.pk, "subject": "Ours", "external_id": "B-1"}
    )

    assert response.status_code == 201
    assert response.json()["id"] != other_task.pk
    assert Task.objects.for_brand(other_brand).get().subject == "Borealis invoice query"


def test_gig_created_with_a_key_belongs_to_the_keys_brand(
    api_client, brand, other_brand, other_api_secret
):
    response = api_client.post(
        "/api/v1/gigs",
        {"title": "Ours", "language": "en", "pay_model": "per_resolution", "rate_minor": 100},
    )

    assert Gig.objects.get(pk=response.json()["id"]).brand == brand
    other_list = client_with(f"Bearer {other_api_secret}").get("/api/v1/gigs").json()
    assert other_list["results"] == []
