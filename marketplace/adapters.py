"""allauth hooks: keep a sign-up's ``?next=`` through email verification."""

from __future__ import annotations

from urllib.parse import urlencode

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.utils import get_next_redirect_url
from django.http import HttpRequest
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    def get_email_confirmation_url(self, request: HttpRequest | None, emailconfirmation) -> str:
        """The confirmation link, carrying the page the person was heading to.

        Verification is mandatory, so someone who signs up from an invitation
        link (``/accounts/signup/?next=/invitations/<token>/``) is logged out
        until they confirm. Without this the confirmation page sends them to
        the plain log-in page and the invitation is lost; with it they land on
        log-in with ``next`` kept, and from there on the invitation.
        """
        url = super().get_email_confirmation_url(request, emailconfirmation)
        if request is None:
            return url
        next_url = get_next_redirect_url(request)
        if not next_url:
            return url
        login_then_next = f"{reverse('account_login')}?{urlencode({'next': next_url})}"
        return f"{url}?{urlencode({'next': login_then_next})}"
