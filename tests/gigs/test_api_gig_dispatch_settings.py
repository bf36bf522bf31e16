"""The brand REST API and a gig's dispatch timing: reservation timeout, lease,
heartbeat grace and the per-task billing cap."""

import pytest
import yaml
from django.core.management import call_command

from gigs.models import Gig
from marketplace.models import AuditEvent
from tests.gigs.factories import GigFactory
from tests.gigs.test_api_gigs import GIGS_URL, gig_payload

TIMING = {
    "reservation_timeout_seconds": 45,
    "heartbeat_grace_seconds": 90,
    "lease_seconds": 600,
    "max_billable_minutes": 30,
}


def test_create_stores_and_returns_the_timing_settings(api_client, brand):
    response = api_client.post(GIGS_URL, gig_payload(**TIMING), format="json")

    assert response.status_code == 201
    body = response.json()
    assert {name: body[name] for name in TIMING} == TIMING
    gig = Gig.objects.get(pk=body["id"])
    assert {name: getattr(gig, name) for name in TIMING} == TIMING


def test_create_without_timing_uses_the_defaults(api_client, brand):
    response = api_client.post(GIGS_URL, gig_payload(), format="json")

    body = response.json()
    assert {name: body[name] for name in TIMING} == {
        "reservation_timeout_seconds": 30,
        "heartbeat_grace_seconds": 60,
        "lease_seconds": 300,
        "max_billable_minutes": 60,
    }


def test_timing_settings_are_in_the_creation_audit(api_client, brand):
    response = api_client.post(GIGS_URL, gig_payload(**TIMING), format="json")

    event = AuditEvent.objects.get(action="gig.created", target_id=str(response.json()["id"]))
    assert event.changes["lease_seconds"] == 600
    assert event.changes["reservation_timeout_seconds"] == 45


def test_reading_a_gig_shows_its_timing(api_client, brand):
    gig = GigFactory(brand=brand, lease_seconds=900, max_billable_minutes=15)

    body = api_client.get(f"{GIGS_URL}/{gig.pk}").json()

    assert (body["lease_seconds"], body["max_billable_minutes"]) == (900, 15)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("reservation_timeout_seconds", 4, "Use at least 5 seconds."),
        ("reservation_timeout_seconds", 601, "Use at most 600 seconds."),
        ("heartbeat_grace_seconds", 14, "Use at least 15 seconds."),
        ("heartbeat_grace_seconds", 901, "Use at most 900 seconds."),
        ("lease_seconds", 59, "Use at least 60 seconds."),
        ("lease_seconds", 3601, "Use at most 3600 seconds."),
        ("lease_seconds", "soon", "Send a whole number of seconds."),
        ("max_billable_minutes", 0, "Use at least 1 minute."),
        ("max_billable_minutes", 1441, "Use at most 1440 minutes."),
        ("max_billable_minutes", 2.5, "Send a whole number of minutes."),
    ],
)
def test_a_timing_value_out_of_bounds_is_refused_by_name(api_client, brand, field, value, message):
    response = api_client.post(GIGS_URL, gig_payload(**{field: value}), format="json")

    assert response.status_code == 400
    assert response.json()["fields"][field] == [message]
    assert not Gig.objects.exists()


def test_the_schema_states_the_bounds(tmp_path, db):
    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    schema = yaml.safe_load(path.read_text())

    lease = schema["components"]["schemas"]["GigCreateRequest"]["properties"]["lease_seconds"]
    assert (lease["minimum"], lease["maximum"]) == (60, 3600)
    assert "lease_seconds" in schema["components"]["schemas"]["Gig"]["properties"]
