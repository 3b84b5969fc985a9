"""API shapes of the clinical record. Parse and render only: writes go through clinical.services.

Psychotherapy notes have no serializer and no endpoint (45 CFR 164.501).
"""

from __future__ import annotations

from rest_framework import serializers

from clinical.models import (
    Diagnosis,
    Document,
    Medication,
    Modality,
    NoteAddendum,
    Patient,
    ProgressNote,
    TreatmentGoal,
    TreatmentObjective,
    TreatmentPlan,
    TreatmentProblem,
)
from clinical.services.patients import PATIENT_FIELDS


class _PublicId(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)


class PatientOut(_PublicId):
    primary_clinician = serializers.UUIDField(source="primary_clinician.public_id", read_only=True, allow_null=True)

    class Meta:
        model = Patient
        fields = ["id", "mrn", *PATIENT_FIELDS, "created_at", "updated_at"]
        read_only_fields = fields


class PatientIn(serializers.ModelSerializer):
    primary_clinician = serializers.UUIDField(required=False, allow_null=True)
    allow_duplicate = serializers.BooleanField(required=False, default=False, write_only=True)

    class Meta:
        model = Patient
        fields = [*PATIENT_FIELDS, "allow_duplicate"]


class PatientFilterIn(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=100)
    status = serializers.ChoiceField(choices=Patient.Status.choices, required=False)


class DiagnosisOut(_PublicId):
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    code = serializers.CharField(source="code.code", read_only=True)
    description = serializers.CharField(source="code.description", read_only=True)

    class Meta:
        model = Diagnosis
        fields = ["id", "patient", "code", "description", "onset_on", "resolved_on", "is_primary", "rank", "notes"]
        read_only_fields = fields


class DiagnosisIn(serializers.Serializer):
    patient = serializers.UUIDField()
    code = serializers.CharField(max_length=8)
    onset_on = serializers.DateField(required=False, allow_null=True)
    is_primary = serializers.BooleanField(required=False, default=False)
    rank = serializers.IntegerField(required=False, default=1, min_value=1, max_value=12)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class PatientScopedFilterIn(serializers.Serializer):
    patient = serializers.UUIDField(required=False)


class NoteFilterIn(PatientScopedFilterIn):
    status = serializers.ChoiceField(choices=ProgressNote.Status.choices, required=False)


class AddendumOut(_PublicId):
    author = serializers.UUIDField(source="author.public_id", read_only=True)

    class Meta:
        model = NoteAddendum
        fields = ["id", "author", "reason", "text", "created_at"]
        read_only_fields = fields


class NoteOut(_PublicId):
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    author = serializers.UUIDField(source="author.public_id", read_only=True)
    template = serializers.UUIDField(source="template.public_id", read_only=True)
    cosigner = serializers.UUIDField(source="cosigner.public_id", read_only=True, allow_null=True)
    duration_minutes = serializers.IntegerField(read_only=True, allow_null=True)
    addenda = AddendumOut(many=True, read_only=True)

    class Meta:
        model = ProgressNote
        fields = [
            "id",
            "patient",
            "author",
            "template",
            "kind",
            "status",
            "session_on",
            "start_time",
            "end_time",
            "duration_minutes",
            "service_code",
            "modality",
            "place_of_service",
            "participants",
            "content",
            "risk_ideation",
            "risk_plan",
            "risk_intent",
            "risk_means",
            "risk_protective_factors",
            "risk_level",
            "interventions",
            "plan",
            "revision",
            "signed_at",
            "cosigner",
            "cosigned_at",
            "addenda",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class NoteCreateIn(serializers.Serializer):
    patient = serializers.UUIDField()
    template = serializers.UUIDField()
    session_on = serializers.DateField()


class NoteUpdateIn(serializers.Serializer):
    """Draft fields; any subset (PATCH)."""

    session_on = serializers.DateField(required=False)
    start_time = serializers.TimeField(required=False, allow_null=True)
    end_time = serializers.TimeField(required=False, allow_null=True)
    service_code = serializers.CharField(required=False, allow_blank=True, max_length=5)
    modality = serializers.ChoiceField(choices=Modality.choices, required=False)
    participants = serializers.CharField(required=False, allow_blank=True, max_length=300)
    content = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    risk_ideation = serializers.CharField(required=False, allow_blank=True, max_length=12)
    risk_plan = serializers.BooleanField(required=False, allow_null=True)
    risk_intent = serializers.BooleanField(required=False, allow_null=True)
    risk_means = serializers.BooleanField(required=False, allow_null=True)
    risk_protective_factors = serializers.CharField(required=False, allow_blank=True)
    risk_level = serializers.CharField(required=False, allow_blank=True, max_length=10)
    interventions = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    plan = serializers.CharField(required=False, allow_blank=True)


class SignIn(serializers.Serializer):
    credential = serializers.CharField(
        trim_whitespace=False, help_text="Your password, or a current code from your authenticator app."
    )


class ObjectiveOut(_PublicId):
    class Meta:
        model = TreatmentObjective
        fields = ["id", "order", "description", "target_on", "status"]
        read_only_fields = fields


class GoalOut(_PublicId):
    objectives = ObjectiveOut(many=True, read_only=True)

    class Meta:
        model = TreatmentGoal
        fields = ["id", "order", "description", "interventions", "objectives"]
        read_only_fields = fields


class ProblemOut(_PublicId):
    goals = GoalOut(many=True, read_only=True)

    class Meta:
        model = TreatmentProblem
        fields = ["id", "order", "description", "goals"]
        read_only_fields = fields


class TreatmentPlanOut(_PublicId):
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    author = serializers.UUIDField(source="author.public_id", read_only=True)
    problems = ProblemOut(many=True, read_only=True)

    class Meta:
        model = TreatmentPlan
        fields = [
            "id",
            "patient",
            "author",
            "version",
            "status",
            "effective_on",
            "review_on",
            "strengths",
            "barriers",
            "discharge_criteria",
            "clinician_signed_at",
            "patient_signature_name",
            "patient_signed_at",
            "problems",
        ]
        read_only_fields = fields


class MedicationOut(_PublicId):
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = Medication
        fields = [
            "id",
            "patient",
            "name",
            "dose",
            "frequency",
            "route",
            "prescriber_name",
            "started_on",
            "stopped_on",
            "notes",
            "is_active",
        ]
        read_only_fields = fields


class DocumentOut(_PublicId):
    """A chart document's metadata (the file itself: ``documents/<id>/download/``)."""

    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    uploaded_at = serializers.DateTimeField(source="created_at", read_only=True)
    uploaded_by = serializers.UUIDField(source="uploaded_by.public_id", read_only=True)
    uploaded_by_name = serializers.CharField(source="uploaded_by.user.full_name", read_only=True)

    class Meta:
        model = Document
        fields = [
            "id",
            "patient",
            "category",
            "title",
            "content_type",
            "size_bytes",
            "sha256",
            "uploaded_at",
            "uploaded_by",
            "uploaded_by_name",
            "signed_by_name",
            "signed_at",
            "expires_on",
        ]
        read_only_fields = fields


class DocumentFilterIn(PatientScopedFilterIn):
    category = serializers.ChoiceField(choices=Document.Category.choices, required=False)
