"""QA standing: the stored per-gig score dispatch reads, and the minimum QA
score as a dispatch rule (offers, claims, directed ranking)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from brands.models import PoolMembership, PoolStatus, PoolTier
from brands.pool_services import pool_decide
from gigs.dispatch import task_claim
from gigs.eligibility import (
    directed_candidates,
    eligible_agents_for_gig,
    failed_rules,
    offer_scope_for_agent,
    offerable_tasks_for_agent,
)
from gigs.models import AgentPresence, DispatchMode, PresenceStatus
from marketplace.errors import PermissionDenied
from marketplace.languages import CEFRLevel
from qa.feeds import eligibility
from qa.models import GigQASettings, QAStanding, Review, ReviewStatus
from qa.scorecards import gig_qa_settings_update
from qa.services import review_submit
from qa.standing import standing_refresh, standing_refresh_all
from tests.gigs.factories import GigFactory, TaskFactory
from tests.marketplace.factories import AgentLanguageFactory, AgentProfileFactory
from tests.payouts.factories import brand_fund
from tests.qa.factories import EXAMPLE_RATINGS, closed_task

pytestmark = pytest.mark.django_db


def online_member(brand, *, tier=PoolTier.NEW, email=None):
    profile = AgentProfileFactory(**({"user__email": email} if email else {}))
    AgentLanguageFactory(profile=profile, language="en", level=CEFRLevel.C1)
    PoolMembership.objects.create(
        brand=brand, agent=profile.user, status=PoolStatus.APPROVED, tier=tier
    )
    AgentPresence.objects.create(
        agent=profile.user, status=PresenceStatus.ONLINE, last_heartbeat_at=timezone.now()
    )
    return profile.user


@pytest.fixture
def give_reviews(version, reviewer):
    def give(agent, gig, scores, *, days_ago=1):
        now = timezone.now()
        for number, score in enumerate(scores):
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
                submitted_at=now - timedelta(days=days_ago, minutes=number),
            )

    return give


@pytest.fixture
def en_gig(gig):
    gig.language = "en"
    gig.min_language_level = CEFRLevel.B1
    gig.save()
    GigQASettings.objects.update_or_create(gig=gig, defaults={"min_qa_score": Decimal("75")})
    brand_fund(gig.brand, gig.currency)
    return gig


def test_an_agent_under_the_minimum_is_kept_off_the_gig_with_their_figures(en_gig, give_reviews):
    agent = online_member(en_gig.brand)
    give_reviews(agent, en_gig, ["70.0"] * 5 + ["80.0"])
    task = TaskFactory(gig=en_gig, language="en")
    assert list(offerable_tasks_for_agent(agent)) == [task]  # nothing computed yet

    standing_refresh(agent)

    standing = QAStanding.objects.get(agent=agent, gig=en_gig)
    assert standing.blocked_reason == "QA 71.7 < 75 (6 reviews, 30 d)"
    assert standing.blocked_reason == eligibility(agent, en_gig)
    assert (standing.score, standing.review_count, standing.provisional) == (
        Decimal("71.7"),
        6,
        False,
    )
    assert list(offerable_tasks_for_agent(agent)) == []
    assert agent not in eligible_agents_for_gig(en_gig)
    assert not offer_scope_for_agent(agent).allows(en_gig.pk, "en")
    assert [rule.name for rule in failed_rules(agent, task)] == ["meets_qa_minimum"]
    with pytest.raises(PermissionDenied) as refused:
        task_claim(agent=agent, task_id=task.pk)
    assert str(refused.value) == (
        "Your QA score is below this gig's minimum: QA 71.7 < 75 (6 reviews, 30 d)."
    )
    assert refused.value.code == "not_eligible"


def test_an_agent_at_the_minimum_claims(en_gig, give_reviews):
    agent = online_member(en_gig.brand)
    give_reviews(agent, en_gig, ["75.0"] * 5)
    task = TaskFactory(gig=en_gig, language="en")
    standing_refresh(agent)

    assert not QAStanding.objects.blocked().filter(agent=agent).exists()
    assert task_claim(agent=agent, task_id=task.pk).holder == agent


def test_a_provisional_gig_score_is_judged_on_the_overall_score(brand, en_gig, give_reviews):
    agent = online_member(brand)
    other_gig = GigFactory(brand=brand, title="Returns")
    give_reviews(agent, en_gig, ["95.0"] * 2)
    give_reviews(agent, other_gig, ["50.0"] * 5)

    standing_refresh(agent)

    assert QAStanding.objects.get(agent=agent, gig=en_gig).blocked_reason == (
        "Overall QA 62.9 < 75 (7 reviews, 30 d)"
    )
    # The other gig sets no minimum: a row to rank by, nothing keeping them off.
    assert QAStanding.objects.get(agent=agent, gig=other_gig).blocked_reason == ""


def test_a_new_agent_with_no_score_anywhere_is_not_kept_off(en_gig):
    agent = online_member(en_gig.brand)
    standing_refresh(agent)
    assert not QAStanding.objects.filter(agent=agent).exists()
    assert agent in eligible_agents_for_gig(en_gig)


def test_reviews_leaving_the_window_lift_the_block_on_the_next_refresh(en_gig, give_reviews):
    agent = online_member(en_gig.brand)
    give_reviews(agent, en_gig, ["60.0"] * 5, days_ago=29)
    standing_refresh(agent)
    assert QAStanding.objects.blocked().filter(agent=agent).exists()

    standing_refresh(agent, now=timezone.now() + timedelta(days=2))

    assert not QAStanding.objects.filter(agent=agent).exists()


def test_the_nightly_refresh_covers_every_agent_concerned(en_gig, give_reviews):
    low = online_member(en_gig.brand)
    high = online_member(en_gig.brand)
    give_reviews(low, en_gig, ["60.0"] * 5)
    give_reviews(high, en_gig, ["90.0"] * 5)

    assert standing_refresh_all() == 2

    assert set(QAStanding.objects.blocked().values_list("agent_id", flat=True)) == {low.pk}


def test_raising_the_minimum_refreshes_the_pool(
    en_gig, brand_admin, give_reviews, django_capture_on_commit_callbacks
):
    agent = online_member(en_gig.brand)
    give_reviews(agent, en_gig, ["80.0"] * 5)
    standing_refresh(agent)
    assert not QAStanding.objects.blocked().exists()

    with django_capture_on_commit_callbacks(execute=True):
        gig_qa_settings_update(actor=brand_admin, gig=en_gig, min_qa_score="85")

    assert QAStanding.objects.get(agent=agent, gig=en_gig).blocked_reason == (
        "QA 80.0 < 85 (5 reviews, 30 d)"
    )


def test_joining_a_pool_applies_its_minimum(
    brand, en_gig, brand_admin, give_reviews, django_capture_on_commit_callbacks
):
    agent = online_member(GigFactory().brand)  # reviewed elsewhere
    give_reviews(agent, GigFactory(), ["50.0"] * 5)
    membership = PoolMembership.objects.create(brand=brand, agent=agent, status=PoolStatus.APPLIED)

    with django_capture_on_commit_callbacks(execute=True):
        pool_decide(actor=brand_admin, membership=membership, decision="approve")

    assert QAStanding.objects.get(agent=agent, gig=en_gig).blocked_reason == (
        "Overall QA 50.0 < 75 (5 reviews, 30 d)"
    )


def test_a_submitted_review_updates_the_agents_standing(
    assignment, reviewer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        review = review_submit(reviewer=reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)

    standing = QAStanding.objects.get(agent=review.agent, gig=review.gig)
    assert (standing.score, standing.review_count, standing.provisional) == (
        Decimal("72.0"),
        1,
        True,
    )


def test_directed_candidates_rank_by_tier_then_qa_score_unscored_last(brand, en_gig, give_reviews):
    en_gig.dispatch_mode = DispatchMode.DIRECTED
    en_gig.save()
    GigQASettings.objects.filter(gig=en_gig).update(min_qa_score=None)
    top = online_member(brand, tier=PoolTier.TOP, email="top@example.com")
    good = online_member(brand, email="good@example.com")
    unscored = online_member(brand, email="unscored@example.com")
    fair = online_member(brand, email="fair@example.com")
    give_reviews(top, en_gig, ["70.0"] * 5)
    give_reviews(good, en_gig, ["95.0"] * 5)
    give_reviews(fair, en_gig, ["80.0"] * 5)
    for agent in (top, good, unscored, fair):
        standing_refresh(agent)
    task = TaskFactory(gig=en_gig, language="en")

    assert list(directed_candidates(task)) == [top, good, fair, unscored]


def test_the_gig_page_lists_who_the_minimum_keeps_off(
    client, brand, brand_admin, en_gig, give_reviews
):
    low = online_member(brand)
    low.full_name = "Lou Lowscore"
    low.save()
    give_reviews(low, en_gig, ["60.0"] * 5)
    standing_refresh(low)
    url = reverse("frontend:gig_detail", args=[brand.slug, en_gig.pk])
    client.force_login(brand_admin)

    page = client.get(url).content.decode()
    assert "Kept off by the minimum QA score" in page
    assert "Lou Lowscore" in page and "QA 60.0 &lt; 75 (5 reviews, 30 d)" in page

    PoolMembership.objects.filter(agent=low).update(status=PoolStatus.BLOCKED)
    page = client.get(url).content.decode()
    assert "Lou Lowscore" not in page
    assert "No agent of your pool is below the minimum of 75.0." in page
