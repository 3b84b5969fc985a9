"""API shapes of scheduling. Parse and render only: writes go through scheduling.services.

Patients appear by id only (no names): an appointment list is PHI enough.
"""

from __future__ import annotations

from datetime import timedelta

from rest_framework import serializers

from scheduling.models import Appointment, AppointmentType, Attendee, AvailabilityRule, WaitlistEntry
from scheduling.services import SCOPES


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


class AvailabilityFilterIn(serializers.Serializer):
    clinician = serializers.UUIDField(required=False)


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
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    clinician = serializers.UUIDField(required=False)
    patient = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=Appointment.Status.choices, required=False)


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
