"""The tier job and tier overrides: QA moves pool tiers one step, with a reason."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from brands.models import PoolMembership, PoolStatus
from marketplace.errors import NotFound, ValidationFailed
from marketplace.models import AuditEvent
from qa.models import Review, ReviewStatus, TierChange
from qa.tiers import tier_job, tier_override
from tests.qa.factories import closed_task

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 7, 2, 30, tzinfo=UTC)


@pytest.fixture
def membership(brand, agent):
    return PoolMembership.objects.create(
        brand=brand, agent=agent, status=PoolStatus.APPROVED, tier=2, decided_at=NOW
    )


@pytest.fixture
def give_reviews(version, gig, agent, reviewer):
    """``give_reviews(n, score)``: n submitted reviews of ``agent``, the last days before NOW."""

    def give(count: int, score, *, critical_fail=False, days_ago=1):
        for number in range(count):
            task = closed_task(gig=gig, agent=agent)
            Review.objects.create(
                task=task,
                brand=gig.brand,
                gig=gig,
                agent=agent,
                reviewer=reviewer,
                scorecard_version=version,
                status=ReviewStatus.SUBMITTED,
                score=Decimal(score),
                passed=Decimal(score) >= version.pass_mark,
                critical_fail=critical_fail,
                submitted_at=NOW - timedelta(days=days_ago, minutes=number),
            )

    return give


def run_job(at=NOW):
    with time_machine.travel(at, tick=False):
        return tier_job()


def test_promotes_one_tier_at_90_over_10_reviews_with_the_reason(membership, give_reviews):
    give_reviews(10, "95.0")

    result = run_job()

    membership.refresh_from_db()
    assert membership.tier == 3
    change = TierChange.objects.get()
    assert result.changes == [change]
    assert (change.from_tier, change.to_tier, change.is_override, change.actor) == (
        2,
        3,
        False,
        None,
    )
    assert change.reason == "Promoted: QA 95.0 over 10 reviews in 30 days, no critical fail."
    event = AuditEvent.objects.get(action="qa.tier_changed")
    assert event.changes["tier"] == [2, 3]
    assert event.actor_label == "system"


def test_nine_reviews_are_not_enough_to_promote(membership, give_reviews):
    give_reviews(9, "99.0")

    run_job()

    membership.refresh_from_db()
    assert membership.tier == 2
    assert not TierChange.objects.exists()


def test_demotes_below_75(membership, give_reviews):
    give_reviews(5, "70.0")

    run_job()

    membership.refresh_from_db()
    assert membership.tier == 1
    assert TierChange.objects.get().reason.startswith("Demoted: QA 70.0 over 5 reviews")


def test_two_critical_fails_demote_despite_a_good_mean(membership, give_reviews):
    give_reviews(8, "100.0")
    give_reviews(2, "100.0", critical_fail=True)

    run_job()

    membership.refresh_from_db()
    assert membership.tier == 1
    assert "2 critical fails" in TierChange.objects.get().reason


def test_at_most_one_move_per_seven_days(membership, give_reviews):
    give_reviews(10, "95.0")
    run_job()

    run_job(NOW + timedelta(days=6))
    membership.refresh_from_db()
    assert membership.tier == 3

    give_reviews(10, "95.0", days_ago=-7)  # still in the window a week on
    run_job(NOW + timedelta(days=7, minutes=1))
    membership.refresh_from_db()
    assert membership.tier == 4
    assert TierChange.objects.count() == 2


def test_a_provisional_score_freezes_the_tier(membership, give_reviews):
    give_reviews(4, "10.0")

    run_job()

    membership.refresh_from_db()
    assert membership.tier == 2
    assert not TierChange.objects.exists()


def test_old_reviews_and_other_brands_do_not_count(membership, give_reviews, other_brand, agent):
    give_reviews(10, "40.0", days_ago=31)
    PoolMembership.objects.create(brand=other_brand, agent=agent, status=PoolStatus.APPROVED)

    result = run_job()

    assert result.checked == 2
    assert not TierChange.objects.exists()


def test_only_approved_members_are_moved(brand, agent, give_reviews):
    blocked = PoolMembership.objects.create(
        brand=brand, agent=agent, status=PoolStatus.BLOCKED, tier=2
    )
    give_reviews(5, "10.0")

    assert run_job().checked == 0
    blocked.refresh_from_db()
    assert blocked.tier == 2


def test_the_command_runs_the_job_and_prints_the_reason(membership, give_reviews):
    give_reviews(10, "95.0")
    out = StringIO()

    with time_machine.travel(NOW, tick=False):
        call_command("qa_run_tiers", stdout=out)

    assert "tier 2 → 3. Promoted: QA 95.0" in out.getvalue()
    assert "Checked 1 pool member; 1 tier change." in out.getvalue()


# --- Overrides ------------------------------------------------------------------------------


def test_an_override_needs_a_reason_and_changes_nothing_without_one(membership, staff):
    with pytest.raises(ValidationFailed):
        tier_override(actor=staff, membership=membership, tier=5, reason="   ")

    membership.refresh_from_db()
    assert membership.tier == 2
    assert not TierChange.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="qa.tier").exists()


def test_an_override_is_recorded_with_its_actor_and_counts_for_the_limit(
    membership, brand_admin, give_reviews
):
    with time_machine.travel(NOW - timedelta(days=2), tick=False):
        change = tier_override(
            actor=brand_admin, membership=membership, tier=4, reason="Led the holiday rush."
        )
    give_reviews(10, "95.0")

    run_job()

    membership.refresh_from_db()
    assert membership.tier == 4
    assert (change.is_override, change.actor, change.reason) == (
        True,
        brand_admin,
        "Led the holiday rush.",
    )
    assert TierChange.objects.count() == 1
    assert AuditEvent.objects.get(action="qa.tier_overridden").actor == brand_admin


def test_an_override_outside_the_range_or_by_an_outsider_is_refused(membership, other_admin, staff):
    with pytest.raises(ValidationFailed):
        tier_override(actor=staff, membership=membership, tier=6, reason="Top of the class.")
    with pytest.raises(ValidationFailed):
        tier_override(actor=staff, membership=membership, tier=2, reason="Same as before.")
    with pytest.raises(NotFound):
        tier_override(actor=other_admin, membership=membership, tier=3, reason="Not mine.")
    assert not TierChange.objects.exists()
