"""The clinical record: patients, consents, diagnoses, notes, plans, medications, documents.

Clinical rows are never cascaded away: every foreign key into the record is PROTECT.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from practice.scoping import PracticeScopedModel

STATE_VALIDATOR = RegexValidator(r"^[A-Z]{2}$", "Use the two-letter state code.")
ZIP_VALIDATOR = RegexValidator(r"^\d{5}(-?\d{4})?$", "Use a 5- or 9-digit ZIP code.")
CPT_VALIDATOR = RegexValidator(r"^\d{4}[0-9A-Z]$", "Use a 5-character CPT/HCPCS code, e.g. 90834.")


class Modality(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    TELEHEALTH = "telehealth", "Telehealth"


class Patient(PracticeScopedModel):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        WAITLISTED = "waitlisted", "Waitlisted"
        DISCHARGED = "discharged", "Discharged"

    class SexAtBirth(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        INTERSEX = "intersex", "Intersex"
        UNKNOWN = "unknown", "Unknown"
        DECLINED = "declined", "Declined to answer"

    mrn = models.CharField("MRN", max_length=20, help_text="Medical record number, unique in the practice.")
    legal_first_name = models.CharField(max_length=100)
    legal_middle_name = models.CharField(max_length=100, blank=True)
    legal_last_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    pronouns = models.CharField(max_length=40, blank=True)
    date_of_birth = models.DateField()
    sex_assigned_at_birth = models.CharField(max_length=10, choices=SexAtBirth.choices, default=SexAtBirth.UNKNOWN)
    gender_identity = models.CharField(max_length=60, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True, validators=[STATE_VALIDATOR])
    postal_code = models.CharField(max_length=10, blank=True, validators=[ZIP_VALIDATOR])
    phone = models.CharField(max_length=32, blank=True)
    phone_digits = models.CharField(max_length=20, blank=True, editable=False)  # for search
    email = models.EmailField(blank=True)
    emergency_contact_name = models.CharField(max_length=200, blank=True)
    emergency_contact_phone = models.CharField(max_length=32, blank=True)
    emergency_contact_relationship = models.CharField(max_length=60, blank=True)
    guardian_name = models.CharField(max_length=200, blank=True, help_text="Required for patients under 18.")
    guardian_phone = models.CharField(max_length=32, blank=True)
    guardian_email = models.EmailField(blank=True)
    guardian_relationship = models.CharField(max_length=60, blank=True)
    primary_clinician = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="primary_patients"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    status_changed_at = models.DateTimeField(default=timezone.now)
    chart_alert = models.CharField(
        max_length=200, blank=True, help_text="Shown on the chart header, e.g. 'Safety plan on file'."
    )
    search_name = models.CharField(max_length=320, blank=True, editable=False)  # lower-case names, for search

    class Meta:
        ordering = ["legal_last_name", "legal_first_name"]
        constraints = [models.UniqueConstraint(fields=["practice", "mrn"], name="patient_unique_mrn_per_practice")]
        indexes = [
            models.Index(fields=["practice", "legal_last_name", "legal_first_name"], name="patient_name"),
            models.Index(fields=["practice", "date_of_birth"], name="patient_dob"),
            models.Index(fields=["practice", "phone_digits"], name="patient_phone"),
            models.Index(fields=["practice", "primary_clinician", "status"], name="patient_caseload"),
        ]

    @property
    def display_name(self) -> str:
        first = self.preferred_name or self.legal_first_name
        return f"{first} {self.legal_last_name}"

    @property
    def legal_name(self) -> str:
        return " ".join(p for p in (self.legal_first_name, self.legal_middle_name, self.legal_last_name) if p)

    def age_on(self, day: date) -> int:
        dob = self.date_of_birth
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))

    @property
    def age(self) -> int:
        return self.age_on(timezone.localdate())

    @property
    def is_minor(self) -> bool:
        return self.age < 18

    @property
    def initials(self) -> str:
        return f"{self.legal_first_name[:1]}{self.legal_last_name[:1]}".upper()


class CommunicationConsent(PracticeScopedModel):
    """One recorded decision about a channel; the newest row per channel is the patient's consent."""

    class Channel(models.TextChoices):
        SMS = "sms", "Text messages"
        EMAIL = "email", "Email"
        PORTAL = "portal", "Patient portal"

    class Source(models.TextChoices):
        STAFF = "staff", "Recorded by staff"
        PORTAL = "portal", "Patient portal"
        SMS_REPLY = "sms_reply", "SMS reply (STOP/START)"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consents")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    is_granted = models.BooleanField()
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STAFF)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["practice", "patient", "channel", "-recorded_at"], name="consent_latest")]


class DiagnosisCode(models.Model):
    """ICD-10-CM reference data (not tenant-owned): loaded from clinical/data/icd10cm_behavioral.csv."""

    code = models.CharField(max_length=8, unique=True)  # with the dot, e.g. F32.1
    description = models.CharField(max_length=300)
    is_billable = models.BooleanField(help_text="A leaf code: valid on a claim.")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.description}"


class Diagnosis(PracticeScopedModel):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="diagnoses")
    code = models.ForeignKey(DiagnosisCode, on_delete=models.PROTECT, related_name="+")
    onset_on = models.DateField(null=True, blank=True)
    resolved_on = models.DateField(null=True, blank=True)
    is_primary = models.BooleanField(default=False)
    rank = models.PositiveSmallIntegerField(default=1, help_text="Order on claims (1 = first pointer).")
    notes = models.CharField(max_length=300, blank=True)
    added_by = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["resolved_on", "rank", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(is_primary=True, resolved_on__isnull=True),
                name="diagnosis_one_active_primary",
            ),
            models.UniqueConstraint(
                fields=["patient", "code"],
                condition=models.Q(resolved_on__isnull=True),
                name="diagnosis_code_once_while_active",
            ),
        ]

    @property
    def is_active(self) -> bool:
        return self.resolved_on is None


class NoteTemplate(PracticeScopedModel):
    """A note format as data: its sections. Shipped templates are copied into each practice."""

    class Kind(models.TextChoices):
        INTAKE = "intake", "Intake / biopsychosocial assessment"
        PROGRESS_SOAP = "soap", "Progress note (SOAP)"
        PROGRESS_DAP = "dap", "Progress note (DAP)"
        PROGRESS_BIRP = "birp", "Progress note (BIRP)"
        GROUP = "group", "Group note"
        CRISIS = "crisis", "Crisis note"
        DISCHARGE = "discharge", "Discharge summary"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    description = models.CharField(max_length=300, blank=True)
    sections = models.JSONField(help_text="[{key, label, help, required}] in display order")
    includes_risk_assessment = models.BooleanField(default=True)
    default_service_code = models.CharField(max_length=5, blank=True, validators=[CPT_VALIDATOR])
    is_active = models.BooleanField(default=True)
    based_on = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="copies")
    is_builtin = models.BooleanField(default=False)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["practice", "name"], name="notetemplate_unique_name")]


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"
    IMMINENT = "imminent", "Imminent"


class Ideation(models.TextChoices):
    NONE = "none", "None reported"
    PASSIVE = "passive", "Passive (wish to be dead)"
    ACTIVE = "active", "Active, without plan"
    ACTIVE_PLAN = "active_plan", "Active, with plan"


class ProgressNote(PracticeScopedModel):
    """Every clinical note of the legal record (intake, progress, group, crisis, discharge).

    Once signed, its content is immutable (service layer and, on PostgreSQL, a trigger);
    changes are addenda. A pre-licensed author's signature waits for a supervisor's co-signature.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        AWAITING_COSIGN = "awaiting_cosign", "Awaiting co-signature"
        SIGNED = "signed", "Signed"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="authored_notes")
    template = models.ForeignKey(NoteTemplate, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=NoteTemplate.Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    session_on = models.DateField()
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    service_code = models.CharField("Service (CPT)", max_length=5, blank=True, validators=[CPT_VALIDATOR])
    modality = models.CharField(max_length=12, choices=Modality.choices, default=Modality.IN_PERSON)
    place_of_service = models.CharField(max_length=2, default="11")
    location = models.ForeignKey("practice.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    participants = models.CharField(max_length=300, blank=True, help_text="Who attended, e.g. 'Patient and mother'.")
    content = models.JSONField(default=dict, blank=True)  # {section key: text}
    risk_ideation = models.CharField(max_length=12, choices=Ideation.choices, blank=True)
    risk_plan = models.BooleanField(null=True, blank=True)
    risk_intent = models.BooleanField(null=True, blank=True)
    risk_means = models.BooleanField("Access to means", null=True, blank=True)
    risk_protective_factors = models.TextField(blank=True)
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices, blank=True)
    interventions = models.JSONField(default=list, blank=True)  # names from INTERVENTIONS
    plan = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, blank=True, editable=False)
    revision = models.PositiveIntegerField(default=0, editable=False)
    signed_at = models.DateTimeField(null=True, blank=True)
    cosigner = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="notes_to_cosign"
    )
    cosigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-session_on", "-start_time", "-id"]
        indexes = [
            models.Index(fields=["practice", "patient", "-session_on"], name="note_chart"),
            models.Index(fields=["practice", "author", "status"], name="note_author_status"),
            models.Index(fields=["practice", "cosigner", "status"], name="note_cosign_queue"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(signed_at__isnull=False), name="note_signed_has_time"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="awaiting_cosign") | models.Q(cosigner__isnull=False),
                name="note_awaiting_cosign_has_cosigner",
            ),
        ]

    @property
    def is_locked(self) -> bool:
        return self.status != self.Status.DRAFT

    @property
    def is_complete(self) -> bool:
        return self.status == self.Status.SIGNED

    @property
    def duration_minutes(self) -> int | None:
        if not (self.start_time and self.end_time):
            return None
        start = datetime.combine(self.session_on, self.start_time)
        end = datetime.combine(self.session_on, self.end_time)
        if end < start:  # a session past midnight
            end += timedelta(days=1)
        return int((end - start).total_seconds() // 60)

    def compute_content_hash(self) -> str:
        body = json.dumps(
            {f: getattr(self, f) for f in NOTE_CONTENT_FIELDS}, sort_keys=True, default=str, separators=(",", ":")
        )
        return hashlib.sha256(body.encode()).hexdigest()


# Fields a signature freezes. The PostgreSQL trigger in migration 0003 guards the same columns.
NOTE_CONTENT_FIELDS = (
    "patient_id",
    "author_id",
    "template_id",
    "kind",
    "session_on",
    "start_time",
    "end_time",
    "service_code",
    "modality",
    "place_of_service",
    "location_id",
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
    "signed_at",
)


class NoteAddendum(PracticeScopedModel):
    """A dated, signed addition to a locked note: who, when, why, what. Never edited or deleted."""

    note = models.ForeignKey(ProgressNote, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=300)
    text = models.TextField()

    class Meta:
        ordering = ["created_at", "id"]


class PsychotherapyNote(PracticeScopedModel):
    """HIPAA 45 CFR 164.501 psychotherapy notes: a separate record, visible to its author only.

    Never part of the chart, its export or PDF, claims, the portal, API lists, search, or
    break-the-glass access. Keep diagnosis, times, modality and progress in the progress note.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")
    session_on = models.DateField()
    body = models.TextField()

    class Meta:
        ordering = ["-session_on", "-id"]
        indexes = [models.Index(fields=["practice", "author", "patient"], name="psychnote_author_patient")]


class TreatmentPlan(PracticeScopedModel):
    """One version of a patient's treatment plan. A revision is a new row; the old one is kept."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        SUPERSEDED = "superseded", "Superseded"
        CLOSED = "closed", "Closed"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="treatment_plans")
    author = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(default=1)
    previous = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    effective_on = models.DateField(default=timezone.localdate)
    review_on = models.DateField(help_text="When the plan must be reviewed (often every 90 days).")
    strengths = models.TextField(blank=True)
    barriers = models.TextField(blank=True)
    discharge_criteria = models.TextField(blank=True)
    clinician_signed_at = models.DateTimeField(null=True, blank=True)
    patient_signature_name = models.CharField(max_length=200, blank=True)
    patient_signed_at = models.DateTimeField(null=True, blank=True)
    review_reminder_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "version"], name="plan_unique_version"),
            models.UniqueConstraint(
                fields=["patient"], condition=models.Q(status="active"), name="plan_one_active_per_patient"
            ),
        ]
        indexes = [models.Index(fields=["practice", "status", "review_on"], name="plan_review_due")]


class TreatmentProblem(PracticeScopedModel):
    plan = models.ForeignKey(TreatmentPlan, on_delete=models.PROTECT, related_name="problems")
    order = models.PositiveSmallIntegerField(default=1)
    description = models.TextField()

    class Meta:
        ordering = ["order", "id"]


class TreatmentGoal(PracticeScopedModel):
    problem = models.ForeignKey(TreatmentProblem, on_delete=models.PROTECT, related_name="goals")
    order = models.PositiveSmallIntegerField(default=1)
    description = models.TextField(help_text="Measurable, e.g. 'PHQ-9 below 10 for 4 consecutive weeks'.")
    interventions = models.TextField(blank=True, help_text="What the clinician will do, and how often.")

    class Meta:
        ordering = ["order", "id"]


class TreatmentObjective(PracticeScopedModel):
    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        IN_PROGRESS = "in_progress", "In progress"
        MET = "met", "Met"
        REVISED = "revised", "Revised"
        DISCONTINUED = "discontinued", "Discontinued"

    goal = models.ForeignKey(TreatmentGoal, on_delete=models.PROTECT, related_name="objectives")
    order = models.PositiveSmallIntegerField(default=1)
    description = models.TextField()
    target_on = models.DateField()
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.NOT_STARTED)

    class Meta:
        ordering = ["order", "id"]


class Medication(PracticeScopedModel):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="medications")
    name = models.CharField(max_length=200)
    dose = models.CharField(max_length=100, blank=True)
    frequency = models.CharField(max_length=100, blank=True)
    route = models.CharField(max_length=40, blank=True, default="oral")
    prescriber_name = models.CharField(max_length=200, blank=True, help_text="If prescribed outside the practice.")
    prescribed_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_on = models.DateField(null=True, blank=True)
    stopped_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["stopped_on", "name"]

    @property
    def is_active(self) -> bool:
        return self.stopped_on is None or self.stopped_on > timezone.localdate()


class Prescription(PracticeScopedModel):
    """A prescription recorded and printed in the practice. Never transmitted electronically."""

    medication = models.ForeignKey(Medication, on_delete=models.PROTECT, related_name="prescriptions")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    prescriber = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")
    written_on = models.DateField(default=timezone.localdate)
    sig = models.CharField("Directions (sig)", max_length=300)
    quantity = models.CharField(max_length=60)
    refills = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(11)])
    dispense_as_written = models.BooleanField(default=False)

    class Meta:
        ordering = ["-written_on", "-id"]


class Document(PracticeScopedModel):
    class Category(models.TextChoices):
        CONSENT = "consent", "Consent form"
        ROI = "roi", "Release of information"
        INTAKE = "intake", "Intake paperwork"
        CORRESPONDENCE = "correspondence", "Correspondence"
        RECORDS = "records", "Outside records"
        INSURANCE = "insurance", "Insurance card"
        OTHER = "other", "Other"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="documents")
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.OTHER)
    title = models.CharField(max_length=200)
    file = models.FileField(upload_to="documents/%Y/%m/", max_length=300)
    content_type = models.CharField(max_length=100)  # detected from the bytes, not the name
    size_bytes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    sha256 = models.CharField(max_length=64)
    original_filename = models.CharField(max_length=255, blank=True)
    uploaded_by = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")
    signed_by_name = models.CharField(max_length=200, blank=True, help_text="Typed e-signature, for consents.")
    signed_at = models.DateTimeField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True, help_text="For releases of information.")

    class Meta:
        ordering = ["-created_at"]


class EmergencyAccess(PracticeScopedModel):
    """Break-the-glass: a member opened a chart outside their caseload, with a written reason."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    membership = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    expires_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["practice", "membership", "patient", "expires_at"], name="breakglass_active")]


class MrnCounter(PracticeScopedModel):
    """The practice's next MRN number (locked row), so MRNs are sequential and never reused."""

    next_number = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice"], name="mrncounter_one_per_practice")]
