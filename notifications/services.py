"""Notifications: writes. Every message is a row before it is sent; reminders are rows claimed
with a conditional UPDATE, so nothing goes out without a record and nothing goes out twice.

Bodies carry logistics only: each template key has a closed list of variables (no clinical
field is ever offered), and the practice decides whether the clinician's name and the location
appear at all.
"""

from __future__ import annotations

import logging
import re
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clinical.models import CommunicationConsent, Patient
from notifications.backends import PermanentSendError, TransientSendError, backend_for, send_delay_for_tests
from notifications.defaults import DEFAULT_REMINDER_RULES, DEFAULT_TEMPLATES
from notifications.models import (
    Channel,
    InboundMessage,
    Message,
    MessageTemplate,
    NotificationSettings,
    Reminder,
    ReminderRule,
)
from practice.errors import DomainError
from practice.models import Membership, Practice
from practice.permissions import Perm
from practice.scoping import practice_scope

logger = logging.getLogger(__name__)

K = MessageTemplate.Key

_APPOINTMENT_VARS = frozenset(
    {
        "patient_first_name",
        "date",
        "time",
        "weekday",
        "timezone",
        "location",
        "clinician",
        "practice_name",
        "practice_phone",
        "link",
    }
)
_BASIC_VARS = frozenset({"patient_first_name", "practice_name", "practice_phone", "link"})

# The only variables a template of each key may use. Nothing clinical is ever offered.
ALLOWED_VARIABLES: dict[str, frozenset[str]] = {
    K.REMINDER: _APPOINTMENT_VARS,
    K.CONFIRMATION: _APPOINTMENT_VARS,
    K.CANCELLATION: _APPOINTMENT_VARS,
    K.WAITLIST_OFFER: _APPOINTMENT_VARS,
    K.WAITLIST_TAKEN: _APPOINTMENT_VARS - {"link"},
    K.QUESTIONNAIRE: _BASIC_VARS,
    K.STATEMENT: _BASIC_VARS,
    K.PORTAL_INVITATION: _BASIC_VARS,
    K.PORTAL_MESSAGE: _BASIC_VARS,
    K.GENERIC: _BASIC_VARS,
}

# Sample values for the template editor's preview.
SAMPLE_CONTEXT: dict[str, str] = {
    "patient_first_name": "Alex",
    "date": "Dec 1, 2026",
    "time": "3:00 PM",
    "weekday": "Tuesday",
    "timezone": "EST",
    "location": "Main Street Office",
    "clinician": "Dr. Jordan Lee",
    "practice_name": "Riverside Counseling",
    "practice_phone": "(503) 555-0100",
    "link": "https://tend.example.org/offers/abc123/",
}

_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_TAG = re.compile(r"\{%|%\}|\{#|#\}")

MAX_ATTEMPTS_DEFAULT = 5
OUTCOME_UNKNOWN = "outcome unknown: the worker stopped during the provider request (not resent)"
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})


# --- Practice setup and settings -------------------------------------------------------------


def notifications_install_defaults(*, practice: Practice) -> int:
    """Give a practice its settings row, default templates and reminder rules. Idempotent: a
    practice setup hook, and called lazily for practices created before notifications existed."""
    created = 0
    with practice_scope(practice), transaction.atomic():
        _, was = NotificationSettings.objects.get_or_create(
            practice=practice, defaults={"sms_from_number": getattr(settings, "TWILIO_FROM_NUMBER", "") or ""}
        )
        created += was
        for key, channel, subject, body in DEFAULT_TEMPLATES:
            _, was = MessageTemplate.objects.get_or_create(
                practice=practice, key=key, channel=channel, defaults={"subject": subject, "body": body}
            )
            created += was
        if not ReminderRule.objects.filter(practice=practice).exists():
            for channel, minutes in DEFAULT_REMINDER_RULES:
                ReminderRule.objects.create(practice=practice, channel=channel, minutes_before=minutes)
                created += 1
    return created


def notification_settings_get(*, practice_id: int) -> NotificationSettings:
    """The practice's settings row (defaults installed on first use)."""
    found = NotificationSettings.objects.filter(practice_id=practice_id).first()
    if found is None:
        notifications_install_defaults(practice=Practice.objects.get(pk=practice_id))
        found = NotificationSettings.objects.get(practice_id=practice_id)
    return found


def sms_from_number(*, practice_id: int) -> str:
    row = NotificationSettings.objects.filter(practice_id=practice_id).values_list("sms_from_number", flat=True).first()
    return row or getattr(settings, "TWILIO_FROM_NUMBER", "") or ""


def _require(by: Membership, perm: Perm) -> None:
    from django.core.exceptions import PermissionDenied

    if not by.has_perm(perm):
        raise PermissionDenied


@transaction.atomic
def notification_settings_update(*, by: Membership, **fields: Any) -> NotificationSettings:
    _require(by, Perm.PRACTICE_MANAGE_SETTINGS)
    row = notification_settings_get(practice_id=by.practice_id)
    row = NotificationSettings.objects.select_for_update().get(pk=row.pk)
    for name in (
        "sms_from_number",
        "quiet_hours_start",
        "quiet_hours_end",
        "include_clinician_name",
        "include_location",
        "reply_to_email",
    ):
        if name in fields:
            setattr(row, name, fields[name])
    if row.sms_from_number and not re.fullmatch(r"\+[1-9]\d{7,14}", row.sms_from_number):
        raise DomainError("Use an E.164 number, e.g. +15035550100.", field="sms_from_number")
    if row.quiet_hours_start == row.quiet_hours_end:
        raise DomainError("Quiet hours must start and end at different times.", field="quiet_hours_end")
    row.full_clean()
    row.save()
    return row


# --- Templates -------------------------------------------------------------------------------


def template_variables(body: str) -> set[str]:
    return set(_VAR.findall(body or ""))


def template_check(*, key: str, subject: str, body: str) -> None:
    """Refuse template tags and any variable not allowed for this key."""
    allowed = ALLOWED_VARIABLES.get(key)
    if allowed is None:
        raise DomainError("Unknown message kind.", field="key")
    for field, text in (("subject", subject), ("body", body)):
        if _TAG.search(text or ""):
            raise DomainError("Only {{ variables }} are allowed, not template tags or comments.", field=field)
        bad = sorted(template_variables(text) - allowed)
        if bad:
            raise DomainError(
                f"Not allowed in this message: {', '.join(bad)}. Allowed: {', '.join(sorted(allowed))}.",
                field=field,
            )
    if not (body or "").strip():
        raise DomainError("The message needs a body.", field="body")


def template_render(text: str, *, key: str, context: dict[str, Any]) -> str:
    """Substitute allowed variables (others render empty). A line whose variables all rendered
    empty (e.g. "Where: {{ location }}" with locations switched off) is dropped."""
    allowed = ALLOWED_VARIABLES.get(key, _BASIC_VARS)
    values = {k: str(v) for k, v in context.items() if k in allowed and v is not None}
    out = []
    for line in (text or "").split("\n"):
        names = _VAR.findall(line)
        if names and not any(values.get(n, "") for n in names):
            continue
        out.append(_VAR.sub(lambda m: values.get(m.group(1), ""), line))
    return "\n".join(out).strip()


@transaction.atomic
def message_template_save(
    *, by: Membership, template: MessageTemplate, subject: str, body: str, is_active: bool = True
) -> MessageTemplate:
    _require(by, Perm.PRACTICE_MANAGE_SETTINGS)
    if template.practice_id != by.practice_id:
        raise DomainError("Not found.", code="not_found")
    template_check(key=template.key, subject=subject, body=body)
    template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
    template.subject, template.body, template.is_active = subject.strip(), body.strip(), bool(is_active)
    template.full_clean()
    template.save()
    return template


# --- Reminder rules --------------------------------------------------------------------------


@transaction.atomic
def reminder_rule_add(*, by: Membership, channel: str, minutes_before: int) -> ReminderRule:
    _require(by, Perm.PRACTICE_MANAGE_SETTINGS)
    if channel not in Channel.values:
        raise DomainError("Unknown channel.", field="channel")
    if not 15 <= minutes_before <= 14 * 24 * 60:
        raise DomainError("Choose between 15 minutes and 14 days before.", field="minutes_before")
    rule, created = ReminderRule.objects.get_or_create(
        practice_id=by.practice_id, channel=channel, minutes_before=minutes_before
    )
    if not created and rule.is_active:
        raise DomainError("That reminder already exists.", field="minutes_before")
    rule.is_active = True
    rule.save()
    return rule


@transaction.atomic
def reminder_rule_set_active(*, by: Membership, rule: ReminderRule, is_active: bool) -> ReminderRule:
    """Switch a rule on or off. Switching off cancels its pending reminders; new bookings (and
    the next sync of existing ones) pick up a rule switched on."""
    _require(by, Perm.PRACTICE_MANAGE_SETTINGS)
    if rule.practice_id != by.practice_id:
        raise DomainError("Not found.", code="not_found")
    rule = ReminderRule.objects.select_for_update().get(pk=rule.pk)
    rule.is_active = bool(is_active)
    rule.save(update_fields=["is_active", "updated_at"])
    if not rule.is_active:
        Reminder.objects.filter(rule=rule, status=Reminder.Status.PENDING).update(
            status=Reminder.Status.CANCELLED, updated_at=timezone.now()
        )
    return rule


# --- Consent, addresses, context -------------------------------------------------------------


def consent_is_granted(*, patient: Patient, channel: str) -> bool:
    """The newest consent row for the channel decides; no row means no consent."""
    newest = (
        CommunicationConsent.objects.filter(patient=patient, channel=channel)
        .order_by("-recorded_at", "-id")
        .values_list("is_granted", flat=True)
        .first()
    )
    return bool(newest)


def has_opted_out(*, patient: Patient, channel: str) -> bool:
    """The newest consent row for the channel is a refusal (STOP, or recorded as declined)."""
    newest = (
        CommunicationConsent.objects.filter(patient=patient, channel=channel)
        .order_by("-recorded_at", "-id")
        .values_list("is_granted", flat=True)
        .first()
    )
    return newest is False


def e164(phone: str) -> str:
    """A US-centric E.164 form of a stored phone number ('' when it cannot be one)."""
    digits = re.sub(r"\D", "", phone or "")
    if (phone or "").strip().startswith("+") and 8 <= len(digits) <= 15:
        return "+" + digits
    if len(digits) == 10:
        return "+1" + digits
    if len(digits) == 11 and digits.startswith("1"):
        return "+" + digits
    return ""


def patient_zone(patient: Patient | None, appointment: Any = None, practice: Practice | None = None) -> str:
    """The patient's zone; patients carry none yet, so the appointment location's, then the practice's."""
    zone = getattr(patient, "timezone", "") if patient is not None else ""
    if not zone and appointment is not None and getattr(appointment, "location_id", None):
        zone = appointment.location.timezone
    if not zone and practice is not None:
        zone = practice.timezone
    return zone or "UTC"


def appointment_context(*, appointment: Any, patient: Patient | None) -> dict[str, str]:
    """The logistics of an appointment, in the patient's zone. Clinician and location are
    included only if the practice allows it (message_send enforces that again)."""
    zone = zoneinfo.ZoneInfo(patient_zone(patient, appointment, appointment.practice))
    local = appointment.starts_at.astimezone(zone)
    ctx = {
        "date": f"{local:%b} {local.day}, {local.year}",
        "time": local.strftime("%I:%M %p").lstrip("0"),
        "weekday": f"{local:%A}",
        "timezone": local.tzname() or str(zone),
        "clinician": appointment.clinician.user.full_name if appointment.clinician_id else "",
        "location": "Telehealth"
        if appointment.is_telehealth
        else (appointment.location.name if appointment.location_id else ""),
    }
    if patient is not None:
        ctx["patient_first_name"] = patient.preferred_name or patient.legal_first_name
    return ctx


# --- Sending ---------------------------------------------------------------------------------


def _default_address(patient: Patient | None, channel: str) -> str:
    if patient is None:
        return ""
    if channel == Channel.EMAIL:
        return patient.email or ""
    return e164(patient.phone)


@transaction.atomic
def message_send(
    *,
    practice: Practice,
    patient: Patient | None,
    channel: str,
    template_key: str,
    context: dict[str, Any],
    to_address: str | None = None,
    appointment: Any = None,
    idempotency_key: str,
    requested_by_patient: bool = False,
) -> Message:
    """Record a message and queue its delivery on commit.

    `requested_by_patient`: a one-off message the patient asked staff for in person (a portal
    invitation to the address they just gave): sent unless they opted out of the channel, even
    before any consent is on file.

    A second call with the same idempotency_key returns the first row and sends nothing. With no
    consent for the channel (newest consent row not granted, or none), no address or no active
    template, the row is recorded as SUPPRESSED and nothing is sent.
    """
    if not idempotency_key:
        raise DomainError("A message needs an idempotency key.", field="idempotency_key")
    existing = Message.all_objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.practice_id != practice.pk:
            raise DomainError("Idempotency key already used.", field="idempotency_key")
        return existing
    if channel not in Channel.values:
        raise DomainError("Unknown channel.", field="channel")
    for obj in (patient, appointment):
        if obj is not None and obj.practice_id != practice.pk:
            raise DomainError("Not found.", code="not_found")

    prefs = notification_settings_get(practice_id=practice.pk)
    values: dict[str, Any] = {"practice_name": practice.name, "practice_phone": practice.phone}
    if patient is not None:
        values["patient_first_name"] = patient.preferred_name or patient.legal_first_name
    values.update(context or {})
    if not prefs.include_clinician_name:
        values.pop("clinician", None)
    if not prefs.include_location:
        values.pop("location", None)

    template = MessageTemplate.objects.filter(key=template_key, channel=channel, is_active=True).first()
    if template is None and not MessageTemplate.objects.filter(practice=practice).exists():
        notifications_install_defaults(practice=practice)  # a practice older than notifications
        template = MessageTemplate.objects.filter(key=template_key, channel=channel, is_active=True).first()
    address = (to_address if to_address is not None else _default_address(patient, channel)).strip()
    status, error, subject, body = Message.Status.QUEUED, "", "", ""
    if template is None:
        status, error = Message.Status.SUPPRESSED, "no active template"
    else:
        subject = template_render(template.subject, key=template_key, context=values)[:200]
        body = template_render(template.body, key=template_key, context=values)
        if patient is not None and (
            has_opted_out(patient=patient, channel=channel)
            if requested_by_patient
            else not consent_is_granted(patient=patient, channel=channel)
        ):
            status, error = Message.Status.SUPPRESSED, "no consent for this channel"
        elif not address:
            status, error = Message.Status.SUPPRESSED, "no address"

    try:
        with transaction.atomic():
            message = Message.objects.create(
                practice=practice,
                patient=patient,
                channel=channel,
                to_address=address[:254],
                template_key=template_key,
                subject=subject,
                body=body,
                status=status,
                last_error=error,
                idempotency_key=idempotency_key,
                appointment=appointment,
            )
    except IntegrityError:
        # A concurrent call with the same key won the race: its row is the message.
        return Message.all_objects.get(idempotency_key=idempotency_key, practice=practice)
    if status == Message.Status.QUEUED:
        _queue_delivery(practice_id=practice.pk, message_id=message.pk)
    return message


def _queue_delivery(*, practice_id: int, message_id: int) -> None:
    def queue() -> None:
        from notifications.tasks import message_deliver_task

        message_deliver_task.delay(practice_id=practice_id, message_id=message_id)

    transaction.on_commit(queue)


def _max_attempts() -> int:
    return int(getattr(settings, "TEND_MESSAGE_MAX_ATTEMPTS", MAX_ATTEMPTS_DEFAULT))


def message_deliver(*, message_id: int) -> str:
    """Claim a queued message (queued -> sending), hand it to its backend, store the outcome.

    Returns the resulting status, or "" when the row was not claimable (already sent, being sent
    by another worker, or not in this practice). Raises TransientSendError when the caller should
    retry later (the row is back in QUEUED).
    """
    now = timezone.now()
    claimed = Message.objects.filter(pk=message_id, status=Message.Status.QUEUED, attempts__lt=_max_attempts()).update(
        status=Message.Status.SENDING, updated_at=now
    )
    if not claimed:
        return ""
    message = Message.objects.get(pk=message_id)
    backend = backend_for(message.channel)
    attempts = message.attempts + 1
    send_delay_for_tests()
    # Committed before the request: from here on a dead worker's message may have been sent.
    Message.objects.filter(pk=message_id, status=Message.Status.SENDING).update(
        send_started_at=timezone.now(), updated_at=timezone.now()
    )
    try:
        provider_id = backend.send(message)
    except TransientSendError as exc:
        final = attempts >= _max_attempts()
        Message.objects.filter(pk=message_id, status=Message.Status.SENDING).update(
            status=Message.Status.FAILED if final else Message.Status.QUEUED,
            send_started_at=None,
            attempts=attempts,
            last_error=str(exc)[:500],
            backend=backend.name,
            updated_at=timezone.now(),
        )
        logger.warning("message %s: transient send error (attempt %s)", message.public_id, attempts)
        if final:
            return Message.Status.FAILED
        raise
    except PermanentSendError as exc:
        Message.objects.filter(pk=message_id, status=Message.Status.SENDING).update(
            status=Message.Status.FAILED,
            attempts=attempts,
            last_error=str(exc)[:500],
            backend=backend.name,
            updated_at=timezone.now(),
        )
        logger.warning("message %s: send failed", message.public_id)
        return Message.Status.FAILED
    Message.objects.filter(pk=message_id, status=Message.Status.SENDING).update(
        status=Message.Status.SENT,
        provider_id=provider_id,
        attempts=attempts,
        last_error="",
        backend=backend.name,
        sent_at=timezone.now(),
        updated_at=timezone.now(),
    )
    return Message.Status.SENT


def messages_recover_stuck(*, older_than: timedelta = timedelta(minutes=10)) -> list[int]:
    """A worker died: put messages stuck in SENDING back to QUEUED, except an SMS whose request to
    Twilio had started: it may have been sent and Twilio is not idempotent, so it is recorded as
    failed with an unknown outcome and never sent again, as for a response timeout. An email is
    sent again (SMTP accepts a message only at the end of its data, so an interrupted one was
    usually not sent; a copy carries the same Message-ID). Returns the ids of QUEUED messages older than `older_than` (their delivery task may have died
    with the worker) so the caller queues them again (delivery claims the row, so a duplicate task
    is harmless). Runs inside the current practice scope."""
    now = timezone.now()
    cutoff = now - older_than
    stuck = Message.objects.filter(status=Message.Status.SENDING, updated_at__lt=cutoff)
    # An SMS with a provider id reached Twilio: record it as sent, never send it again.
    stuck.filter(channel=Channel.SMS).exclude(provider_id="").update(
        status=Message.Status.SENT, sent_at=now, updated_at=now
    )
    stuck.filter(channel=Channel.SMS, send_started_at__isnull=False).update(
        status=Message.Status.FAILED, last_error=OUTCOME_UNKNOWN, updated_at=now
    )
    lost = list(stuck.values_list("pk", flat=True)[:1000])
    Message.objects.filter(pk__in=lost, status=Message.Status.SENDING).update(
        status=Message.Status.QUEUED, send_started_at=None, last_error="requeued: worker lost", updated_at=now
    )
    # QUEUED rows whose delivery task may have died with its worker. Same threshold: a backlog
    # waiting in the broker is not re-queued every minute (duplicates are harmless, only wasteful).
    waiting = Message.objects.filter(status=Message.Status.QUEUED, updated_at__lt=cutoff).exclude(pk__in=lost)
    return sorted(set(lost) | set(waiting.order_by("pk").values_list("pk", flat=True)[:1000]))


# --- Reminders -------------------------------------------------------------------------------


def _in_quiet_hours(local: datetime, start: time, end: time) -> bool:
    t = local.time()
    if start > end:  # wraps midnight, e.g. 21:00-08:00
        return t >= start or t < end
    return start <= t < end


def _end_of_quiet_hours(local: datetime, start: time, end: time, zone: zoneinfo.ZoneInfo) -> datetime:
    day: date = local.date()
    if start > end and local.time() >= start:
        day = day + timedelta(days=1)
    # An aware wall-clock time in the zone; on a DST change day zoneinfo picks the right offset.
    return datetime.combine(day, end, tzinfo=zone)


def reminder_due_at(
    *, starts_at: datetime, minutes_before: int, zone_name: str, quiet_start: time, quiet_end: time
) -> datetime | None:
    """start - offset, moved out of quiet hours (in the patient's zone) to their end; None when
    that end is not before the appointment."""
    zone = zoneinfo.ZoneInfo(zone_name)
    due = starts_at - timedelta(minutes=minutes_before)
    local = due.astimezone(zone)
    if _in_quiet_hours(local, quiet_start, quiet_end):
        due = _end_of_quiet_hours(local, quiet_start, quiet_end, zone).astimezone(UTC)
    if due >= starts_at:
        return None
    return due.astimezone(UTC)


@transaction.atomic
def reminders_sync_for_appointment(*, appointment_id: int) -> int:
    """Make the appointment's reminders match it: one per active attendee x active rule (due time
    out of quiet hours), pending ones cancelled when the appointment or attendee is cancelled or a
    no-show, pending ones moved when the time changes. Sent reminders are never touched.
    Returns the number of reminders created or changed. Safe to call any number of times."""
    from scheduling.models import Appointment

    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("location", "practice")
        .filter(pk=appointment_id)
        .first()
    )
    if appointment is None:
        return 0
    now = timezone.now()
    changed = 0
    open_statuses = (Reminder.Status.PENDING,)
    existing = {
        (r.attendee_id, r.rule_id): r
        for r in Reminder.objects.filter(appointment=appointment).select_related("rule").order_by()
    }
    attendees = list(appointment.attendees.select_related("patient").order_by("pk"))
    appointment_live = appointment.status in ("scheduled", "confirmed") and appointment.starts_at > now
    if not appointment_live:
        changed += Reminder.objects.filter(appointment=appointment, status__in=open_statuses).update(
            status=Reminder.Status.CANCELLED, updated_at=now
        )
        return changed

    prefs = notification_settings_get(practice_id=appointment.practice_id)
    rules = list(ReminderRule.objects.filter(is_active=True).order_by("pk"))
    for attendee in attendees:
        attendee_live = attendee.status in ("expected", "confirmed")
        zone = patient_zone(attendee.patient, appointment, appointment.practice)
        for rule in rules:
            reminder = existing.pop((attendee.pk, rule.pk), None)
            if not attendee_live:
                if reminder is not None and reminder.status in open_statuses:
                    reminder.status = Reminder.Status.CANCELLED
                    reminder.save(update_fields=["status", "updated_at"])
                    changed += 1
                continue
            due = reminder_due_at(
                starts_at=appointment.starts_at,
                minutes_before=rule.minutes_before,
                zone_name=zone,
                quiet_start=prefs.quiet_hours_start,
                quiet_end=prefs.quiet_hours_end,
            )
            status = Reminder.Status.PENDING
            if due is None or due < now - timedelta(minutes=5):
                # Booked inside the rule's window, or the quiet hours run into the appointment.
                status, due = Reminder.Status.SKIPPED, due or appointment.starts_at
            if reminder is None:
                Reminder.objects.create(
                    practice_id=appointment.practice_id,
                    appointment=appointment,
                    attendee=attendee,
                    rule=rule,
                    channel=rule.channel,
                    due_at=due,
                    status=status,
                )
                changed += 1
            elif (
                reminder.message_id is None
                and reminder.status
                in (
                    Reminder.Status.PENDING,
                    Reminder.Status.SKIPPED,
                    Reminder.Status.CANCELLED,
                )
                and (reminder.due_at != due or reminder.status != status)
            ):
                reminder.due_at, reminder.status = due, status
                reminder.save(update_fields=["due_at", "status", "updated_at"])
                changed += 1
    # Reminders of rules switched off since: cancel the pending ones.
    leftover = [r.pk for r in existing.values() if r.status in open_statuses]
    if leftover:
        changed += Reminder.objects.filter(pk__in=leftover).update(status=Reminder.Status.CANCELLED, updated_at=now)
    return changed


def _claim_reminder(reminder_id: int, now: datetime) -> bool:
    return bool(
        Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.PENDING).update(
            status=Reminder.Status.SENDING, claimed_at=now, updated_at=now
        )
    )


def reminder_send(*, reminder_id: int) -> str:
    """Send one claimed reminder (status SENDING) through message_send, exactly once: the message's
    idempotency key is the reminder's, and the reminder and its message commit together."""
    now = timezone.now()
    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update(of=("self",))
            .select_related(
                "appointment__practice",
                "appointment__location",
                "appointment__clinician__user",
                "attendee__patient",
            )
            .get(pk=reminder_id)
        )
        if reminder.status != Reminder.Status.SENDING:
            return ""
        appointment, attendee = reminder.appointment, reminder.attendee
        if (
            appointment.status not in ("scheduled", "confirmed")
            or attendee.status not in ("expected", "confirmed")
            or appointment.starts_at <= now
        ):
            reminder.status = Reminder.Status.CANCELLED if appointment.starts_at > now else Reminder.Status.SKIPPED
            reminder.save(update_fields=["status", "updated_at"])
            return reminder.status
        message = message_send(
            practice=appointment.practice,
            patient=attendee.patient,
            channel=reminder.channel,
            template_key=K.REMINDER,
            context=appointment_context(appointment=appointment, patient=attendee.patient),
            appointment=appointment,
            idempotency_key=f"reminder:{reminder.pk}",
        )
        reminder.message = message
        reminder.status = (
            Reminder.Status.SKIPPED if message.status == Message.Status.SUPPRESSED else Reminder.Status.SENT
        )
        reminder.save(update_fields=["message", "status", "updated_at"])
        return reminder.status


def _claim_due_batch(*, batch_size: int, now: datetime) -> list[int]:
    """Claim up to batch_size due reminders: one conditional UPDATE pending -> sending. On
    PostgreSQL the candidate rows are picked FOR UPDATE SKIP LOCKED, so concurrent dispatchers take
    disjoint batches; anywhere, a row another dispatcher claimed first is simply not updated."""
    stamp = timezone.now()
    with transaction.atomic():
        due = Reminder.objects.filter(status=Reminder.Status.PENDING, due_at__lte=now).order_by("due_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return []
        Reminder.objects.filter(pk__in=ids, status=Reminder.Status.PENDING).update(
            status=Reminder.Status.SENDING, claimed_at=stamp, updated_at=stamp
        )
        return list(
            Reminder.objects.filter(pk__in=ids, status=Reminder.Status.SENDING, claimed_at=stamp)
            .order_by("due_at", "pk")
            .values_list("pk", flat=True)
        )


def reminders_dispatch_due(*, batch_size: int = 100, now: datetime | None = None) -> int:
    """One batch of due pending reminders of the current practice: claim them (pending -> sending;
    a second worker's claim of the same rows updates nothing), then send each through
    message_send. Returns how many this call claimed; a full batch means there may be more."""
    now = now or timezone.now()
    ids = _claim_due_batch(batch_size=batch_size, now=now)
    for reminder_id in ids:
        try:
            reminder_send(reminder_id=reminder_id)
        except Exception:
            logger.exception("reminder %s: send failed", reminder_id)
            Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.SENDING).update(
                status=Reminder.Status.FAILED, updated_at=timezone.now()
            )
    return len(ids)


def reminders_recover_stuck(*, older_than: timedelta = timedelta(minutes=10)) -> int:
    """A worker died after claiming reminders but before their message committed: such rows are
    SENDING with no message; put them back to PENDING (the message's idempotency key still
    guarantees a single message)."""
    cutoff = timezone.now() - older_than
    return Reminder.objects.filter(status=Reminder.Status.SENDING, message__isnull=True, claimed_at__lt=cutoff).update(
        status=Reminder.Status.PENDING, claimed_at=None, updated_at=timezone.now()
    )


# --- Inbound SMS -----------------------------------------------------------------------------


def inbound_action(body: str) -> str:
    word = (body or "").strip().upper().rstrip(".!")
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in {"HELP", "INFO"}:
        return "help"
    if word in {"C", "CONFIRM"}:
        return "confirm"
    if word in {"R", "RESCHEDULE"}:
        return "reschedule"
    return "unknown"


def _next_attendance(patients: list[Patient]):
    from scheduling.models import Attendee

    return (
        Attendee.objects.filter(
            patient__in=patients,
            status__in=("expected", "confirmed"),
            appointment__status__in=("scheduled", "confirmed"),
            appointment__starts_at__gt=timezone.now(),
        )
        .select_related("appointment__practice", "appointment__location", "appointment__clinician__user", "patient")
        .order_by("appointment__starts_at", "pk")
        .first()
    )


def _confirm(attendee) -> None:
    """Confirm through the scheduling services: the whole appointment for an individual session,
    the patient's own attendance in a group."""
    appointment = attendee.appointment
    try:
        from scheduling.services import appointment_set_status, attendee_set_status
    except ImportError:  # INTEGRATOR: remove once scheduling.services has landed (contract names).
        appointment_set_status = attendee_set_status = None
    is_group = appointment.attendees.count() > 1
    if appointment_set_status is not None and attendee_set_status is not None:
        if is_group:
            if attendee.status != "confirmed":
                attendee_set_status(attendee=attendee, by=None, status="confirmed", source="sms")
        elif appointment.status != "confirmed":
            appointment_set_status(appointment=appointment, by=None, status="confirmed", source="sms")
        return
    from scheduling.models import Appointment, StatusChange  # pragma: no cover - pre-integration fallback

    if appointment.status != "confirmed":
        Appointment.objects.filter(pk=appointment.pk).update(status="confirmed", status_changed_at=timezone.now())
        StatusChange.objects.create(
            practice_id=appointment.practice_id,
            appointment=appointment,
            from_status=appointment.status,
            to_status="confirmed",
            source="sms",
            reason="Confirmed by SMS reply",
        )


def _reschedule_request(attendee) -> None:
    from scheduling.models import StatusChange

    appointment = attendee.appointment
    StatusChange.objects.create(
        practice_id=appointment.practice_id,
        appointment=appointment,
        attendee=attendee,
        from_status=appointment.status,
        to_status=appointment.status,
        source="sms",
        reason="Patient asked to reschedule (SMS reply R)",
    )
    practice = appointment.practice
    ctx = appointment_context(appointment=appointment, patient=None)
    # A notice to the front desk, recorded in the outbox (no patient name: the link is enough).
    Message.objects.create(
        practice=practice,
        patient=None,
        channel=Channel.EMAIL,
        to_address=(practice.email or "front-desk@outbox")[:254],
        template_key=K.GENERIC,
        subject="Reschedule request by SMS",
        body=(
            f"A patient replied R to reschedule the appointment on {ctx['weekday']} {ctx['date']} at "
            f"{ctx['time']} ({ctx['timezone']}). Appointment {appointment.public_id}."
        ),
        status=Message.Status.SENT,
        backend="outbox",
        provider_id=f"outbox-{attendee.public_id.hex[:20]}",
        sent_at=timezone.now(),
        idempotency_key=f"reschedule-request:{attendee.pk}:{timezone.now():%Y%m%d%H%M%S%f}",
        appointment=appointment,
    )


@transaction.atomic
def inbound_sms_handle(
    *, practice: Practice, from_number: str, to_number: str, body: str, provider_id: str
) -> tuple[InboundMessage, str]:
    """Record an inbound SMS once (a replayed MessageSid changes nothing) and act on it.
    Returns the row and the reply text ("" for none)."""
    from clinical.services.patients import consent_record, phone_digits

    existing = InboundMessage.all_objects.filter(provider_id=provider_id).first()
    if existing is not None:
        return existing, ""
    digits = phone_digits(from_number)
    patients = list(Patient.objects.filter(phone_digits=digits).order_by("pk")) if digits else []
    action = inbound_action(body)
    try:
        with transaction.atomic():
            inbound = InboundMessage.objects.create(
                practice=practice,
                from_number=from_number[:20],
                to_number=to_number[:20],
                body=(body or "")[:1600],
                provider_id=provider_id[:64],
                patient=patients[0] if patients else None,
                action=action,
            )
    except IntegrityError:
        return InboundMessage.all_objects.get(provider_id=provider_id), ""
    reply = ""
    if action in ("stop", "start"):
        for patient in patients:
            consent_record(
                patient=patient,
                by=None,
                channel=CommunicationConsent.Channel.SMS,
                is_granted=action == "start",
                source=CommunicationConsent.Source.SMS_REPLY,
                note=f"SMS reply {(body or '').strip().upper()[:20]}",
            )
        if action == "start":
            reply = f"{practice.name}: you will receive text messages again. Reply STOP to opt out."
        # STOP: the carrier/Twilio sends the opt-out confirmation itself.
    elif action == "help":
        phone = practice.phone or "the practice"
        reply = f"{practice.name}: for help call {phone}. Reply STOP to opt out."
    elif action in ("confirm", "reschedule"):
        attendee = _next_attendance(patients) if patients else None
        if attendee is None:
            reply = f"{practice.name}: we found no upcoming appointment. Please call {practice.phone or 'us'}."
        elif action == "confirm":
            _confirm(attendee)
            reply = f"{practice.name}: thank you, your appointment is confirmed."
        else:
            _reschedule_request(attendee)
            reply = f"{practice.name}: we will call you to find a new time."
    return inbound, reply
