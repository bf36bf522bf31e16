"""Results of an assessment: attempts, pass rate, score distribution (a chart
and the same numbers as a table), levels, time taken, and per-question
statistics to spot broken questions.

Staff see every assessment's results; a brand's members see only their
brand's own assessments (another brand's, and platform ones, are 404).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from assessments.models import Assessment, VersionStatus
from assessments.stats import (
    SUSPICIOUS_ABOVE,
    SUSPICIOUS_BELOW,
    SUSPICIOUS_MIN_ANSWERS,
    assessment_results,
    question_stats,
)
from brands.models import Brand
from frontend.views.access import brand_view, staff_view

QUESTIONS_PER_PAGE = 50
# ?sort= values for the per-question table: bank order, or by percent right.
SORTS = {"": "Bank order", "percent": "Percent right, lowest first", "-percent": "Highest first"}


def _duration_label(duration) -> str:
    if duration is None:
        return ""
    seconds = int(duration.total_seconds())
    return f"{round(seconds / 60)} min" if seconds >= 60 else f"{seconds} s"


def _sorted(stats, sort: str):
    if sort not in ("percent", "-percent"):
        return stats
    scored = [s for s in stats if s.percent_right is not None]
    unscored = [s for s in stats if s.percent_right is None]
    scored.sort(key=lambda s: s.percent_right, reverse=sort == "-percent")
    # Questions nobody answered yet have no percent: last either way.
    return scored + unscored


def _results_page(request: HttpRequest, assessment: Assessment, *, context: dict) -> HttpResponse:
    versions = list(assessment.versions.exclude(status=VersionStatus.DRAFT).order_by("-number"))
    requested = request.GET.get("version", "")
    version = next((v for v in versions if str(v.number) == requested), None)
    sort = request.GET.get("sort", "")
    sort = sort if sort in SORTS else ""

    results = assessment_results(assessment=assessment, version=version)
    stats = _sorted(question_stats(assessment=assessment, version=version), sort)
    page = Paginator(stats, QUESTIONS_PER_PAGE).get_page(request.GET.get("page"))
    keep = {"version": version.number} if version else {}
    context.update(
        {
            "assessment": assessment,
            "versions": versions,
            "version": version,
            "results": results,
            "average_time_label": _duration_label(results.average_time),
            "questions_page": page,
            "suspicious_count": sum(1 for s in stats if s.suspicious),
            "several_versions": version is None and len({s.version_number for s in stats}) > 1,
            "sort": sort,
            "sorts": SORTS,
            "version_query": urlencode(keep),
            "page_query": urlencode({**keep, **({"sort": sort} if sort else {})}),
            "chart_data": {
                "labels": [bucket.label for bucket in results.score_buckets],
                "counts": [bucket.count for bucket in results.score_buckets],
            },
            "suspicious_below": SUSPICIOUS_BELOW,
            "suspicious_above": SUSPICIOUS_ABOVE,
            "suspicious_min_answers": SUSPICIOUS_MIN_ANSWERS,
        }
    )
    return render(request, "assessments/results.html", context)


@staff_view
def staff_assessment_results(request: HttpRequest, assessment_slug: str) -> HttpResponse:
    assessment = Assessment.objects.select_related("brand").filter(slug=assessment_slug).first()
    if assessment is None:
        raise Http404("No such assessment.")
    return _results_page(
        request,
        assessment,
        context={
            "brand": None,
            "results_url": reverse("frontend:staff_assessment_results", args=[assessment.slug]),
        },
    )


@brand_view()
def brand_assessment_results(
    request: HttpRequest, *, brand: Brand, role: str, assessment_slug: str
) -> HttpResponse:
    # Only the brand's own: platform results are for staff.
    assessment = Assessment.objects.for_brand(brand).filter(slug=assessment_slug).first()
    if assessment is None:
        raise Http404("No such assessment.")
    return _results_page(
        request,
        assessment,
        context={
            "brand": brand,
            "results_url": reverse(
                "frontend:brand_assessment_results", args=[brand.slug, assessment.slug]
            ),
        },
    )
