"""``GET /api/v1/metrics``: the dashboard's figures through the brand API."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from analytics.rollup import rollup_recompute
from analytics.selectors import Figures, Period, figures, figures_by, figures_by_day, metric_hours
from analytics.serializers import FiguresSerializer
from brands.models import PoolMembership, PoolStatus, PoolTier
from gigs.models import TaskEventKind as K
from tests.analytics.histories import task_with_history
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import AgentUserFactory

URL = "/api/v1/metrics"
BERLIN = ZoneInfo("Europe/Berlin")
# Tuesday 10 March 2026, 10:00 in Berlin; the period is 9–12 March.
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
DAY = 24 * 3600
PERIOD = {"start": "2026-03-09", "end": "2026-03-12"}


def member(brand, tier=PoolTier.NEW, **fields):
    agent = AgentUserFactory(**fields)
    PoolMembership.objects.create(brand=brand, agent=agent, status=PoolStatus.APPROVED, tier=tier)
    return agent


def answered(gig, t0, agent, *, score=5, language=None):
    return task_with_history(
        gig,
        t0,
        (0, K.CREATED),
        (0, K.CUSTOMER_MESSAGE),
        (60, K.CLAIMED, agent),
        (120, K.AGENT_MESSAGE, agent),
        (600, K.RESOLVED, agent),
        (700, K.RATED, None, {"score": score}),
        language=language,
    )


@pytest.fixture
def world(brand, gig):
    """Brand A's history: two gigs, two agents (tiers 3 and 1), an escalation,
    a task nobody claimed, a task in the previous period; all rolled up."""
    brand.time_zone = "Europe/Berlin"
    brand.save(update_fields=["time_zone"])
    returns = GigFactory(brand=brand, title="Returns (DE)", language="de")
    ada = member(brand, PoolTier.TRUSTED, full_name="Ada Agent")
    bo = member(brand, PoolTier.NEW, full_name="Bo Agent")
    answered(gig, T0, ada, score=5)
    answered(gig, T0 + timedelta(hours=3), bo, score=2)
    answered(returns, T0 + timedelta(seconds=DAY), ada, score=4)
    task_with_history(
        returns,
        T0 + timedelta(seconds=DAY + 3600),
        (0, K.CREATED),
        (0, K.CUSTOMER_MESSAGE),
        (300, K.CLAIMED, bo),
        (400, K.AGENT_MESSAGE, bo),
        (900, K.ESCALATED, bo),
    )
    task_with_history(gig, T0 + timedelta(seconds=2 * DAY), (0, K.CREATED), (3600, K.CANCELLED))
    # 7 March: in the previous period (5–8 March).
    answered(gig, T0 - timedelta(seconds=3 * DAY), ada, score=3)
    rollup_recompute(brand, T0 - timedelta(days=10), T0 + timedelta(days=5))
    return {"brand": brand, "billing": gig, "returns": returns, "ada": ada, "bo": bo}


@pytest.fixture
def other_world(other_brand, other_gig, other_api_secret):
    other_brand.time_zone = "Europe/Berlin"
    other_brand.save(update_fields=["time_zone"])
    carl = member(other_brand, full_name="Carl Other")
    answered(other_gig, T0, carl, score=1)
    answered(other_gig, T0 + timedelta(hours=1), carl, score=1)
    rollup_recompute(other_brand, T0 - timedelta(days=10), T0 + timedelta(days=5))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {other_api_secret}")
    return {"brand": other_brand, "gig": other_gig, "carl": carl, "client": client}


def period(first="2026-03-09", last="2026-03-12") -> Period:
    return Period(date.fromisoformat(first), date.fromisoformat(last), BERLIN)


def rows(brand, span: Period, **filters):
    return metric_hours(brand_ids=[brand.pk], start=span.start, end=span.end, **filters)


def get(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


# --- Figures ----------------------------------------------------------------------


def test_totals_equal_the_figures_computed_from_the_roll_ups(api_client, world):
    body = get(api_client, **PERIOD)

    expected = figures(rows(world["brand"], period())).as_dict()
    assert body["figures"] == expected
    # The scenario, so the comparison above is not between two empty dicts.
    assert (body["figures"]["tasks_created"], body["figures"]["tasks_resolved"]) == (5, 3)
    assert body["figures"]["tasks_escalated"] == 1
    assert body["figures"]["csat_responses"] == 3
    assert body["figures"]["wait_seconds_avg"] == 120  # (60 + 60 + 60 + 300) / 4
    assert body["figures"]["money"][0]["currency"] == "EUR"


def test_period_and_previous_period_totals(api_client, world):
    body = get(api_client, **PERIOD)

    assert body["period"] == {
        "start": "2026-03-09",
        "end": "2026-03-12",
        "time_zone": "Europe/Berlin",
    }
    previous = body["previous_period"]
    assert (previous["start"], previous["end"]) == ("2026-03-05", "2026-03-08")
    assert previous["figures"] == figures(rows(world["brand"], period().previous())).as_dict()
    assert previous["figures"]["tasks_created"] == 1
    assert previous["figures"]["csat_mean"] == 3
    assert body["group_by"] == "none"
    assert body["groups"] == []


def test_missing_dates_default_to_the_last_28_days_in_the_brands_zone(api_client, world):
    body = get(api_client)

    start = date.fromisoformat(body["period"]["start"])
    end = date.fromisoformat(body["period"]["end"])
    assert end == datetime.now(BERLIN).date()
    assert (end - start).days == 27


def test_groups_by_gig_are_labelled_with_titles(api_client, world):
    body = get(api_client, group_by="gig", **PERIOD)

    per_gig = figures_by(rows(world["brand"], period()), "gig_id")
    assert [(group["key"], group["label"]) for group in body["groups"]] == [
        (world["billing"].pk, "Order support (EN)"),
        (world["returns"].pk, "Returns (DE)"),
    ]
    for group in body["groups"]:
        assert group["figures"] == per_gig[group["key"]].as_dict()
    assert body["previous_period"] is None


def test_groups_by_agent_put_unclaimed_tasks_last(api_client, world):
    body = get(api_client, group_by="agent", **PERIOD)

    per_agent = figures_by(rows(world["brand"], period()), "agent_id")
    assert [(group["key"], group["label"]) for group in body["groups"]] == [
        (world["ada"].pk, "Ada"),
        (world["bo"].pk, "Bo"),
        (None, "Not claimed"),
    ]
    for group in body["groups"]:
        assert group["figures"] == per_agent[group["key"]].as_dict()
    assert body["groups"][0]["figures"]["csat_mean"] == 4.5
    assert "@" not in str(body["groups"])  # agents are never shown by email


def test_groups_by_language(api_client, world):
    body = get(api_client, group_by="language", **PERIOD)

    assert [(group["key"], group["label"]) for group in body["groups"]] == [
        ("en", "English"),
        ("de", "German"),
    ]
    assert [group["figures"]["tasks_created"] for group in body["groups"]] == [3, 2]


def test_groups_by_day_list_every_day_of_the_period(api_client, world):
    body = get(api_client, group_by="day", **PERIOD)

    by_day = figures_by_day(rows(world["brand"], period()), period())
    assert [group["key"] for group in body["groups"]] == [
        "2026-03-09",
        "2026-03-10",
        "2026-03-11",
        "2026-03-12",
    ]
    assert [group["figures"] for group in body["groups"]] == [
        total.as_dict() for _, total in by_day
    ]
    assert [group["figures"]["tasks_created"] for group in body["groups"]] == [0, 2, 2, 1]


@pytest.mark.parametrize(
    ("params", "expected_filters"),
    [
        ({"language": "de"}, {"language": ["de"]}),
        ({"agent": "ada"}, {"agent_ids": ["ada"]}),
        ({"gig": "returns"}, {"gig_ids": ["returns"]}),
        # Tier 3: only Ada.
        ({"tier": "3"}, {"agent_ids": ["ada"]}),
    ],
)
def test_filters_narrow_the_figures_as_the_dashboards_do(
    api_client, world, params, expected_filters
):
    def resolve(value):
        return world[value].pk if value in world else value

    query = {name: resolve(value) for name, value in params.items()}
    body = get(api_client, **PERIOD, **query)

    narrowed = {
        name if name != "language" else "languages": [resolve(value) for value in values]
        for name, values in expected_filters.items()
    }
    expected = figures(rows(world["brand"], period(), **narrowed))
    assert body["figures"] == expected.as_dict()
    assert body["figures"]["tasks_created"] < 5
    filters = body["filters"]
    for name, value in query.items():
        assert filters[name] == (int(value) if name in ("agent", "gig", "tier") else value)


def test_an_empty_period_has_null_rates_not_zeros(api_client, world):
    body = get(api_client, start="2025-01-01", end="2025-01-31")

    assert body["figures"] == Figures().as_dict()
    assert body["figures"]["resolution_rate"] is None
    assert body["figures"]["money"] == []


# --- Bad input ----------------------------------------------------------------------


def assert_refused(response, field: str, message: str | None = None):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"], body
    if message is not None:
        assert body["fields"][field] == [message]


def test_end_before_start_is_refused_naming_end(api_client, world):
    response = api_client.get(URL, {"start": "2026-03-12", "end": "2026-03-09"})

    assert_refused(response, "end", "The end date is before the start date.")


def test_a_range_over_two_years_is_refused(api_client, world):
    response = api_client.get(URL, {"start": "2024-01-01", "end": "2026-01-01"})

    assert_refused(response, "end", "Choose a range of at most two years.")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        # Out of range for the period arithmetic (the previous period, two years on).
        ({"start": "0001-01-01", "end": "0001-01-02"}, "start"),
        ({"start": "9999-12-30", "end": "9999-12-31"}, "end"),
        ({"start": "9999-12-30", "group_by": "week"}, "start"),
        ({"start": "yesterday"}, "start"),
        ({"end": "2026-02-30"}, "end"),
        ({"language": "xx"}, "language"),
        ({"tier": "9"}, "tier"),
        ({"gig": "abc"}, "gig"),
        ({"gig": "999999"}, "gig"),
        ({"agent": "999999"}, "agent"),
        ({"group_by": "week"}, "group_by"),
        ({"agnet": "1"}, "agnet"),
    ],
)
def test_bad_parameters_are_refused_naming_them(api_client, world, params, field):
    assert_refused(api_client.get(URL, params), field)


def test_several_bad_parameters_are_all_named(api_client, world):
    response = api_client.get(URL, {"group_by": "week", "language": "xx", "colour": "red"})

    assert_refused(response, "group_by", "Choose one of none, day, gig, agent or language.")
    assert set(response.json()["fields"]) == {"group_by", "language", "colour"}


def test_a_request_without_a_key_is_refused(world):
    response = APIClient().get(URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


# --- Tenant isolation ----------------------------------------------------------------


def test_another_brands_key_never_sees_this_brands_figures(world, other_world):
    body = get(other_world["client"], **PERIOD)

    own = figures(rows(other_world["brand"], period()))
    assert body["figures"] == own.as_dict()
    assert body["figures"]["tasks_created"] == 2
    assert body["figures"]["csat_mean"] == 1


def test_another_brands_groups_hold_only_its_own_gigs_and_agents(world, other_world):
    client = other_world["client"]

    gigs = get(client, group_by="gig", **PERIOD)["groups"]
    agents = get(client, group_by="agent", **PERIOD)["groups"]

    assert [group["key"] for group in gigs] == [other_world["gig"].pk]
    assert [group["key"] for group in agents] == [other_world["carl"].pk]


def test_a_gig_of_another_brand_is_refused(api_client, world, other_world):
    response = api_client.get(URL, {"gig": other_world["gig"].pk, **PERIOD})

    assert_refused(response, "gig", "Choose one of your gigs, or all gigs.")


def test_an_agent_of_another_brands_pool_is_refused(api_client, world, other_world):
    response = api_client.get(URL, {"agent": other_world["carl"].pk, **PERIOD})

    assert_refused(response, "agent", "Choose an agent of your pool, or all agents.")


def test_this_brands_agent_is_refused_to_the_other_brand(world, other_world):
    response = other_world["client"].get(URL, {"agent": world["ada"].pk, **PERIOD})

    assert_refused(response, "agent")


# --- Schema -------------------------------------------------------------------------


@pytest.fixture
def schema(tmp_path) -> dict:
    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_schema_documents_the_metrics_path_and_its_parameters(schema):
    operation = schema["paths"]["/api/v1/metrics"]["get"]

    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert set(parameters) == {"start", "end", "gig", "language", "agent", "tier", "group_by"}
    assert all(parameter["in"] == "query" for parameter in parameters.values())
    assert all(parameter["description"] for parameter in parameters.values())
    assert set(parameters["group_by"]["schema"]["enum"]) == {
        "none",
        "day",
        "gig",
        "agent",
        "language",
    }
    assert operation["security"] == [{"ApiKeyAuth": []}]
    responses = operation["responses"]
    assert responses["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Metrics"
    }
    assert responses["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_schema_documents_every_figure_the_api_returns(schema):
    documented = schema["components"]["schemas"]["Figures"]["properties"]

    assert set(documented) == set(Figures().as_dict())
    assert set(FiguresSerializer().fields) == set(Figures().as_dict())


def test_schema_endpoint_lists_the_metrics_path(client, db):
    response = client.get("/api/v1/schema/")

    assert response.status_code == 200
    assert b"/api/v1/metrics" in response.content
