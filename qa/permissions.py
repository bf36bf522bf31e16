"""Who may do what in QA: platform staff everywhere; a brand's admins write its
scorecards and settings; its admins and QA reviewers review, assign and decide
disputes; viewers only read."""

from __future__ import annotations

from brands.models import BrandMembership, BrandRole
from marketplace.errors import NotFound, PermissionDenied

ADMIN_ROLES = (BrandRole.ADMIN,)
REVIEWER_ROLES = (BrandRole.ADMIN, BrandRole.QA_REVIEWER)


def _active(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def brand_role(user, brand) -> str | None:
    if not _active(user) or brand is None:
        return None
    return (
        BrandMembership.objects.filter(brand=brand, user=user)
        .values_list("role", flat=True)
        .first()
    )


def can_manage(user, brand) -> bool:
    """``user`` may write scorecards and QA settings of ``brand`` (None: the platform's)."""
    if not _active(user):
        return False
    if user.is_staff:
        return True
    return brand is not None and brand_role(user, brand) in ADMIN_ROLES


def can_review(user, brand) -> bool:
    """``user`` may score, assign and decide disputes on ``brand``'s tasks."""
    if not _active(user):
        return False
    if user.is_staff:
        return True
    return brand_role(user, brand) in REVIEWER_ROLES


def require_manage(user, brand) -> None:
    """PermissionDenied for a member without the role; NotFound for an outsider,
    so another brand's objects do not reveal that they exist."""
    if can_manage(user, brand):
        return
    if brand is None:
        raise PermissionDenied("Only platform staff can change platform scorecards.")
    if brand_role(user, brand) is None:
        raise NotFound("No such scorecard or settings.")
    raise PermissionDenied(f"Only admins of {brand} can change its QA scorecards and settings.")


def require_review(user, brand) -> None:
    if can_review(user, brand):
        return
    if brand_role(user, brand) is None:
        raise NotFound("No such review.")
    raise PermissionDenied(f"Only QA reviewers and admins of {brand} can review its tasks.")
