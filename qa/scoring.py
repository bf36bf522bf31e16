"""QA arithmetic: review scores, alignment, calibration spread, agent scores and tier moves.

Pure functions over plain values, so that the review page, the calibration
screen, the tier job and the benchmark all compute the same figures. Values
are exact (``Fraction``) until the one rounding at the end: half-up to one
decimal, the way a person rounds on paper (72.05 → 72.1), which
``round()``'s banker's rounding would not do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

SCALE_BOUNDS: dict[str, tuple[int, int]] = {
    "binary": (0, 1),
    "3": (1, 3),
    "4": (1, 4),
    "5": (1, 5),
}
MAX_WEIGHT = 100
CRITICAL_BELOW = Fraction(1, 2)

WINDOW_DAYS = 30
MAX_REVIEWS_IN_SCORE = 50
PROVISIONAL_BELOW = 5

PROMOTE_AT = Decimal(90)
PROMOTE_MIN_REVIEWS = 10
DEMOTE_BELOW = Decimal(75)
DEMOTE_CRITICAL_FAILS = 2
TIER_MOVE_COOLDOWN = timedelta(days=7)


@dataclass(frozen=True)
class CategorySpec:
    """One scorecard category as scoring sees it; ``key`` names it in a ratings mapping."""

    key: str
    scale: str  # "binary", "3", "4" or "5"
    weight: int
    critical: bool
    allow_na: bool


class RatingsInvalid(ValueError):
    """Ratings that cannot be scored; ``problems`` maps each category key to its message."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        listed = "; ".join(f"{key}: {message}" for key, message in self.problems.items())
        super().__init__(f"Invalid ratings: {listed}")


# --- Categories and values ---------------------------------------------------------------


def scale_bounds(scale: str) -> tuple[int, int]:
    """The lowest and highest rating of ``scale``."""
    try:
        return SCALE_BOUNDS[scale]
    except KeyError:
        known = ", ".join(SCALE_BOUNDS)
        raise ValueError(f"Unknown scale {scale!r}; expected one of {known}.") from None


def scale_label(scale: str) -> str:
    low, high = scale_bounds(scale)
    return "binary (0 = no, 1 = yes)" if scale == "binary" else f"{low}–{high}"


def category_value(scale: str, rating: int) -> Fraction:
    """v = (r − min)/(max − min): 0 at the bottom of the scale, 1 at the top."""
    problem = _rating_problem(scale, rating)
    if problem:
        raise ValueError(problem)
    low, high = scale_bounds(scale)
    return Fraction(rating - low, high - low)


def _rating_problem(scale: str, rating: object) -> str | None:
    low, high = scale_bounds(scale)
    # bool is an int subclass; a True from a checkbox is not a rating.
    if isinstance(rating, bool) or not isinstance(rating, int):
        return f"Rating must be a whole number on the {scale_label(scale)} scale."
    if not low <= rating <= high:
        return f"Rating {rating} is outside the {scale_label(scale)} scale."
    return None


def _check_categories(categories: Sequence[CategorySpec]) -> None:
    """Scorecard mistakes are programming errors here: publishing refuses them earlier."""
    seen: set[str] = set()
    for category in categories:
        if category.key in seen:
            raise ValueError(f"Category {category.key!r} appears twice.")
        seen.add(category.key)
        scale_bounds(category.scale)
        if isinstance(category.weight, bool) or not isinstance(category.weight, int):
            raise ValueError(f"Category {category.key!r}: the weight must be a whole number.")
        if not 0 <= category.weight <= MAX_WEIGHT:
            raise ValueError(
                f"Category {category.key!r}: weight {category.weight} is outside 0–{MAX_WEIGHT}."
            )


def validate_ratings(
    categories: Sequence[CategorySpec],
    ratings: Mapping[str, int | None],
    *,
    partial: bool = False,
) -> dict[str, str]:
    """Every problem with ``ratings``, as {category key: message}; empty when they can be scored.

    A rating of None is N/A. With ``partial`` (a draft), a category absent from
    ``ratings`` is not yet rated rather than missing.
    """
    _check_categories(categories)
    problems: dict[str, str] = {}
    for category in categories:
        if category.key not in ratings:
            if not partial:
                problems[category.key] = (
                    "Choose a rating or N/A." if category.allow_na else "Choose a rating."
                )
            continue
        rating = ratings[category.key]
        if rating is None:
            if not category.allow_na:
                problems[category.key] = "N/A is not allowed for this category."
            continue
        problem = _rating_problem(category.scale, rating)
        if problem:
            problems[category.key] = problem
    known = {category.key for category in categories}
    for key in ratings:
        if key not in known:
            problems[key] = "This category is not on the scorecard."
    return problems


def _values(
    categories: Sequence[CategorySpec], ratings: Mapping[str, int | None], *, partial: bool
) -> list[tuple[CategorySpec, Fraction | None]]:
    """(category, v) for every category present in ``ratings``; v is None for N/A."""
    problems = validate_ratings(categories, ratings, partial=partial)
    if problems:
        raise RatingsInvalid(problems)
    values = []
    for category in categories:
        if category.key not in ratings:
            continue
        rating = ratings[category.key]
        value = None if rating is None else category_value(category.scale, rating)
        values.append((category, value))
    return values


# --- Rounding ----------------------------------------------------------------------------


def round_half_up(value: Fraction | Decimal | int, places: int = 1) -> Decimal:
    """``value`` rounded half away from zero to ``places`` decimals, exactly."""
    exact = Fraction(value)
    scaled = abs(exact) * 10**places
    rounded = math.floor(scaled + Fraction(1, 2))
    if exact < 0:
        rounded = -rounded
    return Decimal(rounded).scaleb(-places)


def as_percent(value: Fraction) -> Decimal:
    """A category value v in 0..1 shown as a percentage with one decimal."""
    return round_half_up(value * 100)


# --- Review score ------------------------------------------------------------------------


def _score(values: list[tuple[CategorySpec, Fraction | None]]) -> Decimal | None:
    rated = [(category, value) for category, value in values if value is not None]
    total_weight = sum(category.weight for category, _ in rated)
    if total_weight == 0:
        # Whether a review scores at all depends only on which categories are
        # rated, never on the ratings. A critical fail here still shows through
        # ``critical_failed``, which the tier rules count.
        return None
    if any(category.critical and value < CRITICAL_BELOW for category, value in rated):
        return round_half_up(0)
    weighted = sum((category.weight * value for category, value in rated), Fraction(0))
    return round_half_up(100 * weighted / total_weight)


def compute_score(
    categories: Sequence[CategorySpec], ratings: Mapping[str, int | None]
) -> Decimal | None:
    """The review's score: 100·Σwᵢvᵢ/Σwᵢ over rated categories, half-up to one decimal.

    N/A (None) categories are skipped. A critical category rated below the
    middle of its scale (v < ½) makes the score 0.0. When nothing is rated or
    the rated weights sum to 0, the score is None and counts nowhere.

    Raises ``RatingsInvalid`` (a ValueError) when a rating is outside its
    scale, missing, N/A where not allowed, or for an unknown category.
    """
    return _score(_values(categories, ratings, partial=False))


def compute_partial_score(
    categories: Sequence[CategorySpec], ratings: Mapping[str, int | None]
) -> Decimal | None:
    """``compute_score`` for a draft: categories not rated yet are skipped, not refused."""
    return _score(_values(categories, ratings, partial=True))


def passes(score: Decimal | None, pass_mark: int) -> bool:
    return score is not None and score >= pass_mark


def critical_failed(categories: Sequence[CategorySpec], ratings: Mapping[str, int | None]) -> bool:
    """Whether a critical category is rated below the middle of its scale (missing ones skip)."""
    return any(
        category.critical and value is not None and value < CRITICAL_BELOW
        for category, value in _values(categories, ratings, partial=True)
    )


def category_breakdown(
    categories: Sequence[CategorySpec], ratings: Mapping[str, int | None]
) -> dict[str, Fraction | None]:
    """The raw v of every category in scorecard order; None for N/A or not rated."""
    values = dict(
        (category.key, value) for category, value in _values(categories, ratings, partial=True)
    )
    return {category.key: values.get(category.key) for category in categories}


# --- Calibration -------------------------------------------------------------------------


def alignment(
    categories: Sequence[CategorySpec],
    ratings: Mapping[str, int | None],
    gold: Mapping[str, int | None],
) -> Decimal | None:
    """How close a reviewer's ratings are to the gold review: 100·(1 − Σwᵢ|vᵢ − goldᵢ|/Σwᵢ).

    N/A on one side only counts as the widest difference, 1; N/A on both sides
    leaves the category out. None when no weight is left. Both sides must be
    complete, valid ratings.
    """
    own = dict((c.key, v) for c, v in _values(categories, ratings, partial=False))
    reference = dict((c.key, v) for c, v in _values(categories, gold, partial=False))
    total_weight = 0
    weighted_difference = Fraction(0)
    for category in categories:
        value, gold_value = own[category.key], reference[category.key]
        if value is None and gold_value is None:
            continue
        one_sided = value is None or gold_value is None
        difference = Fraction(1) if one_sided else abs(value - gold_value)
        total_weight += category.weight
        weighted_difference += category.weight * difference
    if total_weight == 0:
        return None
    return round_half_up(100 * (1 - weighted_difference / total_weight))


@dataclass(frozen=True)
class Spread:
    """How far apart calibration scores are; exact except the square root in ``sd``."""

    min: Fraction
    max: Fraction
    spread: Fraction
    sd: Decimal  # population standard deviation, 28 significant digits
    count: int = 0


def spread_stats(values: Sequence[Decimal | Fraction]) -> Spread:
    """Min, max, max − min and population SD of ``values`` (category v or review scores)."""
    if not values:
        raise ValueError("spread_stats needs at least one value.")
    exact = [Fraction(value) for value in values]
    mean = sum(exact, Fraction(0)) / len(exact)
    variance = sum(((value - mean) ** 2 for value in exact), Fraction(0)) / len(exact)
    sd = (Decimal(variance.numerator) / Decimal(variance.denominator)).sqrt()
    low, high = min(exact), max(exact)
    return Spread(min=low, max=high, spread=high - low, sd=sd, count=len(exact))


# --- Agent QA score ----------------------------------------------------------------------


@dataclass(frozen=True)
class AgentScore:
    """An agent's QA score: the mean of recent review scores, with what it rests on."""

    score: Decimal | None
    count: int
    provisional: bool
    window_days: int = WINDOW_DAYS

    def describe(self) -> str:
        """e.g. "QA 92.4 (14 reviews, 30 d)", the form reasons and review pages show."""
        shown = "unscored" if self.score is None else f"QA {self.score}"
        return f"{shown} ({_reviews(self.count)}, {self.window_days} d)"


def agent_qa_score(scored: Sequence[tuple[Decimal, datetime]], *, now: datetime) -> AgentScore:
    """Mean of the scores given in the last 30 days (at most the 50 most recent).

    Scores of None (reviews that count nowhere) and scores dated after ``now``
    are ignored. Under 5 scores the result is provisional; with none it is None.
    """
    since = now - timedelta(days=WINDOW_DAYS)
    recent = sorted(
        ((score, at) for score, at in scored if score is not None and since <= at <= now),
        key=lambda pair: pair[1],
        reverse=True,
    )[:MAX_REVIEWS_IN_SCORE]
    count = len(recent)
    if count == 0:
        return AgentScore(score=None, count=0, provisional=True)
    mean = sum((Fraction(score) for score, _ in recent), Fraction(0)) / count
    return AgentScore(score=round_half_up(mean), count=count, provisional=count < PROVISIONAL_BELOW)


# --- Tiers and eligibility ---------------------------------------------------------------


@dataclass(frozen=True)
class TierDecision:
    move: int  # -1 demote, 0 stay, +1 promote
    reason: str


def _reviews(count: int) -> str:
    return f"{count} review" if count == 1 else f"{count} reviews"


def _critical_fails(count: int) -> str:
    if count == 0:
        return "no critical fail"
    return f"{count} critical fail" if count == 1 else f"{count} critical fails"


def _number(value: Decimal | int) -> str:
    """75 rather than 75.0 or 7.5E+1 for a threshold; 71.3 stays 71.3."""
    value = Decimal(value)
    return str(value.quantize(Decimal(1))) if value == value.to_integral_value() else str(value)


def tier_decision(
    *,
    score: AgentScore,
    critical_fails_30d: int,
    last_move_at: datetime | None,
    now: datetime,
    tier: int,
    max_tier: int = 5,
    min_tier: int = 1,
) -> TierDecision:
    """One step up or down, or none, with a reason the agent can read.

    Promote at QA ≥ 90 over ≥ 10 reviews with no critical fail in 30 days;
    demote below 75 or at ≥ 2 critical fails. Never on a provisional score,
    and at most one move per 7 days.
    """
    window = f"in {score.window_days} days"
    if score.provisional or score.score is None:
        return TierDecision(
            0,
            f"No change: the QA score is provisional ({_reviews(score.count)} {window}; "
            f"{PROVISIONAL_BELOW} needed).",
        )
    basis = f"QA {score.score} over {_reviews(score.count)} {window}"
    if score.score < DEMOTE_BELOW or critical_fails_30d >= DEMOTE_CRITICAL_FAILS:
        move = -1
        if score.score < DEMOTE_BELOW:
            why = f"{basis}, below {_number(DEMOTE_BELOW)}"
            if critical_fails_30d:
                why += f", and {_critical_fails(critical_fails_30d)}"
        else:
            why = f"{_critical_fails(critical_fails_30d)} {window} ({basis})"
        verb, limit_reached = "Demoted", tier <= min_tier
        limit_text = "already at the lowest tier"
    elif (
        score.score >= PROMOTE_AT and score.count >= PROMOTE_MIN_REVIEWS and critical_fails_30d == 0
    ):
        move = 1
        why = f"{basis}, no critical fail"
        verb, limit_reached = "Promoted", tier >= max_tier
        limit_text = "already at the top tier"
    else:
        return TierDecision(
            0,
            f"No change: {basis}, {_critical_fails(critical_fails_30d)} (promotion needs "
            f"{_number(PROMOTE_AT)} over at least {PROMOTE_MIN_REVIEWS} reviews and no "
            f"critical fail; demotion comes below {_number(DEMOTE_BELOW)} or at "
            f"{DEMOTE_CRITICAL_FAILS} critical fails).",
        )
    if limit_reached:
        return TierDecision(0, f"No change: {limit_text} ({why}).")
    if last_move_at is not None and now - last_move_at < TIER_MOVE_COOLDOWN:
        return TierDecision(
            0,
            f"No change yet: would be {verb.lower()} ({why}), but the tier last changed on "
            f"{last_move_at:%Y-%m-%d}, less than {TIER_MOVE_COOLDOWN.days} days ago.",
        )
    return TierDecision(move, f"{verb}: {why}.")


def eligibility_reason(
    *, gig_score: AgentScore, overall: AgentScore, minimum: Decimal | int | None
) -> str | None:
    """Why an agent's QA score keeps them off a gig, or None when it does not.

    The per-gig score decides; while it is provisional the overall score
    decides instead, and a provisional overall score passes (new agents must
    be able to earn a score somewhere).
    """
    if minimum is None:
        return None
    if not gig_score.provisional and gig_score.score is not None:
        deciding, label = gig_score, "QA"
    elif not overall.provisional and overall.score is not None:
        deciding, label = overall, "Overall QA"
    else:
        return None
    if deciding.score >= Decimal(minimum):
        return None
    return (
        f"{label} {deciding.score} < {_number(minimum)} "
        f"({_reviews(deciding.count)}, {deciding.window_days} d)"
    )
