"""Brand console forms for gigs, tasks, messages and CSV imports.

Forms parse and check what a person typed; the writes and the business rules
stay in ``gigs.services``, whose ``ValidationFailed.fields`` are mapped back
onto these forms' fields with ``add_service_errors``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from brands.models import Brand
from gigs.models import (
    SLA_TARGET_MAX_SECONDS,
    Gig,
    GigStatus,
    MessageKind,
    PayModel,
    TaskPriority,
)
from gigs.services import BRAND_MESSAGE_KINDS, GIG_EDITABLE_FIELDS
from marketplace.errors import ValidationFailed
from marketplace.languages import LANGUAGE_CHOICES
from marketplace.models import Skill
from marketplace.money import (  # noqa: F401 - the forms' own names, used by the views
    CURRENCY_SYMBOLS,
    ZERO_DECIMAL_CURRENCIES,
    currency_decimals,
    major_units,
    money_format,
)

_AMOUNT_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
RATE_MAX_MINOR = 10_000_000
BUDGET_CAP_MAX_MINOR = 10**13


def minor_units(text: str, currency: str) -> int:
    """``"2.50"`` EUR → ``250``: exact, through Decimal; raises ``forms.ValidationError``."""
    value = (text or "").strip()
    places = currency_decimals(currency)
    example = "250" if places == 0 else "2.50"
    if not _AMOUNT_RE.match(value):
        raise forms.ValidationError(f"Enter an amount like {example}.", code="invalid")
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise forms.ValidationError(f"Enter an amount like {example}.", code="invalid") from exc
    if amount <= 0:
        raise forms.ValidationError("Must be more than zero.", code="min_value")
    decimals = max(0, -amount.normalize().as_tuple().exponent)
    if decimals > places:
        if places == 0:
            message = f"{currency.upper()} has no minor unit: enter a whole amount."
        else:
            message = f"{currency.upper()} amounts have at most {places} decimals."
        raise forms.ValidationError(message, code="decimals")
    return int(amount.scaleb(places))


def gig_pay_label(gig: Gig) -> str:
    """``"€2.50 per resolution"``."""
    unit = "minute" if gig.pay_model == PayModel.PER_MINUTE else "resolution"
    return f"{money_format(gig.rate_minor, gig.currency)} per {unit}"


def add_service_errors(
    form: forms.Form, exc: ValidationFailed, field_map: dict[str, str] | None = None
) -> None:
    """Show a service's ``ValidationFailed`` on the form: by field where it has one."""
    field_map = field_map or {}
    if not exc.fields:
        form.add_error(None, exc.message)
        return
    for name, messages in exc.fields.items():
        target = field_map.get(name, name)
        for message in messages if isinstance(messages, list | tuple) else [messages]:
            form.add_error(target if target in form.fields else None, message)


def _duration(seconds: int) -> str:
    """``600`` → ``"10 minutes"``: the largest whole unit."""
    for size, unit in ((3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _in_words(amount: int, unit: str) -> str:
    """``600, "seconds"`` → ``"600 seconds (10 minutes)"``; ``1, "minutes"`` → ``"1 minute"``."""
    text = f"{amount} {unit.removesuffix('s') if amount == 1 else unit}"
    larger = _duration(amount * 60 if unit == "minutes" else amount)
    return text if larger == text else f"{text} ({larger})"


def _model_limits(name: str) -> tuple[int, int]:
    """A gig setting's bounds, read from the model so the form cannot drift from them."""
    validators = Gig._meta.get_field(name).validators
    low = next(v.limit_value for v in validators if isinstance(v, MinValueValidator))
    high = next(v.limit_value for v in validators if isinstance(v, MaxValueValidator))
    return low, high


def _timing_field(name: str, label: str, help_text: str, *, unit: str = "seconds"):
    """An optional whole number within the model's bounds; empty keeps the current value."""
    low, high = _model_limits(name)
    return forms.IntegerField(
        label=label,
        required=False,
        initial=Gig._meta.get_field(name).default,
        min_value=low,
        max_value=high,
        help_text=f"{help_text} From {_in_words(low, unit)} to {_in_words(high, unit)}.",
        error_messages={
            "invalid": f"Enter a whole number of {unit}.",
            "min_value": f"Use at least {_in_words(low, unit)}.",
            "max_value": f"Use at most {_in_words(high, unit)}.",
        },
        widget=forms.NumberInput(attrs={"step": 1}),
    )


DISPATCH_MODE_HELP = (
    "Open claim: every qualified agent who is online sees each task, and the first to "
    "claim it gets it; fastest when many agents are online. Directed offer: the "
    "best-matched online agent gets the task reserved for them for the reservation "
    "timeout; if they pass or let it lapse, it moves on to the next agent."
)

# Settings that may be left empty: a new gig then takes the model's default, an
# edited one keeps what it had.
TIMING_FIELDS = (
    "reservation_timeout_seconds",
    "heartbeat_grace_seconds",
    "lease_seconds",
    "max_billable_minutes",
    "reserve_minutes",
)


class GigForm(forms.ModelForm):
    """A gig's editable settings; money in major units, the SLA in minutes."""

    rate = forms.CharField(
        label="Rate",
        max_length=20,
        help_text="What an agent earns per minute or per resolution, e.g. 2.50.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    budget_cap = forms.CharField(
        label="Budget cap",
        max_length=20,
        required=False,
        help_text="Most this gig may spend in total, e.g. 5000.00. Leave empty for no cap.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    sla_first_response_minutes = forms.IntegerField(
        label="First response target (minutes)",
        min_value=1,
        max_value=7 * 24 * 60,
        initial=15,
        help_text="How soon a customer should hear back after the task arrives.",
    )
    sla_next_response_minutes = forms.IntegerField(
        label="Next response target (minutes)",
        required=False,
        min_value=1,
        max_value=7 * 24 * 60,
        help_text="How soon each later customer message should get a reply. "
        "Leave empty for no target.",
    )
    sla_resolution_hours = forms.IntegerField(
        label="Resolution target (hours)",
        required=False,
        min_value=1,
        max_value=SLA_TARGET_MAX_SECONDS // 3600,
        help_text="How soon a task should be resolved after it arrives. Leave empty for no target.",
    )
    required_skills = forms.ModelMultipleChoiceField(
        # One shared list, kept by platform staff, so that a gig's skills and
        # agents' skills are the same tags and matching works.
        queryset=Skill.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only agents with every selected skill are offered this gig's tasks.",
    )
    reservation_timeout_seconds = _timing_field(
        "reservation_timeout_seconds",
        "Reservation timeout (seconds)",
        "Directed offer only: how long the chosen agent has to accept a task before it "
        "moves on to the next agent.",
    )
    lease_seconds = _timing_field(
        "lease_seconds",
        "Lease (seconds)",
        "A task whose agent has gone silent (closed page, lost connection) goes back to "
        "the queue after this long.",
    )
    heartbeat_grace_seconds = _timing_field(
        "heartbeat_grace_seconds",
        "Heartbeat grace (seconds)",
        "When an agent's page stops checking in for this long, billing stops at the last check-in.",
    )
    max_billable_minutes = _timing_field(
        "max_billable_minutes",
        "Most billable minutes per task",
        "Per-minute gigs: the most one task may bill, however long it stays open.",
        unit="minutes",
    )
    reserve_minutes = _timing_field(
        "reserve_minutes",
        "Minutes reserved per claim",
        "Per-minute gigs: each claim sets aside this many minutes at the rate (plus the "
        "platform fee) from your balance, and the real cost is settled when the task ends. "
        "Tasks are offered only while your balance covers one more claim. At most the "
        "billable minutes per task.",
        unit="minutes",
    )

    # Form field → the service's field name, for mapping errors back.
    SERVICE_FIELDS = {
        "rate_minor": "rate",
        "budget_cap_minor": "budget_cap",
        "sla_first_response_seconds": "sla_first_response_minutes",
        "sla_next_response_seconds": "sla_next_response_minutes",
        "sla_resolution_seconds": "sla_resolution_hours",
        "required_skills": "required_skills",
    }

    class Meta:
        model = Gig
        fields = [
            "title",
            "description",
            "language",
            "min_language_level",
            "pay_model",
            "currency",
            "max_tasks_per_agent",
            "dispatch_mode",
            "sla_business_hours",
            *TIMING_FIELDS,
        ]
        labels = {
            "sla_business_hours": "Count SLA targets in business hours only",
            "min_language_level": "Minimum language level",
            "max_tasks_per_agent": "Tasks an agent may hold at once",
        }
        help_texts = {
            "currency": "ISO 4217 code, like EUR or USD.",
            "dispatch_mode": DISPATCH_MODE_HELP,
            "sla_business_hours": "On: the clock stops outside your business hours and on "
            "holidays (Settings → Business hours). Off: every hour counts.",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "pay_model": forms.RadioSelect,
            "dispatch_mode": forms.RadioSelect,
        }

    field_order = [
        "title",
        "description",
        "language",
        "min_language_level",
        "pay_model",
        "rate",
        "currency",
        "budget_cap",
        "max_tasks_per_agent",
        "sla_first_response_minutes",
        "sla_next_response_minutes",
        "sla_resolution_hours",
        "sla_business_hours",
        "dispatch_mode",
        "reservation_timeout_seconds",
        "lease_seconds",
        "heartbeat_grace_seconds",
        "max_billable_minutes",
        "reserve_minutes",
        "required_skills",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        gig = self.instance
        if gig.pk:
            self.fields["rate"].initial = major_units(gig.rate_minor, gig.currency)
            self.fields["budget_cap"].initial = major_units(gig.budget_cap_minor, gig.currency)
            self.fields["sla_first_response_minutes"].initial = self._initial_minutes()
            self.fields["sla_next_response_minutes"].initial = self._initial_target(
                "sla_next_response_seconds", 60
            )
            self.fields["sla_resolution_hours"].initial = self._initial_target(
                "sla_resolution_seconds", 3600
            )
            self.fields["required_skills"].initial = list(gig.required_skills.all())
        self.fields["currency"].widget.attrs.update({"maxlength": 3, "size": 3})
        # Radio buttons and a required choice: no "---------" entry.
        self.fields["pay_model"].choices = PayModel.choices
        self.fields["language"].choices = [("", "Choose a language"), *LANGUAGE_CHOICES]
        if not self.fields["required_skills"].queryset.exists():
            self.fields[
                "required_skills"
            ].help_text = "No skills are defined yet; Gigdesk staff add them to the shared list."

    def _initial_minutes(self) -> int:
        # The API may have set a number of seconds that is not whole minutes.
        return max(1, round(self.instance.sla_first_response_seconds / 60))

    def _initial_target(self, name: str, unit: int) -> int | None:
        seconds = getattr(self.instance, name)
        return None if seconds is None else max(1, round(seconds / unit))

    def _target_seconds(self, field: str, name: str, unit: int) -> int | None:
        """An optional target in seconds; an unchanged one keeps its exact seconds
        (the API may have set a value that is not whole minutes or hours)."""
        amount = self.cleaned_data.get(field)
        if amount is None:
            return None
        gig = self.instance
        if gig.pk and amount == self._initial_target(name, unit):
            return getattr(gig, name)
        return amount * unit

    def clean_currency(self) -> str:
        currency = (self.cleaned_data.get("currency") or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise forms.ValidationError("Use a three-letter ISO 4217 code, like EUR.")
        return currency

    def clean(self):
        cleaned = super().clean()
        reserve_chosen = cleaned.get("reserve_minutes") is not None
        for name in TIMING_FIELDS:
            if name in cleaned and cleaned[name] is None:
                cleaned[name] = getattr(self.instance, name)
        max_billable = cleaned.get("max_billable_minutes")
        reserve = cleaned.get("reserve_minutes")
        if (
            not reserve_chosen
            and reserve is not None
            and max_billable is not None
            and reserve > max_billable
        ):
            # Left empty: follow the cap. A reserve chosen above it is refused
            # by the gig's own validation, with its message on this field.
            cleaned["reserve_minutes"] = max_billable
        currency = cleaned.get("currency")
        if currency is None:
            return cleaned  # its own error is shown; amounts depend on it
        if "rate" in cleaned:
            try:
                cleaned["rate_minor"] = minor_units(cleaned["rate"], currency)
            except forms.ValidationError as exc:
                self.add_error("rate", exc)
            else:
                if cleaned["rate_minor"] > RATE_MAX_MINOR:
                    self.add_error("rate", "That rate is too large.")
        if cleaned.get("budget_cap"):
            try:
                cleaned["budget_cap_minor"] = minor_units(cleaned["budget_cap"], currency)
            except forms.ValidationError as exc:
                self.add_error("budget_cap", exc)
            else:
                if cleaned["budget_cap_minor"] > BUDGET_CAP_MAX_MINOR:
                    self.add_error("budget_cap", "That budget cap is too large.")
        else:
            cleaned["budget_cap_minor"] = None
        return cleaned

    def sla_seconds(self) -> int:
        minutes = self.cleaned_data["sla_first_response_minutes"]
        gig = self.instance
        if gig.pk and minutes == self._initial_minutes():
            return gig.sla_first_response_seconds  # unchanged: keep seconds exactly
        return minutes * 60

    def service_fields(self) -> dict:
        """The cleaned values under ``gigs.services.GIG_EDITABLE_FIELDS`` names."""
        cleaned = self.cleaned_data
        values = {name: cleaned[name] for name in GIG_EDITABLE_FIELDS if name in cleaned}
        values["sla_first_response_seconds"] = self.sla_seconds()
        values["sla_next_response_seconds"] = self._target_seconds(
            "sla_next_response_minutes", "sla_next_response_seconds", 60
        )
        values["sla_resolution_seconds"] = self._target_seconds(
            "sla_resolution_hours", "sla_resolution_seconds", 3600
        )
        return values

    def skills(self) -> list[Skill]:
        return list(self.cleaned_data.get("required_skills") or [])

    def add_service_errors(self, exc: ValidationFailed) -> None:
        add_service_errors(self, exc, self.SERVICE_FIELDS)


def _open_gigs(brand: Brand):
    return Gig.objects.for_brand(brand).exclude(status=GigStatus.CLOSED).order_by("title")


class TaskCreateForm(forms.Form):
    gig = forms.ModelChoiceField(queryset=Gig.objects.none(), empty_label=None)
    subject = forms.CharField(max_length=200)
    body = forms.CharField(
        label="First customer message",
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    customer_name = forms.CharField(max_length=120, required=False)
    customer_reference = forms.CharField(
        max_length=120,
        required=False,
        help_text="Your own ID for the customer, like a CRM or account number.",
    )
    language = forms.ChoiceField(
        choices=[("", "Same as the gig"), *LANGUAGE_CHOICES],
        required=False,
    )
    priority = forms.TypedChoiceField(
        choices=TaskPriority.choices, coerce=int, initial=TaskPriority.NORMAL
    )
    external_id = forms.CharField(
        label="External ID",
        max_length=120,
        required=False,
        help_text="The ticket's ID in your helpdesk. Sending the same ID again opens the "
        "existing task instead of creating a duplicate.",
    )

    def __init__(self, *args, brand: Brand, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gig"].queryset = _open_gigs(brand)

    def add_service_errors(self, exc: ValidationFailed) -> None:
        add_service_errors(self, exc)


class MessageForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[(kind.value, kind.label) for kind in BRAND_MESSAGE_KINDS],
        initial=MessageKind.NOTE,
        widget=forms.RadioSelect,
        label="Add as",
    )
    body = forms.CharField(
        label="Message", max_length=20000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def add_service_errors(self, exc: ValidationFailed) -> None:
        add_service_errors(self, exc, {"task": "body"})


class TaskImportForm(forms.Form):
    gig = forms.ModelChoiceField(queryset=Gig.objects.none(), empty_label=None)
    file = forms.FileField(
        label="CSV file",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        help_text="UTF-8 CSV with a header line.",
    )

    def __init__(self, *args, brand: Brand, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gig"].queryset = _open_gigs(brand)

    def add_service_errors(self, exc: ValidationFailed) -> None:
        add_service_errors(self, exc)
