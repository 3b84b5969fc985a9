"""Forms of the front desk's scheduling pages. They parse input only; services do the writes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone

from clinical.models import Patient
from practice.models import Location, Membership
from practice.permissions import Role
from scheduling.models import AppointmentType, AvailabilityException, AvailabilityRule, Room

# Roles that see patients (the calendar's clinicians).
CLINICIAN_ROLES = (Role.OWNER, Role.CLINICIAN, Role.SUPERVISOR)

SCOPE_CHOICES = [
    ("this", "This appointment only"),
    ("following", "This and following"),
    ("all", "All in the series"),
]


def clinicians_qs():
    return (
        Membership.objects.filter(role__in=CLINICIAN_ROLES, is_active=True)
        .select_related("user")
        .order_by("user__full_name", "id")
    )


def locations_qs():
    return Location.objects.filter(is_active=True).order_by("name", "id")


def _member_label(m: Membership) -> str:
    return m.user.display_name + (f", {m.title}" if m.title else "")


class NamedChoiceField(forms.ModelChoiceField):
    """Types, locations and rooms by name (their __str__ carries ids only)."""

    def label_from_instance(self, obj: Any) -> str:
        if isinstance(obj, Room):
            return f"{obj.name} ({obj.location.name})"
        return obj.name


class ClinicianChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Membership) -> str:
        return _member_label(obj)


class ClinicianMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Membership) -> str:
        return _member_label(obj)


def local_datetime(day: date, at: time, tz_name: str) -> datetime:
    """A wall-clock date and time in a zone, as an aware datetime."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz_name))


class CalendarFilterForm(forms.Form):
    """The calendar's GET parameters (all optional; bad values fall back to defaults)."""

    view = forms.ChoiceField(choices=[("day", "Day"), ("week", "Week")], required=False)
    date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    location = NamedChoiceField(
        queryset=Location.objects.none(), required=False, to_field_name="public_id", empty_label="All locations"
    )
    clinician = ClinicianMultipleChoiceField(
        queryset=Membership.objects.none(), required=False, to_field_name="public_id"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations_qs()
        self.fields["clinician"].queryset = clinicians_qs()


class AppointmentForm(forms.Form):
    """Book an appointment (optionally a weekly or fortnightly series)."""

    REPEAT_CHOICES = [("none", "Does not repeat"), ("weekly", "Every week"), ("biweekly", "Every other week")]
    END_CHOICES = [("count", "After a number of sessions"), ("until", "On a date")]

    patient = forms.ModelMultipleChoiceField(
        queryset=Patient.objects.none(),
        to_field_name="public_id",
        widget=forms.CheckboxSelectMultiple,
        label="Patients",
        error_messages={"required": "Search for the patient and choose them."},
    )
    appointment_type = NamedChoiceField(queryset=AppointmentType.objects.none(), label="Type")
    clinician = ClinicianChoiceField(queryset=Membership.objects.none())
    location = NamedChoiceField(queryset=Location.objects.none(), required=False)
    room = NamedChoiceField(queryset=Room.objects.none(), required=False)
    day = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(
        label="Start time", widget=forms.TimeInput(format="%H:%M", attrs={"type": "time", "step": 300})
    )
    is_telehealth = forms.BooleanField(required=False, label="Telehealth session")
    telehealth_url = forms.URLField(required=False, label="Telehealth link", assume_scheme="https")
    repeat = forms.ChoiceField(choices=REPEAT_CHOICES, initial="none")
    repeat_end = forms.ChoiceField(choices=END_CHOICES, initial="count", required=False, label="Ends")
    count = forms.IntegerField(min_value=2, max_value=52, required=False, initial=6, label="Number of sessions")
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Last date")
    admin_note = forms.CharField(
        required=False,
        max_length=300,
        label="Scheduling note",
        help_text="For the front desk only. No clinical detail.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, patients=None, practice=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.practice = practice
        self.fields["patient"].queryset = patients if patients is not None else Patient.objects.none()
        self.fields["appointment_type"].queryset = AppointmentType.objects.filter(is_active=True).order_by("name")
        self.fields["clinician"].queryset = clinicians_qs()
        self.fields["location"].queryset = locations_qs()
        self.fields["room"].queryset = Room.objects.filter(is_active=True).select_related("location")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("is_telehealth") is False and data.get("telehealth_url"):
            data["is_telehealth"] = True
        room, location = data.get("room"), data.get("location")
        if room and location and room.location_id != location.pk:
            self.add_error("room", "That room is at another location.")
        if room and not location:
            data["location"] = room.location
        if data.get("repeat", "none") != "none":
            if data.get("repeat_end") == "until":
                if not data.get("until"):
                    self.add_error("until", "Choose the date of the last session.")
                elif data.get("day") and data["until"] <= data["day"]:
                    self.add_error("until", "The last date must be after the first session.")
            elif not data.get("count"):
                self.add_error("count", "Enter how many sessions (2 to 52).")
        return data

    @property
    def tz_name(self) -> str:
        location = self.cleaned_data.get("location")
        if location is not None:
            return location.timezone
        return self.practice.timezone if self.practice else "UTC"

    def starts_at(self) -> datetime:
        return local_datetime(self.cleaned_data["day"], self.cleaned_data["start_time"], self.tz_name)

    def rrule(self) -> str | None:
        """The RFC 5545 rule for the chosen repetition (UNTIL in UTC, at the end of the last day)."""
        repeat = self.cleaned_data.get("repeat") or "none"
        if repeat == "none":
            return None
        parts = ["FREQ=WEEKLY", f"INTERVAL={2 if repeat == 'biweekly' else 1}"]
        if self.cleaned_data.get("repeat_end") == "until":
            end = local_datetime(self.cleaned_data["until"], time(23, 59, 59), self.tz_name).astimezone(ZoneInfo("UTC"))
            parts.append(f"UNTIL={end:%Y%m%dT%H%M%SZ}")
        else:
            parts.append(f"COUNT={self.cleaned_data['count']}")
        return ";".join(parts)


class RescheduleForm(forms.Form):
    day = forms.DateField(label="New date", widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(
        label="New start time", widget=forms.TimeInput(format="%H:%M", attrs={"type": "time", "step": 300})
    )
    clinician = ClinicianChoiceField(queryset=Membership.objects.none(), required=False, empty_label="Same clinician")
    room = NamedChoiceField(queryset=Room.objects.none(), required=False, empty_label="Same room")
    scope = forms.ChoiceField(
        choices=SCOPE_CHOICES, initial="this", widget=forms.RadioSelect, required=False, label="Apply to"
    )

    def __init__(self, *args: Any, in_series: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["clinician"].queryset = clinicians_qs()
        self.fields["room"].queryset = Room.objects.filter(is_active=True).select_related("location")
        if not in_series:
            del self.fields["scope"]


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=200, label="Reason", help_text="Scheduling reason only, e.g. 'Patient ill'.")
    scope = forms.ChoiceField(
        choices=SCOPE_CHOICES, initial="this", widget=forms.RadioSelect, required=False, label="Cancel"
    )

    def __init__(self, *args: Any, in_series: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not in_series:
            del self.fields["scope"]


class AvailabilityRuleForm(forms.ModelForm):
    clinician = ClinicianChoiceField(queryset=Membership.objects.none())
    location = NamedChoiceField(queryset=Location.objects.none())

    class Meta:
        model = AvailabilityRule
        fields = ["clinician", "location", "weekday", "start_time", "end_time", "valid_from", "valid_until"]
        widgets = {
            "start_time": forms.TimeInput(format="%H:%M", attrs={"type": "time", "step": 300}),
            "end_time": forms.TimeInput(format="%H:%M", attrs={"type": "time", "step": 300}),
            "valid_from": forms.DateInput(attrs={"type": "date"}),
            "valid_until": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args: Any, fixed_clinician: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["clinician"].queryset = clinicians_qs()
        self.fields["location"].queryset = locations_qs()
        if fixed_clinician:  # editing: the rule stays with its clinician
            del self.fields["clinician"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("start_time") and data.get("end_time") and data["end_time"] <= data["start_time"]:
            self.add_error("end_time", "The end must be after the start.")
        return data


class AvailabilityExceptionForm(forms.ModelForm):
    clinician = ClinicianChoiceField(queryset=Membership.objects.none())
    location = NamedChoiceField(queryset=Location.objects.none(), required=False)
    starts_at = forms.DateTimeField(label="Starts", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(label="Ends", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    class Meta:
        model = AvailabilityException
        fields = ["clinician", "kind", "location", "starts_at", "ends_at", "reason"]

    def __init__(self, *args: Any, tz_name: str = "UTC", fixed_clinician: bool = False, **kwargs: Any) -> None:
        self.tz = ZoneInfo(tz_name)
        instance = kwargs.get("instance")
        if instance is not None and instance.pk and "initial" not in kwargs:
            kwargs["initial"] = {
                "starts_at": timezone.localtime(instance.starts_at, self.tz).replace(tzinfo=None),
                "ends_at": timezone.localtime(instance.ends_at, self.tz).replace(tzinfo=None),
            }
        super().__init__(*args, **kwargs)
        self.fields["clinician"].queryset = clinicians_qs()
        self.fields["location"].queryset = locations_qs()
        self.fields["reason"].help_text = "Shown to staff only."
        if fixed_clinician:
            del self.fields["clinician"]

    def _aware(self, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if timezone.is_aware(value):  # parsed in the request's zone: keep the wall-clock, use the location's
            value = timezone.make_naive(value, timezone.get_current_timezone())
        return value.replace(tzinfo=self.tz)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        location = data.get("location")
        if location is not None:
            self.tz = ZoneInfo(location.timezone)
        for key in ("starts_at", "ends_at"):
            if data.get(key):
                data[key] = self._aware(data[key])
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", "The end must be after the start.")
        return data


class AppointmentTypeForm(forms.ModelForm):
    class Meta:
        model = AppointmentType
        fields = [
            "name",
            "duration_minutes",
            "default_service_code",
            "modality",
            "color",
            "is_group",
            "max_attendees",
            "new_patient_only",
            "is_bookable_online",
            "is_active",
        ]
        widgets = {"color": forms.TextInput(attrs={"type": "color"})}
        labels = {"default_service_code": "Default CPT code", "color": "Colour"}


class RoomForm(forms.ModelForm):
    location = NamedChoiceField(queryset=Location.objects.none())

    class Meta:
        model = Room
        fields = ["location", "name", "capacity", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations_qs()


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())
