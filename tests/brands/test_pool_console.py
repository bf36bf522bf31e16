"""The pool console's reads (brands.pool_console) and bulk actions
(pool_bulk_update, pool_bulk_invite): per-agent audit, skipped rows with their
reason, nothing changed for a bad request, and the brand's own figures only."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from analytics.rollup import rollup_recompute
from analytics.selectors import figures_by, metric_hours
from brands.models import PoolMembership, PoolStatus
from brands.pool_console import (
    FIGURES_DAYS,
    ConsoleFilter,
    pool_console_members,
    pool_console_rows,
    scheduled_seconds_between,
)
from brands.pool_services import pool_bulk_invite, pool_bulk_update
from gigs.models import PayModel
from gigs.models import TaskEventKind as K
from marketplace.errors import PermissionDenied, ValidationFailed
from marketplace.models import AuditEvent, AvailabilitySlot
from payouts.models import Earning
from tests.analytics.histories import task_with_history
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import AgentLanguageFactory, AgentProfileFactory, AgentUserFactory

pytestmark = pytest.mark.django_db


def member(brand, status=PoolStatus.APPROVED, tier=1, **agent):
    return PoolMembership.objects.create(
        brand=brand, agent=AgentUserFactory(**agent), status=status, tier=tier
    )


def audits(action):
    return list(AuditEvent.objects.filter(action=action))


# --- Bulk actions ---------------------------------------------------------------------


def test_bulk_approve_approves_applicants_and_audits_each(brand, brand_admin):
    first, second = member(brand, PoolStatus.APPLIED), member(brand, PoolStatus.APPLIED)
    result = pool_bulk_update(
        brand=brand, actor=brand_admin, membership_ids=[first.pk, second.pk], action="approve"
    )
    assert sorted(result.done) == sorted([first.agent.email, second.agent.email])
    for membership in (first, second):
        membership.refresh_from_db()
        assert membership.status == PoolStatus.APPROVED
    assert len(audits("pool.approved")) == 2


def test_bulk_approve_skips_members_who_are_not_pending_with_the_reason(brand, brand_admin):
    pending = member(brand, PoolStatus.APPLIED)
    approved = member(brand, PoolStatus.APPROVED)
    rejected = member(brand, PoolStatus.REJECTED)
    result = pool_bulk_update(
        brand=brand,
        actor=brand_admin,
        membership_ids=[pending.pk, approved.pk, rejected.pk],
        action="approve",
    )
    assert result.done == [pending.agent.email]
    assert dict(result.skipped) == {
        approved.agent.email: "already approved",
        rejected.agent.email: "not a pending applicant (rejected)",
    }
    rejected.refresh_from_db()
    assert rejected.status == PoolStatus.REJECTED
    assert len(audits("pool.approved")) == 1


def test_bulk_block_blocks_with_the_reason_and_audits(brand, brand_admin):
    applied, approved = member(brand, PoolStatus.APPLIED), member(brand, PoolStatus.APPROVED)
    pool_bulk_update(
        brand=brand,
        actor=brand_admin,
        membership_ids=[applied.pk, approved.pk],
        action="block",
        reason="Abusive replies",
    )
    for membership in (applied, approved):
        membership.refresh_from_db()
        assert (membership.status, membership.reason) == (PoolStatus.BLOCKED, "Abusive replies")
    assert len(audits("pool.blocked")) == 2


def test_bulk_set_tier_changes_approved_members_and_skips_the_others(brand, brand_admin):
    approved, same, applied = (
        member(brand, tier=1),
        member(brand, tier=4),
        member(brand, PoolStatus.APPLIED),
    )
    result = pool_bulk_update(
        brand=brand,
        actor=brand_admin,
        membership_ids=[approved.pk, same.pk, applied.pk],
        action="set_tier",
        tier=4,
    )
    approved.refresh_from_db()
    assert approved.tier == 4
    assert result.done == [approved.agent.email]
    assert dict(result.skipped)[same.agent.email] == "already tier 4"
    assert "only approved members" in dict(result.skipped)[applied.agent.email]
    [event] = audits("pool.tier_changed")
    assert event.changes == {"tier": [1, 4]}


@pytest.mark.parametrize(
    ("ids", "action", "tier", "field"),
    [
        ([], "approve", None, "selected"),
        (None, "reject_all", None, "action"),
        (None, "set_tier", 6, "tier"),
        (None, "set_tier", None, "tier"),
    ],
)
def test_a_bad_bulk_request_changes_nothing(brand, brand_admin, ids, action, tier, field):
    applied = member(brand, PoolStatus.APPROVED)
    with pytest.raises(ValidationFailed) as raised:
        pool_bulk_update(
            brand=brand,
            actor=brand_admin,
            membership_ids=[applied.pk] if ids is None else ids,
            action=action,
            tier=tier,
        )
    assert field in raised.value.fields
    applied.refresh_from_db()
    assert (applied.status, applied.tier) == (PoolStatus.APPROVED, 1)
    assert not AuditEvent.objects.filter(action__startswith="pool.").exists()


def test_bulk_actions_never_reach_another_brands_members(brand, brand_admin, other_brand):
    theirs = member(other_brand, PoolStatus.APPLIED)
    result = pool_bulk_update(
        brand=brand, actor=brand_admin, membership_ids=[theirs.pk], action="approve"
    )
    assert (result.done, result.skipped, result.missing) == ([], [], 1)
    theirs.refresh_from_db()
    assert theirs.status == PoolStatus.APPLIED


def test_only_admins_act_in_bulk(brand, brand_viewer):
    applied = member(brand, PoolStatus.APPLIED)
    with pytest.raises(PermissionDenied):
        pool_bulk_update(
            brand=brand, actor=brand_viewer, membership_ids=[applied.pk], action="approve"
        )


def test_bulk_invite_invites_agents_and_reports_refusals(
    brand, brand_admin, mailoutbox, django_capture_on_commit_callbacks
):
    newcomer = AgentUserFactory(email="new@agents.test")
    already = member(brand, PoolStatus.APPROVED, email="in@agents.test")
    with django_capture_on_commit_callbacks(execute=True):
        result = pool_bulk_invite(
            brand=brand,
            actor=brand_admin,
            emails=["New@agents.test", "in@agents.test", "nobody@agents.test", "new@agents.test"],
        )
    assert result.done == ["new@agents.test"]
    assert [email for email, _ in result.skipped] == ["in@agents.test", "nobody@agents.test"]
    assert PoolMembership.objects.get(agent=newcomer).status == PoolStatus.INVITED
    assert len(audits("pool.invited")) == 1
    assert [m.to for m in mailoutbox] == [["new@agents.test"]]
    already.refresh_from_db()
    assert already.status == PoolStatus.APPROVED


def test_bulk_invite_needs_an_address(brand, brand_admin):
    with pytest.raises(ValidationFailed):
        pool_bulk_invite(brand=brand, actor=brand_admin, emails=["  "])


# --- Reads ----------------------------------------------------------------------------


def test_filters_narrow_by_status_tier_language_and_search(brand):
    spanish = AgentProfileFactory(user__email="sol@agents.test", display_name="Sol")
    AgentLanguageFactory(profile=spanish, language="es")
    PoolMembership.objects.create(
        brand=brand, agent=spanish.user, status=PoolStatus.APPROVED, tier=3
    )
    other = member(brand, PoolStatus.APPLIED, email="max@agents.test")
    now = timezone.now()

    def listed(**filters):
        members = pool_console_members(brand=brand, filters=ConsoleFilter(**filters), at=now)
        return {m.agent.email for m in members}

    assert listed() == {"sol@agents.test", other.agent.email}
    assert listed(status=PoolStatus.APPLIED) == {"max@agents.test"}
    assert listed(tier=3) == {"sol@agents.test"}
    assert listed(language="es") == {"sol@agents.test"}
    assert listed(search="SOL") == {"sol@agents.test"}
    assert listed(search="max@") == {"max@agents.test"}


def test_scheduled_seconds_count_each_weekday_in_the_window():
    slots = [
        AvailabilitySlot(weekday=0, starts_at=time(9), ends_at=time(17)),  # Monday, 8 h
        AvailabilitySlot(weekday=2, starts_at=time(9), ends_at=time(11, 30)),  # Wednesday
    ]
    monday = datetime(2026, 11, 2).date()
    # 2 Nov to 1 Dec: five Mondays (2 … 30 Nov), four Wednesdays (4 … 25 Nov).
    assert scheduled_seconds_between(slots, monday, 30) == 5 * 8 * 3600 + 4 * 9000


def test_row_figures_are_this_brands_roll_ups_and_earnings(brand, other_brand):
    gig = GigFactory(brand=brand, pay_model=PayModel.PER_RESOLUTION, rate_minor=300)
    their_gig = GigFactory(brand=other_brand, pay_model=PayModel.PER_RESOLUTION, rate_minor=900)
    profile = AgentProfileFactory(time_zone="UTC")
    agent = profile.user
    AvailabilitySlot.objects.create(profile=profile, weekday=0, starts_at=time(8), ends_at=time(18))
    membership = PoolMembership.objects.create(brand=brand, agent=agent, status=PoolStatus.APPROVED)
    now = timezone.now()
    t0 = now - timedelta(days=3)
    for score, offset in ((5, 0), (2, 3600)):
        task_with_history(
            gig,
            t0 + timedelta(seconds=offset),
            (0, K.CREATED),
            (60, K.CLAIMED, agent),
            (660, K.RESOLVED, agent),
            (700, K.RATED, None, {"score": score}),
        )
    task_with_history(
        their_gig, t0, (0, K.CREATED), (30, K.CLAIMED, agent), (90, K.RESOLVED, agent)
    )
    for b in (brand, other_brand):
        rollup_recompute(b, t0 - timedelta(days=1), now + timedelta(hours=1))

    [row] = pool_console_rows(brand=brand, memberships=[membership], at=now)

    expected = figures_by(
        metric_hours(
            start=now - timedelta(days=FIGURES_DAYS),
            end=now,
            brand_ids=[brand.pk],
            agent_ids=[agent.pk],
        ),
        "agent_id",
    )[agent.pk]
    assert row.figures.csat_rate == expected.csat_rate == 50.0
    assert row.engaged_seconds == expected.engaged_seconds == 2 * 600
    assert row.earnings == [("EUR", 600)]
    assert sum(e.amount_minor for e in Earning.objects.filter(brand=brand)) == 600
    assert row.scheduled_seconds in (4 * 10 * 3600, 5 * 10 * 3600)
    assert row.utilisation == round(100 * 1200 / row.scheduled_seconds, 1)
    # The rating has no agent: the latest of theirs is the second resolve.
    assert row.last_active == t0 + timedelta(seconds=3600 + 660)


def test_clawed_back_earnings_are_left_out(brand):
    gig = GigFactory(brand=brand, pay_model=PayModel.PER_RESOLUTION, rate_minor=300)
    agent = AgentUserFactory()
    membership = PoolMembership.objects.create(brand=brand, agent=agent, status=PoolStatus.APPROVED)
    t0 = datetime(2026, 5, 1, 9, tzinfo=UTC)
    for offset in (0, 3600):
        task_with_history(
            gig,
            t0 + timedelta(seconds=offset),
            (0, K.CREATED),
            (60, K.CLAIMED, agent),
            (120, K.RESOLVED, agent),
        )
    Earning.objects.filter(pk=Earning.objects.filter(agent=agent).first().pk).update(
        status="clawed_back"
    )
    [row] = pool_console_rows(brand=brand, memberships=[membership], at=timezone.now())
    assert row.earnings == [("EUR", 300)]


def test_the_certification_filter_and_column_show_platform_and_own_certifications(
    brand, other_brand
):
    from assessments.models import Certification
    from tests.assessments.factories import knowledge_doc, published
    from tests.assessments.test_gating import certify

    platform = published(knowledge_doc("support-basics"))
    theirs = published(knowledge_doc("borealis-only"), brand=other_brand)
    holder, other = member(brand), member(brand)
    certify(holder.agent, platform, level="")
    certify(other.agent, theirs, level="")
    now = timezone.now()

    members = pool_console_members(
        brand=brand, filters=ConsoleFilter(assessment=platform.assessment), at=now
    )
    assert list(members) == [holder]
    rows = pool_console_rows(brand=brand, memberships=[holder, other], at=now)
    assert [[c.assessment_id for c in row.certifications] for row in rows] == [
        [platform.assessment_id],
        [],  # another brand's assessment stays private to it
    ]
    assert Certification.objects.count() == 2
