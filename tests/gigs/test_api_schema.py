"""The OpenAPI schema of the brand API generates cleanly and the docs page serves."""

import pytest
import yaml
from django.core.management import call_command


@pytest.fixture
def schema(tmp_path) -> dict:
    path = tmp_path / "schema.yaml"
    # --fail-on-warn turns any drf-spectacular warning (an unresolvable field,
    # a colliding enum name, a missing type hint) into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_schema_generates_without_warnings_and_lists_every_endpoint(schema):
    assert set(schema["paths"]) == {
        "/api/v1/gigs",
        "/api/v1/gigs/{gig_id}",
        "/api/v1/tasks",
        "/api/v1/tasks/{task_id}",
        "/api/v1/tasks/{task_id}/messages",
        "/api/v1/tasks/{task_id}/csat",
        "/api/v1/metrics",
    }


def test_schema_documents_bearer_api_keys(schema):
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"
    assert schema["paths"]["/api/v1/tasks"]["get"]["security"] == [{"ApiKeyAuth": []}]


def test_schema_documents_created_and_replayed_task_responses(schema):
    responses = schema["paths"]["/api/v1/tasks"]["post"]["responses"]

    assert {"200", "201", "400", "401", "409", "415", "422"} <= set(responses)
    assert responses["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_schema_documents_the_idempotency_key_header(schema):
    parameters = schema["paths"]["/api/v1/tasks/{task_id}/messages"]["post"]["parameters"]

    headers = [parameter["name"] for parameter in parameters if parameter["in"] == "header"]
    assert headers == ["Idempotency-Key"]


def test_schema_endpoint_serves_without_a_key(client, db):
    response = client.get("/api/v1/schema/")

    assert response.status_code == 200
    assert b"/api/v1/tasks" in response.content


def test_docs_page_serves(client, db):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
