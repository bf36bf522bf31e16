"""Brand webhooks: endpoints, signed deliveries to a real local receiver, retries,
failure, redelivery, the subscription cache and tenant isolation."""

import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.http import Http404
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from brands import webhooks
from brands.models import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventType,
)
from brands.webhooks import (
    WEBHOOK_ENDPOINTS_MAX,
    WEBHOOK_MAX_ATTEMPTS,
    WEBHOOK_RETRY_DELAYS,
    access_webhook_delivery,
    access_webhook_endpoint,
    webhook_deliveries_purge,
    webhook_deliveries_sweep,
    webhook_delivery_attempt,
    webhook_delivery_list,
    webhook_delivery_redeliver,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_ping,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_set_active,
    webhook_endpoint_update,
    webhook_event_emit,
    webhook_signature_header,
    webhook_signature_verify,
)
from marketplace.errors import ValidationFailed
from marketplace.models import AuditEvent
from tests.brands.factories import (
    BrandFactory,
    MembershipFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
)
from tests.brands.webhook_receiver import WebhookReceiver

CLAIMED = WebhookEventType.TASK_CLAIMED
RESOLVED = WebhookEventType.TASK_RESOLVED
TASK_DATA = {"task": {"id": 41, "external_id": "zd-1001", "status": "claimed"}}


@pytest.fixture(autouse=True)
def _fresh_subscription_cache():
    # The cache is per process; brand ids are reused between tests on SQLite.
    webhooks._subscriptions.clear()
    yield
    webhooks._subscriptions.clear()


@pytest.fixture
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def endpoint(brand, brand_admin, receiver):
    return webhook_endpoint_create(
        brand=brand,
        url=receiver.url,
        events=[CLAIMED, RESOLVED],
        description="Zendesk bridge",
        created_by=brand_admin,
    )


def emit(django_capture_on_commit_callbacks, *, brand, event_type=CLAIMED, data=None):
    """Emit as a service does, then run what happens after commit (the job, inline)."""
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_emit(brand_id=brand.pk, event_type=event_type, data=data or TASK_DATA)


def make_due(delivery: WebhookDelivery) -> None:
    """Skip the backoff wait: no test sleeps through a retry delay."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def scheduled_etas(delivery: WebhookDelivery) -> list:
    """When the job queue will run the delivery's next attempt (naive UTC, as Huey keeps it)."""
    return [
        task.eta
        for task in HUEY.scheduled()
        if task.name.endswith("webhook_delivery_job") and task.args == (delivery.pk,)
    ]


# --- Endpoints -------------------------------------------------------------------------


def test_creating_an_endpoint_draws_a_secret_and_audits_without_it(endpoint, brand_admin):
    assert endpoint.secret.startswith("whsec_")
    assert len(endpoint.secret) > 40
    event = AuditEvent.objects.get(action="webhook.endpoint_created")
    assert event.actor == brand_admin
    assert event.brand_id == endpoint.brand_id
    assert event.changes["events"] == [CLAIMED, RESOLVED]
    assert endpoint.secret not in json.dumps(event.changes)


def test_each_endpoint_gets_its_own_secret(brand, brand_admin, endpoint):
    second = webhook_endpoint_create(
        brand=brand, url="https://hooks.example.com/b", events=[CLAIMED], created_by=brand_admin
    )
    assert second.secret != endpoint.secret


@pytest.mark.parametrize(
    "url",
    [
        "http://helpdesk.example.com/hooks",
        "ftp://helpdesk.example.com/hooks",
        "helpdesk.example.com/hooks",
        "https://",
    ],
)
def test_endpoint_url_must_be_https(brand, brand_admin, url):
    with pytest.raises(ValidationFailed) as caught:
        webhook_endpoint_create(brand=brand, url=url, events=[CLAIMED], created_by=brand_admin)
    assert "url" in caught.value.fields
    assert not WebhookEndpoint.objects.exists()


def test_plain_http_is_refused_with_the_reason(brand, brand_admin):
    with pytest.raises(ValidationFailed) as caught:
        webhook_endpoint_create(
            brand=brand,
            url="http://helpdesk.example.com/x",
            events=[CLAIMED],
            created_by=brand_admin,
        )
    assert "https://" in caught.value.message


@pytest.mark.parametrize("url", ["http://localhost:8000/hooks", "http://127.0.0.1:9000/h"])
def test_plain_http_is_allowed_to_localhost(brand, brand_admin, url):
    created = webhook_endpoint_create(
        brand=brand, url=url, events=[CLAIMED], created_by=brand_admin
    )
    assert created.url == url


@pytest.mark.parametrize("events", [[], ["task.created"], ["ping"], [CLAIMED, "task.deleted"]])
def test_endpoint_events_must_be_known_and_at_least_one(brand, brand_admin, events):
    with pytest.raises(ValidationFailed) as caught:
        webhook_endpoint_create(
            brand=brand, url="https://hooks.example.com/", events=events, created_by=brand_admin
        )
    assert "events" in caught.value.fields


def test_events_are_stored_in_their_documented_order_without_duplicates(brand, brand_admin):
    created = webhook_endpoint_create(
        brand=brand,
        url="https://hooks.example.com/",
        events=[RESOLVED, CLAIMED, RESOLVED],
        created_by=brand_admin,
    )
    assert created.events == [CLAIMED, RESOLVED]


def test_a_brand_has_at_most_ten_endpoints(brand, brand_admin):
    WebhookEndpointFactory.create_batch(WEBHOOK_ENDPOINTS_MAX, brand=brand)
    with pytest.raises(ValidationFailed) as caught:
        webhook_endpoint_create(
            brand=brand, url="https://hooks.example.com/", events=[CLAIMED], created_by=brand_admin
        )
    assert caught.value.code == "too_many_endpoints"
    assert WebhookEndpoint.objects.filter(brand=brand).count() == WEBHOOK_ENDPOINTS_MAX


def test_another_brands_endpoints_do_not_count_toward_the_cap(brand, other_brand, brand_admin):
    WebhookEndpointFactory.create_batch(WEBHOOK_ENDPOINTS_MAX, brand=other_brand)
    created = webhook_endpoint_create(
        brand=brand, url="https://hooks.example.com/", events=[CLAIMED], created_by=brand_admin
    )
    assert created.brand == brand


def test_updating_an_endpoint_audits_what_changed(endpoint, brand_admin):
    webhook_endpoint_update(
        endpoint=endpoint,
        url="https://hooks.example.com/v2",
        events=[RESOLVED],
        description="Zendesk bridge",
        actor=brand_admin,
    )
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/v2"
    assert endpoint.events == [RESOLVED]
    event = AuditEvent.objects.get(action="webhook.endpoint_updated")
    assert set(event.changes) == {"url", "events"}


def test_an_invalid_update_changes_nothing(endpoint, brand_admin):
    with pytest.raises(ValidationFailed):
        webhook_endpoint_update(
            endpoint=endpoint, url="http://example.com/", events=[CLAIMED], actor=brand_admin
        )
    endpoint.refresh_from_db()
    assert endpoint.events == [CLAIMED, RESOLVED]
    assert not AuditEvent.objects.filter(action="webhook.endpoint_updated").exists()


def test_rotating_the_secret_replaces_it_and_audits(endpoint, brand_admin):
    old = endpoint.secret
    rotated = webhook_endpoint_rotate_secret(endpoint=endpoint, actor=brand_admin)
    assert rotated.secret.startswith("whsec_")
    assert rotated.secret != old
    assert rotated.previous_secret == ""
    event = AuditEvent.objects.get(action="webhook.secret_rotated")
    assert old not in json.dumps(event.changes)
    assert rotated.secret not in json.dumps(event.changes)


def test_enabling_and_disabling_are_audited(endpoint, brand_admin):
    webhook_endpoint_set_active(endpoint=endpoint, is_active=False, actor=brand_admin)
    webhook_endpoint_set_active(endpoint=endpoint, is_active=True, actor=brand_admin)
    actions = list(
        AuditEvent.objects.filter(action__startswith="webhook.endpoint_")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["webhook.endpoint_disabled", "webhook.endpoint_enabled"]


def test_deleting_an_endpoint_removes_its_log_and_audits(endpoint, brand_admin):
    WebhookDeliveryFactory(endpoint=endpoint)
    webhook_endpoint_delete(endpoint=endpoint, actor=brand_admin)
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert AuditEvent.objects.get(action="webhook.endpoint_deleted").changes["url"] == endpoint.url


# --- Signatures -----------------------------------------------------------------------------


def test_a_signature_verifies_with_its_secret_only():
    body = b'{"id":"evt_1"}'
    header = webhook_signature_header(secrets=["whsec_a"], timestamp=int(time.time()), body=body)
    assert webhook_signature_verify(secret="whsec_a", header=header, body=body)
    assert not webhook_signature_verify(secret="whsec_b", header=header, body=body)


def test_a_changed_body_fails_verification():
    header = webhook_signature_header(secrets=["whsec_a"], timestamp=int(time.time()), body="{}")
    assert not webhook_signature_verify(secret="whsec_a", header=header, body='{"x":1}')


def test_an_old_timestamp_fails_verification():
    stale = int(time.time()) - 301
    header = webhook_signature_header(secrets=["whsec_a"], timestamp=stale, body="{}")
    assert not webhook_signature_verify(secret="whsec_a", header=header, body="{}")
    assert webhook_signature_verify(secret="whsec_a", header=header, body="{}", tolerance=None)


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=00", "t=1700000000", "garbage"])
def test_a_malformed_header_fails_verification(header):
    assert not webhook_signature_verify(secret="whsec_a", header=header, body="{}", tolerance=None)


def test_the_header_is_t_then_v1_hex():
    header = webhook_signature_header(secrets=["whsec_a"], timestamp=1700000000, body="{}")
    t_part, v1_part = header.split(",")
    assert t_part == "t=1700000000"
    assert v1_part.startswith("v1=")
    assert len(v1_part) == 3 + 64
    int(v1_part[3:], 16)


def _documented_verifier():
    """The receiver's example from docs/webhooks.md, run as a brand developer would."""
    docs = (Path(settings.BASE_DIR) / "docs" / "webhooks.md").read_text()
    [code] = [
        block.split("```", 1)[0]
        for block in docs.split("```python\n")[1:]
        if "def gigdesk_signature_valid" in block
    ]
    namespace: dict = {}
    exec(code, namespace)
    return namespace["gigdesk_signature_valid"]


def test_the_documented_example_verifies_a_real_delivery(
    endpoint, brand, receiver, django_capture_on_commit_callbacks
):
    verify = _documented_verifier()
    emit(django_capture_on_commit_callbacks, brand=brand)

    received = receiver.requests[0]
    header = received.headers["Gigdesk-Signature"]
    assert verify(endpoint.secret, header, received.body)
    assert not verify("whsec_wrong", header, received.body)
    assert not verify(endpoint.secret, header, received.body + b" ")


# --- Emitting and delivering ---------------------------------------------------------------


def test_an_emitted_event_reaches_the_endpoint_signed(
    endpoint, brand, receiver, django_capture_on_commit_callbacks
):
    emit(django_capture_on_commit_callbacks, brand=brand)

    [received] = receiver.requests
    headers = received.headers
    assert webhook_signature_verify(
        secret=endpoint.secret, header=headers["Gigdesk-Signature"], body=received.body
    )
    payload = json.loads(received.body)
    assert payload["type"] == CLAIMED
    assert payload["brand"] == "acme"
    assert payload["data"] == TASK_DATA
    assert payload["id"].startswith("evt_")
    assert payload["created"].endswith("Z")
    assert headers["Gigdesk-Event-Id"] == payload["id"]
    assert headers["Gigdesk-Event-Type"] == CLAIMED
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "Gigdesk-Webhooks/1.0"
    assert received.path == "/hooks"


def test_the_body_is_compact_json_with_sorted_keys(
    endpoint, brand, receiver, django_capture_on_commit_callbacks
):
    emit(django_capture_on_commit_callbacks, brand=brand, data={"b": 1, "a": {"z": 2, "y": 3}})

    body = receiver.requests[0].body.decode()
    assert body == json.dumps(json.loads(body), separators=(",", ":"), sort_keys=True)


def test_a_successful_delivery_is_logged(
    endpoint, brand, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(200, b"thanks")
    emit(django_capture_on_commit_callbacks, brand=brand)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDeliveryStatus.SUCCEEDED
    assert delivery.attempts == 1
    assert delivery.last_status_code == 200
    assert delivery.last_response_excerpt == "thanks"
    assert delivery.delivered_at is not None
    assert delivery.response_ms is not None
    assert delivery.next_attempt_at is None
    assert delivery.brand == brand
    assert delivery.body == receiver.requests[0].body.decode()


def test_only_active_endpoints_subscribed_to_the_event_get_it(
    endpoint, brand, brand_admin, receiver, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(
        brand=brand, url=receiver.url + "/resolved-only", events=[RESOLVED], created_by=brand_admin
    )
    disabled = webhook_endpoint_create(
        brand=brand, url=receiver.url + "/disabled", events=[CLAIMED], created_by=brand_admin
    )
    webhook_endpoint_set_active(endpoint=disabled, is_active=False, actor=brand_admin)

    emit(django_capture_on_commit_callbacks, brand=brand, event_type=CLAIMED)

    assert [r.path for r in receiver.requests] == ["/hooks"]
    assert list(WebhookDelivery.objects.values_list("endpoint_id", flat=True)) == [endpoint.pk]


def test_every_subscribed_endpoint_gets_the_same_event(
    endpoint, brand, brand_admin, receiver, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(
        brand=brand, url=receiver.url + "/second", events=[CLAIMED], created_by=brand_admin
    )
    emit(django_capture_on_commit_callbacks, brand=brand)

    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    assert WebhookDelivery.objects.values("event_id").distinct().count() == 1


def test_another_brands_event_never_reaches_this_brands_endpoint(
    endpoint, other_brand, receiver, django_capture_on_commit_callbacks
):
    WebhookEndpointFactory(brand=other_brand, url=receiver.url + "/other", events=[RESOLVED])
    emit(django_capture_on_commit_callbacks, brand=other_brand, event_type=CLAIMED)

    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_emit_makes_no_query_when_nothing_subscribes_to_the_event(
    brand, brand_admin, django_assert_num_queries
):
    WebhookEndpointFactory(brand=brand, events=[RESOLVED])
    webhook_event_emit(brand_id=brand.pk, event_type=CLAIMED, data=TASK_DATA)  # warms the cache

    with django_assert_num_queries(0):
        webhook_event_emit(brand_id=brand.pk, event_type=CLAIMED, data=TASK_DATA)

    assert not WebhookDelivery.objects.exists()


def test_emit_makes_no_query_for_a_brand_without_endpoints(brand, django_assert_num_queries):
    webhook_event_emit(brand_id=brand.pk, event_type=CLAIMED, data=TASK_DATA)

    with django_assert_num_queries(0):
        for _ in range(3):
            webhook_event_emit(brand_id=brand.pk, event_type=RESOLVED, data=TASK_DATA)


def test_a_new_endpoint_gets_events_at_once_in_this_process(
    brand, brand_admin, receiver, django_capture_on_commit_callbacks
):
    webhook_event_emit(brand_id=brand.pk, event_type=CLAIMED, data=TASK_DATA)  # caches "none"
    webhook_endpoint_create(brand=brand, url=receiver.url, events=[CLAIMED], created_by=brand_admin)

    emit(django_capture_on_commit_callbacks, brand=brand)

    assert len(receiver.requests) == 1


def test_unsubscribing_stops_events_at_once_in_this_process(
    endpoint, brand, brand_admin, receiver, django_capture_on_commit_callbacks
):
    emit(django_capture_on_commit_callbacks, brand=brand)
    webhook_endpoint_update(
        endpoint=endpoint, url=endpoint.url, events=[RESOLVED], actor=brand_admin
    )

    emit(django_capture_on_commit_callbacks, brand=brand, event_type=CLAIMED)

    assert len(receiver.requests) == 1


def test_changes_made_elsewhere_are_seen_once_the_cache_entry_expires(
    brand, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    clock = [1000.0]
    monkeypatch.setattr(webhooks.time, "monotonic", lambda: clock[0])
    webhook_event_emit(brand_id=brand.pk, event_type=CLAIMED, data=TASK_DATA)
    # Another process adds an endpoint: this process is not told.
    WebhookEndpointFactory(brand=brand, url=receiver.url, events=[CLAIMED])

    emit(django_capture_on_commit_callbacks, brand=brand)
    assert receiver.requests == []

    clock[0] += webhooks.WEBHOOK_SUBSCRIPTION_CACHE_SECONDS + 0.1
    emit(django_capture_on_commit_callbacks, brand=brand)
    assert len(receiver.requests) == 1


def test_an_event_in_a_rolled_back_transaction_sends_nothing(
    endpoint, brand, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        webhook_event_emit(brand_id=brand.pk, event_type=CLAIMED, data=TASK_DATA)
        transaction.set_rollback(True)

    assert callbacks == []
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_nothing_is_sent_before_the_transaction_commits(endpoint, brand, receiver):
    webhook_event_emit(brand_id=brand.pk, event_type=CLAIMED, data=TASK_DATA)

    assert receiver.requests == []
    assert WebhookDelivery.objects.get().status == WebhookDeliveryStatus.PENDING


def test_an_unknown_event_type_is_not_sent(
    endpoint, brand, receiver, django_capture_on_commit_callbacks
):
    emit(django_capture_on_commit_callbacks, brand=brand, event_type="task.exploded")

    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


# --- Retries and failure --------------------------------------------------------------------


def test_a_500_schedules_a_retry_after_the_first_backoff_delay(
    endpoint, brand, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(500, b"upstream exploded")
    before = timezone.now()
    emit(django_capture_on_commit_callbacks, brand=brand)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDeliveryStatus.RETRYING
    assert delivery.attempts == 1
    assert delivery.last_status_code == 500
    assert delivery.last_error == "Answered HTTP 500."
    assert delivery.last_response_excerpt == "upstream exploded"
    expected = before + timedelta(seconds=WEBHOOK_RETRY_DELAYS[0])
    assert expected <= delivery.next_attempt_at <= expected + timedelta(seconds=5)
    [eta] = scheduled_etas(delivery)
    assert abs((eta - delivery.next_attempt_at.replace(tzinfo=None)).total_seconds()) < 5


def test_the_backoff_grows_three_times_and_is_capped():
    assert WEBHOOK_RETRY_DELAYS[:4] == (10, 30, 90, 270)
    assert max(WEBHOOK_RETRY_DELAYS) == 3600
    assert WEBHOOK_MAX_ATTEMPTS == 8
    assert [webhooks.webhook_retry_delay(n) for n in range(1, 8)] == list(WEBHOOK_RETRY_DELAYS)


def test_a_retry_sends_the_same_bytes_and_event_id_freshly_signed(
    endpoint, brand, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(500)
    emit(django_capture_on_commit_callbacks, brand=brand)
    delivery = WebhookDelivery.objects.get()
    receiver.answer(200)

    make_due(delivery)
    webhook_delivery_attempt(delivery_id=delivery.pk)

    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["Gigdesk-Event-Id"] == second.headers["Gigdesk-Event-Id"]
    for received in (first, second):
        assert webhook_signature_verify(
            secret=endpoint.secret, header=received.headers["Gigdesk-Signature"], body=received.body
        )
    delivery.refresh_from_db()
    assert delivery.status == WebhookDeliveryStatus.SUCCEEDED
    assert delivery.attempts == 2


def test_a_delivery_that_is_not_due_yet_is_not_sent(
    endpoint, brand, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(500)
    emit(django_capture_on_commit_callbacks, brand=brand)
    delivery = WebhookDelivery.objects.get()

    # A duplicate or early job for the same delivery.
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None

    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_a_succeeded_delivery_is_never_sent_again(
    endpoint, brand, receiver, django_capture_on_commit_callbacks
):
    emit(django_capture_on_commit_callbacks, brand=brand)
    delivery = WebhookDelivery.objects.get()
    make_due(delivery)

    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
    assert len(receiver.requests) == 1


def test_after_the_last_attempt_the_delivery_fails_and_the_endpoint_is_failing(
    endpoint, brand, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(500)
    emit(django_capture_on_commit_callbacks, brand=brand)
    delivery = WebhookDelivery.objects.get()
    for _ in range(WEBHOOK_MAX_ATTEMPTS - 1):
        make_due(delivery)
        webhook_delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert len(receiver.requests) == WEBHOOK_MAX_ATTEMPTS
    assert delivery.status == WebhookDeliveryStatus.FAILED
    assert delivery.attempts == WEBHOOK_MAX_ATTEMPTS
    assert delivery.next_attempt_at is None
    assert endpoint.failing_since is not None
    assert endpoint.is_failing
    assert endpoint.consecutive_failures == WEBHOOK_MAX_ATTEMPTS
    # A failed delivery is finished: a stray job sends nothing more.
    make_due(delivery)
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
    assert len(receiver.requests) == WEBHOOK_MAX_ATTEMPTS


def test_a_failure_before_the_last_attempt_does_not_mark_the_endpoint_failing(
    endpoint, brand, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(503)
    emit(django_capture_on_commit_callbacks, brand=brand)

    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1
    assert endpoint.failing_since is None


def test_a_success_resets_a_failing_endpoint(
    endpoint, brand, receiver, django_capture_on_commit_callbacks
):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=12, failing_since=timezone.now() - timedelta(hours=3)
    )
    emit(django_capture_on_commit_callbacks, brand=brand)

    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0
    assert endpoint.failing_since is None


def test_a_timeout_is_a_failed_attempt(
    endpoint, brand, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(webhooks, "WEBHOOK_TIMEOUT_SECONDS", 0.3)
    receiver.answer(200, delay_seconds=1.0)
    emit(django_capture_on_commit_callbacks, brand=brand)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDeliveryStatus.RETRYING
    assert delivery.last_status_code is None
    assert delivery.last_error == "No answer within 0.3 s."
    assert delivery.response_ms < 1000


def test_a_redirect_is_a_failure_and_is_not_followed(
    endpoint, brand, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(302)
    emit(django_capture_on_commit_callbacks, brand=brand)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDeliveryStatus.RETRYING
    assert delivery.last_status_code == 302
    assert "redirects are not followed" in delivery.last_error
    assert [r.path for r in receiver.requests] == ["/hooks"]


def test_a_4xx_is_a_failure(endpoint, brand, receiver, django_capture_on_commit_callbacks):
    receiver.answer(400, b"bad signature")
    emit(django_capture_on_commit_callbacks, brand=brand)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDeliveryStatus.RETRYING
    assert delivery.last_status_code == 400


def test_a_refused_connection_is_a_failure(brand, brand_admin, django_capture_on_commit_callbacks):
    # A port nothing listens on: bind one, then close it.
    closed = WebhookReceiver()
    dead_url = closed.url
    closed.stop()
    webhook_endpoint_create(brand=brand, url=dead_url, events=[CLAIMED], created_by=brand_admin)

    emit(django_capture_on_commit_callbacks, brand=brand)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDeliveryStatus.RETRYING
    assert delivery.last_error.startswith("Could not connect")


def test_a_long_response_is_kept_as_a_short_excerpt(
    endpoint, brand, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(500, b"x" * 20_000)
    emit(django_capture_on_commit_callbacks, brand=brand)

    assert len(WebhookDelivery.objects.get().last_response_excerpt) == 500


def test_a_queued_delivery_to_a_disabled_endpoint_is_closed_unsent(
    endpoint, brand, brand_admin, receiver
):
    webhook_event_emit(brand_id=brand.pk, event_type=CLAIMED, data=TASK_DATA)
    delivery = WebhookDelivery.objects.get()
    webhook_endpoint_set_active(endpoint=endpoint, is_active=False, actor=brand_admin)

    webhook_delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert receiver.requests == []
    assert delivery.status == WebhookDeliveryStatus.FAILED
    assert "disabled" in delivery.last_error


def test_deliveries_use_the_new_secret_after_a_rotation(
    endpoint, brand, brand_admin, receiver, django_capture_on_commit_callbacks
):
    old = endpoint.secret
    rotated = webhook_endpoint_rotate_secret(endpoint=endpoint, actor=brand_admin)
    emit(django_capture_on_commit_callbacks, brand=brand)

    received = receiver.requests[0]
    header = received.headers["Gigdesk-Signature"]
    assert webhook_signature_verify(secret=rotated.secret, header=header, body=received.body)
    assert not webhook_signature_verify(secret=old, header=header, body=received.body)


def test_a_rotation_with_overlap_signs_with_both_secrets_until_it_ends(
    endpoint, brand, brand_admin, receiver, django_capture_on_commit_callbacks
):
    old = endpoint.secret
    rotated = webhook_endpoint_rotate_secret(
        endpoint=endpoint, actor=brand_admin, previous_valid_for=timedelta(hours=24)
    )
    emit(django_capture_on_commit_callbacks, brand=brand)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    emit(django_capture_on_commit_callbacks, brand=brand)

    during, after = receiver.requests
    assert during.headers["Gigdesk-Signature"].count("v1=") == 2
    for secret in (old, rotated.secret):
        assert webhook_signature_verify(
            secret=secret, header=during.headers["Gigdesk-Signature"], body=during.body
        )
    assert after.headers["Gigdesk-Signature"].count("v1=") == 1
    assert not webhook_signature_verify(
        secret=old, header=after.headers["Gigdesk-Signature"], body=after.body
    )


def test_the_old_secret_cannot_sign_for_more_than_a_week(endpoint, brand_admin):
    with pytest.raises(ValidationFailed):
        webhook_endpoint_rotate_secret(
            endpoint=endpoint, actor=brand_admin, previous_valid_for=timedelta(days=8)
        )


# --- The sweep for lost jobs --------------------------------------------------------------


def test_the_sweep_sends_a_delivery_whose_job_was_lost(endpoint, brand, receiver):
    # Emitted, but the enqueue after commit never happened.
    webhook_event_emit(brand_id=brand.pk, event_type=CLAIMED, data=TASK_DATA)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )

    assert webhook_deliveries_sweep() == 1

    delivery.refresh_from_db()
    assert delivery.status == WebhookDeliveryStatus.SUCCEEDED
    assert len(receiver.requests) == 1


def test_the_sweep_leaves_attempts_that_are_not_overdue(endpoint, brand, receiver):
    webhook_event_emit(brand_id=brand.pk, event_type=CLAIMED, data=TASK_DATA)

    assert webhook_deliveries_sweep() == 0
    assert receiver.requests == []


def test_the_sweep_leaves_finished_deliveries(endpoint, receiver):
    long_ago = timezone.now() - timedelta(hours=1)
    for status in (WebhookDeliveryStatus.SUCCEEDED, WebhookDeliveryStatus.FAILED):
        WebhookDeliveryFactory(endpoint=endpoint, status=status, next_attempt_at=long_ago)

    assert webhook_deliveries_sweep() == 0
    assert receiver.requests == []


def test_a_crashed_attempt_is_retried_by_the_sweep_after_its_claim_runs_out(
    endpoint, brand, receiver
):
    webhook_event_emit(brand_id=brand.pk, event_type=CLAIMED, data=TASK_DATA)
    delivery = WebhookDelivery.objects.get()
    # A worker claimed attempt 1 and died before recording anything.
    claimed_at = timezone.now() - timedelta(minutes=10)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=1,
        last_attempt_at=claimed_at,
        next_attempt_at=claimed_at + timedelta(seconds=webhooks.ATTEMPT_CLAIM_SECONDS),
    )

    assert webhook_deliveries_sweep() == 1

    delivery.refresh_from_db()
    assert delivery.status == WebhookDeliveryStatus.SUCCEEDED
    assert delivery.attempts == 2


def test_the_purge_drops_old_finished_deliveries_only(endpoint):
    old = timezone.now() - timedelta(days=31)
    gone = WebhookDeliveryFactory(endpoint=endpoint, status=WebhookDeliveryStatus.SUCCEEDED)
    open_one = WebhookDeliveryFactory(endpoint=endpoint, status=WebhookDeliveryStatus.RETRYING)
    recent = WebhookDeliveryFactory(endpoint=endpoint, status=WebhookDeliveryStatus.FAILED)
    WebhookDelivery.objects.filter(pk__in=[gone.pk, open_one.pk]).update(created_at=old)

    assert webhook_deliveries_purge() == 1

    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {open_one.pk, recent.pk}


# --- Redelivery and test events --------------------------------------------------------------


def test_a_redelivery_is_a_new_delivery_with_the_same_event_id_and_body(
    endpoint, brand, brand_admin, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(500)
    emit(django_capture_on_commit_callbacks, brand=brand)
    original = WebhookDelivery.objects.get()
    receiver.answer(200)

    with django_capture_on_commit_callbacks(execute=True):
        redelivery = webhook_delivery_redeliver(delivery=original, actor=brand_admin)

    redelivery.refresh_from_db()
    assert redelivery.pk != original.pk
    assert redelivery.event_id == original.event_id
    assert redelivery.body == original.body
    assert redelivery.redelivery_of == original
    assert redelivery.status == WebhookDeliveryStatus.SUCCEEDED
    assert redelivery.attempts == 1
    first, second = receiver.requests
    assert first.body == second.body
    assert second.headers["Gigdesk-Event-Id"] == original.event_id
    event = AuditEvent.objects.get(action="webhook.redelivered")
    assert event.changes["event_id"] == original.event_id
    assert event.actor == brand_admin


def test_a_succeeded_delivery_can_be_redelivered(
    endpoint, brand, brand_admin, receiver, django_capture_on_commit_callbacks
):
    emit(django_capture_on_commit_callbacks, brand=brand)
    original = WebhookDelivery.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        webhook_delivery_redeliver(delivery=original, actor=brand_admin)

    assert len(receiver.requests) == 2
    assert WebhookDelivery.objects.filter(event_id=original.event_id).count() == 2


def test_no_redelivery_to_a_disabled_endpoint(endpoint, brand_admin):
    delivery = WebhookDeliveryFactory(endpoint=endpoint, status=WebhookDeliveryStatus.FAILED)
    webhook_endpoint_set_active(endpoint=endpoint, is_active=False, actor=brand_admin)

    with pytest.raises(ValidationFailed):
        webhook_delivery_redeliver(delivery=delivery, actor=brand_admin)
    assert WebhookDelivery.objects.count() == 1


def test_a_test_event_is_a_ping_sent_once(endpoint, receiver, django_capture_on_commit_callbacks):
    receiver.answer(500)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = webhook_endpoint_ping(endpoint=endpoint)

    delivery.refresh_from_db()
    assert delivery.event_type == "ping"
    assert delivery.status == WebhookDeliveryStatus.FAILED
    assert delivery.attempts == 1
    payload = json.loads(receiver.requests[0].body)
    assert payload["type"] == "ping"
    assert payload["data"]["endpoint"]["id"] == endpoint.pk


def test_a_ping_is_sent_whatever_the_endpoint_subscribes_to(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        delivery = webhook_endpoint_ping(endpoint=endpoint)

    delivery.refresh_from_db()
    assert delivery.status == WebhookDeliveryStatus.SUCCEEDED
    assert len(receiver.requests) == 1


# --- Tenant isolation --------------------------------------------------------------------------


def test_another_brands_endpoint_is_not_found(brand, other_brand):
    theirs = WebhookEndpointFactory(brand=other_brand)
    with pytest.raises(Http404):
        access_webhook_endpoint(brand=brand, endpoint_id=theirs.pk)
    assert access_webhook_endpoint(brand=other_brand, endpoint_id=theirs.pk) == theirs


def test_another_brands_delivery_is_not_found(brand, other_brand):
    theirs = WebhookDeliveryFactory(endpoint=WebhookEndpointFactory(brand=other_brand))
    with pytest.raises(Http404):
        access_webhook_delivery(brand=brand, delivery_id=theirs.pk)


def test_the_delivery_log_lists_only_the_brands_own(brand, other_brand):
    ours = WebhookDeliveryFactory(endpoint=WebhookEndpointFactory(brand=brand))
    WebhookDeliveryFactory(endpoint=WebhookEndpointFactory(brand=other_brand))

    assert list(webhook_delivery_list(brand=brand)) == [ours]


def test_the_delivery_log_filters_by_status_and_event(brand):
    endpoint = WebhookEndpointFactory(brand=brand)
    failed = WebhookDeliveryFactory(
        endpoint=endpoint, status=WebhookDeliveryStatus.FAILED, event_type=RESOLVED
    )
    WebhookDeliveryFactory(endpoint=endpoint, status=WebhookDeliveryStatus.SUCCEEDED)

    assert list(webhook_delivery_list(brand=brand, status="failed")) == [failed]
    assert list(webhook_delivery_list(brand=brand, event_type=RESOLVED)) == [failed]


# --- Two workers on one delivery ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_the_same_delivery_send_it_once(receiver):
    brand = BrandFactory()
    admin = MembershipFactory(brand=brand).user
    endpoint = webhook_endpoint_create(
        brand=brand, url=receiver.url, events=[CLAIMED], created_by=admin
    )
    receiver.answer(200, delay_seconds=0.3)
    with transaction.atomic():
        webhook_event_emit(brand_id=brand.pk, event_type=CLAIMED, data=TASK_DATA)
    # The job ran inline at commit (immediate mode); queue the same attempt again.
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    receiver.requests.clear()
    start = threading.Barrier(2)

    def worker():
        start.wait()
        try:
            webhook_delivery_attempt(delivery_id=delivery.pk)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert delivery.status == WebhookDeliveryStatus.SUCCEEDED
