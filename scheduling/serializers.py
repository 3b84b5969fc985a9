"""API shapes of scheduling. Parse and render only: writes go through scheduling.services.

Patients appear by id only (no names): an appointment list is PHI enough.
"""

from __future__ import annotations

from datetime import timedelta

from rest_framework import serializers

from practice.serializers import ErrorBodyOut
from scheduling.models import (
    Appointment,
    AppointmentType,
    Attendee,
    AvailabilityException,
    AvailabilityRule,
    Room,
    WaitlistEntry,
)
from scheduling.services import SCOPES
from scheduling.services_catalog import TYPE_FIELDS


def _uuid_of(source: str, **kw) -> serializers.UUIDField:
    return serializers.UUIDField(source=f"{source}.public_id", read_only=True, **kw)


class _PublicId(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)


class AppointmentTypeOut(_PublicId):
    class Meta:
        model = AppointmentType
        fields = [
            "id",
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
        read_only_fields = fields


class AppointmentTypeIn(serializers.ModelSerializer):
    """A new appointment type, or (PATCH) the fields to change. Changes need the settings right."""

    class Meta:
        model = AppointmentType
        fields = list(TYPE_FIELDS)


class AppointmentTypeFilterIn(serializers.Serializer):
    is_active = serializers.BooleanField(required=False, allow_null=True, default=None)


class RoomOut(_PublicId):
    location = _uuid_of("location")

    class Meta:
        model = Room
        fields = ["id", "location", "name", "capacity", "is_active"]
        read_only_fields = fields


class RoomIn(serializers.Serializer):
    location = serializers.UUIDField()
    name = serializers.CharField(max_length=80)
    capacity = serializers.IntegerField(min_value=1, max_value=500, required=False, default=2)
    is_active = serializers.BooleanField(required=False, default=True)


class RoomUpdateIn(serializers.Serializer):
    location = serializers.UUIDField(required=False)
    name = serializers.CharField(max_length=80, required=False)
    capacity = serializers.IntegerField(min_value=1, max_value=500, required=False)
    is_active = serializers.BooleanField(required=False)


class RoomFilterIn(serializers.Serializer):
    location = serializers.UUIDField(required=False)
    is_active = serializers.BooleanField(required=False, allow_null=True, default=None)


class AvailabilityRuleOut(_PublicId):
    clinician = _uuid_of("clinician")
    location = _uuid_of("location")

    class Meta:
        model = AvailabilityRule
        fields = ["id", "clinician", "location", "weekday", "start_time", "end_time", "valid_from", "valid_until"]
        read_only_fields = fields


class AvailabilityRuleIn(serializers.Serializer):
    clinician = serializers.UUIDField()
    location = serializers.UUIDField()
    weekday = serializers.ChoiceField(choices=AvailabilityRule.Weekday.choices)
    start_time = serializers.TimeField()
    end_time = serializers.TimeField()
    valid_from = serializers.DateField(required=False, allow_null=True)
    valid_until = serializers.DateField(required=False, allow_null=True)


class AvailabilityRuleUpdateIn(serializers.Serializer):
    """The fields to change (the clinician of a rule cannot change: add a rule instead)."""

    location = serializers.UUIDField(required=False)
    weekday = serializers.ChoiceField(choices=AvailabilityRule.Weekday.choices, required=False)
    start_time = serializers.TimeField(required=False)
    end_time = serializers.TimeField(required=False)
    valid_from = serializers.DateField(required=False)
    valid_until = serializers.DateField(required=False, allow_null=True)


class AvailabilityFilterIn(serializers.Serializer):
    clinician = serializers.UUIDField(required=False)
    location = serializers.UUIDField(required=False)


class AvailabilityExceptionOut(_PublicId):
    clinician = _uuid_of("clinician")
    location = _uuid_of("location", allow_null=True)

    class Meta:
        model = AvailabilityException
        fields = ["id", "clinician", "kind", "location", "starts_at", "ends_at", "reason"]
        read_only_fields = fields


class AvailabilityExceptionIn(serializers.Serializer):
    clinician = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=AvailabilityException.Kind.choices)
    location = serializers.UUIDField(required=False, allow_null=True, help_text="Required for extra hours.")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class AvailabilityExceptionUpdateIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AvailabilityException.Kind.choices, required=False)
    location = serializers.UUIDField(required=False, allow_null=True)
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(required=False)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class AvailabilityExceptionFilterIn(serializers.Serializer):
    clinician = serializers.UUIDField(required=False)
    start = serializers.DateTimeField(required=False, help_text="Exceptions ending after this time.")
    end = serializers.DateTimeField(required=False, help_text="Exceptions starting before this time.")


class AttendeeOut(_PublicId):
    patient = _uuid_of("patient")

    class Meta:
        model = Attendee
        fields = ["id", "patient", "status", "checked_in_at"]
        read_only_fields = fields


class AppointmentOut(_PublicId):
    clinician = _uuid_of("clinician")
    appointment_type = _uuid_of("appointment_type")
    location = _uuid_of("location", allow_null=True)
    room = _uuid_of("room", allow_null=True)
    series = _uuid_of("series", allow_null=True)
    attendees = AttendeeOut(many=True, read_only=True)

    class Meta:
        model = Appointment
        fields = [
            "id",
            "clinician",
            "appointment_type",
            "location",
            "room",
            "starts_at",
            "ends_at",
            "status",
            "status_changed_at",
            "is_telehealth",
            "telehealth_url",
            "series",
            "occurrence_start",
            "is_exception",
            "cancel_reason",
            "fee_due",
            "admin_note",
            "ical_sequence",
            "attendees",
        ]
        read_only_fields = fields


class AppointmentIn(serializers.Serializer):
    clinician = serializers.UUIDField()
    appointment_type = serializers.UUIDField()
    starts_at = serializers.DateTimeField()
    patients = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=50)
    location = serializers.UUIDField(required=False, allow_null=True)
    room = serializers.UUIDField(required=False, allow_null=True)
    is_telehealth = serializers.BooleanField(required=False, default=False)
    telehealth_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=500)
    admin_note = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    rrule = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=300, help_text="e.g. FREQ=WEEKLY;COUNT=10"
    )


class AppointmentFilterIn(serializers.Serializer):
    start = serializers.DateTimeField(required=False, help_text="Appointments ending after this time.")
    end = serializers.DateTimeField(required=False, help_text="Appointments starting before this time.")
    clinician = serializers.UUIDField(required=False)
    patient = serializers.UUIDField(required=False)
    location = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=Appointment.Status.choices, required=False)
    ordering = serializers.ChoiceField(
        choices=["starts_at", "-starts_at"], required=False, default="starts_at", help_text="Default: starts_at."
    )


class RescheduleIn(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    clinician = serializers.UUIDField(required=False, allow_null=True)
    room = serializers.UUIDField(required=False, allow_null=True)
    scope = serializers.ChoiceField(choices=SCOPES, required=False, default="this")


class CancelIn(serializers.Serializer):
    reason = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")
    scope = serializers.ChoiceField(choices=SCOPES, required=False, default="this")
    late = serializers.BooleanField(required=False, allow_null=True, default=None)


class StatusIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=Appointment.Status.choices)
    reason = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")


class CheckInIn(serializers.Serializer):
    attendee = serializers.UUIDField(
        required=False, allow_null=True, help_text="For a group: the one attendee who arrived (default: everyone)."
    )


class AttendeeStatusIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=Attendee.Status.choices)
    reason = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")


class ConflictBodyOut(ErrorBodyOut):
    # absent when the 409 is another rule (e.g. "Only scheduled or confirmed appointments can be moved.")
    conflicting_appointment = serializers.UUIDField(allow_null=True, required=False)
    conflicts = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="occurrence_start, appointment"
    )


class ConflictOut(serializers.Serializer):
    """409 of a booking or move: the appointment(s) in the way."""

    error = ConflictBodyOut()


class OpenSlotsIn(serializers.Serializer):
    appointment_type = serializers.UUIDField()
    clinician = serializers.UUIDField(required=False, help_text="Default: every clinician with availability.")
    location = serializers.UUIDField(required=False)
    start = serializers.DateField()
    end = serializers.DateField()

    def validate(self, attrs: dict) -> dict:
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["The end is before the start."]})
        if attrs["end"] - attrs["start"] > timedelta(days=31):
            raise serializers.ValidationError({"end": ["Ask for at most 31 days at a time."]})
        return attrs


class SlotOut(serializers.Serializer):
    clinician = serializers.UUIDField(source="clinician.public_id")
    location = serializers.UUIDField(source="location.public_id", allow_null=True)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class WaitlistEntryOut(_PublicId):
    patient = _uuid_of("patient")
    appointment_type = _uuid_of("appointment_type")
    location = _uuid_of("location", allow_null=True)
    clinicians = serializers.SerializerMethodField()

    class Meta:
        model = WaitlistEntry
        fields = [
            "id",
            "patient",
            "appointment_type",
            "location",
            "clinicians",
            "weekdays",
            "earliest_time",
            "latest_time",
            "priority",
            "status",
            "notes",
            "created_at",
        ]
        read_only_fields = fields

    def get_clinicians(self, entry: WaitlistEntry) -> list[str]:
        return [str(m.public_id) for m in entry.clinicians.all()]


class WaitlistFilterIn(serializers.Serializer):
    status = serializers.MultipleChoiceField(
        choices=WaitlistEntry.Status.choices,
        required=False,
        help_text="Repeat for several; default: waiting and offered.",
    )
    clinician = serializers.UUIDField(required=False, help_text="Entries accepting this clinician (or any).")
    appointment_type = serializers.UUIDField(required=False)
    location = serializers.UUIDField(required=False, help_text="Entries accepting this location (or any).")
    priority = serializers.IntegerField(required=False, min_value=1, max_value=5)


class WaitlistEntryIn(serializers.Serializer):
    patient = serializers.UUIDField()
    appointment_type = serializers.UUIDField()
    clinicians = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)
    location = serializers.UUIDField(required=False, allow_null=True)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False, default=list, max_length=7
    )
    earliest_time = serializers.TimeField(required=False, allow_null=True)
    latest_time = serializers.TimeField(required=False, allow_null=True)
    priority = serializers.IntegerField(required=False, default=3, min_value=1, max_value=5)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class WaitlistEntryUpdateIn(serializers.Serializer):
    """The fields to change; ``status`` "removed" takes the entry off the list, "waiting" puts it back."""

    appointment_type = serializers.UUIDField(required=False)
    clinicians = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=50)
    location = serializers.UUIDField(required=False, allow_null=True)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False, max_length=7
    )
    earliest_time = serializers.TimeField(required=False, allow_null=True)
    latest_time = serializers.TimeField(required=False, allow_null=True)
    priority = serializers.IntegerField(required=False, min_value=1, max_value=5)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=300)
    status = serializers.ChoiceField(
        choices=[WaitlistEntry.Status.WAITING, WaitlistEntry.Status.REMOVED], required=False
    )
