"""Forms for portal booking (patient side) and the portal settings page (staff side)."""

from __future__ import annotations

from datetime import UTC, datetime

from django import forms

from assessments.library import instrument_choices
from portal.models import IntakePacket, PortalSettings
from portal.selectors_booking import staff_bookable_choices


def parse_start(value: str | None) -> datetime | None:
    """Slot starts travel as UTC epoch seconds (no time-zone ambiguity in a URL)."""
    try:
        return datetime.fromtimestamp(int(value or ""), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


class ConfirmBookingForm(forms.Form):
    modality = forms.ChoiceField(
        label="How would you like to meet?",
        choices=[("in_person", "In person"), ("telehealth", "Video (telehealth)")],
        widget=forms.RadioSelect,
        initial="in_person",
        required=False,
    )


class CancelForm(forms.Form):
    reason = forms.CharField(label="Reason (optional)", max_length=200, required=False)
    accept_fee = forms.BooleanField(label="I understand the late-cancellation policy and fee.", required=False)

    def __init__(self, *args, fee_applies: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fee_applies = fee_applies
        if not fee_applies:
            del self.fields["accept_fee"]

    def clean(self):
        data = super().clean()
        if self.fee_applies and not data.get("accept_fee"):
            self.add_error("accept_fee", "Please confirm you have read the late-cancellation policy.")
        return data


class PortalSettingsForm(forms.ModelForm):
    bookable_clinicians = forms.ModelMultipleChoiceField(
        queryset=None,
        to_field_name="public_id",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Clinicians patients may book online",
        help_text="None ticked: patients may book only their own primary clinician.",
    )
    shared_instruments = forms.MultipleChoiceField(
        choices=(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Questionnaires whose score history patients see",
    )
    intake_packet = forms.ModelChoiceField(
        queryset=None,
        to_field_name="public_id",
        required=False,
        label="Intake packet for new portal patients",
        empty_label="None",
    )

    class Meta:
        model = PortalSettings
        fields = [
            "online_booking_enabled",
            "new_patients_may_book",
            "booking_horizon_days",
            "bookable_clinicians",
            "telehealth_join_minutes",
            "messaging_enabled",
            "messaging_notice",
            "shared_instruments",
            "invitation_valid_days",
            "intake_packet",
        ]
        labels = {
            "online_booking_enabled": "Patients may book online",
            "new_patients_may_book": "New patients (no completed visit) may book",
            "booking_horizon_days": "Booking horizon (days ahead)",
            "telehealth_join_minutes": "Show the video link this many minutes before the start",
            "messaging_enabled": "Secure messaging is on",
            "messaging_notice": "Notice shown above the message box",
            "invitation_valid_days": "Invitations are valid for (days)",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        members = staff_bookable_choices()
        self.fields["bookable_clinicians"].queryset = members
        self.fields["bookable_clinicians"].label_from_instance = lambda m: (
            f"{m.user.display_name} ({m.get_role_display()})"
        )
        self.fields["shared_instruments"].choices = instrument_choices()
        self.fields["intake_packet"].queryset = IntakePacket.objects.filter(is_active=True).order_by("name")
