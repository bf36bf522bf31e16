"""The platform's one way to reach Stripe: the official SDK, aimed at Stripe or at the local sandbox.

With ``STRIPE_SECRET_KEY`` set (``sk_test_...``), the client talks to
Stripe itself. Without it, it talks to the local Stripe Connect sandbox
(``python manage.py stripe_sandbox``) at ``STRIPE_SANDBOX_URL``, which
speaks the same wire format: the calling code cannot tell the difference.
"""

from __future__ import annotations

import functools

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SANDBOX_API_KEY = "sk_test_gigdesk_sandbox"  # any sk_test_ key opens the sandbox
SANDBOX_WEBHOOK_SECRET = "whsec_gigdesk_sandbox_dev"
DEFAULT_NETWORK_RETRIES = 2


def uses_sandbox() -> bool:
    return not settings.STRIPE_SECRET_KEY


def stripe_client(
    *, max_network_retries: int = DEFAULT_NETWORK_RETRIES, timeout_seconds: float | None = None
) -> stripe.StripeClient:
    """The SDK client for the configured Stripe.

    The SDK retries connection errors, 409s and 5xx answers itself, sending
    every POST attempt with the same generated ``Idempotency-Key``, so a
    retry never creates a second object. Pass your own key in
    ``options={"idempotency_key": ...}`` when the retry may come from
    another process (a job run again after a crash).
    """
    if uses_sandbox():
        return _client(
            api_key=SANDBOX_API_KEY,
            api_base=settings.STRIPE_SANDBOX_URL,
            max_network_retries=max_network_retries,
            timeout_seconds=timeout_seconds,
        )
    return _client(
        api_key=settings.STRIPE_SECRET_KEY,
        api_base=None,
        max_network_retries=max_network_retries,
        timeout_seconds=timeout_seconds,
    )


# One client per configuration: each holds its own pool of HTTP connections.
@functools.lru_cache(maxsize=16)
def _client(
    *,
    api_key: str,
    api_base: str | None,
    max_network_retries: int,
    timeout_seconds: float | None,
) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=max_network_retries,
        http_client=stripe.RequestsClient(timeout=timeout_seconds) if timeout_seconds else None,
    )


def webhook_secret() -> str:
    """The secret that signs Stripe webhooks (``whsec_...``).

    In the embedded default the sandbox and the platform share a fixed dev
    secret. Against Stripe itself the secret comes from the Dashboard or
    ``stripe listen``; a guessed default would reject every event, so a
    missing one is a configuration error.
    """
    if settings.STRIPE_WEBHOOK_SECRET:
        return settings.STRIPE_WEBHOOK_SECRET
    if not uses_sandbox():
        raise ImproperlyConfigured(
            "STRIPE_SECRET_KEY is set, so set STRIPE_WEBHOOK_SECRET too (the endpoint's "
            "signing secret, whsec_...)."
        )
    return SANDBOX_WEBHOOK_SECRET
