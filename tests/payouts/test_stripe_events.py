"""The Stripe webhook endpoint: signatures, storing each event once, background processing.

Events come from the sandbox subprocess through the real SDK, and reach our
endpoint as the exact bytes and Stripe-Signature it sent.
"""

import json
import random
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from payouts import funding, stripe_events
from payouts.models import Posting, StripeEvent, StripeEventStatus, TopUpStatus
from payouts.services import ledger_account, posting_create
from payouts.stripe_api import stripe_client
from payouts.stripe_events import StripeEventFailed, stripe_event_process, stripe_events_sweep
from tests.payouts.stripe_helpers import (
    assert_ledger_balanced,
    available_balance,
    paid_top_up,
    pay_top_up,
    post_to_endpoint,
    signed_event,
    stripe_event,
)
from tests.stripe_sandbox.builders import onboarded_account

FAILING_EVENT_TYPE = "gigdesk.test_failing"


@pytest.fixture
def signed_test_event(db, settings):
    """A valid event of a type we do not handle, signed with the sandbox's secret."""
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    return signed_event(stripe_event("customer.created", {"id": "cus_1", "object": "customer"}))


# --- Signatures --------------------------------------------------------------------------


def test_a_missing_signature_is_refused_and_nothing_stored(deliver, signed_test_event):
    body, _ = signed_test_event

    response = deliver(body, None, expect=400)

    assert response.status_code == 400
    assert "Stripe-Signature" in response.json()["error"]["message"]
    assert not StripeEvent.objects.exists()


@pytest.mark.parametrize(
    "signature",
    ["garbage", "t=1,v1=", "t=notanumber,v1=abc", "v1=" + "0" * 64],
)
def test_a_malformed_signature_is_refused(deliver, signed_test_event, signature):
    body, _ = signed_test_event

    response = deliver(body, signature, expect=400)

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_a_signature_with_another_secret_is_refused(deliver):
    event = stripe_event("customer.created", {"id": "cus_1", "object": "customer"})

    response = deliver(*signed_event(event, secret="whsec_someone_else"), expect=400)

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_a_body_changed_after_signing_is_refused(deliver, signed_test_event):
    body, signature = signed_test_event
    tampered = body.replace(b'"livemode": false', b'"livemode": true')
    assert tampered != body

    response = deliver(tampered, signature, expect=400)

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_an_old_signature_is_refused_as_a_replay(deliver):
    event = stripe_event("customer.created", {"id": "cus_1", "object": "customer"})

    response = deliver(*signed_event(event, timestamp=int(time.time()) - 600), expect=400)

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_a_signed_body_that_is_no_event_is_refused(deliver):
    body, signature = signed_event({"hello": "world"})

    response = deliver(body, signature, expect=400)

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_the_endpoint_takes_posts_only(client, db):
    assert client.get("/stripe/webhooks/").status_code == 405


def test_the_endpoint_needs_no_csrf_token(db, settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    strict = Client(enforce_csrf_checks=True)
    event = stripe_event("customer.created", {"id": "cus_1", "object": "customer"})

    response = post_to_endpoint(strict, *signed_event(event))

    assert response.status_code == 200


# --- Storing once ------------------------------------------------------------------------


def test_an_event_is_stored_with_what_stripe_said(sandbox, stripe_webhooks, deliver):
    account = onboarded_account(stripe_client())
    [webhook] = stripe_webhooks.wait_for("account.updated")

    response = deliver(webhook.body, webhook.signature)

    assert response.status_code == 200
    stored = StripeEvent.objects.get()
    sent = json.loads(webhook.body)
    assert response.json() == {"received": sent["id"], "duplicate": False}
    assert (stored.event_id, stored.type, stored.account) == (
        sent["id"],
        "account.updated",
        account.id,
    )
    assert stored.livemode is False
    assert stored.payload == sent
    assert stored.stripe_created_at.timestamp() == sent["created"]


def test_a_duplicate_is_answered_200_and_adds_nothing(deliver, signed_test_event):
    deliver(*signed_test_event)

    response = deliver(*signed_test_event)

    assert response.status_code == 200
    assert response.json()["duplicate"] is True
    stored = StripeEvent.objects.get()
    assert stored.attempts == 1


def test_a_duplicate_queues_no_second_job(
    client, django_capture_on_commit_callbacks, deliver, signed_test_event
):
    deliver(*signed_test_event)

    with django_capture_on_commit_callbacks() as queued:
        post_to_endpoint(client, *signed_test_event)

    assert queued == []


def test_an_unknown_type_is_stored_and_ignored(deliver, signed_test_event):
    deliver(*signed_test_event)  # customer.created: no handler

    stored = StripeEvent.objects.get()
    assert stored.status == StripeEventStatus.IGNORED
    assert stored.last_error == "No handler for customer.created events."
    assert stored.processed_at is not None


def test_receiving_does_not_process_before_commit(db, signed_test_event):
    event, created = stripe_events.stripe_event_receive(
        payload=signed_test_event[0], signature=signed_test_event[1]
    )

    # The job is queued on commit, which a test transaction never reaches.
    assert created is True
    event.refresh_from_db()
    assert (event.status, event.attempts) == (StripeEventStatus.RECEIVED, 0)


# --- Replays, duplicates and order -----------------------------------------------------


def test_replayed_and_shuffled_events_credit_each_top_up_once(
    sandbox, stripe_webhooks, deliver, brand, brand_admin, other_brand, other_admin
):
    sandbox.webhooks(duplicate=True)  # Stripe's at-least-once, made certain
    first, _ = paid_top_up(stripe_webhooks, brand=brand, actor=brand_admin, amount_minor=25_000)
    second, _ = paid_top_up(
        stripe_webhooks, brand=other_brand, actor=other_admin, amount_minor=4_000
    )
    onboarded_account(stripe_client())
    stripe_webhooks.wait_for("checkout.session.completed", count=4)
    stripe_webhooks.wait_for("account.updated", count=2)
    deliveries = stripe_webhooks.received * 2
    random.Random(5).shuffle(deliveries)

    answers = {deliver(webhook.body, webhook.signature).status_code for webhook in deliveries}

    assert answers == {200}
    assert len(deliveries) == 12
    assert StripeEvent.objects.count() == 3
    assert available_balance(brand) == 25_000
    assert available_balance(other_brand) == 4_000
    assert Posting.objects.count() == 2
    for top_up in (first, second):
        top_up.refresh_from_db()
        assert top_up.status == TopUpStatus.PAID
    assert_ledger_balanced()


def test_events_delivered_newest_first_end_the_same(
    sandbox, stripe_webhooks, deliver, brand, brand_admin
):
    sandbox.webhooks(out_of_order_batch=2)
    older = funding.topup_start(brand=brand, actor=brand_admin, amount_minor=1_000, currency="EUR")
    newer = funding.topup_start(brand=brand, actor=brand_admin, amount_minor=2_000, currency="EUR")
    pay_top_up(older.checkout_url)
    pay_top_up(newer.checkout_url)
    received = stripe_webhooks.wait_for("checkout.session.completed", count=2)
    assert [webhook.event["data"]["object"]["id"] for webhook in received] == [
        newer.top_up.checkout_session_id,
        older.top_up.checkout_session_id,
    ]

    for webhook in received:
        deliver(webhook.body, webhook.signature)

    assert available_balance(brand) == 3_000
    assert_ledger_balanced()


# --- Processing: failures and retries ------------------------------------------------------


def failing_handler(event: StripeEvent) -> None:
    """A handler that writes, then breaks: its writes must not survive."""
    account = ledger_account(purpose="stripe_clearing", currency="EUR")
    revenue = ledger_account(purpose="platform_revenue", currency="EUR")
    posting_create(
        idempotency_key=f"test:{event.event_id}",
        kind="test",
        lines=[(account, -100), (revenue, 100)],
    )
    raise RuntimeError("the database went away")


def working_handler(event: StripeEvent) -> None:
    pass


@pytest.fixture
def failing_type(monkeypatch):
    # The registry is the extension point later slices use; a test type joins it the same way.
    monkeypatch.setitem(
        stripe_events.STRIPE_EVENT_HANDLERS,
        FAILING_EVENT_TYPE,
        "tests.payouts.test_stripe_events.failing_handler",
    )
    return FAILING_EVENT_TYPE


def test_a_failing_handler_marks_the_event_failed_and_keeps_none_of_its_writes(
    deliver, failing_type
):
    response = deliver(*signed_event(stripe_event(failing_type, {"id": "x_1"})))

    assert response.status_code == 200  # Stripe is not the one to retry our bug
    stored = StripeEvent.objects.get()
    assert stored.status == StripeEventStatus.FAILED
    assert stored.attempts == 1
    assert stored.last_error == "RuntimeError: the database went away"
    assert not Posting.objects.exists()


def test_a_failing_handler_schedules_a_retry_with_backoff(deliver, failing_type):
    def retries_scheduled():
        return [
            task
            for task in HUEY.scheduled()
            if task.name.endswith("stripe_event_process_job")
            and task.args == (StripeEvent.objects.get().pk,)
        ]

    deliver(*signed_event(stripe_event(failing_type, {"id": "x_1"})))

    [retry] = retries_scheduled()
    assert retry.retries == 6  # one of seven used
    assert retry.retry_delay == 30  # the next wait after this one, three times longer


def test_the_retry_succeeds_once_the_handler_does(db, monkeypatch, deliver, failing_type):
    deliver(*signed_event(stripe_event(failing_type, {"id": "x_1"})))
    stored = StripeEvent.objects.get()
    monkeypatch.setitem(
        stripe_events.STRIPE_EVENT_HANDLERS,
        failing_type,
        "tests.payouts.test_stripe_events.working_handler",
    )

    stripe_event_process(stripe_event_id=stored.pk)

    stored.refresh_from_db()
    assert (stored.status, stored.attempts, stored.last_error) == ("processed", 2, "")


def test_processing_raises_so_that_the_job_retries(db, failing_type):
    event = StripeEvent.objects.create(
        event_id="evt_direct",
        type=failing_type,
        payload={},
        stripe_created_at=timezone.now(),
    )

    with pytest.raises(StripeEventFailed):
        stripe_event_process(stripe_event_id=event.pk)

    event.refresh_from_db()
    assert event.status == StripeEventStatus.FAILED


def test_a_processed_event_is_not_processed_again(deliver, signed_test_event):
    deliver(*signed_test_event)
    stored = StripeEvent.objects.get()

    stripe_event_process(stripe_event_id=stored.pk)

    stored.refresh_from_db()
    assert stored.attempts == 1


def test_the_sweep_processes_events_whose_job_was_lost(db, signed_test_event):
    lost, _ = stripe_events.stripe_event_receive(
        payload=signed_test_event[0], signature=signed_test_event[1]
    )
    StripeEvent.objects.filter(pk=lost.pk).update(
        received_at=timezone.now() - stripe_events.SWEEP_GRACE - timedelta(seconds=1)
    )

    assert stripe_events_sweep() == 1

    lost.refresh_from_db()
    assert lost.status == StripeEventStatus.IGNORED


def test_the_sweep_leaves_events_that_just_arrived(db, signed_test_event):
    stripe_events.stripe_event_receive(payload=signed_test_event[0], signature=signed_test_event[1])

    assert stripe_events_sweep() == 0
    assert StripeEvent.objects.get().status == StripeEventStatus.RECEIVED


# --- Concurrency (PostgreSQL: real row locks and unique indexes decide) ----------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real row locks need PostgreSQL")
def test_concurrent_deliveries_of_one_payment_credit_it_once(
    sandbox, stripe_webhooks, brand, brand_admin
):
    top_up, webhook = paid_top_up(
        stripe_webhooks, brand=brand, actor=brand_admin, amount_minor=25_000
    )
    # Stripe may also announce the same paid session as async_payment_succeeded.
    session = webhook.event["data"]["object"]
    twin = signed_event(stripe_event("checkout.session.async_payment_succeeded", session))
    deliveries = [(webhook.body, webhook.signature), twin] * 4
    answers: list[int] = []
    errors: list[str] = []
    start = threading.Barrier(len(deliveries))

    def deliver_concurrently(body: bytes, signature: str) -> None:
        # Its own connection, committing for real: the job runs on commit, in this thread.
        try:
            start.wait()
            answers.append(post_to_endpoint(Client(), body, signature).status_code)
        except Exception as exc:  # noqa: BLE001 - reported to the test thread, which fails on it
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver_concurrently, args=pair) for pair in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert answers == [200] * len(deliveries)
    assert StripeEvent.objects.count() == 2
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert Posting.objects.count() == 1
    assert available_balance(brand) == 25_000
    top_up.refresh_from_db()
    assert top_up.status == TopUpStatus.PAID
    assert_ledger_balanced()
