"""Portal booking reads: what a patient may book (types, clinicians, open slots inside the notice and
horizon window), their appointments, and whether a telehealth join link shows now.

The rules live here once and the services re-check them on every write (the page may be stale).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from clinical.models import Patient
from portal.models import PortalSettings
from practice.models import Membership
from practice.permissions import Perm, Role
from scheduling.models import Appointment, AppointmentType, Attendee, SchedulingSettings
from scheduling.selectors import Slot, open_slots, scheduling_settings

BOOKABLE_ROLES = (Role.CLINICIAN, Role.SUPERVISOR, Role.OWNER)
DAYS_PER_PAGE = 7
CHANGEABLE = (Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED)


def patient_is_new(patient: Patient) -> bool:
    """A new patient has no completed visit (attended, or an appointment marked completed)."""
    return (
        not Attendee.objects.filter(patient=patient)
        .filter(Q(status=Attendee.Status.ATTENDED) | Q(appointment__status=Appointment.Status.COMPLETED))
        .exists()
    )


def bookable_types(*, patient: Patient, portal: PortalSettings, is_new: bool | None = None) -> list[AppointmentType]:
    """Active types open to online booking. New patients need the practice to let them book and see
    every online type; existing patients do not see new-patient-only types."""
    is_new = patient_is_new(patient) if is_new is None else is_new
    if is_new and not portal.new_patients_may_book:
        return []
    types = AppointmentType.objects.filter(is_active=True, is_bookable_online=True, is_group=False).order_by("name")
    if not is_new:
        types = types.filter(new_patient_only=False)
    return list(types)


def staff_bookable_choices() -> QuerySet[Membership]:
    """Who the settings page offers as bookable: active clinicians, supervisors and owners."""
    return (
        Membership.objects.filter(is_active=True, role__in=BOOKABLE_ROLES)
        .select_related("user")
        .order_by("user__full_name", "id")
    )


def _takes_appointments(member: Membership) -> bool:
    return member.is_active and member.has_perm(Perm.NOTE_WRITE)


def bookable_clinicians(*, patient: Patient, portal: PortalSettings) -> list[Membership]:
    """The practice's bookable clinicians; none configured: the patient's primary clinician."""
    configured = [m for m in portal.bookable_clinicians.select_related("user").order_by("user__full_name", "id")]
    if configured:
        return [m for m in configured if _takes_appointments(m)]
    primary = patient.primary_clinician
    if primary is not None and _takes_appointments(primary):
        return [primary]
    return []


@dataclass(frozen=True)
class Window:
    earliest: datetime  # now + minimum notice
    first_day: date
    last_day: date  # today + horizon (practice-local)


def booking_window(*, portal: PortalSettings, sched: SchedulingSettings, now: datetime | None = None) -> Window:
    now = now or timezone.now()
    today = timezone.localdate(now)
    earliest = now + timedelta(hours=sched.minimum_notice_hours)
    return Window(
        earliest=earliest,
        first_day=timezone.localdate(earliest),
        last_day=today + timedelta(days=portal.booking_horizon_days),
    )


def slots_for(
    *,
    clinician: Membership,
    appointment_type: AppointmentType,
    window: Window,
    start: date,
    days: int = DAYS_PER_PAGE,
) -> list[Slot]:
    """Open slots of one clinician from `start` for `days` days, clipped to the window."""
    first = max(start, window.first_day)
    last = min(start + timedelta(days=days - 1), window.last_day)
    if last < first:
        return []
    notice = window.earliest - timezone.now()
    slots = open_slots(
        clinician=clinician,
        appointment_type=appointment_type,
        start=first,
        end=last,
        minimum_notice=max(notice, timedelta(0)),
    )
    return [s for s in slots if s.starts_at >= window.earliest and timezone.localdate(s.starts_at) <= window.last_day]


def slots_by_day(slots: list[Slot]) -> OrderedDict[date, list[Slot]]:
    grouped: OrderedDict[date, list[Slot]] = OrderedDict()
    for slot in slots:
        grouped.setdefault(timezone.localdate(slot.starts_at), []).append(slot)
    return grouped


def patient_appointments(patient: Patient) -> QuerySet[Appointment]:
    """The patient's appointments (through their attendance), with what the list shows."""
    mine = Attendee.objects.filter(patient=patient)
    return (
        Appointment.objects.filter(attendees__patient=patient)
        .select_related("appointment_type", "clinician__user", "location")
        .prefetch_related(Prefetch("attendees", queryset=mine, to_attr="my_attendance"))
        .distinct()
    )


def patient_appointment_lists(patient: Patient, *, now: datetime | None = None) -> tuple[list, list]:
    """(upcoming soonest first, past latest first — the last 20)."""
    now = now or timezone.now()
    qs = patient_appointments(patient)
    upcoming = list(qs.filter(ends_at__gt=now).order_by("starts_at", "id"))
    past = list(qs.filter(ends_at__lte=now).order_by("-starts_at", "-id")[:20])
    return upcoming, past


def patient_appointment_get(patient: Patient, public_id) -> Appointment | None:
    return patient_appointments(patient).filter(public_id=public_id).first()


def my_attendance(appointment: Appointment) -> Attendee | None:
    rows = getattr(appointment, "my_attendance", None)
    return rows[0] if rows else None


def join_link_visible(appointment: Appointment, *, portal: PortalSettings, now: datetime | None = None) -> bool:
    """The telehealth link shows from `telehealth_join_minutes` before the start until the end."""
    if not (appointment.is_telehealth and appointment.telehealth_url and appointment.is_active):
        return False
    now = now or timezone.now()
    opens = appointment.starts_at - timedelta(minutes=portal.telehealth_join_minutes)
    return opens <= now < appointment.ends_at


def patient_can_change(appointment: Appointment, *, now: datetime | None = None) -> bool:
    """Cancel: a future scheduled or confirmed appointment of the patient."""
    now = now or timezone.now()
    return appointment.status in CHANGEABLE and appointment.starts_at > now


def patient_can_reschedule(appointment: Appointment, *, now: datetime | None = None) -> bool:
    """Reschedule online: individual, not part of a recurring series (staff move those)."""
    return (
        patient_can_change(appointment, now=now)
        and appointment.series_id is None
        and not appointment.appointment_type.is_group
    )


def late_cancel_fee(practice) -> Decimal:
    cents = scheduling_settings(practice).late_cancel_fee_cents
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))
