"""Forms for brand webhooks: endpoints, secret rotation and the delivery log's filters.

The services in ``brands.webhooks`` do the real checks (https, known events,
the endpoint cap); their refusals come back onto these forms through
``add_service_error``.
"""

from __future__ import annotations

from django import forms

from brands.models import (
    WEBHOOK_PING_EVENT,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventType,
)
from frontend.forms.brand import ServiceErrorMixin


class WebhookEndpointForm(ServiceErrorMixin, forms.Form):
    url = forms.CharField(
        max_length=WebhookEndpoint.URL_MAX_LENGTH,
        label="Endpoint URL",
        help_text="Where Gigdesk POSTs the events. It must start with https:// "
        "(http:// is accepted only for localhost, while you develop).",
        widget=forms.URLInput(
            attrs={"placeholder": "https://helpdesk.example.com/gigdesk/webhooks"}
        ),
    )
    description = forms.CharField(
        max_length=WebhookEndpoint._meta.get_field("description").max_length,
        required=False,
        label="Description",
        help_text="For your team: which system receives these, for example “Zendesk sync”.",
    )
    events = forms.MultipleChoiceField(
        choices=WebhookEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Events to send",
        error_messages={"required": "Pick at least one event to send to this endpoint."},
    )


class RotateSecretForm(forms.Form):
    previous_valid_for_hours = forms.TypedChoiceField(
        choices=[
            ("24", "in 24 hours (both secrets sign until then)"),
            ("0", "now (if the old secret leaked)"),
        ],
        coerce=int,
        initial="24",
        label="Stop signing with the old secret",
    )


class EndpointActiveForm(forms.Form):
    active = forms.TypedChoiceField(
        choices=[("1", "Enable"), ("0", "Disable")], coerce=lambda value: value == "1"
    )


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Any status"), *WebhookDeliveryStatus.choices], required=False
    )
    event_type = forms.ChoiceField(
        label="Event",
        choices=[
            ("", "Any event"),
            *WebhookEventType.choices,
            (WEBHOOK_PING_EVENT, "Test event (ping)"),
        ],
        required=False,
    )
    endpoint = forms.ModelChoiceField(
        queryset=WebhookEndpoint.objects.none(),
        required=False,
        empty_label="Any endpoint",
        error_messages={"invalid_choice": "No such endpoint."},
    )

    def __init__(self, *args, brand, with_endpoint: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if with_endpoint:
            # Only the brand's own endpoints: another brand's id is "no such endpoint".
            self.fields["endpoint"].queryset = WebhookEndpoint.objects.for_brand(brand)
        else:
            del self.fields["endpoint"]
