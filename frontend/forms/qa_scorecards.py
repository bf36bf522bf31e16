"""Forms of the QA scorecard editor and the gig and brand QA settings.

They parse what an admin typed into the values ``qa.scorecards`` takes; the
services decide and may still refuse, and ``add_service_errors`` puts each
refusal next to its field.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms

from frontend.forms.gigs import add_service_errors
from marketplace.errors import ValidationFailed
from marketplace.money import currency_decimals, major_units
from qa.models import BonusKind, GigQASettings, Scale, Scorecard, ScorecardVersionStatus
from qa.scorecards import PHRASE_MAX, PHRASES_MAX

CSAT_CHOICES = [("", "None by CSAT"), *((str(n), f"CSAT {n} or lower") for n in range(1, 6))]


class _ServiceErrorsMixin:
    def add_service_errors(self, exc: ValidationFailed, field_map=None) -> None:
        """The service's reason above the form, and its per-field notes by their fields."""
        if exc.fields:
            self.add_error(None, exc.message)
        add_service_errors(self, exc, field_map)


class ScorecardCreateForm(_ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=120)
    pass_mark = forms.IntegerField(
        label="Pass mark (%)",
        min_value=0,
        max_value=100,
        initial=80,
        help_text="A review passes at or above this score.",
    )


class DraftSettingsForm(_ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=120)
    pass_mark = forms.IntegerField(label="Pass mark (%)", min_value=0, max_value=100)


class CategoryForm(_ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What the reviewer looks for; shown beside the rating.",
    )
    scale = forms.ChoiceField(choices=Scale.choices, initial=Scale.FIVE)
    weight = forms.IntegerField(
        min_value=0,
        max_value=100,
        initial=1,
        help_text="0–100, relative to the other categories; 0 leaves it out of the score.",
    )
    critical = forms.BooleanField(
        required=False, help_text="A rating below the middle scores the whole review 0."
    )
    allow_na = forms.BooleanField(
        label="Allow N/A", required=False, help_text="Reviewers may skip it when it does not apply."
    )

    @staticmethod
    def initial_for(category) -> dict:
        return {
            "name": category.name,
            "description": category.description,
            "scale": category.scale,
            "weight": category.weight,
            "critical": category.critical,
            "allow_na": category.allow_na,
        }


class GigQASettingsForm(_ServiceErrorsMixin, forms.Form):
    scorecard = forms.ModelChoiceField(
        queryset=Scorecard.objects.none(),
        required=False,
        help_text="Published scorecards of the platform and of your brand.",
    )
    random_pct = forms.DecimalField(
        label="Random sample (%)", min_value=0, max_value=100, decimal_places=2
    )
    csat_max = forms.TypedChoiceField(
        label="Review every task rated",
        choices=CSAT_CHOICES,
        required=False,
        coerce=int,
        empty_value=None,
    )
    every_escalation = forms.BooleanField(label="Review every escalation", required=False)
    first_n = forms.IntegerField(
        label="First tasks reviewed per agent",
        min_value=0,
        max_value=1000,
        help_text="An agent's first N tasks on this gig after their pool approval.",
    )
    weekly_min = forms.IntegerField(label="Weekly minimum per agent", min_value=0, max_value=100)
    sla_hours = forms.IntegerField(label="Review SLA (hours)", min_value=1, max_value=24 * 14)
    min_qa_score = forms.DecimalField(
        label="Minimum QA score",
        min_value=0,
        max_value=100,
        decimal_places=1,
        required=False,
        help_text="Agents below it are not offered this gig's tasks. Empty: no minimum.",
    )
    bonus_kind = forms.ChoiceField(label="Bonus", choices=BonusKind.choices)
    bonus_fixed = forms.DecimalField(
        label="Fixed bonus per resolution", min_value=0, required=False
    )
    bonus_multiplier_pct = forms.DecimalField(
        label="Rate multiplier (+%)",
        min_value=0,
        max_value=1000,
        decimal_places=2,
        required=False,
        help_text="On top of the rate: 15 pays 15 % more.",
    )
    bonus_threshold = forms.DecimalField(
        label="Bonus QA score threshold",
        min_value=0,
        max_value=100,
        decimal_places=1,
        required=False,
        help_text="Top-tier agents at or above it earn the bonus.",
    )

    def __init__(self, *args, gig, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gig = gig
        self.decimals = currency_decimals(gig.currency)
        self.fields["scorecard"].queryset = (
            Scorecard.objects.usable_by(gig.brand)
            .filter(versions__status=ScorecardVersionStatus.PUBLISHED)
            .distinct()
            .order_by("brand_id", "name", "pk")
        )
        default = Scorecard.objects.filter(is_default=True).first()
        self.fields["scorecard"].empty_label = (
            f"Platform default ({default.name})" if default else "Platform default"
        )
        self.fields["bonus_fixed"].label = f"Fixed bonus per resolution ({gig.currency})"

    def clean_bonus_fixed(self):
        amount = self.cleaned_data["bonus_fixed"]
        if amount is not None and amount != amount.quantize(Decimal(1).scaleb(-self.decimals)):
            raise forms.ValidationError(
                f"{self.gig.currency} amounts have at most {self.decimals} decimal places."
            )
        return amount

    @classmethod
    def initial_for(cls, settings: GigQASettings) -> dict:
        return {
            "scorecard": settings.scorecard_id,
            "random_pct": settings.random_pct,
            "csat_max": settings.csat_max,
            "every_escalation": settings.every_escalation,
            "first_n": settings.first_n,
            "weekly_min": settings.weekly_min,
            "sla_hours": settings.sla_hours,
            "min_qa_score": settings.min_qa_score,
            "bonus_kind": settings.bonus_kind,
            "bonus_fixed": major_units(settings.bonus_fixed_minor, settings.gig.currency),
            "bonus_multiplier_pct": Decimal(settings.bonus_multiplier_bps).scaleb(-2),
            "bonus_threshold": settings.bonus_threshold,
        }

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        fixed = data["bonus_fixed"] or Decimal(0)
        multiplier = data["bonus_multiplier_pct"] or Decimal(0)
        return {
            "scorecard": data["scorecard"],
            "random_pct": data["random_pct"],
            "csat_max": data["csat_max"],
            "every_escalation": data["every_escalation"],
            "first_n": data["first_n"],
            "weekly_min": data["weekly_min"],
            "sla_hours": data["sla_hours"],
            "min_qa_score": data["min_qa_score"],
            "bonus_kind": data["bonus_kind"],
            "bonus_fixed_minor": int(fixed.scaleb(self.decimals)),
            "bonus_multiplier_bps": int(multiplier.scaleb(2)),
            "bonus_threshold": data["bonus_threshold"],
        }

    def add_service_errors(self, exc: ValidationFailed) -> None:
        super().add_service_errors(
            exc,
            field_map={
                "bonus_fixed_minor": "bonus_fixed",
                "bonus_multiplier_bps": "bonus_multiplier_pct",
            },
        )


class BrandQASettingsForm(_ServiceErrorsMixin, forms.Form):
    hide_reviewer_identity = forms.BooleanField(
        label="Hide reviewer identity from agents",
        required=False,
        help_text="Agents see “QA reviewer” instead of the reviewer's name.",
    )
    greeting_phrases = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=f"One per line, at most {PHRASES_MAX} of {PHRASE_MAX} characters. "
        "The automatic check looks for one in the agent's first reply.",
    )
    closing_phrases = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line. The automatic check looks for one in the agent's last reply.",
    )

    @staticmethod
    def initial_for(settings) -> dict:
        return {
            "hide_reviewer_identity": settings.hide_reviewer_identity,
            "greeting_phrases": "\n".join(settings.greeting_phrases),
            "closing_phrases": "\n".join(settings.closing_phrases),
        }

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "hide_reviewer_identity": data["hide_reviewer_identity"],
            "greeting_phrases": data["greeting_phrases"].splitlines(),
            "closing_phrases": data["closing_phrases"].splitlines(),
        }
