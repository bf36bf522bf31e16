"""Brand console webhook pages: admins only, forms, the delivery log, redelivery, isolation."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from brands import webhooks
from brands.models import BrandRole, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from brands.webhooks import WEBHOOK_ENDPOINTS_MAX
from marketplace.models import AuditEvent
from tests.brands.factories import (
    MembershipFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
)
from tests.brands.webhook_receiver import WebhookReceiver


@pytest.fixture(autouse=True)
def _fresh_subscription_cache():
    webhooks._subscriptions.clear()
    yield
    webhooks._subscriptions.clear()


@pytest.fixture
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def endpoint(brand, receiver):
    return WebhookEndpointFactory(brand=brand, url=receiver.url, description="Zendesk sync")


@pytest.fixture
def other_endpoint(other_brand):
    return WebhookEndpointFactory(brand=other_brand, url="https://borealis.example.com/hooks")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name, *args):
    return reverse(f"frontend:{name}", args=args)


# --- Who may see them ------------------------------------------------------------------


def test_admins_see_the_webhooks_link(admin_client, brand):
    response = admin_client.get(url("brand_home", brand.slug))
    assert url("webhook_endpoint_list", brand.slug).encode() in response.content


def test_viewers_do_not_see_the_webhooks_link(brand, brand_viewer):
    response = client_for(brand_viewer).get(url("brand_home", brand.slug))
    assert response.status_code == 200
    assert url("webhook_endpoint_list", brand.slug).encode() not in response.content


@pytest.mark.parametrize("role", [BrandRole.VIEWER, BrandRole.QA_REVIEWER])
def test_non_admin_members_are_refused(brand, endpoint, role):
    member = MembershipFactory(brand=brand, role=role).user
    client = client_for(member)

    assert client.get(url("webhook_endpoint_list", brand.slug)).status_code == 403
    assert client.get(url("webhook_endpoint_detail", brand.slug, endpoint.pk)).status_code == 403
    response = client.post(url("webhook_endpoint_rotate_secret", brand.slug, endpoint.pk))
    assert response.status_code == 403
    assert endpoint.secret.encode() not in response.content


def test_anonymous_users_are_sent_to_log_in(client, brand):
    response = client.get(url("webhook_endpoint_list", brand.slug))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_another_brands_admin_gets_404(brand, other_admin, endpoint):
    client = client_for(other_admin)
    assert client.get(url("webhook_endpoint_list", brand.slug)).status_code == 404
    assert client.get(url("webhook_endpoint_detail", brand.slug, endpoint.pk)).status_code == 404


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("webhook_endpoint_detail", "get"),
        ("webhook_endpoint_edit", "get"),
        ("webhook_endpoint_edit", "post"),
        ("webhook_endpoint_rotate_secret", "post"),
        ("webhook_endpoint_set_active", "post"),
        ("webhook_endpoint_delete", "get"),
        ("webhook_endpoint_delete", "post"),
        ("webhook_endpoint_ping", "post"),
    ],
)
def test_another_brands_endpoint_id_is_not_found(admin_client, brand, other_endpoint, name, method):
    response = getattr(admin_client, method)(url(name, brand.slug, other_endpoint.pk))

    assert response.status_code == 404
    other_endpoint.refresh_from_db()
    assert WebhookEndpoint.objects.filter(pk=other_endpoint.pk, is_active=True).exists()
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize(
    ("name", "method"),
    [("webhook_delivery_detail", "get"), ("webhook_delivery_redeliver", "post")],
)
def test_another_brands_delivery_id_is_not_found(admin_client, brand, other_endpoint, name, method):
    theirs = WebhookDeliveryFactory(endpoint=other_endpoint)

    response = getattr(admin_client, method)(url(name, brand.slug, theirs.pk))

    assert response.status_code == 404
    assert WebhookDelivery.objects.count() == 1


def test_another_brands_deliveries_are_not_in_the_log(
    admin_client, brand, endpoint, other_endpoint
):
    WebhookDeliveryFactory(endpoint=endpoint, event_id="evt_ours")
    WebhookDeliveryFactory(endpoint=other_endpoint, event_id="evt_theirs")

    response = admin_client.get(url("webhook_delivery_list", brand.slug))

    assert b"evt_ours" in response.content
    assert b"evt_theirs" not in response.content


def test_filtering_the_log_by_another_brands_endpoint_shows_nothing(
    admin_client, brand, endpoint, other_endpoint
):
    WebhookDeliveryFactory(endpoint=endpoint, event_id="evt_ours")
    WebhookDeliveryFactory(endpoint=other_endpoint, event_id="evt_theirs")

    response = admin_client.get(
        url("webhook_delivery_list", brand.slug), {"endpoint": other_endpoint.pk}
    )

    assert b"No such endpoint." in response.content
    assert b"evt_ours" not in response.content
    assert b"evt_theirs" not in response.content


# --- Endpoints ------------------------------------------------------------------------------


def test_the_list_has_an_empty_state(admin_client, brand):
    response = admin_client.get(url("webhook_endpoint_list", brand.slug))
    assert response.status_code == 200
    assert b"No endpoints yet" in response.content
    assert b"task.message.created" in response.content  # the event choices


def test_adding_an_endpoint_shows_its_secret(admin_client, brand, brand_admin):
    response = admin_client.post(
        url("webhook_endpoint_list", brand.slug),
        {
            "url": "https://helpdesk.example.com/gigdesk",
            "description": "Zendesk sync",
            "events": ["task.claimed", "task.resolved"],
        },
    )
    endpoint = WebhookEndpoint.objects.get(brand=brand)
    assert response.status_code == 302
    assert response.url == url("webhook_endpoint_detail", brand.slug, endpoint.pk) + "#secret"
    assert endpoint.events == ["task.claimed", "task.resolved"]
    assert endpoint.created_by == brand_admin
    assert AuditEvent.objects.filter(action="webhook.endpoint_created", brand=brand).exists()

    page = admin_client.get(response.url)
    assert endpoint.secret.encode() in page.content
    assert "no-cache" in page["Cache-Control"] or "no-store" in page["Cache-Control"]


def test_a_plain_http_url_is_refused_with_a_clear_error(admin_client, brand):
    response = admin_client.post(
        url("webhook_endpoint_list", brand.slug),
        {"url": "http://helpdesk.example.com/gigdesk", "events": ["task.claimed"]},
    )
    assert response.status_code == 400
    assert b"Use an https:// URL" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_needs_an_event(admin_client, brand):
    response = admin_client.post(
        url("webhook_endpoint_list", brand.slug), {"url": "https://helpdesk.example.com/"}
    )
    assert response.status_code == 400
    assert b"Pick at least one event" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_at_the_cap_the_form_is_replaced_by_the_reason(admin_client, brand):
    WebhookEndpointFactory.create_batch(WEBHOOK_ENDPOINTS_MAX, brand=brand)

    page = admin_client.get(url("webhook_endpoint_list", brand.slug))
    assert b"the most allowed" in page.content
    assert b"Add endpoint</button>" not in page.content

    response = admin_client.post(
        url("webhook_endpoint_list", brand.slug),
        {"url": "https://one-more.example.com/", "events": ["task.claimed"]},
    )
    assert response.status_code == 400
    assert WebhookEndpoint.objects.filter(brand=brand).count() == WEBHOOK_ENDPOINTS_MAX


def test_the_endpoint_page_shows_events_status_and_an_empty_log(admin_client, brand, endpoint):
    response = admin_client.get(url("webhook_endpoint_detail", brand.slug, endpoint.pk))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Healthy" in content
    assert "task.escalated" in content
    assert "Nothing sent to this endpoint yet" in content
    assert "Send test event" in content


def test_a_failing_endpoint_says_so(admin_client, brand, endpoint):
    from django.utils import timezone

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now(), consecutive_failures=8
    )
    response = admin_client.get(url("webhook_endpoint_detail", brand.slug, endpoint.pk))
    assert b"Failing" in response.content
    assert b"have been failing since" in response.content


def test_editing_an_endpoint(admin_client, brand, endpoint):
    page = admin_client.get(url("webhook_endpoint_edit", brand.slug, endpoint.pk))
    assert endpoint.url.encode() in page.content

    response = admin_client.post(
        url("webhook_endpoint_edit", brand.slug, endpoint.pk),
        {"url": "https://new.example.com/hooks", "description": "", "events": ["task.released"]},
    )

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.url == "https://new.example.com/hooks"
    assert endpoint.events == ["task.released"]


def test_an_invalid_edit_changes_nothing(admin_client, brand, endpoint):
    response = admin_client.post(
        url("webhook_endpoint_edit", brand.slug, endpoint.pk),
        {"url": "ftp://new.example.com/", "events": ["task.released"]},
    )
    assert response.status_code == 400
    endpoint.refresh_from_db()
    assert endpoint.url.startswith("http://127.0.0.1")


def test_rotating_the_secret(admin_client, brand, endpoint):
    old = endpoint.secret
    response = admin_client.post(
        url("webhook_endpoint_rotate_secret", brand.slug, endpoint.pk),
        {"previous_valid_for_hours": "24"},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert endpoint.previous_secret == old
    page = admin_client.get(url("webhook_endpoint_detail", brand.slug, endpoint.pk))
    assert endpoint.secret.encode() in page.content
    assert b"The previous secret also signs" in page.content


def test_rotating_the_secret_at_once(admin_client, brand, endpoint):
    admin_client.post(
        url("webhook_endpoint_rotate_secret", brand.slug, endpoint.pk),
        {"previous_valid_for_hours": "0"},
    )
    endpoint.refresh_from_db()
    assert endpoint.previous_secret == ""


def test_disabling_and_enabling(admin_client, brand, endpoint):
    admin_client.post(url("webhook_endpoint_set_active", brand.slug, endpoint.pk), {"active": "0"})
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    page = admin_client.get(url("webhook_endpoint_detail", brand.slug, endpoint.pk))
    assert b"This endpoint is disabled" in page.content

    admin_client.post(url("webhook_endpoint_set_active", brand.slug, endpoint.pk), {"active": "1"})
    endpoint.refresh_from_db()
    assert endpoint.is_active


def test_deleting_asks_first(admin_client, brand, endpoint):
    WebhookDeliveryFactory(endpoint=endpoint)
    page = admin_client.get(url("webhook_endpoint_delete", brand.slug, endpoint.pk))
    assert b"Delete this endpoint?" in page.content
    assert b"1 delivery" in page.content
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()

    response = admin_client.post(url("webhook_endpoint_delete", brand.slug, endpoint.pk))

    assert response.status_code == 302
    assert response.url == url("webhook_endpoint_list", brand.slug)
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


# --- Test events, the log and redelivery ------------------------------------------------------


def test_sending_a_test_event(
    admin_client, brand, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url("webhook_endpoint_ping", brand.slug, endpoint.pk))

    assert response.status_code == 302
    [received] = receiver.requests
    assert json.loads(received.body)["type"] == "ping"
    page = admin_client.get(url("webhook_endpoint_detail", brand.slug, endpoint.pk))
    assert b"<code>ping</code>" in page.content
    assert b"HTTP 200" in page.content


def test_a_test_event_to_a_disabled_endpoint_is_refused(admin_client, brand, endpoint):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)

    response = admin_client.post(url("webhook_endpoint_ping", brand.slug, endpoint.pk), follow=True)

    assert b"Enable this endpoint before sending it a test event." in response.content
    assert not WebhookDelivery.objects.exists()


def test_the_log_shows_each_deliverys_outcome(admin_client, brand, endpoint):
    WebhookDeliveryFactory(
        endpoint=endpoint,
        status=WebhookDeliveryStatus.RETRYING,
        attempts=3,
        last_status_code=502,
        last_error="Answered HTTP 502.",
        last_response_excerpt="Bad gateway from nginx",
    )
    response = admin_client.get(url("webhook_endpoint_detail", brand.slug, endpoint.pk))
    content = response.content.decode()
    assert "3 / 8" in content
    assert "HTTP 502" in content
    assert "Answered HTTP 502." in content
    assert "Bad gateway from nginx" in content
    assert "Redeliver" in content


def test_the_log_filters_by_status_and_event(admin_client, brand, endpoint):
    WebhookDeliveryFactory(
        endpoint=endpoint, event_id="evt_failed", status=WebhookDeliveryStatus.FAILED
    )
    WebhookDeliveryFactory(
        endpoint=endpoint,
        event_id="evt_resolved",
        status=WebhookDeliveryStatus.SUCCEEDED,
        event_type="task.resolved",
    )
    page_url = url("webhook_endpoint_detail", brand.slug, endpoint.pk)

    by_status = admin_client.get(page_url, {"status": "failed"}).content
    by_event = admin_client.get(page_url, {"event_type": "task.resolved"}).content

    assert b"evt_failed" in by_status and b"evt_resolved" not in by_status
    assert b"evt_resolved" in by_event and b"evt_failed" not in by_event


def test_an_htmx_request_gets_only_the_log(admin_client, brand, endpoint):
    WebhookDeliveryFactory(endpoint=endpoint, event_id="evt_one")
    response = admin_client.get(
        url("webhook_endpoint_detail", brand.slug, endpoint.pk), HTTP_HX_REQUEST="true"
    )
    assert b"evt_one" in response.content
    assert b"<html" not in response.content
    assert b'id="delivery-log"' in response.content


def test_the_log_refreshes_itself_while_a_delivery_is_under_way(admin_client, brand, endpoint):
    log_url = url("webhook_endpoint_detail", brand.slug, endpoint.pk)
    WebhookDeliveryFactory(endpoint=endpoint, status=WebhookDeliveryStatus.SUCCEEDED)
    assert b'hx-trigger="every 3s"' not in admin_client.get(log_url).content

    WebhookDeliveryFactory(endpoint=endpoint, status=WebhookDeliveryStatus.RETRYING)
    assert b'hx-trigger="every 3s"' in admin_client.get(log_url).content


def test_the_log_is_paginated_newest_first(admin_client, brand, endpoint):
    deliveries = WebhookDeliveryFactory.create_batch(30, endpoint=endpoint)
    newest, oldest = deliveries[-1], deliveries[0]
    log_url = url("webhook_delivery_list", brand.slug)

    first = admin_client.get(log_url).content.decode()
    assert newest.event_id in first
    assert oldest.event_id not in first
    assert "Older →" in first

    older = admin_client.get(log_url, {"before": deliveries[5].pk}).content.decode()
    assert oldest.event_id in older
    assert newest.event_id not in older


def test_the_brand_log_has_an_empty_state(admin_client, brand):
    response = admin_client.get(url("webhook_delivery_list", brand.slug))
    assert response.status_code == 200
    assert b"Nothing sent yet" in response.content


def test_a_delivery_page_shows_the_body_and_the_outcome(admin_client, brand, endpoint):
    delivery = WebhookDeliveryFactory(
        endpoint=endpoint, status=WebhookDeliveryStatus.FAILED, last_error="No answer within 5 s."
    )
    response = admin_client.get(url("webhook_delivery_detail", brand.slug, delivery.pk))
    content = response.content.decode()
    assert delivery.event_id in content
    assert "No answer within 5 s." in content
    assert "&quot;type&quot;: &quot;task.claimed&quot;" in content


def test_redelivering_from_the_log_keeps_the_event_id(
    admin_client, brand, brand_admin, endpoint, receiver, django_capture_on_commit_callbacks
):
    original = WebhookDeliveryFactory(endpoint=endpoint, status=WebhookDeliveryStatus.FAILED)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url("webhook_delivery_redeliver", brand.slug, original.pk))

    redelivery = WebhookDelivery.objects.exclude(pk=original.pk).get()
    assert response.status_code == 302
    assert response.url == url("webhook_delivery_detail", brand.slug, redelivery.pk)
    assert redelivery.event_id == original.event_id
    assert redelivery.status == WebhookDeliveryStatus.SUCCEEDED
    assert receiver.requests[0].headers["Gigdesk-Event-Id"] == original.event_id
    assert receiver.requests[0].body.decode() == original.body
    event = AuditEvent.objects.get(action="webhook.redelivered")
    assert event.actor == brand_admin


def test_redelivering_to_a_disabled_endpoint_explains_why_not(admin_client, brand, endpoint):
    original = WebhookDeliveryFactory(endpoint=endpoint, status=WebhookDeliveryStatus.FAILED)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)

    response = admin_client.post(
        url("webhook_delivery_redeliver", brand.slug, original.pk), follow=True
    )

    assert b"Enable this endpoint before redelivering" in response.content
    assert WebhookDelivery.objects.count() == 1
