"""The per-process cache of authenticated API keys, and revocation through it."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from brands import services
from brands.models import ApiKey
from brands.services import api_key_authenticate, api_key_create, api_key_revoke


@pytest.fixture
def issued(brand, brand_admin):
    return api_key_create(brand=brand, name="Zendesk", created_by=brand_admin)


def test_a_key_that_authenticated_is_not_read_again_soon(issued, django_assert_num_queries):
    api_key_authenticate(raw_key=issued.secret)

    with django_assert_num_queries(0):
        again = api_key_authenticate(raw_key=issued.secret)

    assert again == issued.api_key


def test_revoking_evicts_the_key_in_this_process(issued, brand_admin):
    assert api_key_authenticate(raw_key=issued.secret) is not None

    api_key_revoke(api_key=issued.api_key, actor=brand_admin)

    assert api_key_authenticate(raw_key=issued.secret) is None


def test_revoked_key_is_refused_by_the_api_right_after_it_was_used(issued, brand_admin):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    assert client.get("/api/v1/tasks").status_code == 200

    api_key_revoke(api_key=issued.api_key, actor=brand_admin)

    assert client.get("/api/v1/tasks").status_code == 401


def test_revoking_one_key_keeps_the_brands_other_keys(issued, brand, brand_admin):
    other = api_key_create(brand=brand, name="Freshdesk", created_by=brand_admin)
    api_key_authenticate(raw_key=issued.secret)
    api_key_authenticate(raw_key=other.secret)

    api_key_revoke(api_key=issued.api_key, actor=brand_admin)

    assert api_key_authenticate(raw_key=other.secret) == other.api_key


def test_revocation_elsewhere_is_seen_once_the_entry_expires(issued, monkeypatch):
    """Another process revoking (here: a bare UPDATE) takes at most API_KEY_CACHE_SECONDS."""
    clock = [1000.0]
    monkeypatch.setattr(services.time, "monotonic", lambda: clock[0])
    api_key_authenticate(raw_key=issued.secret)
    ApiKey.objects.filter(pk=issued.api_key.pk).update(revoked_at=timezone.now())

    clock[0] += services.API_KEY_CACHE_SECONDS - 0.1
    still_cached = api_key_authenticate(raw_key=issued.secret)
    clock[0] += 0.2
    expired = api_key_authenticate(raw_key=issued.secret)

    assert still_cached == issued.api_key
    assert expired is None


def test_a_wrong_secret_is_never_served_from_the_cache(issued, django_assert_num_queries):
    api_key_authenticate(raw_key=issued.secret)
    forged = issued.secret[:-4] + "AAAA"

    with django_assert_num_queries(1):
        assert api_key_authenticate(raw_key=forged) is None
