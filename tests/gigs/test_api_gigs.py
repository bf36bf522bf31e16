"""The brand REST API for gigs: list, filter, create, read."""

import pytest

from gigs.models import DispatchMode, Gig, GigStatus, PayModel
from marketplace.models import AuditEvent
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import SkillFactory

GIGS_URL = "/api/v1/gigs"


def gig_payload(**overrides):
    payload = {
        "title": "Returns and refunds (DE)",
        "description": "Help German customers return items.",
        "language": "de",
        "min_language_level": "C1",
        "pay_model": "per_minute",
        "rate_minor": 35,
        "currency": "eur",
        "max_tasks_per_agent": 3,
        "sla_first_response_seconds": 300,
        "budget_cap_minor": 500000,
        "dispatch_mode": "directed",
    }
    payload.update(overrides)
    return payload


# --- List -------------------------------------------------------------------------


def test_list_shows_the_brands_gigs_newest_first(api_client, brand):
    older = GigFactory(brand=brand, title="Older")
    newer = GigFactory(brand=brand, title="Newer")

    response = api_client.get(GIGS_URL)

    assert response.status_code == 200
    assert [gig["id"] for gig in response.json()["results"]] == [newer.pk, older.pk]


def test_list_item_has_the_documented_fields(api_client, brand):
    skill = SkillFactory(slug="returns")
    gig = GigFactory(brand=brand)
    gig.required_skills.add(skill)

    item = api_client.get(GIGS_URL).json()["results"][0]

    assert set(item) == {
        "id",
        "title",
        "description",
        "language",
        "min_language_level",
        "required_skills",
        "pay_model",
        "rate_minor",
        "currency",
        "max_tasks_per_agent",
        "sla_first_response_seconds",
        "sla_next_response_seconds",
        "sla_resolution_seconds",
        "sla_business_hours",
        "budget_cap_minor",
        "dispatch_mode",
        "reservation_timeout_seconds",
        "heartbeat_grace_seconds",
        "lease_seconds",
        "max_billable_minutes",
        "reserve_minutes",
        "status",
        "created_at",
        "updated_at",
    }
    assert item["required_skills"] == ["returns"]
    assert item["rate_minor"] == 250


def test_list_filters_by_status(api_client, brand):
    GigFactory(brand=brand, title="Running")
    paused = GigFactory(brand=brand, title="Resting", status=GigStatus.PAUSED)

    response = api_client.get(GIGS_URL, {"status": "paused"})

    assert [gig["id"] for gig in response.json()["results"]] == [paused.pk]


def test_list_filters_by_title_search_and_pay_model(api_client, brand):
    GigFactory(brand=brand, title="Billing questions", pay_model=PayModel.PER_RESOLUTION)
    wanted = GigFactory(brand=brand, title="Billing disputes", pay_model=PayModel.PER_MINUTE)
    GigFactory(brand=brand, title="Shipping", pay_model=PayModel.PER_MINUTE)

    response = api_client.get(GIGS_URL, {"q": "billing", "pay_model": "per_minute"})

    assert [gig["id"] for gig in response.json()["results"]] == [wanted.pk]


def test_list_refuses_an_unknown_filter_value(api_client, brand):
    response = api_client.get(GIGS_URL, {"status": "archived"})

    assert response.status_code == 400
    assert "status" in response.json()["fields"]


def test_list_pagination_follows_next_to_the_end(api_client, brand):
    gigs = [GigFactory(brand=brand) for _ in range(5)]

    seen, url = [], f"{GIGS_URL}?page_size=2"
    while url:
        body = api_client.get(url).json()
        seen += [gig["id"] for gig in body["results"]]
        url = body["next"]

    assert seen == sorted((gig.pk for gig in gigs), reverse=True)


# --- Create -----------------------------------------------------------------------


def test_create_returns_201_with_the_new_gig(api_client, brand):
    response = api_client.post(GIGS_URL, gig_payload())

    assert response.status_code == 201
    body = response.json()
    gig = Gig.objects.get(pk=body["id"])
    assert gig.brand == brand
    assert body["title"] == "Returns and refunds (DE)"
    assert body["currency"] == "EUR"
    assert body["dispatch_mode"] == DispatchMode.DIRECTED
    assert body["status"] == GigStatus.ACTIVE


def test_create_with_only_required_fields_uses_defaults(api_client, brand):
    response = api_client.post(
        GIGS_URL,
        {"title": "Chat", "language": "en", "pay_model": "per_resolution", "rate_minor": 200},
    )

    assert response.status_code == 201
    body = response.json()
    assert body["min_language_level"] == "B2"
    assert body["max_tasks_per_agent"] == 1
    assert body["budget_cap_minor"] is None


def test_create_sets_required_skills_by_slug(api_client, brand):
    SkillFactory(slug="returns")
    SkillFactory(slug="german")

    response = api_client.post(GIGS_URL, gig_payload(required_skills=["returns", "german"]))

    gig = Gig.objects.get(pk=response.json()["id"])
    assert sorted(gig.required_skills.values_list("slug", flat=True)) == ["german", "returns"]
    assert sorted(response.json()["required_skills"]) == ["german", "returns"]


def test_create_names_unknown_skills_and_creates_nothing(api_client, brand):
    SkillFactory(slug="returns")

    response = api_client.post(
        GIGS_URL, gig_payload(required_skills=["returns", "juggling", "fire-eating"])
    )

    assert response.status_code == 400
    message = response.json()["fields"]["required_skills"][0]
    assert "juggling" in message
    assert "fire-eating" in message
    assert not Gig.objects.exists()


def test_create_is_audited_with_the_api_key_as_actor(api_client, brand, api_secret):
    from brands.models import ApiKey

    prefix = ApiKey.objects.get(brand=brand).prefix

    response = api_client.post(GIGS_URL, gig_payload())

    event = AuditEvent.objects.get(action="gig.created", target_id=str(response.json()["id"]))
    assert event.actor is None
    assert event.actor_label == f"api-key:{prefix}"
    assert event.brand == brand


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rate_minor", 0),
        ("rate_minor", "a lot"),
        ("max_tasks_per_agent", 50),
        ("currency", "E1"),
        ("language", "xx"),
        ("pay_model", "per_hour"),
        ("budget_cap_minor", -5),
        ("title", ""),
        ("required_skills", "returns"),
    ],
)
def test_create_refuses_a_bad_field_and_names_it(api_client, brand, field, value):
    response = api_client.post(GIGS_URL, gig_payload(**{field: value}))

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Gig.objects.exists()


def test_create_refuses_unknown_fields_by_name(api_client, brand):
    response = api_client.post(GIGS_URL, gig_payload(status="paused", colour="red"))

    assert response.status_code == 400
    fields = response.json()["fields"]
    assert fields["status"] == ["Unknown field."]
    assert fields["colour"] == ["Unknown field."]
    assert not Gig.objects.exists()


# --- Read -------------------------------------------------------------------------


def test_read_one_gig(api_client, gig):
    response = api_client.get(f"{GIGS_URL}/{gig.pk}")

    assert response.status_code == 200
    assert response.json()["title"] == "Order support (EN)"


def test_read_a_missing_gig_is_404_with_the_error_body(api_client, brand):
    response = api_client.get(f"{GIGS_URL}/999999")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
