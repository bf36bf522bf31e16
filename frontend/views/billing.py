"""Brand console: billing. Balances, top-ups through Stripe Checkout, and the statement.

Every member of the brand reads the page; only admins top up or cancel a
top-up. Writes go through ``payouts.funding``. Coming back from Checkout
credits nothing: the balance moves only when Stripe's webhook confirms the
payment, and until then the page says so.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from brands.models import Brand, BrandRole
from frontend.forms.billing import TopUpForm
from frontend.forms.gigs import add_service_errors, money_format
from frontend.views.access import brand_view
from marketplace.errors import PermissionDenied, ValidationFailed
from payouts import funding, reservations
from payouts.models import Purpose, TopUp, TopUpStatus

ADMIN_ONLY = (BrandRole.ADMIN,)
STATEMENT_PER_PAGE = 25
RECENT_TOP_UPS = 20
# Badge colours from gigdesk.css, by meaning.
BADGE_BY_TOP_UP_STATUS = {
    TopUpStatus.PENDING: "pending",
    TopUpStatus.PAID: "succeeded",
    TopUpStatus.CANCELED: "cancelled",
    TopUpStatus.EXPIRED: "closed",
}
ACCOUNT_LABELS = {Purpose.BRAND_BALANCE: "Available", Purpose.BRAND_RESERVED: "Reserved"}
# Posting kinds a brand sees on its statement; later money slices add theirs.
POSTING_KIND_LABELS = {
    funding.TOPUP_POSTING_KIND: "Top-up",
    "work.earning": "Work paid",
    "earning.clawback": "Clawback refund",
    reservations.RESERVATION_KIND: "Reserved for a task",
    reservations.RELEASE_KIND: "Reservation released",
    "reversal": "Reversal",
}
# How often the "being confirmed" notice asks whether Stripe's webhook has landed.
CONFIRMATION_POLL_SECONDS = 2


def _is_partial(request: HttpRequest) -> bool:
    # A history restore (back button after hx-push-url) needs the whole page.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _returned_top_up(request: HttpRequest, brand: Brand) -> TopUp | None:
    """The top-up named by ``?topup=`` (Checkout's success URL), if it is this brand's."""
    top_up_id = request.GET.get("topup", "")
    if not top_up_id.isdigit():
        return None
    try:
        top_up = funding.access_topup(brand=brand, top_up_id=int(top_up_id))
    except Http404:
        return None  # a stale or foreign link: show the page without the notice
    return _with_display(top_up)


def _with_display(top_up: TopUp) -> TopUp:
    top_up.badge = BADGE_BY_TOP_UP_STATUS[top_up.status]
    top_up.amount_display = money_format(top_up.amount_minor, top_up.currency)
    return top_up


def _balance_rows(brand: Brand) -> list[dict[str, str]]:
    return [
        {
            "currency": balance.currency,
            "available": money_format(balance.available_minor, balance.currency),
            "reserved": money_format(balance.reserved_minor, balance.currency),
        }
        for balance in funding.brand_balances(brand=brand)
    ]


def paused_gig_rows(brand: Brand) -> list[dict]:
    """The banner's rows: each active gig the balance cannot cover one more task
    of, with the balance and what one task needs, formatted. One query."""
    return [
        {
            "gig": paused.gig,
            "balance": money_format(paused.balance_minor, paused.currency),
            "needed": money_format(paused.needed_minor, paused.currency),
        }
        for paused in reservations.gigs_paused_for_funds(brand=brand)
    ]


def _spend_rows(brand: Brand) -> list[dict]:
    return [
        {
            "gig_id": spend.gig_id,
            "title": spend.title,
            "currency": spend.currency,
            "tasks": spend.tasks,
            "earnings": money_format(spend.earnings_minor, spend.currency),
            "fees": money_format(spend.fees_minor, spend.currency),
            "total": money_format(spend.total_minor, spend.currency),
        }
        for spend in funding.brand_spend_per_gig(brand=brand)
    ]


def _statement_page(request: HttpRequest, brand: Brand) -> Page:
    page = Paginator(funding.brand_statement(brand=brand), STATEMENT_PER_PAGE).get_page(
        request.GET.get("page")
    )
    for entry in page:
        entry.kind_label = POSTING_KIND_LABELS.get(entry.posting.kind, entry.posting.kind)
        entry.account_label = ACCOUNT_LABELS.get(entry.account.purpose, entry.account.purpose)
        entry.amount_display = money_format(entry.amount_minor, entry.currency)
        entry.balance_display = money_format(entry.balance_after_minor, entry.currency)
    return page


def _confirmation(request: HttpRequest, brand: Brand, top_up: TopUp) -> HttpResponse:
    """The notice about a top-up just paid on Checkout, polled until Stripe confirms it."""
    response = render(
        request,
        "brands/billing_confirmation.html",
        {"brand": brand, "returned_top_up": top_up, "poll_seconds": CONFIRMATION_POLL_SECONDS},
    )
    if top_up.status != TopUpStatus.PENDING:
        # Settled: reload the whole page, whose balances and statement now show it.
        response["HX-Refresh"] = "true"
    return response


@never_cache
@brand_view()
@require_http_methods(["GET", "POST"])
def brand_billing(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    is_admin = role == BrandRole.ADMIN
    if request.method == "POST" and not is_admin:
        raise PermissionDenied("Only brand admins can top up the balance.")
    returned_top_up = _returned_top_up(request, brand)
    if returned_top_up is not None and _is_partial(request):
        return _confirmation(request, brand, returned_top_up)
    form = None
    if is_admin:
        form = TopUpForm(request.POST or None, currencies=funding.topup_currencies(brand=brand))
    if form is not None and form.is_bound and form.is_valid():
        try:
            checkout = funding.topup_start(
                brand=brand,
                actor=request.user,
                amount_minor=form.cleaned_data["amount_minor"],
                currency=form.cleaned_data["currency"],
                request=request,
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc, field_map={"amount_minor": "amount"})
        except funding.PaymentProviderError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect(checkout.checkout_url)
    context = {
        "brand": brand,
        "is_admin": is_admin,
        "form": form,
        "balances": _balance_rows(brand),
        "paused_gigs": paused_gig_rows(brand),
        "spend_per_gig": _spend_rows(brand),
        "top_ups": [
            _with_display(top_up) for top_up in funding.topup_list(brand=brand)[:RECENT_TOP_UPS]
        ],
        "returned_top_up": returned_top_up,
        "poll_seconds": CONFIRMATION_POLL_SECONDS,
        "statement": _statement_page(request, brand),
    }
    return render(
        request,
        "brands/billing.html",
        context,
        status=400 if form is not None and form.errors else 200,
    )


@brand_view(roles=ADMIN_ONLY)
@require_http_methods(["GET", "POST"])
def topup_cancel(request: HttpRequest, *, brand: Brand, role: str, top_up_id: int) -> HttpResponse:
    """Cancel a pending top-up: the Cancel button on the billing page (POST), or
    Checkout's cancel link (a GET: Stripe sends the browser back with a plain link).

    Either way only our record changes; nothing was charged.
    """
    top_up = funding.topup_cancel(
        brand=brand, actor=request.user, top_up_id=top_up_id, request=request
    )
    amount = money_format(top_up.amount_minor, top_up.currency)
    if top_up.status == TopUpStatus.CANCELED:
        messages.info(request, f"Top-up of {amount} canceled. Nothing was charged.")
    elif top_up.status == TopUpStatus.PAID:
        messages.success(request, f"Top-up of {amount} was already paid; it stays in the balance.")
    else:
        messages.info(request, f"Top-up of {amount} is {top_up.get_status_display().lower()}.")
    return redirect("frontend:brand_billing", slug=brand.slug)
