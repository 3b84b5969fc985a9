"""Forms of the notifications pages: parse input only; the services enforce the rules."""

from __future__ import annotations

from django import forms

from notifications.models import Channel, Message, NotificationSettings


class OutboxFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Message.Status.choices])
    channel = forms.ChoiceField(required=False, choices=[("", "Any channel"), *Channel.choices])
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "The end date is before the start date.")
        return data


class MessageTemplateForm(forms.Form):
    subject = forms.CharField(max_length=200, required=False, help_text="Email only.")
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), max_length=1600)
    is_active = forms.BooleanField(required=False, label="In use")


class ReminderRuleForm(forms.Form):
    channel = forms.ChoiceField(choices=Channel.choices)
    hours_before = forms.IntegerField(min_value=1, max_value=14 * 24, label="Hours before the appointment")


class NotificationSettingsForm(forms.ModelForm):
    class Meta:
        model = NotificationSettings
        fields = [
            "sms_from_number",
            "quiet_hours_start",
            "quiet_hours_end",
            "include_clinician_name",
            "include_location",
            "reply_to_email",
        ]
        widgets = {
            "quiet_hours_start": forms.TimeInput(attrs={"type": "time"}),
            "quiet_hours_end": forms.TimeInput(attrs={"type": "time"}),
        }
