"""Demo schedule for `manage.py seed_demo` (after the clinical demo, inside the practice's scope).

Appointment types, rooms, Mon-Fri availability for every clinician, four weeks of past and four
weeks of future appointments per clinician booked through scheduling.services.appointment_book
(weekly and every-other-week recurring clients among them), past visits completed, no-shows and
late cancellations, one group session with five attendees, six waitlist entries, default
message templates and reminder rules, reminders of the coming days with a handful sent to the
outbox, and one cancellation whose slot was offered to the waitlist. Deterministic (a seeded RNG, times anchored on today's date) and idempotent (nothing
happens when the practice already has appointments).
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from auditlog.context import disable_auditlog
from django.db import transaction
from django.utils import timezone

from clinical.models import Patient
from practice.models import Location, Membership, Practice
from practice.permissions import Perm, Role
from scheduling import services
from scheduling import waitlist as wl
from scheduling.models import Appointment, AppointmentType, AvailabilityRule, Room

# (name, minutes, CPT, modality, colour, is_group, max attendees)
TYPES: list[tuple[str, int, str, str, str, bool, int]] = [
    ("Intake", 60, "90791", "either", "#7c3aed", False, 1),
    ("Psychotherapy 45 min", 45, "90834", "either", "#0f766e", False, 1),
    ("Psychotherapy 60 min", 60, "90837", "either", "#2563eb", False, 1),
    ("Family therapy", 50, "90847", "in_person", "#b45309", False, 1),
    ("Group therapy", 90, "90853", "in_person", "#be185d", True, 8),
    ("Telehealth session", 45, "90834", "telehealth", "#0891b2", False, 1),
]
ROOMS = {"cedar": ["Room 1", "Room 2", "Room 3", "Room 4", "Group room"], "maple": ["Office A", "Office B"]}
CLINICAL_ROLES = (Role.CLINICIAN, Role.SUPERVISOR, Role.OWNER)
WEEKS = 4


def seed_scheduling(*, practice: Practice) -> int:
    """Seed one practice's schedule; returns how many appointments were booked (0 on a re-run).

    One transaction: a few thousand small writes commit once (fast on SQLite too); what the
    services defer to commit (reminder sync, waitlist offers, message delivery) runs after it."""
    if Appointment.objects.exists():
        return 0
    with transaction.atomic():
        return _seed(practice)


def _seed(practice: Practice) -> int:
    rng = random.Random(f"tend-demo-schedule-{practice.slug}")  # noqa: S311 - demo data, not security
    members = list(Membership.objects.filter(is_active=True).select_related("user", "practice"))
    desk = _scheduler(members)
    clinicians = sorted(
        (m for m in members if m.role in CLINICAL_ROLES and m.has_perm(Perm.NOTE_WRITE)), key=lambda m: m.user.email
    )
    if desk is None or not clinicians:
        return 0
    from notifications.services import notifications_install_defaults

    notifications_install_defaults(practice=practice)

    types = _types(practice)
    office = Location.objects.exclude(place_of_service__in=["02", "10"]).order_by("name").first()
    telehealth = Location.objects.filter(place_of_service__in=["02", "10"]).order_by("name").first()
    rooms = _rooms(practice, office)
    zone = ZoneInfo(office.timezone if office else practice.timezone)
    today = timezone.now().astimezone(zone).date()
    first_monday = today - timedelta(days=today.weekday(), weeks=WEEKS)

    starts = _availability(desk, clinicians, office, first_monday)
    booked = 0
    for index, clinician in enumerate(clinicians):
        patients = list(
            Patient.objects.filter(primary_clinician=clinician, status=Patient.Status.ACTIVE).order_by("mrn")[:4]
        )
        # the first clinicians have a room of their own; the others see patients in any free office
        room = rooms[index] if index < len(rooms) - 1 else None
        for n, patient in enumerate(patients):
            weekday = (index + n) % 5
            start_hour = starts[clinician.pk][weekday] + 1 + n
            if n == 0:  # weekly client: four weeks back, this week and four ahead
                booked += _book(
                    desk,
                    clinician,
                    types["Psychotherapy 45 min"],
                    patient,
                    office,
                    room,
                    _at(first_monday, weekday, start_hour, zone),
                    rrule=f"FREQ=WEEKLY;COUNT={2 * WEEKS + 1}",
                )
            elif n == 1:  # every other week
                booked += _book(
                    desk,
                    clinician,
                    types["Psychotherapy 60 min"],
                    patient,
                    office,
                    room,
                    _at(first_monday, weekday, start_hour, zone),
                    rrule=f"FREQ=WEEKLY;INTERVAL=2;COUNT={WEEKS + 1}",
                )
            else:  # an intake in the past, then single sessions ahead (telehealth for some)
                booked += _book(
                    desk,
                    clinician,
                    types["Intake"],
                    patient,
                    office,
                    room,
                    _at(first_monday, weekday, start_hour, zone),
                )
                follow_up = types["Telehealth session"] if (index + n) % 3 == 0 else types["Family therapy"]
                for week in (WEEKS + 1, WEEKS + 3):
                    is_tele = follow_up.modality == "telehealth"
                    booked += _book(
                        desk,
                        clinician,
                        follow_up,
                        patient,
                        telehealth if is_tele else office,
                        None if is_tele else room,
                        _at(first_monday + timedelta(weeks=week), weekday, start_hour, zone),
                        is_telehealth=is_tele,
                    )
    booked += _group_session(desk, clinicians, types["Group therapy"], office, rooms, first_monday, zone)
    # The past weeks' outcomes are backfilled history: their StatusChange rows record each
    # transition, but the hash-chained write log is paused for them (it would add ~1,300
    # synthetic entries and triple the seed time). Bookings above are audited as usual.
    with disable_auditlog():
        _past_outcomes(desk, rng)
    _waitlist(desk, clinicians, types, office, rng)
    _reminders(desk)
    _cancel_one_for_the_waitlist(desk)
    return booked


def _scheduler(members: list[Membership]) -> Membership | None:
    """Who books the demo: the front desk (schedules for every patient), else an admin or owner."""
    order = {Role.FRONT_DESK: 0, Role.ADMIN: 1, Role.OWNER: 2}
    ranked = sorted(
        (m for m in members if m.has_perm(Perm.SCHEDULE_MANAGE) and m.has_perm(Perm.PATIENT_VIEW_ALL_PATIENTS)),
        key=lambda m: (order.get(m.role, 9), m.user.email),
    )
    return ranked[0] if ranked else None


def _types(practice: Practice) -> dict[str, AppointmentType]:
    out = {}
    for name, minutes, cpt, modality, color, is_group, max_attendees in TYPES:
        out[name], _ = AppointmentType.objects.get_or_create(
            practice=practice,
            name=name,
            defaults={
                "duration_minutes": minutes,
                "default_service_code": cpt,
                "modality": modality,
                "color": color,
                "is_group": is_group,
                "max_attendees": max_attendees,
                "new_patient_only": name == "Intake",
                "is_bookable_online": name in ("Intake", "Psychotherapy 45 min"),
            },
        )
    return out


def _rooms(practice: Practice, office: Location | None) -> list[Room]:
    if office is None:
        return []
    names = ROOMS.get(practice.slug, ["Room 1", "Room 2"])
    return [
        Room.objects.get_or_create(
            practice=practice, location=office, name=name, defaults={"capacity": 10 if "Group" in name else 3}
        )[0]
        for name in names
    ]


def _availability(desk, clinicians, office, first_monday: date) -> dict[int, list[int]]:
    """Mon-Fri hours per clinician, varied (8-4, 9-5, 10-6; short Fridays for some).
    Returns each clinician's start hour per weekday."""
    starts: dict[int, list[int]] = {}
    for index, clinician in enumerate(clinicians):
        begin = 8 + index % 3
        hours = []
        for weekday in range(5):
            start = begin + (1 if weekday == 4 and index % 2 else 0)
            end = start + (6 if weekday == 4 and index % 2 else 8)
            hours.append(start)
            if (
                office is not None
                and not AvailabilityRule.objects.filter(clinician=clinician, weekday=weekday).exists()
            ):
                services.availability_rule_create(
                    by=desk,
                    clinician=clinician,
                    location=office,
                    weekday=weekday,
                    start_time=time(start),
                    end_time=time(end),
                    valid_from=first_monday,
                )
        starts[clinician.pk] = hours
    return starts


def _at(monday: date, weekday: int, hour: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(monday + timedelta(days=weekday), time(min(hour, 19)), tzinfo=zone)


def _book(
    desk, clinician, appointment_type, patient, location, room, starts_at, *, rrule=None, is_telehealth=False
) -> int:
    try:
        first = services.appointment_book(
            by=desk,
            clinician=clinician,
            appointment_type=appointment_type,
            starts_at=starts_at,
            patients=[patient],
            location=location,
            room=room,
            is_telehealth=is_telehealth,
            telehealth_url="https://telehealth.example/room/demo" if is_telehealth else "",
            rrule=rrule,
        )
    except services.AppointmentConflict:
        return 0  # the demo's own times collided (a room or patient already booked): skip it
    return Appointment.objects.filter(series_id=first.series_id).count() if first.series_id else 1


def _group_session(desk, clinicians, group_type, office, rooms, first_monday, zone) -> int:
    """One group next week (Thursday 6 pm, after every individual session) with five attendees
    from different caseloads."""
    leader = next((c for c in clinicians if c.role == Role.SUPERVISOR), clinicians[0])
    patients = list(Patient.objects.filter(status=Patient.Status.ACTIVE).order_by("mrn"))[1::3][:5]
    if len(patients) < 2:
        return 0
    group_room = next((r for r in rooms if "Group" in r.name), rooms[0] if rooms else None)
    starts_at = datetime.combine(first_monday + timedelta(weeks=WEEKS + 1, days=3), time(18, 0), tzinfo=zone)
    try:
        services.appointment_book(
            by=desk,
            clinician=leader,
            appointment_type=group_type,
            starts_at=starts_at,
            patients=patients,
            location=office,
            room=group_room,
        )
    except services.AppointmentConflict:
        return 0
    return 1


def _past_outcomes(desk, rng: random.Random) -> None:
    """Past visits: mostly completed, some no-shows and late cancellations; a few upcoming ones
    are confirmed."""
    now = timezone.now()
    past = Appointment.objects.filter(status=Appointment.Status.SCHEDULED, ends_at__lt=now).order_by("starts_at", "id")
    for appointment in past:
        roll = rng.random()
        if roll < 0.08:
            services.appointment_set_status(appointment=appointment, by=desk, status=Appointment.Status.NO_SHOW)
        elif roll < 0.15:
            services.appointment_cancel(appointment=appointment, by=desk, reason="Called in sick", late=True)
        else:
            services.appointment_set_status(appointment=appointment, by=desk, status=Appointment.Status.ARRIVED)
            services.appointment_set_status(appointment=appointment, by=desk, status=Appointment.Status.COMPLETED)
    upcoming = Appointment.objects.filter(status=Appointment.Status.SCHEDULED, starts_at__gt=now).order_by(
        "starts_at", "id"
    )
    for appointment in upcoming[:12]:
        if rng.random() < 0.5:
            services.appointment_set_status(appointment=appointment, by=desk, status=Appointment.Status.CONFIRMED)


WAITLIST_NOTES = [
    "Prefers mornings before work",
    "Can come on short notice",
    "School pick-up at 3 pm",
    "",
    "Would like a clinician who speaks Spanish",
    "Flexible",
]


def _waitlist(desk, clinicians, types, office, rng: random.Random) -> None:
    """Six entries: varied priorities, clinicians, days and time windows."""
    patients = list(Patient.objects.filter(status__in=["active", "waitlisted"]).order_by("-mrn")[:6])
    shapes = [
        {"priority": 1, "weekdays": [], "earliest_time": None, "latest_time": None},  # anyone, any time
        {"priority": 2, "weekdays": [0, 2, 4], "earliest_time": time(8), "latest_time": time(12)},
        {"priority": 3, "weekdays": [1, 3], "earliest_time": time(9), "latest_time": time(15)},
        {"priority": 3, "weekdays": [], "earliest_time": time(16), "latest_time": None},
        {"priority": 4, "weekdays": [0, 1, 2, 3, 4], "earliest_time": None, "latest_time": None},
        {"priority": 5, "weekdays": [], "earliest_time": None, "latest_time": None},
    ]
    for n, (patient, shape) in enumerate(zip(patients, shapes, strict=False)):
        wanted = [] if n in (0, 5) else rng.sample(clinicians, k=min(2, len(clinicians)))
        wl.waitlist_entry_create(
            by=desk,
            patient=patient,
            appointment_type=types["Psychotherapy 45 min"],
            clinicians=wanted,
            location=office if n % 2 else None,
            notes=WAITLIST_NOTES[n],
            **shape,
        )


def _reminders(desk) -> None:
    """Reminders of the coming days, and the due ones sent to the outbox. The booking services
    sync reminders on commit; when the seed runs inside a transaction (tests) that is later, so
    sync the next days' appointments here too (the sync is idempotent)."""
    from notifications.services import reminders_dispatch_due, reminders_sync_for_appointment

    now = timezone.now()
    upcoming = Appointment.objects.filter(
        status__in=Appointment.ACTIVE_STATUSES, starts_at__gt=now, starts_at__lt=now + timedelta(days=3)
    ).values_list("pk", flat=True)
    for appointment_id in upcoming:
        reminders_sync_for_appointment(appointment_id=appointment_id)
    # a handful for the outbox: those due within the next day go out now (a demo shortcut)
    reminders_dispatch_due(batch_size=12, now=now + timedelta(hours=24))


def _cancel_one_for_the_waitlist(desk) -> None:
    """Cancel one appointment next week: its slot is offered to the waitlist (messages in the outbox)."""
    soon = timezone.now() + timedelta(days=3)
    appointment = (
        Appointment.objects.filter(
            status=Appointment.Status.SCHEDULED,
            starts_at__gt=soon,
            series__isnull=True,
            appointment_type__is_group=False,
        )
        .order_by("starts_at", "id")
        .first()
    )
    if appointment is not None:
        services.appointment_cancel(appointment=appointment, by=desk, reason="Patient moving away")
        # the cancellation offers the slot on commit; a second call is a no-op (one batch per slot)
        wl.waitlist_offer_freed_slot(appointment_id=appointment.pk)
