"""Access rules shared by page views: who may open a brand page or a staff page.

Brand pages resolve the brand from the URL ``slug`` through ``access_brand``:
a non-member gets 404 (the brand's existence is not revealed), a member whose
role is not allowed gets the friendly 403 page with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from brands.selectors import ALL_ROLES, access_brand
from marketplace.errors import PermissionDenied


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    """The 403 page, with a reason the user can act on."""
    return render(request, "403.html", {"message": message}, status=403)


def brand_view(roles: Iterable[str] = ALL_ROLES) -> Callable:
    """Decorate a brand page: the view gets ``brand`` and ``role`` instead of ``slug``.

    ``PermissionDenied`` raised by the view itself (for example an admin-only
    POST on a page every member may read) also becomes the 403 page.
    """
    allowed = tuple(roles)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapper(request: HttpRequest, slug: str, *args, **kwargs) -> HttpResponse:
            try:
                brand, role = access_brand(request.user, slug, roles=allowed)
                return view(request, *args, brand=brand, role=role, **kwargs)
            except PermissionDenied as exc:
                return forbidden(request, exc.message)

        return wrapper

    return decorator


def staff_view(view: Callable) -> Callable:
    """Decorate a staff console page: platform staff only, everyone else gets 403.

    Two-factor is enforced before this runs, by ``StaffTwoFactorMiddleware``.
    """

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            return forbidden(request, "The staff console is for Gigdesk platform staff only.")
        return view(request, *args, **kwargs)

    return wrapper
