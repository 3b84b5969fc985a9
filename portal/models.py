"""The patient portal: accounts, online-booking rules, intake packets, secure messaging.

Patients sign in as `practice.User` rows with no membership; what they may see is a `PortalAccess`
(their own record, or a minor's as guardian). Everything here is practice-owned and scoped.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from practice.scoping import PracticeScopedModel


class Relationship(models.TextChoices):
    SELF = "self", "Patient"
    GUARDIAN = "guardian", "Parent or guardian"


class PortalSettings(PracticeScopedModel):
    """Per-practice portal rules. Appointment-type rules (bookable online, new patients only) and
    notice / late-cancel hours live in scheduling; these are the portal's own."""

    online_booking_enabled = models.BooleanField(default=True)
    new_patients_may_book = models.BooleanField(
        default=False, help_text="Patients with no completed visit may book appointment types open to new patients."
    )
    booking_horizon_days = models.PositiveSmallIntegerField(
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="How far ahead patients may book.",
    )
    bookable_clinicians = models.ManyToManyField(
        "practice.Membership", blank=True, related_name="+", help_text="Clinicians patients may book online."
    )
    messaging_enabled = models.BooleanField(default=True)
    messaging_notice = models.CharField(
        max_length=300,
        default="We reply within two business days. Messages are not for emergencies: call or text 988, or 911.",
    )
    shared_instruments = models.JSONField(
        default=list, blank=True, help_text="Instrument codes whose score history patients see in the portal."
    )
    invitation_valid_days = models.PositiveSmallIntegerField(default=7, validators=[MinValueValidator(1)])
    telehealth_join_minutes = models.PositiveSmallIntegerField(
        default=15, help_text="The join link appears this many minutes before a telehealth appointment."
    )
    intake_packet = models.ForeignKey(
        "portal.IntakePacket",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The packet new portal patients are asked to complete.",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice"], name="portalsettings_one_per_practice")]


class PortalAccess(PracticeScopedModel):
    """A portal user may see one patient's record: their own, or a minor's as guardian."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="portal_accesses")
    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="portal_accesses")
    relationship = models.CharField(max_length=10, choices=Relationship.choices, default=Relationship.SELF)
    is_active = models.BooleanField(default=True)
    granted_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["granted_at", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "patient"], name="portalaccess_one_per_user_patient")]


class PortalInvitation(PracticeScopedModel):
    """A one-time, expiring link to create (or attach) a portal account. Only the token's sha256 is kept."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "Text message"

    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="portal_invitations")
    relationship = models.CharField(max_length=10, choices=Relationship.choices, default=Relationship.SELF)
    recipient_name = models.CharField(max_length=200, help_text="Who the invitation is for (patient or guardian).")
    reason = models.CharField(
        max_length=300, blank=True, help_text="Why a guardian gets access to an adult's record (e.g. court order)."
    )
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    channel = models.CharField(max_length=5, choices=Channel.choices, default=Channel.EMAIL)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    invited_by = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_usable(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class PortalAppointmentEvent(PracticeScopedModel):
    """What a patient did to an appointment in the portal (the appointment's own history records it too)."""

    class Action(models.TextChoices):
        BOOKED = "booked", "Booked"
        RESCHEDULED = "rescheduled", "Rescheduled"
        CANCELLED = "cancelled", "Cancelled"

    appointment = models.ForeignKey("scheduling.Appointment", on_delete=models.PROTECT, related_name="portal_events")
    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=12, choices=Action.choices)
    is_late_cancel = models.BooleanField(default=False)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]


# --- Intake -------------------------------------------------------------------------------------


class ConsentDocument(PracticeScopedModel):
    """One version of a consent text. Versions are never edited: a change is a new row, so a
    signature always points at the exact words signed."""

    key = models.SlugField(max_length=60, help_text="Stable name across versions, e.g. 'informed-consent'.")
    title = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    body = models.TextField()
    body_sha256 = models.CharField(max_length=64)
    is_current = models.BooleanField(default=True)

    class Meta:
        ordering = ["key", "-version"]
        constraints = [models.UniqueConstraint(fields=["practice", "key", "version"], name="consentdoc_unique_version")]


class IntakePacket(PracticeScopedModel):
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]


class IntakeStep(PracticeScopedModel):
    class Kind(models.TextChoices):
        DEMOGRAPHICS = "demographics", "About you"
        INSURANCE = "insurance", "Insurance"
        CONSENT = "consent", "Consent"
        HISTORY = "history", "Health history"
        QUESTIONNAIRES = "questionnaires", "Questionnaires"

    packet = models.ForeignKey(IntakePacket, on_delete=models.PROTECT, related_name="steps")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=120)
    consent = models.ForeignKey(ConsentDocument, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    instrument_codes = models.JSONField(default=list, blank=True, help_text="For a questionnaires step.")

    class Meta:
        ordering = ["packet", "position"]
        constraints = [models.UniqueConstraint(fields=["packet", "position"], name="intakestep_unique_position")]


class IntakeSubmission(PracticeScopedModel):
    """A patient's answers to a packet. Saved step by step; reviewed by staff; accepted data is written
    to the chart (demographics, coverage, consents, documents) by the review service."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        SUBMITTED = "submitted", "Waiting for review"
        ACCEPTED = "accepted", "Accepted"
        RETURNED = "returned", "Returned to the patient"

    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="intake_submissions")
    packet = models.ForeignKey(IntakePacket, on_delete=models.PROTECT, related_name="submissions")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    data = models.JSONField(default=dict, blank=True, help_text="Answers by step id.")
    completed_steps = models.JSONField(default=list, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["practice", "status", "submitted_at"], name="intake_queue")]


class IntakeSignature(PracticeScopedModel):
    """An e-signature: typed name, time, IP, and the exact consent version and text hash signed."""

    submission = models.ForeignKey(IntakeSubmission, on_delete=models.PROTECT, related_name="signatures")
    consent = models.ForeignKey(ConsentDocument, on_delete=models.PROTECT, related_name="signatures")
    consent_version = models.PositiveIntegerField()
    consent_sha256 = models.CharField(max_length=64)
    typed_name = models.CharField(max_length=200)
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer_relationship = models.CharField(max_length=10, choices=Relationship.choices)
    signed_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["signed_at", "id"]


class IntakeUpload(PracticeScopedModel):
    """A file the patient attached (insurance card photos); becomes a chart Document on acceptance."""

    class Kind(models.TextChoices):
        CARD_FRONT = "card_front", "Insurance card, front"
        CARD_BACK = "card_back", "Insurance card, back"
        OTHER = "other", "Other"

    submission = models.ForeignKey(IntakeSubmission, on_delete=models.PROTECT, related_name="uploads")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    file = models.FileField(upload_to="portal/intake/%Y/%m/", max_length=300)
    content_type = models.CharField(max_length=100)
    size_bytes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    sha256 = models.CharField(max_length=64)
    original_filename = models.CharField(max_length=255, blank=True)
    document = models.ForeignKey("clinical.Document", on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["created_at", "id"]


# --- Secure messaging ---------------------------------------------------------------------------


class PatientMessaging(PracticeScopedModel):
    """A clinician's switch for one patient's portal messaging (no row: the practice default)."""

    patient = models.OneToOneField("clinical.Patient", on_delete=models.PROTECT, related_name="portal_messaging")
    is_enabled = models.BooleanField(default=True)
    reason = models.CharField(max_length=300, blank=True)
    changed_by = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)


class MessageThread(PracticeScopedModel):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="message_threads")
    subject = models.CharField(max_length=150)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    assigned_to = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="assigned_threads"
    )
    started_by_patient = models.BooleanField(default=True)
    last_message_at = models.DateTimeField(default=timezone.now)
    needs_reply = models.BooleanField(default=True, help_text="The newest message is the patient's.")

    class Meta:
        ordering = ["-last_message_at", "-id"]
        indexes = [
            models.Index(fields=["practice", "status", "-last_message_at"], name="thread_inbox"),
            models.Index(fields=["practice", "patient", "-last_message_at"], name="thread_patient"),
        ]


class ThreadMessage(PracticeScopedModel):
    """One message. Exactly one sender: the patient or guardian (a user) or a staff member. Never edited."""

    thread = models.ForeignKey(MessageThread, on_delete=models.PROTECT, related_name="messages")
    sender_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sender_member = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    body = models.TextField()
    sent_at = models.DateTimeField(default=timezone.now)
    read_by_patient_at = models.DateTimeField(null=True, blank=True)
    staff_notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the care team was emailed about this patient message (claimed once)."
    )

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sender_user__isnull=True) ^ models.Q(sender_member__isnull=True),
                name="threadmessage_one_sender",
            )
        ]

    @property
    def from_patient(self) -> bool:
        return self.sender_user_id is not None


class ThreadMessageRead(PracticeScopedModel):
    """A staff read receipt."""

    message = models.ForeignKey(ThreadMessage, on_delete=models.PROTECT, related_name="reads")
    member = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "member"], name="threadmessageread_once")]


class ThreadAttachment(PracticeScopedModel):
    message = models.ForeignKey(ThreadMessage, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(upload_to="portal/messages/%Y/%m/", max_length=300)
    content_type = models.CharField(max_length=100)  # detected from the bytes, as for documents
    size_bytes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    sha256 = models.CharField(max_length=64)
    original_filename = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
