"""Open slots: availability plus extra hours, minus time off and appointments, stepped, with
minimum notice; the calendar selector with bounded queries."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django_scopes import scopes_disabled

from practice.permissions import Role
from practice.tests.factories import LocationFactory, MembershipFactory
from scheduling import selectors, services
from scheduling.tests import test_services as base
from scheduling.tests.factories import (
    AppointmentTypeFactory,
    AvailabilityExceptionFactory,
    AvailabilityRuleFactory,
    SchedulingSettingsFactory,
    appointment_with_patient,
)

world = base.world  # the shared fixture; "now" is Monday 2026-06-01 12:00 UTC

NY = ZoneInfo("America/New_York")
WED = date(2026, 6, 10)


def ny(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NY).astimezone(UTC)


@pytest.fixture
def hourly(world):
    with scopes_disabled():
        AvailabilityRuleFactory(
            practice=world.practice,
            clinician=world.clinician,
            location=world.location,
            weekday=WED.weekday(),
            start_time=time(9),
            end_time=time(12),
            valid_from=date(2026, 1, 1),
        )
        return AppointmentTypeFactory(practice=world.practice, duration_minutes=60)


def starts(slots):
    return [s.starts_at.astimezone(NY).strftime("%H:%M") for s in slots]


def test_slots_step_through_the_availability(world, hourly):
    slots = selectors.open_slots(clinician=world.clinician, appointment_type=hourly, start=WED, end=WED)
    assert starts(slots) == ["09:00", "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45", "11:00"]
    assert all(s.clinician == world.clinician and s.location == world.location for s in slots)
    assert slots[0].ends_at - slots[0].starts_at == timedelta(hours=1)


def test_slot_step_comes_from_settings(world, hourly):
    SchedulingSettingsFactory(practice=world.practice, slot_step_minutes=30)
    slots = selectors.open_slots(clinician=world.clinician, appointment_type=hourly, start=WED, end=WED)
    assert starts(slots) == ["09:00", "09:30", "10:00", "10:30", "11:00"]


def test_appointments_are_subtracted(world, hourly):
    with scopes_disabled():
        appointment_with_patient(
            world.practice, clinician=world.clinician, starts_at=ny(WED, 10), ends_at=ny(WED, 10, 45)
        )
        appointment_with_patient(
            world.practice,
            clinician=world.clinician,
            starts_at=ny(WED, 9),
            ends_at=ny(WED, 10),
            status="cancelled",  # a cancelled appointment frees its time
        )
    slots = selectors.open_slots(clinician=world.clinician, appointment_type=hourly, start=WED, end=WED)
    assert starts(slots) == ["09:00", "10:45", "11:00"]


def test_time_off_removes_and_extra_hours_add(world, hourly):
    with scopes_disabled():
        AvailabilityExceptionFactory(
            practice=world.practice, clinician=world.clinician, starts_at=ny(WED, 9), ends_at=ny(WED, 11)
        )
        AvailabilityExceptionFactory(
            practice=world.practice,
            clinician=world.clinician,
            kind="extra_hours",
            location=world.location,
            starts_at=ny(WED, 14),
            ends_at=ny(WED, 15),
        )
    slots = selectors.open_slots(clinician=world.clinician, appointment_type=hourly, start=WED, end=WED)
    assert starts(slots) == ["11:00", "14:00"]


def test_minimum_notice_hides_early_slots(world, hourly):
    today = date(2026, 6, 1)  # Monday; now is 08:00 New York
    with scopes_disabled():
        AvailabilityRuleFactory(
            practice=world.practice,
            clinician=world.clinician,
            location=world.location,
            weekday=today.weekday(),
            start_time=time(9),
            end_time=time(17),
            valid_from=date(2026, 1, 1),
        )
    default = selectors.open_slots(clinician=world.clinician, appointment_type=hourly, start=today, end=today)
    assert default == []  # the practice's 24 hours
    staff = selectors.open_slots(
        clinician=world.clinician, appointment_type=hourly, start=today, end=today, minimum_notice=timedelta(hours=4)
    )
    assert starts(staff)[0] == "12:00"


def test_rule_validity_dates_and_location_filter(world, hourly):
    with scopes_disabled():
        elsewhere = LocationFactory(practice=world.practice, timezone="America/Chicago")
        AvailabilityRuleFactory(
            practice=world.practice,
            clinician=world.clinician,
            location=elsewhere,
            weekday=WED.weekday(),
            start_time=time(14),
            end_time=time(15),
            valid_from=date(2026, 6, 17),
        )
    slots = selectors.open_slots(
        clinician=world.clinician, appointment_type=hourly, start=WED, end=WED + timedelta(days=7)
    )
    assert {s.location for s in slots} == {world.location, elsewhere}
    assert {s.starts_at.date() for s in slots if s.location == elsewhere} == {date(2026, 6, 17)}
    only_here = selectors.open_slots(
        clinician=world.clinician,
        appointment_type=hourly,
        start=WED,
        end=WED + timedelta(days=7),
        location=world.location,
    )
    assert {s.location for s in only_here} == {world.location}
    assert len(only_here) == 18


def test_booked_slot_disappears_after_booking(world, hourly):
    slots = selectors.open_slots(clinician=world.clinician, appointment_type=hourly, start=WED, end=WED)
    services.appointment_book(
        by=world.desk,
        clinician=world.clinician,
        appointment_type=world.type,
        starts_at=slots[0].starts_at,
        patients=[world.patient],
        location=world.location,
    )
    after = selectors.open_slots(clinician=world.clinician, appointment_type=hourly, start=WED, end=WED)
    assert starts(after) == ["09:45", "10:00", "10:15", "10:30", "10:45", "11:00"]


def test_open_slots_for_many_clinicians_in_a_fixed_number_of_queries(world, hourly, django_assert_max_num_queries):
    with scopes_disabled():
        members = [MembershipFactory(practice=world.practice, role=Role.CLINICIAN) for _ in range(8)]
        for member in members:
            for weekday in range(5):
                AvailabilityRuleFactory(
                    practice=world.practice,
                    clinician=member,
                    location=world.location,
                    weekday=weekday,
                    valid_from=date(2026, 1, 1),
                )
            appointment_with_patient(world.practice, clinician=member, starts_at=ny(WED, 10), ends_at=ny(WED, 11))
    SchedulingSettingsFactory(practice=world.practice)
    with django_assert_max_num_queries(4):
        slots = selectors.open_slots(
            clinicians=members, appointment_type=hourly, start=WED, end=WED + timedelta(days=6)
        )
    assert {s.clinician for s in slots} == set(members)


def test_calendar_appointments_bounded_queries(world, django_assert_max_num_queries):
    with scopes_disabled():
        members = [MembershipFactory(practice=world.practice, role=Role.CLINICIAN) for _ in range(10)]
        for member in members:
            for hour in (9, 11, 13):
                appointment_with_patient(
                    world.practice, clinician=member, starts_at=ny(WED, hour), ends_at=ny(WED, hour, 45)
                )
    with django_assert_max_num_queries(3):
        rows = list(
            selectors.calendar_appointments(start=ny(WED, 0), end=ny(WED + timedelta(days=1), 0), clinicians=members)
        )
        names = {(a.clinician.user.full_name, a.appointment_type.name) for a in rows}
        patients = [att.patient.legal_last_name for a in rows for att in a.attendees.all()]
    assert len(rows) == 30 and len(patients) == 30 and names
