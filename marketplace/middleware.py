"""Platform staff must have two-factor authentication before they use staff pages."""

from __future__ import annotations

from urllib.parse import urlencode

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse

# The staff console and the Django admin both act on every brand's data.
_PROTECTED_PREFIXES = ("/staff/", "/admin/")


class StaffTwoFactorMiddleware:
    """Send a staff member without an authenticator app to the page that sets one up.

    Brand users and agents are never forced: for them two-factor is optional.
    The activation page itself lives under /accounts/, so it is never caught here.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.is_staff
            and request.path.startswith(_PROTECTED_PREFIXES)
            and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
        ):
            messages.warning(
                request,
                "Platform staff must turn on two-factor authentication before using the "
                "staff console or the admin. Scan the code with your authenticator app to continue.",
            )
            return redirect(f"{reverse('mfa_activate_totp')}?{urlencode({'next': request.path})}")
        return self.get_response(request)
