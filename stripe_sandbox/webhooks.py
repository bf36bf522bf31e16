"""Signed webhook delivery, from a background thread of the sandbox process.

Each event is queued as a ``webhook_deliveries`` row in the transaction
that caused it; this thread POSTs the event JSON with a ``Stripe-Signature``
header that ``stripe.Webhook.construct_event`` verifies, and retries with
exponential backoff until the endpoint answers 2xx or Stripe's three-day
window has passed. API requests only insert rows, so a slow or failing
endpoint never delays an API answer; pending deliveries survive a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass

import requests

from stripe_sandbox.store import Delivery, DeliveryStatus, Store
from stripe_sandbox.switches import Switches

logger = logging.getLogger(__name__)

FIRST_RETRY_DELAY_SECONDS = 0.5
# Stripe backs off to hours; a sandbox caps at a minute so that a platform
# started after the sandbox hears about everything soon after it comes up.
MAX_RETRY_DELAY_SECONDS = 60.0
RETRY_WINDOW_SECONDS = 3 * 24 * 60 * 60
DELIVERY_TIMEOUT_SECONDS = 10.0
IDLE_POLL_SECONDS = 1.0
BATCH_SIZE = 50


def signature_header(*, secret: str, payload: str, timestamp: int) -> str:
    """Stripe's scheme: ``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>``."""
    signed = f"{timestamp}.{payload}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure: 0.5, 1, 2, 4... up to a minute."""
    return min(FIRST_RETRY_DELAY_SECONDS * 2 ** (attempts - 1), MAX_RETRY_DELAY_SECONDS)


@dataclass(frozen=True)
class AttemptOutcome:
    response_status: int | None
    error: str

    @property
    def delivered(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300


class WebhookDispatcher:
    def __init__(self, *, store: Store, switches: Switches, secret: str) -> None:
        self._store = store
        self._switches = switches
        self._secret = secret
        self._http = requests.Session()  # used by the dispatcher thread only
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="stripe-sandbox-webhooks", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=2)

    def wake(self) -> None:
        """Look for due deliveries now (a change was committed, or a switch changed)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                batch = self._next_batch()
                for delivery in batch:
                    if self._stopping.is_set():
                        return
                    self._deliver(delivery)
                if not batch:
                    self._wait_for_work()
            except Exception:
                # One bad row or a closed store must not kill delivery for good.
                logger.exception("Webhook delivery failed unexpectedly; retrying shortly")
                self._stopping.wait(IDLE_POLL_SECONDS)

    def _next_batch(self) -> list[Delivery]:
        with self._store.transaction() as tx:
            due = tx.deliveries_due(now=time.time(), limit=BATCH_SIZE)
        held = self._switches.webhook_batch
        if not held:
            return due
        if len(due) < held:
            return []  # keep holding until the batch is full
        return list(reversed(due[:held]))

    def _wait_for_work(self) -> None:
        self._wake.wait(self._idle_timeout())
        self._wake.clear()

    def _idle_timeout(self) -> float:
        if self._switches.webhook_batch:
            # Due deliveries are being held: only a new event or a switch change helps.
            return IDLE_POLL_SECONDS
        with self._store.transaction() as tx:
            next_at = tx.next_delivery_at()
        if next_at is None:
            return IDLE_POLL_SECONDS
        return min(max(next_at - time.time(), 0.0), IDLE_POLL_SECONDS)

    def _deliver(self, delivery: Delivery) -> None:
        outcomes = [self._send(delivery) for _ in range(self._switches.webhook_copies)]
        delivered = next((outcome for outcome in outcomes if outcome.delivered), None)
        self._record(delivery, delivered or outcomes[-1])

    def _send(self, delivery: Delivery) -> AttemptOutcome:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature_header(
                secret=self._secret, payload=delivery.payload, timestamp=int(time.time())
            ),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks; Gigdesk sandbox)",
        }
        try:
            response = self._http.post(
                delivery.url,
                data=delivery.payload.encode(),
                headers=headers,
                timeout=DELIVERY_TIMEOUT_SECONDS,
                allow_redirects=False,  # Stripe treats a redirect as a failure
            )
        except requests.RequestException as exc:
            return AttemptOutcome(response_status=None, error=f"{type(exc).__name__}: {exc}")
        error = "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        return AttemptOutcome(response_status=response.status_code, error=error)

    def _record(self, delivery: Delivery, outcome: AttemptOutcome) -> None:
        now = time.time()
        if outcome.delivered:
            status, next_attempt_at = DeliveryStatus.DELIVERED, now
        elif now - delivery.created > RETRY_WINDOW_SECONDS:
            status, next_attempt_at = DeliveryStatus.FAILED, now
        else:
            status = DeliveryStatus.PENDING
            next_attempt_at = now + retry_delay(delivery.attempts + 1)
            logger.info(
                "Webhook %s to %s failed (%s); retrying in %.1fs",
                delivery.event_id,
                delivery.url,
                outcome.error,
                next_attempt_at - now,
            )
        with self._store.transaction() as tx:
            tx.delivery_record_attempt(
                delivery_id=delivery.id,
                status=status,
                response_status=outcome.response_status,
                error=outcome.error,
                next_attempt_at=next_attempt_at,
                delivered_at=now if outcome.delivered else None,
            )
