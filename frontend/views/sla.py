"""The brand's SLA report: checks, breaches and breach rates per gig and per
agent for a date range, and the breaches as CSV.

Every member of the brand may read it (it changes nothing). The figures come
from ``gigs.sla_selectors.sla_report``, which computes each task's checks from
its events; the CSV has the breaches table's rows, with the same filters.
"""

from __future__ import annotations

import csv
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from brands.models import Brand
from frontend.forms.sla import SLAReportForm
from frontend.views.access import brand_view
from frontend.views.live import wait_label
from gigs.sla_selectors import SLAReport, TaskCheck, sla_report

PER_PAGE = 25
BREACH_COLUMNS = ["Task", "Subject", "Gig", "Target", "Due", "Done", "Late by", "Responsible"]


class _Echo:
    """A file-like object whose write returns the line, for csv.writer into a stream."""

    def write(self, value: str) -> str:
        return value


def _csv_cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (a subject is customer text)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _form(request: HttpRequest, brand: Brand) -> SLAReportForm:
    today = timezone.now().astimezone(ZoneInfo(brand.time_zone)).date()
    return SLAReportForm(request.GET, brand=brand, today=today)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def breach_cells(item: TaskCheck, report: SLAReport, zone: ZoneInfo) -> list[str]:
    """One breach as the table and the CSV both show it (``BREACH_COLUMNS``)."""
    check = item.check
    if check.done_at is not None:
        done = _local(check.done_at, zone)
    elif check.stopped_at is not None:
        done = f"Never: closed {_local(check.stopped_at, zone)}"
    else:
        done = "Not yet"
    return [
        f"#{item.task_id}",
        item.subject,
        report.gig_titles.get(item.gig_id, ""),
        check.kind_label,
        _local(check.due_at, zone),
        done,
        wait_label(check.late_seconds),
        report.agent_label(check.agent_id),
    ]


def _report(form: SLAReportForm, brand: Brand) -> SLAReport:
    start, end = form.bounds()
    return sla_report(
        brand, start=start, end=end, as_of=timezone.now(), gig=form.cleaned_data["gig"]
    )


@require_GET
@brand_view()
def brand_sla_report(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    form = _form(request, brand)
    context = {"brand": brand, "form": form}
    if not form.is_valid():
        return render(request, "sla/report.html", context, status=400)
    report = _report(form, brand)
    zone = ZoneInfo(brand.time_zone)
    page = Paginator(report.breaches, PER_PAGE).get_page(request.GET.get("page"))
    filters = urlencode(form.query())
    context.update(
        {
            "report": report,
            "page": page,
            "breach_columns": BREACH_COLUMNS,
            "breach_rows": [
                {"task_id": item.task_id, "cells": breach_cells(item, report, zone)}
                for item in page
            ],
            "filters": filters,
            "export_url": reverse("frontend:brand_sla_export", args=[brand.slug]) + "?" + filters,
        }
    )
    return render(request, "sla/report.html", context)


@require_GET
@brand_view()
def brand_sla_export(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    form = _form(request, brand)
    if not form.is_valid():
        return HttpResponse(
            "\n".join(["The filters are not valid:", *form.error_lines()]),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    report = _report(form, brand)
    zone = ZoneInfo(brand.time_zone)
    writer = csv.writer(_Echo())
    rows = (
        [_csv_cell(cell) for cell in breach_cells(item, report, zone)] for item in report.breaches
    )
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in [BREACH_COLUMNS, *rows]),
        content_type="text/csv; charset=utf-8",
    )
    params = form.query()
    name = f"sla-breaches-{brand.slug}-{params['start']}-{params['end']}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
