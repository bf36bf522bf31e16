"""Shapes of ``GET /api/v1/metrics``: its query, for validation, and its
response, for the OpenAPI schema.

The figures themselves are ``Figures.as_dict()``, the same dict the
dashboard's exports write, so the API and the exports cannot disagree;
``FiguresSerializer`` only documents it (a test checks the two have the
same fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics.filters import MetricFilter
from analytics.selectors import Figures, Period, figures, figures_by, figures_by_day
from gigs.models import Gig
from gigs.sla_selectors import agent_public_names
from marketplace.languages import language_name

GROUP_BY_CHOICES = [
    ("none", "No grouping: totals, and the previous period's totals"),
    ("day", "Per day of the brand's time zone, every day of the period"),
    ("gig", "Per gig"),
    ("agent", "Per agent (null: tasks nobody claimed)"),
    ("language", "Per task language"),
]
QUERY_PARAMETERS = ("start", "end", "gig", "language", "agent", "tier", "group_by")
# ``group_by`` → the roll-up column its groups are keyed by.
GROUP_COLUMNS = {"gig": "gig_id", "agent": "agent_id", "language": "language"}


class MetricsQuerySerializer(serializers.Serializer):
    """What ``MetricFilter`` does not check: ``group_by`` and unknown
    parameters, which are refused
    because a mistyped filter (``agnet=``) would otherwise silently answer
    the figures of every agent."""

    group_by = serializers.ChoiceField(
        choices=GROUP_BY_CHOICES,
        default="none",
        error_messages={
            "invalid_choice": "Choose one of none, day, gig, agent or language.",
        },
    )

    def to_internal_value(self, data: Any) -> Any:
        refused = {
            str(name): ["Unknown parameter."] for name in data if name not in QUERY_PARAMETERS
        }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**exc.detail, **refused}) from exc
        if refused:
            raise serializers.ValidationError(refused)
        return value


# --- Response ------------------------------------------------------------------


class MoneyFiguresSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="ISO 4217 code of the gigs' currency.")
    spend_minor = serializers.IntegerField(
        help_text="What the brand paid for the tasks closed in the period, fees included, "
        "in minor units."
    )
    cost_per_resolution_minor = serializers.IntegerField(
        allow_null=True, help_text="Spend per resolved task, in minor units."
    )
    earnings_minor = serializers.IntegerField(
        help_text="What agents earned from work sessions that ended in the period."
    )
    earnings_per_engaged_hour_minor = serializers.IntegerField(
        allow_null=True, help_text="Agent earnings per hour of engaged time, in minor units."
    )


def _count(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(help_text=help_text)


def _seconds(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(allow_null=True, help_text=f"{help_text}, in seconds.")


def _percent(help_text: str) -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, help_text=f"{help_text}, in percent (0–100).")


class FiguresSerializer(serializers.Serializer):
    """Every figure of docs/metrics.md. ``null`` where a figure is undefined
    (nothing to divide by), never 0."""

    tasks_created = _count("Tasks created.")
    tasks_closed = _count("Tasks closed (resolved, escalated or cancelled).")
    tasks_resolved = _count("Tasks resolved by a gig agent.")
    tasks_escalated = _count("Tasks escalated back to the brand.")
    tasks_cancelled = _count("Tasks cancelled.")
    wait_seconds_avg = _seconds("Mean time from creation to the first claim")
    total_wait_seconds_avg = _seconds("Mean time queued per task, every queued interval")
    first_response_seconds_avg = _seconds("Mean time from creation to the first agent reply")
    next_response_seconds_avg = _seconds("Mean time from a customer message to the agent reply")
    handle_seconds_avg = _seconds("Mean billable time per closed task that was worked on")
    resolution_rate = _percent("Resolved / closed")
    escalation_rate = _percent("Escalated / closed")
    first_contact_resolution_rate = _percent(
        "Resolved in the first work session with no reopen / resolved"
    )
    back_and_forths_avg = serializers.FloatField(
        allow_null=True, help_text="Turns between customer and agent per closed task."
    )
    csat_rate = _percent("Ratings of 4 or 5 / ratings")
    csat_mean = serializers.FloatField(allow_null=True, help_text="Mean rating, 1–5.")
    csat_responses = _count("Ratings received.")
    csat_response_rate = _percent("Ratings / resolved tasks")
    qa_reviews = _count("QA reviews submitted.")
    qa_average = serializers.FloatField(allow_null=True, help_text="Mean QA score, 0–10.")
    qa_pass_rate = _percent("Passed reviews / reviews")
    sla_checks = _count("SLA targets checked.")
    sla_breaches = _count("SLA targets breached.")
    sla_hit_rate = _percent("Targets met / targets checked")
    offers_missed = _count("Directed offers that lapsed or were declined.")
    work_sessions = _count("Work sessions that ended.")
    billable_seconds = _count("Billable seconds of those sessions.")
    engaged_seconds = _count("Engaged (active) seconds of those sessions.")
    money = MoneyFiguresSerializer(many=True, help_text="Money figures, one entry per currency.")


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateField(help_text="First day, in the brand's time zone.")
    end = serializers.DateField(help_text="Last day, included.")
    time_zone = serializers.CharField(help_text="The brand's IANA time zone, e.g. Europe/Berlin.")


class PreviousPeriodSerializer(PeriodSerializer):
    figures = FiguresSerializer(help_text="The same filters over the period just before.")


class AppliedFiltersSerializer(serializers.Serializer):
    gig = serializers.IntegerField(allow_null=True)
    language = serializers.CharField(allow_null=True)
    agent = serializers.IntegerField(allow_null=True)
    tier = serializers.IntegerField(allow_null=True)


@extend_schema_field(
    {
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "nullable": True,
        "description": "The gig or agent id, the language code or the ISO date; "
        "null for tasks nobody claimed when grouping by agent.",
    }
)
class GroupKeyField(serializers.Field):
    def to_representation(self, value):
        return value


class GroupSerializer(serializers.Serializer):
    key = GroupKeyField()
    label = serializers.CharField(
        help_text="A name to show: gig title, agent's public name, language name."
    )
    figures = FiguresSerializer()


class MetricsSerializer(serializers.Serializer):
    period = PeriodSerializer()
    filters = AppliedFiltersSerializer(help_text="The filters applied; null for all.")
    group_by = serializers.ChoiceField(choices=GROUP_BY_CHOICES)
    figures = FiguresSerializer(help_text="Totals over the period and filters.")
    previous_period = PreviousPeriodSerializer(
        allow_null=True, help_text="With `group_by=none` only; null otherwise."
    )
    groups = GroupSerializer(many=True, help_text="Empty with `group_by=none`.")


# --- Representation ------------------------------------------------------------


def _period(period: Period) -> dict[str, str]:
    return {
        "start": period.first.isoformat(),
        "end": period.last.isoformat(),
        "time_zone": period.zone.key,
    }


def _groups(filterset: MetricFilter, group_by: str) -> list[dict[str, Any]]:
    rows = filterset.qs
    if group_by == "day":
        by_day: list[tuple[date, Figures]] = figures_by_day(rows, filterset.period)
        return [
            {"key": day.isoformat(), "label": day.isoformat(), "figures": total.as_dict()}
            for day, total in by_day
        ]
    column = GROUP_COLUMNS[group_by]
    grouped: Mapping[Any, Figures] = figures_by(filterset.rows_by(column), column)
    if group_by == "gig":
        gigs = Gig.objects.filter(brand=filterset.brand, pk__in=list(grouped))
        labels = {gig.pk: gig.title for gig in gigs}
    elif group_by == "agent":
        # The public name, as on the dashboard: brands never see an agent's email.
        labels = {
            **agent_public_names(key for key in grouped if key is not None),
            None: "Not claimed",
        }
    else:
        labels = {code: language_name(code) for code in grouped}
    groups = [
        {"key": key, "label": labels.get(key, str(key)), "figures": total.as_dict()}
        for key, total in grouped.items()
    ]
    # Named groups alphabetically; the unclaimed group last.
    return sorted(groups, key=lambda group: (group["key"] is None, group["label"].lower()))


def metrics_representation(filterset: MetricFilter, group_by: str) -> dict[str, Any]:
    """The response of ``GET /api/v1/metrics`` for a valid ``filterset``."""
    data = filterset.form.cleaned_data
    gig, agent = data.get("gig"), data.get("agent")
    representation: dict[str, Any] = {
        "period": _period(filterset.period),
        "filters": {
            "gig": gig.pk if gig else None,
            "language": data.get("language") or None,
            "agent": agent.pk if agent else None,
            "tier": int(data["tier"]) if data.get("tier") else None,
        },
        "group_by": group_by,
        "figures": figures(filterset.qs).as_dict(),
        "previous_period": None,
        "groups": [],
    }
    if group_by == "none":
        representation["previous_period"] = {
            **_period(filterset.period.previous()),
            "figures": figures(filterset.previous_rows()).as_dict(),
        }
    else:
        representation["groups"] = _groups(filterset, group_by)
    return representation
