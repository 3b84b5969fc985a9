"""Measurement-based care: protocols decide which questionnaires a patient gets and when;
administrations are the individual deliveries (with a tokenized link); responses are the scored,
immutable results; risk alerts close the loop on flagged answers.

The instruments themselves are data in `assessments/library.py` (versioned; every response stores
the code and version it was scored with).
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from practice.scoping import PracticeScopedModel


class DeliveryChannel(models.TextChoices):
    EMAIL = "email", "Email link"
    SMS = "sms", "Text message link"
    PORTAL = "portal", "Patient portal"


class AssessmentSettings(PracticeScopedModel):
    """Per-practice rules for questionnaires and risk alerts."""

    link_valid_hours = models.PositiveSmallIntegerField(
        default=72,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 14)],
        help_text="How long a questionnaire link works after it is sent.",
    )
    send_hours_before = models.PositiveSmallIntegerField(
        default=48,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 7)],
        help_text="Questionnaires due for an appointment are sent this long before it.",
    )
    escalate_after_minutes = models.PositiveIntegerField(
        default=240,
        validators=[MinValueValidator(15), MaxValueValidator(60 * 72)],
        help_text="An unacknowledged risk alert goes to the clinician's supervisor (or the admins) after this.",
    )
    bill_screening_cpt = models.BooleanField(
        default=True,
        help_text="Completing a scored instrument adds a CPT 96127 line to that day's encounter.",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice"], name="assessmentsettings_one_per_practice")]


class Protocol(PracticeScopedModel):
    """Which instruments, for which patients, when and how: e.g. PHQ-9 + GAD-7 at intake and every
    2nd session by email link, for patients with a depressive or anxiety diagnosis."""

    class Audience(models.TextChoices):
        ALL = "all", "All patients"
        DIAGNOSIS = "diagnosis", "Patients with a diagnosis starting with…"
        CLINICIANS = "clinicians", "Patients of chosen clinicians"

    name = models.CharField(max_length=120)
    instrument_codes = models.JSONField(help_text='Library codes, e.g. ["PHQ-9", "GAD-7"].')
    audience = models.CharField(max_length=12, choices=Audience.choices, default=Audience.ALL)
    diagnosis_prefixes = models.JSONField(
        default=list, blank=True, help_text='ICD-10-CM prefixes, e.g. ["F32", "F33", "F41"].'
    )
    clinicians = models.ManyToManyField("practice.Membership", blank=True, related_name="+")
    at_intake = models.BooleanField(default=True, help_text="Before the patient's first session.")
    every_n_sessions = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(52)]
    )
    every_n_weeks = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(52)]
    )
    channel = models.CharField(max_length=8, choices=DeliveryChannel.choices, default=DeliveryChannel.EMAIL)
    is_active = models.BooleanField(default=True)
    auto_assign = models.BooleanField(
        default=True, help_text="Assign to every matching patient automatically (otherwise clinicians assign it)."
    )
    created_by = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProtocolAssignment(PracticeScopedModel):
    """A protocol in force for one patient. Ending it cancels what it had scheduled and not sent."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="assignments")
    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="protocol_assignments")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    started_on = models.DateField(default=timezone.localdate)
    ended_at = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["protocol", "patient"],
                condition=models.Q(status="active"),
                name="protocolassignment_one_active",
            )
        ]


class Administration(PracticeScopedModel):
    """One instrument, due from one patient: sent as a single-use link (only the token's sha256 is
    stored), or given in the portal, in session or on paper."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        SENT = "sent", "Sent"
        COMPLETED = "completed", "Completed"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"

    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="administrations")
    instrument_code = models.CharField(max_length=20)
    assignment = models.ForeignKey(
        ProtocolAssignment, on_delete=models.PROTECT, null=True, blank=True, related_name="administrations"
    )
    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.PROTECT, null=True, blank=True, related_name="administrations"
    )
    reason = models.CharField(max_length=80, blank=True, help_text="e.g. intake, every 2nd session, requested")
    channel = models.CharField(max_length=8, choices=DeliveryChannel.choices, default=DeliveryChannel.EMAIL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    due_at = models.DateTimeField(help_text="When it should be sent (or, with no appointment, completed).")
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    message = models.ForeignKey(
        "notifications.Message", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "appointment", "instrument_code"],
                condition=models.Q(assignment__isnull=False, appointment__isnull=False),
                name="administration_once_per_appointment",
            )
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="administration_due"),
            models.Index(fields=["practice", "due_at"], name="administration_practice_due"),
            models.Index(fields=["practice", "patient", "status"], name="administration_patient"),
        ]


class Response(PracticeScopedModel):
    """A completed, scored questionnaire. Never edited: a correction is a new response pointing at
    the one it corrects (which then no longer counts)."""

    class Mode(models.TextChoices):
        LINK = "link", "Patient, from a link"
        PORTAL = "portal", "Patient, in the portal"
        CLINICIAN = "clinician", "Administered by clinician"
        PAPER = "paper", "Entered from a paper form"
        IMPORT = "import", "Imported"

    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="assessment_responses")
    administration = models.OneToOneField(
        Administration, on_delete=models.PROTECT, null=True, blank=True, related_name="response"
    )
    instrument_code = models.CharField(max_length=20)
    instrument_version = models.CharField(max_length=20)
    answers = models.JSONField(help_text="Scored values in item order; null = unanswered.")
    difficulty = models.PositiveSmallIntegerField(null=True, blank=True, help_text="PHQ-9 difficulty, not scored.")
    sex = models.CharField(max_length=6, blank=True, help_text="Sex used for sex-specific cut-offs (AUDIT-C).")
    total = models.SmallIntegerField(null=True, blank=True)
    severity = models.CharField(max_length=24, blank=True)
    severity_label = models.CharField(max_length=60, blank=True)
    flags = models.JSONField(default=list, blank=True)
    positive_screen = models.BooleanField(null=True, blank=True)
    is_complete = models.BooleanField(default=True)
    subscores = models.JSONField(default=dict, blank=True)
    mode = models.CharField(max_length=10, choices=Mode.choices)
    administered_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(default=timezone.now)
    corrects = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrected_by"
    )
    correction_reason = models.CharField(max_length=300, blank=True)
    billable_cpt = models.CharField(max_length=5, blank=True, help_text="e.g. 96127; billing picks it up.")
    charge_recorded_at = models.DateTimeField(null=True, blank=True, help_text="Set by billing when charged.")

    class Meta:
        ordering = ["-completed_at", "-id"]
        indexes = [
            models.Index(fields=["practice", "patient", "instrument_code", "completed_at"], name="response_patient"),
            models.Index(fields=["practice", "instrument_code", "completed_at"], name="response_instrument"),
        ]


class RiskAlert(PracticeScopedModel):
    """A flagged response (PHQ-9 item 9, EPDS item 10, a high-risk C-SSRS screen…) waiting for the
    clinician's acknowledgement with a chosen action. Escalates when it waits too long."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"

    class Action(models.TextChoices):
        SAFETY_PLAN_REVIEWED = "safety_plan", "Safety plan reviewed"
        CONTACTED_PATIENT = "contacted", "Contacted the patient"
        CRISIS_PROTOCOL = "crisis", "Crisis protocol started"
        NOT_SIGNIFICANT = "not_significant", "Not clinically significant"

    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="risk_alerts")
    response = models.ForeignKey(Response, on_delete=models.PROTECT, related_name="risk_alerts")
    clinician = models.ForeignKey(
        "practice.Membership",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="risk_alerts",
        help_text="The patient's primary clinician; with none, the alert goes straight to the admins.",
    )
    flags = models.JSONField(default=list)
    summary = models.CharField(max_length=200, help_text="e.g. 'PHQ-9 item 9 answered “several days”'.")
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.OPEN)
    escalation_level = models.PositiveSmallIntegerField(default=0, help_text="0 clinician, 1 supervisor, 2 admins")
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices, blank=True)
    action_note = models.TextField(blank=True)
    addressed_by_note = models.ForeignKey(
        "clinical.ProgressNote",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The signed note whose risk assessment and safety plan answered this alert.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["response"], name="riskalert_one_per_response"),
        ]
        indexes = [
            models.Index(fields=["practice", "status", "created_at"], name="riskalert_status"),
            models.Index(fields=["practice", "clinician", "status"], name="riskalert_clinician"),
            models.Index(fields=["practice", "patient", "addressed_by_note"], name="riskalert_patient"),
        ]


class MeasureSummary(PracticeScopedModel):
    """Per patient and instrument: baseline, latest and change status, rewritten on every new
    response. The outcome dashboard aggregates these rows (one per patient-measure), not the
    responses, so it stays fast at 400,000 responses."""

    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="+")
    instrument_code = models.CharField(max_length=20)
    clinician = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    location = models.ForeignKey("practice.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    primary_diagnosis = models.CharField(max_length=8, blank=True, help_text="ICD-10-CM code at the latest response.")
    response_count = models.PositiveIntegerField(default=0)
    baseline_total = models.SmallIntegerField(null=True, blank=True)
    baseline_at = models.DateTimeField(null=True, blank=True)
    latest_total = models.SmallIntegerField(null=True, blank=True)
    latest_at = models.DateTimeField(null=True, blank=True)
    latest_severity = models.CharField(max_length=24, blank=True)
    latest_severity_label = models.CharField(max_length=60, blank=True)
    reliable_improvement = models.BooleanField(null=True, blank=True)
    reliable_deterioration = models.BooleanField(null=True, blank=True)
    response = models.BooleanField(null=True, blank=True)
    remission = models.BooleanField(null=True, blank=True)
    recovery = models.BooleanField(null=True, blank=True)
    reliable_recovery = models.BooleanField(null=True, blank=True)
    at_caseness_at_baseline = models.BooleanField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "instrument_code"], name="measuresummary_one_per_measure")
        ]
        indexes = [
            models.Index(fields=["practice", "instrument_code", "latest_at"], name="measuresummary_latest"),
        ]
