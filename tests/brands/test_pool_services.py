"""Agent pool services: applying, invitations, decisions, tiers; audit and brand isolation."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from brands.models import PoolMembership, PoolStatus
from brands.pool_services import (
    pool_apply,
    pool_decide,
    pool_invitation_accept,
    pool_invitation_decline,
    pool_invite,
    pool_set_tier,
)
from brands.selectors import agent_pools, pool_members
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.models import AuditEvent
from tests.marketplace.factories import AgentUserFactory, UserFactory


@pytest.fixture
def agent(db):
    return AgentUserFactory(email="ana@agents.test")


@pytest.fixture
def application(agent, brand):
    return pool_apply(agent=agent, brand=brand, note="Five years of e-commerce support.")


def audit_actions(membership) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_type="brands.PoolMembership", target_id=str(membership.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


# --- Applying -----------------------------------------------------------------------


def test_an_application_waits_for_the_brand(application, brand, agent):
    assert application.status == PoolStatus.APPLIED
    assert application.note == "Five years of e-commerce support."
    assert list(PoolMembership.objects.for_brand(brand).approved()) == []


def test_an_approved_applicant_is_listed_as_an_approved_member(application, brand, brand_admin):
    pool_decide(membership=application, actor=brand_admin, decision="approve")

    assert list(pool_members(brand=brand, status=PoolStatus.APPROVED)) == [application]
    assert list(PoolMembership.objects.for_brand(brand).approved()) == [application]


def test_applying_is_audited(application):
    assert audit_actions(application) == ["pool.applied"]


def test_a_brand_account_cannot_apply(brand):
    with pytest.raises(PermissionDenied) as caught:
        pool_apply(agent=UserFactory(), brand=brand, note="")
    assert caught.value.code == "not_an_agent"
    assert not PoolMembership.objects.exists()


def test_a_note_over_1000_characters_is_refused(agent, brand):
    with pytest.raises(ValidationFailed) as caught:
        pool_apply(agent=agent, brand=brand, note="x" * 1001)
    assert "note" in caught.value.fields
    assert not PoolMembership.objects.exists()


def test_applying_twice_is_refused(application, agent, brand):
    with pytest.raises(Conflict):
        pool_apply(agent=agent, brand=brand, note="Again")
    assert PoolMembership.objects.count() == 1


def test_a_rejection_keeps_the_reason_for_the_agent(application, brand_admin, agent):
    pool_decide(
        membership=application, actor=brand_admin, decision="reject", reason="We need German."
    )

    mine = agent_pools(agent=agent).get()
    assert mine.status == PoolStatus.REJECTED
    assert mine.reason == "We need German."


def test_reapplying_during_the_cooldown_is_refused_with_the_date(
    application, brand_admin, agent, brand
):
    rejected = pool_decide(membership=application, actor=brand_admin, decision="reject")

    with pytest.raises(ValidationFailed) as caught:
        pool_apply(agent=agent, brand=brand, note="Please reconsider")

    assert caught.value.code == "pool_cooldown"
    assert rejected.reapply_after.strftime("%B %Y") in caught.value.message
    assert f"{rejected.reapply_after.day} " in caught.value.message
    assert PoolMembership.objects.get().status == PoolStatus.REJECTED


def test_the_cooldown_is_seven_days(application, brand_admin):
    before = timezone.now()
    rejected = pool_decide(membership=application, actor=brand_admin, decision="reject")
    assert (
        before + timedelta(days=7) <= rejected.reapply_after <= timezone.now() + timedelta(days=7)
    )


def test_reapplying_after_the_cooldown_is_accepted(application, brand_admin, agent, brand):
    pool_decide(membership=application, actor=brand_admin, decision="reject", reason="Later.")
    PoolMembership.objects.filter(pk=application.pk).update(
        reapply_after=timezone.now() - timedelta(minutes=1)
    )

    again = pool_apply(agent=agent, brand=brand, note="I now speak German.")

    assert again.pk == application.pk
    assert again.status == PoolStatus.APPLIED
    assert again.reason == ""
    assert again.note == "I now speak German."


def test_a_blocked_agent_cannot_apply_and_is_told_neutrally(application, brand_admin, agent, brand):
    pool_decide(
        membership=application, actor=brand_admin, decision="block", reason="Abusive replies."
    )

    with pytest.raises(PermissionDenied) as caught:
        pool_apply(agent=agent, brand=brand, note="Let me in")

    assert caught.value.code == "pool_blocked"
    assert "Abusive" not in caught.value.message
    assert "block" not in caught.value.message.lower()
    assert PoolMembership.objects.get().status == PoolStatus.BLOCKED


def test_an_unblocked_agent_may_apply_again_at_once(application, brand_admin, agent, brand):
    blocked = pool_decide(membership=application, actor=brand_admin, decision="block")
    unblocked = pool_decide(membership=blocked, actor=brand_admin, decision="unblock")
    assert unblocked.status == PoolStatus.REJECTED

    assert pool_apply(agent=agent, brand=brand, note="Thanks").status == PoolStatus.APPLIED


# --- Invitations ---------------------------------------------------------------------


def test_an_invitation_emails_the_agent(
    brand, brand_admin, agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invited = pool_invite(brand=brand, actor=brand_admin, agent_email="ANA@agents.test")

    assert invited.status == PoolStatus.INVITED
    assert invited.invited_by == brand_admin
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ana@agents.test"]
    assert "/agent/brands/" in mail.outbox[0].body
    assert audit_actions(invited) == ["pool.invited"]


def test_an_accepted_invitation_makes_an_approved_member(brand, brand_admin, agent):
    invited = pool_invite(brand=brand, actor=brand_admin, agent_email=agent.email)

    member = pool_invitation_accept(membership=invited, agent=agent)

    assert member.status == PoolStatus.APPROVED
    assert member.decided_by == brand_admin
    assert list(PoolMembership.objects.for_brand(brand).approved()) == [member]
    assert audit_actions(member) == ["pool.invited", "pool.invitation_accepted"]


def test_a_declined_invitation_is_removed_and_audited(brand, brand_admin, agent):
    invited = pool_invite(brand=brand, actor=brand_admin, agent_email=agent.email)

    pool_invitation_decline(membership=invited, agent=agent)

    assert not PoolMembership.objects.exists()
    assert audit_actions(invited) == ["pool.invited", "pool.invitation_declined"]


def test_another_agent_cannot_accept_the_invitation(brand, brand_admin, agent):
    invited = pool_invite(brand=brand, actor=brand_admin, agent_email=agent.email)

    with pytest.raises(NotFound):
        pool_invitation_accept(membership=invited, agent=AgentUserFactory())
    assert PoolMembership.objects.get().status == PoolStatus.INVITED


def test_inviting_an_unknown_address_is_refused(brand, brand_admin):
    with pytest.raises(ValidationFailed) as caught:
        pool_invite(brand=brand, actor=brand_admin, agent_email="nobody@example.com")
    assert "email" in caught.value.fields
    assert not PoolMembership.objects.exists()


def test_inviting_a_brand_account_gets_the_same_refusal_as_an_unknown_address(brand, brand_admin):
    brand_user = UserFactory(email="buyer@shop.test")
    with pytest.raises(ValidationFailed) as unknown:
        pool_invite(brand=brand, actor=brand_admin, agent_email="nobody@shop.test")
    with pytest.raises(ValidationFailed) as not_agent:
        pool_invite(brand=brand, actor=brand_admin, agent_email=brand_user.email)
    assert unknown.value.fields == not_agent.value.fields
    assert not PoolMembership.objects.exists()


def test_inviting_a_blocked_agent_is_refused(application, brand, brand_admin, agent):
    pool_decide(membership=application, actor=brand_admin, decision="block")
    with pytest.raises(Conflict):
        pool_invite(brand=brand, actor=brand_admin, agent_email=agent.email)
    assert PoolMembership.objects.get().status == PoolStatus.BLOCKED


def test_an_admin_of_another_brand_cannot_invite_to_this_pool(brand, other_admin, agent):
    with pytest.raises(PermissionDenied):
        pool_invite(brand=brand, actor=other_admin, agent_email=agent.email)
    assert not PoolMembership.objects.exists()


# --- Decisions and tiers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "action"),
    [
        (["approve"], "pool.approved"),
        (["reject"], "pool.rejected"),
        (["block"], "pool.blocked"),
        (["block", "unblock"], "pool.unblocked"),
    ],
)
def test_every_decision_is_audited_with_actor_and_status_change(
    application, brand, brand_admin, steps, action
):
    membership = application
    for step in steps:
        before = membership.status
        membership = pool_decide(
            membership=membership, actor=brand_admin, decision=step, reason="Because."
        )

    event = AuditEvent.objects.filter(action=action).get()
    assert event.actor == brand_admin
    assert event.brand == brand
    assert event.target_id == str(application.pk)
    assert event.changes["status"] == [before, membership.status]


def test_an_admin_of_another_brand_cannot_decide_and_nothing_changes(application, other_admin):
    with pytest.raises(PermissionDenied):
        pool_decide(membership=application, actor=other_admin, decision="approve")

    application.refresh_from_db()
    assert application.status == PoolStatus.APPLIED
    assert application.decided_by is None
    assert audit_actions(application) == ["pool.applied"]


def test_a_viewer_cannot_decide_through_the_service(application, brand_viewer):
    with pytest.raises(PermissionDenied):
        pool_decide(membership=application, actor=brand_viewer, decision="block")
    application.refresh_from_db()
    assert application.status == PoolStatus.APPLIED


def test_a_blocked_agent_cannot_be_approved_without_unblocking(application, brand_admin):
    blocked = pool_decide(membership=application, actor=brand_admin, decision="block")
    with pytest.raises(Conflict):
        pool_decide(membership=blocked, actor=brand_admin, decision="approve")
    blocked.refresh_from_db()
    assert blocked.status == PoolStatus.BLOCKED


def test_an_unknown_decision_is_refused(application, brand_admin):
    with pytest.raises(ValidationFailed):
        pool_decide(membership=application, actor=brand_admin, decision="promote")
    application.refresh_from_db()
    assert application.status == PoolStatus.APPLIED


def test_a_tier_change_is_audited(application, brand_admin):
    member = pool_decide(membership=application, actor=brand_admin, decision="approve")

    member = pool_set_tier(membership=member, actor=brand_admin, tier=4)

    assert member.tier == 4
    event = AuditEvent.objects.get(action="pool.tier_changed")
    assert event.actor == brand_admin
    assert event.changes == {"tier": [1, 4]}


def test_only_approved_members_get_a_tier(application, brand_admin):
    with pytest.raises(Conflict):
        pool_set_tier(membership=application, actor=brand_admin, tier=3)
    application.refresh_from_db()
    assert application.tier == 1


def test_a_tier_outside_one_to_five_is_refused(application, brand_admin):
    member = pool_decide(membership=application, actor=brand_admin, decision="approve")
    with pytest.raises(ValidationFailed):
        pool_set_tier(membership=member, actor=brand_admin, tier=6)
    member.refresh_from_db()
    assert member.tier == 1


def test_an_admin_of_another_brand_cannot_set_a_tier(application, brand_admin, other_admin):
    member = pool_decide(membership=application, actor=brand_admin, decision="approve")
    with pytest.raises(PermissionDenied):
        pool_set_tier(membership=member, actor=other_admin, tier=5)
    member.refresh_from_db()
    assert member.tier == 1


# --- Selectors ------------------------------------------------------------------------


def test_pool_members_lists_only_this_brands_pool(application, other_brand, agent):
    pool_apply(agent=agent, brand=other_brand, note="")
    assert list(pool_members(brand=application.brand)) == [application]


def test_agent_pools_lists_every_pool_of_the_agent_only(application, other_brand, agent):
    elsewhere = pool_apply(agent=agent, brand=other_brand, note="")
    pool_apply(agent=AgentUserFactory(), brand=other_brand, note="")
    assert set(agent_pools(agent=agent)) == {application, elsewhere}
