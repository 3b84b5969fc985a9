"""Forms of the webhook pages: parse input only; integrations.webhooks enforces the rules."""

from __future__ import annotations

from django import forms

from integrations.models import WebhookDelivery
from integrations.webhooks import EVENT_TYPES


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label="Endpoint URL",
        max_length=500,
        assume_scheme="https",
        help_text="Where Tend sends events, e.g. https://example.org/tend/webhooks. Redirects are not followed.",
    )
    description = forms.CharField(label="Description", max_length=200, required=False)
    events = forms.MultipleChoiceField(
        label="Events",
        choices=[(key, f"{key} — {label}") for key, label in EVENT_TYPES.items()],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event."},
    )


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *WebhookDelivery.Status.choices])
