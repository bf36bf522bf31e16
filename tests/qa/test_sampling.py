"""Sampling decisions: seeded, repeatable, and every reason that applies listed once."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from qa.sampling import (
    SamplingSettings,
    TaskFacts,
    iso_week,
    random_pick,
    sampling_reasons,
    weekly_topup_needed,
    weekly_topup_pick,
)

SALT = "gig-salt"


def facts(task_id=1, *, csat=5, escalated=False, index=50, gig_id=7, agent_id=3) -> TaskFacts:
    return TaskFacts(
        gig_id=gig_id,
        task_id=task_id,
        agent_id=agent_id,
        csat=csat,
        escalated=escalated,
        agent_task_index_since_approval=index,
    )


def picked(task_ids, *, salt=SALT, pct=Decimal(5), gig_id=7) -> set[int]:
    return {task_id for task_id in task_ids if random_pick(gig_id, task_id, salt, pct)}


# --- Random pick -------------------------------------------------------------------------


def test_random_pick_is_the_documented_formula():
    for task_id in range(1, 500):
        expected = random.Random(f"7:{task_id}:{SALT}").random() < 0.05
        assert random_pick(7, task_id, SALT, Decimal(5)) is expected


def test_same_seed_gives_the_same_picks():
    assert picked(range(1, 5000)) == picked(range(1, 5000))


def test_another_salt_gives_other_picks():
    assert picked(range(1, 5000)) != picked(range(1, 5000), salt="another")


def test_another_gig_gives_other_picks():
    assert picked(range(1, 5000)) != picked(range(1, 5000), gig_id=8)


def test_random_pick_takes_about_the_percentage():
    # Seeded, so this is a fixed figure, not a flaky statistic.
    assert 400 <= len(picked(range(1, 10_001))) <= 600


def test_random_pick_accepts_a_fractional_percentage():
    assert 5 <= len(picked(range(1, 10_001), pct=Decimal("0.5"))) <= 100


def test_zero_percent_picks_nothing_and_100_picks_everything():
    assert picked(range(1, 2000), pct=0) == set()
    assert picked(range(1, 2000), pct=100) == set(range(1, 2000))


@pytest.mark.parametrize("pct", [Decimal("-1"), Decimal("100.1")])
def test_random_pick_refuses_a_percentage_outside_0_100(pct):
    with pytest.raises(ValueError, match="between 0 and 100"):
        random_pick(1, 1, SALT, pct)


# --- Reasons -----------------------------------------------------------------------------


def first_randomly_picked_task() -> int:
    return next(task_id for task_id in range(1, 10_000) if random_pick(7, task_id, SALT, 5))


def first_task_not_randomly_picked() -> int:
    return next(task_id for task_id in range(1, 10_000) if not random_pick(7, task_id, SALT, 5))


def test_no_reason_for_an_ordinary_task():
    task = facts(first_task_not_randomly_picked())
    assert sampling_reasons(task_facts=task, settings=SamplingSettings(), salt=SALT) == []


def test_all_reasons_merge_in_order():
    task = facts(first_randomly_picked_task(), csat=1, escalated=True, index=1)
    assert sampling_reasons(task_facts=task, settings=SamplingSettings(), salt=SALT) == [
        "random",
        "low_csat",
        "escalation",
        "new_agent",
    ]


def test_random_reason_follows_random_pick():
    task = facts(first_randomly_picked_task())
    assert sampling_reasons(task_facts=task, settings=SamplingSettings(), salt=SALT) == ["random"]


@pytest.mark.parametrize(("csat", "sampled"), [(1, True), (2, True), (3, False), (None, False)])
def test_low_csat_reason_at_or_below_the_setting(csat, sampled):
    task = facts(first_task_not_randomly_picked(), csat=csat)
    reasons = sampling_reasons(task_facts=task, settings=SamplingSettings(), salt=SALT)
    assert ("low_csat" in reasons) is sampled


def test_escalation_reason_can_be_turned_off():
    task = facts(first_task_not_randomly_picked(), escalated=True)
    on = sampling_reasons(task_facts=task, settings=SamplingSettings(), salt=SALT)
    off = sampling_reasons(
        task_facts=task, settings=SamplingSettings(every_escalation=False), salt=SALT
    )
    assert (on, off) == (["escalation"], [])


@pytest.mark.parametrize(("index", "sampled"), [(1, True), (10, True), (11, False)])
def test_new_agent_reason_covers_the_first_n_tasks(index, sampled):
    task = facts(first_task_not_randomly_picked(), index=index)
    reasons = sampling_reasons(task_facts=task, settings=SamplingSettings(), salt=SALT)
    assert ("new_agent" in reasons) is sampled


def test_new_agent_reason_off_when_first_n_is_0():
    task = facts(first_task_not_randomly_picked(), index=1)
    settings = SamplingSettings(first_n=0)
    assert sampling_reasons(task_facts=task, settings=settings, salt=SALT) == []


def test_default_settings_match_the_issue():
    assert SamplingSettings() == SamplingSettings(
        random_pct=Decimal(5), csat_max=2, every_escalation=True, first_n=10, weekly_min=2
    )


# --- Weekly top-up -----------------------------------------------------------------------

CANDIDATES = [101, 105, 109, 113, 117, 121, 125, 129]


def test_topup_picks_the_number_needed_from_the_candidates():
    chosen = weekly_topup_pick(7, 3, "2026-W49", CANDIDATES, 2)
    assert len(chosen) == 2
    assert set(chosen) <= set(CANDIDATES)
    assert chosen == sorted(chosen)


def test_topup_is_deterministic_whatever_the_candidate_order():
    shuffled = list(reversed(CANDIDATES)) + CANDIDATES[:3]
    assert weekly_topup_pick(7, 3, "2026-W49", CANDIDATES, 3) == weekly_topup_pick(
        7, 3, "2026-W49", shuffled, 3
    )


def test_topup_seed_is_gig_agent_and_week():
    pool = sorted(set(CANDIDATES))
    expected = sorted(random.Random("7:3:2026-W49").sample(pool, 3))
    assert weekly_topup_pick(7, 3, "2026-W49", CANDIDATES, 3) == expected


def test_topup_differs_between_weeks():
    picks = {
        tuple(weekly_topup_pick(7, 3, f"2026-W{week:02d}", CANDIDATES, 2)) for week in range(1, 11)
    }
    assert len(picks) > 1


def test_topup_takes_every_candidate_when_there_are_too_few():
    assert weekly_topup_pick(7, 3, "2026-W49", [9, 4, 9], 5) == [4, 9]


def test_topup_of_nothing_needed_is_empty():
    assert weekly_topup_pick(7, 3, "2026-W49", CANDIDATES, 0) == []


def test_topup_refuses_a_negative_count():
    with pytest.raises(ValueError):
        weekly_topup_pick(7, 3, "2026-W49", CANDIDATES, -1)


@pytest.mark.parametrize(("already", "needed"), [(0, 2), (1, 1), (2, 0), (5, 0)])
def test_topup_reaches_the_weekly_minimum(already, needed):
    assert weekly_topup_needed(weekly_min=2, reviews_this_week=already) == needed
    chosen = weekly_topup_pick(7, 3, "2026-W49", CANDIDATES, needed)
    assert already + len(chosen) >= 2


# --- ISO week ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "week"),
    [
        (datetime(2026, 12, 3, 12, 0, tzinfo=UTC), "2026-W49"),
        (datetime(2027, 1, 1, 0, 0, tzinfo=UTC), "2026-W53"),
        (date(2025, 12, 29), "2026-W01"),
        (date(2026, 3, 2), "2026-W10"),
    ],
)
def test_iso_week(moment, week):
    assert iso_week(moment) == week
