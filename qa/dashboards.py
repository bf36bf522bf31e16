"""Reads for the QA dashboards and the CSV export: every figure is aggregated
in SQL, so a dashboard makes the same few queries at ten reviews or a million.

Only submitted, non-calibration reviews count, at their current values (the
latest revision's, which ``Review`` carries). The scope is one brand, or
every brand (``brand=None``) for staff; callers check access first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from django.db.models import Avg, Count, F, FloatField, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, TruncWeek
from django.utils import timezone

from qa.models import DisputeDecision, Review, ReviewStatus, ScorecardCategory
from qa.scoring import round_half_up, scale_bounds

TREND_WEEKS = 12


def counted_reviews(*, brand=None, since: datetime | None = None) -> QuerySet[Review]:
    """Submitted, non-calibration reviews of ``brand`` (every brand for None)."""
    reviews = Review.objects.filter(status=ReviewStatus.SUBMITTED, is_calibration=False)
    if brand is not None:
        reviews = reviews.filter(brand=brand)
    if since is not None:
        reviews = reviews.filter(submitted_at__gte=since)
    return reviews


def _percent(part: int, whole: int) -> Decimal | None:
    return None if not whole else round_half_up(Fraction(100 * part, whole))


def _mean(value) -> Decimal | None:
    """A database average (float or Decimal) shown with one decimal, half up."""
    return None if value is None else round_half_up(Fraction(str(value)))


_OUTCOMES = {
    "reviews": Count("id"),
    "scored": Count("score"),
    "mean_raw": Avg("score"),
    "passed": Count("id", filter=Q(passed=True)),
    "critical_fails": Count("id", filter=Q(critical_fail=True)),
}


def agent_public_name(display_name: str | None, full_name: str | None) -> str:
    """``User.public_name`` from queried columns: brands never see an agent's email."""
    if display_name:
        return display_name
    return full_name.split(" ")[0] if full_name else "Agent"


def _outcome_row(row: dict) -> dict:
    row["mean_score"] = _mean(row.pop("mean_raw"))
    row["pass_rate"] = _percent(row["passed"], row["scored"])
    return row


def agent_rows(reviews: QuerySet[Review]) -> QuerySet:
    """Per agent: reviews, mean score, passes, critical fails; most reviewed first.

    A values queryset: paginate it, then ``outcome_rows`` the page."""
    return (
        reviews.values("agent_id", "agent__agent_profile__display_name", "agent__full_name")
        .annotate(**_OUTCOMES)
        .order_by("-reviews", "agent_id")
    )


def gig_rows(reviews: QuerySet[Review]) -> QuerySet:
    return (
        reviews.values("gig_id", "gig__title", "brand__name")
        .annotate(**_OUTCOMES)
        .order_by("-reviews", "gig__title", "gig_id")
    )


def outcome_rows(rows) -> list[dict]:
    """Rows of ``agent_rows`` / ``gig_rows`` with the mean rounded and the pass rate."""
    result = []
    for row in rows:
        row = _outcome_row(dict(row))
        if "agent_id" in row:
            row["agent_name"] = agent_public_name(
                row["agent__agent_profile__display_name"], row["agent__full_name"]
            )
        result.append(row)
    return result


def reviewer_rows(reviews: QuerySet[Review]) -> QuerySet:
    """Per reviewer: volume, reviews submitted by their assignment's due time, and
    disputes decided on their reviews with how many were amended."""
    return (
        reviews.values("reviewer_id", "reviewer__full_name", "reviewer__email")
        .annotate(
            reviews=Count("id"),
            with_sla=Count("id", filter=Q(assignment__isnull=False)),
            on_time=Count("id", filter=Q(submitted_at__lte=F("assignment__due_at"))),
            disputes_decided=Count("id", filter=Q(dispute__decided_at__isnull=False)),
            amended=Count("id", filter=Q(dispute__decision=DisputeDecision.AMEND)),
        )
        .order_by("-reviews", "reviewer__full_name", "reviewer_id")
    )


def reviewer_outcomes(rows) -> list[dict]:
    result = []
    for row in rows:
        row = dict(row)
        row["reviewer_name"] = row["reviewer__full_name"] or row["reviewer__email"]
        row["sla_hit_rate"] = _percent(row["on_time"], row["with_sla"])
        row["amend_rate"] = _percent(row["amended"], row["disputes_decided"])
        result.append(row)
    return result


@dataclass(frozen=True)
class CategoryFigure:
    key: str
    name: str
    rated: int  # reviews that rated it (N/A and not rated leave it out)
    mean_value: Decimal | None  # mean raw v as a percentage: 0 = bottom of the scale


def category_breakdown(reviews: QuerySet[Review]) -> list[CategoryFigure]:
    """Mean raw v per category key across every scorecard version in ``reviews``.

    Three queries whatever the number of reviews: the versions' categories,
    then one grouped query averaging each key's rating per version (N/A, a
    JSON null, and absent keys left out). v is linear in the rating, so the mean v of a
    version is (mean rating − min)/(max − min); versions are then weighed by
    how many reviews rated the category.
    """
    version_ids = list(reviews.order_by().values_list("scorecard_version_id", flat=True).distinct())
    categories = list(
        ScorecardCategory.objects.filter(version_id__in=version_ids).order_by(
            "version__scorecard_id", "-version__number", "order"
        )
    )
    if not categories:
        return []
    keys = list(dict.fromkeys(category.key for category in categories))
    aliases = {key: f"c{index}" for index, key in enumerate(keys)}
    aggregates = {}
    for key, alias in aliases.items():
        rating = Cast(KeyTextTransform(key, "ratings"), FloatField())
        # SQLite reads a JSON null (N/A) as the text "null", which casts to 0.
        rated = Q(ratings__has_key=key) & ~Q(**{f"ratings__{key}": None})
        aggregates[f"{alias}_mean"] = Avg(rating, filter=rated)
        aggregates[f"{alias}_n"] = Count("id", filter=rated)
    grouped = {
        row["scorecard_version_id"]: row
        for row in reviews.order_by()
        .values("scorecard_version_id")
        .annotate(**aggregates)
        .values("scorecard_version_id", *aggregates)
    }
    totals: dict[str, tuple[Fraction, int]] = {key: (Fraction(0), 0) for key in keys}
    names: dict[str, str] = {}
    for category in categories:
        names.setdefault(category.key, category.name)
        row = grouped.get(category.version_id)
        alias = aliases[category.key]
        count = row[f"{alias}_n"] if row else 0
        if not count:
            continue
        low, high = scale_bounds(category.scale)
        mean_value = (Fraction(str(row[f"{alias}_mean"])) - low) / (high - low)
        weighted, rated = totals[category.key]
        totals[category.key] = (weighted + mean_value * count, rated + count)
    return [
        CategoryFigure(
            key=key,
            name=names[key],
            rated=totals[key][1],
            mean_value=round_half_up(100 * totals[key][0] / totals[key][1])
            if totals[key][1]
            else None,
        )
        for key in keys
    ]


@dataclass(frozen=True)
class WeekFigure:
    label: str  # ISO week, e.g. 2026-W48
    starts: date
    reviews: int
    mean_score: Decimal | None


def weekly_trend(reviews: QuerySet[Review], *, now: datetime) -> list[WeekFigure]:
    """Mean score per ISO week over the last ``TREND_WEEKS`` weeks, this one included,
    oldest first; weeks without reviews are there with no mean."""
    today = timezone.localtime(now).date()
    this_monday = today - timedelta(days=today.weekday())
    first_monday = this_monday - timedelta(weeks=TREND_WEEKS - 1)
    start = timezone.make_aware(datetime.combine(first_monday, datetime.min.time()))
    rows = (
        reviews.filter(submitted_at__gte=start)
        .order_by()
        .annotate(week=TruncWeek("submitted_at"))
        .values("week")
        .annotate(reviews=Count("id"), mean_raw=Avg("score"))
    )
    by_week = {}
    for row in rows:
        week = row["week"]
        monday = week.date() if isinstance(week, datetime) else week
        by_week[monday] = row
    figures = []
    for offset in range(TREND_WEEKS):
        monday = first_monday + timedelta(weeks=offset)
        row = by_week.get(monday)
        year, week_number, _ = monday.isocalendar()
        figures.append(
            WeekFigure(
                label=f"{year}-W{week_number:02d}",
                starts=monday,
                reviews=row["reviews"] if row else 0,
                mean_score=_mean(row["mean_raw"]) if row else None,
            )
        )
    return figures


@dataclass(frozen=True)
class Summary:
    reviews: int
    mean_score: Decimal | None
    pass_rate: Decimal | None
    critical_fails: int


def summary(reviews: QuerySet[Review]) -> Summary:
    totals = reviews.order_by().aggregate(**_OUTCOMES)
    return Summary(
        reviews=totals["reviews"],
        mean_score=_mean(totals["mean_raw"]),
        pass_rate=_percent(totals["passed"], totals["scored"]),
        critical_fails=totals["critical_fails"],
    )


# --- CSV export ------------------------------------------------------------------------

EXPORT_HEADER = [
    "review id",
    "task id",
    "brand",
    "gig",
    "agent id",
    "agent",
    "reviewer",
    "scorecard",
    "scorecard version",
    "submitted at",
    "score",
    "passed",
    "critical fail",
]
EXPORT_BATCH = 2000


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def export_rows(*, brand=None) -> Iterator[list[str]]:
    """The header, then one row per counted review (current values), oldest first.

    One rating column per category key met in the scope, in scorecard order:
    the raw rating, "N/A", or empty when the review's scorecard has no such
    category. Reviewer names are shown: the export is for the brand's own
    members and staff, who see them on every page too. Rows stream from a
    server-side cursor in batches, so a big export never sits in memory.
    """
    reviews = counted_reviews(brand=brand)
    version_ids = reviews.order_by().values_list("scorecard_version_id", flat=True).distinct()
    keys = list(
        dict.fromkeys(
            ScorecardCategory.objects.filter(version_id__in=version_ids)
            .order_by("version__scorecard_id", "-version__number", "order")
            .values_list("key", flat=True)
        )
    )
    yield EXPORT_HEADER + [f"rating: {key}" for key in keys]
    rows = (
        reviews.order_by("submitted_at", "id")
        .values_list(
            "id",
            "task_id",
            "brand__name",
            "gig__title",
            "agent_id",
            "agent__agent_profile__display_name",
            "agent__full_name",
            "reviewer__full_name",
            "reviewer__email",
            "scorecard_version__scorecard__name",
            "scorecard_version__number",
            "submitted_at",
            "score",
            "passed",
            "critical_fail",
            "ratings",
        )
        .iterator(chunk_size=EXPORT_BATCH)
    )
    for row in rows:
        review_id, task_id, brand_name, gig, agent_id, agent_display, agent_full = row[:7]
        reviewer_name, reviewer_email, scorecard, number, submitted_at = row[7:12]
        score, passed, critical, ratings = row[12:16]
        ratings = ratings or {}
        cells = [
            str(review_id),
            str(task_id),
            brand_name,
            gig,
            str(agent_id),
            agent_public_name(agent_display, agent_full),
            reviewer_name or reviewer_email,
            scorecard,
            str(number),
            timezone.localtime(submitted_at).isoformat(timespec="seconds") if submitted_at else "",
            "" if score is None else str(score),
            _yes_no(passed),
            _yes_no(critical),
        ]
        for key in keys:
            if key not in ratings:
                cells.append("")
            elif ratings[key] is None:
                cells.append("N/A")
            else:
                cells.append(str(ratings[key]))
        yield cells
