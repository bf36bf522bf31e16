"""The ledger admin shows everything and changes nothing."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client
from django.urls import reverse

from payouts.services import posting_create
from tests.marketplace.factories import StaffUserFactory


@pytest.fixture
def superuser_client(db) -> Client:
    user = StaffUserFactory(email="root@gigdesk.test", is_superuser=True)
    TOTP.activate(user, generate_totp_secret())  # the admin requires two-factor for staff
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def posting(brand_balance, clearing):
    return posting_create(
        idempotency_key="topup:cs_admin",
        kind="brand.topup",
        lines=[(brand_balance, 4200), (clearing, -4200)],
    )


@pytest.mark.parametrize("model", ["ledgeraccount", "posting", "entry"])
def test_lists_render_and_offer_no_add(superuser_client, posting, model):
    response = superuser_client.get(reverse(f"admin:payouts_{model}_changelist"))
    assert response.status_code == 200
    assert superuser_client.get(reverse(f"admin:payouts_{model}_add")).status_code == 403


def test_a_posting_shows_its_entries_read_only(superuser_client, posting):
    url = reverse("admin:payouts_posting_change", args=[posting.pk])
    response = superuser_client.get(url)
    assert response.status_code == 200
    content = response.content.decode()
    assert "topup:cs_admin" in content
    assert "4200" in content and "-4200" in content
    assert 'name="_save"' not in content


def test_posting_to_the_change_form_changes_nothing(superuser_client, posting):
    url = reverse("admin:payouts_posting_change", args=[posting.pk])
    response = superuser_client.post(url, {"memo": "rewritten", "kind": "x"})
    assert response.status_code == 403
    posting.refresh_from_db()
    assert posting.memo == ""


def test_a_posting_cannot_be_deleted_from_the_admin(superuser_client, posting):
    url = reverse("admin:payouts_posting_delete", args=[posting.pk])
    assert superuser_client.post(url, {"post": "yes"}).status_code == 403
