"""An agent's own figures for a period: per gig they worked, next to the
gig's median over its agents, and a weekly trend.

The median is the only thing read from other agents' rows, and it leaves
their identities behind: callers get numbers, never an agent id. A median
over one or two agents would give the other agent's figure away (the median
of two is their mean), so a figure's median needs ``MIN_AGENTS_FOR_MEDIAN``
agents with that figure, else it is ``None`` ("–").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Sum

from analytics.rollup import MEASURES
from analytics.selectors import (
    Figures,
    Period,
    figures_by,
    figures_by_day,
    gig_median,
    metric_hours,
)
from gigs.models import Gig

MIN_AGENTS_FOR_MEDIAN = 3

# (Figures attribute, label, how to show it) in the order the page lists them.
COMPARED_FIGURES = (
    ("closed", "Tasks closed", "count"),
    ("handle_avg", "Handle time", "duration"),
    ("resolution_rate", "Resolution rate", "percent"),
    ("fcr_rate", "First-contact resolution", "percent"),
    ("csat_rate", "CSAT (4–5 of 5)", "percent"),
    ("qa_avg", "QA average", "score"),
    ("back_and_forths_avg", "Back-and-forths per task", "decimal"),
    ("first_response_avg", "First response", "duration"),
    ("sla_hit_rate", "SLA hit rate", "percent"),
)


@dataclass
class GigComparison:
    """The agent's figures on one gig and the gig's medians (no identities)."""

    gig: Gig
    mine: Figures
    medians: dict[str, float | None]
    # How many agents worked the gig in the period (the agent included).
    agents: int


@dataclass
class WeekTrend:
    starts: date  # the Monday (or the period's first day for a partial first week)
    closed: int = 0
    rated: int = 0
    satisfied: int = 0

    @property
    def csat_rate(self) -> float | None:
        return round(100 * self.satisfied / self.rated, 1) if self.rated else None


@dataclass
class AgentFigures:
    period: Period
    total: Figures
    gigs: list[GigComparison] = field(default_factory=list)
    weeks: list[WeekTrend] = field(default_factory=list)


def _worked(figures_of_gig: Figures) -> bool:
    """Whether the agent did any work on a gig (a missed offer alone is not work)."""
    sums = figures_of_gig.sums
    return bool(sums["sessions"] or sums["closed"] or sums["first_responses"] or sums["qa_reviews"])


def _per_gig_and_agent(rows) -> dict[int, dict[int, Figures]]:
    """Figures per gig and agent (agents only: unclaimed work has no agent), one query."""
    grouped: dict[int, dict[int, Figures]] = defaultdict(lambda: defaultdict(Figures))
    summed = (
        rows.filter(agent_id__isnull=False)
        .order_by()
        .values("gig_id", "agent_id", "currency")
        .annotate(**{name: Sum(name) for name in MEASURES})
    )
    for row in summed:
        grouped[row["gig_id"]][row["agent_id"]].add_row(row)
    return grouped


def peer_medians(per_agent: dict[int, Figures]) -> dict[str, float | None]:
    """Each compared figure's median over ``per_agent``, or ``None`` when fewer
    than ``MIN_AGENTS_FOR_MEDIAN`` agents have it."""
    medians = {}
    for name, _label, _kind in COMPARED_FIGURES:
        having = {key: item for key, item in per_agent.items() if getattr(item, name) is not None}
        medians[name] = gig_median(having, name) if len(having) >= MIN_AGENTS_FOR_MEDIAN else None
    return medians


def _weeks(days: list[tuple[date, Figures]]) -> list[WeekTrend]:
    weeks: dict[date, WeekTrend] = {}
    for day, day_figures in days:
        monday = day - timedelta(days=day.weekday())
        week = weeks.setdefault(monday, WeekTrend(starts=max(monday, days[0][0])))
        week.closed += day_figures.closed
        week.rated += day_figures.rated
        week.satisfied += day_figures.satisfied
    return list(weeks.values())


def agent_figures(*, agent, period: Period) -> AgentFigures:
    """``agent``'s figures in ``period`` (their own rows only), each gig they
    worked with its medians, and their closed tasks and CSAT per week.

    Four queries whatever the number of gigs: the agent's rows per gig, the
    gigs, every agent's rows of those gigs, and the agent's rows per day.
    """
    mine = metric_hours(start=period.start, end=period.end, agent_ids=[agent.pk])
    per_gig = {gig_id: item for gig_id, item in figures_by(mine, "gig_id").items() if _worked(item)}
    total = Figures()
    for item in per_gig.values():
        _merge(total, item)
    result = AgentFigures(period=period, total=total)
    if per_gig:
        gigs = Gig.objects.filter(pk__in=list(per_gig)).select_related("brand")
        peers = _per_gig_and_agent(
            metric_hours(start=period.start, end=period.end, gig_ids=list(per_gig))
        )
        for gig in sorted(gigs, key=lambda g: (g.brand.name, g.title, g.pk)):
            result.gigs.append(
                GigComparison(
                    gig=gig,
                    mine=per_gig[gig.pk],
                    medians=peer_medians(peers.get(gig.pk, {})),
                    agents=len(peers.get(gig.pk, {})),
                )
            )
    result.weeks = _weeks(figures_by_day(mine, period))
    return result


def _merge(total: Figures, item: Figures) -> None:
    for name, value in item.sums.items():
        total.sums[name] += value
    for currency, money in item.money.items():
        into = total.money.setdefault(currency, dict.fromkeys(money, 0))
        for name, value in money.items():
            into[name] += value
