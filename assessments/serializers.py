"""API shapes of assessments (/api/v1/): instruments (library data, not a model), protocols,
assignments, administrations, scored responses and risk alerts. Parse and render only: writes go
through the services (`assessments.services`, `services_delivery`, `services_alerts`)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from assessments import models as m
from assessments.library import INSTRUMENTS


def _uuid_of(source: str, *, allow_null: bool = False) -> serializers.UUIDField:
    return serializers.UUIDField(source=f"{source}.public_id", read_only=True, allow_null=allow_null)


class _PublicId(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)


INSTRUMENT_CODES = [(code, code) for code in INSTRUMENTS]


# --- Instruments (library data) ----------------------------------------------------------------


class OptionOut(serializers.Serializer):
    label = serializers.CharField()
    value = serializers.IntegerField(help_text="The scored value stored in `answers`.")
    loinc = serializers.CharField(help_text="LOINC answer code (LA…); empty where none is verified.")


class ShowIfOut(serializers.Serializer):
    item = serializers.CharField(help_text="Key of the controlling item.")
    equals = serializers.IntegerField()


class ItemOut(serializers.Serializer):
    key = serializers.CharField(help_text='Printed label: "1".."9", "6b", "difficulty".')
    number = serializers.IntegerField(help_text="1-based position in the answers list.")
    text = serializers.CharField()
    loinc = serializers.CharField(help_text="LOINC item code; empty where none is verified.")
    loinc_aliases = serializers.ListField(child=serializers.CharField())
    reverse_keyed = serializers.BooleanField()
    is_risk_item = serializers.BooleanField()
    scored = serializers.BooleanField()
    show_if = ShowIfOut(allow_null=True, help_text="Skip logic (C-SSRS screener only).")
    options = OptionOut(many=True)


class BandOut(serializers.Serializer):
    lower = serializers.IntegerField()
    upper = serializers.IntegerField()
    key = serializers.CharField()
    label = serializers.CharField()


class RiskLevelOut(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()


class InstrumentSummaryOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    version = serializers.CharField()
    item_count = serializers.IntegerField()
    has_total = serializers.BooleanField()
    loinc_panel = serializers.CharField()
    loinc_total = serializers.CharField()
    licence = serializers.CharField()
    billable_cpt = serializers.CharField()


class InstrumentOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    version = serializers.CharField()
    instructions = serializers.CharField()
    recall_period = serializers.CharField()
    items = ItemOut(many=True)
    difficulty_item = ItemOut(allow_null=True, help_text="PHQ-9's unscored difficulty question.")
    total_range = serializers.ListField(child=serializers.IntegerField(), allow_null=True)
    bands = BandOut(many=True)
    bands_are_derived = serializers.BooleanField()
    risk_levels = RiskLevelOut(many=True)
    positive_at = serializers.IntegerField(allow_null=True, help_text="Positive screen when total >= this.")
    positive_at_by_sex = serializers.DictField(child=serializers.IntegerField(), help_text="AUDIT-C cut-offs.")
    requires_sex = serializers.BooleanField()
    subscales = serializers.DictField(child=serializers.ListField(child=serializers.IntegerField()))
    caseness = serializers.IntegerField(allow_null=True)
    remission_below = serializers.IntegerField(allow_null=True)
    reliable_change = serializers.IntegerField(allow_null=True)
    reliable_change_source = serializers.CharField()
    loinc_panel = serializers.CharField()
    loinc_total = serializers.CharField()
    loinc_risk_level = serializers.CharField()
    licence = serializers.CharField()
    licence_note = serializers.CharField()
    sources = serializers.ListField(child=serializers.CharField())
    billable_cpt = serializers.CharField()


# --- Protocols ---------------------------------------------------------------------------------


class ProtocolOut(_PublicId):
    clinicians = serializers.SerializerMethodField()
    created_by = _uuid_of("created_by")

    class Meta:
        model = m.Protocol
        fields = [
            "id",
            "name",
            "instrument_codes",
            "audience",
            "diagnosis_prefixes",
            "clinicians",
            "at_intake",
            "every_n_sessions",
            "every_n_weeks",
            "channel",
            "is_active",
            "auto_assign",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_clinicians(self, obj: m.Protocol) -> list[str]:
        return [str(c.public_id) for c in obj.clinicians.all()]


class ProtocolIn(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    instrument_codes = serializers.ListField(
        child=serializers.ChoiceField(choices=INSTRUMENT_CODES), min_length=1, max_length=8
    )
    audience = serializers.ChoiceField(choices=m.Protocol.Audience.choices, default=m.Protocol.Audience.ALL)
    diagnosis_prefixes = serializers.ListField(
        child=serializers.CharField(max_length=8), required=False, default=list, max_length=30
    )
    clinicians = serializers.ListField(child=serializers.UUIDField(), required=False, default=list, max_length=100)
    at_intake = serializers.BooleanField(required=False, default=True)
    every_n_sessions = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=52)
    every_n_weeks = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=52)
    channel = serializers.ChoiceField(choices=m.DeliveryChannel.choices, default=m.DeliveryChannel.EMAIL)
    is_active = serializers.BooleanField(
        required=False, help_text="Update only: false switches the protocol off and ends its assignments."
    )
    auto_assign = serializers.BooleanField(required=False, default=True)


# --- Assignments -------------------------------------------------------------------------------


class AssignmentOut(_PublicId):
    protocol = _uuid_of("protocol")
    protocol_name = serializers.CharField(source="protocol.name", read_only=True)
    patient = _uuid_of("patient")
    assigned_by = _uuid_of("assigned_by", allow_null=True)

    class Meta:
        model = m.ProtocolAssignment
        fields = ["id", "protocol", "protocol_name", "patient", "status", "started_on", "ended_at", "assigned_by"]
        read_only_fields = fields


class AssignmentIn(serializers.Serializer):
    protocol = serializers.UUIDField()
    patient = serializers.UUIDField()


class AssignmentFilterIn(serializers.Serializer):
    patient = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=m.ProtocolAssignment.Status.choices, required=False)


# --- Administrations ---------------------------------------------------------------------------


class AdministrationOut(_PublicId):
    patient = _uuid_of("patient")
    assignment = _uuid_of("assignment", allow_null=True)
    appointment = _uuid_of("appointment", allow_null=True)
    requested_by = _uuid_of("requested_by", allow_null=True)

    class Meta:
        model = m.Administration
        fields = [
            "id",
            "patient",
            "instrument_code",
            "assignment",
            "appointment",
            "reason",
            "channel",
            "status",
            "due_at",
            "sent_at",
            "expires_at",
            "completed_at",
            "requested_by",
        ]
        read_only_fields = fields


class AdministrationIn(serializers.Serializer):
    patient = serializers.UUIDField()
    instrument_code = serializers.ChoiceField(choices=INSTRUMENT_CODES)
    channel = serializers.ChoiceField(choices=m.DeliveryChannel.choices, default=m.DeliveryChannel.EMAIL)


class AdministrationFilterIn(serializers.Serializer):
    patient = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=m.Administration.Status.choices, required=False)


# --- Responses ---------------------------------------------------------------------------------


class ResponseOut(_PublicId):
    patient = _uuid_of("patient")
    administration = _uuid_of("administration", allow_null=True)
    administered_by = _uuid_of("administered_by", allow_null=True)
    corrects = _uuid_of("corrects", allow_null=True)
    alert = serializers.SerializerMethodField(help_text="The risk alert this response opened, if any.")

    class Meta:
        model = m.Response
        fields = [
            "id",
            "patient",
            "instrument_code",
            "instrument_version",
            "answers",
            "difficulty",
            "sex",
            "total",
            "severity",
            "severity_label",
            "flags",
            "positive_screen",
            "is_complete",
            "subscores",
            "mode",
            "administration",
            "administered_by",
            "completed_at",
            "corrects",
            "correction_reason",
            "alert",
        ]
        read_only_fields = fields

    def get_alert(self, obj: m.Response) -> str | None:
        alerts = list(obj.risk_alerts.all())
        return str(alerts[0].public_id) if alerts else None


class ResponseIn(serializers.Serializer):
    MODES = [
        (m.Response.Mode.CLINICIAN, m.Response.Mode.CLINICIAN.label),
        (m.Response.Mode.PAPER, m.Response.Mode.PAPER.label),
        (m.Response.Mode.IMPORT, m.Response.Mode.IMPORT.label),
    ]

    patient = serializers.UUIDField()
    instrument_code = serializers.ChoiceField(choices=INSTRUMENT_CODES)
    answers = serializers.ListField(
        child=serializers.IntegerField(allow_null=True),
        max_length=40,
        help_text="Scored values in item order (null = unanswered); see instruments/<code>/.",
    )
    difficulty = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=3)
    sex = serializers.ChoiceField(choices=[("male", "male"), ("female", "female")], required=False, allow_null=True)
    mode = serializers.ChoiceField(choices=MODES, default=m.Response.Mode.CLINICIAN)
    completed_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_answers(self, value: list[Any]) -> list[Any]:
        if not value:
            raise serializers.ValidationError("Give the answers in item order.")
        return value


class ResponseFilterIn(serializers.Serializer):
    patient = serializers.UUIDField(required=False)
    instrument = serializers.ChoiceField(choices=INSTRUMENT_CODES, required=False)
    since = serializers.DateTimeField(required=False, help_text="Completed at or after this time.")


# --- Risk alerts -------------------------------------------------------------------------------


class RiskAlertOut(_PublicId):
    patient = _uuid_of("patient")
    response = _uuid_of("response")
    clinician = _uuid_of("clinician", allow_null=True)
    escalated_to = _uuid_of("escalated_to", allow_null=True)
    acknowledged_by = _uuid_of("acknowledged_by", allow_null=True)
    instrument_code = serializers.CharField(source="response.instrument_code", read_only=True)

    class Meta:
        model = m.RiskAlert
        fields = [
            "id",
            "patient",
            "response",
            "instrument_code",
            "clinician",
            "flags",
            "summary",
            "status",
            "escalation_level",
            "escalated_at",
            "escalated_to",
            "acknowledged_by",
            "acknowledged_at",
            "action",
            "action_note",
            "created_at",
        ]
        read_only_fields = fields


class RiskAlertFilterIn(serializers.Serializer):
    patient = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(
        choices=[*m.RiskAlert.Status.choices, ("all", "All")],
        required=False,
        default=m.RiskAlert.Status.OPEN,
        help_text="open (default), acknowledged or all.",
    )


class AcknowledgeIn(serializers.Serializer):
    action = serializers.ChoiceField(choices=m.RiskAlert.Action.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
