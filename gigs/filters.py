"""django-filter FilterSets for gig and task lists, shared by the brand console and the API."""

from __future__ import annotations

import django_filters
from django import forms

from gigs.models import DispatchMode, Gig, GigStatus, PayModel, Task, TaskPriority, TaskStatus
from marketplace.languages import LANGUAGE_CHOICES


class GigFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="title", lookup_expr="icontains", label="Title")
    status = django_filters.ChoiceFilter(choices=GigStatus.choices)
    language = django_filters.ChoiceFilter(choices=LANGUAGE_CHOICES)
    pay_model = django_filters.ChoiceFilter(choices=PayModel.choices)
    dispatch_mode = django_filters.ChoiceFilter(choices=DispatchMode.choices)

    class Meta:
        model = Gig
        fields = ["q", "status", "language", "pay_model", "dispatch_mode"]


class TaskFilter(django_filters.FilterSet):
    """Filters for a brand's tasks; ``brand`` limits the gig choices to that brand's gigs."""

    q = django_filters.CharFilter(field_name="subject", lookup_expr="icontains", label="Subject")
    status = django_filters.ChoiceFilter(choices=TaskStatus.choices)
    gig = django_filters.ModelChoiceFilter(queryset=Gig.objects.none())
    language = django_filters.ChoiceFilter(choices=LANGUAGE_CHOICES)
    priority = django_filters.ChoiceFilter(choices=TaskPriority.choices)
    external_id = django_filters.CharFilter()
    customer_reference = django_filters.CharFilter()
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    class Meta:
        model = Task
        fields = [
            "q",
            "status",
            "gig",
            "language",
            "priority",
            "external_id",
            "customer_reference",
            "created_after",
            "created_before",
        ]

    def __init__(self, *args, brand=None, **kwargs):
        super().__init__(*args, **kwargs)
        gigs = Gig.objects.for_brand(brand) if brand is not None else Gig.objects.none()
        self.filters["gig"].queryset = gigs
