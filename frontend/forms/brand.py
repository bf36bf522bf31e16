"""Forms for the brand console: creating a brand, the team and API keys.

Forms only parse and check input; the services in ``brands.services`` do the
writes and may still refuse (``GigdeskError``), which ``add_service_error``
puts back on the form next to the field it concerns.
"""

from __future__ import annotations

import zoneinfo
from functools import cache

from django import forms

from brands.models import ApiKey, Brand, BrandRole
from marketplace.errors import GigdeskError
from marketplace.models import validate_time_zone


@cache
def _time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class ServiceErrorMixin:
    def add_service_error(self, exc: GigdeskError) -> None:
        """Show a service's refusal on the form: per field where it names one of ours."""
        placed = False
        for field, messages in exc.fields.items():
            if field in self.fields:
                for message in messages if isinstance(messages, list) else [messages]:
                    self.add_error(field, message)
                placed = True
        if not placed:
            self.add_error(None, exc.message)


class BrandCreateForm(ServiceErrorMixin, forms.Form):
    name = forms.CharField(
        max_length=Brand._meta.get_field("name").max_length,
        label="Brand name",
        help_text="As agents and your team will see it, for example “Acme Outdoors”.",
    )
    time_zone = forms.ChoiceField(
        choices=_time_zone_choices,
        initial="UTC",
        label="Time zone",
        help_text="Used for your reports and SLA hours.",
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("A brand needs a name.")
        return name

    def clean_time_zone(self) -> str:
        value = self.cleaned_data["time_zone"]
        # The choices come from the same zoneinfo database, but the model's
        # validator is the rule the database row must pass, so check with it.
        validate_time_zone(value)
        return value


class InvitationForm(ServiceErrorMixin, forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(choices=BrandRole.choices, initial=BrandRole.VIEWER, label="Role")


class MemberUpdateForm(forms.Form):
    action = forms.ChoiceField(choices=[("set_role", "Change role"), ("remove", "Remove")])
    role = forms.ChoiceField(choices=BrandRole.choices, required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == "set_role" and not cleaned.get("role"):
            self.add_error("role", "Choose a role.")
        return cleaned


class ApiKeyCreateForm(ServiceErrorMixin, forms.Form):
    name = forms.CharField(
        max_length=ApiKey._meta.get_field("name").max_length,
        label="Key name",
        help_text="Name the system that will use it, for example “Zendesk sync”.",
    )
