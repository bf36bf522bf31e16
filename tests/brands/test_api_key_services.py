from django.utils import timezone

from brands.services import api_key_authenticate, api_key_create, api_key_revoke
from marketplace.models import AuditEvent


def test_created_key_authenticates_and_is_stored_hashed(brand, brand_admin):
    issued = api_key_create(brand=brand, name="Zendesk", created_by=brand_admin)
    assert issued.secret not in issued.api_key.key_hash
    assert api_key_authenticate(raw_key=issued.secret) == issued.api_key


def test_wrong_secret_with_valid_prefix_is_refused(brand, brand_admin):
    issued = api_key_create(brand=brand, name="Zendesk", created_by=brand_admin)
    forged = issued.secret[:-4] + "AAAA"
    assert api_key_authenticate(raw_key=forged) is None


def test_revoked_key_no_longer_authenticates(brand, brand_admin):
    issued = api_key_create(brand=brand, name="Zendesk", created_by=brand_admin)
    api_key_revoke(api_key=issued.api_key, actor=brand_admin)
    assert api_key_authenticate(raw_key=issued.secret) is None


def test_key_creation_and_revocation_are_audited(brand, brand_admin):
    issued = api_key_create(brand=brand, name="Zendesk", created_by=brand_admin)
    api_key_revoke(api_key=issued.api_key, actor=brand_admin)
    actions = list(AuditEvent.objects.filter(brand=brand).values_list("action", flat=True))
    assert sorted(actions) == ["api_key.created", "api_key.revoked"]


def test_last_used_is_recorded(brand, brand_admin):
    issued = api_key_create(brand=brand, name="Zendesk", created_by=brand_admin)
    before = timezone.now()
    api_key_authenticate(raw_key=issued.secret)
    issued.api_key.refresh_from_db()
    assert issued.api_key.last_used_at >= before
