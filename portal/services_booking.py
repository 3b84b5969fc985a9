"""Portal booking writes: a patient books, moves or cancels their own appointment, and staff save the
portal settings.

Every rule is checked again here (the page the patient saw may be stale): booking on, the type open
online and to this patient (new or existing), the clinician bookable, the start inside
[now + minimum notice, today + horizon], the slot really open, no overlapping appointment of the
patient. The scheduling services do the write and keep their double-booking guarantee (exclusion
constraints on PostgreSQL); a conflict becomes "That time was just taken. Pick another."

The scheduling services record a staff member as `by`: the clinician when the patient is on their
caseload, else the practice's first active scheduler who sees every patient. The patient is recorded
as the actor in a PortalAppointmentEvent and in the status history ("by the patient in the portal").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal import selectors_booking as sel
from portal.access import portal_settings_for
from portal.models import PortalAccess, PortalAppointmentEvent, PortalSettings
from practice.errors import DomainError
from practice.models import Location, Membership
from practice.permissions import Perm
from scheduling import services as scheduling
from scheduling.models import Appointment, AppointmentType, Attendee, StatusChange
from scheduling.selectors import scheduling_settings

TAKEN = "That time was just taken. Pick another."
BY_PATIENT = "by the patient in the portal"
Action = PortalAppointmentEvent.Action


def _booker(*, clinician: Membership, patient) -> Membership:
    """Whom the scheduling services record as booking: see the module docstring."""
    from clinical.access import patients_visible_to

    if clinician.has_perm(Perm.SCHEDULE_MANAGE) and patients_visible_to(clinician).filter(pk=patient.pk).exists():
        return clinician
    for member in Membership.objects.filter(is_active=True).order_by("created_at", "id"):
        if member.has_perm(Perm.SCHEDULE_MANAGE) and member.has_perm(Perm.PATIENT_VIEW_ALL_PATIENTS):
            return member
    raise DomainError("Online booking is not available right now. Please call the practice.")


def _check_access(access: PortalAccess) -> None:
    if not access.is_active:
        raise DomainError("Your portal access has ended.", code="forbidden")


def _check_slot(
    *,
    access: PortalAccess,
    portal: PortalSettings,
    appointment_type: AppointmentType,
    clinician: Membership,
    starts_at: datetime,
    location: Location | None,
    exclude_appointment: Appointment | None = None,
):
    """Every booking rule; returns the matching open slot."""
    patient = access.patient
    if not portal.online_booking_enabled:
        raise DomainError("Online booking is turned off. Please call the practice.")
    if timezone.is_naive(starts_at):
        raise DomainError("The start time needs a time zone.", field="starts_at")
    for obj in (appointment_type, clinician, location):
        if obj is not None and obj.practice_id != access.practice_id:
            raise DomainError("Not found.", code="not_found")
    if appointment_type.pk not in {t.pk for t in sel.bookable_types(patient=patient, portal=portal)}:
        raise DomainError("This appointment type cannot be booked online.", field="appointment_type")
    if clinician.pk not in {m.pk for m in sel.bookable_clinicians(patient=patient, portal=portal)}:
        raise DomainError("This clinician cannot be booked online.", field="clinician")
    window = sel.booking_window(portal=portal, sched=scheduling_settings(access.practice_id))
    if starts_at < window.earliest:
        hours = scheduling_settings(access.practice_id).minimum_notice_hours
        raise DomainError(f"Online bookings need at least {hours} hours' notice.", field="starts_at")
    if timezone.localdate(starts_at) > window.last_day:
        raise DomainError(
            f"Online bookings open {portal.booking_horizon_days} days ahead. Pick an earlier day.", field="starts_at"
        )
    day = timezone.localdate(starts_at)
    slots = sel.slots_for(clinician=clinician, appointment_type=appointment_type, window=window, start=day, days=1)
    slot = next(
        (s for s in slots if s.starts_at == starts_at and (location is None or s.location == location)),
        None,
    )
    if slot is None:
        raise DomainError(TAKEN, field="starts_at")
    ends_at = slot.ends_at
    overlapping = Attendee.objects.filter(
        patient=patient, status__in=Attendee.ACTIVE_STATUSES, starts_at__lt=ends_at, ends_at__gt=starts_at
    )
    if exclude_appointment is not None:
        overlapping = overlapping.exclude(appointment=exclude_appointment)
    if overlapping.exists():
        raise DomainError("You already have an appointment at that time.", field="starts_at")
    return slot


def _is_telehealth(appointment_type: AppointmentType, wants_telehealth: bool) -> bool:
    modality = appointment_type.modality
    if modality == AppointmentType.Modality.TELEHEALTH:
        return True
    if modality == AppointmentType.Modality.IN_PERSON:
        return False
    return wants_telehealth


@transaction.atomic
def portal_appointment_book(
    *,
    access: PortalAccess,
    appointment_type: AppointmentType,
    clinician: Membership,
    starts_at: datetime,
    location: Location | None = None,
    is_telehealth: bool = False,
) -> Appointment:
    """The patient books an open slot for themselves (or the minor they are guardian of)."""
    _check_access(access)
    portal = portal_settings_for(access.practice)
    slot = _check_slot(
        access=access,
        portal=portal,
        appointment_type=appointment_type,
        clinician=clinician,
        starts_at=starts_at,
        location=location,
    )
    telehealth = _is_telehealth(appointment_type, is_telehealth)
    try:
        appointment = scheduling.appointment_book(
            by=_booker(clinician=clinician, patient=access.patient),
            clinician=clinician,
            appointment_type=appointment_type,
            starts_at=slot.starts_at,
            patients=[access.patient],
            location=slot.location,
            is_telehealth=telehealth,
            admin_note="Booked by the patient in the portal",
        )
    except scheduling.AppointmentConflict:
        raise DomainError(TAKEN, field="starts_at") from None
    StatusChange.objects.filter(appointment=appointment).update(source="portal", reason=f"Booked {BY_PATIENT}")
    PortalAppointmentEvent.objects.create(
        practice_id=access.practice_id,
        appointment=appointment,
        patient=access.patient,
        user=access.user,
        action=Action.BOOKED,
    )
    return appointment


def _own(access: PortalAccess, appointment: Appointment) -> Attendee:
    attendee = Attendee.objects.filter(appointment=appointment, patient=access.patient).first()
    if attendee is None or appointment.practice_id != access.practice_id:
        raise DomainError("Not found.", code="not_found")
    return attendee


@transaction.atomic
def portal_appointment_reschedule(
    *, access: PortalAccess, appointment: Appointment, starts_at: datetime, location: Location | None = None
) -> Appointment:
    """Move the patient's own individual appointment to another open slot of the same clinician and
    type. Inside the late-cancel window the patient calls instead (moving then would dodge the
    late-cancel policy)."""
    _check_access(access)
    _own(access, appointment)
    appointment = Appointment.objects.select_related("appointment_type", "clinician", "practice").get(pk=appointment.pk)
    if not sel.patient_can_reschedule(appointment):
        raise DomainError("This appointment cannot be moved online. Please call the practice.")
    if scheduling.is_late_cancel(appointment):
        hours = scheduling_settings(access.practice_id).late_cancel_hours
        raise DomainError(
            f"Appointments less than {hours} hours away cannot be moved online. Please call the practice."
        )
    portal = portal_settings_for(access.practice)
    slot = _check_slot(
        access=access,
        portal=portal,
        appointment_type=appointment.appointment_type,
        clinician=appointment.clinician,
        starts_at=starts_at,
        location=location,
        exclude_appointment=appointment,
    )
    if slot.location is not None and appointment.location_id not in (None, slot.location.pk):
        raise DomainError("Pick a time at the same location, or call the practice.", field="starts_at")
    old_start = appointment.starts_at
    try:
        moved = scheduling.appointment_reschedule(
            appointment=appointment,
            by=_booker(clinician=appointment.clinician, patient=access.patient),
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
        )
    except scheduling.AppointmentConflict:
        raise DomainError(TAKEN, field="starts_at") from None
    StatusChange.objects.create(
        practice_id=moved.practice_id,
        appointment=moved,
        from_status=moved.status,
        to_status=moved.status,
        changed_by=None,
        source="portal",
        reason=f"Rescheduled {BY_PATIENT} (was {old_start:%Y-%m-%d %H:%M} UTC)",
    )
    PortalAppointmentEvent.objects.create(
        practice_id=access.practice_id,
        appointment=moved,
        patient=access.patient,
        user=access.user,
        action=Action.RESCHEDULED,
        detail=f"From {old_start.isoformat()} to {moved.starts_at.isoformat()}",
    )
    return moved


@transaction.atomic
def portal_appointment_cancel(*, access: PortalAccess, appointment: Appointment, reason: str = "") -> bool:
    """Cancel the patient's attendance. Returns True when it was a late cancel (inside the
    practice's late-cancel window: late_cancelled, with the fee flag when a fee is configured).
    A group appointment cancels only this patient's place; a series occurrence only this one."""
    _check_access(access)
    attendee = _own(access, appointment)
    appointment = Appointment.objects.select_related("appointment_type").get(pk=appointment.pk)
    if not sel.patient_can_change(appointment) or attendee.status not in (
        Attendee.Status.EXPECTED,
        Attendee.Status.CONFIRMED,
    ):
        raise DomainError("This appointment can no longer be cancelled online. Please call the practice.")
    late = scheduling.is_late_cancel(appointment)
    note = f"Cancelled {BY_PATIENT}" + (f": {reason.strip()}" if reason.strip() else "")
    if appointment.appointment_type.is_group:
        scheduling.attendee_set_status(
            attendee=attendee, by=None, status=Attendee.Status.CANCELLED, reason=note, source="portal"
        )
    else:
        scheduling.appointment_cancel(appointment=appointment, by=None, reason=note, scope="this", source="portal")
    PortalAppointmentEvent.objects.create(
        practice_id=access.practice_id,
        appointment=appointment,
        patient=access.patient,
        user=access.user,
        action=Action.CANCELLED,
        is_late_cancel=late,
        detail=reason.strip()[:300],
    )
    return late


SETTINGS_FIELDS = (
    "online_booking_enabled",
    "new_patients_may_book",
    "booking_horizon_days",
    "messaging_enabled",
    "messaging_notice",
    "shared_instruments",
    "telehealth_join_minutes",
    "invitation_valid_days",
    "intake_packet",
)


@transaction.atomic
def portal_settings_update(
    *, by: Membership, bookable_clinicians: list[Membership] | None = None, **fields: Any
) -> PortalSettings:
    """Save the practice's portal settings (PORTAL_MANAGE_SETTINGS)."""
    if not by.is_active or not by.has_perm(Perm.PORTAL_MANAGE_SETTINGS):
        raise DomainError("Your role does not allow this.", code="forbidden")
    portal = PortalSettings.objects.select_for_update().get(pk=portal_settings_for(by.practice).pk)
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise DomainError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    packet = fields.get("intake_packet")
    if packet is not None and (packet.practice_id != by.practice_id or not packet.is_active):
        raise DomainError("Choose an active intake packet.", field="intake_packet")
    for name, value in fields.items():
        setattr(portal, name, value)
    try:
        portal.full_clean(exclude=["practice", "bookable_clinicians"])
    except ValidationError as exc:
        field, errors = next(iter(exc.message_dict.items()))
        raise DomainError(errors[0], field=field) from None
    portal.save()
    if bookable_clinicians is not None:
        allowed = set(sel.staff_bookable_choices().values_list("pk", flat=True))
        if any(m.pk not in allowed or m.practice_id != by.practice_id for m in bookable_clinicians):
            raise DomainError("Only active clinicians can be booked online.", field="bookable_clinicians")
        portal.bookable_clinicians.set(bookable_clinicians)
    return portal
