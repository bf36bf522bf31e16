"""Reads of the hourly roll-ups: the figures of docs/metrics.md for any
period, filter and grouping, as ratios of summed ``MetricHour`` columns.

Every reader narrows ``metric_hours`` and hands the queryset to ``figures``,
``figures_by``, ``figures_by_day`` or ``volume_by_weekday_hour``; each of
those is one aggregate query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from django.db.models import QuerySet, Sum
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncDate

from analytics.models import CREATED_BY_HOUR, HANDLE_BIN_LABELS, MetricDay, MetricHour
from analytics.rollup import MEASURES

# Figures summed per currency: never added across currencies.
MONEY_MEASURES = ("spend_minor", "earnings_minor")


def _ratio(numerator: float, denominator: float, scale: float = 1.0) -> float | None:
    """``None`` for a zero denominator: shown as "–", never as 0."""
    if not denominator:
        return None
    return numerator * scale / denominator


def _percent(numerator: float, denominator: float) -> float | None:
    value = _ratio(numerator, denominator, 100.0)
    return None if value is None else round(value, 1)


@dataclass
class Figures:
    """The summed columns of some roll-up rows, and the figures they give.

    ``sums`` adds every measure over all currencies (counts and seconds mean
    the same in any currency); ``money`` keeps per currency the sums money
    figures need (``spend_minor``, ``earnings_minor``, ``resolved``,
    ``engaged_seconds``).
    """

    sums: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MEASURES, 0))
    money: dict[str, dict[str, int]] = field(default_factory=dict)

    def add_row(self, row: Mapping[str, int | str | None]) -> None:
        for name in MEASURES:
            self.sums[name] += row[name] or 0
        currency = row.get("currency")
        if currency:
            money = self.money.setdefault(
                currency,
                {"spend_minor": 0, "earnings_minor": 0, "resolved": 0, "engaged_seconds": 0},
            )
            for name in money:
                money[name] += row[name] or 0

    def __getattr__(self, name: str) -> int:
        # Summed columns read as attributes: ``figures.created``.
        sums = self.__dict__.get("sums")
        if sums is not None and name in sums:
            return sums[name]
        raise AttributeError(name)

    # --- volume and time ------------------------------------------------------
    @property
    def wait_avg(self) -> float | None:
        return _ratio(self.sums["wait_seconds"], self.sums["waits"])

    @property
    def total_wait_avg(self) -> float | None:
        return _ratio(self.sums["total_wait_seconds"], self.sums["created"])

    @property
    def first_response_avg(self) -> float | None:
        return _ratio(self.sums["first_response_seconds"], self.sums["first_responses"])

    @property
    def next_response_avg(self) -> float | None:
        return _ratio(self.sums["next_response_seconds"], self.sums["next_responses"])

    @property
    def handle_avg(self) -> float | None:
        """Billable seconds per closed task that was worked on."""
        return _ratio(self.sums["handle_seconds"], self.sums["handled"])

    # --- outcomes ---------------------------------------------------------------
    @property
    def resolution_rate(self) -> float | None:
        return _percent(self.sums["resolved"], self.sums["closed"])

    @property
    def escalation_rate(self) -> float | None:
        return _percent(self.sums["escalated"], self.sums["closed"])

    @property
    def fcr_rate(self) -> float | None:
        return _percent(self.sums["first_contact_resolutions"], self.sums["resolved"])

    @property
    def back_and_forths_avg(self) -> float | None:
        return _ratio(self.sums["back_and_forths"], self.sums["closed"])

    # --- customers and quality -----------------------------------------------------
    @property
    def csat_rate(self) -> float | None:
        return _percent(self.sums["satisfied"], self.sums["rated"])

    @property
    def csat_mean(self) -> float | None:
        return _ratio(self.sums["csat_points"], self.sums["rated"])

    @property
    def csat_response_rate(self) -> float | None:
        return _percent(self.sums["rated"], self.sums["resolved"])

    @property
    def qa_avg(self) -> float | None:
        return _ratio(self.sums["qa_score_tenths"], self.sums["qa_reviews"] * 10)

    @property
    def qa_pass_rate(self) -> float | None:
        return _percent(self.sums["qa_passed"], self.sums["qa_reviews"])

    @property
    def sla_hit_rate(self) -> float | None:
        return _percent(
            self.sums["sla_checks"] - self.sums["sla_breaches"], self.sums["sla_checks"]
        )

    # --- money ----------------------------------------------------------------------
    @property
    def currencies(self) -> list[str]:
        return sorted(self.money)

    def cost_per_resolution(self, currency: str) -> float | None:
        """Minor units of ``currency`` spent per resolution (tasks of that currency)."""
        money = self.money.get(currency)
        return None if money is None else _ratio(money["spend_minor"], money["resolved"])

    def earnings_per_engaged_hour(self, currency: str) -> float | None:
        money = self.money.get(currency)
        if money is None:
            return None
        return _ratio(money["earnings_minor"], money["engaged_seconds"], 3600.0)

    @property
    def handle_distribution(self) -> list[tuple[str, int]]:
        return [
            (label, self.sums[f"handle_bin_{index}"])
            for index, label in enumerate(HANDLE_BIN_LABELS)
        ]

    def as_dict(self) -> dict:
        """Every figure, for exports and the API (``None`` where undefined)."""
        return {
            "tasks_created": self.sums["created"],
            "tasks_closed": self.sums["closed"],
            "tasks_resolved": self.sums["resolved"],
            "tasks_escalated": self.sums["escalated"],
            "tasks_cancelled": self.sums["cancelled"],
            "wait_seconds_avg": _round(self.wait_avg),
            "total_wait_seconds_avg": _round(self.total_wait_avg),
            "first_response_seconds_avg": _round(self.first_response_avg),
            "next_response_seconds_avg": _round(self.next_response_avg),
            "handle_seconds_avg": _round(self.handle_avg),
            "resolution_rate": self.resolution_rate,
            "escalation_rate": self.escalation_rate,
            "first_contact_resolution_rate": self.fcr_rate,
            "back_and_forths_avg": _round(self.back_and_forths_avg, 2),
            "csat_rate": self.csat_rate,
            "csat_mean": _round(self.csat_mean, 2),
            "csat_responses": self.sums["rated"],
            "csat_response_rate": self.csat_response_rate,
            "qa_reviews": self.sums["qa_reviews"],
            "qa_average": _round(self.qa_avg, 1),
            "qa_pass_rate": self.qa_pass_rate,
            "sla_checks": self.sums["sla_checks"],
            "sla_breaches": self.sums["sla_breaches"],
            "sla_hit_rate": self.sla_hit_rate,
            "offers_missed": self.sums["offers_missed"],
            "work_sessions": self.sums["sessions"],
            "billable_seconds": self.sums["billable_seconds"],
            "engaged_seconds": self.sums["engaged_seconds"],
            "money": [
                {
                    "currency": currency,
                    "spend_minor": self.money[currency]["spend_minor"],
                    "cost_per_resolution_minor": _round(self.cost_per_resolution(currency)),
                    "earnings_minor": self.money[currency]["earnings_minor"],
                    "earnings_per_engaged_hour_minor": _round(
                        self.earnings_per_engaged_hour(currency)
                    ),
                }
                for currency in self.currencies
            ],
        }


def _round(value: float | None, digits: int = 0) -> float | int | None:
    if value is None:
        return None
    return round(value) if digits == 0 else round(value, digits)


# --- periods ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole local days, ``first`` to ``last`` included, in a brand's zone."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=self.zone)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(
            self.first - timedelta(days=self.days), self.first - timedelta(days=1), self.zone
        )

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=offset) for offset in range(self.days)]


# --- reads -------------------------------------------------------------------------------


def metric_hours(
    *,
    start: datetime,
    end: datetime,
    brand_ids: Iterable[int] | None = None,
    gig_ids: Iterable[int] | None = None,
    languages: Iterable[str] | None = None,
    agent_ids: Iterable[int] | None = None,
) -> QuerySet[MetricHour]:
    """Roll-up rows of hours starting in [start, end), narrowed by each filter given."""
    rows = MetricHour.objects.filter(hour__gte=start, hour__lt=end)
    if brand_ids is not None:
        rows = rows.filter(brand_id__in=list(brand_ids))
    if gig_ids is not None:
        rows = rows.filter(gig_id__in=list(gig_ids))
    if languages is not None:
        rows = rows.filter(language__in=list(languages))
    if agent_ids is not None:
        rows = rows.filter(agent_id__in=list(agent_ids))
    return rows


def metric_days(
    *,
    first: date,
    last: date,
    brand_ids: Iterable[int] | None = None,
    gig_ids: Iterable[int] | None = None,
    languages: Iterable[str] | None = None,
    agent_ids: Iterable[int] | None = None,
    per_agent: bool = False,
) -> QuerySet[MetricDay]:
    """Daily roll-up rows of local days ``first`` to ``last`` (included).

    Rows over all agents unless ``agent_ids`` is given or ``per_agent`` asked
    for (to group by agent): never both kinds, which would count twice.
    """
    rows = MetricDay.objects.filter(
        day__gte=first, day__lte=last, all_agents=agent_ids is None and not per_agent
    )
    if brand_ids is not None:
        rows = rows.filter(brand_id__in=list(brand_ids))
    if gig_ids is not None:
        rows = rows.filter(gig_id__in=list(gig_ids))
    if languages is not None:
        rows = rows.filter(language__in=list(languages))
    if agent_ids is not None:
        rows = rows.filter(agent_id__in=list(agent_ids))
    return rows


def _summed(rows: QuerySet, *group_by: str) -> QuerySet:
    return (
        rows.order_by()
        .values(*group_by, "currency")
        .annotate(**{name: Sum(name) for name in MEASURES})
    )


def figures(rows: QuerySet[MetricHour]) -> Figures:
    """The figures of all ``rows`` together (one query)."""
    total = Figures()
    for row in _summed(rows):
        total.add_row(row)
    return total


def figures_by(rows: QuerySet[MetricHour], dimension: str) -> dict:
    """Figures per value of ``dimension`` (``gig_id``, ``agent_id``,
    ``language``, ``brand_id``), in one query."""
    grouped: dict = defaultdict(Figures)
    for row in _summed(rows, dimension):
        grouped[row[dimension]].add_row(row)
    return dict(grouped)


def figures_by_day(rows: QuerySet[MetricHour], period: Period) -> list[tuple[date, Figures]]:
    """Figures per local day of ``period``, every day present (empty ones too)."""
    by_day: dict[date, Figures] = defaultdict(Figures)
    days = (
        rows
        if rows.model is MetricDay
        else rows.annotate(day=TruncDate("hour", tzinfo=period.zone))
    )
    for row in _summed(days, "day"):
        by_day[row["day"]].add_row(row)
    return [(day, by_day.get(day) or Figures()) for day in period.dates()]


def volume_by_weekday_hour(rows: QuerySet, zone: ZoneInfo) -> list[list[int]]:
    """Tasks created per local weekday (0 = Monday) × hour of day: 7 rows of 24.

    Daily rows carry their hours as columns (one aggregate, no time-zone
    arithmetic per row); hourly rows are converted to the brand's zone."""
    grid = [[0] * 24 for _ in range(7)]
    if rows.model is MetricDay:
        cells = (
            rows.annotate(weekday=ExtractIsoWeekDay("day"))
            .order_by()
            .values("weekday")
            .annotate(**{name: Sum(name) for name in CREATED_BY_HOUR})
        )
        for cell in cells:
            for hour, name in enumerate(CREATED_BY_HOUR):
                grid[cell["weekday"] - 1][hour] += cell[name] or 0
        return grid
    cells = (
        rows.annotate(
            weekday=ExtractIsoWeekDay("hour", tzinfo=zone),
            local_hour=ExtractHour("hour", tzinfo=zone),
        )
        .order_by()
        .values("weekday", "local_hour")
        .annotate(created=Sum("created"))
    )
    for cell in cells:
        grid[cell["weekday"] - 1][cell["local_hour"]] += cell["created"] or 0
    return grid


def change(current: float | None, previous: float | None) -> float | None:
    """Relative change in percent against the previous period; ``None`` when
    either side is undefined or the previous is zero."""
    if current is None or previous is None or previous == 0:
        return None
    return round(100 * (current - previous) / abs(previous), 1)


def gig_median(per_agent: Mapping[int, Figures], figure: str) -> float | None:
    """The median over a gig's agents of one figure (agents without it left out)."""
    values = [getattr(item, figure) for item in per_agent.values()]
    values = [value for value in values if value is not None]
    return median(values) if values else None
