"""Stripe's webhook endpoint: the one view of this app (the pages live in ``frontend``)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payouts.stripe_events import InvalidStripeWebhook, stripe_event_receive

logger = logging.getLogger(__name__)


# Stripe cannot send a CSRF token: the signature is what authenticates it.
@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """Store a signed event and answer 200 at once; it is processed in the background.

    400 when the signature is missing or wrong (nothing stored): Stripe
    retries that delivery, which helps while a secret is being rotated.
    """
    try:
        event, created = stripe_event_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except InvalidStripeWebhook as exc:
        logger.warning("Refused a Stripe webhook: %s", exc.message)
        return JsonResponse({"error": {"code": exc.code, "message": exc.message}}, status=400)
    return JsonResponse({"received": event.event_id, "duplicate": not created})
