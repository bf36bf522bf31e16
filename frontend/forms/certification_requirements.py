"""The form that adds a required certification to a gig or a brand's pool.

It parses the choice; ``assessments.requirements`` decides whether the
assessment may be required at that level and may still refuse it.
"""

from __future__ import annotations

from django import forms

from assessments.requirements import assessments_requirable
from frontend.forms.brand import ServiceErrorMixin
from marketplace.languages import CEFRLevel

ANY_LEVEL = ("", "A pass (any level)")


class CertificationRequirementForm(ServiceErrorMixin, forms.Form):
    assessment = forms.ModelChoiceField(
        queryset=None,
        to_field_name="slug",
        label="Assessment",
        empty_label="Choose an assessment…",
        error_messages={"invalid_choice": "Choose one of the assessments listed."},
    )
    min_level = forms.ChoiceField(
        choices=[ANY_LEVEL, *CEFRLevel.choices],
        required=False,
        label="Minimum level",
        help_text="Language assessments only; a knowledge assessment is a pass.",
    )

    def __init__(self, *args, brand, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assessment"].queryset = assessments_requirable(brand=brand)

    def clean(self):
        cleaned = super().clean()
        assessment = cleaned.get("assessment")
        if assessment is not None and not assessment.is_language and cleaned.get("min_level"):
            self.add_error("min_level", "A knowledge assessment has no level: choose “A pass”.")
        return cleaned

    def error_summary(self) -> str:
        return " ".join(error for errors in self.errors.values() for error in errors)
