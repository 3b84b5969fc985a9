"""Questionnaire delivery: protocols, assignments, scheduled administrations, the tokenized link.

A protocol says which instruments, for whom and when; assigning it to a patient schedules one
Administration per instrument due at each of the patient's booked sessions (or every N weeks
without appointments). The dispatcher claims due rows with a conditional UPDATE and sends each
through `notifications.services.message_send` with a single-use link whose token only exists in
the message (the row stores its sha256). Everything here is idempotent: re-running a sync, a
dispatch or an assignment never creates or sends anything twice.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from assessments.library import instrument_or_none
from assessments.models import Administration, DeliveryChannel, Protocol, ProtocolAssignment, Response
from assessments.services import assessment_settings_get
from clinical.models import Diagnosis, Patient
from practice.errors import DomainError
from practice.models import Membership
from practice.permissions import Perm

logger = logging.getLogger(__name__)

A = Administration.Status
LIVE_APPOINTMENT = ("scheduled", "confirmed")
LIVE_ATTENDEE = ("expected", "confirmed")
ATTENDED = ("arrived", "attended")
OPEN_STATUSES = (A.SCHEDULED, A.SENT)
CLAIM_STALE_AFTER = timedelta(minutes=10)
PREFIX_RE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def questionnaire_link(token: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/q/{token}/"


def _require(by: Membership | None, *perms: Perm) -> None:
    if by is not None and not any(by.has_perm(p) for p in perms):
        raise DomainError("Your role does not allow this.", code="forbidden")


def _same_practice(by: Membership | None, *objs: Any) -> None:
    for obj in objs:
        if obj is not None and by is not None and obj.practice_id != by.practice_id:
            raise DomainError("Not found.", code="not_found")


# --- Protocols -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProtocolFields:
    name: str
    instrument_codes: list[str]
    audience: str
    diagnosis_prefixes: list[str]
    clinicians: list[Membership]
    at_intake: bool
    every_n_sessions: int | None
    every_n_weeks: int | None
    channel: str
    auto_assign: bool


def _clean_protocol(*, by: Membership, **raw: Any) -> ProtocolFields:
    name = (raw.get("name") or "").strip()
    if not name:
        raise DomainError("Give the protocol a name.", field="name")
    codes = list(dict.fromkeys(c.strip() for c in raw.get("instrument_codes") or [] if c and c.strip()))
    if not codes:
        raise DomainError("Choose at least one questionnaire.", field="instrument_codes")
    unknown = [c for c in codes if instrument_or_none(c) is None]
    if unknown:
        raise DomainError(f"Unknown questionnaire: {', '.join(unknown)}.", field="instrument_codes")
    audience = raw.get("audience") or Protocol.Audience.ALL
    if audience not in Protocol.Audience.values:
        raise DomainError("Choose who the protocol is for.", field="audience")
    prefixes = [p.strip().upper() for p in raw.get("diagnosis_prefixes") or [] if p and p.strip()]
    bad = [p for p in prefixes if not PREFIX_RE.match(p)]
    if bad:
        raise DomainError(
            f"“{bad[0]}” is not an ICD-10-CM code or prefix (e.g. F32 or F41.1).", field="diagnosis_prefixes"
        )
    prefixes = list(dict.fromkeys(prefixes))
    clinicians = list(raw.get("clinicians") or [])
    if any(c.practice_id != by.practice_id for c in clinicians):
        raise DomainError("Choose clinicians of this practice.", field="clinicians")
    if audience == Protocol.Audience.DIAGNOSIS and not prefixes:
        raise DomainError("Give at least one diagnosis code or prefix.", field="diagnosis_prefixes")
    if audience == Protocol.Audience.CLINICIANS and not clinicians:
        raise DomainError("Choose at least one clinician.", field="clinicians")
    every_n_sessions = raw.get("every_n_sessions") or None
    every_n_weeks = raw.get("every_n_weeks") or None
    for field, value in (("every_n_sessions", every_n_sessions), ("every_n_weeks", every_n_weeks)):
        if value is not None and not (1 <= int(value) <= 52):
            raise DomainError("Use a number from 1 to 52.", field=field)
    at_intake = bool(raw.get("at_intake"))
    if not (at_intake or every_n_sessions or every_n_weeks):
        raise DomainError("Say when: at intake, every Nth session or every N weeks (at least one).", field="at_intake")
    channel = raw.get("channel") or DeliveryChannel.EMAIL
    if channel not in DeliveryChannel.values:
        raise DomainError("Choose how the questionnaire is delivered.", field="channel")
    return ProtocolFields(
        name=name[:120],
        instrument_codes=codes,
        audience=audience,
        diagnosis_prefixes=prefixes if audience == Protocol.Audience.DIAGNOSIS else [],
        clinicians=clinicians if audience == Protocol.Audience.CLINICIANS else [],
        at_intake=at_intake,
        every_n_sessions=int(every_n_sessions) if every_n_sessions else None,
        every_n_weeks=int(every_n_weeks) if every_n_weeks else None,
        channel=channel,
        auto_assign=bool(raw.get("auto_assign")),
    )


def _apply(protocol: Protocol, fields: ProtocolFields) -> None:
    for name in (
        "name",
        "instrument_codes",
        "audience",
        "diagnosis_prefixes",
        "at_intake",
        "every_n_sessions",
        "every_n_weeks",
        "channel",
        "auto_assign",
    ):
        setattr(protocol, name, getattr(fields, name))


@transaction.atomic
def protocol_create(*, by: Membership, **raw: Any) -> Protocol:
    """A new active protocol. Keyword fields: name, instrument_codes, audience, diagnosis_prefixes,
    clinicians, at_intake, every_n_sessions, every_n_weeks, channel, auto_assign."""
    _require(by, Perm.ASSESSMENT_MANAGE_PROTOCOLS)
    fields = _clean_protocol(by=by, **raw)
    protocol = Protocol(practice_id=by.practice_id, created_by=by, is_active=True)
    _apply(protocol, fields)
    protocol.save()
    protocol.clinicians.set(fields.clinicians)
    return protocol


@transaction.atomic
def protocol_update(*, protocol: Protocol, by: Membership, **raw: Any) -> Protocol:
    """Change a protocol; its active assignments are re-scheduled to match (unsent rows only)."""
    _require(by, Perm.ASSESSMENT_MANAGE_PROTOCOLS)
    _same_practice(by, protocol)
    fields = _clean_protocol(by=by, **raw)
    protocol = Protocol.objects.select_for_update().get(pk=protocol.pk)
    _apply(protocol, fields)
    protocol.save()
    protocol.clinicians.set(fields.clinicians)
    if protocol.is_active:
        for assignment in ProtocolAssignment.objects.filter(protocol=protocol, status=ProtocolAssignment.Status.ACTIVE):
            assignment.protocol = protocol
            assignment_schedule(assignment=assignment)
    return protocol


@transaction.atomic
def protocol_deactivate(*, protocol: Protocol, by: Membership) -> int:
    """Switch a protocol off and end its active assignments (their unsent questionnaires are
    cancelled). Returns how many assignments ended."""
    _require(by, Perm.ASSESSMENT_MANAGE_PROTOCOLS)
    _same_practice(by, protocol)
    Protocol.objects.filter(pk=protocol.pk).update(is_active=False, updated_at=timezone.now())
    protocol.is_active = False
    ended = 0
    for assignment in ProtocolAssignment.objects.filter(protocol=protocol, status=ProtocolAssignment.Status.ACTIVE):
        assignment_end(assignment=assignment, by=None)
        ended += 1
    return ended


# --- Assignment and scheduling ---------------------------------------------------------------


@transaction.atomic
def protocol_assign(*, protocol: Protocol, patient: Patient, by: Membership | None) -> ProtocolAssignment:
    """Put a protocol in force for a patient and schedule its questionnaires. Idempotent: an
    active assignment of the pair is returned (and re-scheduled), never duplicated. `by=None` is
    the automatic assignment."""
    _require(by, Perm.ASSESSMENT_ASSIGN, Perm.ASSESSMENT_MANAGE_PROTOCOLS)
    _same_practice(by, protocol, patient)
    if protocol.practice_id != patient.practice_id:
        raise DomainError("Not found.", code="not_found")
    if not protocol.is_active:
        raise DomainError("This protocol is switched off.", field="protocol")
    assignment = ProtocolAssignment.objects.filter(
        protocol=protocol, patient=patient, status=ProtocolAssignment.Status.ACTIVE
    ).first()
    if assignment is None:
        try:
            with transaction.atomic():
                assignment = ProtocolAssignment.objects.create(
                    practice_id=patient.practice_id,
                    protocol=protocol,
                    patient=patient,
                    assigned_by=by,
                    started_on=timezone.localdate(),
                )
        except IntegrityError:  # a concurrent assignment of the same pair won
            assignment = ProtocolAssignment.objects.get(
                protocol=protocol, patient=patient, status=ProtocolAssignment.Status.ACTIVE
            )
    assignment.protocol = protocol
    assignment_schedule(assignment=assignment)
    return assignment


@transaction.atomic
def assignment_end(*, assignment: ProtocolAssignment, by: Membership | None) -> int:
    """End an assignment; its scheduled and sent-but-not-completed questionnaires are cancelled
    (a link already sent then says "no longer needed"). Returns how many were cancelled."""
    _require(by, Perm.ASSESSMENT_ASSIGN, Perm.ASSESSMENT_MANAGE_PROTOCOLS)
    _same_practice(by, assignment)
    now = timezone.now()
    updated = ProtocolAssignment.objects.filter(pk=assignment.pk, status=ProtocolAssignment.Status.ACTIVE).update(
        status=ProtocolAssignment.Status.ENDED, ended_at=now, updated_at=now
    )
    if updated:
        assignment.status, assignment.ended_at = ProtocolAssignment.Status.ENDED, now
    return Administration.objects.filter(assignment=assignment, status__in=OPEN_STATUSES).update(
        status=A.CANCELLED, updated_at=now
    )


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass
class _Planned:
    appointment_id: int | None
    due_at: datetime
    reasons: list[str]


def _plan(assignment: ProtocolAssignment, *, now: datetime, send_before: timedelta) -> dict[tuple, _Planned]:
    """What the assignment needs, keyed by (appointment_id or None, instrument code)."""
    from scheduling.models import Attendee

    protocol = assignment.protocol
    patient_id = assignment.patient_id
    start = _start_of(assignment.started_on)
    attendances = Attendee.objects.filter(patient_id=patient_id).select_related("appointment").order_by()
    ever_attended = attendances.filter(status__in=ATTENDED, appointment__starts_at__lte=now).exists()
    attended_since = attendances.filter(
        status__in=ATTENDED, appointment__starts_at__gte=start, appointment__starts_at__lte=now
    ).count()
    upcoming = list(
        attendances.filter(
            status__in=LIVE_ATTENDEE, appointment__status__in=LIVE_APPOINTMENT, appointment__starts_at__gt=now
        )
        .order_by("appointment__starts_at", "appointment_id")
        .values_list("appointment_id", "appointment__starts_at")
    )
    codes = list(protocol.instrument_codes or [])
    completed = set(
        Response.objects.filter(patient_id=patient_id, instrument_code__in=codes, is_complete=True)
        .values_list("instrument_code", flat=True)
        .distinct()
    )
    last: dict[str, datetime | None] = {c: None for c in codes}
    if protocol.every_n_weeks:
        for code, when in (
            Response.objects.filter(patient_id=patient_id, instrument_code__in=codes)
            .values("instrument_code")
            .annotate(last=Max("completed_at"))
            .values_list("instrument_code", "last")
        ):
            last[code] = when
        for code, when in (
            Administration.objects.filter(patient_id=patient_id, instrument_code__in=codes)
            .exclude(status=A.CANCELLED)
            .exclude(assignment=assignment, status=A.SCHEDULED)  # our own unsent rows are re-planned
            .values("instrument_code")
            .annotate(last=Max("due_at"))
            .values_list("instrument_code", "last")
        ):
            if when is not None and (last[code] is None or when > last[code]):
                last[code] = when

    plan: dict[tuple, _Planned] = {}
    weeks = timedelta(weeks=protocol.every_n_weeks) if protocol.every_n_weeks else None
    for index, (appointment_id, starts_at) in enumerate(upcoming):
        session_number = attended_since + index + 1
        due_at = max(starts_at - send_before, now)
        for code in codes:
            reasons = []
            if protocol.at_intake and index == 0 and not ever_attended and code not in completed:
                reasons.append("intake")
            if protocol.every_n_sessions and session_number % protocol.every_n_sessions == 0:
                reasons.append(f"session {session_number}")
            if weeks is not None and (last[code] is None or starts_at - last[code] >= weeks):
                reasons.append(f"every {protocol.every_n_weeks} weeks")
            if reasons:
                plan[(appointment_id, code)] = _Planned(appointment_id, due_at, reasons)
                last[code] = starts_at
    if weeks is not None and not upcoming:
        # No sessions booked: one questionnaire every N weeks from the start date.
        for code in codes:
            due = _start_of(assignment.started_on) if last[code] is None else last[code] + weeks
            plan[(None, code)] = _Planned(None, max(due, now), [f"every {protocol.every_n_weeks} weeks"])
    return plan


@transaction.atomic
def assignment_schedule(*, assignment: ProtocolAssignment, now: datetime | None = None) -> int:
    """Make the assignment's unsent administrations match its plan: create the missing ones, move
    due times of moved sessions, cancel the ones no longer due. Sent, completed and expired rows
    are never touched. Returns the number of rows created or changed."""
    now = now or timezone.now()
    if assignment.status != ProtocolAssignment.Status.ACTIVE:
        return 0
    prefs = assessment_settings_get(practice_id=assignment.practice_id)
    plan = _plan(assignment, now=now, send_before=timedelta(hours=prefs.send_hours_before))
    protocol = assignment.protocol
    changed = 0
    existing = list(Administration.objects.select_for_update().filter(assignment=assignment).order_by("pk"))
    by_key: dict[tuple, Administration] = {}
    for row in existing:
        key = (row.appointment_id, row.instrument_code)
        if row.appointment_id is None and row.status not in (A.SCHEDULED,):
            continue  # a past, sent or completed every-N-weeks row: history
        by_key.setdefault(key, row)
    for key, row in by_key.items():
        if key not in plan and row.status == A.SCHEDULED:
            row.status = A.CANCELLED
            row.save(update_fields=["status", "updated_at"])
            changed += 1
    for key, planned in plan.items():
        row = by_key.get(key)
        reason = ", ".join(planned.reasons)[:80]
        if row is None:
            Administration.objects.create(
                practice_id=assignment.practice_id,
                patient_id=assignment.patient_id,
                instrument_code=key[1],
                assignment=assignment,
                appointment_id=planned.appointment_id,
                reason=reason,
                channel=protocol.channel,
                status=A.SCHEDULED,
                due_at=planned.due_at,
            )
            changed += 1
        elif (row.status == A.SCHEDULED or (row.status == A.CANCELLED and row.sent_at is None)) and (
            row.status != A.SCHEDULED or row.due_at != planned.due_at or row.channel != protocol.channel
        ):
            row.status, row.due_at, row.channel, row.reason = A.SCHEDULED, planned.due_at, protocol.channel, reason
            row.claimed_at = None
            row.save(update_fields=["status", "due_at", "channel", "reason", "claimed_at", "updated_at"])
            changed += 1
    return changed


@transaction.atomic
def administrations_sync_for_appointment(*, appointment_id: int) -> int:
    """After a booking, reschedule or cancellation: cancel the appointment's unsent questionnaires
    if it (or a patient's attendance) is off, then re-plan the active assignments of its patients
    (moved sessions move their due times). Safe to call any number of times."""
    from scheduling.models import Appointment

    appointment = Appointment.objects.filter(pk=appointment_id).first()
    if appointment is None:
        return 0
    now = timezone.now()
    changed = 0
    attendees = list(appointment.attendees.values_list("patient_id", "status"))
    live = appointment.status in LIVE_APPOINTMENT and appointment.starts_at > now
    off_patients = [pid for pid, status in attendees if not live or status not in LIVE_ATTENDEE]
    if off_patients:
        changed += Administration.objects.filter(
            appointment=appointment, patient_id__in=off_patients, status=A.SCHEDULED
        ).update(status=A.CANCELLED, updated_at=now)
    patient_ids = [pid for pid, _ in attendees]
    for assignment in ProtocolAssignment.objects.filter(
        patient_id__in=patient_ids, status=ProtocolAssignment.Status.ACTIVE, protocol__is_active=True
    ).select_related("protocol"):
        changed += assignment_schedule(assignment=assignment, now=now)
    return changed


def _matching_patients(protocol: Protocol):
    patients = Patient.objects.filter(status=Patient.Status.ACTIVE)
    if protocol.audience == Protocol.Audience.DIAGNOSIS:
        prefixes = protocol.diagnosis_prefixes or []
        if not prefixes:
            return patients.none()
        q = Q()
        for prefix in prefixes:
            q |= Q(code__code__startswith=prefix)
        patients = patients.filter(pk__in=Diagnosis.objects.filter(q, resolved_on__isnull=True).values("patient_id"))
    elif protocol.audience == Protocol.Audience.CLINICIANS:
        patients = patients.filter(primary_clinician__in=protocol.clinicians.all())
    return patients


def protocols_auto_assign(*, practice_id: int) -> int:
    """Assign every active auto-assign protocol to the matching active patients who do not have it
    yet, and refresh every-N-weeks schedules. Idempotent. Returns how many assignments were made."""
    made = 0
    for protocol in Protocol.objects.filter(practice_id=practice_id, is_active=True, auto_assign=True):
        have = ProtocolAssignment.objects.filter(protocol=protocol, status=ProtocolAssignment.Status.ACTIVE).values(
            "patient_id"
        )
        for patient in _matching_patients(protocol).exclude(pk__in=have).order_by("pk")[:500]:
            try:
                protocol_assign(protocol=protocol, patient=patient, by=None)
                made += 1
            except DomainError:
                logger.exception("auto-assign of protocol %s to patient %s failed", protocol.pk, patient.pk)
    for assignment in ProtocolAssignment.objects.filter(
        practice_id=practice_id,
        status=ProtocolAssignment.Status.ACTIVE,
        protocol__is_active=True,
        protocol__every_n_weeks__isnull=False,
    ).select_related("protocol"):
        assignment_schedule(assignment=assignment)
    return made


@transaction.atomic
def administration_request(*, patient: Patient, instrument_code: str, channel: str, by: Membership) -> Administration:
    """Send one questionnaire now (not part of a protocol); it goes out right after commit."""
    _require(by, Perm.ASSESSMENT_ASSIGN)
    _same_practice(by, patient)
    instrument = instrument_or_none(instrument_code)
    if instrument is None:
        raise DomainError("Choose a questionnaire.", field="instrument_code")
    if channel not in DeliveryChannel.values:
        raise DomainError("Choose how to send it.", field="channel")
    administration = Administration.objects.create(
        practice_id=patient.practice_id,
        patient=patient,
        instrument_code=instrument.code,
        reason="requested",
        channel=channel,
        status=A.SCHEDULED,
        due_at=timezone.now(),
        requested_by=by,
    )
    practice_id, administration_id = patient.practice_id, administration.pk

    def dispatch() -> None:
        from assessments.tasks_delivery import administration_send_task

        try:
            administration_send_task.delay(practice_id=practice_id, administration_id=administration_id)
        except Exception:  # the beat dispatcher sends it within a minute anyway
            logger.exception("questionnaire %s not queued", administration_id)

    transaction.on_commit(dispatch)
    return administration


# --- Dispatch ----------------------------------------------------------------------------------


def _claim_due_batch(*, batch_size: int, now: datetime) -> list[int]:
    """Claim due scheduled rows: one conditional UPDATE setting claimed_at (a claim older than
    CLAIM_STALE_AFTER is a dead worker's and may be taken again). Concurrent dispatchers take
    disjoint rows (SKIP LOCKED on PostgreSQL; elsewhere the conditional UPDATE decides)."""
    stamp = timezone.now()
    stale = stamp - CLAIM_STALE_AFTER
    free = Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale)
    with transaction.atomic():
        due = Administration.objects.filter(free, status=A.SCHEDULED, due_at__lte=now).order_by("due_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return []
        Administration.objects.filter(free, pk__in=ids, status=A.SCHEDULED).update(claimed_at=stamp, updated_at=stamp)
        return list(
            Administration.objects.filter(pk__in=ids, status=A.SCHEDULED, claimed_at=stamp)
            .order_by("due_at", "pk")
            .values_list("pk", flat=True)
        )


def _quiet_until(*, administration: Administration, now: datetime) -> datetime | None:
    """For SMS: the end of the practice's quiet hours in the patient's zone, if now is inside them."""
    from notifications.services import _end_of_quiet_hours, _in_quiet_hours, notification_settings_get, patient_zone

    prefs = notification_settings_get(practice_id=administration.practice_id)
    zone = zoneinfo.ZoneInfo(patient_zone(administration.patient, administration.appointment, administration.practice))
    local = now.astimezone(zone)
    if not _in_quiet_hours(local, prefs.quiet_hours_start, prefs.quiet_hours_end):
        return None
    return _end_of_quiet_hours(local, prefs.quiet_hours_start, prefs.quiet_hours_end, zone)


def administration_send(*, administration_id: int, now: datetime | None = None) -> str:
    """Send one due administration exactly once. Returns what happened: "sent", "deferred" (SMS
    in quiet hours), "cancelled" (its session or assignment is gone) or "" (not sendable: already
    sent, completed or not ours)."""
    from notifications.models import MessageTemplate
    from notifications.services import message_send

    now = now or timezone.now()
    with transaction.atomic():
        row = (
            Administration.objects.select_for_update(of=("self",))
            .select_related("patient", "practice", "appointment__location", "assignment")
            .filter(pk=administration_id)
            .first()
        )
        if row is None or row.status != A.SCHEDULED:
            return ""
        if (row.assignment_id and row.assignment.status != ProtocolAssignment.Status.ACTIVE) or (
            row.appointment_id and row.appointment.status not in LIVE_APPOINTMENT
        ):
            row.status = A.CANCELLED
            row.save(update_fields=["status", "updated_at"])
            return "cancelled"
        if row.channel == DeliveryChannel.SMS:
            until = _quiet_until(administration=row, now=now)
            if until is not None:
                row.due_at, row.claimed_at = until, None
                row.save(update_fields=["due_at", "claimed_at", "updated_at"])
                return "deferred"
        prefs = assessment_settings_get(practice_id=row.practice_id)
        row.expires_at = now + timedelta(hours=prefs.link_valid_hours)
        row.sent_at = now
        row.status = A.SENT
        fields = ["status", "sent_at", "expires_at", "updated_at"]
        if row.channel in (DeliveryChannel.EMAIL, DeliveryChannel.SMS):
            token = secrets.token_urlsafe(32)
            row.token_hash = token_hash(token)
            row.message = message_send(
                practice=row.practice,
                patient=row.patient,
                channel=row.channel,
                template_key=MessageTemplate.Key.QUESTIONNAIRE,
                context={"link": questionnaire_link(token)},
                idempotency_key=f"questionnaire:{row.pk}",
            )
            fields += ["token_hash", "message"]
        # Portal: no message; the patient portal lists sent portal questionnaires.
        row.save(update_fields=fields)
        return "sent"


def administrations_dispatch_due(*, now: datetime | None = None, batch_size: int = 100) -> int:
    """One batch of the current practice's due questionnaires: claim, then send each. Returns how
    many were claimed (a full batch means there may be more)."""
    now = now or timezone.now()
    ids = _claim_due_batch(batch_size=batch_size, now=now)
    for administration_id in ids:
        try:
            administration_send(administration_id=administration_id, now=now)
        except Exception:
            logger.exception("questionnaire %s: send failed", administration_id)
            # Released: the next run retries it (message_send's idempotency key keeps it single).
            Administration.objects.filter(pk=administration_id, status=A.SCHEDULED).update(claimed_at=None)
    return len(ids)


def administration_issue_token(*, administration: Administration, now: datetime | None = None) -> str:
    """A fresh link token for an administration (staff re-send, tests); the old link stops working."""
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    prefs = assessment_settings_get(practice_id=administration.practice_id)
    Administration.objects.filter(pk=administration.pk).update(
        token_hash=token_hash(token),
        expires_at=now + timedelta(hours=prefs.link_valid_hours),
        status=A.SENT if administration.status in (A.SCHEDULED, A.SENT) else administration.status,
        sent_at=administration.sent_at or now,
        updated_at=now,
    )
    administration.refresh_from_db()
    return token


def administrations_expire(*, now: datetime | None = None) -> int:
    """Sent links past their expiry become expired. Returns how many."""
    now = now or timezone.now()
    return Administration.objects.filter(status=A.SENT, expires_at__lt=now).update(status=A.EXPIRED, updated_at=now)


# --- The public link -------------------------------------------------------------------------


def administration_practice_id_for_token(token: str) -> int | None:
    """Which practice a link token belongs to, read BEFORE any scope exists (the public page has
    no practice in its URL and no user). The hash is unique across practices, so this one lookup
    uses the unscoped manager; everything after it runs inside that practice's scope."""
    if not token or len(token) > 200:
        return None
    return Administration.all_objects.filter(token_hash=token_hash(token)).values_list("practice_id", flat=True).first()


def administration_by_token(token: str) -> Administration | None:
    """Inside the practice scope: the administration a token opens."""
    if not token or len(token) > 200:
        return None
    return Administration.objects.select_related("patient", "practice").filter(token_hash=token_hash(token)).first()


def link_state(administration: Administration, *, now: datetime | None = None) -> str:
    """open / completed / expired / cancelled, as the patient sees it."""
    now = now or timezone.now()
    if administration.status == A.COMPLETED:
        return "completed"
    if administration.status == A.CANCELLED:
        return "cancelled"
    if administration.status == A.EXPIRED or (administration.expires_at and administration.expires_at <= now):
        return "expired"
    if administration.status == A.SENT:
        return "open"
    return "cancelled"
