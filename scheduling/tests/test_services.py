"""Scheduling services: booking rules, overlap, the status flow, late cancel, group attendance,
availability rules. Recurrence edits are in test_recurrence.py, DST in test_dst.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django_scopes import scopes_disabled

from clinical.tests.factories import PatientFactory
from practice.errors import DomainError
from practice.models import Location, Membership, Practice
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import LocationFactory
from scheduling import services
from scheduling.models import Appointment, AppointmentType, Attendee, AvailabilityRule, StatusChange
from scheduling.services import AppointmentConflict
from scheduling.tests.factories import AppointmentTypeFactory, RoomFactory, SchedulingSettingsFactory

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # a Monday
SLOT = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)  # Wednesday, 11:00 New York


@dataclass
class World:
    practice: Practice
    other: Practice
    desk: Membership
    clinician: Membership
    clinician2: Membership
    location: Location
    type: AppointmentType
    group_type: AppointmentType
    patient: object
    patient2: object
    patient3: object
    other_patient: object


@pytest.fixture
def world(practice_a, practice_b, make_member):
    desk = make_member(practice_a, Role.FRONT_DESK)
    clinician = make_member(practice_a, Role.CLINICIAN)
    clinician2 = make_member(practice_a, Role.CLINICIAN)
    with scopes_disabled():
        location = LocationFactory(practice=practice_a, timezone="America/New_York")
        w = World(
            practice=practice_a,
            other=practice_b,
            desk=desk,
            clinician=clinician,
            clinician2=clinician2,
            location=location,
            type=AppointmentTypeFactory(practice=practice_a, duration_minutes=45),
            group_type=AppointmentTypeFactory(practice=practice_a, is_group=True, max_attendees=3, duration_minutes=90),
            patient=PatientFactory(practice=practice_a, primary_clinician=clinician),
            patient2=PatientFactory(practice=practice_a, primary_clinician=clinician),
            patient3=PatientFactory(practice=practice_a, primary_clinician=clinician),
            other_patient=PatientFactory(practice=practice_b),
        )
    with time_machine.travel(NOW, tick=False), practice_scope(practice_a):
        yield w


def book(w: World, *, starts_at=SLOT, patients=None, clinician=None, **kw) -> Appointment:
    return services.appointment_book(
        by=w.desk,
        clinician=clinician or w.clinician,
        appointment_type=kw.pop("appointment_type", w.type),
        starts_at=starts_at,
        patients=patients or [w.patient],
        location=kw.pop("location", w.location),
        **kw,
    )


def test_booking_creates_appointment_attendee_and_history(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        appt = book(world)
    assert appt.ends_at == SLOT + timedelta(minutes=45)
    assert appt.status == "scheduled"
    attendee = appt.attendees.get()
    assert (attendee.patient_id, attendee.starts_at, attendee.ends_at) == (world.patient.pk, SLOT, appt.ends_at)
    change = StatusChange.objects.get(appointment=appt)
    assert (change.from_status, change.to_status, change.changed_by) == ("", "scheduled", world.desk)
    assert len(callbacks) == 1


def test_clinician_overlap_is_a_conflict_naming_the_other_appointment(world):
    first = book(world)
    with pytest.raises(AppointmentConflict) as err:
        book(world, starts_at=SLOT + timedelta(minutes=30), patients=[world.patient2])
    assert err.value.conflicting == first
    assert err.value.code == "conflict"
    assert "the clinician's appointment on Wed 10 Jun 2026 11:00–11:45" in err.value.message
    assert Appointment.objects.count() == 1


def test_back_to_back_appointments_do_not_conflict(world):
    book(world)
    book(world, starts_at=SLOT + timedelta(minutes=45), patients=[world.patient2])
    book(world, starts_at=SLOT - timedelta(minutes=45), patients=[world.patient3])
    assert Appointment.objects.count() == 3


def test_patient_cannot_be_in_two_places(world):
    book(world)
    with pytest.raises(AppointmentConflict, match="the patient's appointment"):
        book(world, clinician=world.clinician2)


def test_room_cannot_be_double_booked(world):
    with scopes_disabled():
        room = RoomFactory(practice=world.practice, location=world.location)
    book(world, room=room)
    with pytest.raises(AppointmentConflict, match="the room's appointment"):
        book(world, clinician=world.clinician2, patients=[world.patient2], room=room)


def test_cancelled_appointment_frees_the_slot(world):
    first = book(world)
    services.appointment_cancel(appointment=first, by=world.desk, reason="Sick")
    again = book(world, patients=[world.patient2])
    assert again.pk != first.pk


def test_other_practices_patient_is_refused(world):
    with pytest.raises(DomainError):
        book(world, patients=[world.other_patient])


def test_inactive_patient_is_refused(world):
    world.patient.status = "discharged"
    world.patient.save(update_fields=["status"])
    with pytest.raises(DomainError, match="active or waitlisted"):
        book(world)


def test_individual_type_takes_exactly_one_patient(world):
    with pytest.raises(DomainError, match="exactly one"):
        book(world, patients=[world.patient, world.patient2])


def test_group_takes_up_to_max_attendees(world):
    appt = book(world, appointment_type=world.group_type, patients=[world.patient, world.patient2, world.patient3])
    assert appt.attendees.count() == 3
    with scopes_disabled():
        fourth = PatientFactory(practice=world.practice)
    with pytest.raises(DomainError, match="at most 3"):
        book(
            world,
            appointment_type=world.group_type,
            starts_at=SLOT + timedelta(days=1),
            patients=[world.patient, world.patient2, world.patient3, fourth],
        )


def test_modality_must_match(world):
    world.type.modality = AppointmentType.Modality.TELEHEALTH
    world.type.save()
    with pytest.raises(DomainError, match="telehealth only"):
        book(world)
    appt = book(world, is_telehealth=True, telehealth_url="https://meet.example.test/x")
    assert appt.is_telehealth


def test_billers_cannot_book(world, make_member):
    biller = make_member(world.practice, Role.BILLER)
    with pytest.raises(DomainError) as err:
        services.appointment_book(
            by=biller, clinician=world.clinician, appointment_type=world.type, starts_at=SLOT, patients=[world.patient]
        )
    assert err.value.code == "forbidden"


def test_status_flow_records_every_change(world):
    appt = book(world)
    services.appointment_set_status(appointment=appt, by=world.desk, status="confirmed", source="sms")
    services.appointment_check_in(appointment=appt, by=world.desk)
    services.appointment_set_status(appointment=appt, by=world.clinician, status="completed")
    appt.refresh_from_db()
    assert appt.status == "completed"
    changes = list(StatusChange.objects.filter(appointment=appt, attendee=None).values_list("to_status", flat=True))
    assert changes == ["scheduled", "confirmed", "arrived", "completed"]
    attendee = appt.attendees.get()
    assert attendee.status == "attended" and attendee.checked_in_at == NOW
    assert appt.ical_sequence == 3


@pytest.mark.parametrize(
    ("start", "target"),
    [("completed", "scheduled"), ("cancelled", "confirmed"), ("scheduled", "completed"), ("no_show", "arrived")],
)
def test_invalid_transitions_are_refused(world, start, target):
    appt = book(world)
    Appointment.objects.filter(pk=appt.pk).update(status=start)
    appt.refresh_from_db()
    with pytest.raises(DomainError) as err:
        services.appointment_set_status(appointment=appt, by=world.desk, status=target)
    assert err.value.code == "invalid_transition"


def test_cancel_outside_the_window_is_on_time(world):
    SchedulingSettingsFactory(practice=world.practice, late_cancel_hours=24, late_cancel_fee_cents=5000)
    appt = book(world)
    appt = services.appointment_cancel(appointment=appt, by=world.desk, reason="Holiday")
    assert (appt.status, appt.fee_due, appt.cancel_reason) == ("cancelled", False, "Holiday")
    assert appt.attendees.get().status == "cancelled"


def test_cancel_inside_the_window_is_late_with_fee(world):
    SchedulingSettingsFactory(practice=world.practice, late_cancel_hours=24, late_cancel_fee_cents=5000)
    appt = book(world, starts_at=NOW + timedelta(hours=20))
    appt = services.appointment_cancel(appointment=appt, by=world.desk, reason="Car broke down")
    assert (appt.status, appt.fee_due) == ("late_cancelled", True)
    assert appt.attendees.get().status == "late_cancelled"


def test_late_cancel_without_fee_configured_has_no_fee(world):
    appt = book(world, starts_at=NOW + timedelta(hours=2))
    appt = services.appointment_cancel(appointment=appt, by=world.desk, reason="x")
    assert (appt.status, appt.fee_due) == ("late_cancelled", False)


def test_no_show_sets_fee_when_configured(world):
    SchedulingSettingsFactory(practice=world.practice, no_show_fee_cents=7500)
    appt = book(world)
    appt = services.appointment_set_status(appointment=appt, by=world.desk, status="no_show")
    assert (appt.status, appt.fee_due) == ("no_show", True)
    assert appt.attendees.get().status == "no_show"


def test_cancel_queues_waitlist_offer_and_reminder_sync(world, django_capture_on_commit_callbacks, monkeypatch):
    calls = []
    import notifications
    import scheduling

    class FakeTask:
        @staticmethod
        def delay(**kw):
            calls.append(("waitlist", kw))

    fake_tasks = type("M", (), {"waitlist_offer_freed_slot_task": FakeTask})
    fake_notify = type(
        "M", (), {"reminders_sync_for_appointment": staticmethod(lambda **kw: calls.append(("sync", kw)))}
    )
    monkeypatch.setitem(__import__("sys").modules, "scheduling.tasks", fake_tasks)
    monkeypatch.setitem(__import__("sys").modules, "notifications.services", fake_notify)
    monkeypatch.setattr(scheduling, "tasks", fake_tasks, raising=False)
    monkeypatch.setattr(notifications, "services", fake_notify, raising=False)
    appt = book(world)
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(appointment=appt, by=world.desk, reason="x")
    assert ("sync", {"appointment_id": appt.pk}) in calls
    assert ("waitlist", {"practice_id": world.practice.pk, "appointment_id": appt.pk}) in calls


def test_reschedule_this_moves_times_and_bumps_sequence(world):
    appt = book(world)
    new = SLOT + timedelta(days=1, hours=1)
    appt = services.appointment_reschedule(appointment=appt, by=world.desk, starts_at=new)
    assert (appt.starts_at, appt.ends_at, appt.ical_sequence) == (new, new + timedelta(minutes=45), 1)
    assert appt.attendees.get().starts_at == new


def test_reschedule_onto_a_busy_slot_is_a_conflict(world):
    appt = book(world)
    other = book(world, starts_at=SLOT + timedelta(hours=2), patients=[world.patient2])
    with pytest.raises(AppointmentConflict) as err:
        services.appointment_reschedule(appointment=appt, by=world.desk, starts_at=SLOT + timedelta(hours=2))
    assert err.value.conflicting == other


def test_group_attendee_cancels_alone(world):
    appt = book(world, appointment_type=world.group_type, patients=[world.patient, world.patient2])
    one = appt.attendees.get(patient=world.patient)
    services.attendee_set_status(attendee=one, by=world.desk, status="cancelled")
    statuses = dict(Attendee.objects.filter(appointment=appt).values_list("patient_id", "status"))
    assert statuses == {world.patient.pk: "cancelled", world.patient2.pk: "expected"}
    appt.refresh_from_db()
    assert appt.status == "scheduled"
    # the freed patient may be booked elsewhere at that time
    book(world, clinician=world.clinician2)


def test_group_check_in_of_one_attendee(world):
    appt = book(world, appointment_type=world.group_type, patients=[world.patient, world.patient2])
    one = appt.attendees.get(patient=world.patient)
    services.appointment_check_in(appointment=appt, by=world.desk, attendee=one)
    appt.refresh_from_db()
    statuses = dict(Attendee.objects.filter(appointment=appt).values_list("patient_id", "status"))
    assert appt.status == "arrived"
    assert statuses == {world.patient.pk: "arrived", world.patient2.pk: "expected"}


def test_availability_rules_may_not_overlap(world):
    rule = services.availability_rule_create(
        by=world.desk,
        clinician=world.clinician,
        location=world.location,
        weekday=0,
        start_time=time(9),
        end_time=time(12),
    )
    with pytest.raises(DomainError, match="overlap"):
        services.availability_rule_create(
            by=world.desk,
            clinician=world.clinician,
            location=world.location,
            weekday=0,
            start_time=time(11),
            end_time=time(13),
        )
    services.availability_rule_create(
        by=world.desk,
        clinician=world.clinician,
        location=world.location,
        weekday=0,
        start_time=time(12),
        end_time=time(17),
    )
    services.availability_rule_create(
        by=world.desk,
        clinician=world.clinician2,
        location=world.location,
        weekday=0,
        start_time=time(9),
        end_time=time(17),
    )
    services.availability_rule_update(rule=rule, by=world.desk, end_time=time(11))
    with pytest.raises(DomainError, match="after the start"):
        services.availability_rule_update(rule=rule, by=world.desk, end_time=time(8))
    services.availability_rule_delete(rule=rule, by=world.desk)
    assert AvailabilityRule.objects.filter(clinician=world.clinician).count() == 1


def test_availability_exception_needs_location_for_extra_hours(world):
    with pytest.raises(DomainError, match="location"):
        services.availability_exception_create(
            by=world.desk,
            clinician=world.clinician,
            kind="extra_hours",
            starts_at=SLOT,
            ends_at=SLOT + timedelta(hours=2),
        )
    exc = services.availability_exception_create(
        by=world.desk, clinician=world.clinician, kind="time_off", starts_at=SLOT, ends_at=SLOT + timedelta(hours=2)
    )
    services.availability_exception_update(exception=exc, by=world.desk, reason="Training")
    services.availability_exception_delete(exception=exc, by=world.desk)


def test_another_practices_clinician_is_not_found(world, make_member):
    theirs = make_member(world.other, Role.CLINICIAN)
    with pytest.raises(DomainError) as err:
        book(world, clinician=theirs)
    assert err.value.code == "not_found"
    with pytest.raises(DomainError) as err:
        services.availability_rule_create(
            by=world.desk, clinician=theirs, location=world.location, weekday=0, start_time=time(9), end_time=time(10)
        )
    assert err.value.code == "not_found"
