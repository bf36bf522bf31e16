"""The brand billing page's top-up form.

It parses what an admin typed ("250.00") into exact minor units; the rules
that matter (who may top up, which currencies, the limit) are enforced again
by ``payouts.funding.topup_start``, whose refusals come back onto the form.
"""

from __future__ import annotations

from django import forms

from frontend.forms.gigs import minor_units, money_format
from payouts.funding import TOPUP_MAX_MINOR


class TopUpForm(forms.Form):
    amount = forms.CharField(
        max_length=20,
        label="Amount",
        help_text="In the currency's main unit, like 250.00.",
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "placeholder": "250.00", "autocomplete": "off"}
        ),
    )
    currency = forms.ChoiceField(label="Currency")

    def __init__(self, *args, currencies: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["currency"]
        field.choices = [(code, code) for code in currencies]
        field.initial = currencies[0]
        field.error_messages["invalid_choice"] = (
            f"Top up in a currency your gigs pay in: {', '.join(currencies)}."
        )

    def clean(self):
        cleaned = super().clean()
        amount, currency = cleaned.get("amount"), cleaned.get("currency")
        if amount is None or currency is None:
            return cleaned
        try:
            amount_minor = minor_units(amount, currency)
        except forms.ValidationError as exc:
            self.add_error("amount", exc)
            return cleaned
        if amount_minor > TOPUP_MAX_MINOR:
            self.add_error(
                "amount",
                f"A single top-up is at most {money_format(TOPUP_MAX_MINOR, currency)}.",
            )
            return cleaned
        cleaned["amount_minor"] = amount_minor
        return cleaned
