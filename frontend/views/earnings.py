"""The agent's earnings: balances, a statement line per task, and its CSV export."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from frontend.forms.gigs import major_units, money_format
from frontend.views.access import forbidden
from frontend.views.payout_account import payouts_panel
from gigs.models import PayModel
from payouts.earnings import earnings_release_due
from payouts.models import Earning, EarningStatus, PayRunLine, PayRunLineStatus
from payouts.payruns import agent_payout_lines
from payouts.selectors import agent_balances, agent_earnings

EARNINGS_PER_PAGE = 25
PAYOUT_LINES_PER_PAGE = 10
# What the agent reads for each pay run line's state.
PAYOUT_STATUS_LABELS = {
    PayRunLineStatus.QUEUED: "Queued",
    PayRunLineStatus.IN_TRANSIT: "In transit",
    PayRunLineStatus.PAID: "Paid",
    PayRunLineStatus.FAILED: "Failed",
    PayRunLineStatus.CANCELLED: "Cancelled",
}
NOT_AN_AGENT = "Earnings are for agent accounts."


@dataclass(frozen=True)
class StatementLine:
    earning: Earning
    minutes: str  # "12.50", or "" for per-resolution work
    rate: str
    amount: str
    status: str


def _statement_line(earning: Earning) -> StatementLine:
    currency = earning.currency
    if earning.pay_model == PayModel.PER_MINUTE:
        minutes = f"{Decimal(earning.billable_seconds) / 60:.2f}"
        rate = f"{money_format(earning.rate_minor, currency)}/min"
    else:
        minutes = ""
        rate = f"{money_format(earning.rate_minor, currency)}/resolution"
    if earning.status == EarningStatus.PENDING:
        status = f"Pending until {timezone.localtime(earning.available_at):%d %b %Y}"
    elif earning.status == EarningStatus.CLAWED_BACK:
        status = f"Clawed back: {earning.clawback_reason}"
    else:
        status = "Available"
    return StatementLine(
        earning=earning,
        minutes=minutes,
        rate=rate,
        amount=money_format(earning.amount_minor, currency),
        status=status,
    )


def _payout_line(line: PayRunLine) -> dict:
    return {
        "date": line.paid_at or line.sent_at or line.created_at,
        "run_id": line.run_id,
        "amount": money_format(line.amount_minor, line.currency),
        "reversed": money_format(line.reversed_minor, line.currency) if line.reversed_minor else "",
        "status": line.status,
        "status_label": PAYOUT_STATUS_LABELS.get(line.status, line.status),
        "transfer_id": line.stripe_transfer_id,
        "failure_reason": line.failure_reason if line.status == PayRunLineStatus.FAILED else "",
    }


def _filters(request: HttpRequest) -> dict:
    status = request.GET.get("status", "")
    brand = request.GET.get("brand", "")
    return {
        "status": status if status in EarningStatus.values else "",
        "brand_id": int(brand) if brand.isdigit() else None,
    }


@login_required
@require_GET
def agent_earnings_page(request: HttpRequest) -> HttpResponse:
    agent = request.user
    if not agent.is_agent:
        return forbidden(request, NOT_AN_AGENT)
    # Holds are enforced when read, not only by the periodic job.
    earnings_release_due(agent=agent)
    filters = _filters(request)
    earnings = agent_earnings(agent, status=filters["status"], brand_id=filters["brand_id"])
    page = Paginator(earnings, EARNINGS_PER_PAGE).get_page(request.GET.get("page"))
    brands = (
        Earning.objects.filter(agent=agent)
        .values_list("brand_id", "brand__name")
        .distinct()
        .order_by("brand__name")
    )
    query = {k: v for k, v in (("status", filters["status"]), ("brand", filters["brand_id"])) if v}
    # Only this agent's lines: agent_payout_lines filters by the agent.
    payouts_page = Paginator(agent_payout_lines(agent), PAYOUT_LINES_PER_PAGE).get_page(
        request.GET.get("payouts_page")
    )
    return render(
        request,
        "agent/earnings.html",
        {
            "balances": [
                {
                    "currency": b.currency,
                    "pending": money_format(b.pending, b.currency),
                    "available": money_format(b.available, b.currency),
                    "in_transit": money_format(b.in_transit, b.currency),
                    "paid": money_format(b.paid, b.currency),
                }
                for b in agent_balances(agent)
            ],
            "lines": [_statement_line(earning) for earning in page],
            "page": page,
            "query": urlencode(query),
            "brands": list(brands),
            "statuses": EarningStatus.choices,
            "filters": filters,
            "payouts_panel": payouts_panel(agent=agent),
            "payout_lines": [_payout_line(line) for line in payouts_page],
            "payouts_page": payouts_page,
        },
    )


class _Echo:
    """A file-like object whose write returns the line, for streaming csv rows."""

    def write(self, value: str) -> str:
        return value


CSV_HEADER = [
    "earned_at",
    "task_id",
    "subject",
    "brand",
    "gig",
    "pay_model",
    "billable_minutes",
    "rate",
    "amount",
    "currency",
    "status",
    "available_at",
]


def _csv_row(earning: Earning) -> list[str]:
    currency = earning.currency
    return [
        earning.earned_at.isoformat(),
        str(earning.work_record.task_id),
        earning.work_record.task.subject,
        earning.brand.name,
        earning.gig.title,
        earning.pay_model,
        f"{Decimal(earning.billable_seconds) / 60:.2f}"
        if earning.pay_model == PayModel.PER_MINUTE
        else "",
        major_units(earning.rate_minor, currency),
        major_units(earning.amount_minor, currency),
        currency,
        earning.status,
        earning.available_at.isoformat(),
    ]


@login_required
@require_GET
def agent_earnings_csv(request: HttpRequest) -> HttpResponse:
    agent = request.user
    if not agent.is_agent:
        return forbidden(request, NOT_AN_AGENT)
    earnings_release_due(agent=agent)
    filters = _filters(request)
    earnings = agent_earnings(agent, status=filters["status"], brand_id=filters["brand_id"])
    writer = csv.writer(_Echo())
    rows = (writer.writerow(row) for row in _rows(earnings))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="gigdesk-earnings-{timezone.localdate():%Y-%m-%d}.csv"'
    )
    return response


def _rows(earnings):
    yield CSV_HEADER
    for earning in earnings.iterator(chunk_size=500):
        yield _csv_row(earning)
