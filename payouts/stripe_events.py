"""Stripe webhooks: verify, store each event once, answer at once, process in the background.

How an event travels:

1. Stripe POSTs it to ``/stripe/webhooks/`` (``payouts.views``).
   ``stripe_event_receive`` checks the ``Stripe-Signature`` with the SDK,
   stores the event under its unique id and queues its job once the row is
   committed. A bad signature stores nothing; a duplicate adds nothing. The
   endpoint answers 200 without waiting for the handler, so Stripe's
   delivery never times out on our work.
2. The job runs ``stripe_event_process``: it locks the event row, runs the
   handler registered for the event's type (``STRIPE_EVENT_HANDLERS``) and
   marks the event processed, ignored (no handler, or nothing for us in it)
   or failed. A failure a retry may fix makes the job raise, and Huey retries
   it with a growing delay (``payouts.tasks``).
3. ``stripe_events_sweep`` (every minute) queues again any event whose job
   was lost, so no event depends on one enqueue surviving.

Stripe delivers at least once and in no particular order, so handlers must
be idempotent: they lock and check the state they change, and post to the
ledger under keys derived from what they post for.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from marketplace.errors import GigdeskError
from payouts.models import StripeEvent, StripeEventStatus
from payouts.stripe_api import webhook_secret

logger = logging.getLogger(__name__)

# Event type -> dotted path of its handler, a callable taking the stored
# StripeEvent. Money slices add their types here. Paths rather than imports:
# handler modules import this one for its exceptions.
STRIPE_EVENT_HANDLERS: dict[str, str] = {
    "checkout.session.completed": "payouts.funding.checkout_session_completed",
    "checkout.session.async_payment_succeeded": "payouts.funding.checkout_session_completed",
    "checkout.session.expired": "payouts.funding.checkout_session_expired",
    "account.updated": "payouts.connect.account_updated",
    "transfer.created": "payouts.payrun_transfers.transfer_created",
    "transfer.reversed": "payouts.payrun_transfers.transfer_reversed",
}

# Finished for good: a job or a redelivery finds nothing left to do.
FINAL_STATUSES = frozenset({StripeEventStatus.PROCESSED, StripeEventStatus.IGNORED})
# How long an event may wait for its job before the sweep takes the job for lost.
SWEEP_GRACE = timedelta(minutes=2)
SWEEP_BATCH = 500
LAST_ERROR_MAX_LENGTH = 2000


class InvalidStripeWebhook(GigdeskError):
    """The request is not an event Stripe signed with our secret."""

    code = "invalid_stripe_webhook"
    http_status = 400


class StripeEventIgnored(Exception):
    """Raised by a handler: the event holds nothing for us (say, another product's payment)."""


class StripeEventUnprocessable(Exception):
    """Raised by a handler: the event contradicts our records; retrying cannot help.

    The event is marked failed with this message, for a person to look into.
    """


class StripeEventFailed(Exception):
    """A handler failed in a way a retry may fix; raised after the failure is recorded."""


# --- Receiving --------------------------------------------------------------------------


def _verified_event(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event in ``payload`` as plain JSON, if Stripe signed it; else InvalidStripeWebhook."""
    if not signature:
        raise InvalidStripeWebhook("The Stripe-Signature header is missing.")
    try:
        # Checks the signature against the raw bytes, and the timestamp
        # against replays older than the SDK's tolerance (five minutes).
        stripe.Webhook.construct_event(payload, signature, webhook_secret())
    except stripe.SignatureVerificationError as exc:
        raise InvalidStripeWebhook("The Stripe-Signature does not sign this body.") from exc
    except ValueError as exc:  # not UTF-8, not JSON, or no event
        raise InvalidStripeWebhook("The body is not a Stripe event.") from exc
    event = json.loads(payload)
    if not (
        isinstance(event.get("id"), str)
        and event["id"]
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int)
        and isinstance(event.get("data"), dict)
    ):
        raise InvalidStripeWebhook("The event lacks its id, type, created time or data.")
    return event


def _process_in_background(stripe_event_id: int) -> None:
    from payouts.tasks import stripe_event_process_job  # the job module imports this one

    stripe_event_process_job(stripe_event_id)


def stripe_event_receive(*, payload: bytes, signature: str | None) -> tuple[StripeEvent, bool]:
    """Verify and store one webhook delivery; return the stored event and whether it is new.

    ``payload`` must be the raw request body: the signature covers its exact
    bytes. Raises ``InvalidStripeWebhook`` (and stores nothing) when the
    signature or the body is wrong. A new event's processing job is queued
    once the row is committed; a duplicate changes nothing.
    """
    event = _verified_event(payload, signature)
    with transaction.atomic(durable=True):
        existing = StripeEvent.objects.filter(event_id=event["id"]).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                stored = StripeEvent.objects.create(
                    event_id=event["id"],
                    type=event["type"],
                    account=event.get("account") or "",
                    livemode=bool(event.get("livemode")),
                    payload=event,
                    stripe_created_at=datetime.fromtimestamp(event["created"], tz=UTC),
                )
        except IntegrityError:
            # Stripe delivered it twice at once and the other request stored it first.
            return StripeEvent.objects.get(event_id=event["id"]), False
        stored_id = stored.pk
        # robust: the event is safely stored by then; a job queue that is down
        # must not turn Stripe's delivery into an error. The sweep queues it later.
        transaction.on_commit(lambda: _process_in_background(stored_id), robust=True)
    return stored, True


# --- Processing -------------------------------------------------------------------------


@functools.cache
def _handler(dotted_path: str) -> Callable[[StripeEvent], None]:
    return import_string(dotted_path)


def stripe_event_handler(event_type: str) -> Callable[[StripeEvent], None] | None:
    """The handler registered for ``event_type``, or None when we do not handle it."""
    dotted_path = STRIPE_EVENT_HANDLERS.get(event_type)
    return _handler(dotted_path) if dotted_path else None


def _finish(event: StripeEvent, status: str, error: str = "") -> None:
    event.status = status
    event.last_error = error[:LAST_ERROR_MAX_LENGTH]
    if status in FINAL_STATUSES:
        event.processed_at = timezone.now()


def stripe_event_process(*, stripe_event_id: int) -> StripeEvent | None:
    """Run the handler of one stored event, until it has succeeded once.

    The event row is locked for the whole run, in the same transaction as
    the handler's writes: a concurrent job for the same event waits, then
    finds it finished. A processed or ignored event is left alone. The
    handler runs in a savepoint, so a failing one leaves none of its writes.

    Raises ``StripeEventFailed`` after recording a failure that a retry may
    fix; a ``StripeEventUnprocessable`` one is recorded and not raised.
    """
    failure: Exception | None = None
    with transaction.atomic(durable=True):
        event = StripeEvent.objects.select_for_update().filter(pk=stripe_event_id).first()
        if event is None or event.status in FINAL_STATUSES:
            return event
        event.attempts += 1
        handler = stripe_event_handler(event.type)
        if handler is None:
            _finish(event, StripeEventStatus.IGNORED, f"No handler for {event.type} events.")
        else:
            try:
                with transaction.atomic():
                    handler(event)
            except StripeEventIgnored as exc:
                _finish(event, StripeEventStatus.IGNORED, str(exc))
            except StripeEventUnprocessable as exc:
                logger.error("Stripe event %s (%s): %s", event.event_id, event.type, exc)
                _finish(event, StripeEventStatus.FAILED, str(exc))
            except Exception as exc:
                logger.exception("Stripe event %s (%s) failed.", event.event_id, event.type)
                _finish(event, StripeEventStatus.FAILED, f"{type(exc).__name__}: {exc}")
                failure = exc
            else:
                _finish(event, StripeEventStatus.PROCESSED)
        event.save(update_fields=["status", "attempts", "last_error", "processed_at"])
    if failure is not None:
        raise StripeEventFailed(f"Stripe event {event.event_id} failed; retrying.") from failure
    return event


def stripe_events_sweep() -> int:
    """Queue again every event still waiting well after it arrived; return how many.

    Its job was lost: the queue was down when the event was stored, or the
    worker died mid-run (its transaction rolled back, so the event is still
    "received"). Processing is idempotent, so a job queued twice does no harm.
    """
    cutoff = timezone.now() - SWEEP_GRACE
    waiting = list(
        StripeEvent.objects.filter(status=StripeEventStatus.RECEIVED, received_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for stripe_event_id in waiting:
        _process_in_background(stripe_event_id)
    return len(waiting)
