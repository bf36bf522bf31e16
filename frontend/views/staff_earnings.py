"""Staff console: every earning across brands and agents, and clawing one back.

The clawback is ``payouts.earnings.earning_clawback`` (staff only, with a
reason, once, audited); this page shows beforehand what it will do to the
agent's balances and the brand's.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from frontend.forms.gigs import add_service_errors, money_format
from frontend.forms.staff_earnings import ClawbackForm, EarningFilter, staff_earning_list
from frontend.views.access import staff_view
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from payouts.earnings import earning_clawback, earnings_release_due
from payouts.models import Earning, EarningStatus, LedgerAccount, Purpose

EARNINGS_PER_PAGE = 50
# Badge colours from gigdesk.css, by meaning.
BADGE_BY_EARNING_STATUS = {
    EarningStatus.PENDING: "pending",
    EarningStatus.AVAILABLE: "succeeded",
    EarningStatus.CLAWED_BACK: "cancelled",
}


def signed_money(amount_minor: int, currency: str) -> str:
    """``-250`` EUR → ``"−€2.50"``: the sign before the symbol."""
    if amount_minor < 0:
        return f"−{money_format(-amount_minor, currency)}"
    return money_format(amount_minor, currency)


def _with_display(earning: Earning) -> Earning:
    earning.badge = BADGE_BY_EARNING_STATUS.get(earning.status, "closed")
    earning.amount_display = money_format(earning.amount_minor, earning.currency)
    earning.fee_display = money_format(earning.fee_minor, earning.currency)
    return earning


@staff_view
@require_GET
def staff_earning_list_page(request: HttpRequest) -> HttpResponse:
    earning_filter = EarningFilter(request.GET or None, queryset=staff_earning_list())
    page = Paginator(earning_filter.qs, EARNINGS_PER_PAGE).get_page(request.GET.get("page"))
    for earning in page:
        _with_display(earning)
    context = {"filter": earning_filter, "page": page}
    is_partial = bool(request.htmx) and not request.htmx.history_restore_request
    template = (
        "staff/earnings/earning_list_table.html"
        if is_partial
        else "staff/earnings/earning_list.html"
    )
    return render(request, template, context)


@dataclass(frozen=True)
class ClawbackEffect:
    """What a clawback of one earning will do, in words staff can check before confirming."""

    source: str  # "pending" or "available"
    agent_balance_before: str
    agent_balance_after: str
    goes_negative: bool
    brand_refund: str


def _agent_balance(earning: Earning, purpose: str) -> int:
    account = LedgerAccount.objects.filter(
        agent_id=earning.agent_id, purpose=purpose, currency=earning.currency
    ).first()
    return account.balance_minor if account else 0


def clawback_effect(earning: Earning) -> ClawbackEffect | None:
    """The balances a clawback of ``earning`` moves; None once it is clawed back."""
    if earning.status == EarningStatus.CLAWED_BACK:
        return None
    # The same choice earning_clawback makes: pending until released, then available.
    source = (
        Purpose.AGENT_PENDING
        if earning.status == EarningStatus.PENDING
        else Purpose.AGENT_AVAILABLE
    )
    before = _agent_balance(earning, source)
    after = before - earning.amount_minor
    return ClawbackEffect(
        source="pending" if source == Purpose.AGENT_PENDING else "available",
        agent_balance_before=signed_money(before, earning.currency),
        agent_balance_after=signed_money(after, earning.currency),
        goes_negative=after < 0,
        brand_refund=money_format(earning.amount_minor + earning.fee_minor, earning.currency),
    )


@staff_view
@require_http_methods(["GET", "POST"])
def staff_earning_detail(request: HttpRequest, earning_id: int) -> HttpResponse:
    earning = get_object_or_404(
        Earning.objects.select_related(
            "agent", "brand", "gig", "work_record__task", "clawed_back_by"
        ),
        pk=earning_id,
    )
    # A hold that has ended is released when read, so the page (and the
    # clawback) see the balance the money is really in.
    if earnings_release_due(agent=earning.agent):
        earning.refresh_from_db()
    form = ClawbackForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                earning_clawback(
                    earning=earning,
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                    request=request,
                )
            except ValidationFailed as exc:
                add_service_errors(form, exc)
            except (Conflict, PermissionDenied) as exc:
                form.add_error(None, exc.message)
                status = exc.http_status
            else:
                messages.success(
                    request,
                    f"Earning #{earning.pk} clawed back: "
                    f"{money_format(earning.amount_minor, earning.currency)} "
                    f"from {earning.agent.email}.",
                )
                return redirect("frontend:staff_earning_detail", earning_id=earning.pk)
        if form.errors and status == 200:
            status = 400
        earning.refresh_from_db()
    context = {
        "earning": _with_display(earning),
        "effect": clawback_effect(earning),
        "form": form,
    }
    return render(request, "staff/earnings/earning_detail.html", context, status=status)
