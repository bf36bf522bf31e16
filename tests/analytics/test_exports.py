"""The dashboard's tables and their CSV/XLSX exports, built from the roll-ups."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from analytics.exports import (
    NO_AGENT_LABEL,
    dashboard_table,
    duration_text,
    export_rows,
    table_csv,
    table_xlsx,
)
from analytics.rollup import rollup_recompute
from analytics.selectors import figures_by
from gigs.models import TaskEventKind as K
from tests.analytics.histories import task_with_history
from tests.analytics.test_drilldown import T0, build_world, metric_filter
from tests.gigs.factories import GigFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(brand):
    return build_world(brand)


def column(table, key: str) -> list:
    index = table.keys.index(key) - 1  # keys start with the label
    return [row.cells[index].value for row in table.rows]


def test_the_agent_table_has_one_row_per_agent_and_one_for_nobody(brand, world):
    table = dashboard_table(metric_filter(brand).per_agent_rows(), brand_id=brand.pk, name="agents")
    keys = {row.key for row in table.rows}
    assert keys == {world["a1"].pk, world["a2"].pk, world["a3"].pk, None}
    nobody = next(row for row in table.rows if row.key is None)
    assert nobody.label == NO_AGENT_LABEL
    # The cancelled task, never claimed, closes with no agent.
    assert nobody.figures.cancelled == 1


def test_cells_are_the_figures_of_the_rollup(brand, world):
    rows = metric_filter(brand).qs
    table = dashboard_table(rows, brand_id=brand.pk, name="gigs")
    grouped = figures_by(rows, "gig_id")
    for row in table.rows:
        item = grouped[row.key]
        values = {cell.column: cell.value for cell in row.cells}
        assert values["closed"] == item.closed
        assert values["resolution"] == item.resolution_rate
        assert values["csat"] == item.csat_rate
        assert values["sla"] == item.sla_hit_rate
    assert {row.label for row in table.rows} == {"Orders", "Billing"}


def test_the_default_order_is_most_closed_first(brand, world):
    table = dashboard_table(metric_filter(brand).per_agent_rows(), brand_id=brand.pk, name="agents")
    closed = column(table, "closed")
    assert closed == sorted(closed, reverse=True)
    assert table.sort == "-closed"


@pytest.mark.parametrize("sort", ["csat", "-csat", "qa", "-qa"])
def test_undefined_cells_sort_last_either_way(brand, world, sort):
    table = dashboard_table(
        metric_filter(brand).per_agent_rows(), brand_id=brand.pk, name="agents", sort=sort
    )
    values = column(table, sort.lstrip("-"))
    defined = [value for value in values if value is not None]
    assert None in values
    assert values == defined + [None] * (len(values) - len(defined))
    assert defined == sorted(defined, reverse=sort.startswith("-"))


def test_an_unknown_sort_falls_back_to_the_default(brand, world):
    table = dashboard_table(
        metric_filter(brand).qs, brand_id=brand.pk, name="gigs", sort="password"
    )
    assert table.sort == "-closed"


def test_cost_per_resolution_has_a_column_per_currency(brand, world):
    usd = GigFactory(brand=brand, title="US orders", currency="USD")
    agent = world["a1"]
    task_with_history(usd, T0, (0, K.CREATED), (10, K.CLAIMED, agent), (600, K.RESOLVED, agent))
    rollup_recompute(brand, T0 - timedelta(days=1), T0 + timedelta(days=1))
    table = dashboard_table(metric_filter(brand).qs, brand_id=brand.pk, name="gigs")
    assert table.headers[-2:] == ["Cost per resolution (EUR)", "Cost per resolution (USD)"]
    by_gig = {row.label: row.cells[-2:] for row in table.rows}
    assert by_gig["US orders"][0].value is None  # no EUR spent on the USD gig
    assert isinstance(by_gig["US orders"][1].value, Decimal)
    assert by_gig["US orders"][1].text.startswith("$")


def test_csv_and_xlsx_hold_the_same_rows(brand, world):
    table = dashboard_table(metric_filter(brand).per_agent_rows(), brand_id=brand.pk, name="agents")
    expected = list(export_rows(table))
    exported = list(csv.reader(io.StringIO(table_csv(table))))
    assert exported == [["" if v is None else str(v) for v in row] for row in expected]
    sheet = load_workbook(io.BytesIO(table_xlsx(table)), read_only=True).active
    cells = [["" if value is None else value for value in row] for row in sheet.values]
    assert len(cells) == len(expected) == len(table.rows) + 1
    assert cells[0] == expected[0]
    for got, want in zip(cells[1:], expected[1:], strict=True):
        assert got == [float(v) if isinstance(v, Decimal) else v for v in want]


def test_a_name_that_looks_like_a_formula_is_quoted(brand, world):
    world["en"].title = "=HYPERLINK(1)"
    world["en"].save(update_fields=["title"])
    table = dashboard_table(metric_filter(brand).qs, brand_id=brand.pk, name="gigs")
    assert "'=HYPERLINK(1)" in table_csv(table)
    sheet = load_workbook(io.BytesIO(table_xlsx(table)), read_only=True).active
    assert "'=HYPERLINK(1)" in [row[0] for row in sheet.values]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "–"), (0, "0 s"), (59.6, "1 min 00 s"), (340, "5 min 40 s"), (7260, "2 h 01 min")],
)
def test_durations_read_as_minutes_and_hours(seconds, text):
    assert duration_text(seconds) == text
