"""Required certifications of a gig and of a brand's pool: brand admins add and
remove them; every member reads them on the gig and pool pages (rendered by
the ``certification_requirements`` template tags). Writes go through
``assessments.requirements``; a refusal is shown on the page it came from."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from assessments.models import BrandCertificationRequirement, GigCertificationRequirement
from assessments.requirements import (
    brand_certification_require,
    brand_certification_unrequire,
    gig_certification_require,
    gig_certification_unrequire,
)
from brands.models import Brand, BrandRole
from frontend.forms.certification_requirements import CertificationRequirementForm
from frontend.views.access import brand_view
from gigs.selectors import access_gig
from marketplace.errors import GigdeskError

ADMIN_ONLY = (BrandRole.ADMIN,)
ANCHOR = "#certifications"


def _level_label(min_level: str) -> str:
    return min_level or "a pass"


def _add(request: HttpRequest, *, brand: Brand, require) -> None:
    form = CertificationRequirementForm(request.POST, brand=brand)
    if not form.is_valid():
        messages.error(request, form.error_summary())
        return
    assessment = form.cleaned_data["assessment"]
    min_level = form.cleaned_data["min_level"]
    try:
        require(actor=request.user, assessment=assessment, min_level=min_level)
    except GigdeskError as exc:
        messages.error(request, exc.message)
        return
    messages.success(request, f"Now requires {assessment} ({_level_label(min_level)}).")


def _remove(request: HttpRequest, *, requirement, unrequire) -> None:
    try:
        unrequire(actor=request.user, assessment=requirement.assessment)
    except GigdeskError as exc:
        messages.error(request, exc.message)
        return
    messages.success(request, f"{requirement.assessment} is no longer required.")


@brand_view(roles=ADMIN_ONLY)
@require_POST
def gig_certification_add(
    request: HttpRequest, *, brand: Brand, role: str, gig_id: int
) -> HttpResponse:
    gig = access_gig(brand=brand, gig_id=gig_id)

    def require(**kwargs):
        return gig_certification_require(gig=gig, **kwargs)

    _add(request, brand=brand, require=require)
    return redirect(reverse("frontend:gig_detail", args=[brand.slug, gig.pk]) + ANCHOR)


@brand_view(roles=ADMIN_ONLY)
@require_POST
def gig_certification_remove(
    request: HttpRequest, *, brand: Brand, role: str, gig_id: int, assessment_slug: str
) -> HttpResponse:
    gig = access_gig(brand=brand, gig_id=gig_id)
    requirement = (
        GigCertificationRequirement.objects.filter(gig=gig, assessment__slug=assessment_slug)
        .select_related("assessment")
        .first()
    )
    if requirement is None:
        raise Http404("This gig does not require that assessment.")

    def unrequire(**kwargs):
        return gig_certification_unrequire(gig=gig, **kwargs)

    _remove(request, requirement=requirement, unrequire=unrequire)
    return redirect(reverse("frontend:gig_detail", args=[brand.slug, gig.pk]) + ANCHOR)


@brand_view(roles=ADMIN_ONLY)
@require_POST
def pool_certification_add(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    def require(**kwargs):
        return brand_certification_require(brand=brand, **kwargs)

    _add(request, brand=brand, require=require)
    return redirect(reverse("frontend:brand_pool", args=[brand.slug]) + ANCHOR)


@brand_view(roles=ADMIN_ONLY)
@require_POST
def pool_certification_remove(
    request: HttpRequest, *, brand: Brand, role: str, assessment_slug: str
) -> HttpResponse:
    requirement = (
        BrandCertificationRequirement.objects.filter(brand=brand, assessment__slug=assessment_slug)
        .select_related("assessment")
        .first()
    )
    if requirement is None:
        raise Http404("The pool does not require that assessment.")

    def unrequire(**kwargs):
        return brand_certification_unrequire(brand=brand, **kwargs)

    _remove(request, requirement=requirement, unrequire=unrequire)
    return redirect(reverse("frontend:brand_pool", args=[brand.slug]) + ANCHOR)
