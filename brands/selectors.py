"""Reads for brands, and the one way a request reaches a brand: ``access_brand``."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet
from django.http import Http404

from brands.models import Brand, BrandMembership, BrandRole
from marketplace.errors import PermissionDenied

ALL_ROLES = tuple(BrandRole.values)


def memberships_for_user(user) -> QuerySet[BrandMembership]:
    if not user.is_authenticated:
        return BrandMembership.objects.none()
    return BrandMembership.objects.filter(user=user).select_related("brand")


def access_brand(user, slug: str, *, roles: Iterable[str] = ALL_ROLES) -> tuple[Brand, str]:
    """The brand ``slug`` and the user's role in it.

    Not a member: 404, so a brand's existence is not revealed. A member
    without one of ``roles``: PermissionDenied.
    """
    membership = memberships_for_user(user).filter(brand__slug=slug).first()
    if membership is None:
        raise Http404("No such brand.")
    if membership.role not in roles:
        raise PermissionDenied(
            f"Your role in {membership.brand} ({membership.get_role_display()}) "
            "does not allow this. Ask a brand admin."
        )
    return membership.brand, membership.role
