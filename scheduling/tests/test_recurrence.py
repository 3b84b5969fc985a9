"""Recurring appointments: RRULE validation, expansion, booking a series, and "this / this and
following / all" edits and cancellations that keep history."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from practice.errors import DomainError
from scheduling import recurrence, services
from scheduling.models import Appointment, AppointmentSeries
from scheduling.services import AppointmentConflict
from scheduling.tests import test_services as base
from scheduling.tests.test_services import NOW, SLOT, book

world = base.world  # the shared fixture

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=MONTHLY;COUNT=3", "weekly or daily"),
        ("FREQ=WEEKLY;INTERVAL=5;COUNT=3", "INTERVAL"),
        ("FREQ=WEEKLY;COUNT=53", "COUNT"),
        ("FREQ=WEEKLY", "either COUNT"),
        ("FREQ=WEEKLY;COUNT=3;UNTIL=20261231", "either COUNT"),
        ("FREQ=WEEKLY;UNTIL=20280101", "one year"),
        ("FREQ=WEEKLY;BYDAY=MO,TU;COUNT=4", "BYDAY"),
        ("FREQ=WEEKLY;COUNT", "KEY=VALUE"),
        ("FREQ=WEEKLY;UNTIL=tomorrow", "UNTIL must be"),
    ],
)
def test_unsupported_rules_are_refused_with_a_reason(rule, message):
    with pytest.raises(DomainError, match=message) as err:
        recurrence.validate_rrule(rule, dtstart=SLOT, tz=NY)
    assert err.value.field == "rrule"


def test_rule_is_normalised():
    assert recurrence.validate_rrule("RRULE:freq=weekly;count=10", dtstart=SLOT, tz=NY) == (
        "FREQ=WEEKLY;INTERVAL=1;COUNT=10"
    )
    # a date-only UNTIL is the end of that local day, stored in UTC
    assert recurrence.validate_rrule("FREQ=WEEKLY;UNTIL=20260701", dtstart=SLOT, tz=NY).endswith(
        "UNTIL=20260702T035959Z"
    )


def test_every_other_week_by_count():
    starts = recurrence.expand("FREQ=WEEKLY;INTERVAL=2;COUNT=4", dtstart=SLOT, tz=NY)
    assert starts == [SLOT + timedelta(weeks=2 * n) for n in range(4)]


def test_until_includes_the_last_day():
    rule = recurrence.validate_rrule("FREQ=WEEKLY;UNTIL=20260701", dtstart=SLOT, tz=NY)
    starts = recurrence.expand(rule, dtstart=SLOT, tz=NY)
    assert [s.date().isoformat() for s in starts] == ["2026-06-10", "2026-06-17", "2026-06-24", "2026-07-01"]


def test_describe():
    assert recurrence.describe("FREQ=WEEKLY;INTERVAL=2;COUNT=10") == "Every 2 weeks, 10 times"
    assert recurrence.describe("FREQ=WEEKLY;INTERVAL=1;UNTIL=20261231T235959Z") == "Weekly until 2026-12-31"


def test_booking_a_series_materialises_its_occurrences(world):
    first = book(world, rrule="FREQ=WEEKLY;COUNT=6")
    series = first.series
    assert series.rrule == "FREQ=WEEKLY;INTERVAL=1;COUNT=6"
    assert series.timezone == "America/New_York"
    rows = list(Appointment.objects.filter(series=series).order_by("starts_at"))
    assert [r.starts_at for r in rows] == [SLOT + timedelta(weeks=n) for n in range(6)]
    assert all(r.occurrence_start == r.starts_at for r in rows)
    assert all(r.attendees.get().patient_id == world.patient.pk for r in rows)
    assert first == rows[0]


def test_more_than_52_occurrences_is_refused(world):
    with pytest.raises(DomainError, match="COUNT"):
        book(world, rrule="FREQ=DAILY;COUNT=60")


def test_a_conflicting_occurrence_fails_the_whole_series(world):
    blocker = book(world, starts_at=SLOT + timedelta(weeks=2), patients=[world.patient2])
    blocker2 = book(world, starts_at=SLOT + timedelta(weeks=4, minutes=30), patients=[world.patient3])
    with pytest.raises(AppointmentConflict) as err:
        book(world, rrule="FREQ=WEEKLY;COUNT=6")
    assert "24 Jun 2026" in err.value.message and "08 Jul 2026" in err.value.message
    assert [a for _, a in err.value.conflicts] == [blocker, blocker2]
    assert err.value.conflicting == blocker
    assert Appointment.objects.count() == 2
    assert AppointmentSeries.objects.count() == 0


def _series_rows(series_ids):
    return list(Appointment.objects.filter(series_id__in=series_ids).order_by("starts_at"))


def test_reschedule_this_occurrence_marks_an_exception(world):
    first = book(world, rrule="FREQ=WEEKLY;COUNT=4")
    second = Appointment.objects.get(series=first.series, occurrence_start=SLOT + timedelta(weeks=1))
    moved = services.appointment_reschedule(
        appointment=second, by=world.desk, starts_at=SLOT + timedelta(weeks=1, hours=2), scope="this"
    )
    assert moved.is_exception and moved.occurrence_start == SLOT + timedelta(weeks=1)
    assert moved.starts_at == SLOT + timedelta(weeks=1, hours=2)
    others = Appointment.objects.filter(series=first.series).exclude(pk=moved.pk)
    assert all(not r.is_exception and r.starts_at == r.occurrence_start for r in others)


def test_reschedule_this_and_following_splits_the_series(world):
    first = book(world, rrule="FREQ=WEEKLY;COUNT=6")
    old_series = first.series
    third = Appointment.objects.get(series=old_series, occurrence_start=SLOT + timedelta(weeks=2))
    # Thursday at 17:00 UTC instead of Wednesday 15:00 UTC
    new_start = SLOT + timedelta(weeks=2, days=1, hours=2)
    moved = services.appointment_reschedule(appointment=third, by=world.desk, starts_at=new_start, scope="following")
    old_series.refresh_from_db()
    assert old_series.ended_at is not None
    assert "UNTIL=" in old_series.rrule and "COUNT" not in old_series.rrule
    # the old series' expansion now stops before the moved occurrence
    assert recurrence.expand(old_series.rrule, dtstart=old_series.dtstart, tz=NY) == [
        SLOT,
        SLOT + timedelta(weeks=1),
    ]
    new_series = moved.series
    assert new_series.pk != old_series.pk
    assert new_series.dtstart == new_start and new_series.rrule.endswith("COUNT=4")
    kept = list(Appointment.objects.filter(series=old_series).order_by("starts_at"))
    assert [r.starts_at for r in kept] == [SLOT, SLOT + timedelta(weeks=1)]
    following = list(Appointment.objects.filter(series=new_series).order_by("starts_at"))
    assert [r.starts_at for r in following] == [new_start + timedelta(weeks=n) for n in range(4)]
    assert [r.occurrence_start for r in following] == [r.starts_at for r in following]
    assert all(r.ical_sequence == 1 for r in following)
    assert recurrence.expand(new_series.rrule, dtstart=new_series.dtstart, tz=NY) == [r.starts_at for r in following]


def test_reschedule_following_conflict_moves_nothing(world):
    first = book(world, rrule="FREQ=WEEKLY;COUNT=4")
    blocker = book(world, starts_at=SLOT + timedelta(weeks=3, hours=2), patients=[world.patient2])
    second = Appointment.objects.get(series=first.series, occurrence_start=SLOT + timedelta(weeks=1))
    with pytest.raises(AppointmentConflict) as err:
        services.appointment_reschedule(
            appointment=second, by=world.desk, starts_at=SLOT + timedelta(weeks=1, hours=2), scope="following"
        )
    assert err.value.conflicting == blocker
    assert all(r.starts_at == r.occurrence_start for r in Appointment.objects.filter(series=first.series))
    assert AppointmentSeries.objects.count() == 1


def test_reschedule_all_moves_future_non_exception_occurrences(world):
    first = book(world, rrule="FREQ=WEEKLY;COUNT=4")
    second = Appointment.objects.get(series=first.series, occurrence_start=SLOT + timedelta(weeks=1))
    services.appointment_reschedule(
        appointment=second, by=world.desk, starts_at=SLOT + timedelta(weeks=1, hours=-3), scope="this"
    )
    services.appointment_reschedule(appointment=first, by=world.desk, starts_at=SLOT + timedelta(hours=1), scope="all")
    rows = _series_rows([first.series_id])
    assert [r.starts_at for r in rows] == [
        SLOT + timedelta(hours=1),
        SLOT + timedelta(weeks=1, hours=-3),  # the exception stays where it was put
        SLOT + timedelta(weeks=2, hours=1),
        SLOT + timedelta(weeks=3, hours=1),
    ]


def test_cancel_this_occurrence_keeps_the_rest(world):
    first = book(world, rrule="FREQ=WEEKLY;COUNT=3")
    services.appointment_cancel(appointment=first, by=world.desk, reason="Holiday", scope="this")
    rows = _series_rows([first.series_id])
    assert [r.status for r in rows] == ["cancelled", "scheduled", "scheduled"]
    assert rows[0].is_exception


def test_cancel_this_and_following_ends_the_series_and_keeps_rows(world):
    first = book(world, rrule="FREQ=WEEKLY;COUNT=5")
    third = Appointment.objects.get(series=first.series, occurrence_start=SLOT + timedelta(weeks=2))
    services.appointment_cancel(appointment=third, by=world.desk, reason="Treatment ended", scope="following")
    rows = _series_rows([first.series_id])
    assert len(rows) == 5  # never deleted
    assert [r.status for r in rows] == ["scheduled", "scheduled", "cancelled", "cancelled", "cancelled"]
    assert all(r.cancel_reason == "Treatment ended" for r in rows[2:])
    series = AppointmentSeries.objects.get(pk=first.series_id)
    assert series.ended_at is not None
    assert len(recurrence.expand(series.rrule, dtstart=series.dtstart, tz=NY)) == 2


def test_cancel_all_cancels_future_occurrences(world):
    first = book(world, rrule="FREQ=WEEKLY;COUNT=3")
    services.appointment_cancel(appointment=first, by=world.desk, reason="Moved away", scope="all")
    assert {r.status for r in _series_rows([first.series_id])} == {"cancelled"}
    assert AppointmentSeries.objects.get(pk=first.series_id).ended_at == NOW


def test_unknown_scope_is_refused(world):
    first = book(world, rrule="FREQ=WEEKLY;COUNT=3")
    with pytest.raises(DomainError, match="following"):
        services.appointment_cancel(appointment=first, by=world.desk, reason="x", scope="some")
