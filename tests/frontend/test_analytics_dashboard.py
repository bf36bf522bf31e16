"""The brand analytics dashboard, its table exports and its drill-downs: who may
read them, what they show against the roll-ups, bad filters, tenant scope, and
a query count that does not grow with agents and gigs."""

import csv
import io
import json
import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from analytics.models import RollupRun
from analytics.rollup import rollup_recompute
from brands.models import BrandRole, PoolMembership, PoolStatus
from gigs.models import TaskEventKind as K
from tests.analytics.histories import task_with_history
from tests.analytics.test_drilldown import END, START, T0, build_world
from tests.brands.factories import MembershipFactory
from tests.frontend.money_helpers import client_for
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import AgentUserFactory

pytestmark = pytest.mark.django_db

RANGE = {"start": START, "end": END}


@pytest.fixture
def world(brand):
    return build_world(brand)


def url(brand, name="brand_analytics", **params) -> str:
    path = reverse(f"frontend:{name}", args=[brand.slug])
    if params:
        path += "?" + "&".join(f"{key}={value}" for key, value in params.items())
    return path


def export_url(brand, kind, **params) -> str:
    return url(brand, **params).replace("/analytics/", f"/analytics/export.{kind}", 1)


def tile_values(html: str) -> dict[str, str]:
    """``data-metric`` → the value text shown in that tile."""
    tiles = re.findall(
        r'<article data-metric="([^"]+)">.*?data-value>([^<]*)<', html, flags=re.DOTALL
    )
    return {name: unescape(text) for name, text in tiles}


def tile_link(html: str, metric: str) -> str:
    match = re.search(
        rf'<article data-metric="{metric}">.*?<a href="([^"]+)" data-value>', html, re.DOTALL
    )
    return unescape(match.group(1))


def table_rows(html: str, name: str) -> list[list[str]]:
    """The page's table as the exports write it: label, then each cell's value."""
    table = re.search(
        rf'<table class="analytics-table" data-table="{name}">(.*?)</table>', html, re.DOTALL
    ).group(1)
    rows = []
    for body in re.findall(r"<tr data-row=[^>]*>(.*?)</tr>", table, re.DOTALL):
        label = unescape(re.search(r'<th scope="row">(.*?)</th>', body).group(1))
        values = [unescape(value) for value in re.findall(r'data-value="([^"]*)"', body)]
        rows.append([label, *values])
    return rows


def drill_count(client, link: str) -> int:
    response = client.get(link)
    assert response.status_code == 200
    return int(re.search(r'data-count="(\d+)"', response.content.decode()).group(1))


@pytest.mark.parametrize("role", [BrandRole.ADMIN, BrandRole.VIEWER, BrandRole.QA_REVIEWER])
def test_every_brand_role_reads_the_figures(brand, world, role):
    member = MembershipFactory(brand=brand, role=role).user
    response = client_for(member).get(url(brand, **RANGE))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="analytics-filters"' in html
    tiles = tile_values(html)
    assert tiles["created"] == "7"
    assert tiles["resolution_rate"] == "66.7%"  # 4 resolved of 6 closed
    assert tiles["csat_rate"] == "66.7%"  # ratings 5, 2, 4
    assert tiles["csat_mean"] == "3.67"
    assert tiles["qa_pass_rate"] == "50.0%"
    assert tiles["wait"] != "–"
    assert 'data-table="agents"' in html and 'data-table="gigs"' in html
    charts = json.loads(
        re.search(r'id="analytics-chart-data"[^>]*>(.*?)</script>', html, re.DOTALL).group(1)
    )
    assert charts["days"][0] == START and len(charts["days"]) == 7
    assert sum(charts["created"]) == 7
    assert sum(charts["handle_counts"]) == 5


def test_tiles_compare_with_the_previous_period(brand, brand_admin, world):
    # The same seven days a week later: the previous period holds this world.
    html = client_for(brand_admin).get(url(brand, start="2026-03-08", end="2026-03-14")).content
    change = re.search(
        r'<article data-metric="created">.*?data-change>([^<]*)<', html.decode(), re.DOTALL
    )
    # One task created in the later week (the open one was on 5 March: not it).
    assert change.group(1).startswith("-")


def test_a_range_without_figures_says_so(brand, brand_admin, world):
    response = client_for(brand_admin).get(url(brand, start="2025-01-01", end="2025-01-31"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="analytics-empty"' in html
    assert "data-metric=" not in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-03-07", "end": "2026-03-01"}, "The end date is before the start date."),
        ({"start": "2024-01-01", "end": "2026-03-01"}, "Choose a range of at most two years."),
        ({"start": "yesterday"}, "Enter a date like 2026-03-01."),
        ({"language": "xx"}, "Choose a language from the list."),
        ({"agent": "999999"}, "Choose an agent of your pool, or all agents."),
        ({"tier": "9"}, "Choose a tier from 1 to 5."),
    ],
)
def test_bad_filters_are_form_errors_without_figures(brand, brand_admin, world, params, message):
    client = client_for(brand_admin)
    response = client.get(url(brand, **params))
    assert response.status_code == 400
    html = unescape(response.content.decode())
    assert message in html
    assert "data-metric=" not in html
    for kind in ("csv", "xlsx"):
        assert client.get(export_url(brand, kind, table="agents", **params)).status_code == 400
    assert (
        client.get(url(brand, "brand_analytics_tasks", metric="created", **params)).status_code
        == 400
    )


def test_a_gig_of_another_brand_is_a_form_error(brand, brand_admin, world, other_gig):
    response = client_for(brand_admin).get(url(brand, gig=other_gig.pk, **RANGE))
    assert response.status_code == 400
    assert "Choose one of your gigs, or all gigs." in unescape(response.content.decode())


def test_another_brands_member_gets_404_everywhere(brand, world, other_admin):
    client = client_for(other_admin)
    for path in (
        url(brand, **RANGE),
        export_url(brand, "csv", table="agents", **RANGE),
        export_url(brand, "xlsx", table="gigs", **RANGE),
        url(brand, "brand_analytics_tasks", metric="created", **RANGE),
    ):
        assert client.get(path).status_code == 404, path


def test_an_agent_outside_the_brand_gets_404(brand, world):
    client = client_for(world["a1"])
    assert client.get(url(brand, **RANGE)).status_code == 404


@pytest.mark.parametrize("name", ["agents", "gigs"])
@pytest.mark.parametrize("sort", ["", "label", "-resolution", "csat"])
def test_exports_equal_the_table_on_the_page(brand, brand_admin, world, name, sort):
    client = client_for(brand_admin)
    params = {**RANGE, **({f"sort_{name}": sort} if sort else {})}
    page = table_rows(client.get(url(brand, **params)).content.decode(), name)
    assert len(page) >= 2
    response = client.get(export_url(brand, "csv", table=name, **params))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    exported = list(csv.reader(io.StringIO(response.content.decode())))
    assert exported[1:] == page
    assert exported[0][0] == ("Agent" if name == "agents" else "Gig")
    response = client.get(export_url(brand, "xlsx", table=name, **params))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    cells = [["" if value is None else value for value in row] for row in sheet.values]
    assert cells[0] == exported[0]
    assert cells[1:] == [[_number(value) for value in row] for row in page]


def _number(text: str):
    """A page value as the workbook holds it: numbers as numbers."""
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if text.lstrip("-").isdigit() else value


def test_the_tables_sort_both_ways(brand, brand_admin, world):
    client = client_for(brand_admin)
    up = table_rows(client.get(url(brand, sort_gigs="label", **RANGE)).content.decode(), "gigs")
    down = table_rows(client.get(url(brand, sort_gigs="-label", **RANGE)).content.decode(), "gigs")
    assert [row[0] for row in up] == ["Billing", "Orders"]
    assert [row[0] for row in down] == ["Orders", "Billing"]


@pytest.mark.parametrize(
    ("metric", "params", "expected"),
    [
        ("created", {}, 7),
        ("resolution_rate", {}, 4),  # the resolved tasks
        ("csat_rate", {}, 2),  # the satisfied ratings
        ("csat_rate", {"language": "de"}, 0),
        ("fcr", {"gig": "en"}, 3),
        ("qa_avg", {}, 2),
        ("first_response", {"tier": "3"}, 3),
        ("cost_per_resolution_EUR", {}, 4),
    ],
)
def test_a_tile_drills_down_to_as_many_rows_as_it_counts(
    brand, brand_admin, world, metric, params, expected
):
    client = client_for(brand_admin)
    params = {key: world[value].pk if key == "gig" else value for key, value in params.items()}
    html = client.get(url(brand, **RANGE, **params)).content.decode()
    assert drill_count(client, tile_link(html, metric)) == expected


@pytest.mark.parametrize(("row_key", "closed"), [("a1", 2), ("a2", 2), ("none", 1)])
def test_table_cells_drill_down_to_their_agent(brand, brand_admin, world, row_key, closed):
    client = client_for(brand_admin)
    html = client.get(url(brand, **RANGE)).content.decode()
    table = re.search(
        r'<table class="analytics-table" data-table="agents">(.*?)</table>', html, re.DOTALL
    ).group(1)
    key = world[row_key].pk if row_key in world else row_key
    row = re.search(rf'<tr data-row="{key}">(.*?)</tr>', table, re.DOTALL).group(1)
    cell = re.search(r'data-column="closed" data-value="(\d+)"><a href="([^"]+)"', row)
    assert drill_count(client, unescape(cell.group(2))) == int(cell.group(1)) == closed


def test_gig_cells_drill_down_to_their_gig(brand, brand_admin, world):
    client = client_for(brand_admin)
    html = client.get(url(brand, **RANGE)).content.decode()
    table = re.search(
        r'<table class="analytics-table" data-table="gigs">(.*?)</table>', html, re.DOTALL
    ).group(1)
    row = re.search(rf'<tr data-row="{world["billing"].pk}">(.*?)</tr>', table, re.DOTALL)
    cell = re.search(r'data-column="closed" data-value="(\d+)"><a href="([^"]+)"', row.group(1))
    # The escalated and the cancelled task; the third billing task closes after the range.
    assert drill_count(client, unescape(cell.group(2))) == int(cell.group(1)) == 2


def test_sla_figures_link_to_the_sla_report(brand, brand_admin, world):
    client = client_for(brand_admin)
    response = client.get(url(brand, "brand_analytics_tasks", metric="sla_breaches", **RANGE))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("frontend:brand_sla_report", args=[brand.slug]))
    assert f"start={START}" in response["Location"]


def test_an_unknown_metric_is_a_clear_error(brand, brand_admin, world):
    response = client_for(brand_admin).get(
        url(brand, "brand_analytics_tasks", metric="nonsense", **RANGE)
    )
    assert response.status_code == 400
    assert "Choose a metric from the dashboard." in response.content.decode()


def test_the_drilldown_links_each_task_to_its_page(brand, brand_admin, world):
    html = (
        client_for(brand_admin)
        .get(url(brand, "brand_analytics_tasks", metric="escalated", **RANGE))
        .content.decode()
    )
    task_ids = re.findall(r'<tr data-task="(\d+)">', html)
    assert len(task_ids) == 1
    assert reverse("frontend:task_detail", args=[brand.slug, int(task_ids[0])]) in html


def test_the_page_says_how_fresh_the_figures_are(brand, brand_admin, world):
    RollupRun.objects.create(started_at=T0, finished_at=T0 + timedelta(seconds=5))
    html = client_for(brand_admin).get(url(brand, **RANGE)).content.decode()
    assert "Figures up to 2026-03-02 10:00; updated every 5 minutes." in html


def _grow(brand, gigs: int, agents: int) -> None:
    """More gigs and pool agents, each with a resolved task in the range."""
    for index in range(gigs):
        gig = GigFactory(brand=brand, title=f"Extra gig {index}")
        for _ in range(agents):
            agent = AgentUserFactory()
            PoolMembership.objects.create(brand=brand, agent=agent, status=PoolStatus.APPROVED)
            task_with_history(
                gig, T0, (0, K.CREATED), (10, K.CLAIMED, agent), (300, K.RESOLVED, agent)
            )
    rollup_recompute(brand, T0 - timedelta(days=1), T0 + timedelta(days=1))


def test_the_page_makes_the_same_queries_however_many_agents_and_gigs(brand, brand_admin, world):
    client = client_for(brand_admin)
    client.get(url(brand, **RANGE))  # warm the session and content types
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(brand, **RANGE)).status_code == 200
    _grow(brand, gigs=3, agents=4)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url(brand, **RANGE))
    assert response.status_code == 200
    assert len(table_rows(response.content.decode(), "agents")) >= 15
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_drilldown_pages_through_its_tasks_keeping_the_filters(brand, brand_admin, world):
    for index in range(24):
        task_with_history(world["billing"], T0 + timedelta(minutes=index), (0, K.CREATED))
    rollup_recompute(brand, T0 - timedelta(days=1), T0 + timedelta(days=1))
    client = client_for(brand_admin)
    first = client.get(
        url(brand, "brand_analytics_tasks", metric="created", gig=world["billing"].pk, **RANGE)
    ).content.decode()
    # 24 new billing tasks and the three of the world created in the range.
    assert 'data-count="27"' in first
    assert len(re.findall(r"<tr data-task=", first)) == 25
    next_link = unescape(re.search(r'<a href="(\?[^"]*page=2)">Next', first).group(1))
    assert f"gig={world['billing'].pk}" in next_link and "metric=created" in next_link
    second = client.get(
        reverse("frontend:brand_analytics_tasks", args=[brand.slug]) + next_link
    ).content.decode()
    assert len(re.findall(r"<tr data-task=", second)) == 2


def test_sort_links_keep_the_filters(brand, brand_admin, world):
    html = client_for(brand_admin).get(url(brand, language="en", **RANGE)).content.decode()
    link = unescape(re.search(r'<a href="([^"]+)" data-sort="csat"', html).group(1))
    assert "language=en" in link and f"start={START}" in link and "sort_agents=-csat" in link


def test_a_long_table_is_paged_and_its_export_holds_every_row(
    brand, brand_admin, world, monkeypatch
):
    from frontend.views import analytics as views

    monkeypatch.setattr(views, "TABLE_ROWS_PER_PAGE", 2)
    client = client_for(brand_admin)
    first = client.get(url(brand, **RANGE)).content.decode()
    second = client.get(url(brand, agents_page=2, **RANGE)).content.decode()
    shown = table_rows(first, "agents") + table_rows(second, "agents")
    assert len(table_rows(first, "agents")) == 2
    assert "agents_page=2" in first
    exported = list(
        csv.reader(
            io.StringIO(
                client.get(export_url(brand, "csv", table="agents", **RANGE)).content.decode()
            )
        )
    )
    # Three agents and the row of figures with no agent, over two pages.
    assert exported[1:] == shown and len(shown) == 4
