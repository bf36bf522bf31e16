"""Forms for agent pools: an agent's application, a brand's invitation and decisions.

They parse and check input; ``brands.services`` makes the change and may still
refuse it (``GigdeskError``), which ``add_service_error`` shows on the form.
"""

from __future__ import annotations

from django import forms

from brands.models import PoolMembership, PoolTier
from frontend.forms.brand import ServiceErrorMixin

TEXT_LIMIT = PoolMembership.NOTE_MAX_LENGTH


class PoolApplyForm(ServiceErrorMixin, forms.Form):
    note = forms.CharField(
        label="Note to the brand",
        required=False,
        max_length=TEXT_LIMIT,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=(
            f"Optional, up to {TEXT_LIMIT} characters: your experience with this kind of "
            "support, the languages you would work in, when you are available."
        ),
    )


class PoolInviteForm(ServiceErrorMixin, forms.Form):
    email = forms.EmailField(
        label="Agent's email address",
        help_text="They must already have a Gigdesk agent account.",
    )


class PoolDecisionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("approve", "Approve"),
            ("reject", "Reject"),
            ("block", "Block"),
            ("unblock", "Unblock"),
            ("set_tier", "Set tier"),
        ]
    )
    reason = forms.CharField(required=False, max_length=TEXT_LIMIT, strip=True)
    tier = forms.TypedChoiceField(
        choices=PoolTier.choices, coerce=int, required=False, empty_value=None
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == "set_tier" and cleaned.get("tier") is None:
            self.add_error("tier", "Choose a tier.")
        return cleaned

    def error_summary(self) -> str:
        return "; ".join(error for errors in self.errors.values() for error in errors)
