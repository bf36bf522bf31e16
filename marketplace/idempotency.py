"""``Idempotency-Key`` for API POSTs (STYLE.md §6, after pretix's ``IdempotencyMiddleware``).

A client that does not know whether its POST arrived (a time-out, a dropped
connection) sends it again with the same ``Idempotency-Key`` header and gets
the first answer back instead of a second task or message:

- keys are scoped to the API key that sent them;
- the first request stores a record, runs, then stores its status and body;
- the same key with the same method, path and body replays the stored
  response with ``Idempotent-Replayed: true``;
- the same key with another request is refused with 422;
- a duplicate arriving while the first is still running gets 409 with
  ``Retry-After: 1``;
- 409, 429 and 5xx answers are not stored, so the client can retry them.

Records only need to outlive a client's retry window: records older than
24 hours may be purged at any time (``manage.py purge_idempotency_records``,
run daily). This is a decorator for POST handlers, not global middleware, so
each endpoint opts in and the request is already authenticated when it runs.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from brands.models import ApiKey
from marketplace.errors import ValidationFailed
from marketplace.models import IdempotencyRecord

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
RECORD_RETENTION = timedelta(hours=24)
# A record still locked after this long belongs to a request whose worker
# died before finishing (requests time out far sooner). A retry may take it
# over rather than be told "in flight" until the record is purged.
STALE_LOCK = timedelta(minutes=5)
_PURGE_BATCH = 5000


def _is_retryable(status_code: int) -> bool:
    return status_code in (status.HTTP_409_CONFLICT, status.HTTP_429_TOO_MANY_REQUESTS) or (
        status_code >= 500
    )


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    """SHA-256 of the request. JSON bodies are compared by content, not by spacing or key order."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    digest.update(f"{method.upper()}\n{path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def idempotency_record_claim(
    *, api_key: ApiKey, key: str, method: str, path: str, request_hash: str
) -> tuple[IdempotencyRecord, bool]:
    """The record for ``(api_key, key)``; ``True`` when the caller should run the request.

    The insert commits before the request runs, so a concurrent duplicate
    finds the record locked (409) instead of running the request a second
    time. Two first requests racing on the insert are settled by the unique
    constraint: ``get_or_create`` hands the loser the winner's row.
    """
    now = timezone.now()
    with transaction.atomic():
        record, created = IdempotencyRecord.objects.select_for_update().get_or_create(
            api_key=api_key,
            key=key,
            defaults={
                "method": method,
                "path": path[:500],
                "request_hash": request_hash,
                "locked_at": now,
            },
        )
        if (
            not created
            and record.in_flight
            and record.request_hash == request_hash
            and record.locked_at is not None
            and record.locked_at < now - STALE_LOCK
        ):
            record.locked_at = now
            record.save(update_fields=["locked_at"])
            return record, True
    return record, created


def idempotency_record_finish(*, record: IdempotencyRecord, status_code: int, body: str) -> None:
    """Store the response to replay, or forget the key if the client should retry."""
    if _is_retryable(status_code):
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        response_status=status_code,
        response_body=body,
        locked_at=None,
        finished_at=timezone.now(),
    )


def idempotency_record_release(*, record: IdempotencyRecord) -> None:
    """Forget a key whose request crashed, so that a retry runs it again."""
    IdempotencyRecord.objects.filter(pk=record.pk).delete()


def idempotency_records_purge(*, older_than: timedelta = RECORD_RETENTION) -> int:
    """Delete records created more than ``older_than`` ago; returns how many went.

    Deletes in batches so that no single statement holds locks on a large
    part of the table while API traffic keeps inserting.
    """
    cutoff = timezone.now() - older_than
    total = 0
    while True:
        batch = list(
            IdempotencyRecord.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[
                :_PURGE_BATCH
            ]
        )
        if not batch:
            return total
        deleted, _ = IdempotencyRecord.objects.filter(pk__in=batch).delete()
        total += deleted


def _error(status_code: int, code: str, message: str, fields: dict | None = None) -> Response:
    return Response({"code": code, "message": message, "fields": fields or {}}, status=status_code)


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(
        record.response_body, status=record.response_status, content_type="application/json"
    )
    response[REPLAYED_HEADER] = "true"
    return response


def _render(response: HttpResponse) -> str:
    if not isinstance(response, Response):
        return response.content.decode()
    if response.data is None:
        return ""
    return JSONRenderer().render(response.data).decode()


def idempotent(handler: Callable) -> Callable:
    """Decorate a DRF view's ``post(self, request, ...)`` to honour ``Idempotency-Key``.

    Expects an API-key-authenticated request (``request.user.api_key``):
    DRF authenticates in ``initial()``, before the handler runs.
    """

    @functools.wraps(handler)
    def wrapper(view, request: Request, *args, **kwargs):
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ValidationFailed(
                f"The {IDEMPOTENCY_HEADER} header must be 1 to {MAX_KEY_LENGTH} characters.",
                code="invalid_idempotency_key",
                fields={IDEMPOTENCY_HEADER: [f"Use 1 to {MAX_KEY_LENGTH} characters."]},
            )
        path = request.get_full_path()
        request_hash = request_fingerprint(method=request.method, path=path, body=request.body)
        record, run = idempotency_record_claim(
            api_key=request.user.api_key,
            key=key,
            method=request.method,
            path=path,
            request_hash=request_hash,
        )
        if not run:
            if record.request_hash != request_hash:
                return _error(
                    status.HTTP_422_UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    f"This {IDEMPOTENCY_HEADER} was already used for a different request "
                    f"({record.method} {record.path} with another body). Use a new key "
                    "for each distinct request.",
                )
            if record.in_flight:
                response = _error(
                    status.HTTP_409_CONFLICT,
                    "idempotency_request_in_flight",
                    f"A request with this {IDEMPOTENCY_HEADER} is still being processed. "
                    "Retry shortly to get its result.",
                )
                response["Retry-After"] = "1"
                return response
            return _replay(record)
        try:
            try:
                response = handler(view, request, *args, **kwargs)
            except Exception as exc:
                # Render the error here, as DRF would, so that a 400 is stored
                # and replayed like any other finished answer. handle_exception
                # re-raises what it cannot map, which ends up a 500.
                response = view.handle_exception(exc)
        except BaseException:
            idempotency_record_release(record=record)
            raise
        idempotency_record_finish(
            record=record, status_code=response.status_code, body=_render(response)
        )
        return response

    return wrapper
