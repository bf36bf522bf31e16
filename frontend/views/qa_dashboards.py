"""QA dashboards and the QA CSV export.

brands/<slug>/qa/dashboard/ is for every member of the brand (viewers read
it too: it changes nothing); staff/qa/dashboard/ covers every brand, with a
brand filter. Every figure comes from ``qa.dashboards``, aggregated in SQL,
so the page makes the same queries however many reviews there are. The
export streams one row per submitted review of the same scope.
"""

from __future__ import annotations

import csv
from datetime import timedelta
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from brands.models import Brand
from frontend.views.access import brand_view, staff_view
from qa import dashboards

PER_PAGE = 25
# Days shown by the tables and figures; the trend always covers 12 weeks.
PERIODS = {"30": 30, "90": 90, "365": 365, "all": None}
DEFAULT_PERIOD = "90"
PERIOD_LABELS = {
    "30": "Last 30 days",
    "90": "Last 90 days",
    "365": "Last 12 months",
    "all": "All time",
}


class _Echo:
    """A file-like object whose write returns the line, for csv.writer into a stream."""

    def write(self, value: str) -> str:
        return value


def _query_without(request: HttpRequest, name: str) -> str:
    kept = [(key, value) for key, value in request.GET.items() if key != name and value]
    return urlencode(kept)


def _page(request: HttpRequest, rows, param: str):
    return Paginator(rows, PER_PAGE).get_page(request.GET.get(param))


def _dashboard(request: HttpRequest, *, brand: Brand | None, context: dict) -> HttpResponse:
    now = timezone.now()
    period = request.GET.get("period", DEFAULT_PERIOD)
    if period not in PERIODS:
        period = DEFAULT_PERIOD
    days = PERIODS[period]
    in_period = dashboards.counted_reviews(
        brand=brand, since=None if days is None else now - timedelta(days=days)
    )
    agents = _page(request, dashboards.agent_rows(in_period), "agents_page")
    gigs = _page(request, dashboards.gig_rows(in_period), "gigs_page")
    reviewers = _page(request, dashboards.reviewer_rows(in_period), "reviewers_page")
    trend = dashboards.weekly_trend(dashboards.counted_reviews(brand=brand), now=now)
    context.update(
        {
            "brand": brand,
            "period": period,
            "periods": PERIOD_LABELS.items(),
            "period_label": PERIOD_LABELS[period],
            "summary": dashboards.summary(in_period),
            "agents": agents,
            "agent_rows": dashboards.outcome_rows(agents),
            "gigs": gigs,
            "gig_rows": dashboards.outcome_rows(gigs),
            "reviewers": reviewers,
            "reviewer_rows": dashboards.reviewer_outcomes(reviewers),
            "categories": dashboards.category_breakdown(in_period),
            "trend": trend,
            "trend_has_reviews": any(week.reviews for week in trend),
            "chart_data": {
                "labels": [week.label for week in trend],
                "scores": [
                    None if week.mean_score is None else float(week.mean_score) for week in trend
                ],
            },
            "query": {
                name: _query_without(request, name)
                for name in ("agents_page", "gigs_page", "reviewers_page")
            },
        }
    )
    return render(request, "qa/dashboards/dashboard.html", context)


@require_GET
@brand_view()
def brand_qa_dashboard(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    return _dashboard(
        request,
        brand=brand,
        context={"export_url": reverse("frontend:brand_qa_export", args=[brand.slug])},
    )


def _staff_brand(request: HttpRequest) -> Brand | None:
    slug = request.GET.get("brand", "")
    return Brand.objects.filter(slug=slug).first() if slug else None


@require_GET
@staff_view
def staff_qa_dashboard(request: HttpRequest) -> HttpResponse:
    brand = _staff_brand(request)
    export_url = reverse("frontend:staff_qa_export")
    if brand is not None:
        export_url += "?" + urlencode({"brand": brand.slug})
    return _dashboard(
        request,
        brand=brand,
        context={
            "staff": True,
            "brands": Brand.objects.order_by("name").only("name", "slug"),
            "export_url": export_url,
        },
    )


def _export(*, brand: Brand | None) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    stamp = timezone.localtime().strftime("%Y%m%d")
    name = f"qa-reviews-{brand.slug if brand else 'all-brands'}-{stamp}.csv"
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in dashboards.export_rows(brand=brand)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
@brand_view()
def brand_qa_export(request: HttpRequest, *, brand: Brand, role: str) -> StreamingHttpResponse:
    return _export(brand=brand)


@require_GET
@staff_view
def staff_qa_export(request: HttpRequest) -> StreamingHttpResponse:
    return _export(brand=_staff_brand(request))
