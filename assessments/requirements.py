"""The certifications a gig or a brand's pool requires: setting and removing
them (audited), and which assessments a brand may require."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q, QuerySet

from assessments.models import (
    Assessment,
    AssessmentKind,
    BrandCertificationRequirement,
    GigCertificationRequirement,
    VersionStatus,
)
from gigs import live
from marketplace.audit import audit_record
from marketplace.errors import NotFound, PermissionDenied, ValidationFailed


def _requirement_level(assessment: Assessment, min_level: str | None) -> str:
    level = min_level or ""
    if level and assessment.kind != AssessmentKind.LANGUAGE:
        raise ValidationFailed(
            "A knowledge assessment is passed or not; it has no level to require.",
            fields={"min_level": "Leave empty for a pass."},
        )
    if level and level not in {b["level"] for b in _bands(assessment)}:
        raise ValidationFailed(
            f"{assessment} does not award {level}.", fields={"min_level": "Not a level it awards."}
        )
    return level


def _bands(assessment: Assessment) -> list[dict]:
    version = assessment.published_version()
    return version.level_bands if version is not None else []


def _require_usable(assessment: Assessment, brand) -> None:
    # A brand may require platform assessments and its own, never another brand's.
    if assessment.brand_id is not None and assessment.brand_id != brand.pk:
        raise NotFound("No such assessment.")
    if assessment.published_version() is None:
        raise ValidationFailed(f"{assessment} has no published version yet.")


def _require_brand_admin(actor, brand) -> None:
    from brands.models import BrandMembership, BrandRole

    if not BrandMembership.objects.filter(brand=brand, user=actor, role=BrandRole.ADMIN).exists():
        raise PermissionDenied(f"Only admins of {brand} can set required certifications.")


def gig_certification_require(
    *, actor, gig, assessment: Assessment, min_level: str | None = None
) -> GigCertificationRequirement:
    """Require (or change the level of) a certification for a gig's tasks.
    ``min_level`` None/"" means a pass, or any level of a language assessment."""
    _require_brand_admin(actor, gig.brand)
    _require_usable(assessment, gig.brand)
    level = _requirement_level(assessment, min_level)
    with transaction.atomic():
        requirement, _ = GigCertificationRequirement.objects.update_or_create(
            gig=gig, assessment=assessment, defaults={"min_level": level}
        )
        audit_record(
            actor=actor,
            action="gig.certification_required",
            target=gig,
            brand=gig.brand,
            changes={"assessment": assessment.slug, "min_level": level or "pass"},
        )
        live.pool_scope_changed(gig.brand_id)
    return requirement


def brand_certification_require(
    *, actor, brand, assessment: Assessment, min_level: str | None = None
) -> BrandCertificationRequirement:
    """Require a certification to apply to ``brand``'s pool."""
    _require_brand_admin(actor, brand)
    _require_usable(assessment, brand)
    level = _requirement_level(assessment, min_level)
    with transaction.atomic():
        requirement, _ = BrandCertificationRequirement.objects.update_or_create(
            brand=brand, assessment=assessment, defaults={"min_level": level}
        )
        audit_record(
            actor=actor,
            action="pool.certification_required",
            target=requirement,
            brand=brand,
            changes={"assessment": assessment.slug, "min_level": level or "pass"},
        )
    return requirement


def gig_certification_unrequire(*, actor, gig, assessment: Assessment) -> None:
    """Stop requiring ``assessment`` for a gig's tasks: agents who lacked only
    this certification are offered them again."""
    _require_brand_admin(actor, gig.brand)
    with transaction.atomic():
        requirement = (
            GigCertificationRequirement.objects.select_for_update()
            .filter(gig=gig, assessment=assessment)
            .first()
        )
        if requirement is None:
            raise NotFound(f"{gig} does not require {assessment}.")
        level = requirement.min_level
        requirement.delete()
        audit_record(
            actor=actor,
            action="gig.certification_unrequired",
            target=gig,
            brand=gig.brand,
            changes={"assessment": assessment.slug, "min_level": level or "pass"},
        )
        live.pool_scope_changed(gig.brand_id)


def brand_certification_unrequire(*, actor, brand, assessment: Assessment) -> None:
    """Stop requiring ``assessment`` to apply to ``brand``'s pool. Members
    already in the pool are not affected either way."""
    _require_brand_admin(actor, brand)
    with transaction.atomic():
        requirement = (
            BrandCertificationRequirement.objects.select_for_update()
            .filter(brand=brand, assessment=assessment)
            .first()
        )
        if requirement is None:
            raise NotFound(f"{brand} does not require {assessment}.")
        level = requirement.min_level
        audit_record(
            actor=actor,
            action="pool.certification_unrequired",
            target=requirement,
            brand=brand,
            changes={"assessment": assessment.slug, "min_level": level or "pass"},
        )
        requirement.delete()


def assessments_requirable(*, brand) -> QuerySet[Assessment]:
    """What ``brand`` may require: platform assessments and its own, each with
    a published version. Never another brand's."""
    return (
        Assessment.objects.filter(Q(brand__isnull=True) | Q(brand=brand))
        .filter(versions__status=VersionStatus.PUBLISHED)
        .distinct()
        .order_by("title", "pk")
    )
