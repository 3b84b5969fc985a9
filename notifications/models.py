"""Messages to patients (email and SMS): every one is a row before it is sent, so nothing goes
out without a record and nothing is sent twice. Reminders are rows claimed atomically."""

from __future__ import annotations

from django.db import models

from practice.scoping import PracticeScopedModel


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class NotificationSettings(PracticeScopedModel):
    """Per-practice delivery rules. Bodies never carry clinical detail; these switches decide
    how much logistics (clinician's name, location) a reminder may show."""

    sms_from_number = models.CharField(max_length=20, blank=True, help_text="E.164 Twilio number, e.g. +15035550100.")
    quiet_hours_start = models.TimeField(default="21:00", help_text="No SMS from this time (patient's zone)…")
    quiet_hours_end = models.TimeField(default="08:00", help_text="…until this time.")
    include_clinician_name = models.BooleanField(default=True)
    include_location = models.BooleanField(default=True)
    reply_to_email = models.EmailField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice"], name="notificationsettings_one_per_practice")]


class MessageTemplate(PracticeScopedModel):
    """Body (and subject) with {{ variables }}; the allowed variables are listed in the service."""

    class Key(models.TextChoices):
        REMINDER = "reminder", "Appointment reminder"
        CONFIRMATION = "confirmation", "Booking confirmation"
        CANCELLATION = "cancellation", "Cancellation notice"
        WAITLIST_OFFER = "waitlist_offer", "Waitlist offer"
        WAITLIST_TAKEN = "waitlist_taken", "Waitlist slot taken"
        QUESTIONNAIRE = "questionnaire", "Questionnaire due"
        STATEMENT = "statement", "Statement ready"
        PORTAL_INVITATION = "portal_invitation", "Portal invitation"
        PORTAL_MESSAGE = "portal_message", "Portal message waiting"
        GENERIC = "generic", "Other"

    key = models.CharField(max_length=20, choices=Key.choices)
    channel = models.CharField(max_length=5, choices=Channel.choices)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["key", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "key", "channel"], name="messagetemplate_unique_key_channel")
        ]


class Message(PracticeScopedModel):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Not sent (no consent or opted out)"
        CANCELLED = "cancelled", "Cancelled"

    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    channel = models.CharField(max_length=5, choices=Channel.choices)
    to_address = models.CharField(max_length=254)
    template_key = models.CharField(max_length=20, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    backend = models.CharField(max_length=20, blank=True)
    provider_id = models.CharField(max_length=64, blank=True, help_text="e.g. the Twilio message SID")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Set just before the request to the provider: a worker that dies after this point may have
    # sent the message (an SMS provider is not idempotent), so recovery must not send it again.
    send_started_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=120, unique=True)
    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["practice", "status", "created_at"], name="message_status"),
            models.Index(fields=["practice", "patient", "-created_at"], name="message_patient"),
        ]


class ReminderRule(PracticeScopedModel):
    """e.g. email 48 hours before, SMS 24 hours before."""

    channel = models.CharField(max_length=5, choices=Channel.choices)
    minutes_before = models.PositiveIntegerField(help_text="2880 = 48 hours")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-minutes_before"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "channel", "minutes_before"], name="reminderrule_unique")
        ]


class Reminder(PracticeScopedModel):
    """One reminder of one attendee by one rule. Claimed pending -> sending with a conditional
    UPDATE, so it is sent once even with two workers or a redelivered task."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped (no consent, opted out, or too late)"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    appointment = models.ForeignKey("scheduling.Appointment", on_delete=models.PROTECT, related_name="reminders")
    attendee = models.ForeignKey("scheduling.Attendee", on_delete=models.PROTECT, related_name="reminders")
    rule = models.ForeignKey(ReminderRule, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=5, choices=Channel.choices)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    claimed_at = models.DateTimeField(null=True, blank=True)
    message = models.OneToOneField(Message, on_delete=models.PROTECT, null=True, blank=True, related_name="reminder")

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["attendee", "rule"], name="reminder_once_per_attendee_and_rule")]
        indexes = [models.Index(fields=["status", "due_at"], name="reminder_due")]


class InboundMessage(PracticeScopedModel):
    """An SMS received through the Twilio webhook (signature checked), and what Tend did with it."""

    from_number = models.CharField(max_length=20)
    to_number = models.CharField(max_length=20)
    body = models.CharField(max_length=1600)
    provider_id = models.CharField(max_length=64, unique=True)
    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=20, blank=True, help_text="stop, start, help, confirm, reschedule, unknown")

    class Meta:
        ordering = ["-created_at"]
