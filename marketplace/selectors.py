"""Platform-wide reads for the staff console: the audit log and its filters."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet

from brands.models import Brand
from marketplace.models import AuditEvent


def audit_event_list() -> QuerySet[AuditEvent]:
    """Every audit event, newest first, with what its rows show already joined."""
    return AuditEvent.objects.select_related("actor", "brand").order_by("-created_at", "-id")


def _distinct_values(field: str) -> list[tuple[str, str]]:
    values = (
        AuditEvent.objects.exclude(**{field: ""})
        .order_by(field)
        .values_list(field, flat=True)
        .distinct()
    )
    return [(value, value) for value in values]


class AuditEventFilter(django_filters.FilterSet):
    """Staff filters for the audit log. Dates are whole days in the site time zone."""

    actor = django_filters.CharFilter(
        field_name="actor_label",
        lookup_expr="icontains",
        label="Actor email contains",
    )
    action = django_filters.ChoiceFilter(choices=[], label="Action", empty_label="Any action")
    brand = django_filters.ModelChoiceFilter(
        queryset=Brand.objects.order_by("name"), empty_label="Any brand"
    )
    target_type = django_filters.ChoiceFilter(
        choices=[], label="Target type", empty_label="Any target"
    )
    since = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__gte",
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__lte",
        label="Until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "brand", "target_type", "since", "until"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Choices are the values actually logged, so a new action type shows
        # up in the filter without anyone maintaining a list.
        self.filters["action"].extra["choices"] = _distinct_values("action")
        self.filters["target_type"].extra["choices"] = _distinct_values("target_type")
