"""Brand console: webhook endpoints, their secrets, test events and the delivery log.

Admins only: an endpoint's page shows its signing secret. Writes go through
``brands.webhooks``.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from brands import webhooks
from brands.models import (
    Brand,
    BrandRole,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from frontend.forms.webhooks import (
    DeliveryFilterForm,
    EndpointActiveForm,
    RotateSecretForm,
    WebhookEndpointForm,
)
from frontend.views.access import brand_view
from frontend.views.tasks import keyset_page
from marketplace.errors import GigdeskError

ADMIN_ONLY = (BrandRole.ADMIN,)
DELIVERIES_PER_PAGE = 25
_CURSOR_PARAMS = ("before", "after")
# Badge colours from gigdesk.css, by meaning.
BADGE_BY_STATUS = {
    WebhookDeliveryStatus.PENDING: "pending",
    WebhookDeliveryStatus.RETRYING: "pending",
    WebhookDeliveryStatus.SUCCEEDED: "succeeded",
    WebhookDeliveryStatus.FAILED: "failed",
}


def _is_partial(request: HttpRequest) -> bool:
    # A history restore (back button after hx-push-url) needs the whole page.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _endpoint_url(brand: Brand, endpoint: WebhookEndpoint) -> str:
    return reverse("frontend:webhook_endpoint_detail", args=[brand.slug, endpoint.pk])


# --- The delivery log (on an endpoint's page and for the whole brand) ------------------


def _delivery_log_context(
    request: HttpRequest, brand: Brand, *, endpoint: WebhookEndpoint | None, log_url: str
) -> dict:
    filter_form = DeliveryFilterForm(request.GET or None, brand=brand, with_endpoint=not endpoint)
    valid = not filter_form.is_bound or filter_form.is_valid()
    if valid:
        cleaned = filter_form.cleaned_data if filter_form.is_bound else {}
        deliveries = webhooks.webhook_delivery_list(
            brand=brand,
            endpoint=endpoint or cleaned.get("endpoint"),
            status=cleaned.get("status", ""),
            event_type=cleaned.get("event_type", ""),
        )
    else:
        # An invalid filter (another brand's endpoint id, an unknown status)
        # shows its error and no rows rather than everything.
        deliveries = WebhookDelivery.objects.none()
    page = keyset_page(deliveries, request.GET, DELIVERIES_PER_PAGE)
    for delivery in page.items:
        delivery.badge = BADGE_BY_STATUS[delivery.status]
    query = request.GET.copy()
    for name in _CURSOR_PARAMS:
        query.pop(name, None)
    return {
        "filter_form": filter_form,
        "page": page,
        "query": query.urlencode(),
        "current_query": request.GET.urlencode(),
        "filtered": any(request.GET.get(name) for name in filter_form.fields),
        "log_url": log_url,
        "show_endpoint": endpoint is None,
        # While a delivery on screen is still under way, the log refreshes itself.
        "polling": any(delivery.is_open for delivery in page.items),
    }


@never_cache
@brand_view(roles=ADMIN_ONLY)
@require_GET
def webhook_delivery_list(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    log_url = reverse("frontend:webhook_delivery_list", args=[brand.slug])
    context = {
        "brand": brand,
        **_delivery_log_context(request, brand, endpoint=None, log_url=log_url),
    }
    if _is_partial(request):
        return render(request, "brands/webhooks/delivery_log.html", context)
    return render(request, "brands/webhooks/deliveries.html", context)


@never_cache
@brand_view(roles=ADMIN_ONLY)
@require_GET
def webhook_delivery_detail(
    request: HttpRequest, *, brand: Brand, role: str, delivery_id: int
) -> HttpResponse:
    delivery = webhooks.access_webhook_delivery(brand=brand, delivery_id=delivery_id)
    delivery.badge = BADGE_BY_STATUS[delivery.status]
    context = {
        "brand": brand,
        "delivery": delivery,
        "redeliveries": list(delivery.redeliveries.order_by("-pk")[:20]),
        "pretty_body": json.dumps(json.loads(delivery.body), indent=2, sort_keys=True),
    }
    return render(request, "brands/webhooks/delivery_detail.html", context)


@brand_view(roles=ADMIN_ONLY)
@require_POST
def webhook_delivery_redeliver(
    request: HttpRequest, *, brand: Brand, role: str, delivery_id: int
) -> HttpResponse:
    delivery = webhooks.access_webhook_delivery(brand=brand, delivery_id=delivery_id)
    try:
        redelivery = webhooks.webhook_delivery_redeliver(
            delivery=delivery, actor=request.user, request=request
        )
    except GigdeskError as exc:
        messages.error(request, exc.message)
        return redirect(
            "frontend:webhook_delivery_detail", slug=brand.slug, delivery_id=delivery.pk
        )
    messages.success(
        request,
        f"Event {delivery.event_id} is on its way again, with the same event id, so your "
        "receiver can tell it has seen it before.",
    )
    return redirect("frontend:webhook_delivery_detail", slug=brand.slug, delivery_id=redelivery.pk)


# --- Endpoints -----------------------------------------------------------------------------


@never_cache
@brand_view(roles=ADMIN_ONLY)
@require_http_methods(["GET", "POST"])
def webhook_endpoint_list(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = webhooks.webhook_endpoint_create(
                brand=brand,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
                created_by=request.user,
                request=request,
            )
        except GigdeskError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                "Endpoint added. Copy its signing secret into your receiver, then send a "
                "test event.",
            )
            return redirect(_endpoint_url(brand, endpoint) + "#secret")
    endpoints = list(webhooks.webhook_endpoint_list(brand=brand))
    context = {
        "brand": brand,
        "form": form,
        "endpoints": endpoints,
        "at_cap": len(endpoints) >= webhooks.WEBHOOK_ENDPOINTS_MAX,
        "endpoints_max": webhooks.WEBHOOK_ENDPOINTS_MAX,
    }
    return render(
        request,
        "brands/webhooks/endpoint_list.html",
        context,
        status=400 if form.errors else 200,
    )


@never_cache  # the page shows the signing secret
@brand_view(roles=ADMIN_ONLY)
@require_GET
def webhook_endpoint_detail(
    request: HttpRequest, *, brand: Brand, role: str, endpoint_id: int
) -> HttpResponse:
    endpoint = webhooks.access_webhook_endpoint(brand=brand, endpoint_id=endpoint_id)
    log = _delivery_log_context(
        request, brand, endpoint=endpoint, log_url=_endpoint_url(brand, endpoint)
    )
    context = {"brand": brand, "endpoint": endpoint, **log}
    if _is_partial(request):
        return render(request, "brands/webhooks/delivery_log.html", context)
    context["rotate_form"] = RotateSecretForm()
    context["retry_delays"] = webhooks.WEBHOOK_RETRY_DELAYS
    return render(request, "brands/webhooks/endpoint_detail.html", context)


@brand_view(roles=ADMIN_ONLY)
@require_http_methods(["GET", "POST"])
def webhook_endpoint_edit(
    request: HttpRequest, *, brand: Brand, role: str, endpoint_id: int
) -> HttpResponse:
    endpoint = webhooks.access_webhook_endpoint(brand=brand, endpoint_id=endpoint_id)
    initial = {"url": endpoint.url, "description": endpoint.description, "events": endpoint.events}
    form = WebhookEndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            webhooks.webhook_endpoint_update(
                endpoint=endpoint,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
                actor=request.user,
                request=request,
            )
        except GigdeskError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, "Endpoint saved.")
            return redirect(_endpoint_url(brand, endpoint))
    context = {"brand": brand, "endpoint": endpoint, "form": form}
    return render(
        request,
        "brands/webhooks/endpoint_form.html",
        context,
        status=400 if form.errors else 200,
    )


@brand_view(roles=ADMIN_ONLY)
@require_POST
def webhook_endpoint_rotate_secret(
    request: HttpRequest, *, brand: Brand, role: str, endpoint_id: int
) -> HttpResponse:
    endpoint = webhooks.access_webhook_endpoint(brand=brand, endpoint_id=endpoint_id)
    form = RotateSecretForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose when the old secret should stop signing.")
        return redirect(_endpoint_url(brand, endpoint) + "#secret")
    hours = form.cleaned_data["previous_valid_for_hours"]
    try:
        webhooks.webhook_endpoint_rotate_secret(
            endpoint=endpoint,
            actor=request.user,
            previous_valid_for=timedelta(hours=hours),
            request=request,
        )
    except GigdeskError as exc:
        messages.error(request, exc.message)
    else:
        if hours:
            messages.success(
                request,
                f"New secret ready. For {hours} hours each delivery is signed with both the "
                "old and the new secret: update your receiver within that time.",
            )
        else:
            messages.success(request, "New secret ready. The old one no longer signs anything.")
    return redirect(_endpoint_url(brand, endpoint) + "#secret")


@brand_view(roles=ADMIN_ONLY)
@require_POST
def webhook_endpoint_set_active(
    request: HttpRequest, *, brand: Brand, role: str, endpoint_id: int
) -> HttpResponse:
    endpoint = webhooks.access_webhook_endpoint(brand=brand, endpoint_id=endpoint_id)
    form = EndpointActiveForm(request.POST)
    if form.is_valid():
        active = form.cleaned_data["active"]
        webhooks.webhook_endpoint_set_active(
            endpoint=endpoint, is_active=active, actor=request.user, request=request
        )
        if active:
            messages.success(request, "Endpoint enabled: new events are sent to it again.")
        else:
            messages.success(
                request, "Endpoint disabled: no events are sent to it until you enable it."
            )
    else:
        messages.error(request, "Nothing changed.")
    return redirect(_endpoint_url(brand, endpoint))


@brand_view(roles=ADMIN_ONLY)
@require_http_methods(["GET", "POST"])
def webhook_endpoint_delete(
    request: HttpRequest, *, brand: Brand, role: str, endpoint_id: int
) -> HttpResponse:
    endpoint = webhooks.access_webhook_endpoint(brand=brand, endpoint_id=endpoint_id)
    if request.method == "POST":
        webhooks.webhook_endpoint_delete(endpoint=endpoint, actor=request.user, request=request)
        messages.success(request, f"The endpoint {endpoint.url} was deleted.")
        return redirect("frontend:webhook_endpoint_list", slug=brand.slug)
    context = {
        "brand": brand,
        "endpoint": endpoint,
        "delivery_count": endpoint.deliveries.count(),
    }
    return render(request, "brands/webhooks/endpoint_delete.html", context)


@brand_view(roles=ADMIN_ONLY)
@require_POST
def webhook_endpoint_ping(
    request: HttpRequest, *, brand: Brand, role: str, endpoint_id: int
) -> HttpResponse:
    endpoint = webhooks.access_webhook_endpoint(brand=brand, endpoint_id=endpoint_id)
    try:
        webhooks.webhook_endpoint_ping(endpoint=endpoint)
    except GigdeskError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Test event sent. Its result appears in the delivery log below.")
    return redirect(_endpoint_url(brand, endpoint) + "#deliveries")
