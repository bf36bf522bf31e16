"""Who may change a brand's settings from a service call."""

from __future__ import annotations

from brands.models import Brand, BrandMembership, BrandRole
from marketplace.errors import PermissionDenied


def require_brand_admin(*, actor, brand: Brand, action: str) -> None:
    """Views let only the brand's admins in; this keeps a service call from
    crossing brands (an admin of one brand acting on another's). ``action``
    completes "Only admins of <brand> can …"."""
    is_admin = BrandMembership.objects.filter(
        brand=brand, user_id=actor.pk, role=BrandRole.ADMIN
    ).exists()
    if not is_admin:
        raise PermissionDenied(f"Only admins of {brand} can {action}.")
