"""The agent's payout account: the earnings page's "Payouts" panel and the trip through Stripe.

Writes go through ``payouts.connect``. Every page acts on the signed-in
agent's own account: none takes an account id from the request, so no agent
can reach another's. The status shown is what Stripe last told us; the
return page re-reads it, and ``account.updated`` webhooks keep it current.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from frontend.views.access import forbidden
from marketplace.models import User
from payouts import connect
from payouts.models import PayoutAccount

NOT_AN_AGENT = "Payouts are for agent accounts."

# The panel's three states.
NOT_SET_UP = "not_set_up"
IN_PROGRESS = "in_progress"
ENABLED = "enabled"

# Stripe's requirement names, as an agent would say them. Keys are matched by
# their longest known prefix ("individual.address.city" -> "individual.address");
# anything else is shown readably rather than hidden.
REQUIREMENT_LABELS = {
    "external_account": "A bank account to be paid into",
    "business_type": "Whether you work as an individual or a company",
    "business_profile.url": "A website or profile that shows your work",
    "business_profile.mcc": "The kind of work you do",
    "business_profile.product_description": "A short description of your work",
    "business_profile.support_phone": "A phone number",
    "individual.first_name": "Your first name",
    "individual.last_name": "Your last name",
    "individual.dob": "Your date of birth",
    "individual.address": "Your address",
    "individual.email": "Your email address",
    "individual.phone": "Your phone number",
    "individual.id_number": "Your ID number",
    "individual.ssn_last_4": "Your ID number",
    "individual.verification": "A photo of your ID document",
    "tos_acceptance": "Accepting Stripe's terms of service",
}


def requirement_label(requirement: str) -> str:
    parts = requirement.split(".")
    for length in range(len(parts), 0, -1):
        label = REQUIREMENT_LABELS.get(".".join(parts[:length]))
        if label:
            return label
    return requirement.replace(".", " ").replace("_", " ").capitalize()


@dataclass(frozen=True)
class PayoutsPanel:
    """What the earnings page's "Payouts" panel shows."""

    state: str
    payout_account: PayoutAccount | None = None
    still_needed: list[str] = field(default_factory=list)

    @property
    def can_continue_setup(self) -> bool:
        # While Stripe reviews there is nothing for the agent to do on its pages.
        return self.state == IN_PROGRESS and not self.payout_account.in_review

    @property
    def can_open_dashboard(self) -> bool:
        # Stripe makes login links once the details are submitted, enabled or not.
        return self.payout_account is not None and self.payout_account.details_submitted


def payouts_panel(*, agent: User) -> PayoutsPanel:
    """The context of ``agent/payout_account_panel.html`` for the earnings page."""
    payout_account = connect.payout_account_for(agent=agent)
    if payout_account is None:
        return PayoutsPanel(state=NOT_SET_UP)
    if payout_account.payouts_enabled:
        return PayoutsPanel(state=ENABLED, payout_account=payout_account)
    still_needed = list(dict.fromkeys(map(requirement_label, payout_account.requirements_due)))
    return PayoutsPanel(state=IN_PROGRESS, payout_account=payout_account, still_needed=still_needed)


# --- Pages ------------------------------------------------------------------------------------


def agent_only(view: Callable) -> Callable:
    """Signed-in agents only; anyone else signed in gets the 403 page."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_agent:
            return forbidden(request, NOT_AN_AGENT)
        return view(request, *args, **kwargs)

    return wrapper


def _back_to_panel() -> HttpResponse:
    return redirect(reverse("frontend:agent_earnings") + "#payouts")


def _go_to_stripe(url: str) -> HttpResponse:
    # 303: the browser follows with a GET, whatever method brought it here.
    return HttpResponseRedirect(url, status=303)


def _to_onboarding(request: HttpRequest) -> HttpResponse:
    try:
        onboarding_url = connect.payout_account_start(agent=request.user, request=request)
    except connect.PayoutProviderError as exc:
        messages.error(request, exc.message)
        return _back_to_panel()
    return _go_to_stripe(onboarding_url)


@agent_only
@require_POST
def payout_account_setup(request: HttpRequest) -> HttpResponse:
    """The panel's Set up payouts and Continue setup buttons: off to Stripe's onboarding."""
    return _to_onboarding(request)


@never_cache
@agent_only
@require_GET
def payout_account_refresh(request: HttpRequest) -> HttpResponse:
    """Stripe's refresh_url: the onboarding link expired or was used. Make a new one.

    A GET, as Stripe sends it; it creates no account. Without one there is
    nothing to continue, and the agent starts from the panel.
    """
    if connect.payout_account_for(agent=request.user) is None:
        return _back_to_panel()
    return _to_onboarding(request)


def _return_message(payout_account: PayoutAccount) -> tuple[int, str]:
    if payout_account.payouts_enabled:
        return messages.SUCCESS, (
            "Payouts are set up: pay runs send your available earnings to your bank."
        )
    if payout_account.in_review:
        return messages.INFO, "Thanks. Stripe is reviewing your details; this can take a while."
    return messages.INFO, "Your payout setup is not finished: Stripe still needs a few details."


@never_cache
@agent_only
@require_GET
def payout_account_return(request: HttpRequest) -> HttpResponse:
    """Stripe's return_url: the agent left onboarding, finished or not. Ask Stripe which."""
    try:
        payout_account = connect.payout_account_refresh(agent=request.user)
    except connect.PayoutProviderError:
        messages.warning(
            request,
            "We could not reach Stripe to confirm your payout setup. "
            "Your status here updates as soon as Stripe tells us.",
        )
        return _back_to_panel()
    if payout_account is not None:  # None: never set up, and the panel says what to do
        level, text = _return_message(payout_account)
        messages.add_message(request, level, text)
    return _back_to_panel()


@agent_only
@require_POST
def payout_account_dashboard(request: HttpRequest) -> HttpResponse:
    """The panel's dashboard button: a fresh single-use login link, followed at once."""
    try:
        dashboard_url = connect.payout_dashboard_link(agent=request.user)
    except (connect.PayoutAccountNotReady, connect.PayoutProviderError) as exc:
        messages.error(request, exc.message)
        return _back_to_panel()
    return _go_to_stripe(dashboard_url)
