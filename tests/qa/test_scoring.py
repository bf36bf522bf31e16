"""QA arithmetic against hand-worked figures: scores, alignment, spread, agent scores, tiers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.scoring import (
    AgentScore,
    CategorySpec,
    RatingsInvalid,
    agent_qa_score,
    alignment,
    as_percent,
    category_breakdown,
    category_value,
    compute_partial_score,
    compute_score,
    critical_failed,
    eligibility_reason,
    passes,
    round_half_up,
    scale_bounds,
    spread_stats,
    tier_decision,
    validate_ratings,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def spec(key, scale, weight=1, *, critical=False, allow_na=False) -> CategorySpec:
    return CategorySpec(key=key, scale=scale, weight=weight, critical=critical, allow_na=allow_na)


# The worked example. Upsell's weight never shows in the score (it is
# N/A there); 2 gives the alignment figures below something to weigh.
EXAMPLE_CARD = [
    spec("greeting", "binary", 1),
    spec("understanding", "5", 3),
    spec("solution", "4", 4),
    spec("tone", "3", 2),
    spec("data_protection", "binary", 1, critical=True),
    spec("upsell", "binary", 2, allow_na=True),
]
EXAMPLE_RATINGS = {
    "greeting": 1,
    "understanding": 4,
    "solution": 3,
    "tone": 2,
    "data_protection": 1,
    "upsell": None,
}


# --- Scales and values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scale", "bounds"), [("binary", (0, 1)), ("3", (1, 3)), ("4", (1, 4)), ("5", (1, 5))]
)
def test_scale_bounds(scale, bounds):
    assert scale_bounds(scale) == bounds


def test_unknown_scale_is_refused():
    with pytest.raises(ValueError, match="Unknown scale '10'"):
        scale_bounds("10")


@pytest.mark.parametrize(
    ("scale", "rating", "value"),
    [
        ("binary", 0, Fraction(0)),
        ("binary", 1, Fraction(1)),
        ("3", 2, Fraction(1, 2)),
        ("4", 3, Fraction(2, 3)),
        ("5", 4, Fraction(3, 4)),
        ("5", 1, Fraction(0)),
    ],
)
def test_category_value_is_exact(scale, rating, value):
    assert category_value(scale, rating) == value
    assert isinstance(category_value(scale, rating), Fraction)


def test_category_value_refuses_a_rating_off_the_scale():
    with pytest.raises(ValueError, match="Rating 0 is outside the 1–4 scale"):
        category_value("4", 0)


# --- compute_score, table-driven ---------------------------------------------------------


@pytest.mark.parametrize(
    ("categories", "ratings", "expected"),
    [
        pytest.param([spec("a", "binary")], {"a": 1}, "100.0", id="binary-top"),
        pytest.param([spec("a", "binary")], {"a": 0}, "0.0", id="binary-bottom"),
        pytest.param([spec("a", "5")], {"a": 1}, "0.0", id="5pt-bottom"),
        pytest.param([spec("a", "5")], {"a": 5}, "100.0", id="5pt-top"),
        pytest.param([spec("a", "3")], {"a": 2}, "50.0", id="3pt-middle"),
        pytest.param([spec("a", "4")], {"a": 4}, "100.0", id="4pt-top"),
        pytest.param(
            [spec("a", "binary", 3), spec("b", "5", 5, allow_na=True)],
            {"a": 0, "b": None},
            "0.0",
            id="na-skipped-not-counted-as-zero-weight",
        ),
        pytest.param(
            [spec("a", "5", 1, allow_na=True), spec("b", "binary", 1)],
            {"a": None, "b": 1},
            "100.0",
            id="na-skipped",
        ),
        pytest.param(
            [spec("a", "5", allow_na=True), spec("b", "binary", allow_na=True)],
            {"a": None, "b": None},
            None,
            id="all-na-is-none",
        ),
        pytest.param(
            [spec("a", "binary", 0), spec("b", "binary", 1)],
            {"a": 0, "b": 1},
            "100.0",
            id="weight-0-does-not-count",
        ),
        pytest.param(
            [spec("a", "binary", 0), spec("b", "5", 4, allow_na=True)],
            {"a": 1, "b": None},
            None,
            id="only-weight-0-rated-is-none",
        ),
        pytest.param(
            [spec("c", "3", 1, critical=True), spec("b", "binary", 1)],
            {"c": 2, "b": 1},
            "75.0",
            id="critical-at-exactly-half-passes",
        ),
        pytest.param(
            [spec("c", "4", 1, critical=True), spec("b", "binary", 9)],
            {"c": 2, "b": 1},
            "0.0",
            id="critical-below-half-fails",
        ),
        pytest.param(
            [spec("c", "5", 0, critical=True), spec("b", "binary", 1)],
            {"c": 2, "b": 1},
            "0.0",
            id="critical-of-weight-0-still-fails",
        ),
        pytest.param(
            [spec("c", "binary", 1, critical=True, allow_na=True), spec("b", "binary", 1)],
            {"c": None, "b": 1},
            "100.0",
            id="critical-na-does-not-fail",
        ),
        pytest.param(
            [spec("c", "binary", 0, critical=True), spec("b", "binary", 1, allow_na=True)],
            {"c": 0, "b": None},
            None,
            id="critical-fail-with-no-weight-rated-is-none",
        ),
        # 100·1/80 = 1.25 exactly: half-up gives 1.3 where banker's rounding gives 1.2.
        pytest.param(
            [spec("a", "binary", 1), spec("b", "binary", 79)],
            {"a": 1, "b": 0},
            "1.3",
            id="round-half-up-1.25",
        ),
        pytest.param(
            [spec("a", "5", 1), spec("b", "binary", 19)],
            {"a": 2, "b": 0},
            "1.3",
            id="round-half-up-quarter-value",
        ),
        pytest.param(
            [spec("a", "binary", 79), spec("b", "binary", 1)],
            {"a": 1, "b": 0},
            "98.8",
            id="round-half-up-98.75",
        ),
        # 100·2/3 = 66.666…: rounded once at the end, not per category.
        pytest.param(
            [spec("a", "4", 1), spec("b", "4", 2)],
            {"a": 3, "b": 3},
            "66.7",
            id="round-once-two-thirds",
        ),
        pytest.param(
            [spec("a", "binary", 1), spec("b", "binary", 1), spec("c", "binary", 1)],
            {"a": 1, "b": 0, "c": 0},
            "33.3",
            id="round-down-below-half",
        ),
    ],
)
def test_compute_score(categories, ratings, expected):
    score = compute_score(categories, ratings)
    if expected is None:
        assert score is None
    else:
        assert str(score) == expected


def test_worked_example_scores_72_and_fails():
    score = compute_score(EXAMPLE_CARD, EXAMPLE_RATINGS)
    assert str(score) == "72.0"
    assert not passes(score, 80)


def test_worked_example_with_data_protection_no_scores_0():
    score = compute_score(EXAMPLE_CARD, {**EXAMPLE_RATINGS, "data_protection": 0})
    assert str(score) == "0.0"
    assert critical_failed(EXAMPLE_CARD, {**EXAMPLE_RATINGS, "data_protection": 0})


def test_worked_example_amended_solution_scores_84_1_and_passes():
    score = compute_score(EXAMPLE_CARD, {**EXAMPLE_RATINGS, "solution": 4})
    assert str(score) == "84.1"
    assert passes(score, 80)


def test_worked_example_breakdown_uses_raw_values():
    assert category_breakdown(EXAMPLE_CARD, EXAMPLE_RATINGS) == {
        "greeting": Fraction(1),
        "understanding": Fraction(3, 4),
        "solution": Fraction(2, 3),
        "tone": Fraction(1, 2),
        "data_protection": Fraction(1),
        "upsell": None,
    }


@pytest.mark.parametrize(
    ("score", "pass_mark", "expected"),
    [(Decimal("80.0"), 80, True), (Decimal("79.9"), 80, False), (None, 0, False)],
)
def test_passes(score, pass_mark, expected):
    assert passes(score, pass_mark) is expected


# --- Refused input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratings", "key", "message"),
    [
        ({**EXAMPLE_RATINGS, "understanding": 6}, "understanding", "Rating 6 is outside the 1–5"),
        ({**EXAMPLE_RATINGS, "greeting": 2}, "greeting", "outside the binary"),
        ({**EXAMPLE_RATINGS, "tone": 0}, "tone", "Rating 0 is outside the 1–3"),
        ({**EXAMPLE_RATINGS, "tone": "2"}, "tone", "whole number"),
        ({**EXAMPLE_RATINGS, "greeting": True}, "greeting", "whole number"),
        ({**EXAMPLE_RATINGS, "solution": None}, "solution", "N/A is not allowed"),
        (
            {key: value for key, value in EXAMPLE_RATINGS.items() if key != "tone"},
            "tone",
            "Choose a rating.",
        ),
        ({**EXAMPLE_RATINGS, "empathy": 3}, "empathy", "not on the scorecard"),
    ],
)
def test_compute_score_refuses_invalid_ratings(ratings, key, message):
    with pytest.raises(ValueError, match=message) as caught:
        compute_score(EXAMPLE_CARD, ratings)
    assert isinstance(caught.value, RatingsInvalid)
    assert list(caught.value.problems) == [key]


def test_validate_ratings_lists_every_problem():
    ratings = {"greeting": 3, "understanding": 4, "solution": None, "upsell": 1, "empathy": 2}
    assert validate_ratings(EXAMPLE_CARD, ratings) == {
        "greeting": "Rating 3 is outside the binary (0 = no, 1 = yes) scale.",
        "solution": "N/A is not allowed for this category.",
        "tone": "Choose a rating.",
        "data_protection": "Choose a rating.",
        "empathy": "This category is not on the scorecard.",
    }


def test_missing_category_that_allows_na_asks_for_rating_or_na():
    ratings = {key: value for key, value in EXAMPLE_RATINGS.items() if key != "upsell"}
    assert validate_ratings(EXAMPLE_CARD, ratings) == {"upsell": "Choose a rating or N/A."}


def test_validate_ratings_is_empty_for_the_worked_example():
    assert validate_ratings(EXAMPLE_CARD, EXAMPLE_RATINGS) == {}


@pytest.mark.parametrize(
    ("categories", "message"),
    [
        ([spec("a", "binary"), spec("a", "5")], "appears twice"),
        ([spec("a", "binary", 101)], "weight 101 is outside 0–100"),
        ([spec("a", "binary", -1)], "weight -1 is outside 0–100"),
        ([spec("a", "7")], "Unknown scale"),
    ],
)
def test_invalid_categories_are_refused(categories, message):
    with pytest.raises(ValueError, match=message):
        compute_score(categories, {"a": 1})


def test_partial_score_skips_unrated_categories():
    draft = {"greeting": 1, "solution": 3}
    # (1·1 + 4·2/3)/5 = 11/15 = 73.33…
    assert str(compute_partial_score(EXAMPLE_CARD, draft)) == "73.3"
    with pytest.raises(RatingsInvalid):
        compute_score(EXAMPLE_CARD, draft)


def test_partial_score_of_an_empty_draft_is_none():
    assert compute_partial_score(EXAMPLE_CARD, {}) is None


def test_partial_score_still_refuses_a_rating_off_the_scale():
    with pytest.raises(RatingsInvalid, match="solution"):
        compute_partial_score(EXAMPLE_CARD, {"solution": 5})


def test_partial_score_applies_a_critical_fail_already_rated():
    assert str(compute_partial_score(EXAMPLE_CARD, {"greeting": 1, "data_protection": 0})) == "0.0"


# --- Properties --------------------------------------------------------------------------

SCALES = ["binary", "3", "4", "5"]


@st.composite
def cards_with_ratings(draw):
    """A scorecard of 1–6 categories and a complete, valid set of ratings for it."""
    count = draw(st.integers(min_value=1, max_value=6))
    categories = [
        CategorySpec(
            key=f"c{index}",
            scale=draw(st.sampled_from(SCALES)),
            weight=draw(st.integers(min_value=0, max_value=100)),
            critical=draw(st.booleans()),
            allow_na=draw(st.booleans()),
        )
        for index in range(count)
    ]
    ratings = {}
    for category in categories:
        low, high = scale_bounds(category.scale)
        choices = st.integers(min_value=low, max_value=high)
        if category.allow_na:
            choices = st.none() | choices
        ratings[category.key] = draw(choices)
    return categories, ratings


@given(cards_with_ratings())
def test_score_is_none_or_within_0_and_100(card):
    categories, ratings = card
    score = compute_score(categories, ratings)
    assert score is None or Decimal(0) <= score <= Decimal(100)
    if score is not None:
        assert score == score.quantize(Decimal("0.1"))


@given(cards_with_ratings(), st.data())
def test_score_is_monotone_in_each_rating(card, data):
    categories, ratings = card
    raisable = [
        c
        for c in categories
        if ratings[c.key] is not None and ratings[c.key] < scale_bounds(c.scale)[1]
    ]
    if not raisable:
        return
    category = data.draw(st.sampled_from(raisable))
    before = compute_score(categories, ratings)
    after = compute_score(categories, {**ratings, category.key: ratings[category.key] + 1})
    # Whether a review scores at all depends on which categories are rated, not how.
    assert (before is None) == (after is None)
    if before is not None:
        assert after >= before


@given(cards_with_ratings())
def test_score_is_none_exactly_when_no_weight_is_rated(card):
    categories, ratings = card
    rated_weight = sum(c.weight for c in categories if ratings[c.key] is not None)
    assert (compute_score(categories, ratings) is None) == (rated_weight == 0)


# --- Rounding helpers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(1445, 20), "72.3"),  # 72.25
        (Fraction(7205, 100), "72.1"),
        (Fraction(7204999, 100000), "72.0"),
        (Fraction(-1, 20), "-0.1"),
        (Decimal("99.95"), "100.0"),
        (0, "0.0"),
    ],
)
def test_round_half_up(value, expected):
    assert str(round_half_up(value)) == expected


def test_as_percent_shows_a_category_value():
    assert str(as_percent(Fraction(2, 3))) == "66.7"


# --- Alignment ---------------------------------------------------------------------------


def test_alignment_with_itself_is_100():
    assert str(alignment(EXAMPLE_CARD, EXAMPLE_RATINGS, EXAMPLE_RATINGS)) == "100.0"


def test_alignment_against_gold_matches_hand_figure():
    gold = {**EXAMPLE_RATINGS, "solution": 4}
    # Only Solution differs, by 1/3 at weight 4; Upsell is N/A on both sides and
    # drops out: 100·(1 − (4/3)/11) = 100·29/33 = 87.87…
    assert str(alignment(EXAMPLE_CARD, EXAMPLE_RATINGS, gold)) == "87.9"


def test_alignment_counts_na_on_one_side_as_a_full_difference():
    gold = {**EXAMPLE_RATINGS, "solution": 4, "upsell": 1}
    # Upsell now counts with difference 1 at weight 2: Σw = 13, Σw·d = 4/3 + 2 = 10/3,
    # 100·(1 − 10/39) = 100·29/39 = 74.35…
    assert str(alignment(EXAMPLE_CARD, EXAMPLE_RATINGS, gold)) == "74.4"


def test_alignment_is_symmetric():
    gold = {**EXAMPLE_RATINGS, "solution": 4, "upsell": 1}
    assert alignment(EXAMPLE_CARD, EXAMPLE_RATINGS, gold) == alignment(
        EXAMPLE_CARD, gold, EXAMPLE_RATINGS
    )


def test_alignment_with_no_weight_left_is_none():
    card = [spec("a", "binary", 0), spec("b", "5", 3, allow_na=True)]
    assert alignment(card, {"a": 1, "b": None}, {"a": 0, "b": None}) is None


def test_alignment_refuses_incomplete_gold():
    with pytest.raises(RatingsInvalid, match="tone"):
        alignment(EXAMPLE_CARD, EXAMPLE_RATINGS, {**EXAMPLE_RATINGS, "tone": 9})


# --- Spread ------------------------------------------------------------------------------


def test_spread_of_the_textbook_set_has_sd_2():
    stats = spread_stats([Decimal(v) for v in (2, 4, 4, 4, 5, 5, 7, 9)])
    assert (stats.min, stats.max, stats.spread, stats.sd) == (2, 9, 7, Decimal(2))
    assert stats.count == 8


def test_spread_of_review_scores_matches_hand_figure():
    stats = spread_stats([Decimal("72.0"), Decimal("84.1"), Decimal("80.0")])
    # mean 78.7; deviations −6.7, 5.4, 1.3; variance (44.89 + 29.16 + 1.69)/3 = 25.2466…
    assert stats.min == Fraction(72)
    assert stats.max == Fraction(841, 10)
    assert stats.spread == Fraction(121, 10)
    assert round(stats.sd, 4) == Decimal("5.0246")


def test_spread_of_category_values_is_exact():
    stats = spread_stats([Fraction(1, 2), Fraction(1), Fraction(1, 2)])
    # mean 2/3; variance ((1/6)² + (1/3)² + (1/6)²)/3 = 1/18; sd = 0.2357…
    assert stats.spread == Fraction(1, 2)
    assert round(stats.sd, 4) == Decimal("0.2357")


def test_spread_of_identical_scores_is_zero():
    stats = spread_stats([Decimal("90.0")] * 3)
    assert stats.spread == 0
    assert stats.sd == 0


def test_spread_of_nothing_is_refused():
    with pytest.raises(ValueError, match="at least one value"):
        spread_stats([])


# --- Agent QA score ----------------------------------------------------------------------


def test_agent_score_is_the_mean_over_30_days():
    scored = [
        (Decimal("80.0"), NOW - timedelta(days=1)),
        (Decimal("90.0"), NOW - timedelta(days=30)),  # the window's first moment
        (Decimal("10.0"), NOW - timedelta(days=30, seconds=1)),
        (Decimal("70.0"), NOW - timedelta(days=29)),
        (Decimal("60.0"), NOW - timedelta(days=2)),
        (Decimal("100.0"), NOW - timedelta(days=3)),
    ]
    assert agent_qa_score(scored, now=NOW) == AgentScore(
        score=Decimal("80.0"), count=5, provisional=False, window_days=30
    )


def test_agent_score_keeps_the_50_most_recent():
    recent = [(Decimal("90.0"), NOW - timedelta(hours=hour)) for hour in range(50)]
    older = [(Decimal("0.0"), NOW - timedelta(days=10, hours=hour)) for hour in range(10)]
    result = agent_qa_score(older + recent, now=NOW)
    assert result.score == Decimal("90.0")
    assert result.count == 50


def test_agent_score_under_5_reviews_is_provisional():
    scored = [(Decimal("95.0"), NOW - timedelta(days=day)) for day in range(4)]
    assert agent_qa_score(scored, now=NOW).provisional is True
    scored.append((Decimal("95.0"), NOW - timedelta(days=5)))
    assert agent_qa_score(scored, now=NOW).provisional is False


def test_agent_score_with_no_reviews_is_none_and_provisional():
    old = [(Decimal("95.0"), NOW - timedelta(days=40))]
    assert agent_qa_score(old, now=NOW) == AgentScore(score=None, count=0, provisional=True)


def test_agent_score_rounds_the_mean_half_up_once():
    scored = [(Decimal("80.0"), NOW), (Decimal("80.1"), NOW - timedelta(hours=1))]
    assert agent_qa_score(scored, now=NOW).score == Decimal("80.1")


def test_agent_score_ignores_unscored_and_future_reviews():
    scored = [
        (Decimal("70.0"), NOW - timedelta(days=1)),
        (None, NOW - timedelta(days=1)),
        (Decimal("0.0"), NOW + timedelta(minutes=1)),
    ]
    result = agent_qa_score(scored, now=NOW)
    assert (result.score, result.count) == (Decimal("70.0"), 1)


def test_agent_score_describes_itself():
    score = AgentScore(score=Decimal("92.4"), count=14, provisional=False)
    assert score.describe() == "QA 92.4 (14 reviews, 30 d)"
    assert AgentScore(None, 0, True).describe() == "unscored (0 reviews, 30 d)"


# --- Tier decisions ----------------------------------------------------------------------


def settled(score: str, count: int = 14) -> AgentScore:
    return AgentScore(score=Decimal(score), count=count, provisional=count < 5)


def decide(score: AgentScore, *, fails=0, last_move_at=None, tier=2):
    return tier_decision(
        score=score, critical_fails_30d=fails, last_move_at=last_move_at, now=NOW, tier=tier
    )


def test_promotes_at_90_with_10_reviews_and_no_critical_fail():
    decision = decide(settled("92.4"))
    assert decision.move == 1
    assert decision.reason == ("Promoted: QA 92.4 over 14 reviews in 30 days, no critical fail.")


def test_promotes_at_exactly_90():
    assert decide(settled("90.0", count=10)).move == 1


def test_no_promotion_with_fewer_than_10_reviews():
    decision = decide(settled("95.0", count=9))
    assert decision.move == 0
    assert decision.reason.startswith("No change: QA 95.0 over 9 reviews in 30 days")
    assert "promotion needs 90 over at least 10 reviews" in decision.reason


def test_no_promotion_after_a_critical_fail():
    decision = decide(settled("95.0"), fails=1)
    assert decision.move == 0
    assert "1 critical fail" in decision.reason


def test_demotes_below_75():
    decision = decide(settled("74.9"))
    assert decision.move == -1
    assert decision.reason == "Demoted: QA 74.9 over 14 reviews in 30 days, below 75."


def test_does_not_demote_at_exactly_75():
    assert decide(settled("75.0")).move == 0


def test_demotes_at_2_critical_fails_despite_a_good_score():
    decision = decide(settled("88.0"), fails=2)
    assert decision.move == -1
    assert decision.reason == (
        "Demoted: 2 critical fails in 30 days (QA 88.0 over 14 reviews in 30 days)."
    )


def test_at_most_one_move_per_7_days():
    last_move = NOW - timedelta(days=6, hours=23)
    decision = decide(settled("60.0"), last_move_at=last_move)
    assert decision.move == 0
    assert decision.reason.startswith("No change yet: would be demoted (QA 60.0")
    assert "last changed on 2026-11-26, less than 7 days ago" in decision.reason


def test_moves_again_once_7_days_have_passed():
    assert decide(settled("60.0"), last_move_at=NOW - timedelta(days=7)).move == -1


def test_provisional_score_never_moves_the_tier():
    frozen = AgentScore(score=Decimal("10.0"), count=4, provisional=True)
    decision = decide(frozen, fails=3)
    assert decision.move == 0
    assert decision.reason == (
        "No change: the QA score is provisional (4 reviews in 30 days; 5 needed)."
    )


def test_unscored_agent_does_not_move():
    assert decide(AgentScore(score=None, count=0, provisional=True)).move == 0


def test_top_tier_is_not_promoted_further():
    decision = decide(settled("99.0"), tier=5)
    assert decision.move == 0
    assert decision.reason.startswith("No change: already at the top tier")


def test_lowest_tier_is_not_demoted_further():
    decision = decide(settled("50.0"), tier=1)
    assert decision.move == 0
    assert decision.reason.startswith("No change: already at the lowest tier")


# --- Eligibility -------------------------------------------------------------------------

PROVISIONAL = AgentScore(score=Decimal("40.0"), count=2, provisional=True)


def test_no_minimum_means_eligible():
    assert (
        eligibility_reason(gig_score=settled("10.0"), overall=settled("10.0"), minimum=None) is None
    )


def test_per_gig_score_below_minimum_gives_the_reason():
    reason = eligibility_reason(gig_score=settled("71.3"), overall=settled("95.0"), minimum=75)
    assert reason == "QA 71.3 < 75 (14 reviews, 30 d)"


def test_per_gig_score_at_the_minimum_is_eligible():
    assert eligibility_reason(gig_score=settled("75.0"), overall=PROVISIONAL, minimum=75) is None


def test_per_gig_score_decides_over_a_low_overall_score():
    assert (
        eligibility_reason(gig_score=settled("80.0"), overall=settled("60.0"), minimum=75) is None
    )


def test_provisional_gig_score_falls_back_to_overall():
    reason = eligibility_reason(
        gig_score=PROVISIONAL, overall=settled("70.0", count=20), minimum=Decimal("75.5")
    )
    assert reason == "Overall QA 70.0 < 75.5 (20 reviews, 30 d)"


def test_provisional_gig_score_with_a_good_overall_is_eligible():
    assert eligibility_reason(gig_score=PROVISIONAL, overall=settled("80.0"), minimum=75) is None


def test_provisional_overall_passes():
    assert eligibility_reason(gig_score=PROVISIONAL, overall=PROVISIONAL, minimum=75) is None
