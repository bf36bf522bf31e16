"""QA dashboard figures and the CSV export, on a small hand-built set of reviews."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from qa import dashboards
from qa.models import Dispute, DisputeDecision, Review, ReviewAssignment, ReviewStatus
from tests.qa.factories import EXAMPLE_RATINGS, closed_task

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def make_review(version, reviewer):
    def make(*, agent, gig, score, ratings=None, critical=False, at=NOW, due=None, who=None):
        task = closed_task(gig=gig, agent=agent)
        assignment = ReviewAssignment.objects.create(
            task=task,
            brand=gig.brand,
            gig=gig,
            agent=agent,
            due_at=due or at + timedelta(hours=1),
            status="submitted",
            submitted_at=at,
        )
        return Review.objects.create(
            assignment=assignment,
            task=task,
            brand=gig.brand,
            gig=gig,
            agent=agent,
            reviewer=who or reviewer,
            scorecard_version=version,
            status=ReviewStatus.SUBMITTED,
            ratings=EXAMPLE_RATINGS if ratings is None else ratings,
            score=None if score is None else Decimal(score),
            passed=None if score is None else Decimal(score) >= version.pass_mark,
            critical_fail=critical,
            submitted_at=at,
        )

    return make


@pytest.fixture
def small_set(make_review, gig, agent, other_agent, second_reviewer):
    first = make_review(agent=agent, gig=gig, score="90.0")
    make_review(agent=agent, gig=gig, score="70.0", due=NOW - timedelta(hours=1))
    make_review(agent=agent, gig=gig, score="0.0", critical=True, who=second_reviewer)
    make_review(
        agent=other_agent,
        gig=gig,
        score="85.0",
        ratings={**EXAMPLE_RATINGS, "understanding": 5, "upsell": 3},
        at=NOW - timedelta(weeks=1),
    )
    Dispute.objects.create(
        review=first,
        brand=gig.brand,
        agent=agent,
        reason="The solution was right.",
        due_at=NOW,
        decision=DisputeDecision.AMEND,
        decided_at=NOW,
    )
    return first


def test_per_agent_figures(small_set, brand, agent, other_agent):
    rows = dashboards.outcome_rows(dashboards.agent_rows(dashboards.counted_reviews(brand=brand)))

    by_agent = {row["agent_id"]: row for row in rows}
    assert rows[0]["agent_id"] == agent.pk  # most reviewed first
    ana = by_agent[agent.pk]
    assert (ana["reviews"], ana["mean_score"], ana["pass_rate"], ana["critical_fails"]) == (
        3,
        Decimal("53.3"),
        Decimal("33.3"),
        1,
    )
    assert ana["agent_name"] == agent.public_name
    assert by_agent[other_agent.pk]["pass_rate"] == Decimal("100.0")


def test_per_reviewer_sla_and_amend_rates(small_set, brand, reviewer, second_reviewer):
    rows = dashboards.reviewer_outcomes(
        dashboards.reviewer_rows(dashboards.counted_reviews(brand=brand))
    )

    rita = next(row for row in rows if row["reviewer_id"] == reviewer.pk)
    assert (rita["reviews"], rita["sla_hit_rate"], rita["amend_rate"]) == (
        3,
        Decimal("66.7"),
        Decimal("100.0"),
    )
    sam = next(row for row in rows if row["reviewer_id"] == second_reviewer.pk)
    assert (sam["reviews"], sam["sla_hit_rate"], sam["amend_rate"]) == (1, Decimal("100.0"), None)


def test_category_breakdown_is_the_mean_raw_value(small_set, brand):
    figures = {
        f.key: f for f in dashboards.category_breakdown(dashboards.counted_reviews(brand=brand))
    }

    # understanding (1-5): ratings 4, 4, 4, 5 -> v 0.75, 0.75, 0.75, 1.0 -> 81.25 %
    assert figures["understanding"].mean_value == Decimal("81.3")
    assert figures["understanding"].rated == 4
    # upsell: N/A three times, 3 on a 1-3 scale once
    assert (figures["upsell"].rated, figures["upsell"].mean_value) == (1, Decimal("100.0"))
    assert list(figures)[0] == "greeting"


def test_weekly_trend_covers_12_weeks_with_gaps(small_set, brand):
    trend = dashboards.weekly_trend(dashboards.counted_reviews(brand=brand), now=NOW)

    assert len(trend) == 12
    assert trend[-1].label == "2026-W50"
    assert (trend[-1].reviews, trend[-1].mean_score) == (3, Decimal("53.3"))
    assert (trend[-2].reviews, trend[-2].mean_score) == (1, Decimal("85.0"))
    assert (trend[0].reviews, trend[0].mean_score) == (0, None)


def test_summary(small_set, brand, other_brand):
    assert dashboards.summary(dashboards.counted_reviews(brand=brand)) == dashboards.Summary(
        reviews=4, mean_score=Decimal("61.3"), pass_rate=Decimal("50.0"), critical_fails=1
    )
    assert dashboards.summary(dashboards.counted_reviews(brand=other_brand)).reviews == 0


def _all_figures(brand):
    reviews = dashboards.counted_reviews(brand=brand)
    dashboards.outcome_rows(dashboards.agent_rows(reviews)[:25])
    dashboards.outcome_rows(dashboards.gig_rows(reviews)[:25])
    dashboards.reviewer_outcomes(dashboards.reviewer_rows(reviews)[:25])
    dashboards.category_breakdown(reviews)
    dashboards.weekly_trend(reviews, now=NOW)
    dashboards.summary(reviews)


@pytest.mark.parametrize("count", [10, 100])
def test_query_count_does_not_grow_with_reviews(
    count, make_review, brand, gig, agent, django_assert_max_num_queries
):
    for number in range(count):
        make_review(agent=agent, gig=gig, score="80.0", at=NOW - timedelta(days=number % 60))

    with django_assert_max_num_queries(8):
        _all_figures(brand)


def test_export_has_only_the_brands_rows(
    small_set, make_review, brand, other_brand, other_gig, other_agent
):
    from tests.brands.factories import MembershipFactory
    from tests.qa.factories import published_scorecard

    admin = MembershipFactory(brand=other_brand, role="admin").user
    other_version = published_scorecard(actor=admin, brand=other_brand, name="Borealis card")
    task = closed_task(gig=other_gig, agent=other_agent)
    foreign = Review.objects.create(
        task=task,
        brand=other_brand,
        gig=other_gig,
        agent=other_agent,
        reviewer=admin,
        scorecard_version=other_version,
        status=ReviewStatus.SUBMITTED,
        ratings=EXAMPLE_RATINGS,
        score=Decimal("72.0"),
        passed=False,
        submitted_at=timezone.now(),
    )

    rows = list(dashboards.export_rows(brand=brand))

    header, body = rows[0], rows[1:]
    assert header[:4] == ["review id", "task id", "brand", "gig"]
    assert "rating: understanding" in header
    assert len(body) == 4
    assert {row[2] for row in body} == {"Acme Outdoors"}
    assert str(foreign.pk) not in {row[0] for row in body}
    first = next(row for row in body if row[0] == str(small_set.pk))
    assert first[header.index("score")] == "90.0"
    assert first[header.index("reviewer")] == "Rita Reviewer"
    assert first[header.index("rating: upsell")] == "N/A"
    assert first[header.index("rating: understanding")] == "4"
    everyone = list(dashboards.export_rows())
    assert len(everyone) == 6
