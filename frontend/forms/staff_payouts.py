"""Staff console: the pay run forms (new run, cancel, reverse a paid line).

They parse what staff typed ("25.00") into exact minor units; every rule
that matters (who may act, which currency, the limits, the state a run or
line must be in) is ``payouts.payruns``'s, whose refusals come back onto
these forms.
"""

from __future__ import annotations

from django import forms

from frontend.forms.gigs import minor_units
from payouts.funding import TOPUP_DEFAULT_CURRENCIES
from payouts.models import LedgerAccount, Purpose

REASON_MAX_LENGTH = 1000


def payrun_currencies() -> list[str]:
    """The currencies agents hold money in, else the platform's defaults."""
    held = (
        LedgerAccount.objects.filter(purpose=Purpose.AGENT_AVAILABLE)
        .order_by()
        .values_list("currency", flat=True)
        .distinct()
    )
    return sorted(set(held) | set(TOPUP_DEFAULT_CURRENCIES))


class PayRunCreateForm(forms.Form):
    currency = forms.ChoiceField(label="Currency")
    cutoff_at = forms.DateTimeField(
        label="Cut-off",
        required=False,
        help_text="Money available by then is paid. Empty: now.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    minimum = forms.CharField(
        label="Minimum payout",
        required=False,
        max_length=20,
        help_text="Agents with less are skipped until a later run. Empty: the default.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "10.00"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        currencies = payrun_currencies()
        self.fields["currency"].choices = [(code, code) for code in currencies]
        self.fields["currency"].initial = "EUR" if "EUR" in currencies else currencies[0]

    def clean(self):
        cleaned = super().clean()
        minimum, currency = cleaned.get("minimum"), cleaned.get("currency")
        cleaned["minimum_minor"] = None
        if minimum and currency:
            try:
                cleaned["minimum_minor"] = minor_units(minimum, currency)
            except forms.ValidationError as exc:
                self.add_error("minimum", exc)
        return cleaned


class PayRunCancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why the pay run is cancelled."},
    )


class LineReverseForm(forms.Form):
    amount = forms.CharField(
        label="Amount",
        max_length=20,
        help_text="At most what the line paid, less what was already reversed.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "25.00"}),
    )
    reason = forms.CharField(
        label="Reason",
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why the transfer is reversed."},
    )

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_amount(self) -> int:
        return minor_units(self.cleaned_data["amount"], self.currency)
