"""Brand console pages: creating a brand, its overview, the team, API keys, invitations."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from brands import services
from brands.models import Brand, BrandMembership, BrandRole
from frontend.forms.brand import (
    ApiKeyCreateForm,
    BrandCreateForm,
    InvitationForm,
    MemberUpdateForm,
)
from frontend.views.access import brand_view
from frontend.views.billing import paused_gig_rows
from gigs.models import GigStatus, TaskStatus
from gigs.selectors import OPEN_STATUSES, gig_list, task_list
from marketplace.errors import GigdeskError, PermissionDenied

ADMIN_ONLY = (BrandRole.ADMIN,)
MEMBERS_PER_PAGE = 50
KEYS_PER_PAGE = 50
RECENT_TASKS = 10
# Closed (revoked or expired) invitations stay listed this long, so an admin
# can see why someone could not join before the entry disappears.
CLOSED_INVITATIONS_SHOWN_FOR = timedelta(days=30)


def _require_admin(role: str, brand: Brand) -> None:
    if role != BrandRole.ADMIN:
        raise PermissionDenied(
            f"Only admins of {brand} can do this. Ask one of them to change it for you."
        )


# --- Brand creation and overview ----------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def brand_create(request: HttpRequest) -> HttpResponse:
    form = BrandCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            brand = services.brand_create(
                user=request.user,
                name=form.cleaned_data["name"],
                time_zone=form.cleaned_data["time_zone"],
                request=request,
            )
        except GigdeskError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"{brand.name} is ready. Post a gig to start.")
            return redirect("frontend:brand_home", slug=brand.slug)
    return render(request, "brands/brand_create.html", {"form": form})


def _counts_by_status(queryset, choices) -> list[dict]:
    counted = dict(
        # distinct: gig_list joins tasks for its open-task annotation.
        queryset.order_by().values_list("status").annotate(n=Count("id", distinct=True))
    )
    return [
        {"value": value, "label": label, "count": counted.get(value, 0)} for value, label in choices
    ]


@brand_view()
@require_http_methods(["GET"])
def brand_home(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    gig_counts = _counts_by_status(gig_list(brand=brand), GigStatus.choices)
    open_choices = [(s.value, s.label) for s in TaskStatus if s in OPEN_STATUSES]
    open_task_counts = _counts_by_status(
        task_list(brand=brand).filter(status__in=OPEN_STATUSES), open_choices
    )
    recent_tasks = list(task_list(brand=brand)[:RECENT_TASKS])
    context = {
        "brand": brand,
        "role": role,
        "is_admin": role == BrandRole.ADMIN,
        "gig_counts": gig_counts,
        "gig_total": sum(c["count"] for c in gig_counts),
        "open_task_counts": open_task_counts,
        "open_task_total": sum(c["count"] for c in open_task_counts),
        "recent_tasks": recent_tasks,
        "paused_gigs": paused_gig_rows(brand),
    }
    return render(request, "brands/brand_home.html", context)


# --- Team -----------------------------------------------------------------------


def _team_context(request: HttpRequest, brand: Brand, role: str) -> dict:
    members = brand.memberships.select_related("user").order_by("user__email")
    page = Paginator(members, MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    invitations = (
        brand.invitations.filter(accepted_at__isnull=True)
        .filter(
            Q(revoked_at__isnull=True)
            | Q(revoked_at__gte=timezone.now() - CLOSED_INVITATIONS_SHOWN_FOR)
        )
        .filter(expires_at__gte=timezone.now() - CLOSED_INVITATIONS_SHOWN_FOR)
        .select_related("invited_by")
    )
    return {
        "brand": brand,
        "role": role,
        "is_admin": role == BrandRole.ADMIN,
        "members_page": page,
        "invitations": invitations,
        "role_choices": BrandRole.choices,
    }


def _render_team(request, brand, role, *, invite_form=None, status=200) -> HttpResponse:
    context = _team_context(request, brand, role)
    context["invite_form"] = invite_form or InvitationForm()
    # htmx swaps only the lists after a role change, removal or revocation.
    template = "brands/team_lists.html" if request.htmx else "brands/team.html"
    return render(request, template, context, status=status)


@brand_view()
@require_http_methods(["GET", "POST"])
def brand_team(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    if request.method == "GET":
        return _render_team(request, brand, role)
    _require_admin(role, brand)
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            issued = services.invitation_create(
                brand=brand,
                invited_by=request.user,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                request=request,
            )
        except GigdeskError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                f"Invitation sent to {issued.invitation.email} as "
                f"{issued.invitation.get_role_display()}.",
            )
            return redirect("frontend:brand_team", slug=brand.slug)
    return _render_team(request, brand, role, invite_form=form)


def _after_team_change(request: HttpRequest, brand: Brand) -> HttpResponse:
    if request.htmx:
        role = brand.memberships.filter(user=request.user).values_list("role", flat=True).first()
        if role is not None:
            return _render_team(request, brand, role)
        # The user removed themselves: the team page is no longer theirs to see.
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("frontend:home")
        return response
    if not brand.memberships.filter(user=request.user).exists():
        return redirect("frontend:home")
    return redirect("frontend:brand_team", slug=brand.slug)


@brand_view(roles=ADMIN_ONLY)
@require_POST
def member_update(
    request: HttpRequest, *, brand: Brand, role: str, membership_id: int
) -> HttpResponse:
    membership = brand.memberships.select_related("user").filter(pk=membership_id).first()
    if membership is None:
        raise Http404("No such member.")
    form = MemberUpdateForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        messages.error(request, f"Nothing changed: {errors}")
        return _after_team_change(request, brand)
    email = membership.user.email
    try:
        if form.cleaned_data["action"] == "remove":
            services.membership_remove(membership=membership, actor=request.user, request=request)
            messages.success(request, f"{email} no longer has access to {brand}.")
        else:
            membership = services.membership_set_role(
                membership=membership,
                role=form.cleaned_data["role"],
                actor=request.user,
                request=request,
            )
            messages.success(request, f"{email} is now {membership.get_role_display()}.")
    except GigdeskError as exc:
        messages.error(request, exc.message)
    return _after_team_change(request, brand)


@brand_view(roles=ADMIN_ONLY)
@require_POST
def invitation_revoke(
    request: HttpRequest, *, brand: Brand, role: str, invitation_id: int
) -> HttpResponse:
    invitation = brand.invitations.filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    try:
        services.invitation_revoke(invitation=invitation, actor=request.user, request=request)
    except GigdeskError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The invitation for {invitation.email} was revoked.")
    return _after_team_change(request, brand)


# --- API keys ---------------------------------------------------------------------


@never_cache  # the page that shows a new secret must not be kept by any cache
@brand_view(roles=ADMIN_ONLY)
@require_http_methods(["GET", "POST"])
def api_key_list(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    issued = None
    form = ApiKeyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.api_key_create(
                brand=brand,
                name=form.cleaned_data["name"],
                created_by=request.user,
                request=request,
            )
        except GigdeskError as exc:
            form.add_service_error(exc)
        else:
            # Rendered straight away, never redirected: the secret exists only
            # in this one response, not in a URL, the session or the database.
            form = ApiKeyCreateForm()
    keys = brand.api_keys.select_related("created_by", "revoked_by")
    page = Paginator(keys, KEYS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"brand": brand, "role": role, "form": form, "issued": issued, "keys_page": page}
    return render(request, "brands/api_keys.html", context)


@brand_view(roles=ADMIN_ONLY)
@require_POST
def api_key_revoke(request: HttpRequest, *, brand: Brand, role: str, key_id: int) -> HttpResponse:
    api_key = brand.api_keys.filter(pk=key_id).first()
    if api_key is None:
        raise Http404("No such API key.")
    if api_key.revoked_at is not None:
        messages.info(request, f"The key “{api_key.name}” was already revoked.")
    else:
        services.api_key_revoke(api_key=api_key, actor=request.user, request=request)
        messages.success(
            request,
            f"The key “{api_key.name}” is revoked; requests using it are now refused.",
        )
    return redirect("frontend:api_key_list", slug=brand.slug)


# --- Invitations ----------------------------------------------------------------------

_CLOSED_REASONS = {
    "accepted": "This invitation has already been used.",
    "revoked": "This invitation was withdrawn by the brand.",
    "expired": "This invitation has expired.",
}


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Anyone with the link may see the invitation; only the invited address may accept it."""
    invitation = services.invitation_for_token(token=token)
    if invitation is None:
        return render(request, "brands/invitation_invalid.html", status=404)
    user = request.user
    context = {
        "invitation": invitation,
        "here": request.get_full_path(),
        "closed_reason": _CLOSED_REASONS.get(invitation.status),
        "email_matches": user.is_authenticated and user.email.lower() == invitation.email,
        "already_member": user.is_authenticated
        and BrandMembership.objects.filter(brand=invitation.brand, user=user).exists(),
    }
    if request.method == "POST":
        if not user.is_authenticated:
            return redirect(f"{reverse('account_login')}?{urlencode({'next': request.path})}")
        try:
            services.invitation_accept(token=token, user=user, request=request)
        except GigdeskError as exc:
            context["error"] = exc.message
            return render(request, "brands/invitation_accept.html", context, status=exc.http_status)
        messages.success(request, f"Welcome to {invitation.brand.name}.")
        return redirect("frontend:brand_home", slug=invitation.brand.slug)
    return render(request, "brands/invitation_accept.html", context)
