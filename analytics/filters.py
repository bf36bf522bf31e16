"""The metrics filters, shared by the brand dashboard, its exports, its
drill-downs and ``GET /api/v1/metrics``: one FilterSet over ``MetricDay``.

The date range is whole days in the brand's time zone, ``start`` to ``end``
included, at most two years; missing dates default to the last
``DEFAULT_DAYS`` days. Gig and agent choices are the brand's own, so a gig or
agent of another brand is an invalid choice (a form error, an API 400 naming
the field), never a silent empty result.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from analytics.models import MetricDay
from analytics.selectors import Period
from brands.models import Brand, PoolMembership, PoolTier
from gigs.models import Gig
from marketplace.languages import LANGUAGE_CHOICES
from marketplace.models import User

DEFAULT_DAYS = 28
MAX_YEARS = 2
# Dates outside these have no figures, and would overflow the previous period.
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def brand_today(brand: Brand) -> date:
    return timezone.now().astimezone(ZoneInfo(brand.time_zone)).date()


class AgentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.full_name or obj.email


class AgentChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = AgentChoiceField


class PeriodChecks:
    """The checks of a range of days (``start``, ``end``), for any form holding one."""

    def clean(self):
        cleaned = super().clean()
        for name in ("start", "end"):
            day = cleaned.get(name)
            if day is not None and not (EARLIEST <= day <= LATEST):
                self.add_error(name, f"Choose a date from {EARLIEST} to {LATEST}.")
        # add_error drops a refused date from cleaned_data.
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The end date is before the start date.")
            elif end >= _years_later(start, MAX_YEARS):
                self.add_error("end", "Choose a range of at most two years.")
        return cleaned


def with_default_dates(data, today: date):
    """``data`` (a QueryDict or dict) with missing dates set to the last
    ``DEFAULT_DAYS`` days, ``today`` included."""
    data = data.copy() if data is not None else {}
    if not data.get("start"):
        data["start"] = (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    if not data.get("end"):
        data["end"] = today.isoformat()
    return data


class MetricFilterForm(PeriodChecks, forms.Form):
    pass


class PeriodForm(PeriodChecks, forms.Form):
    """A range of whole days for pages without the brand filters (the agent's
    figures, the staff console), checked as the dashboard checks its own."""

    start = forms.DateField(
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2026-03-01."},
    )
    end = forms.DateField(
        label="To (inclusive)",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2026-03-31."},
    )

    def __init__(self, data=None, *, today: date, **kwargs):
        super().__init__(with_default_dates(data, today), **kwargs)

    def period(self, zone: ZoneInfo) -> Period:
        return Period(self.cleaned_data["start"], self.cleaned_data["end"], zone)


class MetricFilter(django_filters.FilterSet):
    """Filters the daily roll-up rows (``MetricDay``) of one brand. Build it
    with ``brand=``; read the period from ``period`` once ``is_valid()``.

    ``qs`` holds the rows over all agents, or, with an agent or tier filter,
    those agents' rows; ``per_agent_rows()`` always the per-agent rows (to
    group by agent). The two kinds are never mixed: that would count twice.
    """

    start = django_filters.DateFilter(
        label="From",
        method="filter_period",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2026-03-01."},
    )
    end = django_filters.DateFilter(
        label="To (inclusive)",
        method="filter_period",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2026-03-31."},
    )
    gig = django_filters.ModelChoiceFilter(
        queryset=Gig.objects.none(),
        empty_label="All gigs",
        error_messages={"invalid_choice": "Choose one of your gigs, or all gigs."},
    )
    language = django_filters.ChoiceFilter(
        choices=LANGUAGE_CHOICES,
        empty_label="All languages",
        error_messages={"invalid_choice": "Choose a language from the list."},
    )
    agent = AgentChoiceFilter(
        queryset=User.objects.none(),
        empty_label="All agents",
        error_messages={"invalid_choice": "Choose an agent of your pool, or all agents."},
    )
    tier = django_filters.ChoiceFilter(
        label="Pool tier",
        choices=PoolTier.choices,
        empty_label="All tiers",
        method="filter_tier",
        error_messages={"invalid_choice": "Choose a tier from 1 to 5."},
    )

    class Meta:
        model = MetricDay
        form = MetricFilterForm
        fields = ["start", "end", "gig", "language", "agent", "tier"]

    def __init__(self, data=None, *args, brand: Brand, **kwargs):
        self.brand = brand
        data = with_default_dates(data, brand_today(brand))
        super().__init__(data, *args, queryset=MetricDay.objects.filter(brand=brand), **kwargs)
        self.filters["gig"].queryset = Gig.objects.filter(brand=brand).order_by("title", "pk")
        # The languages the brand works in: its gigs' and any its figures hold.
        spoken = set(Gig.objects.filter(brand=brand).values_list("language", flat=True))
        spoken.update(
            MetricDay.objects.filter(brand=brand, all_agents=True)
            .values_list("language", flat=True)
            .distinct()
        )
        self.filters["language"].extra["choices"] = [
            (code, name) for code, name in LANGUAGE_CHOICES if code in spoken
        ]
        self.filters["agent"].queryset = User.objects.filter(
            pool_memberships__brand=brand
        ).order_by("full_name", "pk")

    @property
    def period(self) -> Period:
        data = self.form.cleaned_data
        return Period(data["start"], data["end"], ZoneInfo(self.brand.time_zone))

    def filter_period(self, queryset: QuerySet, name: str, value) -> QuerySet:
        # Both dates are applied together in ``filter_queryset``.
        return queryset

    def filter_tier(self, queryset: QuerySet, name: str, value) -> QuerySet:
        if value in (None, ""):
            return queryset
        agents = PoolMembership.objects.filter(brand=self.brand, tier=value).values("agent_id")
        return queryset.filter(agent_id__in=agents)

    def _rows(self, period: Period, *, per_agent: bool) -> QuerySet[MetricDay]:
        data = self.form.cleaned_data
        by_agent = per_agent or data.get("agent") is not None or data.get("tier") not in (None, "")
        rows = MetricDay.objects.filter(
            brand=self.brand, day__gte=period.first, day__lte=period.last, all_agents=not by_agent
        )
        return super().filter_queryset(rows)

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return self._rows(self.period, per_agent=False)

    def per_agent_rows(self) -> QuerySet[MetricDay]:
        """The period's rows per agent, with the same filters (for ``figures_by`` agent)."""
        return self._rows(self.period, per_agent=True)

    def rows_by(self, dimension: str) -> QuerySet[MetricDay]:
        """The rows to group by ``dimension`` (a ``figures_by`` column): per
        agent to group by agent, else those of ``qs``."""
        return self.per_agent_rows() if dimension == "agent_id" else self.qs

    def previous_rows(self) -> QuerySet[MetricDay]:
        """The same filters over the period of the same length just before."""
        return self._rows(self.period.previous(), per_agent=False)

    @property
    def active_filters(self) -> dict[str, object]:
        """The non-date filters in use, for drill-down links and headings."""
        data = self.form.cleaned_data
        return {
            name: data[name]
            for name in ("gig", "language", "agent", "tier")
            if data.get(name) not in (None, "")
        }
