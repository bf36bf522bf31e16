"""The weekly digest's unsubscribe link and the admin's digest settings page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from analytics.digest import digest_preference_set, digest_subscriptions, digest_token_read
from marketplace.errors import NotFound


# The signed token is the credential, so a CSRF token adds nothing; and mail
# clients' one-click unsubscribe (RFC 8058, List-Unsubscribe-Post) POSTs here
# with no cookie or form token at all.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def digest_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (link scanners follow links and must not unsubscribe anyone); POST unsubscribes."""
    try:
        user, brand = digest_token_read(token=token)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    unsubscribed = request.method == "POST"
    if unsubscribed:
        digest_preference_set(
            user=user, brand=brand, weekly_digest=False, via="link", request=request
        )
    context = {"subscriber": user, "brand": brand, "unsubscribed": unsubscribed}
    return render(request, "analytics/digest_unsubscribe.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def digest_settings(request: HttpRequest) -> HttpResponse:
    """A checkbox per brand the user administers: checked gets the weekly digest."""
    subscriptions = digest_subscriptions(user=request.user)
    if request.method == "POST":
        wanted = set(request.POST.getlist("brands"))
        for brand, on in subscriptions:
            if (str(brand.pk) in wanted) != on:
                digest_preference_set(
                    user=request.user,
                    brand=brand,
                    weekly_digest=not on,
                    via="settings",
                    request=request,
                )
        messages.success(request, "Your digest settings are saved.")
        return redirect("frontend:digest_settings")
    return render(request, "analytics/digest_settings.html", {"subscriptions": subscriptions})
