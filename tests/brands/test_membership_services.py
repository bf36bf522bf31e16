"""Membership services: role changes, removal, the last-admin rule, invitation checks."""

import pytest

from brands.models import BrandInvitation, BrandMembership, BrandRole
from brands.services import (
    brand_create,
    invitation_create,
    membership_remove,
    membership_set_role,
)
from marketplace.errors import Conflict, ValidationFailed
from marketplace.models import AuditEvent
from tests.brands.factories import MembershipFactory
from tests.marketplace.factories import UserFactory


def membership_of(user, brand) -> BrandMembership:
    return BrandMembership.objects.get(user=user, brand=brand)


def test_brand_creator_becomes_its_only_admin(db):
    user = UserFactory()
    brand = brand_create(user=user, name="Northwind", time_zone="UTC")
    assert list(brand.memberships.values_list("user", "role")) == [(user.pk, BrandRole.ADMIN)]


def test_brand_creation_is_audited(db):
    user = UserFactory()
    brand = brand_create(user=user, name="Northwind")
    assert AuditEvent.objects.filter(action="brand.created", brand=brand, actor=user).exists()


def test_brand_needs_a_name(db):
    with pytest.raises(ValidationFailed):
        brand_create(user=UserFactory(), name="  ")


def test_set_role_changes_the_role(brand, brand_admin, brand_viewer):
    membership = membership_set_role(
        membership=membership_of(brand_viewer, brand), role=BrandRole.QA_REVIEWER, actor=brand_admin
    )
    membership.refresh_from_db()
    assert membership.role == BrandRole.QA_REVIEWER


def test_role_change_is_audited_with_old_and_new_role(brand, brand_admin, brand_viewer):
    membership_set_role(
        membership=membership_of(brand_viewer, brand), role=BrandRole.ADMIN, actor=brand_admin
    )
    event = AuditEvent.objects.get(action="member.role_changed")
    assert event.changes == {"role": ["viewer", "admin"]}
    assert event.brand == brand


def test_setting_the_same_role_records_nothing(brand, brand_admin, brand_viewer):
    membership_set_role(
        membership=membership_of(brand_viewer, brand), role=BrandRole.VIEWER, actor=brand_admin
    )
    assert not AuditEvent.objects.filter(action="member.role_changed").exists()


def test_unknown_role_is_refused(brand, brand_admin, brand_viewer):
    with pytest.raises(ValidationFailed):
        membership_set_role(
            membership=membership_of(brand_viewer, brand), role="owner", actor=brand_admin
        )
    assert membership_of(brand_viewer, brand).role == BrandRole.VIEWER


def test_last_admin_cannot_be_demoted(brand, brand_admin):
    with pytest.raises(ValidationFailed) as exc:
        membership_set_role(
            membership=membership_of(brand_admin, brand), role=BrandRole.VIEWER, actor=brand_admin
        )
    assert exc.value.code == "last_admin"
    assert membership_of(brand_admin, brand).role == BrandRole.ADMIN


def test_an_admin_can_step_down_when_another_admin_remains(brand, brand_admin):
    MembershipFactory(brand=brand, role=BrandRole.ADMIN)
    membership_set_role(
        membership=membership_of(brand_admin, brand), role=BrandRole.VIEWER, actor=brand_admin
    )
    assert membership_of(brand_admin, brand).role == BrandRole.VIEWER


def test_admins_of_other_brands_do_not_count_for_the_last_admin_rule(
    brand, brand_admin, other_admin
):
    with pytest.raises(ValidationFailed):
        membership_set_role(
            membership=membership_of(brand_admin, brand), role=BrandRole.VIEWER, actor=brand_admin
        )


def test_last_admin_cannot_be_removed(brand, brand_admin):
    with pytest.raises(ValidationFailed):
        membership_remove(membership=membership_of(brand_admin, brand), actor=brand_admin)
    assert BrandMembership.objects.filter(brand=brand, user=brand_admin).exists()


def test_removing_a_member_deletes_the_membership_and_audits_it(brand, brand_admin, brand_viewer):
    membership_remove(membership=membership_of(brand_viewer, brand), actor=brand_admin)
    assert not BrandMembership.objects.filter(brand=brand, user=brand_viewer).exists()
    event = AuditEvent.objects.get(action="member.removed")
    assert event.changes == {"email": brand_viewer.email, "role": BrandRole.VIEWER}


def test_inviting_a_current_member_is_a_conflict(brand, brand_admin, brand_viewer):
    with pytest.raises(Conflict):
        invitation_create(
            brand=brand, invited_by=brand_admin, email=brand_viewer.email.upper(), role="viewer"
        )
    assert not BrandInvitation.objects.exists()


def test_member_of_another_brand_may_be_invited(brand, brand_admin, other_admin):
    issued = invitation_create(
        brand=brand, invited_by=brand_admin, email=other_admin.email, role="viewer"
    )
    assert issued.invitation.status == "pending"


def test_invitation_stores_only_a_hash_of_the_token(brand, brand_admin):
    issued = invitation_create(brand=brand, invited_by=brand_admin, email="a@b.test", role="viewer")
    assert issued.token not in issued.invitation.token_hash
    assert issued.token in issued.accept_url


def test_invitation_with_unknown_role_is_refused(brand, brand_admin):
    with pytest.raises(ValidationFailed):
        invitation_create(brand=brand, invited_by=brand_admin, email="a@b.test", role="owner")
    assert not BrandInvitation.objects.exists()
