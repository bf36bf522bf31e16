"""gigs.services for gigs: create, update and status changes validate and audit."""

import pytest

from gigs.models import Gig, GigStatus, PayModel
from gigs.services import gig_create, gig_set_status, gig_update
from marketplace.errors import Conflict, ValidationFailed
from marketplace.models import AuditEvent
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import SkillFactory


def _fields(**overrides):
    fields = {
        "title": "Order support (FR)",
        "language": "fr",
        "pay_model": PayModel.PER_MINUTE,
        "rate_minor": 5,
        "currency": "eur",
    }
    fields.update(overrides)
    return fields


def test_gig_create_stores_gig_with_skills_and_upper_case_currency(brand, brand_admin):
    skill = SkillFactory(slug="billing")
    gig = gig_create(brand=brand, created_by=brand_admin, skills=[skill], **_fields())
    assert (gig.brand, gig.currency, gig.created_by) == (brand, "EUR", brand_admin)
    assert list(gig.required_skills.all()) == [skill]


def test_gig_create_is_audited(brand, brand_admin):
    gig = gig_create(brand=brand, created_by=brand_admin, **_fields())
    event = AuditEvent.objects.get(action="gig.created")
    assert (event.target_id, event.brand, event.actor) == (str(gig.pk), brand, brand_admin)


def test_gig_create_refuses_zero_rate(brand, brand_admin):
    with pytest.raises(ValidationFailed) as caught:
        gig_create(brand=brand, created_by=brand_admin, **_fields(rate_minor=0))
    assert "rate_minor" in caught.value.fields
    assert not Gig.objects.exists()


def test_gig_create_refuses_unknown_fields(brand, brand_admin):
    with pytest.raises(ValidationFailed) as caught:
        gig_create(brand=brand, created_by=brand_admin, status="closed", **_fields())
    assert caught.value.fields == {"status": ["Unknown field."]}


def test_gig_update_audits_only_changed_fields(gig, brand_admin):
    gig_update(gig=gig, actor=brand_admin, rate_minor=300, title=gig.title)
    event = AuditEvent.objects.get(action="gig.updated")
    assert event.changes == {"rate_minor": [250, 300]}


def test_gig_update_without_changes_writes_no_audit(gig, brand_admin):
    gig_update(gig=gig, actor=brand_admin, title=gig.title)
    assert not AuditEvent.objects.filter(action="gig.updated").exists()


def test_gig_update_with_invalid_value_changes_nothing(gig, brand_admin):
    with pytest.raises(ValidationFailed):
        gig_update(gig=gig, actor=brand_admin, title="", rate_minor=999)
    gig.refresh_from_db()
    assert (gig.title, gig.rate_minor) == ("Order support (EN)", 250)


def test_gig_update_records_skill_changes(gig, brand_admin):
    skill = SkillFactory(slug="returns")
    gig_update(gig=gig, actor=brand_admin, skills=[skill])
    event = AuditEvent.objects.get(action="gig.updated")
    assert event.changes == {"required_skills": [[], ["returns"]]}


def test_pause_then_resume(gig, brand_admin):
    gig_set_status(gig=gig, status=GigStatus.PAUSED, actor=brand_admin)
    gig = gig_set_status(gig=gig, status=GigStatus.ACTIVE, actor=brand_admin)
    assert gig.status == GigStatus.ACTIVE
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["gig.paused", "gig.resumed"]


def test_closed_gig_stays_closed(brand, brand_admin):
    gig = GigFactory(brand=brand, status=GigStatus.CLOSED)
    with pytest.raises(Conflict):
        gig_set_status(gig=gig, status=GigStatus.ACTIVE, actor=brand_admin)
    gig.refresh_from_db()
    assert gig.status == GigStatus.CLOSED
    assert not AuditEvent.objects.exists()


def test_setting_the_same_status_is_a_no_op(gig, brand_admin):
    gig_set_status(gig=gig, status=GigStatus.ACTIVE, actor=brand_admin)
    assert not AuditEvent.objects.exists()
