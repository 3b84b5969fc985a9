"""Scheduling writes: booking (single, recurring, group), rescheduling and cancelling with
"this / this and following / all" scopes, the status flow, check-in, and availability.

No double booking: every booking and move checks overlaps here (half-open intervals, active
statuses only) and raises AppointmentConflict; on PostgreSQL the exclusion constraints of
migration 0002 are the real guard against races, and their IntegrityError is turned into the
same AppointmentConflict.

Side effects run on commit: reminders are re-synced for every changed appointment, and a
cancellation offers the freed slot to the waitlist.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from clinical.models import Patient
from practice.errors import DomainError
from practice.models import Location, Membership
from practice.permissions import Perm
from practice.scoping import practice_scope
from scheduling import recurrence
from scheduling.models import (
    Appointment,
    AppointmentSeries,
    AppointmentType,
    Attendee,
    AvailabilityException,
    AvailabilityRule,
    Room,
    StatusChange,
)
from scheduling.selectors import scheduling_settings

logger = logging.getLogger(__name__)

S = Appointment.Status
A = Attendee.Status

EXCLUSION_CONSTRAINTS = ("appt_no_clinician_overlap", "appt_no_room_overlap", "attendee_no_patient_overlap")
SCOPES = ("this", "following", "all")

# Appointment status flow. Cancelling goes through appointment_cancel (late or not is computed).
TRANSITIONS: dict[str, frozenset[str]] = {
    S.SCHEDULED: frozenset({S.CONFIRMED, S.ARRIVED, S.CANCELLED, S.LATE_CANCELLED, S.NO_SHOW}),
    S.CONFIRMED: frozenset({S.ARRIVED, S.CANCELLED, S.LATE_CANCELLED, S.NO_SHOW}),
    S.ARRIVED: frozenset({S.COMPLETED, S.NO_SHOW}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.LATE_CANCELLED: frozenset(),
    S.NO_SHOW: frozenset(),
}

ATTENDEE_TRANSITIONS: dict[str, frozenset[str]] = {
    A.EXPECTED: frozenset({A.CONFIRMED, A.ARRIVED, A.CANCELLED, A.LATE_CANCELLED, A.NO_SHOW}),
    A.CONFIRMED: frozenset({A.ARRIVED, A.CANCELLED, A.LATE_CANCELLED, A.NO_SHOW}),
    A.ARRIVED: frozenset({A.ATTENDED, A.NO_SHOW}),
    A.ATTENDED: frozenset(),
    A.CANCELLED: frozenset(),
    A.LATE_CANCELLED: frozenset(),
    A.NO_SHOW: frozenset(),
}

# What an appointment's status means for its attendees (who are still active).
_ATTENDEE_FOR = {
    S.CONFIRMED: A.CONFIRMED,
    S.ARRIVED: A.ARRIVED,
    S.COMPLETED: A.ATTENDED,
    S.CANCELLED: A.CANCELLED,
    S.LATE_CANCELLED: A.LATE_CANCELLED,
    S.NO_SHOW: A.NO_SHOW,
}


class AppointmentConflict(DomainError):
    """The clinician, room or a patient is already booked then. ``conflicting`` is the (first)
    appointment in the way; ``conflicts`` lists (occurrence start, appointment) for a series."""

    def __init__(
        self,
        message: str,
        *,
        conflicting: Appointment | None = None,
        conflicts: Sequence[tuple[datetime, Appointment | None]] = (),
    ) -> None:
        super().__init__(message, code="conflict")
        self.conflicting = conflicting
        self.conflicts = list(conflicts)


# ---------------------------------------------------------------------------------------------
# helpers


def _require(by: Membership, practice_id: int, perm: Perm = Perm.SCHEDULE_MANAGE) -> None:
    if by.practice_id != practice_id or not by.is_active or not by.has_perm(perm):
        raise DomainError("Your role does not allow this.", code="forbidden")


def _same_practice(practice_id: int, *objs: Any) -> None:
    for obj in objs:
        if obj is not None and obj.practice_id != practice_id:
            raise DomainError("Not found.", code="not_found")


def zone_for(*, location: Location | None, practice: Any) -> ZoneInfo:
    """The wall clock an appointment lives on: its location's zone, else the practice's."""
    return ZoneInfo(location.timezone if location is not None else practice.timezone)


def _local_label(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%a %d %b %Y %H:%M")


@dataclass(frozen=True)
class _Interval:
    starts_at: datetime
    ends_at: datetime


def _find_conflicts(
    *,
    practice_id: int,
    clinician: Membership,
    room: Room | None,
    patient_ids: Iterable[int],
    intervals: Sequence[_Interval],
    exclude_ids: Iterable[int] = (),
) -> dict[int, Appointment]:
    """Index of each interval that collides -> the appointment in the way. Two queries for all
    the intervals (a whole series), whatever their number."""
    if not intervals:
        return {}
    lo = min(i.starts_at for i in intervals)
    hi = max(i.ends_at for i in intervals)
    exclude = list(exclude_ids)
    holder = Q(clinician=clinician)
    if room is not None:
        holder |= Q(room=room)
    busy = list(
        Appointment.objects.filter(holder, practice_id=practice_id, status__in=Appointment.ACTIVE_STATUSES)
        .filter(starts_at__lt=hi, ends_at__gt=lo)
        .exclude(pk__in=exclude)
        .order_by("starts_at")
    )
    patient_ids = list(patient_ids)
    if patient_ids:
        taken = (
            Attendee.objects.filter(
                practice_id=practice_id,
                patient_id__in=patient_ids,
                status__in=Attendee.ACTIVE_STATUSES,
                starts_at__lt=hi,
                ends_at__gt=lo,
            )
            .exclude(appointment_id__in=exclude)
            .select_related("appointment")
        )
        busy.extend(a.appointment for a in taken)
    found: dict[int, Appointment] = {}
    for index, interval in enumerate(intervals):
        for other in busy:
            if other.starts_at < interval.ends_at and other.ends_at > interval.starts_at:
                found[index] = other
                break
    return found


def _conflict_from_integrity(
    exc: IntegrityError,
    *,
    practice_id: int,
    clinician: Membership,
    room: Room | None,
    patient_ids,
    intervals,
    exclude_ids: Iterable[int] = (),
) -> AppointmentConflict | None:
    """An exclusion-constraint violation (a concurrent booking won the race) as a conflict."""
    text = str(exc)
    if not any(name in text for name in EXCLUSION_CONSTRAINTS):
        return None
    found = _find_conflicts(
        practice_id=practice_id,
        clinician=clinician,
        room=room,
        patient_ids=patient_ids,
        intervals=intervals,
        exclude_ids=exclude_ids,
    )
    conflicting = next(iter(found.values()), None)
    return AppointmentConflict("That time was just booked by someone else.", conflicting=conflicting)


def _conflict_message(what: str, other: Appointment, tz: ZoneInfo, *, clinician: Membership, room: Room | None) -> str:
    if other.clinician_id == clinician.pk:
        who = "the clinician's"
    elif room is not None and other.room_id == room.pk:
        who = "the room's"
    else:
        who = "the patient's"
    when = f"{_local_label(other.starts_at, tz)}–{other.ends_at.astimezone(tz):%H:%M}"
    return f"{what} overlaps {who} appointment on {when}."


def _after_commit(appointment_ids: Sequence[int], *, practice_id: int, freed: Sequence[int] = ()) -> None:
    """Re-sync reminders of changed appointments; offer freed slots to the waitlist."""
    ids = list(dict.fromkeys(appointment_ids))
    freed_ids = list(dict.fromkeys(freed))

    def run() -> None:
        # Imported here: notifications and the waitlist call back into these services.
        from notifications.services import reminders_sync_for_appointment
        from scheduling.tasks import waitlist_offer_freed_slot_task

        # On-commit callbacks can run after the caller's scope has closed (an outer atomic block
        # committing outside it, as seed_demo's does): re-enter the practice's scope here.
        with practice_scope(practice_id):
            _sync_and_offer(reminders_sync_for_appointment, waitlist_offer_freed_slot_task)

    def _sync_and_offer(reminders_sync_for_appointment, waitlist_offer_freed_slot_task) -> None:
        for appointment_id in ids:
            try:
                reminders_sync_for_appointment(appointment_id=appointment_id)
            except Exception:  # the change is committed; a reminder hiccup must not undo the answer
                logger.exception("reminder sync failed for appointment %s", appointment_id)
            try:
                from assessments.services_delivery import administrations_sync_for_appointment

                administrations_sync_for_appointment(appointment_id=appointment_id)
            except Exception:  # same rule: questionnaire scheduling must not undo the change
                logger.exception("questionnaire sync failed for appointment %s", appointment_id)
        for appointment_id in freed_ids:
            try:
                waitlist_offer_freed_slot_task.delay(practice_id=practice_id, appointment_id=appointment_id)
            except Exception:  # broker trouble must not turn a committed cancel into an error
                logger.exception("waitlist offer not queued for appointment %s", appointment_id)

    transaction.on_commit(run)


def _record_change(
    appointment: Appointment,
    *,
    from_status: str,
    to_status: str,
    by: Membership | None,
    source: str = "staff",
    reason: str = "",
    attendee: Attendee | None = None,
) -> StatusChange:
    if attendee is None:  # outbound webhooks (issue 9): created / cancelled / updated, sent on commit
        from integrations.webhooks import webhook_emit_appointment

        webhook_emit_appointment(appointment, from_status=from_status)
    return StatusChange.objects.create(
        practice_id=appointment.practice_id,
        appointment=appointment,
        attendee=attendee,
        from_status=from_status,
        to_status=to_status,
        changed_by=by,
        source=source,
        reason=reason[:200],
    )


# ---------------------------------------------------------------------------------------------
# booking


def _validate_booking(
    *,
    by: Membership,
    clinician: Membership,
    appointment_type: AppointmentType,
    patients: Sequence[Patient],
    location: Location | None,
    room: Room | None,
    is_telehealth: bool,
) -> None:
    practice_id = by.practice_id
    _same_practice(practice_id, clinician, appointment_type, location, room, *patients)
    if not clinician.is_active or not clinician.has_perm(Perm.NOTE_WRITE):
        raise DomainError("Appointments are booked with an active clinician.", field="clinician")
    if not appointment_type.is_active:
        raise DomainError("This appointment type is no longer offered.", field="appointment_type")
    if room is not None:
        if not room.is_active:
            raise DomainError("This room is not in use.", field="room")
        if location is not None and room.location_id != location.pk:
            raise DomainError("The room is at another location.", field="room")
    modality = appointment_type.modality
    if modality == AppointmentType.Modality.TELEHEALTH and not is_telehealth:
        raise DomainError("This appointment type is telehealth only.", field="is_telehealth")
    if modality == AppointmentType.Modality.IN_PERSON and is_telehealth:
        raise DomainError("This appointment type is in person only.", field="is_telehealth")
    if not patients:
        raise DomainError("Choose the patient.", field="patients")
    if len({p.pk for p in patients}) != len(patients):
        raise DomainError("A patient is listed twice.", field="patients")
    if appointment_type.is_group:
        if len(patients) > appointment_type.max_attendees:
            raise DomainError(f"This group takes at most {appointment_type.max_attendees} patients.", field="patients")
    elif len(patients) != 1:
        raise DomainError("An individual appointment has exactly one patient.", field="patients")
    from clinical.access import patients_visible_to

    allowed = Patient.Status.ACTIVE, Patient.Status.WAITLISTED
    visible = set(
        patients_visible_to(by).filter(pk__in=[p.pk for p in patients], status__in=allowed).values_list("pk", flat=True)
    )
    if any(p.pk not in visible for p in patients):
        raise DomainError("Appointments are booked for active or waitlisted patients you can see.", field="patients")


def _create_occurrence(
    *,
    by: Membership,
    clinician: Membership,
    appointment_type: AppointmentType,
    patients: Sequence[Patient],
    location: Location | None,
    room: Room | None,
    starts_at: datetime,
    ends_at: datetime,
    is_telehealth: bool,
    telehealth_url: str,
    admin_note: str,
    series: AppointmentSeries | None,
) -> Appointment:
    appointment = Appointment.objects.create(
        practice_id=by.practice_id,
        clinician=clinician,
        appointment_type=appointment_type,
        location=location,
        room=room,
        starts_at=starts_at,
        ends_at=ends_at,
        is_telehealth=is_telehealth,
        telehealth_url=telehealth_url,
        admin_note=admin_note,
        series=series,
        occurrence_start=starts_at if series is not None else None,
        created_by=by,
    )
    # One create per patient (not bulk_create) so each attendee gets its audit entry: who was booked
    # into a visit is patient data. Group sessions hold a handful of patients.
    for patient in patients:
        Attendee.objects.create(
            practice_id=by.practice_id,
            appointment=appointment,
            patient=patient,
            starts_at=starts_at,
            ends_at=ends_at,
        )
    _record_change(appointment, from_status="", to_status=S.SCHEDULED, by=by, reason="Booked")
    return appointment


@transaction.atomic
def appointment_book(
    *,
    by: Membership,
    clinician: Membership,
    appointment_type: AppointmentType,
    starts_at: datetime,
    patients: list[Patient],
    location: Location | None = None,
    room: Room | None = None,
    is_telehealth: bool = False,
    telehealth_url: str = "",
    admin_note: str = "",
    rrule: str | None = None,
) -> Appointment:
    """Book an appointment (the first occurrence when ``rrule`` repeats it). A conflicting
    occurrence fails the whole booking: nothing is created."""
    _require(by, by.practice_id)
    _validate_booking(
        by=by,
        clinician=clinician,
        appointment_type=appointment_type,
        patients=patients,
        location=location,
        room=room,
        is_telehealth=is_telehealth,
    )
    if room is not None and location is None:
        location = room.location
    if timezone.is_naive(starts_at):
        raise DomainError("The start time needs a time zone.", field="starts_at")
    if is_telehealth and telehealth_url and not telehealth_url.startswith("https://"):
        raise DomainError("Telehealth links start with https://.", field="telehealth_url")
    duration = timedelta(minutes=appointment_type.duration_minutes)
    tz = zone_for(location=location, practice=by.practice)

    series = None
    starts = [starts_at]
    if rrule:
        normalised = recurrence.validate_rrule(rrule, dtstart=starts_at, tz=tz)
        starts = recurrence.expand(normalised, dtstart=starts_at, tz=tz)
    intervals = [_Interval(s, s + duration) for s in starts]
    patient_ids = [p.pk for p in patients]
    found = _find_conflicts(
        practice_id=by.practice_id, clinician=clinician, room=room, patient_ids=patient_ids, intervals=intervals
    )
    if found:
        first = found[min(found)]
        if rrule:
            days = ", ".join(intervals[i].starts_at.astimezone(tz).strftime("%d %b %Y") for i in sorted(found))
            message = f"These dates are already booked: {days}. Nothing was booked."
        else:
            message = _conflict_message("This time", first, tz, clinician=clinician, room=room)
        raise AppointmentConflict(
            message, conflicting=first, conflicts=[(intervals[i].starts_at, found[i]) for i in sorted(found)]
        )
    if rrule:
        series = AppointmentSeries.objects.create(
            practice_id=by.practice_id, rrule=normalised, dtstart=starts_at, timezone=tz.key, created_by=by
        )
    created: list[Appointment] = []
    try:
        with transaction.atomic():
            for interval in intervals:
                created.append(
                    _create_occurrence(
                        by=by,
                        clinician=clinician,
                        appointment_type=appointment_type,
                        patients=patients,
                        location=location,
                        room=room,
                        starts_at=interval.starts_at,
                        ends_at=interval.ends_at,
                        is_telehealth=is_telehealth,
                        telehealth_url=telehealth_url,
                        admin_note=admin_note,
                        series=series,
                    )
                )
    except IntegrityError as exc:
        conflict = _conflict_from_integrity(
            exc,
            practice_id=by.practice_id,
            clinician=clinician,
            room=room,
            patient_ids=patient_ids,
            intervals=intervals,
        )
        if conflict is None:
            raise
        raise conflict from None
    _after_commit([a.pk for a in created], practice_id=by.practice_id)
    return created[0]


# ---------------------------------------------------------------------------------------------
# rescheduling


def _locked(appointment: Appointment) -> Appointment:
    return Appointment.objects.select_for_update(of=("self",)).select_related("practice").get(pk=appointment.pk)


def _shift_wall_clock(when: datetime, delta_days: int, new_time: time, tz: ZoneInfo) -> datetime:
    """Keep `when`'s local date (plus delta_days) and put it at `new_time` local, in UTC."""
    local_day = when.astimezone(tz).date() + timedelta(days=delta_days)
    return datetime.combine(local_day, new_time).replace(tzinfo=tz).astimezone(UTC)


def _rows_for_scope(appointment: Appointment, scope: str, *, statuses: Iterable[str]) -> list[Appointment]:
    """The occurrences an edit of `appointment` with `scope` touches (locked, in time order)."""
    if scope not in SCOPES:
        raise DomainError("Choose this, following or all.", field="scope")
    if scope == "this" or appointment.series_id is None:
        return [appointment]
    rows = Appointment.objects.select_for_update(of=("self",)).filter(
        series_id=appointment.series_id, status__in=list(statuses)
    )
    if scope == "following":
        rows = rows.filter(occurrence_start__gte=appointment.occurrence_start)
    else:
        rows = rows.filter(starts_at__gte=min(timezone.now(), appointment.starts_at), is_exception=False)
    rows = list(rows.order_by("starts_at"))
    if appointment.pk not in {r.pk for r in rows}:
        rows.insert(0, appointment)
    return rows


def _end_series_before(series: AppointmentSeries, occurrence_start: datetime) -> None:
    series = AppointmentSeries.objects.select_for_update().get(pk=series.pk)
    series.rrule = recurrence.with_until(series.rrule, occurrence_start - timedelta(seconds=1))
    series.ended_at = timezone.now()
    series.save(update_fields=["rrule", "ended_at", "updated_at"])


@transaction.atomic
def appointment_reschedule(
    *,
    appointment: Appointment,
    by: Membership,
    starts_at: datetime,
    ends_at: datetime | None = None,
    clinician: Membership | None = None,
    room: Room | None = None,
    scope: str = "this",
) -> Appointment:
    """Move an appointment (and, for a series, the following or all future occurrences: each keeps
    its own date shifted by the same number of days, at the new local time). ``room=None`` keeps
    the room. Returns the moved appointment."""
    _require(by, appointment.practice_id)
    _same_practice(appointment.practice_id, clinician, room)
    appointment = _locked(appointment)
    if appointment.status not in (S.SCHEDULED, S.CONFIRMED):
        raise DomainError("Only scheduled or confirmed appointments can be moved.")
    if timezone.is_naive(starts_at):
        raise DomainError("The start time needs a time zone.", field="starts_at")
    duration = (ends_at - starts_at) if ends_at else (appointment.ends_at - appointment.starts_at)
    if duration <= timedelta(0):
        raise DomainError("The end must be after the start.", field="ends_at")
    clinician = clinician or appointment.clinician
    if clinician.pk != appointment.clinician_id and (
        not clinician.is_active or not clinician.has_perm(Perm.NOTE_WRITE)
    ):
        raise DomainError("Appointments are booked with an active clinician.", field="clinician")
    room = room or appointment.room
    tz = zone_for(location=appointment.location, practice=appointment.practice)
    rows = _rows_for_scope(appointment, scope, statuses=(S.SCHEDULED, S.CONFIRMED))
    if scope != "this" and appointment.series_id is None:
        scope = "this"

    old_local = appointment.starts_at.astimezone(tz)
    new_local = starts_at.astimezone(tz)
    delta_days = (new_local.date() - old_local.date()).days
    new_time = new_local.time().replace(tzinfo=None)
    moves: list[tuple[Appointment, _Interval]] = []
    for row in rows:
        new_start = (
            starts_at if row.pk == appointment.pk else _shift_wall_clock(row.starts_at, delta_days, new_time, tz)
        )
        moves.append((row, _Interval(new_start, new_start + duration)))

    patient_ids = set(
        Attendee.objects.filter(appointment__in=rows, status__in=Attendee.ACTIVE_STATUSES).values_list(
            "patient_id", flat=True
        )
    )
    intervals = [i for _, i in moves]
    found = _find_conflicts(
        practice_id=appointment.practice_id,
        clinician=clinician,
        room=room,
        patient_ids=patient_ids,
        intervals=intervals,
        exclude_ids=[r.pk for r in rows],
    )
    if found:
        first = found[min(found)]
        if len(moves) > 1:
            days = ", ".join(intervals[i].starts_at.astimezone(tz).strftime("%d %b %Y") for i in sorted(found))
            message = f"These dates are already booked: {days}. Nothing was moved."
        else:
            message = _conflict_message("The new time", first, tz, clinician=clinician, room=room)
        raise AppointmentConflict(
            message, conflicting=first, conflicts=[(intervals[i].starts_at, found[i]) for i in sorted(found)]
        )

    new_series = None
    if scope == "following" and appointment.series_id is not None:
        old_series = appointment.series
        _end_series_before(old_series, appointment.occurrence_start)
        new_series = AppointmentSeries.objects.create(
            practice_id=appointment.practice_id,
            rrule=recurrence.with_count(old_series.rrule, len(moves)),
            dtstart=starts_at,
            timezone=tz.key,
            created_by=by,
        )
    from integrations.webhooks import webhook_emit_appointment

    try:
        with transaction.atomic():
            # Move in the direction of travel so no row lands on a sibling that has not moved yet
            # (PostgreSQL checks the exclusion constraints row by row).
            ordered = reversed(moves) if starts_at > appointment.starts_at else moves
            for row, interval in ordered:
                row.starts_at, row.ends_at = interval.starts_at, interval.ends_at
                row.clinician = clinician
                row.room = room
                row.ical_sequence += 1
                fields = ["starts_at", "ends_at", "clinician", "room", "ical_sequence", "updated_at"]
                if row.series_id is not None:
                    if scope == "this":
                        row.is_exception = True
                        fields.append("is_exception")
                    elif new_series is not None:
                        row.series = new_series
                        row.occurrence_start = interval.starts_at
                        fields += ["series", "occurrence_start"]
                row.save(update_fields=fields)
                Attendee.objects.filter(appointment=row).update(
                    starts_at=interval.starts_at, ends_at=interval.ends_at, updated_at=timezone.now()
                )
                webhook_emit_appointment(row, from_status=row.status)  # appointment.updated, on commit
    except IntegrityError as exc:
        conflict = _conflict_from_integrity(
            exc,
            practice_id=appointment.practice_id,
            clinician=clinician,
            room=room,
            patient_ids=patient_ids,
            intervals=intervals,
            exclude_ids=[r.pk for r in rows],
        )
        if conflict is None:
            raise
        raise conflict from None
    _after_commit([r.pk for r, _ in moves], practice_id=appointment.practice_id)
    appointment.refresh_from_db()
    return appointment


# ---------------------------------------------------------------------------------------------
# status flow


def is_late_cancel(appointment: Appointment, *, now: datetime | None = None) -> bool:
    settings = scheduling_settings(appointment.practice_id)
    now = now or timezone.now()
    return appointment.starts_at - now < timedelta(hours=settings.late_cancel_hours)


def _set_status(
    appointment: Appointment,
    *,
    to_status: str,
    by: Membership | None,
    reason: str = "",
    source: str = "staff",
    fee_due: bool | None = None,
) -> None:
    """Apply one transition to a locked row, with its attendees and history."""
    from_status = appointment.status
    if to_status not in TRANSITIONS.get(from_status, frozenset()):
        raise DomainError(
            f"An appointment that is {appointment.get_status_display().lower()} cannot become "
            f"{S(to_status).label.lower()}.",
            code="invalid_transition",
        )
    appointment.status = to_status
    appointment.status_changed_at = timezone.now()
    appointment.ical_sequence += 1
    fields = ["status", "status_changed_at", "ical_sequence", "updated_at"]
    if to_status in (S.CANCELLED, S.LATE_CANCELLED):
        appointment.cancel_reason = reason[:200]
        fields.append("cancel_reason")
    if fee_due is not None:
        appointment.fee_due = fee_due
        fields.append("fee_due")
    appointment.save(update_fields=fields)
    if appointment.fee_due and to_status in (S.LATE_CANCELLED, S.NO_SHOW):
        # Billing (issue 6): the fee becomes a patient charge on commit, never an insurance claim.
        from billing.services_charges import appointment_fee_on_commit

        appointment_fee_on_commit(appointment_id=appointment.pk, practice_id=appointment.practice_id)
    _record_change(appointment, from_status=from_status, to_status=to_status, by=by, source=source, reason=reason)
    attendee_status = _ATTENDEE_FOR.get(to_status)
    if attendee_status:
        now = timezone.now()
        for attendee in appointment.attendees.filter(status__in=Attendee.ACTIVE_STATUSES).exclude(
            status=attendee_status
        ):
            if attendee_status not in ATTENDEE_TRANSITIONS[attendee.status]:
                continue
            previous = attendee.status
            attendee.status = attendee_status
            update = ["status", "updated_at"]
            if attendee_status == A.ARRIVED and attendee.checked_in_at is None:
                attendee.checked_in_at = now
                update.append("checked_in_at")
            attendee.save(update_fields=update)
            _record_change(
                appointment,
                from_status=previous,
                to_status=attendee_status,
                by=by,
                source=source,
                reason=reason,
                attendee=attendee,
            )


@transaction.atomic
def appointment_set_status(
    *, appointment: Appointment, by: Membership | None, status: str, reason: str = "", source: str = "staff"
) -> Appointment:
    """Move an appointment along the status flow (cancellations go through appointment_cancel).
    ``by`` may be None for patient (SMS, portal) or system changes."""
    if by is not None:
        _require(by, appointment.practice_id)
    if status not in S.values:
        raise DomainError("Unknown status.", field="status")
    if status in (S.CANCELLED, S.LATE_CANCELLED):
        return appointment_cancel(
            appointment=appointment,
            by=by,
            reason=reason,
            late=status == S.LATE_CANCELLED,
            source=source,
        )
    appointment = _locked(appointment)
    fee_due = None
    if status == S.NO_SHOW:
        fee_due = scheduling_settings(appointment.practice_id).no_show_fee_cents > 0
    _set_status(appointment, to_status=status, by=by, reason=reason, source=source, fee_due=fee_due)
    _after_commit([appointment.pk], practice_id=appointment.practice_id)
    return appointment


@transaction.atomic
def appointment_check_in(*, appointment: Appointment, by: Membership, attendee: Attendee | None = None) -> Appointment:
    """The patient is here: the appointment is arrived; its attendees (or the one given, for a
    group) are checked in now."""
    _require(by, appointment.practice_id)
    appointment = _locked(appointment)
    if attendee is not None:
        _same_practice(appointment.practice_id, attendee)
        if attendee.appointment_id != appointment.pk:
            raise DomainError("Not found.", code="not_found")
    if appointment.status != S.ARRIVED:
        if attendee is None:
            _set_status(appointment, to_status=S.ARRIVED, by=by, reason="Checked in")
        else:
            # A group: the session starts with its first arrival; the others keep their status.
            if S.ARRIVED not in TRANSITIONS[appointment.status]:
                raise DomainError("This appointment cannot be checked in.", code="invalid_transition")
            from_status = appointment.status
            appointment.status, appointment.status_changed_at = S.ARRIVED, timezone.now()
            appointment.ical_sequence += 1
            appointment.save(update_fields=["status", "status_changed_at", "ical_sequence", "updated_at"])
            _record_change(appointment, from_status=from_status, to_status=S.ARRIVED, by=by, reason="Checked in")
    if attendee is not None:
        attendee = Attendee.objects.select_for_update().get(pk=attendee.pk)
        if attendee.status != A.ARRIVED:
            _attendee_transition(attendee, appointment=appointment, to_status=A.ARRIVED, by=by, reason="Checked in")
    else:
        now = timezone.now()
        Attendee.objects.filter(appointment=appointment, status=A.ARRIVED, checked_in_at__isnull=True).update(
            checked_in_at=now
        )
    _after_commit([appointment.pk], practice_id=appointment.practice_id)
    return appointment


def _attendee_transition(
    attendee: Attendee, *, appointment: Appointment, to_status: str, by, reason: str = "", source: str = "staff"
) -> None:
    previous = attendee.status
    if to_status not in ATTENDEE_TRANSITIONS.get(previous, frozenset()):
        raise DomainError(
            f"An attendee who is {attendee.get_status_display().lower()} cannot become {A(to_status).label.lower()}.",
            code="invalid_transition",
        )
    attendee.status = to_status
    fields = ["status", "updated_at"]
    if to_status == A.ARRIVED:
        attendee.checked_in_at = timezone.now()
        fields.append("checked_in_at")
    attendee.save(update_fields=fields)
    _record_change(
        appointment, from_status=previous, to_status=to_status, by=by, source=source, reason=reason, attendee=attendee
    )


@transaction.atomic
def attendee_set_status(
    *, attendee: Attendee, by: Membership | None, status: str, reason: str = "", source: str = "staff"
) -> Attendee:
    """One patient's attendance at a (group) appointment. A cancelled attendee frees their place."""
    if by is not None:
        _require(by, attendee.practice_id)
    if status not in A.values:
        raise DomainError("Unknown status.", field="status")
    attendee = Attendee.objects.select_for_update().select_related("appointment").get(pk=attendee.pk)
    appointment = attendee.appointment
    if status == A.CANCELLED and is_late_cancel(appointment):
        status = A.LATE_CANCELLED
    _attendee_transition(attendee, appointment=appointment, to_status=status, by=by, reason=reason, source=source)
    _after_commit([appointment.pk], practice_id=appointment.practice_id)
    return attendee


@transaction.atomic
def appointment_cancel(
    *,
    appointment: Appointment,
    by: Membership | None,
    reason: str,
    scope: str = "this",
    late: bool | None = None,
    source: str = "staff",
) -> Appointment:
    """Cancel one occurrence, this and the following ones (the series ends before it), or all
    future ones. Rows are kept with status cancelled (late when inside the practice's
    late-cancel window, with the fee flag when a fee is configured). Freed slots go to the
    waitlist on commit."""
    if by is not None:
        _require(by, appointment.practice_id)
    appointment = _locked(appointment)
    if appointment.status not in (S.SCHEDULED, S.CONFIRMED):
        raise DomainError(
            f"An appointment that is {appointment.get_status_display().lower()} cannot be cancelled.",
            code="invalid_transition",
        )
    rows = _rows_for_scope(appointment, scope, statuses=(S.SCHEDULED, S.CONFIRMED))
    settings = scheduling_settings(appointment.practice_id)
    now = timezone.now()
    for row in rows:
        row_late = late if (late is not None and row.pk == appointment.pk) else is_late_cancel(row, now=now)
        to_status = S.LATE_CANCELLED if row_late else S.CANCELLED
        fee_due = bool(row_late and settings.late_cancel_fee_cents > 0)
        if row.series_id is not None and scope == "this":
            row.is_exception = True
            row.save(update_fields=["is_exception", "updated_at"])
        _set_status(row, to_status=to_status, by=by, reason=reason, source=source, fee_due=fee_due)
    if appointment.series_id is not None and scope == "following":
        _end_series_before(appointment.series, appointment.occurrence_start)
    elif appointment.series_id is not None and scope == "all":
        AppointmentSeries.objects.filter(pk=appointment.series_id, ended_at__isnull=True).update(
            ended_at=now, updated_at=now
        )
    ids = [r.pk for r in rows]
    _after_commit(ids, practice_id=appointment.practice_id, freed=[r.pk for r in rows if r.ends_at > now])
    appointment.refresh_from_db()
    return appointment


# ---------------------------------------------------------------------------------------------
# availability


def _check_rule_overlap(
    *,
    clinician: Membership,
    weekday: int,
    start_time: time,
    end_time: time,
    valid_from: date,
    valid_until: date | None,
    exclude_pk: int | None = None,
) -> None:
    others = AvailabilityRule.objects.filter(
        clinician=clinician, weekday=weekday, start_time__lt=end_time, end_time__gt=start_time
    ).filter(Q(valid_until__isnull=True) | Q(valid_until__gte=valid_from))
    if valid_until is not None:
        others = others.filter(valid_from__lte=valid_until)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    other = others.first()
    if other is not None:
        raise DomainError(
            f"These hours overlap the clinician's {other.start_time:%H:%M}–{other.end_time:%H:%M} hours that day.",
            field="start_time",
        )


def _validate_rule(*, start_time: time, end_time: time, valid_from: date, valid_until: date | None, weekday: int):
    if weekday not in AvailabilityRule.Weekday.values:
        raise DomainError("Choose a weekday.", field="weekday")
    if end_time <= start_time:
        raise DomainError("The end must be after the start.", field="end_time")
    if valid_until is not None and valid_until < valid_from:
        raise DomainError("The last day is before the first.", field="valid_until")


@transaction.atomic
def availability_rule_create(
    *,
    by: Membership,
    clinician: Membership,
    location: Location,
    weekday: int,
    start_time: time,
    end_time: time,
    valid_from: date | None = None,
    valid_until: date | None = None,
) -> AvailabilityRule:
    """A weekly block of working hours (location wall clock). No overlapping blocks for one
    clinician on the same weekday and dates."""
    _require(by, by.practice_id)
    _same_practice(by.practice_id, clinician, location)
    if not clinician.is_active:
        raise DomainError("This member is not active.", field="clinician")
    valid_from = valid_from or timezone.localdate()
    _validate_rule(
        start_time=start_time, end_time=end_time, valid_from=valid_from, valid_until=valid_until, weekday=weekday
    )
    _check_rule_overlap(
        clinician=clinician,
        weekday=weekday,
        start_time=start_time,
        end_time=end_time,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    return AvailabilityRule.objects.create(
        practice_id=by.practice_id,
        clinician=clinician,
        location=location,
        weekday=weekday,
        start_time=start_time,
        end_time=end_time,
        valid_from=valid_from,
        valid_until=valid_until,
    )


RULE_FIELDS = ("location", "weekday", "start_time", "end_time", "valid_from", "valid_until")


@transaction.atomic
def availability_rule_update(*, rule: AvailabilityRule, by: Membership, **fields: Any) -> AvailabilityRule:
    _require(by, rule.practice_id)
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise DomainError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    rule = AvailabilityRule.objects.select_for_update().get(pk=rule.pk)
    _same_practice(rule.practice_id, fields.get("location"))
    for name, value in fields.items():
        setattr(rule, name, value)
    _validate_rule(
        start_time=rule.start_time,
        end_time=rule.end_time,
        valid_from=rule.valid_from,
        valid_until=rule.valid_until,
        weekday=rule.weekday,
    )
    _check_rule_overlap(
        clinician=rule.clinician,
        weekday=rule.weekday,
        start_time=rule.start_time,
        end_time=rule.end_time,
        valid_from=rule.valid_from,
        valid_until=rule.valid_until,
        exclude_pk=rule.pk,
    )
    rule.save()
    return rule


@transaction.atomic
def availability_rule_delete(*, rule: AvailabilityRule, by: Membership) -> None:
    _require(by, rule.practice_id)
    AvailabilityRule.objects.filter(pk=rule.pk).delete()


def _validate_exception(*, kind: str, starts_at: datetime, ends_at: datetime) -> None:
    if kind not in AvailabilityException.Kind.values:
        raise DomainError("Choose time off or extra hours.", field="kind")
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise DomainError("Times need a time zone.", field="starts_at")
    if ends_at <= starts_at:
        raise DomainError("The end must be after the start.", field="ends_at")
    if ends_at - starts_at > timedelta(days=366):
        raise DomainError("An exception can last at most a year.", field="ends_at")


@transaction.atomic
def availability_exception_create(
    *,
    by: Membership,
    clinician: Membership,
    kind: str,
    starts_at: datetime,
    ends_at: datetime,
    location: Location | None = None,
    reason: str = "",
) -> AvailabilityException:
    """Time off (removes open slots; existing appointments are left for staff to move) or extra
    hours (adds open slots, at `location`)."""
    _require(by, by.practice_id)
    _same_practice(by.practice_id, clinician, location)
    _validate_exception(kind=kind, starts_at=starts_at, ends_at=ends_at)
    if kind == AvailabilityException.Kind.EXTRA_HOURS and location is None:
        raise DomainError("Extra hours need a location.", field="location")
    return AvailabilityException.objects.create(
        practice_id=by.practice_id,
        clinician=clinician,
        kind=kind,
        location=location,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason[:200],
    )


EXCEPTION_FIELDS = ("kind", "location", "starts_at", "ends_at", "reason")


@transaction.atomic
def availability_exception_update(
    *, exception: AvailabilityException, by: Membership, **fields: Any
) -> AvailabilityException:
    _require(by, exception.practice_id)
    unknown = set(fields) - set(EXCEPTION_FIELDS)
    if unknown:
        raise DomainError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    exception = AvailabilityException.objects.select_for_update().get(pk=exception.pk)
    _same_practice(exception.practice_id, fields.get("location"))
    for name, value in fields.items():
        setattr(exception, name, value)
    _validate_exception(kind=exception.kind, starts_at=exception.starts_at, ends_at=exception.ends_at)
    if exception.kind == AvailabilityException.Kind.EXTRA_HOURS and exception.location_id is None:
        raise DomainError("Extra hours need a location.", field="location")
    exception.save()
    return exception


@transaction.atomic
def availability_exception_delete(*, exception: AvailabilityException, by: Membership) -> None:
    _require(by, exception.practice_id)
    AvailabilityException.objects.filter(pk=exception.pk).delete()
