"""The risk-alert acknowledgement form (the rules live in services_alerts.risk_alert_acknowledge)."""

from __future__ import annotations

from django import forms

from assessments.models import RiskAlert


class AcknowledgeForm(forms.Form):
    action = forms.ChoiceField(
        label="What was done",
        choices=RiskAlert.Action.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what was done."},
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required for “Not clinically significant”: say why.",
    )


class AlertFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Show",
        required=False,
        choices=[("", "Open and recent"), *RiskAlert.Status.choices],
    )
