"""Daylight saving: a weekly 3 PM series stays 3 PM local across both transitions, and
availability gives the right UTC slots on transition days (America/New_York, Europe/London)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_scopes import scopes_disabled

from practice.tests.factories import LocationFactory
from scheduling import services
from scheduling.models import Appointment
from scheduling.selectors import open_slots
from scheduling.tests import test_services as base
from scheduling.tests.factories import AppointmentTypeFactory, AvailabilityRuleFactory

world = base.world  # the shared fixture

BEFORE = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

# zone, spring-forward Sunday, fall-back Sunday
ZONES = [
    ("America/New_York", date(2026, 3, 8), date(2026, 11, 1)),
    ("Europe/London", date(2026, 3, 29), date(2026, 10, 25)),
]


def _location(w, zone):
    with scopes_disabled():
        return LocationFactory(practice=w.practice, timezone=zone)


def _local(day: date, hour: int, minute: int, zone: str) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize(("zone", "spring", "fall"), ZONES)
def test_weekly_series_keeps_three_pm_local_across_both_transitions(world, zone, spring, fall):
    location = _location(world, zone)
    tz = ZoneInfo(zone)
    with time_machine.travel(BEFORE, tick=False):
        spring_series = services.appointment_book(
            by=world.desk,
            clinician=world.clinician,
            appointment_type=world.type,
            starts_at=_local(spring - timedelta(weeks=1), 15, 0, zone),
            patients=[world.patient],
            location=location,
            rrule="FREQ=WEEKLY;COUNT=3",
        )
        fall_series = services.appointment_book(
            by=world.desk,
            clinician=world.clinician,
            appointment_type=world.type,
            starts_at=_local(fall - timedelta(weeks=1), 15, 0, zone),
            patients=[world.patient],
            location=location,
            rrule="FREQ=WEEKLY;COUNT=3",
        )
    for first in (spring_series, fall_series):
        rows = list(Appointment.objects.filter(series=first.series).order_by("starts_at"))
        assert len(rows) == 3
        assert {r.starts_at.astimezone(tz).time() for r in rows} == {time(15, 0)}
        assert {r.ends_at.astimezone(tz).time() for r in rows} == {time(15, 45)}
        offsets = [r.starts_at.astimezone(tz).utcoffset() for r in rows]
        assert offsets[0] != offsets[1] == offsets[2]  # the UTC instants really moved by an hour
        assert rows[1].starts_at - rows[0].starts_at != timedelta(weeks=1)


def _slots(world, location, day):
    rule_type = AppointmentTypeFactory(practice=world.practice, duration_minutes=60)
    return open_slots(
        clinician=world.clinician,
        appointment_type=rule_type,
        start=day,
        end=day,
        location=location,
        minimum_notice=timedelta(0),
    )


@pytest.mark.parametrize(("zone", "spring", "fall"), ZONES)
def test_nine_to_five_gives_correct_utc_slots_on_transition_days(world, zone, spring, fall):
    location = _location(world, zone)
    with scopes_disabled():
        AvailabilityRuleFactory(
            practice=world.practice,
            clinician=world.clinician,
            location=location,
            weekday=6,
            start_time=time(9),
            end_time=time(17),
            valid_from=date(2026, 1, 1),
        )
    with time_machine.travel(BEFORE, tick=False):
        for day in (spring, fall):
            slots = _slots(world, location, day)
            assert slots[0].starts_at == _local(day, 9, 0, zone).astimezone(UTC)
            assert slots[-1].ends_at == _local(day, 17, 0, zone).astimezone(UTC)
            assert len(slots) == 29  # 9:00 .. 16:00 every 15 minutes
            assert {s.starts_at.astimezone(ZoneInfo(zone)).date() for s in slots} == {day}
    # the UTC times differ by the offset change: one hour between spring and fall in each zone
    ny_or_london_summer = _local(spring, 9, 0, zone).utcoffset()
    ny_or_london_winter = _local(fall, 9, 0, zone).utcoffset()
    assert ny_or_london_summer - ny_or_london_winter == timedelta(hours=1)


@pytest.mark.parametrize(
    ("zone", "spring", "gap_hour"), [("America/New_York", date(2026, 3, 8), 2), ("Europe/London", date(2026, 3, 29), 1)]
)
def test_a_wall_time_that_does_not_exist_is_not_offered(world, zone, spring, gap_hour):
    location = _location(world, zone)
    with scopes_disabled():
        AvailabilityRuleFactory(
            practice=world.practice,
            clinician=world.clinician,
            location=location,
            weekday=6,
            start_time=time(0),
            end_time=time(5),
            valid_from=date(2026, 1, 1),
        )
    tz = ZoneInfo(zone)
    with time_machine.travel(BEFORE, tick=False):
        slots = _slots(world, location, spring)
    local_starts = [s.starts_at.astimezone(tz) for s in slots]
    assert local_starts
    assert all(ls.hour != gap_hour for ls in local_starts)  # e.g. 2:30 AM does not exist in New York
    # four real hours between 00:00 and 05:00 local that night: 60-minute slots every 15 minutes
    assert slots[-1].ends_at - slots[0].starts_at == timedelta(hours=4)
    assert len(slots) == 13
    assert all(s.ends_at - s.starts_at == timedelta(hours=1) for s in slots)
