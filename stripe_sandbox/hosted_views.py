"""The pages Stripe would host: Connect onboarding, Checkout, and the Express dashboard.

Their URLs come from the API (an Account Link's, a Checkout Session's or a
login link's ``url``) and carry an unguessable token, which is all the
authority they need, as with Stripe's own. The sandbox process runs no
session or CSRF middleware; the pages are plain HTML forms.
"""

from __future__ import annotations

from typing import Any

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotFound,
    HttpResponseRedirect,
)
from django.template.loader import render_to_string
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from stripe_sandbox.sandbox import sandbox_of
from stripe_sandbox.services import accounts, balances, checkout, transfers
from stripe_sandbox.wire import StripeError

PREFILLED_CARD = "4242 4242 4242 4242"
DASHBOARD_ROWS = 100


def _page(template: str, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    # Rendered without the request: the platform's context processors have
    # nothing to say about the sandbox's pages.
    return HttpResponse(render_to_string(f"stripe_sandbox/{template}", context), status=status)


def _not_found(what: str) -> HttpResponse:
    return HttpResponseNotFound(render_to_string("stripe_sandbox/not_found.html", {"what": what}))


# --- Connect onboarding ---------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST"])
def onboarding(request: HttpRequest, token: str) -> HttpResponse:
    sandbox = sandbox_of(request)
    try:
        with sandbox.operation() as op:
            if request.method == "POST":
                finish = (
                    accounts.onboarding_complete
                    if request.POST.get("action") == "complete"
                    else accounts.onboarding_leave
                )
                return HttpResponseRedirect(finish(op, token=token))
            page = accounts.onboarding_page(op, token=token)
    except accounts.AccountLinkUnusable as unusable:
        return HttpResponseRedirect(unusable.refresh_url)
    except StripeError:
        page = None
    if page is None:
        return _not_found("onboarding link")
    return _page("onboarding.html", {"account": page.account})


# --- Checkout -------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST"])
def checkout_page(request: HttpRequest, session_id: str) -> HttpResponse:
    if request.method == "POST":
        return _pay(request, session_id)
    return _checkout_form(request, session_id)


def _checkout_form(
    request: HttpRequest,
    session_id: str,
    *,
    card_number: str = PREFILLED_CARD,
    error: StripeError | None = None,
) -> HttpResponse:
    with sandbox_of(request).operation() as op:
        session = checkout.checkout_session_for_page(op, session_id=session_id)
    if session is None:
        return _not_found("Checkout Session")
    context = {
        "session": session,
        "line_items": session["_line_items"],
        "is_open": checkout.checkout_session_is_open(session),
        "success_url": checkout.success_redirect_url(session),
        "card_number": card_number,
        "email": session["customer_email"] or "",
        "error": error.message if error else "",
    }
    return _page("checkout.html", context, status=error.status if error else 200)


def _pay(request: HttpRequest, session_id: str) -> HttpResponse:
    card_number = request.POST.get("card_number", "")
    try:
        with sandbox_of(request).operation() as op:
            session = checkout.checkout_session_pay(
                op,
                session_id=session_id,
                card_number=card_number,
                email=request.POST.get("email") or None,
            )
    except StripeError as error:
        # The transaction rolled back: a declined card leaves no trace.
        return _checkout_form(request, session_id, card_number=card_number, error=error)
    return HttpResponseRedirect(checkout.success_redirect_url(session))


# --- The Express dashboard --------------------------------------------------------------


@require_GET
def express_dashboard(request: HttpRequest, token: str) -> HttpResponse:
    with sandbox_of(request).operation() as op:
        account = accounts.login_link_account(op, token=token)
        if account is None:
            return _not_found("Express dashboard link")
        context = {
            "account": account,
            "balance": balances.balance_retrieve(op, account=account["id"]),
            "transfers": transfers.transfer_list(
                op,
                limit=DASHBOARD_ROWS,
                starting_after=None,
                destination=account["id"],
                transfer_group=None,
            )["data"],
            "payouts": balances.payout_list(
                op, account=account["id"], limit=DASHBOARD_ROWS, starting_after=None
            )["data"],
        }
    return _page("express_dashboard.html", context)
