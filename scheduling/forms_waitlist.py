"""Waitlist forms: parse input only; scheduling.waitlist services do the writing."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet

from clinical.models import Patient
from practice.models import Location, Membership
from practice.permissions import Role
from scheduling.models import AppointmentType, AvailabilityRule, WaitlistEntry

WEEKDAY_CHOICES = [(value, label) for value, label in AvailabilityRule.Weekday.choices]
CLINICAL_ROLES = (Role.CLINICIAN, Role.SUPERVISOR, Role.OWNER)


def clinician_choices() -> QuerySet[Membership]:
    """Members who see patients (in the active practice scope)."""
    return (
        Membership.objects.filter(is_active=True, role__in=CLINICAL_ROLES)
        .select_related("user")
        .order_by("user__full_name")
    )


class _MemberChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Membership) -> str:
        return obj.user.display_name


class _SingleMemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Membership) -> str:
        return obj.user.display_name


class _PatientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Patient) -> str:
        return f"{obj.legal_last_name}, {obj.preferred_name or obj.legal_first_name} ({obj.mrn})"


class WaitlistEntryForm(forms.Form):
    patient = _PatientChoiceField(queryset=Patient.objects.none())
    appointment_type = forms.ModelChoiceField(queryset=AppointmentType.objects.none(), label="Appointment type")
    clinicians = _MemberChoiceField(
        queryset=Membership.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Acceptable clinicians",
        help_text="Leave empty for any clinician.",
    )
    location = forms.ModelChoiceField(queryset=Location.objects.none(), required=False, empty_label="Any location")
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAY_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Days",
        help_text="Leave empty for any day.",
    )
    earliest_time = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}), label="Not before")
    latest_time = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}), label="Ending by")
    priority = forms.TypedChoiceField(
        choices=[(n, f"{n}{' (highest)' if n == 1 else ''}") for n in range(1, 6)], coerce=int, initial=3
    )
    notes = forms.CharField(
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Scheduling notes only; no clinical detail.",
    )
    is_removed = forms.BooleanField(required=False, label="Remove from the waitlist")

    def __init__(self, *args, patients: QuerySet[Patient], entry: WaitlistEntry | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = patients.order_by("legal_last_name", "legal_first_name")
        self.fields["appointment_type"].queryset = AppointmentType.objects.filter(is_active=True).order_by("name")
        self.fields["clinicians"].queryset = clinician_choices()
        self.fields["location"].queryset = Location.objects.filter(is_active=True).order_by("name")
        if entry is None:
            del self.fields["is_removed"]
        else:
            # the patient of an entry does not change; add a new entry instead
            del self.fields["patient"]

    def clean(self):
        data = super().clean()
        earliest, latest = data.get("earliest_time"), data.get("latest_time")
        if earliest and latest and earliest >= latest:
            self.add_error("latest_time", "The earliest time must be before the latest time.")
        return data


class WaitlistFilterForm(forms.Form):
    STATUS_CHOICES = [
        ("open", "Waiting or offered"),
        (WaitlistEntry.Status.WAITING, "Waiting"),
        (WaitlistEntry.Status.OFFERED, "Offer out"),
        (WaitlistEntry.Status.BOOKED, "Booked"),
        (WaitlistEntry.Status.REMOVED, "Removed"),
    ]
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    clinician = _SingleMemberChoiceField(
        queryset=Membership.objects.none(), required=False, empty_label="Any clinician"
    )
    appointment_type = forms.ModelChoiceField(
        queryset=AppointmentType.objects.none(), required=False, empty_label="Any type", label="Type"
    )
    priority = forms.TypedChoiceField(
        choices=[("", "Any priority"), *[(n, str(n)) for n in range(1, 6)]],
        coerce=int,
        empty_value=None,
        required=False,
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["clinician"].queryset = clinician_choices()
        self.fields["appointment_type"].queryset = AppointmentType.objects.order_by("name")

    def statuses(self) -> tuple[str, ...]:
        value = self.cleaned_data.get("status") if self.is_valid() else ""
        if value and value != "open":
            return (value,)
        return (WaitlistEntry.Status.WAITING, WaitlistEntry.Status.OFFERED)
