"""Which closed tasks get a QA review, and why: pure, seeded decisions.

Every choice is seeded from the ids it concerns, so rerunning the sampler
(after a crash, or to explain a decision) picks exactly the same tasks.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

REASON_RANDOM = "random"
REASON_LOW_CSAT = "low_csat"
REASON_ESCALATION = "escalation"
REASON_NEW_AGENT = "new_agent"
# Named after ``qa.models.SamplingReason.WEEKLY_TOPUP``: a weekly top-up assignment.
REASON_WEEKLY_TOPUP = "weekly_topup"
# The order reasons are listed in wherever they show.
REASONS = (REASON_RANDOM, REASON_LOW_CSAT, REASON_ESCALATION, REASON_NEW_AGENT)


@dataclass(frozen=True)
class TaskFacts:
    gig_id: int
    task_id: int
    agent_id: int
    csat: int | None
    escalated: bool
    agent_task_index_since_approval: int  # 1 for the agent's first task on the gig


@dataclass(frozen=True)
class SamplingSettings:
    random_pct: Decimal = Decimal(5)  # percent, 0..100
    csat_max: int = 2  # sample every task rated at or below this; 0 turns it off
    every_escalation: bool = True
    first_n: int = 10  # an agent's first N tasks after approval; 0 turns it off
    weekly_min: int = 2  # reviews per agent per ISO week, topped up at week end


def random_pick(gig_id: int, task_id: int, salt: str, pct: Decimal | float | int) -> bool:
    """Whether the random sample takes this task; ``pct`` is a percentage, 0..100."""
    if not 0 <= pct <= 100:
        raise ValueError(f"The random sample is a percentage between 0 and 100, not {pct}.")
    return random.Random(f"{gig_id}:{task_id}:{salt}").random() < pct / 100


def sampling_reasons(*, task_facts: TaskFacts, settings: SamplingSettings, salt: str) -> list[str]:
    """Every reason to review this task, in ``REASONS`` order; empty when none applies."""
    reasons = []
    if random_pick(task_facts.gig_id, task_facts.task_id, salt, settings.random_pct):
        reasons.append(REASON_RANDOM)
    if task_facts.csat is not None and task_facts.csat <= settings.csat_max:
        reasons.append(REASON_LOW_CSAT)
    if settings.every_escalation and task_facts.escalated:
        reasons.append(REASON_ESCALATION)
    if 1 <= task_facts.agent_task_index_since_approval <= settings.first_n:
        reasons.append(REASON_NEW_AGENT)
    return reasons


def weekly_topup_needed(*, weekly_min: int, reviews_this_week: int) -> int:
    """How many more reviews the agent needs this ISO week to reach the minimum."""
    return max(0, weekly_min - reviews_this_week)


def weekly_topup_pick(
    gig_id: int, agent_id: int, iso_week: str, candidates: Sequence[int], needed: int
) -> list[int]:
    """``needed`` task ids from ``candidates`` (all of them if fewer), in ascending order.

    The candidates are sorted and de-duplicated first, so the pick depends on
    which tasks are candidates, not on the order a query returned them in.
    """
    if needed < 0:
        raise ValueError(f"Cannot pick {needed} tasks.")
    pool = sorted(set(candidates))
    if needed >= len(pool):
        return pool
    chooser = random.Random(f"{gig_id}:{agent_id}:{iso_week}")
    return sorted(chooser.sample(pool, needed))


def iso_week(moment: datetime | date) -> str:
    """The ISO week of ``moment`` in its own timezone, e.g. "2026-W49" (pass UTC times)."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"
