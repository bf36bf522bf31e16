"""The brand's analytics dashboard, its table exports and its drill-downs.

Every member of the brand may read them (they change nothing). Figures come
from the hourly roll-ups (``analytics.selectors``) through the shared
``MetricFilter``, so the page makes the same few queries however many agents,
gigs or tasks there are; the tables and their exports come from
``analytics.exports``; the tasks behind a number from ``analytics.drilldown``,
which reads the raw event history, paginated.
"""

from __future__ import annotations

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from analytics.drilldown import METRICS, drilldown
from analytics.exports import (
    DIMENSIONS,
    TABLES,
    Table,
    dashboard_table,
    duration_text,
    number_text,
    percent_text,
    table_csv,
    table_xlsx,
)
from analytics.filters import MetricFilter
from analytics.models import HANDLE_BIN_LABELS
from analytics.rollup import last_rollup
from analytics.selectors import Figures, change, figures, figures_by_day, volume_by_weekday_hour
from brands.models import Brand
from frontend.views.access import brand_view
from gigs.sla_selectors import agent_public_names
from marketplace.money import money_format

PER_PAGE = 25
TABLE_ROWS_PER_PAGE = 50
# The ``agent`` value of drill-downs into figures that belong to no agent.
NO_AGENT = "none"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _filter(request: HttpRequest, brand: Brand) -> MetricFilter:
    return MetricFilter(request.GET, brand=brand)


def filter_params(metric_filter: MetricFilter) -> dict[str, str]:
    """The valid filters as query parameters, for links that keep them."""
    data = metric_filter.form.cleaned_data
    params = {"start": data["start"].isoformat(), "end": data["end"].isoformat()}
    for name, value in metric_filter.active_filters.items():
        params[name] = str(getattr(value, "pk", value))
    return params


class Links:
    """URLs of the drill-downs and the SLA report with the page's filters."""

    def __init__(self, brand: Brand, params: dict[str, str]):
        self.brand = brand
        self.params = params
        self.tasks_url = reverse("frontend:brand_analytics_tasks", args=[brand.slug])

    def drill(self, metric: str | None, **extra) -> str:
        if metric is None:
            return ""
        if metric == "sla":
            sla = {key: self.params[key] for key in ("start", "end", "gig") if key in self.params}
            if "gig" in extra:
                sla["gig"] = str(extra["gig"])
            return (
                reverse("frontend:brand_sla_report", args=[self.brand.slug]) + "?" + urlencode(sla)
            )
        return self.tasks_url + "?" + urlencode({**self.params, **extra, "metric": metric})


def _change_text(current, previous) -> str:
    value = change(current, previous)
    if value is None:
        return "–"
    return f"{value:+.1f}%"


def _tile(name, label, current, previous, text, drill, basis=None, basis_drill=None) -> dict:
    return {
        "name": name,
        "label": label,
        "text": text(current),
        "change": _change_text(current, previous),
        "drill": drill,
        "basis": basis,
        "basis_drill": basis_drill,
    }


def dashboard_tiles(now: Figures, before: Figures, links: Links) -> list[dict]:
    """The figure tiles, each with its change against the previous period and
    the drill-down behind it (and behind its denominator, where it has one)."""
    drill = links.drill
    tiles = [
        _tile(
            "created", "Tasks created", now.created, before.created, number_text, drill("created")
        ),
        _tile("wait", "Wait (mean)", now.wait_avg, before.wait_avg, duration_text, drill("waits")),
        _tile(
            "first_response",
            "First response (mean)",
            now.first_response_avg,
            before.first_response_avg,
            duration_text,
            drill("first_response"),
        ),
        _tile(
            "handle",
            "Handle time (mean)",
            now.handle_avg,
            before.handle_avg,
            duration_text,
            drill("handled"),
        ),
        _tile(
            "resolution_rate",
            "Resolution rate",
            now.resolution_rate,
            before.resolution_rate,
            percent_text,
            drill("resolved"),
            f"of {now.closed} closed",
            drill("closed"),
        ),
        _tile(
            "fcr",
            "First-contact resolution",
            now.fcr_rate,
            before.fcr_rate,
            percent_text,
            drill("fcr"),
            f"of {now.resolved} resolved",
            drill("resolved"),
        ),
        _tile(
            "back_and_forths",
            "Back-and-forths (mean)",
            now.back_and_forths_avg,
            before.back_and_forths_avg,
            lambda value: number_text(value, 2),
            drill("closed"),
        ),
        _tile(
            "csat_rate",
            "CSAT (satisfied)",
            now.csat_rate,
            before.csat_rate,
            percent_text,
            drill("satisfied"),
            f"of {now.rated} ratings",
            drill("rated"),
        ),
        _tile(
            "csat_mean",
            "CSAT (mean, 1–5)",
            now.csat_mean,
            before.csat_mean,
            lambda value: number_text(value, 2),
            drill("rated"),
        ),
        _tile(
            "csat_response_rate",
            "CSAT response rate",
            now.csat_response_rate,
            before.csat_response_rate,
            percent_text,
            drill("rated"),
            f"of {now.resolved} resolved",
            drill("resolved"),
        ),
        _tile(
            "qa_avg",
            "QA average",
            now.qa_avg,
            before.qa_avg,
            lambda value: number_text(value, 1),
            drill("qa"),
            f"{now.qa_reviews} reviews",
            drill("qa"),
        ),
        _tile(
            "qa_pass_rate",
            "QA pass rate",
            now.qa_pass_rate,
            before.qa_pass_rate,
            percent_text,
            drill("qa_passed"),
            f"of {now.qa_reviews} reviews",
            drill("qa"),
        ),
        _tile(
            "sla_hit_rate",
            "SLA hit rate",
            now.sla_hit_rate,
            before.sla_hit_rate,
            percent_text,
            drill("sla"),
            f"{now.sla_breaches} breaches of {now.sla_checks} checks",
            drill("sla"),
        ),
    ]
    for currency in sorted(set(now.currencies) | set(before.currencies)):
        tiles.append(
            _tile(
                f"cost_per_resolution_{currency}",
                f"Cost per resolution ({currency})",
                now.cost_per_resolution(currency),
                before.cost_per_resolution(currency),
                lambda value, currency=currency: (
                    "–" if value is None else money_format(round(value), currency)
                ),
                drill("resolved"),
            )
        )
    return tiles


def chart_data(metric_filter: MetricFilter, total: Figures) -> dict:
    """Per day: volume, mean wait, CSAT and QA; the handle-time distribution;
    volume per weekday × hour. JSON-ready, for the page's Chart.js script."""
    period = metric_filter.period
    days = figures_by_day(metric_filter.qs, period)

    def rounded(value, digits=1):
        return None if value is None else round(value, digits)

    return {
        "days": [day.isoformat() for day, _ in days],
        "created": [item.created for _, item in days],
        "wait_minutes": [
            rounded(item.wait_avg / 60 if item.wait_avg is not None else None) for _, item in days
        ],
        "csat_rate": [item.csat_rate for _, item in days],
        "qa_avg": [rounded(item.qa_avg) for _, item in days],
        "handle_labels": list(HANDLE_BIN_LABELS),
        "handle_counts": [count for _, count in total.handle_distribution],
    }


def heatmap(metric_filter: MetricFilter) -> list[dict]:
    """Tasks created per weekday × local hour, with a shade from 0 to 1."""
    grid = volume_by_weekday_hour(metric_filter.qs, metric_filter.period.zone)
    peak = max((max(row) for row in grid), default=0) or 1
    return [
        {
            "weekday": WEEKDAYS[index],
            "cells": [
                {"hour": hour, "count": count, "shade": round(count / peak, 2)}
                for hour, count in enumerate(row)
            ],
        }
        for index, row in enumerate(grid)
    ]


def _sort(request: HttpRequest, table: str) -> str | None:
    return request.GET.get(f"sort_{table}") or None


def _table(request: HttpRequest, metric_filter: MetricFilter, brand: Brand, name: str) -> Table:
    rows = metric_filter.rows_by(DIMENSIONS[name])
    return dashboard_table(rows, brand_id=brand.pk, name=name, sort=_sort(request, name))


def _table_view(table: Table, links: Links, params: dict, request: HttpRequest) -> dict:
    """Headers with sort links that keep the filters and the other table's order,
    and rows with a drill-down link per cell."""
    other = "gigs" if table.name == "agents" else "agents"
    keep = dict(params)
    if request.GET.get(f"sort_{other}"):
        keep[f"sort_{other}"] = request.GET[f"sort_{other}"]
    current = table.sort.lstrip("-")
    headers = []
    for key, label, short in zip(table.keys, table.headers, table.short_headers, strict=True):
        descending = key == current and not table.sort.startswith("-")
        order = f"-{key}" if (key != current and key != "label") or descending else key
        headers.append(
            {
                "key": key,
                "label": short,
                "title": label,
                "url": "?" + urlencode({**keep, f"sort_{table.name}": order}) + f"#{table.name}",
                "sorted": ("descending" if table.sort.startswith("-") else "ascending")
                if key == current
                else "",
            }
        )
    # A page of rows at a time: a pool of hundreds renders in one screenful
    # (the exports hold every row).
    page = Paginator(table.rows, TABLE_ROWS_PER_PAGE).get_page(
        request.GET.get(f"{table.name}_page")
    )
    rows = []
    for row in page.object_list:
        key = NO_AGENT if row.key is None else row.key
        extra = {"agent" if table.name == "agents" else "gig": key}
        cells = []
        for cell in row.cells:
            if cell.drill == "sla" and table.name == "agents":
                # The SLA report has no agent filter: its per-agent table is there.
                url = links.drill("sla")
            else:
                url = links.drill(cell.drill, **extra)
            cells.append({"key": cell.column, "text": cell.text, "value": cell.value, "url": url})
        rows.append({"key": row.key, "label": row.label, "cells": cells})
    query = {**keep, "table": table.name, f"sort_{table.name}": table.sort}
    base = reverse("frontend:brand_analytics", args=[links.brand.slug])
    return {
        "name": table.name,
        "headers": headers,
        "rows": rows,
        "page": page,
        "page_query": urlencode({**keep, f"sort_{table.name}": table.sort}),
        "csv_url": base + "export.csv?" + urlencode(query),
        "xlsx_url": base + "export.xlsx?" + urlencode(query),
    }


def _freshness(brand: Brand) -> str | None:
    run = last_rollup()
    if run is None:
        return None
    return run.started_at.astimezone(ZoneInfo(brand.time_zone)).strftime("%Y-%m-%d %H:%M")


def _has_figures(total: Figures) -> bool:
    return any(total.sums.values())


@require_GET
@brand_view()
def brand_analytics(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    metric_filter = _filter(request, brand)
    context = {"brand": brand, "form": metric_filter.form, "freshness": _freshness(brand)}
    if not metric_filter.is_valid():
        return render(request, "analytics/dashboard.html", context, status=400)
    params = filter_params(metric_filter)
    links = Links(brand, params)
    total = figures(metric_filter.qs)
    context["period"] = metric_filter.period
    if not _has_figures(total):
        return render(request, "analytics/dashboard.html", {**context, "empty": True})
    previous = figures(metric_filter.previous_rows())
    tables = [
        _table_view(_table(request, metric_filter, brand, name), links, params, request)
        for name in TABLES
    ]
    context.update(
        {
            "tiles": dashboard_tiles(total, previous, links),
            "charts": chart_data(metric_filter, total),
            "heatmap": heatmap(metric_filter),
            "tables": tables,
        }
    )
    return render(request, "analytics/dashboard.html", context)


def _invalid_filters(metric_filter: MetricFilter) -> HttpResponse:
    lines = [
        f"{name}: {error}" for name, errors in metric_filter.errors.items() for error in errors
    ]
    return HttpResponse(
        "\n".join(["The filters are not valid:", *lines]),
        status=400,
        content_type="text/plain; charset=utf-8",
    )


def _export(request: HttpRequest, brand: Brand, kind: str) -> HttpResponse:
    metric_filter = _filter(request, brand)
    name = request.GET.get("table", "agents")
    if name not in TABLES:
        return HttpResponse(
            "Choose table=agents or table=gigs.",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    if not metric_filter.is_valid():
        return _invalid_filters(metric_filter)
    table = _table(request, metric_filter, brand, name)
    data = metric_filter.form.cleaned_data
    filename = f"analytics-{name}-{brand.slug}-{data['start']}-{data['end']}.{kind}"
    if kind == "csv":
        response = HttpResponse(table_csv(table), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(table_xlsx(table), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@brand_view()
def brand_analytics_csv(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    return _export(request, brand, "csv")


@require_GET
@brand_view()
def brand_analytics_xlsx(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    return _export(request, brand, "xlsx")


@require_GET
@brand_view()
def brand_analytics_tasks(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    query = request.GET.copy()
    # The agent table's "no agent" row: figures nobody was assigned.
    no_agent = query.get("agent") == NO_AGENT
    if no_agent:
        query.pop("agent")
    metric_filter = MetricFilter(query, brand=brand)
    metric = request.GET.get("metric", "")
    context = {"brand": brand, "form": metric_filter.form, "metric": metric, "no_agent": no_agent}
    if not metric_filter.is_valid():
        return render(request, "analytics/tasks.html", context, status=400)
    params = filter_params(metric_filter)
    if metric in ("sla", "sla_breaches"):
        return redirect(Links(brand, params).drill("sla"))
    if metric not in METRICS:
        context["metric_error"] = "Choose a metric from the dashboard."
        return render(request, "analytics/tasks.html", context, status=400)
    period = metric_filter.period
    found = drilldown(
        brand=brand,
        metric=metric,
        start=period.start,
        end=period.end,
        no_agent=no_agent,
        **metric_filter.active_filters,
    )
    page = Paginator(found.rows, PER_PAGE).get_page(request.GET.get("page"))
    zone = period.zone
    names = agent_public_names({row.figure_agent_id for row in page if row.figure_agent_id})
    items = [
        {
            "task": row.task,
            "at": getattr(row, found.moment).astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            "agent": names.get(row.figure_agent_id, "–"),
            "score": row.score if found.is_reviews else None,
        }
        for row in page
    ]
    context.update(
        {
            "drill": found,
            "page": page,
            "items": items,
            "period": period,
            "query": urlencode(
                {**params, "metric": metric, **({"agent": NO_AGENT} if no_agent else {})}
            ),
            "dashboard_url": reverse("frontend:brand_analytics", args=[brand.slug])
            + "?"
            + urlencode(params),
        }
    )
    return render(request, "analytics/tasks.html", context)
