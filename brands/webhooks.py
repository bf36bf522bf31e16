"""Brand webhooks: endpoints, signed deliveries of task events, retries and redelivery.

How an event travels (docs/webhooks.md is the receiver's side of this):

1. A service that changes a task calls ``webhook_event_emit`` inside its own
   transaction. When the brand has an active endpoint subscribed to the event,
   one ``WebhookDelivery`` per such endpoint is written with the exact JSON
   body; after commit, the delivery job is queued for each.
2. The job runs ``webhook_delivery_attempt``: it claims the delivery, POSTs
   the body signed with the endpoint's secret, and records the answer. A
   failure schedules the next attempt with a growing delay
   (``WEBHOOK_RETRY_DELAYS``); the last failure marks the delivery failed and
   the endpoint failing. Nothing here ever runs inside a dispatch request, so
   a slow or broken endpoint delays only its own deliveries.
3. ``webhook_deliveries_sweep`` (every minute) queues again any due attempt
   whose job was lost, so no delivery depends on one enqueue surviving.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from brands.models import (
    WEBHOOK_PING_EVENT,
    Brand,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventType,
)
from marketplace.audit import audit_record, changed_fields
from marketplace.errors import ValidationFailed
from marketplace.models import User

logger = logging.getLogger(__name__)

WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_ENDPOINTS_MAX = 10
WEBHOOK_EVENT_TYPES = frozenset(WebhookEventType.values)
SIGNATURE_HEADER = "Gigdesk-Signature"
EVENT_ID_HEADER = "Gigdesk-Event-Id"
EVENT_TYPE_HEADER = "Gigdesk-Event-Type"
USER_AGENT = "Gigdesk-Webhooks/1.0"
SIGNATURE_TOLERANCE_SECONDS = 300
# Connect and read time-outs of one attempt, each.
WEBHOOK_TIMEOUT_SECONDS = 5.0
# Seconds to wait after failed attempt 1, 2, ... 7: three times longer each
# time, capped at an hour. Eight attempts span about two hours.
WEBHOOK_RETRY_DELAYS = (10, 30, 90, 270, 810, 2430, 3600)
WEBHOOK_MAX_ATTEMPTS = len(WEBHOOK_RETRY_DELAYS) + 1
# An attempt in flight holds its delivery this long (well past the time-outs);
# if its worker dies meanwhile, the sweep lets another attempt run after it.
ATTEMPT_CLAIM_SECONDS = 60
# A job may run this much before its delivery's due time (clocks of workers differ).
ATTEMPT_EARLY_SLACK = timedelta(seconds=2)
# How overdue an attempt must be before the sweep takes its job for lost.
SWEEP_GRACE_SECONDS = 60
SWEEP_BATCH = 500
# The delivery log is kept this long.
WEBHOOK_DELIVERY_RETENTION = timedelta(days=30)
# After a rotation, the old secret may go on signing for at most this long.
ROTATION_OVERLAP_MAX = timedelta(days=7)
# Plain http is allowed only to these hosts, for development.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
RESPONSE_READ_BYTES = 4096

_url_validator = URLValidator(schemes=["http", "https"])


# --- Signatures ------------------------------------------------------------------------


def _as_bytes(body: str | bytes) -> bytes:
    return body.encode() if isinstance(body, str) else body


def webhook_signature(*, secret: str, timestamp: int, body: str | bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with ``secret``."""
    message = f"{timestamp}.".encode() + _as_bytes(body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def webhook_signature_header(*, secrets: Sequence[str], timestamp: int, body: str | bytes) -> str:
    """``t=<timestamp>,v1=<signature>`` with one ``v1`` per secret (two right after a rotation)."""
    signatures = [
        f"v1={webhook_signature(secret=secret, timestamp=timestamp, body=body)}"
        for secret in secrets
    ]
    return ",".join([f"t={timestamp}", *signatures])


def webhook_signature_verify(
    *,
    secret: str,
    header: str,
    body: str | bytes,
    tolerance: int | None = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether ``header`` (a ``Gigdesk-Signature`` value) signs ``body`` with ``secret``.

    ``body`` must be the raw request body, before any JSON parsing. The
    timestamp must be within ``tolerance`` seconds of ``now`` (``None``: any
    age), so a captured request cannot be replayed later.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if tolerance is not None:
        current = time.time() if now is None else now
        if abs(current - timestamp) > tolerance:
            return False
    expected = webhook_signature(secret=secret, timestamp=timestamp, body=body)
    # Compare with every candidate, without stopping early, in constant time.
    matches = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    return any(matches)


# --- Which events a brand listens to: cached per process --------------------------------

# brand id -> (valid until, on time.monotonic(); event types some active
# endpoint subscribes to). webhook_event_emit runs inside every claim, reply
# and resolution; with this cache a brand without webhooks costs those no
# query at all. Endpoint changes evict their brand here; other processes see
# them when their entry expires, within WEBHOOK_SUBSCRIPTION_CACHE_SECONDS.
WEBHOOK_SUBSCRIPTION_CACHE_SECONDS = 5.0
_SUBSCRIPTION_CACHE_MAX_ENTRIES = 10_000
_subscriptions: dict[int, tuple[float, frozenset[str]]] = {}


def _subscription_cache_evict(brand_id: int) -> None:
    _subscriptions.pop(brand_id, None)


def _subscription_cache_evict_on_commit(brand_id: int) -> None:
    # Now, and again once committed: another thread of this process may read
    # the old subscriptions, and cache them, before this transaction commits.
    _subscription_cache_evict(brand_id)
    transaction.on_commit(lambda: _subscription_cache_evict(brand_id))


def _subscribed_events(brand_id: int) -> frozenset[str]:
    clock = time.monotonic()
    cached = _subscriptions.get(brand_id)
    if cached is not None and clock < cached[0]:
        return cached[1]
    events: set[str] = set()
    for subscribed in (
        WebhookEndpoint.objects.active().filter(brand_id=brand_id).values_list("events", flat=True)
    ):
        events.update(subscribed)
    if len(_subscriptions) >= _SUBSCRIPTION_CACHE_MAX_ENTRIES:
        _subscriptions.clear()
    result = frozenset(events)
    _subscriptions[brand_id] = (clock + WEBHOOK_SUBSCRIPTION_CACHE_SECONDS, result)
    return result


# --- Emitting events ----------------------------------------------------------------------


def _new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def _event_body(*, event_id: str, event_type: str, brand: Brand, data: dict[str, Any]) -> str:
    """The JSON text every attempt and redelivery of this event sends, byte for byte."""
    created = timezone.now().astimezone(UTC)
    envelope = {
        "id": event_id,
        "type": event_type,
        "created": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "brand": brand.slug,
        "data": data,
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True, cls=DjangoJSONEncoder)


def _deliveries_enqueue(delivery_ids: list[int]) -> None:
    from brands.tasks import webhook_delivery_job  # the job module imports this one

    for delivery_id in delivery_ids:
        webhook_delivery_job(delivery_id)


def _enqueue_on_commit(delivery_ids: list[int]) -> None:
    # robust: the caller's work is committed by then; a job queue that is
    # down must not turn it into an error. The sweep sends these later.
    transaction.on_commit(lambda: _deliveries_enqueue(delivery_ids), robust=True)


def _deliveries_create(
    *,
    endpoints: Iterable[WebhookEndpoint],
    event_id: str,
    event_type: str,
    body: str,
    max_attempts: int,
    redelivery_of: WebhookDelivery | None = None,
) -> list[WebhookDelivery]:
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint,
                brand_id=endpoint.brand_id,
                event_id=event_id,
                event_type=event_type,
                body=body,
                max_attempts=max_attempts,
                next_attempt_at=now,
                redelivery_of=redelivery_of,
            )
            for endpoint in endpoints
        ]
    )
    _enqueue_on_commit([delivery.pk for delivery in deliveries])
    return deliveries


def webhook_subscribed(*, brand_id: int, event_type: str) -> bool:
    """Whether any active endpoint of the brand takes ``event_type``; no query
    while the per-process cache is fresh. Lets a caller skip building a payload."""
    return event_type in _subscribed_events(brand_id)


def webhook_event_emit(*, brand_id: int, event_type: str, data: dict) -> None:
    """Queue ``event_type`` for every active endpoint of the brand subscribed to it.

    Call it inside the transaction of the change it reports: the deliveries
    are written in it and their jobs queued only once it commits, so a rolled
    back change sends nothing. Makes no query when the brand has no endpoint
    for this event (see ``_subscribed_events``). ``data`` must be JSON
    serialisable (datetimes and decimals are allowed).
    """
    if event_type not in _subscribed_events(brand_id):
        if event_type not in WEBHOOK_EVENT_TYPES:
            logger.warning("Unknown webhook event type %r was not sent.", event_type)
        return
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.active()
        .filter(brand_id=brand_id)
        .select_related("brand")
        .order_by("pk")
        if event_type in endpoint.events
    ]
    if not endpoints:
        return  # unsubscribed a moment ago; the cache is evicted by then
    event_id = _new_event_id()
    body = _event_body(
        event_id=event_id, event_type=event_type, brand=endpoints[0].brand, data=data
    )
    _deliveries_create(
        endpoints=endpoints,
        event_id=event_id,
        event_type=event_type,
        body=body,
        max_attempts=WEBHOOK_MAX_ATTEMPTS,
    )


# --- Attempts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptOutcome:
    succeeded: bool
    status_code: int | None
    error: str
    response_excerpt: str
    response_ms: int


def webhook_retry_delay(attempt: int) -> int:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    return WEBHOOK_RETRY_DELAYS[min(attempt, len(WEBHOOK_RETRY_DELAYS)) - 1]


def _signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    signing = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        signing.append(endpoint.previous_secret)
    return signing


_ERRNO_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def _connection_problem(exc: Exception) -> str:
    """A short reason for a failed connection, without the library's nested wrappers."""
    found = _ERRNO_REASON.search(str(exc))
    return found.group(1).strip() if found else type(exc).__name__


def _read_excerpt(response: requests.Response) -> str:
    received = b""
    try:
        for chunk in response.iter_content(chunk_size=1024):
            received += chunk
            if len(received) >= RESPONSE_READ_BYTES:
                break
    except requests.RequestException:
        pass  # only shown in the log; the status code already decided the attempt
    try:
        text = received.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = received.decode("utf-8", errors="replace")
    return text[: WebhookDelivery.RESPONSE_EXCERPT_LENGTH]


def _send(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> AttemptOutcome:
    """POST the delivery's body once. Never raises for anything the network does."""
    timestamp = int(time.time())
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: delivery.event_id,
        EVENT_TYPE_HEADER: delivery.event_type,
        SIGNATURE_HEADER: webhook_signature_header(
            secrets=_signing_secrets(endpoint, timezone.now()), timestamp=timestamp, body=body
        ),
    }
    started = time.monotonic()
    status_code: int | None = None
    excerpt = ""
    error = ""
    try:
        with requests.post(
            endpoint.url,
            data=body,
            headers=headers,
            timeout=WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
            stream=True,
        ) as response:
            status_code = response.status_code
            excerpt = _read_excerpt(response)
    except requests.Timeout:
        error = f"No answer within {WEBHOOK_TIMEOUT_SECONDS:g} s."
    except requests.exceptions.SSLError as exc:
        error = f"TLS failed: {_connection_problem(exc)}."
    except requests.ConnectionError as exc:
        error = f"Could not connect: {_connection_problem(exc)}."
    except requests.RequestException as exc:
        error = f"Request failed: {type(exc).__name__}."
    except Exception as exc:
        # The URL and the answer come from outside; whatever they make the
        # HTTP stack raise, the attempt is recorded as failed and retried,
        # rather than left claimed until the sweep finds it.
        logger.exception("Webhook delivery %s raised while sending.", delivery.pk)
        error = f"Request failed: {type(exc).__name__}."
    elapsed_ms = int((time.monotonic() - started) * 1000)
    succeeded = status_code is not None and 200 <= status_code < 300
    if status_code is not None and not succeeded:
        if 300 <= status_code < 400:
            error = f"Answered HTTP {status_code}; redirects are not followed."
        else:
            error = f"Answered HTTP {status_code}."
    return AttemptOutcome(
        succeeded=succeeded,
        status_code=status_code,
        error=error[:255],
        response_excerpt=excerpt,
        response_ms=elapsed_ms,
    )


def _close_for_disabled_endpoint(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.open().filter(pk=delivery.pk, attempts=delivery.attempts).update(
        status=WebhookDeliveryStatus.FAILED,
        next_attempt_at=None,
        last_error="Not sent: the endpoint is disabled. Enable it and redeliver.",
    )


def _schedule_attempt(delivery_id: int, delay: int) -> None:
    from brands.tasks import webhook_delivery_job

    webhook_delivery_job.schedule((delivery_id,), delay=delay)


def _record_outcome(
    delivery: WebhookDelivery, attempt: int, outcome: AttemptOutcome
) -> WebhookDelivery | None:
    now = timezone.now()
    fields: dict[str, Any] = {
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "last_response_excerpt": outcome.response_excerpt,
        "response_ms": outcome.response_ms,
    }
    retry_in: int | None = None
    if outcome.succeeded:
        fields.update(
            status=WebhookDeliveryStatus.SUCCEEDED, next_attempt_at=None, delivered_at=now
        )
    elif attempt >= delivery.max_attempts:
        fields.update(status=WebhookDeliveryStatus.FAILED, next_attempt_at=None)
    else:
        retry_in = webhook_retry_delay(attempt)
        fields.update(
            status=WebhookDeliveryStatus.RETRYING,
            next_attempt_at=now + timedelta(seconds=retry_in),
        )
    with transaction.atomic():
        recorded = (
            WebhookDelivery.objects.open().filter(pk=delivery.pk, attempts=attempt).update(**fields)
        )
        if not recorded:
            # Our claim ran out and another attempt took over: its outcome stands.
            return None
        endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
        if outcome.succeeded:
            # Written only when there is something to clear: a healthy endpoint's
            # row is not rewritten on every delivery.
            endpoints.filter(Q(consecutive_failures__gt=0) | Q(failing_since__isnull=False)).update(
                consecutive_failures=0, failing_since=None
            )
        else:
            endpoints.update(consecutive_failures=F("consecutive_failures") + 1)
            if retry_in is None:
                endpoints.filter(failing_since__isnull=True).update(failing_since=now)
        if retry_in is not None:
            delivery_id = delivery.pk
            transaction.on_commit(lambda: _schedule_attempt(delivery_id, retry_in), robust=True)
    if retry_in is None and not outcome.succeeded:
        logger.warning(
            "Webhook delivery %s (%s) to endpoint %s failed for good: %s",
            delivery.pk,
            delivery.event_type,
            delivery.endpoint_id,
            outcome.error,
        )
    return WebhookDelivery.objects.select_related("endpoint").get(pk=delivery.pk)


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """Make the next attempt of a delivery if it is due; record it; schedule the one after.

    Safe to run twice or concurrently for the same delivery (a duplicate or
    retried job, the sweep): the attempt first claims the delivery with a
    conditional UPDATE on its attempt count, so only one attempt sends at a
    time, and a finished delivery is never claimed. The claim holds for
    ``ATTEMPT_CLAIM_SECONDS``. No transaction or lock is held while sending.

    Returns the delivery as recorded, or None when there was nothing to do.
    """
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or not delivery.is_open:
        return None
    now = timezone.now()
    due_by = now + ATTEMPT_EARLY_SLACK
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > due_by:
        return None  # not due yet, or another attempt holds it
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        _close_for_disabled_endpoint(delivery)
        return WebhookDelivery.objects.get(pk=delivery.pk)
    attempt = delivery.attempts + 1
    claimed = (
        WebhookDelivery.objects.open()
        .filter(pk=delivery.pk, attempts=delivery.attempts)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=due_by))
        .update(
            attempts=attempt,
            last_attempt_at=now,
            next_attempt_at=now + timedelta(seconds=ATTEMPT_CLAIM_SECONDS),
        )
    )
    if not claimed:
        return None
    outcome = _send(delivery, endpoint)
    return _record_outcome(delivery, attempt, outcome)


def webhook_deliveries_sweep(*, now: datetime | None = None) -> int:
    """Queue again the attempts that are overdue by more than ``SWEEP_GRACE_SECONDS``.

    Their job was lost (an enqueue after commit failed, a worker died while
    sending) or is stuck behind a backlog; in the latter case the extra job
    finds the delivery claimed or finished and does nothing. Returns how
    many were queued.
    """
    now = now or timezone.now()
    overdue = list(
        WebhookDelivery.objects.open()
        .filter(next_attempt_at__lte=now - timedelta(seconds=SWEEP_GRACE_SECONDS))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    if not overdue:
        return 0
    # Marked as due now, so the next sweep waits a full grace period before
    # queueing them once more.
    WebhookDelivery.objects.open().filter(pk__in=overdue).update(next_attempt_at=now)
    _deliveries_enqueue(overdue)
    return len(overdue)


def webhook_deliveries_purge(*, now: datetime | None = None) -> int:
    """Delete finished deliveries older than ``WEBHOOK_DELIVERY_RETENTION``."""
    cutoff = (now or timezone.now()) - WEBHOOK_DELIVERY_RETENTION
    finished = [WebhookDeliveryStatus.SUCCEEDED, WebhookDeliveryStatus.FAILED]
    deleted = 0
    while True:
        batch = list(
            WebhookDelivery.objects.filter(created_at__lt=cutoff, status__in=finished).values_list(
                "pk", flat=True
            )[:1000]
        )
        if not batch:
            return deleted
        # Redeliveries point at their original with SET NULL: no cascade here.
        deleted += WebhookDelivery.objects.filter(pk__in=batch).delete()[0]


# --- Endpoints ------------------------------------------------------------------------------


def _new_secret() -> str:
    return f"{WEBHOOK_SECRET_PREFIX}{secrets.token_urlsafe(32)}"


def webhook_url_clean(url: str) -> str:
    """The endpoint URL, or ValidationFailed saying what is wrong with it."""
    url = (url or "").strip()
    if not url:
        raise ValidationFailed(
            "Enter the URL that should receive the events.",
            fields={"url": ["This field is required."]},
        )
    if len(url) > WebhookEndpoint.URL_MAX_LENGTH:
        message = f"Keep the URL under {WebhookEndpoint.URL_MAX_LENGTH} characters."
        raise ValidationFailed(message, fields={"url": [message]})
    try:
        _url_validator(url)
    except ValidationError:
        message = "Enter a full URL, such as https://helpdesk.example.com/gigdesk/webhooks."
        raise ValidationFailed(message, fields={"url": [message]}) from None
    parts = urlsplit(url)
    if parts.scheme != "https" and (parts.hostname or "") not in LOCAL_HOSTS:
        message = (
            "Use an https:// URL: events carry customer conversations. "
            "Plain http is allowed only to localhost, for development."
        )
        raise ValidationFailed(message, fields={"url": [message]})
    return url


def webhook_events_clean(events: Iterable[str]) -> list[str]:
    """The subscribed event types in their documented order, or ValidationFailed."""
    chosen = set(events or [])
    unknown = sorted(chosen - WEBHOOK_EVENT_TYPES)
    if unknown:
        message = f"Unknown event type: {', '.join(unknown)}."
        raise ValidationFailed(message, fields={"events": [message]})
    if not chosen:
        message = "Pick at least one event to send to this endpoint."
        raise ValidationFailed(message, fields={"events": [message]})
    return [event for event in WebhookEventType.values if event in chosen]


def _description_clean(description: str) -> str:
    description = (description or "").strip()
    max_length = WebhookEndpoint._meta.get_field("description").max_length
    if len(description) > max_length:
        message = f"Keep the description under {max_length} characters."
        raise ValidationFailed(message, fields={"description": [message]})
    return description


def webhook_endpoint_create(
    *,
    brand: Brand,
    url: str,
    events: Iterable[str],
    description: str = "",
    created_by: User,
    request=None,
) -> WebhookEndpoint:
    """Add an endpoint with a new signing secret. A brand has at most ``WEBHOOK_ENDPOINTS_MAX``."""
    url = webhook_url_clean(url)
    events = webhook_events_clean(events)
    description = _description_clean(description)
    with transaction.atomic():
        # The brand row serialises concurrent creations, so the cap holds.
        Brand.objects.select_for_update().filter(pk=brand.pk).first()
        if WebhookEndpoint.objects.for_brand(brand).count() >= WEBHOOK_ENDPOINTS_MAX:
            raise ValidationFailed(
                f"{brand} already has {WEBHOOK_ENDPOINTS_MAX} webhook endpoints, the most "
                "allowed. Delete one you no longer use, or subscribe an existing one to "
                "more events.",
                code="too_many_endpoints",
            )
        endpoint = WebhookEndpoint.objects.create(
            brand=brand,
            url=url,
            events=events,
            description=description,
            secret=_new_secret(),
            created_by=created_by,
        )
        audit_record(
            actor=created_by,
            action="webhook.endpoint_created",
            target=endpoint,
            brand=brand,
            changes={"url": url, "events": events, "description": description},
            request=request,
        )
        _subscription_cache_evict_on_commit(brand.pk)
    return endpoint


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str,
    events: Iterable[str],
    description: str = "",
    actor: User,
    request=None,
) -> WebhookEndpoint:
    """Change where an endpoint is and what it receives. Queued attempts go to the new URL."""
    after = {
        "url": webhook_url_clean(url),
        "events": webhook_events_clean(events),
        "description": _description_clean(description),
    }
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        changes = changed_fields(
            {"url": endpoint.url, "events": endpoint.events, "description": endpoint.description},
            after,
        )
        if not changes:
            return endpoint
        for name, value in after.items():
            setattr(endpoint, name, value)
        endpoint.save(update_fields=[*after, "updated_at"])
        audit_record(
            actor=actor,
            action="webhook.endpoint_updated",
            target=endpoint,
            brand=endpoint.brand,
            changes=changes,
            request=request,
        )
        _subscription_cache_evict_on_commit(endpoint.brand_id)
    return endpoint


def webhook_endpoint_set_active(
    *, endpoint: WebhookEndpoint, is_active: bool, actor: User, request=None
) -> WebhookEndpoint:
    """Enable or disable an endpoint. A disabled one gets no new deliveries and its
    queued ones are closed unsent (they can be redelivered once it is enabled)."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if endpoint.is_active == is_active:
            return endpoint
        endpoint.is_active = is_active
        endpoint.save(update_fields=["is_active", "updated_at"])
        audit_record(
            actor=actor,
            action="webhook.endpoint_enabled" if is_active else "webhook.endpoint_disabled",
            target=endpoint,
            brand=endpoint.brand,
            changes={"is_active": [not is_active, is_active]},
            request=request,
        )
        _subscription_cache_evict_on_commit(endpoint.brand_id)
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: User, request=None) -> None:
    """Delete an endpoint and its delivery log; queued attempts are dropped."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="webhook.endpoint_deleted",
            target=endpoint,
            brand=endpoint.brand,
            changes={"url": endpoint.url, "events": endpoint.events},
            request=request,
        )
        brand_id = endpoint.brand_id
        endpoint.delete()
        _subscription_cache_evict_on_commit(brand_id)


def webhook_endpoint_rotate_secret(
    *,
    endpoint: WebhookEndpoint,
    actor: User,
    previous_valid_for: timedelta = timedelta(0),
    request=None,
) -> WebhookEndpoint:
    """Give the endpoint a new signing secret.

    For ``previous_valid_for`` (at most ``ROTATION_OVERLAP_MAX``) deliveries
    carry a second signature made with the old secret, so the receiver can
    switch secrets without rejecting anything; zero stops the old secret at
    once (say, because it leaked).
    """
    if previous_valid_for < timedelta(0) or previous_valid_for > ROTATION_OVERLAP_MAX:
        raise ValidationFailed(
            f"The old secret can keep signing for at most {ROTATION_OVERLAP_MAX.days} days.",
            fields={"previous_valid_for": ["Out of range."]},
        )
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        now = timezone.now()
        if previous_valid_for:
            endpoint.previous_secret = endpoint.secret
            endpoint.previous_secret_expires_at = now + previous_valid_for
        else:
            endpoint.previous_secret = ""
            endpoint.previous_secret_expires_at = None
        endpoint.secret = _new_secret()
        endpoint.save(
            update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
        )
        audit_record(
            actor=actor,
            action="webhook.secret_rotated",
            target=endpoint,
            brand=endpoint.brand,
            # Never the secrets themselves: the audit log is read more widely.
            changes={"previous_valid_for_seconds": int(previous_valid_for.total_seconds())},
            request=request,
        )
    return endpoint


def webhook_endpoint_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a ``ping`` event to one endpoint, once (no retries), to test the receiver."""
    if not endpoint.is_active:
        raise ValidationFailed("Enable this endpoint before sending it a test event.")
    event_id = _new_event_id()
    body = _event_body(
        event_id=event_id,
        event_type=WEBHOOK_PING_EVENT,
        brand=endpoint.brand,
        data={
            "message": "A test event from the Gigdesk brand console.",
            "endpoint": {"id": endpoint.pk, "url": endpoint.url},
        },
    )
    with transaction.atomic():
        [delivery] = _deliveries_create(
            endpoints=[endpoint],
            event_id=event_id,
            event_type=WEBHOOK_PING_EVENT,
            body=body,
            max_attempts=1,
        )
    return delivery


def webhook_delivery_redeliver(
    *, delivery: WebhookDelivery, actor: User, request=None
) -> WebhookDelivery:
    """Send a delivery's event again, as a new delivery with the same event id and body.

    The new delivery starts at attempt 0 with the full retry schedule. The
    receiver sees the same ``id``, so one that already processed the event
    can ignore it.
    """
    endpoint = WebhookEndpoint.objects.select_related("brand").get(pk=delivery.endpoint_id)
    if not endpoint.is_active:
        raise ValidationFailed("Enable this endpoint before redelivering events to it.")
    with transaction.atomic():
        [redelivery] = _deliveries_create(
            endpoints=[endpoint],
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            body=delivery.body,
            max_attempts=delivery.max_attempts,
            redelivery_of=delivery,
        )
        audit_record(
            actor=actor,
            action="webhook.redelivered",
            target=redelivery,
            brand=endpoint.brand,
            changes={
                "event_id": delivery.event_id,
                "event_type": delivery.event_type,
                "url": endpoint.url,
                "redelivery_of": delivery.pk,
            },
            request=request,
        )
    return redelivery


# --- Selectors -------------------------------------------------------------------------------


def webhook_endpoint_list(*, brand: Brand) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.for_brand(brand).select_related("created_by")


def access_webhook_endpoint(*, brand: Brand, endpoint_id: int) -> WebhookEndpoint:
    """``brand``'s endpoint ``endpoint_id``; 404 for any other brand's."""
    endpoint = WebhookEndpoint.objects.for_brand(brand).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


def access_webhook_delivery(*, brand: Brand, delivery_id: int) -> WebhookDelivery:
    """``brand``'s delivery ``delivery_id``; 404 for any other brand's."""
    delivery = (
        WebhookDelivery.objects.for_brand(brand)
        .select_related("endpoint", "redelivery_of")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:
        raise Http404("No such webhook delivery.")
    return delivery


def webhook_delivery_list(
    *,
    brand: Brand,
    endpoint: WebhookEndpoint | None = None,
    status: str = "",
    event_type: str = "",
) -> QuerySet[WebhookDelivery]:
    """``brand``'s deliveries, newest first, optionally for one endpoint, status or event."""
    deliveries = WebhookDelivery.objects.for_brand(brand).select_related("endpoint")
    if endpoint is not None:
        deliveries = deliveries.filter(endpoint=endpoint)
    if status:
        deliveries = deliveries.filter(status=status)
    if event_type:
        deliveries = deliveries.filter(event_type=event_type)
    return deliveries.order_by("-pk")
