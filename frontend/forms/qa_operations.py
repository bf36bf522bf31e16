"""Forms of the staff QA operations pages: a tier override and the bonus week.
The services (``qa.tiers.tier_override``, ``qa.feeds.bonus_run``) decide and
may still refuse; their reasons are added to these forms."""

from __future__ import annotations

from django import forms

from brands.models import Brand, PoolTier
from qa.inputs import TEXT_MAX


class TierOverrideForm(forms.Form):
    brand = forms.ModelChoiceField(
        queryset=Brand.objects.order_by("name"), to_field_name="slug", empty_label="Choose…"
    )
    agent = forms.EmailField(
        label="Agent's email",
        widget=forms.EmailInput(attrs={"placeholder": "agent02@gigdesk.demo"}),
    )
    tier = forms.TypedChoiceField(choices=PoolTier.choices, coerce=int, label="New tier")
    # Not required here: ``tier_override`` refuses a blank reason with its own words.
    reason = forms.CharField(
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The agent and the brand see it beside the change.",
    )


class BonusWeekForm(forms.Form):
    week = forms.CharField(
        label="ISO week",
        max_length=20,
        widget=forms.TextInput(attrs={"placeholder": "2026-W48", "size": 9}),
        help_text="Year, W, week number, e.g. 2026-W48.",
    )
