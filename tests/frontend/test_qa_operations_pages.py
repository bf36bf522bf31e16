"""Staff QA operations pages: running the tier job and the QA bonus from the
browser, tier overrides, who may use them, and the pool page's tier reason."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from brands.models import BrandRole, PoolMembership, PoolStatus, PoolTier
from marketplace.errors import PermissionDenied
from marketplace.models import AuditEvent
from payouts.models import Posting
from qa.feeds import bonus_key, bonus_run_by
from qa.models import BonusKind, GigQASettings, Review, ReviewStatus, TierChange
from qa.scorecards import gig_qa_settings_update
from tests.brands.factories import MembershipFactory
from tests.frontend.money_helpers import client_for, staff_with_two_factor
from tests.marketplace.factories import AgentProfileFactory
from tests.payouts.factories import brand_fund
from tests.qa.factories import closed_task, published_scorecard
from tests.qa.test_feeds import resolved_session

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday: 2026-W48 has been over for 7 days
WEEK = "2026-W48"
WEEK_END = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)

TIERS = reverse("frontend:staff_qa_tiers")
BONUS = reverse("frontend:staff_qa_bonus")


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def staff(db):
    return client_for(staff_with_two_factor("staff@gigdesk.test"))


@pytest.fixture
def agent(db):
    return AgentProfileFactory(user__email="ana@example.com", user__full_name="Ana Agent").user


@pytest.fixture
def other_agent(db):
    return AgentProfileFactory(user__email="ben@example.com", user__full_name="Ben Agent").user


@pytest.fixture
def version(brand, brand_admin, gig):
    version = published_scorecard(actor=brand_admin, brand=brand)
    gig_qa_settings_update(actor=brand_admin, gig=gig, scorecard=version.scorecard)
    return version


@pytest.fixture
def reviewer(brand):
    return MembershipFactory(brand=brand, role=BrandRole.QA_REVIEWER).user


@pytest.fixture
def give_reviews(version, reviewer):
    def give(agent, gig, count, score, *, at):
        for number in range(count):
            Review.objects.create(
                task=closed_task(gig=gig, agent=agent),
                brand=gig.brand,
                gig=gig,
                agent=agent,
                reviewer=reviewer,
                scorecard_version=version,
                status=ReviewStatus.SUBMITTED,
                score=Decimal(score),
                passed=Decimal(score) >= version.pass_mark,
                submitted_at=at - timedelta(minutes=number),
            )

    return give


def member(brand, agent, tier):
    return PoolMembership.objects.create(
        brand=brand, agent=agent, status=PoolStatus.APPROVED, tier=tier, decided_at=NOW
    )


@pytest.fixture
def promotable(brand, gig, agent, other_agent, give_reviews):
    """Ana has earned a promotion (10 reviews at 95); Ben has no reviews yet."""
    give_reviews(agent, gig, 10, "95.0", at=NOW - timedelta(days=1))
    member(brand, other_agent, PoolTier.STANDARD)
    return member(brand, agent, PoolTier.STANDARD)


@pytest.fixture
def bonus_gig(brand, gig, version):
    brand_fund(brand, gig.currency)
    GigQASettings.objects.filter(gig=gig).update(
        bonus_kind=BonusKind.FIXED, bonus_fixed_minor=150, bonus_threshold=Decimal("90")
    )
    return gig


@pytest.fixture
def bonus_earned(brand, bonus_gig, agent, other_agent, give_reviews):
    """Ana (top tier, QA 95) resolved 3 sessions in WEEK; Ben (top tier, QA 80) did too."""
    member(brand, agent, PoolTier.TOP)
    member(brand, other_agent, PoolTier.TOP)
    give_reviews(agent, bonus_gig, 5, "95.0", at=WEEK_END - timedelta(days=2))
    give_reviews(other_agent, bonus_gig, 5, "80.0", at=WEEK_END - timedelta(days=2))
    for day in (1, 3, 5):
        resolved_session(gig=bonus_gig, agent=agent, ended_at=WEEK_END - timedelta(days=day))
        resolved_session(gig=bonus_gig, agent=other_agent, ended_at=WEEK_END - timedelta(days=day))
    return bonus_gig


# --- who may use them --------------------------------------------------------------------


@pytest.mark.parametrize("who", ["agent", "brand_admin"])
def test_only_staff_open_the_pages_or_run_the_jobs(request, who, brand, agent, bonus_earned):
    client = client_for(request.getfixturevalue(who))

    assert client.get(TIERS).status_code == 403
    assert client.get(BONUS).status_code == 403
    assert client.post(TIERS, {"action": "run"}).status_code == 403
    assert client.post(BONUS, {"week": WEEK}).status_code == 403
    response = client.post(
        TIERS,
        {
            "action": "override",
            "brand": brand.slug,
            "agent": agent.email,
            "tier": "1",
            "reason": "Because.",
        },
    )
    assert response.status_code == 403

    assert PoolMembership.objects.get(brand=brand, agent=agent).tier == PoolTier.TOP
    assert not TierChange.objects.exists()
    assert not Posting.objects.filter(kind="qa.bonus").exists()


def test_signed_out_visitors_are_sent_to_log_in(client):
    response = client.get(TIERS)
    assert response.status_code == 302
    assert "/login" in response["Location"]


# --- tiers -------------------------------------------------------------------------------


def test_running_the_tier_job_shows_the_move_and_why_the_others_stayed(staff, promotable):
    response = staff.post(TIERS, {"action": "run"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "2 agents checked, 1 moved." in page
    assert "Promoted: QA 95.0 over 10 reviews in 30 days, no critical fail." in page
    assert "No change: the QA score is provisional (0 reviews in 30 days; 5 needed)." in page
    promotable.refresh_from_db()
    assert promotable.tier == PoolTier.TRUSTED
    # Each move is audited as the job's; the run as the staff member's.
    assert AuditEvent.objects.filter(action="qa.tier_changed").count() == 1
    run = AuditEvent.objects.get(action="qa.tier_job_run")
    assert run.actor.is_staff and run.changes["checked"] == 2

    again = staff.post(TIERS, {"action": "run"}).content.decode()
    assert "2 agents checked, 0 moved." in again
    assert "No change yet: would be promoted" in again
    assert TierChange.objects.count() == 1


def test_the_list_shows_who_moved_a_tier_and_filters_by_brand_and_source(
    staff, promotable, other_brand, other_agent
):
    staff.post(TIERS, {"action": "run"})
    elsewhere = member(other_brand, other_agent, PoolTier.STANDARD)
    staff.post(
        TIERS,
        {
            "action": "override",
            "brand": other_brand.slug,
            "agent": other_agent.email,
            "tier": "4",
            "reason": "Covers the night shift flawlessly.",
        },
    )
    elsewhere.refresh_from_db()
    assert elsewhere.tier == 4

    everything = staff.get(TIERS).content.decode()
    assert "Promoted: QA 95.0" in everything
    assert "Covers the night shift flawlessly." in everything
    assert "Tier job" in everything
    assert "Override</span> staff@gigdesk.test" in everything

    overrides = staff.get(TIERS, {"source": "override"}).content.decode()
    assert "Covers the night shift flawlessly." in overrides
    assert "Promoted: QA 95.0" not in overrides
    in_acme = staff.get(TIERS, {"brand": promotable.brand.slug}).content.decode()
    assert "Promoted: QA 95.0" in in_acme
    assert "Covers the night shift flawlessly." not in in_acme


def override(client, membership, *, tier="5", reason="Our best agent on returns."):
    return client.post(
        TIERS,
        {
            "action": "override",
            "brand": membership.brand.slug,
            "agent": membership.agent.email,
            "tier": tier,
            "reason": reason,
        },
    )


def test_an_override_needs_a_reason_and_changes_nothing_without_it(staff, promotable):
    response = override(staff, promotable, reason="   ")

    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing changed" in page
    assert "The reason" in page
    promotable.refresh_from_db()
    assert promotable.tier == PoolTier.STANDARD
    assert not TierChange.objects.exists()
    assert not AuditEvent.objects.filter(action="qa.tier_overridden").exists()


def test_an_override_with_a_reason_moves_the_tier_and_names_who_did_it(staff, promotable):
    response = override(staff, promotable)

    assert response.status_code == 302
    promotable.refresh_from_db()
    assert promotable.tier == PoolTier.TOP
    change = TierChange.objects.get()
    assert (change.from_tier, change.to_tier, change.is_override) == (2, 5, True)
    assert change.actor.email == "staff@gigdesk.test"
    assert change.reason == "Our best agent on returns."
    assert AuditEvent.objects.filter(action="qa.tier_overridden").count() == 1
    page = staff.get(response["Location"]).content.decode()
    assert "moved from tier 2 to 5" in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"agent": "nobody@example.com"}, "nobody@example.com is not in Acme Outdoors"),
        ({"tier": "2"}, "already at tier 2"),
        ({"tier": "9"}, "Select a valid choice"),
    ],
)
def test_a_refused_override_says_why_and_changes_nothing(staff, promotable, fields, message):
    data = {
        "brand": promotable.brand.slug,
        "agent": promotable.agent.email,
        "tier": "5",
        "reason": "Because.",
        **fields,
    }
    response = staff.post(TIERS, {"action": "override", **data})

    assert response.status_code == 400
    assert message in response.content.decode()
    promotable.refresh_from_db()
    assert promotable.tier == PoolTier.STANDARD
    assert not TierChange.objects.exists()


def test_an_override_of_a_member_not_approved_is_refused(staff, brand, agent):
    applied = PoolMembership.objects.create(brand=brand, agent=agent, status=PoolStatus.APPLIED)

    response = override(staff, applied)

    assert response.status_code == 400
    assert "Only approved pool members have a tier." in response.content.decode()
    assert not TierChange.objects.exists()


def test_the_pool_page_shows_each_members_latest_tier_reason(staff, promotable, brand, brand_admin):
    staff.post(TIERS, {"action": "run"})
    override(staff, promotable, tier="4", reason="Hand-picked for the launch week.")

    page = client_for(brand_admin).get(reverse("frontend:brand_pool", args=[brand.slug]))

    text = page.content.decode()
    assert "Hand-picked for the launch week." in text
    # Only the latest change of a member is shown.
    assert "Promoted: QA 95.0" not in text


# --- the QA bonus ------------------------------------------------------------------------


def test_the_bonus_page_lists_bonus_gigs_and_offers_the_payable_week(staff, bonus_gig):
    page = staff.get(BONUS).content.decode()

    assert bonus_gig.title in page
    assert "€1.50 per resolution" in page
    assert "90.0" in page
    assert f'value="{WEEK}"' in page
    assert "No QA bonus has been paid yet." in page


def test_paying_a_week_twice_posts_once(staff, bonus_earned, agent, other_agent):
    first = staff.post(BONUS, {"week": WEEK})

    assert first.status_code == 200
    page = first.content.decode()
    assert f"Week {WEEK}: 1 posted now, 0 already posted earlier, 1 not paid." in page
    assert "€4.50" in page
    assert "Posted now" in page
    assert "QA 80.0 &lt; 90.0" in page

    second = staff.post(BONUS, {"week": WEEK}).content.decode()
    assert f"Week {WEEK}: 0 posted now, 1 already posted earlier, 1 not paid." in second
    assert "Already posted earlier" in second

    key = bonus_key(gig_id=bonus_earned.pk, agent_id=agent.pk, week=WEEK)
    assert Posting.objects.filter(idempotency_key=key).count() == 1
    assert Posting.objects.filter(kind="qa.bonus").count() == 1
    # Only the run that posted is audited, under the staff member's name.
    event = AuditEvent.objects.get(action="qa.bonus_paid")
    assert event.actor_label == "staff@gigdesk.test"
    assert event.changes["week"] == WEEK
    listed = staff.get(BONUS).content.decode()
    assert key in listed
    assert "Ana Agent" in listed


@pytest.mark.parametrize(
    ("week", "message"),
    [
        ("2026-48", "is not an ISO week like 2026-W48"),
        ("2026-W49", "over for 7 days"),
        ("2026-W54", "2026 has no week 54"),
        ("", "This field is required"),
    ],
)
def test_a_bad_week_is_refused_and_nothing_is_posted(staff, bonus_earned, week, message):
    response = staff.post(BONUS, {"week": week})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was paid" in page
    assert message in page
    assert not Posting.objects.filter(kind="qa.bonus").exists()
    assert not AuditEvent.objects.filter(action="qa.bonus_paid").exists()


def test_only_staff_may_pay_the_bonus_through_the_service(brand_admin, bonus_earned):
    with pytest.raises(PermissionDenied):
        bonus_run_by(actor=brand_admin, iso_week=WEEK)

    assert not Posting.objects.filter(kind="qa.bonus").exists()
    assert not AuditEvent.objects.filter(action="qa.bonus_paid").exists()
