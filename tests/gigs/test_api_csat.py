"""POST /api/v1/tasks/{id}/csat, and customer replies through the API showing live."""

import pytest

from gigs import live
from gigs.models import MessageKind, Task, TaskStatus
from tests.gigs.factories import TaskFactory
from tests.gigs.test_work_services import hub_fixture  # noqa: F401  (the "hub" fixture)

pytestmark = pytest.mark.django_db


def csat_url(task) -> str:
    return f"/api/v1/tasks/{task.pk}/csat"


@pytest.fixture
def resolved(gig):
    return TaskFactory(gig=gig, status=TaskStatus.RESOLVED)


def test_rating_a_resolved_task_returns_200_with_the_rating(api_client, resolved):
    response = api_client.post(
        csat_url(resolved), {"score": 4, "comment": "Quick and kind"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["task_id"], body["score"], body["comment"]) == (resolved.pk, 4, "Quick and kind")
    assert body["rated_at"]
    resolved.refresh_from_db()
    assert (resolved.csat_score, resolved.csat_comment) == (4, "Quick and kind")


def test_the_comment_is_optional(api_client, resolved):
    response = api_client.post(csat_url(resolved), {"score": 5}, format="json")
    assert (response.status_code, response.json()["comment"]) == (200, "")


def test_the_same_rating_again_is_200_and_changes_nothing(api_client, resolved):
    first = api_client.post(csat_url(resolved), {"score": 5}, format="json").json()
    again = api_client.post(csat_url(resolved), {"score": 5}, format="json")
    assert again.status_code == 200
    assert again.json() == first


def test_a_different_rating_is_409(api_client, resolved):
    api_client.post(csat_url(resolved), {"score": 5}, format="json")
    response = api_client.post(csat_url(resolved), {"score": 2}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "already_rated")
    assert Task.objects.get(pk=resolved.pk).csat_score == 5


@pytest.mark.parametrize(
    "payload",
    [{"score": 0}, {"score": 6}, {"score": "great"}, {"score": True}, {}, {"score": None}],
)
def test_a_bad_score_is_400(api_client, resolved, payload):
    response = api_client.post(csat_url(resolved), payload, format="json")
    assert response.status_code == 400
    assert "score" in response.json()["fields"]
    assert Task.objects.get(pk=resolved.pk).csat_score is None


def test_an_unknown_field_is_400(api_client, resolved):
    response = api_client.post(csat_url(resolved), {"score": 4, "stars": 4}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"stars": ["Unknown field."]}


def test_a_too_long_comment_is_400(api_client, resolved):
    response = api_client.post(
        csat_url(resolved), {"score": 4, "comment": "x" * 2001}, format="json"
    )
    assert response.status_code == 400
    assert "comment" in response.json()["fields"]


@pytest.mark.parametrize("status", [TaskStatus.QUEUED, TaskStatus.CLAIMED, TaskStatus.ESCALATED])
def test_rating_a_task_that_is_not_resolved_is_409(api_client, gig, status):
    task = TaskFactory(gig=gig, status=status)
    response = api_client.post(csat_url(task), {"score": 4}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "not_resolved")
    assert Task.objects.get(pk=task.pk).csat_score is None


def test_rating_another_brands_task_is_404(api_client, other_gig):
    theirs = TaskFactory(gig=other_gig, status=TaskStatus.RESOLVED)
    response = api_client.post(csat_url(theirs), {"score": 1}, format="json")
    assert response.status_code == 404
    assert Task.objects.get(pk=theirs.pk).csat_score is None


def test_rating_without_an_api_key_is_401(client, resolved):
    response = client.post(csat_url(resolved), {"score": 4}, content_type="application/json")
    assert response.status_code == 401


def test_a_replayed_idempotency_key_returns_the_first_answer(api_client, resolved):
    headers = {"HTTP_IDEMPOTENCY_KEY": "csat-1"}
    first = api_client.post(csat_url(resolved), {"score": 3}, format="json", **headers)
    again = api_client.post(csat_url(resolved), {"score": 3}, format="json", **headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true"


def test_the_schema_documents_the_csat_endpoint(api_client):
    schema = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/tasks/{task_id}/csat"]["post"]
    assert operation["operationId"] == "tasks_csat_create"
    assert {"200", "400", "404", "409"} <= set(operation["responses"])


# --- Messages from a brand's helpdesk appear live -----------------------------------------


def test_a_customer_message_posted_through_the_api_is_published_live(
    api_client,
    gig,
    hub,
    django_capture_on_commit_callbacks,
):
    task = TaskFactory(gig=gig)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            f"/api/v1/tasks/{task.pk}/messages", {"body": "Any news?"}, format="json"
        )
    assert response.status_code == 201
    [(topics, event)] = [item for item in hub() if item[1]["type"] == "message"]
    assert set(topics) == {live.task_topic(task.pk), live.customer_topic(task.pk)}
    assert (event["message"]["kind"], event["message"]["body"]) == (
        MessageKind.CUSTOMER,
        "Any news?",
    )


def test_a_note_posted_through_the_api_never_reaches_the_customer(
    api_client,
    gig,
    hub,
    django_capture_on_commit_callbacks,
):
    task = TaskFactory(gig=gig)
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(
            f"/api/v1/tasks/{task.pk}/messages", {"kind": "note", "body": "VIP"}, format="json"
        )
    topics = [topics for topics, event in hub() if event["type"] == "message"]
    assert topics == [[live.task_topic(task.pk)]]
