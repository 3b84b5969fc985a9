"""No double booking under concurrency (PostgreSQL): the exclusion constraints of migration 0002
let exactly one of many simultaneous bookings of one slot through, and refuse overlapping rows
written past the service layer too."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django_scopes import scopes_disabled

from clinical.tests.factories import PatientFactory
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import LocationFactory
from scheduling import services
from scheduling.models import Appointment, Attendee
from scheduling.services import AppointmentConflict
from scheduling.tests.factories import AppointmentTypeFactory, RoomFactory, appointment_with_patient

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="exclusion constraints (btree_gist) exist on PostgreSQL only"
)

THREADS = 24
SLOT = datetime(2030, 3, 6, 15, 0, tzinfo=UTC)
MAY = datetime(2030, 5, 6, 15, 0, tzinfo=UTC)  # no DST change in the days after


@pytest.mark.django_db(transaction=True)
def test_simultaneous_bookings_of_one_slot_let_exactly_one_through(practice_a, practice_b, make_member):
    desk = make_member(practice_a, Role.FRONT_DESK)
    clinician = make_member(practice_a, Role.CLINICIAN)
    with scopes_disabled():
        location = LocationFactory(practice=practice_a)
        appointment_type = AppointmentTypeFactory(practice=practice_a, duration_minutes=50)
        # a different patient per thread: only the clinician's calendar collides
        patients = [PatientFactory(practice=practice_a, primary_clinician=clinician) for _ in range(THREADS)]

    barrier = threading.Barrier(THREADS)
    results: list[object] = [None] * THREADS

    def attempt(index: int) -> None:
        try:
            with practice_scope(practice_a.pk):
                barrier.wait(timeout=30)
                results[index] = services.appointment_book(
                    by=desk,
                    clinician=clinician,
                    appointment_type=appointment_type,
                    # staggered starts: every one overlaps every other
                    starts_at=SLOT + timedelta(minutes=index % 5),
                    patients=[patients[index]],
                    location=location,
                )
        except AppointmentConflict as exc:
            results[index] = exc
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    booked = [r for r in results if isinstance(r, Appointment)]
    conflicts = [r for r in results if isinstance(r, AppointmentConflict)]
    others = [r for r in results if not isinstance(r, Appointment | AppointmentConflict)]
    assert others == []
    assert len(booked) == 1
    assert len(conflicts) == THREADS - 1
    assert all(c.code == "conflict" for c in conflicts)
    # those that lost the race in the database still name the winner
    assert {c.conflicting.pk for c in conflicts if c.conflicting is not None} <= {booked[0].pk}
    with practice_scope(practice_a):
        assert Appointment.objects.filter(status__in=Appointment.ACTIVE_STATUSES).count() == 1
        assert Attendee.objects.count() == 1


@pytest.mark.django_db
def test_raw_inserts_of_overlapping_active_rows_are_refused(practice_a, make_member):
    clinician = make_member(practice_a, Role.CLINICIAN)
    other_clinician = make_member(practice_a, Role.CLINICIAN)
    with scopes_disabled():
        room = RoomFactory(practice=practice_a)
        first = appointment_with_patient(
            practice_a, clinician=clinician, starts_at=SLOT, ends_at=SLOT + timedelta(minutes=50), room=room
        )
        patient = first.attendees.get().patient
        overlapping = {"starts_at": SLOT + timedelta(minutes=30), "ends_at": SLOT + timedelta(minutes=80)}
        base = {"practice": practice_a, "appointment_type": first.appointment_type, "created_by": clinician}

        with pytest.raises(IntegrityError, match="appt_no_clinician_overlap"), transaction.atomic():
            Appointment.all_objects.create(clinician=clinician, **overlapping, **base)
        with pytest.raises(IntegrityError, match="appt_no_room_overlap"), transaction.atomic():
            Appointment.all_objects.create(clinician=other_clinician, room=room, **overlapping, **base)
        elsewhere = Appointment.all_objects.create(clinician=other_clinician, **overlapping, **base)
        with pytest.raises(IntegrityError, match="attendee_no_patient_overlap"), transaction.atomic():
            Attendee.all_objects.create(practice=practice_a, appointment=elsewhere, patient=patient, **overlapping)

        # back to back is fine; a cancelled row holds nothing
        Appointment.all_objects.create(
            clinician=clinician, starts_at=SLOT + timedelta(minutes=50), ends_at=SLOT + timedelta(minutes=100), **base
        )
        Appointment.all_objects.create(clinician=clinician, status="cancelled", **overlapping, **base)


@pytest.mark.django_db
def test_constraint_violation_past_the_service_check_becomes_a_conflict(practice_a, make_member, monkeypatch):
    """When the service's own check misses (a race), the database refuses and the caller still
    gets AppointmentConflict naming the appointment in the way, for booking and rescheduling."""
    desk = make_member(practice_a, Role.FRONT_DESK)
    clinician = make_member(practice_a, Role.CLINICIAN)
    with scopes_disabled():
        appointment_type = AppointmentTypeFactory(practice=practice_a, duration_minutes=50)
        patients = [PatientFactory(practice=practice_a, primary_clinician=clinician) for _ in range(3)]
    with practice_scope(practice_a):
        first = services.appointment_book(
            by=desk, clinician=clinician, appointment_type=appointment_type, starts_at=SLOT, patients=[patients[0]]
        )
        later = services.appointment_book(
            by=desk,
            clinician=clinician,
            appointment_type=appointment_type,
            starts_at=SLOT + timedelta(hours=1),
            patients=[patients[1]],
        )
        real = services._find_conflicts
        calls = {"n": 0}

        def blind_first_time(**kwargs):
            calls["n"] += 1
            return {} if calls["n"] == 1 else real(**kwargs)

        monkeypatch.setattr(services, "_find_conflicts", blind_first_time)
        with pytest.raises(AppointmentConflict) as err:
            services.appointment_book(
                by=desk,
                clinician=clinician,
                appointment_type=appointment_type,
                starts_at=SLOT + timedelta(minutes=10),
                patients=[patients[2]],
            )
        assert err.value.conflicting == first
        calls["n"] = 0
        with pytest.raises(AppointmentConflict) as err:
            # overlaps `first` and its own old time: only `first` is named
            services.appointment_reschedule(appointment=later, by=desk, starts_at=SLOT + timedelta(minutes=30))
        assert err.value.conflicting == first
        later.refresh_from_db()
        assert later.starts_at == SLOT + timedelta(hours=1)
        assert Appointment.objects.count() == 2


@pytest.mark.django_db
def test_moving_a_series_onto_its_own_next_slots_passes_the_constraints(practice_a, make_member):
    """Shifting every occurrence by one interval lands each on a sibling's old slot; the rows
    move in the direction of travel so PostgreSQL never sees two at once."""
    desk = make_member(practice_a, Role.FRONT_DESK)
    clinician = make_member(practice_a, Role.CLINICIAN)
    with scopes_disabled():
        appointment_type = AppointmentTypeFactory(practice=practice_a, duration_minutes=50)
        patient = PatientFactory(practice=practice_a, primary_clinician=clinician)
    with practice_scope(practice_a):
        first = services.appointment_book(
            by=desk,
            clinician=clinician,
            appointment_type=appointment_type,
            starts_at=MAY,
            patients=[patient],
            rrule="FREQ=DAILY;COUNT=4",
        )
        services.appointment_reschedule(
            appointment=first, by=desk, starts_at=MAY + timedelta(days=1, minutes=10), scope="following"
        )
        starts = list(Appointment.objects.order_by("starts_at").values_list("starts_at", flat=True))
        assert starts == [MAY + timedelta(days=n, minutes=10) for n in range(1, 5)]
        services.appointment_reschedule(
            appointment=Appointment.objects.order_by("starts_at").last(),
            by=desk,
            starts_at=MAY + timedelta(days=4),
            scope="this",
        )
        back = Appointment.objects.order_by("starts_at").first()
        services.appointment_reschedule(appointment=back, by=desk, starts_at=MAY, scope="all")
        starts = list(Appointment.objects.order_by("starts_at").values_list("starts_at", flat=True))
        assert starts == [MAY, MAY + timedelta(days=1), MAY + timedelta(days=2), MAY + timedelta(days=4)]
