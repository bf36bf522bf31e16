"""The dashboard's tables per agent and per gig, and their CSV and XLSX exports.

The page and the exports build their rows here from the same ``Figures``, in
the same order, so a download holds exactly the numbers on the screen: each
cell has a ``value`` (a number, or ``None`` for "–") that the exports write
and a ``text`` the page shows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet
from openpyxl import Workbook

from analytics.models import MetricHour
from analytics.selectors import Figures, figures_by
from gigs.models import Gig
from gigs.sla_selectors import agent_public_names
from marketplace.money import currency_decimals, money_format

TABLES = ("agents", "gigs")
DIMENSIONS = {"agents": "agent_id", "gigs": "gig_id"}
NO_AGENT_LABEL = "No agent (queued or cancelled)"


def duration_text(seconds: float | None) -> str:
    """``340`` → ``"5 min 40 s"``; ``None`` → ``"–"``."""
    if seconds is None:
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def percent_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def number_text(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


@dataclass(frozen=True)
class Column:
    """One column: how to read its value from ``Figures`` and show it.

    ``drill`` is the drill-down metric behind its cells (``"sla"`` for the SLA
    report); ``kind`` is ``count``, ``seconds``, ``percent`` or ``decimal``."""

    key: str
    label: str
    short: str  # the page's header; ``label`` (with units) heads the exports
    value: Callable[[Figures], float | int | None]
    kind: str
    drill: str | None = None
    digits: int = 0

    def text(self, value) -> str:
        if self.kind == "seconds":
            return duration_text(value)
        if self.kind == "percent":
            return percent_text(value)
        return number_text(value, self.digits)


def _rounded(value: float | None, digits: int = 0):
    if value is None:
        return None
    return round(value) if digits == 0 else round(value, digits)


COLUMNS = (
    Column("closed", "Tasks closed", "Closed", lambda f: f.closed, "count", "closed"),
    Column(
        "handle",
        "Handle time (s, mean)",
        "Handle time",
        lambda f: _rounded(f.handle_avg),
        "seconds",
        "handled",
    ),
    Column(
        "resolution",
        "Resolution rate (%)",
        "Resolved",
        lambda f: f.resolution_rate,
        "percent",
        "resolved",
    ),
    Column("fcr", "First-contact resolution (%)", "FCR", lambda f: f.fcr_rate, "percent", "fcr"),
    Column("csat", "CSAT (% satisfied)", "CSAT", lambda f: f.csat_rate, "percent", "rated"),
    Column("qa", "QA average", "QA", lambda f: _rounded(f.qa_avg, 1), "decimal", "qa", 1),
    Column(
        "back_and_forths",
        "Back-and-forths (mean)",
        "Back-and-forths",
        lambda f: _rounded(f.back_and_forths_avg, 2),
        "decimal",
        "closed",
        2,
    ),
    Column("sla", "SLA hit rate (%)", "SLA met", lambda f: f.sla_hit_rate, "percent", "sla"),
)


@dataclass(frozen=True)
class Cell:
    column: str
    value: object
    text: str
    drill: str | None


@dataclass
class TableRow:
    key: int | None
    label: str
    figures: Figures
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Table:
    name: str
    headers: list[str]
    short_headers: list[str]
    keys: list[str]
    rows: list[TableRow]
    sort: str


def _cost_value(figures: Figures, currency: str) -> Decimal | None:
    cost = figures.cost_per_resolution(currency)
    if cost is None:
        return None
    places = currency_decimals(currency)
    return Decimal(round(cost)).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def sort_keys(currencies: list[str]) -> list[str]:
    return ["label", *(column.key for column in COLUMNS), *(f"cost_{c}" for c in currencies)]


def _sorted(rows: list[TableRow], sort: str) -> list[TableRow]:
    """Sort by one column (``"-closed"`` descending); "–" cells always last,
    then by label, so the order is the same on every read."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    by_label = sorted(rows, key=lambda row: (row.label.lower(), row.key or 0))
    if key == "label":
        return list(reversed(by_label)) if descending else by_label
    index = next(i for i, cell in enumerate(by_label[0].cells) if cell.column == key)
    present = [row for row in by_label if row.cells[index].value is not None]
    missing = [row for row in by_label if row.cells[index].value is None]
    present.sort(key=lambda row: row.cells[index].value, reverse=descending)
    return present + missing


def dashboard_table(
    rows: QuerySet[MetricHour], *, brand_id: int, name: str, sort: str | None = None
) -> Table:
    """The ``name`` table (``agents`` or ``gigs``) of ``rows``, sorted by
    ``sort`` (a column key, ``-`` first for descending; default: most tasks
    closed first). Three queries at most, however many rows it has."""
    grouped = figures_by(rows, DIMENSIONS[name])
    if name == "agents":
        labels = agent_public_names(key for key in grouped if key is not None)
        labels[None] = NO_AGENT_LABEL
    else:
        labels = dict(
            Gig.objects.filter(brand_id=brand_id, pk__in=list(grouped)).values_list("pk", "title")
        )
    currencies = sorted({currency for item in grouped.values() for currency in item.currencies})
    table_rows = []
    for key, item in grouped.items():
        row = TableRow(key=key, label=labels.get(key, ""), figures=item)
        for column in COLUMNS:
            value = column.value(item)
            row.cells.append(Cell(column.key, value, column.text(value), column.drill))
        for currency in currencies:
            value = _cost_value(item, currency)
            cost = item.cost_per_resolution(currency)
            text = "–" if cost is None else money_format(round(cost), currency)
            row.cells.append(Cell(f"cost_{currency}", value, text, "resolved"))
        table_rows.append(row)
    allowed = sort_keys(currencies)
    if not sort or sort.lstrip("-") not in allowed:
        sort = "-closed"
    headers = [
        "Agent" if name == "agents" else "Gig",
        *(column.label for column in COLUMNS),
        *(f"Cost per resolution ({currency})" for currency in currencies),
    ]
    short_headers = [
        headers[0],
        *(column.short for column in COLUMNS),
        *(f"Cost ({currency})" for currency in currencies),
    ]
    return Table(
        name=name,
        headers=headers,
        short_headers=short_headers,
        keys=allowed,
        rows=_sorted(table_rows, sort) if table_rows else [],
        sort=sort,
    )


def export_rows(table: Table) -> Iterator[list]:
    """The header, then one list of values per row, as on the page ("" for "–")."""
    yield table.headers
    for row in table.rows:
        yield [row.label, *("" if cell.value is None else cell.value for cell in row.cells)]


def _csv_cell(value):
    # An agent or gig name must not run as a spreadsheet formula.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def table_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for values in export_rows(table):
        writer.writerow([_csv_cell(value) for value in values])
    return buffer.getvalue()


def table_xlsx(table: Table) -> bytes:
    """The table as an XLSX workbook (write-only: rows are streamed, not kept)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=table.name.capitalize())
    for values in export_rows(table):
        sheet.append(
            [float(value) if isinstance(value, Decimal) else _csv_cell(value) for value in values]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
