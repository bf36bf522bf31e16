"""Staff console: the earnings list's filters and the clawback form.

The list looks across every brand and agent on purpose: it is the staff
console. The clawback itself, and every rule about it (staff only, a reason,
once), is ``payouts.earnings.earning_clawback``.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet

from brands.models import Brand
from payouts.models import Earning, EarningStatus

CLAWBACK_REASON_MAX_LENGTH = 1000


def staff_earning_list() -> QuerySet[Earning]:
    """Every earning, newest first, with what a row shows already joined."""
    return Earning.objects.select_related("agent", "brand", "gig", "work_record").order_by(
        "-earned_at", "-id"
    )


def _currencies() -> list[tuple[str, str]]:
    values = Earning.objects.order_by("currency").values_list("currency", flat=True).distinct()
    return [(value, value) for value in values]


class EarningFilter(django_filters.FilterSet):
    """Staff filters for the earnings list. Dates are whole days in the site time zone."""

    agent = django_filters.CharFilter(
        field_name="agent__email", lookup_expr="icontains", label="Agent email contains"
    )
    brand = django_filters.ModelChoiceFilter(
        queryset=Brand.objects.order_by("name"), empty_label="Any brand"
    )
    status = django_filters.ChoiceFilter(
        choices=EarningStatus.choices, label="Status", empty_label="Any status"
    )
    currency = django_filters.ChoiceFilter(choices=[], label="Currency", empty_label="Any currency")
    since = django_filters.DateFilter(
        field_name="earned_at",
        lookup_expr="date__gte",
        label="Earned from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="earned_at",
        lookup_expr="date__lte",
        label="Earned until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = Earning
        fields = ["agent", "brand", "status", "currency", "since", "until"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The currencies earnings were actually paid in: no list to maintain.
        self.filters["currency"].extra["choices"] = _currencies()


class ClawbackForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=CLAWBACK_REASON_MAX_LENGTH,
        help_text="The agent sees this on their earnings statement.",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say why the earning is clawed back; the agent sees it."},
    )
