"""Live views: a brand's queues right now, and every brand's for platform staff.

The figures are a partial that htmx fetches again every couple of seconds, so
the page updates without a reload and without a WebSocket: the database is the
record, and each refresh reads it (expiring overdue leases on the way).
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from analytics.exports import duration_text
from brands.models import Brand
from frontend.views.access import brand_view, staff_view
from gigs.selectors import brand_live_stats, platform_live_stats
from gigs.sla_selectors import sla_at_risk

BRANDS_PER_PAGE = 50


def wait_label(seconds: int | None) -> str:
    """``75`` → ``"1 min 15 s"``; ``None`` (nobody waiting) → ``""``."""
    return "" if seconds is None else duration_text(seconds)


def _with_labels(row: dict[str, Any]) -> dict[str, Any]:
    row["oldest_wait"] = wait_label(row["oldest_wait_seconds"])
    return row


def _is_partial(request: HttpRequest) -> bool:
    # A history restore (back button) needs the whole page.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _brand_stats(brand: Brand) -> dict[str, Any]:
    stats = _with_labels(brand_live_stats(brand=brand))
    for row in stats["gigs"]:
        _with_labels(row)
        wait = row["oldest_wait_seconds"]
        row["over_sla"] = wait is not None and wait > row["gig"].sla_first_response_seconds
    stats["at_risk"] = sla_at_risk(brand, as_of=stats["as_of"])
    for row in stats["at_risk"]:
        left = (row["check"].due_at - stats["as_of"]).total_seconds()
        row["time_label"] = wait_label(int(abs(left)))
    return stats


@brand_view()
@require_GET
@never_cache
def brand_live(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    context = {"brand": brand, "role": role, "stats": _brand_stats(brand)}
    template = "live/brand_live_figures.html" if _is_partial(request) else "live/brand_live.html"
    return render(request, template, context)


@brand_view()
@require_GET
@never_cache
def brand_live_summary(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    """The four headline figures, for the top of the brand overview."""
    stats = _with_labels(brand_live_stats(brand=brand))
    return render(request, "live/brand_live_summary.html", {"brand": brand, "stats": stats})


@staff_view
@require_GET
@never_cache
def staff_live(request: HttpRequest) -> HttpResponse:
    stats = platform_live_stats()
    _with_labels(stats["totals"])
    page = Paginator(stats["brands"], BRANDS_PER_PAGE).get_page(request.GET.get("page"))
    for row in page:
        _with_labels(row)
    context = {"stats": stats, "totals": stats["totals"], "page": page}
    template = "live/staff_live_figures.html" if _is_partial(request) else "live/staff_live.html"
    return render(request, template, context)
