"""Who may author and grade an assessment: platform staff for platform
assessments; the brand's own people for a brand's."""

from __future__ import annotations

from brands.models import BrandMembership, BrandRole
from marketplace.errors import PermissionDenied

AUTHOR_ROLES = (BrandRole.ADMIN,)
GRADER_ROLES = (BrandRole.ADMIN, BrandRole.QA_REVIEWER)


def _has_role(user, brand, roles) -> bool:
    return BrandMembership.objects.filter(brand=brand, user=user, role__in=roles).exists()


def can_author(user, brand) -> bool:
    """``user`` may write assessments owned by ``brand`` (None: the platform)."""
    if user is None:  # the system (management commands)
        return True
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if brand is None:
        return bool(user.is_staff)
    return _has_role(user, brand, AUTHOR_ROLES)


def can_grade(user, brand) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if brand is None:
        return bool(user.is_staff)
    return _has_role(user, brand, GRADER_ROLES)


def require_author(user, brand) -> None:
    if not can_author(user, brand):
        if brand is None:
            raise PermissionDenied("Only platform staff can author platform assessments.")
        raise PermissionDenied(f"Only admins of {brand} can author its assessments.")
