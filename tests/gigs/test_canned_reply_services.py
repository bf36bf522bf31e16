"""Canned replies and resolution codes: validated, audited, one brand's own."""

import pytest

from gigs.models import CannedReply, ResolutionCode
from gigs.services import (
    canned_reply_create,
    canned_reply_delete,
    canned_reply_update,
    resolution_code_create,
    resolution_code_set_active,
)
from marketplace.errors import Conflict, ValidationFailed
from marketplace.models import AuditEvent

pytestmark = pytest.mark.django_db


def _create(brand, actor, **fields):
    values = {"title": "Refund timeline", "body": "Refunds take 5 days.", "language": ""}
    values.update(fields)
    return canned_reply_create(brand=brand, actor=actor, **values)


def test_create_stores_a_trimmed_canned_reply_and_audits_it(brand, brand_admin):
    reply = _create(brand, brand_admin, title="  Refund timeline ", language="es")
    assert (reply.brand, reply.title, reply.language) == (brand, "Refund timeline", "es")
    event = AuditEvent.objects.get(action="canned_reply.created")
    assert (event.actor, event.brand, event.target_id) == (brand_admin, brand, str(reply.pk))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"body": ""}, "body"),
        ({"body": "x" * 5001}, "body"),
        ({"language": "xx"}, "language"),
    ],
)
def test_create_refuses_bad_input_and_stores_nothing(brand, brand_admin, fields, field):
    with pytest.raises(ValidationFailed) as refusal:
        _create(brand, brand_admin, **fields)
    assert field in refusal.value.fields
    assert not CannedReply.objects.exists()
    assert not AuditEvent.objects.filter(action="canned_reply.created").exists()


def test_update_changes_the_text_and_audits_what_changed(brand, brand_admin):
    reply = _create(brand, brand_admin)
    canned_reply_update(
        canned_reply=reply,
        actor=brand_admin,
        title="Refund timeline",
        body="Refunds take 3 days.",
        language="en",
    )
    reply.refresh_from_db()
    assert (reply.body, reply.language) == ("Refunds take 3 days.", "en")
    event = AuditEvent.objects.get(action="canned_reply.updated")
    assert set(event.changes) == {"body", "language"}


def test_update_without_changes_writes_no_audit_event(brand, brand_admin):
    reply = _create(brand, brand_admin)
    canned_reply_update(
        canned_reply=reply, actor=brand_admin, title=reply.title, body=reply.body, language=""
    )
    assert not AuditEvent.objects.filter(action="canned_reply.updated").exists()


def test_update_refuses_bad_input_and_changes_nothing(brand, brand_admin):
    reply = _create(brand, brand_admin)
    with pytest.raises(ValidationFailed):
        canned_reply_update(
            canned_reply=reply, actor=brand_admin, title="", body="New", language=""
        )
    reply.refresh_from_db()
    assert (reply.title, reply.body) == ("Refund timeline", "Refunds take 5 days.")


def test_delete_removes_the_reply_and_audits_it(brand, brand_admin):
    reply = _create(brand, brand_admin)
    canned_reply_delete(canned_reply=reply, actor=brand_admin)
    assert not CannedReply.objects.filter(pk=reply.pk).exists()
    assert AuditEvent.objects.filter(
        action="canned_reply.deleted", target_id=str(reply.pk)
    ).exists()


def test_resolution_code_create_adds_an_active_code(brand, brand_admin):
    code = resolution_code_create(
        brand=brand, actor=brand_admin, code=" Store_Credit ", label="Store credit"
    )
    assert (code.brand, code.code, code.label, code.is_active) == (
        brand,
        "store_credit",
        "Store credit",
        True,
    )
    assert AuditEvent.objects.filter(action="resolution_code.created", brand=brand).exists()


@pytest.mark.parametrize(
    ("code", "label", "field"),
    [
        ("", "Label", "code"),
        ("has space", "Label", "code"),
        ("ünïcode", "Label", "code"),
        ("x" * 41, "Label", "code"),
        ("fine", "  ", "label"),
    ],
)
def test_resolution_code_create_refuses_bad_input(brand, brand_admin, code, label, field):
    with pytest.raises(ValidationFailed) as refusal:
        resolution_code_create(brand=brand, actor=brand_admin, code=code, label=label)
    assert field in refusal.value.fields
    assert not ResolutionCode.objects.filter(brand=brand).exists()


def test_a_duplicate_code_is_a_conflict(brand, brand_admin):
    resolution_code_create(brand=brand, actor=brand_admin, code="refund", label="Refund")
    with pytest.raises(Conflict) as refusal:
        resolution_code_create(brand=brand, actor=brand_admin, code="refund", label="Again")
    assert "code" in refusal.value.fields
    assert ResolutionCode.objects.get(brand=brand, code="refund").label == "Refund"


def test_another_brand_may_use_the_same_code(brand, other_brand, brand_admin, other_admin):
    resolution_code_create(brand=brand, actor=brand_admin, code="refund", label="Refund")
    theirs = resolution_code_create(
        brand=other_brand, actor=other_admin, code="refund", label="Refund"
    )
    assert theirs.brand == other_brand


def test_deactivate_and_reactivate_a_code_are_audited(brand, brand_admin):
    code = resolution_code_create(brand=brand, actor=brand_admin, code="refund", label="Refund")
    resolution_code_set_active(resolution_code=code, actor=brand_admin, is_active=False)
    assert ResolutionCode.objects.get(pk=code.pk).is_active is False
    resolution_code_set_active(resolution_code=code, actor=brand_admin, is_active=True)
    assert ResolutionCode.objects.get(pk=code.pk).is_active is True
    actions = list(
        AuditEvent.objects.filter(action__startswith="resolution_code.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [
        "resolution_code.created",
        "resolution_code.deactivated",
        "resolution_code.activated",
    ]


def test_setting_the_same_state_again_writes_nothing(brand, brand_admin):
    code = resolution_code_create(brand=brand, actor=brand_admin, code="refund", label="Refund")
    resolution_code_set_active(resolution_code=code, actor=brand_admin, is_active=True)
    assert not AuditEvent.objects.filter(action="resolution_code.activated").exists()
