"""Staff QA operations: run the tier job and the QA bonus from the browser
instead of waiting for their schedules, read what they changed, and set a
member's tier by hand.

staff/qa/tiers/ lists tier changes (the job's and overrides) and holds the
"run now" button and the override form; staff/qa/bonus/ pays one ISO week's
bonus and lists past bonus postings. Both jobs are safe to rerun: the tier
job moves a member at most once per 7 days, and each bonus posts under one
idempotency key per gig, agent and week.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from brands.models import Brand, PoolMembership
from frontend.forms.gigs import add_service_errors
from frontend.forms.qa_operations import BonusWeekForm, TierOverrideForm
from frontend.views.access import staff_view
from gigs.models import Gig
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.models import User
from marketplace.money import money_format
from payouts.models import Posting
from qa.feeds import bonus_gig_settings, bonus_run_by, last_payable_week
from qa.models import BonusKind, TierChange
from qa.tiers import tier_job_run_now, tier_override

PER_PAGE = 25
# Members the job left where they were, listed with their reasons after a run;
# the rest are counted, so a large pool does not make a huge page.
HELD_SHOWN = 50
SOURCES = {"job": "The tier job", "override": "Staff overrides"}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# --- tiers -------------------------------------------------------------------------------


def _tier_changes(request: HttpRequest) -> tuple[dict, object]:
    brand = Brand.objects.filter(slug=request.GET.get("brand", "")).first()
    source = request.GET.get("source", "")
    if source not in SOURCES:
        source = ""
    changes = TierChange.objects.for_user(request.user).select_related("brand", "agent", "actor")
    if brand is not None:
        changes = changes.filter(brand=brand)
    if source:
        changes = changes.filter(is_override=source == "override")
    page = Paginator(changes.order_by("-created_at", "-id"), PER_PAGE).get_page(
        request.GET.get("page")
    )
    kept = (("brand", brand.slug if brand else ""), ("source", source))
    filters = {
        "brand": brand,
        "source": source,
        "sources": SOURCES.items(),
        "brands": Brand.objects.order_by("name").only("name", "slug"),
        "query": urlencode([(name, value) for name, value in kept if value]),
    }
    return filters, page


def _job_summary(result) -> dict:
    """What one run of the tier job did: its moves, and why the others stayed."""
    held = [outcome for outcome in result.outcomes if outcome.change is None]
    shown = held[:HELD_SHOWN]
    memberships = PoolMembership.objects.select_related("brand", "agent").in_bulk(
        [outcome.membership_id for outcome in shown]
    )
    changes = TierChange.objects.select_related("brand", "agent").filter(
        pk__in=[change.pk for change in result.changes]
    )
    return {
        "headline": f"{_plural(result.checked, 'agent')} checked, {len(result.changes)} moved.",
        "changes": changes.order_by("brand__name", "agent__email"),
        "held": [
            {
                "membership": memberships.get(outcome.membership_id),
                "reason": outcome.decision.reason,
            }
            for outcome in shown
        ],
        "held_hidden": len(held) - len(shown),
    }


def _tiers_page(
    request: HttpRequest, *, form=None, job=None, override_error: str = "", status: int = 200
) -> HttpResponse:
    filters, page = _tier_changes(request)
    context = {
        **filters,
        "page": page,
        "form": form or TierOverrideForm(),
        "override_error": override_error,
        "job": job,
    }
    return render(request, "qa/operations/tiers.html", context, status=status)


@staff_view
@require_http_methods(["GET", "POST"])
def staff_qa_tiers(request: HttpRequest) -> HttpResponse:
    """GET: the page. POST ``action=run``: run the tier job; ``action=override``:
    set one member's tier. Both post here, so the page's filter and page links
    keep working on the response."""
    if request.method == "GET":
        return _tiers_page(request)
    if request.POST.get("action") == "run":
        return _tier_job_run(request)
    return _tier_override(request)


def _tier_job_run(request: HttpRequest) -> HttpResponse:
    """Run the nightly tier job now, in the request: it reads a few rows per pool
    member, fast for a demo-sized platform (a large one waits for the nightly run).
    Each move is audited as the job's, and the run as the staff member's."""
    result = tier_job_run_now(actor=request.user)
    return _tiers_page(request, job=_job_summary(result))


def _tier_override(request: HttpRequest) -> HttpResponse:
    form = TierOverrideForm(request.POST)
    if not form.is_valid():
        return _tiers_page(request, form=form, status=400)
    data = form.cleaned_data
    membership = (
        PoolMembership.objects.select_related("brand", "agent")
        .filter(brand=data["brand"], agent__email__iexact=data["agent"])
        .first()
    )
    if membership is None:
        form.add_error("agent", f"{data['agent']} is not in {data['brand']}'s pool.")
        return _tiers_page(request, form=form, status=400)
    try:
        change = tier_override(
            actor=request.user, membership=membership, tier=data["tier"], reason=data["reason"]
        )
    except ValidationFailed as exc:
        add_service_errors(form, exc)
        return _tiers_page(request, form=form, override_error=exc.message, status=400)
    except (Conflict, NotFound, PermissionDenied) as exc:
        return _tiers_page(request, form=form, override_error=exc.message, status=400)
    messages.success(
        request,
        f"{membership.agent.email} in {membership.brand} moved from tier {change.from_tier} "
        f"to {change.to_tier}. They see your reason.",
    )
    return redirect(reverse("frontend:staff_qa_tiers"))


# --- the QA bonus ------------------------------------------------------------------------


def _bonus_terms(settings) -> str:
    if settings.bonus_kind == BonusKind.FIXED:
        return f"{money_format(settings.bonus_fixed_minor, settings.gig.currency)} per resolution"
    percent = f"{(settings.bonus_multiplier_bps / 100):g}"
    return f"+{percent} % of what the agent earned on the gig"


def _run_lines(run) -> dict:
    """The run's paid and skipped lines, with the agents' and gigs' names."""
    agent_ids = {bonus.agent_id for bonus in run.paid} | {line[1] for line in run.skipped}
    gig_ids = {bonus.gig_id for bonus in run.paid} | {line[0] for line in run.skipped}
    agents = User.objects.in_bulk(agent_ids)
    gigs = Gig.objects.select_related("brand").in_bulk(gig_ids)
    return {
        "week": run.week,
        "posted_count": len(run.posted),
        "already_count": len(run.paid) - len(run.posted),
        "paid": [
            {
                "agent": agents.get(bonus.agent_id),
                "gig": gigs.get(bonus.gig_id),
                "amount": money_format(bonus.amount_minor, bonus.currency),
                "created": bonus.created,
                "posting_id": bonus.posting_id,
            }
            for bonus in run.paid
        ],
        "skipped": [
            {"agent": agents.get(agent_id), "gig": gigs.get(gig_id), "reason": reason}
            for gig_id, agent_id, reason in run.skipped
        ],
    }


def _posting_rows(page) -> list[dict]:
    rows = []
    for posting in page:
        entries = list(posting.entries.all())
        credit = next((entry for entry in entries if entry.amount_minor > 0), None)
        debit = next((entry for entry in entries if entry.amount_minor < 0), None)
        rows.append(
            {
                "posting": posting,
                "agent": credit.account.agent if credit else None,
                "brand": debit.account.brand if debit else None,
                "amount": money_format(credit.amount_minor, credit.currency) if credit else "",
            }
        )
    return rows


def _bonus_page(request: HttpRequest, *, form=None, run=None, status: int = 200) -> HttpResponse:
    now = timezone.now()
    postings = (
        Posting.objects.filter(kind="qa.bonus")
        .prefetch_related("entries__account__agent", "entries__account__brand")
        .order_by("-created_at", "-id")
    )
    page = Paginator(postings, PER_PAGE).get_page(request.GET.get("page"))
    settings = list(bonus_gig_settings(user=request.user))
    context = {
        "gigs": [{"settings": s, "terms": _bonus_terms(s)} for s in settings],
        "form": form or BonusWeekForm(initial={"week": last_payable_week(now)}),
        "payable_week": last_payable_week(now),
        "run": _run_lines(run) if run is not None else None,
        "page": page,
        "postings": _posting_rows(page),
    }
    return render(request, "qa/operations/bonus.html", context, status=status)


@staff_view
@require_http_methods(["GET", "POST"])
def staff_qa_bonus(request: HttpRequest) -> HttpResponse:
    """GET: the page. POST: pay one week's bonus and show what was paid and skipped.
    The run's lines are shown at once (not after a redirect): a reload runs the
    week again, which posts nothing and says "already posted"."""
    if request.method == "GET":
        return _bonus_page(request)
    form = BonusWeekForm(request.POST)
    if not form.is_valid():
        return _bonus_page(request, form=form, status=400)
    try:
        run = bonus_run_by(actor=request.user, iso_week=form.cleaned_data["week"], request=request)
    except ValidationFailed as exc:
        form.add_error("week", exc.message)
        return _bonus_page(request, form=form, status=400)
    return _bonus_page(request, form=form, run=run)
