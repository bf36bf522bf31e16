"""Brand console: the brand's gigs. Every member reads them; admins post and change them."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from brands.models import Brand, BrandRole
from frontend.forms.gigs import GigForm, gig_pay_label, money_format
from frontend.views.access import brand_view
from frontend.views.billing import paused_gig_rows
from gigs.filters import GigFilter
from gigs.models import GigStatus, Task
from gigs.selectors import OPEN_STATUSES, access_gig, task_list
from gigs.selectors import gig_list as gig_list_query
from gigs.services import gig_create as gig_create_service
from gigs.services import gig_set_status, gig_update
from marketplace.errors import GigdeskError, ValidationFailed
from payouts import reservations

ADMIN_ONLY = (BrandRole.ADMIN,)
GIGS_PER_PAGE = 25
RECENT_TASKS = 10


def _minutes(seconds: int) -> int | float:
    return seconds // 60 if seconds % 60 == 0 else round(seconds / 60, 1)


@brand_view()
def gig_list(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    # The open-task count groups rows, and grouped queries drop Meta.ordering.
    gigs = gig_list_query(brand=brand).order_by("-created_at", "-id")
    gig_filter = GigFilter(request.GET or None, queryset=gigs)
    page = Paginator(gig_filter.qs, GIGS_PER_PAGE).get_page(request.GET.get("page"))
    for gig in page:
        gig.pay_label = gig_pay_label(gig)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "gigs/gig_list.html",
        {
            "brand": brand,
            "is_admin": role == BrandRole.ADMIN,
            "filter": gig_filter,
            "page": page,
            "filtered": any(request.GET.get(name) for name in gig_filter.filters),
            "query": query.urlencode(),
            "paused_gigs": paused_gig_rows(brand),
        },
    )


@brand_view(roles=ADMIN_ONLY)
@require_http_methods(["GET", "POST"])
def gig_create(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    form = GigForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            gig = gig_create_service(
                brand=brand,
                created_by=request.user,
                skills=form.skills(),
                request=request,
                **form.service_fields(),
            )
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Gig “{gig.title}” is posted.")
            return redirect("frontend:gig_detail", slug=brand.slug, gig_id=gig.pk)
    return render(request, "gigs/gig_form.html", {"brand": brand, "form": form, "gig": None})


@brand_view(roles=ADMIN_ONLY)
@require_http_methods(["GET", "POST"])
def gig_edit(request: HttpRequest, *, brand: Brand, role: str, gig_id: int) -> HttpResponse:
    gig = access_gig(brand=brand, gig_id=gig_id)
    form = GigForm(request.POST or None, instance=gig)
    if request.method == "POST" and form.is_valid():
        try:
            gig = gig_update(
                gig=gig,
                actor=request.user,
                skills=form.skills(),
                request=request,
                **form.service_fields(),
            )
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "Gig settings saved.")
            return redirect("frontend:gig_detail", slug=brand.slug, gig_id=gig.pk)
    # The form changed the in-memory gig while validating; show the saved one.
    gig.refresh_from_db()
    return render(request, "gigs/gig_form.html", {"brand": brand, "form": form, "gig": gig})


@brand_view()
def gig_detail(request: HttpRequest, *, brand: Brand, role: str, gig_id: int) -> HttpResponse:
    gig = access_gig(brand=brand, gig_id=gig_id)
    recent_tasks = list(task_list(brand=brand).filter(gig=gig)[:RECENT_TASKS])
    open_tasks = Task.objects.for_brand(brand).filter(gig=gig, status__in=OPEN_STATUSES).count()
    return render(
        request,
        "gigs/gig_detail.html",
        {
            "brand": brand,
            "gig": gig,
            "is_admin": role == BrandRole.ADMIN,
            "pay_label": gig_pay_label(gig),
            "budget_cap": money_format(gig.budget_cap_minor, gig.currency),
            "sla_minutes": _minutes(gig.sla_first_response_seconds),
            "skills": list(gig.required_skills.all()),
            "recent_tasks": recent_tasks,
            "open_tasks": open_tasks,
            "statuses": GigStatus,
            # Only this gig's own row: the banner is about the page's gig.
            "paused_gigs": [row for row in paused_gig_rows(brand) if row["gig"].pk == gig.pk],
            "reserve_per_claim": money_format(reservations.claim_cost(gig=gig), gig.currency),
        },
    )


@brand_view(roles=ADMIN_ONLY)
@require_POST
def gig_status(request: HttpRequest, *, brand: Brand, role: str, gig_id: int) -> HttpResponse:
    gig = access_gig(brand=brand, gig_id=gig_id)
    status = request.POST.get("status", "")
    if status not in GigStatus.values:
        messages.error(request, "Choose pause, resume or close.")
        return redirect("frontend:gig_detail", slug=brand.slug, gig_id=gig.pk)
    try:
        gig = gig_set_status(gig=gig, status=status, actor=request.user, request=request)
    except GigdeskError as exc:
        messages.error(request, exc.message)
    else:
        done = {
            GigStatus.ACTIVE: "is active again: agents can take its tasks.",
            GigStatus.PAUSED: "is paused: no new tasks are offered until you resume it.",
            GigStatus.CLOSED: "is closed: it takes no new tasks.",
        }[GigStatus(gig.status)]
        messages.success(request, f"“{gig.title}” {done}")
    return redirect("frontend:gig_detail", slug=brand.slug, gig_id=gig.pk)
