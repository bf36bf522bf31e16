"""The agent's own figures: per gig they worked in a period, next to the gig's
median over its agents (numbers only, never another agent's identity), their
earnings per engaged hour, and a weekly trend. Agents only, their own rows only.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from analytics.agent_figures import COMPARED_FIGURES, MIN_AGENTS_FOR_MEDIAN
from analytics.agent_figures import agent_figures as figures_of_agent
from analytics.filters import PeriodForm
from analytics.selectors import Figures, Period
from frontend.views.access import forbidden
from frontend.views.agent import NOT_AN_AGENT
from frontend.views.live import wait_label
from marketplace.money import money_format


def _shown(value: float | None, kind: str) -> str:
    """A figure as the page shows it; "–" when it is undefined."""
    if value is None:
        return "–"
    if kind == "count":
        return str(round(value)) if value == int(value) else f"{value:.1f}"
    if kind == "duration":
        return wait_label(round(value))
    if kind == "percent":
        return f"{value:.1f}%"
    if kind == "score":
        return f"{value:.1f}"
    return f"{value:.2f}"


def _figure_rows(mine: Figures, medians: dict[str, float | None]) -> list[dict]:
    return [
        {
            "name": name,
            "label": label,
            "mine": _shown(getattr(mine, name), kind),
            "median": _shown(medians[name], kind),
        }
        for name, label, kind in COMPARED_FIGURES
    ]


def _per_hour(item: Figures) -> list[str]:
    lines = []
    for currency in item.currencies:
        rate = item.earnings_per_engaged_hour(currency)
        if rate is not None:
            lines.append(f"{money_format(round(rate), currency)} per engaged hour")
    return lines


@login_required
@require_GET
def agent_figures(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_agent:
        return forbidden(request, NOT_AN_AGENT)
    profile = getattr(user, "agent_profile", None)
    zone = ZoneInfo(profile.time_zone if profile else "UTC")
    form = PeriodForm(request.GET, today=timezone.now().astimezone(zone).date())
    context = {"form": form, "min_agents": MIN_AGENTS_FOR_MEDIAN, "zone": zone}
    if not form.is_valid():
        return render(request, "agent/figures.html", context, status=400)
    period = Period(form.cleaned_data["start"], form.cleaned_data["end"], zone)
    result = figures_of_agent(agent=user, period=period)
    context.update(
        {
            "period": period,
            "total": result.total,
            "total_per_hour": _per_hour(result.total),
            "gigs": [
                {
                    "gig": item.gig,
                    "agents": item.agents,
                    "rows": _figure_rows(item.mine, item.medians),
                    "per_hour": _per_hour(item.mine),
                }
                for item in result.gigs
            ],
            "weeks": result.weeks,
            "chart_data": {
                "labels": [week.starts.isoformat() for week in result.weeks],
                "closed": [week.closed for week in result.weeks],
                "csat": [week.csat_rate for week in result.weeks],
            }
            if result.gigs
            else None,
        }
    )
    return render(request, "agent/figures.html", context)
