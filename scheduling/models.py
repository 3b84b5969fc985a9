"""Scheduling: rooms, appointment types, availability, appointments (single, recurring, group),
their status history, the waitlist and its offers, and clinicians' calendar feeds.

All datetimes are stored in UTC; wall-clock fields (availability) are in the location's zone.
No double booking: on PostgreSQL exclusion constraints (migration 0002) refuse overlapping active
appointments of a clinician or room and overlapping active attendances of a patient.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from practice.scoping import PracticeScopedModel

COLOR_VALIDATOR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #2f855a.")


class Room(PracticeScopedModel):
    location = models.ForeignKey("practice.Location", on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=80)
    capacity = models.PositiveSmallIntegerField(default=2, validators=[MinValueValidator(1)])
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["location__name", "name"]
        constraints = [models.UniqueConstraint(fields=["practice", "location", "name"], name="room_unique_name")]


class AppointmentType(PracticeScopedModel):
    class Modality(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        TELEHEALTH = "telehealth", "Telehealth"
        EITHER = "either", "In person or telehealth"

    name = models.CharField(max_length=80)
    duration_minutes = models.PositiveSmallIntegerField(validators=[MinValueValidator(5), MaxValueValidator(480)])
    default_service_code = models.CharField(max_length=5, blank=True)
    modality = models.CharField(max_length=10, choices=Modality.choices, default=Modality.EITHER)
    color = models.CharField(max_length=7, default="#0f766e", validators=[COLOR_VALIDATOR])
    is_group = models.BooleanField(default=False)
    max_attendees = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    new_patient_only = models.BooleanField(default=False, help_text="Only for patients with no prior visit.")
    is_bookable_online = models.BooleanField(default=False, help_text="Patients may book it in the portal.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["practice", "name"], name="appointmenttype_unique_name")]


class AvailabilityRule(PracticeScopedModel):
    """A weekly working block of a clinician at a location, in the location's wall-clock time."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    clinician = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="availability_rules")
    location = models.ForeignKey("practice.Location", on_delete=models.PROTECT, related_name="+")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()
    valid_from = models.DateField(default=timezone.localdate)
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["clinician_id", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_time__gt=models.F("start_time")), name="availability_ends_after_start"
            )
        ]


class AvailabilityException(PracticeScopedModel):
    """Time off (removes availability) or extra hours (adds it), as an absolute UTC interval."""

    class Kind(models.TextChoices):
        TIME_OFF = "time_off", "Time off"
        EXTRA_HOURS = "extra_hours", "Extra hours"

    clinician = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, related_name="availability_exceptions"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    location = models.ForeignKey("practice.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="exception_ends_after_start"
            )
        ]


class AppointmentSeries(PracticeScopedModel):
    """A recurring appointment (RFC 5545 RRULE). Occurrences are materialised as Appointment rows;
    an edited occurrence keeps `series` and is marked `is_exception`."""

    rrule = models.CharField(max_length=300, help_text="RFC 5545 RRULE, e.g. FREQ=WEEKLY;INTERVAL=2;COUNT=10")
    dtstart = models.DateTimeField(help_text="First occurrence start (UTC); the rule repeats in the location's zone.")
    timezone = models.CharField(max_length=64)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Set when the series was cut short.")
    created_by = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at"]


class Appointment(PracticeScopedModel):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        CONFIRMED = "confirmed", "Confirmed"
        ARRIVED = "arrived", "Arrived"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        LATE_CANCELLED = "late_cancelled", "Late cancelled"
        NO_SHOW = "no_show", "No-show"

    # Statuses that hold the slot (the exclusion constraints apply to these only).
    ACTIVE_STATUSES = ("scheduled", "confirmed", "arrived", "completed")

    clinician = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="appointments")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("practice.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, null=True, blank=True, related_name="appointments")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    status_changed_at = models.DateTimeField(default=timezone.now)
    is_telehealth = models.BooleanField(default=False)
    telehealth_url = models.URLField(max_length=500, blank=True)
    series = models.ForeignKey(
        AppointmentSeries, on_delete=models.PROTECT, null=True, blank=True, related_name="occurrences"
    )
    occurrence_start = models.DateTimeField(
        null=True, blank=True, help_text="The series slot this row fills (RECURRENCE-ID)."
    )
    is_exception = models.BooleanField(default=False, help_text="An occurrence edited on its own.")
    cancel_reason = models.CharField(max_length=200, blank=True)
    fee_due = models.BooleanField(default=False, help_text="A late-cancel or no-show fee applies (for billing).")
    admin_note = models.CharField(max_length=300, blank=True, help_text="Scheduling note; no clinical detail.")
    ical_sequence = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["practice", "clinician", "starts_at"], name="appt_clinician_time"),
            models.Index(fields=["practice", "starts_at"], name="appt_time"),
            models.Index(fields=["practice", "status", "starts_at"], name="appt_status_time"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="appt_ends_after_start"),
            models.UniqueConstraint(
                fields=["series", "occurrence_start"],
                condition=models.Q(series__isnull=False),
                name="appt_one_row_per_occurrence",
            ),
        ]

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def duration_minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


class Attendee(PracticeScopedModel):
    """A patient at an appointment (one for an individual session, several for a group), with
    their own attendance status. Times are copied from the appointment so PostgreSQL can refuse
    a patient's overlapping bookings."""

    class Status(models.TextChoices):
        EXPECTED = "expected", "Expected"
        CONFIRMED = "confirmed", "Confirmed"
        ARRIVED = "arrived", "Arrived"
        ATTENDED = "attended", "Attended"
        CANCELLED = "cancelled", "Cancelled"
        LATE_CANCELLED = "late_cancelled", "Late cancelled"
        NO_SHOW = "no_show", "No-show"

    ACTIVE_STATUSES = ("expected", "confirmed", "arrived", "attended")

    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="attendees")
    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="attendances")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.EXPECTED)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    checked_in_at = models.DateTimeField(null=True, blank=True)
    progress_note = models.OneToOneField(
        "clinical.ProgressNote", on_delete=models.PROTECT, null=True, blank=True, related_name="attendance"
    )

    class Meta:
        ordering = ["appointment_id", "id"]
        constraints = [models.UniqueConstraint(fields=["appointment", "patient"], name="attendee_once_per_appointment")]
        indexes = [models.Index(fields=["practice", "patient", "starts_at"], name="attendee_patient_time")]


class StatusChange(PracticeScopedModel):
    """Every status transition of an appointment or attendee: when, by whom, why."""

    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="status_changes")
    attendee = models.ForeignKey(Attendee, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    changed_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=20, default="staff", help_text="staff, sms, portal, system")
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created_at", "id"]


class SchedulingSettings(PracticeScopedModel):
    """Per-practice scheduling rules."""

    late_cancel_hours = models.PositiveSmallIntegerField(default=24, help_text="Cancelling later than this is late.")
    late_cancel_fee_cents = models.PositiveIntegerField(default=0)
    no_show_fee_cents = models.PositiveIntegerField(default=0)
    minimum_notice_hours = models.PositiveSmallIntegerField(default=24, help_text="Online booking notice.")
    waitlist_offer_minutes = models.PositiveSmallIntegerField(
        default=120, help_text="How long a waitlist offer stays open."
    )
    slot_step_minutes = models.PositiveSmallIntegerField(default=15)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice"], name="schedulingsettings_one_per_practice")]


class WaitlistEntry(PracticeScopedModel):
    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        OFFERED = "offered", "Offer out"
        BOOKED = "booked", "Booked"
        REMOVED = "removed", "Removed"

    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="waitlist_entries")
    clinicians = models.ManyToManyField(
        "practice.Membership", blank=True, related_name="+", help_text="Empty: any clinician."
    )
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("practice.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    weekdays = models.JSONField(default=list, blank=True, help_text="Acceptable weekdays, 0 = Monday; empty = any.")
    earliest_time = models.TimeField(null=True, blank=True)
    latest_time = models.TimeField(null=True, blank=True)
    priority = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1), MaxValueValidator(5)])
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING)
    notes = models.CharField(max_length=300, blank=True)
    added_by = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["priority", "created_at"]
        verbose_name_plural = "waitlist entries"


class WaitlistOffer(PracticeScopedModel):
    """A freed slot offered to one waitlist entry. The first acceptance books it."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Expired"
        TAKEN = "taken", "Taken by someone else"

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.PROTECT, related_name="offers")
    freed_appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="+")
    clinician = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("practice.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.SENT)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    booked_appointment = models.ForeignKey(
        Appointment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]


class CalendarFeed(PracticeScopedModel):
    """A clinician's secret iCalendar URL (only the token's hash is stored; revocable)."""

    clinician = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="calendar_feeds")
    token_hash = models.CharField(max_length=64, unique=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
