"""Agent pool pages: brand admins manage their pool; agents browse brands, apply and
answer invitations. Writes go through ``brands.pool_services``."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from assessments.selectors import brand_required_certifications
from brands import pool_services
from brands.models import Brand, BrandRole, PoolMembership, PoolStatus, PoolTier
from brands.selectors import (
    OpenGigSummary,
    agent_pools,
    brands_for_agents,
    open_gig_summaries,
    pool_members,
)
from frontend.forms.gigs import money_format
from frontend.forms.pools import PoolApplyForm, PoolDecisionForm, PoolInviteForm
from frontend.views.access import brand_view, forbidden
from frontend.views.agent import NOT_AN_AGENT
from gigs.models import PayModel
from marketplace.errors import GigdeskError, PermissionDenied
from marketplace.languages import LANGUAGE_CHOICES
from qa.models import TierChange

ADMIN_ONLY = (BrandRole.ADMIN,)
MEMBERS_PER_PAGE = 50
BRANDS_PER_PAGE = 20
POOLS_PER_PAGE = 20
_LANGUAGE_NAMES = dict(LANGUAGE_CHOICES)
# Tabs on the brand's pool page, applications first: they are what waits on the admin.
STATUS_TABS = [
    (PoolStatus.APPLIED, "Applications"),
    (PoolStatus.APPROVED, "Approved"),
    (PoolStatus.INVITED, "Invited"),
    (PoolStatus.REJECTED, "Rejected"),
    (PoolStatus.BLOCKED, "Blocked"),
    ("", "All"),
]
# What an admin may do from each status (mirrors the rules in ``pool_decide``).
ACTIONS_BY_STATUS = {
    PoolStatus.APPLIED: ["approve", "reject", "block"],
    PoolStatus.APPROVED: ["reject", "block"],
    PoolStatus.INVITED: ["block"],
    PoolStatus.REJECTED: ["approve", "block"],
    PoolStatus.BLOCKED: ["unblock"],
}
# Badge colours from gigdesk.css, by meaning.
BADGE_BY_STATUS = {
    PoolStatus.APPLIED: "pending",
    PoolStatus.INVITED: "queued",
    PoolStatus.APPROVED: "active",
    PoolStatus.REJECTED: "closed",
    PoolStatus.BLOCKED: "revoked",
}


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


# --- Brand console: the pool ------------------------------------------------------


def _tab(value: str | None) -> str:
    return value if value in PoolStatus.values else ""


def _latest_tier_changes(user, membership_ids: list[int]) -> dict[int, TierChange]:
    """Each member's latest QA tier change (the job's or an override), for its reason."""
    newest = (
        TierChange.objects.filter(membership_id=OuterRef("membership_id"))
        .order_by("-created_at", "-id")
        .values("id")[:1]
    )
    changes = TierChange.objects.for_user(user).filter(
        membership_id__in=membership_ids, pk=Subquery(newest)
    )
    return {change.membership_id: change for change in changes}


def _pool_context(request: HttpRequest, brand: Brand, role: str, status: str, page) -> dict:
    counted = dict(
        PoolMembership.objects.for_brand(brand)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    tabs = [
        {
            "value": value,
            "label": label,
            "count": counted.get(value, 0) if value else sum(counted.values()),
            "active": value == status,
        }
        for value, label in STATUS_TABS
    ]
    members_page = Paginator(pool_members(brand=brand, status=status or None), MEMBERS_PER_PAGE)
    members_page = members_page.get_page(page)
    latest_changes = _latest_tier_changes(request.user, [member.pk for member in members_page])
    for member in members_page:
        member.actions = ACTIONS_BY_STATUS[member.status]
        member.badge = BADGE_BY_STATUS[member.status]
        member.tier_change = latest_changes.get(member.pk)
    return {
        "brand": brand,
        "role": role,
        "is_admin": role == BrandRole.ADMIN,
        "tabs": tabs,
        "status": status,
        "status_label": dict(STATUS_TABS)[status],
        "members_page": members_page,
        "tier_choices": PoolTier.choices,
        "cooldown_days": pool_services.POOL_REAPPLY_COOLDOWN.days,
    }


def _render_pool(
    request: HttpRequest,
    brand: Brand,
    role: str,
    *,
    status: str,
    page=None,
    invite_form=None,
    http_status: int = 200,
) -> HttpResponse:
    context = _pool_context(request, brand, role, status, page)
    context["invite_form"] = invite_form or PoolInviteForm()
    # htmx swaps only the list after a decision.
    template = "pools/brand_pool_list.html" if request.htmx else "pools/brand_pool.html"
    return render(request, template, context, status=http_status)


@brand_view()
@require_http_methods(["GET", "POST"])
def brand_pool(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    """Every member may read the pool; only admins invite (POST) or decide."""
    status = _tab(request.GET.get("status"))
    if request.method == "GET":
        return _render_pool(request, brand, role, status=status, page=request.GET.get("page"))
    if role != BrandRole.ADMIN:
        raise PermissionDenied(f"Only admins of {brand} can invite agents to its pool.")
    form = PoolInviteForm(request.POST)
    if form.is_valid():
        try:
            membership = pool_services.pool_invite(
                brand=brand,
                actor=request.user,
                agent_email=form.cleaned_data["email"],
                request=request,
            )
        except GigdeskError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                f"Invitation sent to {membership.agent.email}. They join your pool "
                "as an approved member once they accept it.",
            )
            return redirect(
                reverse("frontend:brand_pool", args=[brand.slug])
                + "?"
                + urlencode({"status": PoolStatus.INVITED})
            )
    return _render_pool(request, brand, role, status=status, invite_form=form)


def _decision_message(membership: PoolMembership, action: str) -> str:
    email = membership.agent.email
    brand = membership.brand
    if action == "approve":
        return f"{email} is approved: they can now be offered {brand}'s work."
    if action == "reject":
        return (
            f"{email} is rejected. They see your reason and may apply again from "
            f"{_when(membership.reapply_after)}."
        )
    if action == "block":
        return f"{email} is blocked: they get none of {brand}'s work and cannot apply again."
    if action == "unblock":
        return f"{email} is unblocked. They are not a member, but they may apply again."
    return f"{email} is now tier {membership.get_tier_display()}."


@brand_view(roles=ADMIN_ONLY)
@require_POST
def pool_member_update(
    request: HttpRequest, *, brand: Brand, role: str, membership_id: int
) -> HttpResponse:
    membership = PoolMembership.objects.for_brand(brand).filter(pk=membership_id).first()
    if membership is None:
        raise Http404("No such pool member.")
    status = _tab(request.POST.get("tab"))
    page = request.POST.get("page")
    form = PoolDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing changed: {form.error_summary()}")
    else:
        action = form.cleaned_data["action"]
        try:
            if action == "set_tier":
                membership = pool_services.pool_set_tier(
                    membership=membership,
                    actor=request.user,
                    tier=form.cleaned_data["tier"],
                    request=request,
                )
            else:
                membership = pool_services.pool_decide(
                    membership=membership,
                    actor=request.user,
                    decision=action,
                    reason=form.cleaned_data["reason"],
                    request=request,
                )
        except GigdeskError as exc:
            messages.error(request, f"Nothing changed: {exc.message}")
        else:
            messages.success(request, _decision_message(membership, action))
    if request.htmx:
        return _render_pool(request, brand, role, status=status, page=page)
    query = {key: value for key, value in (("status", status), ("page", page)) if value}
    target = reverse("frontend:brand_pool", args=[brand.slug])
    return redirect(f"{target}?{urlencode(query)}" if query else target)


# --- Agent pages: brands, applications, invitations --------------------------------


def _pay_lines(summary: OpenGigSummary) -> list[str]:
    units = {PayModel.PER_MINUTE: "minute", PayModel.PER_RESOLUTION: "resolution"}
    lines = []
    for (pay_model, currency), (low, high) in summary.pay_ranges.items():
        amount = money_format(low, currency)
        if high != low:
            amount = f"{amount}–{money_format(high, currency)}"
        lines.append(f"{amount} per {units.get(pay_model, pay_model)}")
    return lines


def _apply_state(membership: PoolMembership | None) -> tuple[bool, str]:
    """Whether the agent may apply now and, if not, what the page says instead."""
    if membership is None:
        return True, ""
    if membership.status == PoolStatus.REJECTED:
        if membership.reapply_after and membership.reapply_after > timezone.now():
            return False, f"You can apply again from {_when(membership.reapply_after)}."
        return True, ""
    return False, _STATE_NOTES[membership.status]


_STATE_NOTES = {
    PoolStatus.APPLIED: "Your application is waiting for the brand's decision.",
    PoolStatus.APPROVED: "You are an approved member: you can be offered this brand's work.",
    PoolStatus.INVITED: "The brand has invited you: accept the invitation on your Brands page.",
    PoolStatus.BLOCKED: "You cannot apply to this brand's pool.",
}


@login_required
@require_GET
def agent_brands(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_agent:
        return forbidden(request, NOT_AN_AGENT)
    # Open invitations first: they wait on the agent.
    pools = agent_pools(agent=user).order_by("status", "-updated_at", "-id")
    invitations = list(pools.filter(status=PoolStatus.INVITED))
    pools_page = Paginator(pools.exclude(status=PoolStatus.INVITED), POOLS_PER_PAGE).get_page(
        request.GET.get("pools_page")
    )
    for membership in pools_page:
        membership.badge = BADGE_BY_STATUS[membership.status]
    brands_page = Paginator(brands_for_agents(agent=user), BRANDS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    brand_ids = [brand.pk for brand in brands_page]
    summaries = open_gig_summaries(brand_ids=brand_ids)
    mine = {
        m.brand_id: m for m in PoolMembership.objects.filter(agent=user, brand_id__in=brand_ids)
    }
    rows = []
    for brand in brands_page:
        summary = summaries.get(brand.pk)
        membership = mine.get(brand.pk)
        can_apply, apply_note = _apply_state(membership)
        rows.append(
            {
                "brand": brand,
                "gig_count": summary.gig_count if summary else 0,
                "languages": [_LANGUAGE_NAMES.get(c, c) for c in summary.languages]
                if summary
                else [],
                "pay_lines": _pay_lines(summary) if summary else [],
                "membership": membership,
                "badge": BADGE_BY_STATUS[membership.status] if membership else "",
                "can_apply": can_apply,
                "apply_note": apply_note,
            }
        )
    return render(
        request,
        "pools/agent_brands.html",
        {
            "invitations": invitations,
            "pools_page": pools_page,
            "brands_page": brands_page,
            "rows": rows,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def pool_apply(request: HttpRequest, brand_slug: str) -> HttpResponse:
    user = request.user
    if not user.is_agent:
        return forbidden(request, NOT_AN_AGENT)
    brand = Brand.objects.filter(slug=brand_slug).first()
    if brand is None:
        raise Http404("No such brand.")
    form = PoolApplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            pool_services.pool_apply(
                agent=user, brand=brand, note=form.cleaned_data["note"], request=request
            )
        except GigdeskError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                f"Your application to {brand.name}'s pool is in. You will see their "
                "decision on this page.",
            )
            return redirect("frontend:agent_brands")
    membership = PoolMembership.objects.filter(agent=user, brand=brand).first()
    summary = open_gig_summaries(brand_ids=[brand.pk]).get(brand.pk)
    can_apply, apply_note = _apply_state(membership)
    return render(
        request,
        "pools/pool_apply.html",
        {
            "brand": brand,
            "form": form,
            "membership": membership,
            "badge": BADGE_BY_STATUS[membership.status] if membership else "",
            "can_apply": can_apply,
            "apply_note": apply_note,
            "gig_count": summary.gig_count if summary else 0,
            "languages": [_LANGUAGE_NAMES.get(c, c) for c in summary.languages] if summary else [],
            "pay_lines": _pay_lines(summary) if summary else [],
            "required_certifications": brand_required_certifications(agent=user, brand=brand),
        },
    )


def _own_invitation(request: HttpRequest, membership_id: int) -> PoolMembership:
    membership = (
        PoolMembership.objects.filter(pk=membership_id, agent=request.user)
        .select_related("brand")
        .first()
    )
    if membership is None:
        raise Http404("No such invitation.")
    return membership


@login_required
@require_POST
def pool_invitation_accept(request: HttpRequest, membership_id: int) -> HttpResponse:
    if not request.user.is_agent:
        return forbidden(request, NOT_AN_AGENT)
    membership = _own_invitation(request, membership_id)
    try:
        pool_services.pool_invitation_accept(
            membership=membership, agent=request.user, request=request
        )
    except GigdeskError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"You joined {membership.brand.name}'s pool: you can now be offered its work.",
        )
    return redirect("frontend:agent_brands")


@login_required
@require_POST
def pool_invitation_decline(request: HttpRequest, membership_id: int) -> HttpResponse:
    if not request.user.is_agent:
        return forbidden(request, NOT_AN_AGENT)
    membership = _own_invitation(request, membership_id)
    try:
        pool_services.pool_invitation_decline(
            membership=membership, agent=request.user, request=request
        )
    except GigdeskError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(
            request,
            f"You declined {membership.brand.name}'s invitation. You can still apply later.",
        )
    return redirect("frontend:agent_brands")
