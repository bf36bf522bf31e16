"""Reads of the platform's own figures for the staff console: money moved,
agents at work, payouts waiting or failed, QA work overdue and SLA breaches.

Read-only selectors over the ledger's earnings, work sessions, pay run lines,
QA disputes and assignments and the hourly roll-ups; each figure is one
query, whatever the number of brands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, F, Q, Sum
from django.urls import reverse

from analytics.selectors import metric_days
from brands.models import Brand
from gigs.models import WorkSession
from payouts.models import PAYRUN_LINE_UNFINISHED, Earning, EarningStatus, PayRunLine
from payouts.models import PayRunLineStatus as LineStatus
from qa.models import Dispute, ReviewAssignment


def brand_dashboard_path(brand: Brand) -> str:
    """The brand's analytics dashboard (``/brands/<slug>/analytics/``)."""
    return reverse("frontend:brand_analytics", args=[brand.slug])


@dataclass(frozen=True)
class PayoutTotal:
    """Pay run lines in one state and currency: how many and how much."""

    currency: str
    count: int
    amount_minor: int


@dataclass
class PlatformFigures:
    """The platform's figures for a period (``start``–``end``) and as of ``now``.

    Money is per currency (``{currency: minor units}``), never summed across
    currencies. Payouts and overdue QA work are the state as of ``now``:
    they are queues to act on, not history.
    """

    gross_volume: dict[str, int] = field(default_factory=dict)
    fees: dict[str, int] = field(default_factory=dict)
    active_agents: int = 0
    payouts_pending: list[PayoutTotal] = field(default_factory=list)
    payouts_failed: list[PayoutTotal] = field(default_factory=list)
    overdue_disputes: int = 0
    overdue_reviews: int = 0
    sla_breaches: int = 0

    @property
    def payouts_pending_count(self) -> int:
        return sum(total.count for total in self.payouts_pending)

    @property
    def payouts_failed_count(self) -> int:
        return sum(total.count for total in self.payouts_failed)


def platform_money(
    *, start: datetime, end: datetime, brand: Brand | None = None
) -> tuple[dict[str, int], dict[str, int]]:
    """Gross volume (what brands spent: earnings + fees) and platform fees per
    currency, for earnings earned in [start, end). Clawed-back earnings are
    left out: their money went back to the brand (docs/metrics.md, Spend)."""
    earnings = Earning.objects.filter(earned_at__gte=start, earned_at__lt=end).exclude(
        status=EarningStatus.CLAWED_BACK
    )
    if brand is not None:
        earnings = earnings.filter(brand=brand)
    rows = (
        earnings.order_by()
        .values("currency")
        .annotate(gross=Sum(F("amount_minor") + F("fee_minor")), fees=Sum("fee_minor"))
    )
    gross: dict[str, int] = {}
    fees: dict[str, int] = {}
    for row in rows:
        gross[row["currency"]] = row["gross"] or 0
        fees[row["currency"]] = row["fees"] or 0
    return dict(sorted(gross.items())), dict(sorted(fees.items()))


def active_agent_count(*, start: datetime, end: datetime, brand: Brand | None = None) -> int:
    """Agents with a work session overlapping [start, end) (still open counts)."""
    sessions = WorkSession.objects.filter(started_at__lt=end).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gte=start)
    )
    if brand is not None:
        sessions = sessions.filter(brand_id=brand.pk)
    return sessions.order_by().aggregate(n=Count("agent_id", distinct=True))["n"]


def payout_totals() -> tuple[list[PayoutTotal], list[PayoutTotal]]:
    """Pay run lines not yet paid (queued or in transit, in draft, approved or
    executing runs) and failed lines waiting for a retry, per currency.

    Payouts are per agent across brands, so there is no brand filter.
    """
    rows = (
        PayRunLine.objects.filter(status__in=[*PAYRUN_LINE_UNFINISHED, LineStatus.FAILED])
        .order_by()
        .values("status", "currency")
        .annotate(count=Count("id"), amount=Sum("amount_minor"))
    )
    pending: dict[str, PayoutTotal] = {}
    failed: list[PayoutTotal] = []
    for row in rows:
        currency, count, amount = row["currency"], row["count"], row["amount"] or 0
        if row["status"] == LineStatus.FAILED:
            failed.append(PayoutTotal(currency, count, amount))
        else:
            # Queued and in transit are both "not paid yet": one total per currency.
            before = pending.get(currency)
            if before is not None:
                count, amount = count + before.count, amount + before.amount_minor
            pending[currency] = PayoutTotal(currency, count, amount)
    return (
        sorted(pending.values(), key=lambda total: total.currency),
        sorted(failed, key=lambda total: total.currency),
    )


def overdue_dispute_count(*, now: datetime, brand: Brand | None = None) -> int:
    """Undecided disputes past their decision SLA (``Dispute.is_overdue``)."""
    disputes = Dispute.objects.undecided().filter(due_at__lt=now)
    if brand is not None:
        disputes = disputes.for_brand(brand)
    return disputes.count()


def overdue_review_count(*, now: datetime, brand: Brand | None = None) -> int:
    """Open review assignments past their SLA (the review queue's ``overdue``)."""
    assignments = ReviewAssignment.objects.open().filter(due_at__lt=now)
    if brand is not None:
        assignments = assignments.for_brand(brand)
    return assignments.count()


def sla_breach_count(*, start: datetime, end: datetime, brand: Brand | None = None) -> int:
    """SLA breaches (each counted on its task's close day) of the days of
    [start, end): each brand's own local days, read from the daily roll-ups."""
    rows = metric_days(
        first=start.date(),
        last=(end - timedelta(microseconds=1)).date(),
        brand_ids=[brand.pk] if brand else None,
    )
    return rows.aggregate(n=Sum("sla_breaches"))["n"] or 0


def platform_figures(
    *, start: datetime, end: datetime, now: datetime, brand: Brand | None = None
) -> PlatformFigures:
    """Every platform figure for [start, end), queues as of ``now``; seven queries."""
    gross, fees = platform_money(start=start, end=end, brand=brand)
    pending, failed = payout_totals()
    return PlatformFigures(
        gross_volume=gross,
        fees=fees,
        active_agents=active_agent_count(start=start, end=end, brand=brand),
        payouts_pending=pending,
        payouts_failed=failed,
        overdue_disputes=overdue_dispute_count(now=now, brand=brand),
        overdue_reviews=overdue_review_count(now=now, brand=brand),
        sla_breaches=sla_breach_count(start=start, end=end, brand=brand),
    )
