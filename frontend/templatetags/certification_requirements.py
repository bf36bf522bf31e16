"""The "Required certifications" section of the gig and pool pages.

``{% gig_certification_requirements %}`` and ``{% pool_certification_requirements %}``
read ``brand``, ``is_admin`` (and ``gig``) from the page's context, so the
pages' own views need not know about certifications.
"""

from __future__ import annotations

from django import template
from django.urls import reverse

from assessments.models import BrandCertificationRequirement, GigCertificationRequirement
from frontend.forms.certification_requirements import CertificationRequirementForm

register = template.Library()

TEMPLATE = "assessments/certification_requirements.html"


def _section(context, *, requirements, add_url, remove_url, intro: str, empty: str) -> dict:
    brand = context["brand"]
    is_admin = bool(context.get("is_admin"))
    rows = [
        {"requirement": r, "remove_url": remove_url(r.assessment.slug)}
        for r in requirements.select_related("assessment", "assessment__brand").order_by(
            "assessment__title"
        )
    ]
    form = CertificationRequirementForm(brand=brand) if is_admin else None
    return {
        "rows": rows,
        "is_admin": is_admin,
        "form": form,
        "has_choices": form is not None and form.fields["assessment"].queryset.exists(),
        "add_url": add_url,
        "intro": intro,
        "empty": empty,
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag(TEMPLATE, takes_context=True)
def gig_certification_requirements(context) -> dict:
    brand, gig = context["brand"], context["gig"]
    return _section(
        context,
        requirements=GigCertificationRequirement.objects.filter(gig=gig),
        add_url=reverse("frontend:gig_certification_add", args=[brand.slug, gig.pk]),
        remove_url=lambda slug: reverse(
            "frontend:gig_certification_remove", args=[brand.slug, gig.pk, slug]
        ),
        intro="Only agents who hold every one of these (unexpired) are offered this gig's tasks.",
        empty="No certification required: every qualified pool agent is offered this gig's tasks.",
    )


@register.inclusion_tag(TEMPLATE, takes_context=True)
def pool_certification_requirements(context) -> dict:
    brand = context["brand"]
    return _section(
        context,
        requirements=BrandCertificationRequirement.objects.filter(brand=brand),
        add_url=reverse("frontend:pool_certification_add", args=[brand.slug]),
        remove_url=lambda slug: reverse(
            "frontend:pool_certification_remove", args=[brand.slug, slug]
        ),
        intro="Agents must hold every one of these to apply to your pool. "
        "Agents already in the pool keep their place.",
        empty="No certification required: any agent may apply.",
    )
