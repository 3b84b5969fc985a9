"""Portal booking rules (portal.services_booking): notice, horizon, bookable type and clinician, new
versus existing patients, booking switched off, the slot really open, no overlapping appointment;
cancel (late with the fee flag, or not) and reschedule; the telehealth join window."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone
from django_scopes import scopes_disabled

from portal import selectors_booking as sel
from portal import services_booking as services
from portal.access import portal_settings_for
from portal.models import PortalAppointmentEvent
from portal.tests.factories import PortalAccessFactory, PortalSettingsFactory
from practice.errors import DomainError
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import LocationFactory
from scheduling.models import Appointment, AppointmentType, Attendee, StatusChange
from scheduling.selectors import scheduling_settings
from scheduling.tests.factories import AppointmentTypeFactory, AvailabilityRuleFactory, appointment_with_patient

pytestmark = pytest.mark.django_db


class World:
    def __init__(self, practice, clinician, location, atype, access):
        self.practice, self.clinician, self.location, self.atype, self.access = (
            practice,
            clinician,
            location,
            atype,
            access,
        )

    @property
    def patient(self):
        return self.access.patient

    def slots(self, *, days_ahead: int = 3, clinician=None, atype=None):
        """Open slots `days_ahead` days from today (one page)."""
        with practice_scope(self.practice), timezone.override(self.practice.timezone):
            portal = portal_settings_for(self.practice)
            window = sel.booking_window(portal=portal, sched=scheduling_settings(self.practice))
            return sel.slots_for(
                clinician=clinician or self.clinician,
                appointment_type=atype or self.atype,
                window=window,
                start=timezone.localdate() + timedelta(days=days_ahead),
                days=1,
            )

    def book(self, slot=None, **kwargs):
        slot = slot or self.slots()[0]
        params = {
            "access": self.access,
            "appointment_type": self.atype,
            "clinician": self.clinician,
            "starts_at": slot.starts_at,
            "location": slot.location,
            **kwargs,
        }
        with practice_scope(self.practice), timezone.override(self.practice.timezone):
            return services.portal_appointment_book(**params)


def make_world(practice, make_member, **portal_fields) -> World:
    clinician = make_member(practice, Role.CLINICIAN)
    with scopes_disabled():
        location = LocationFactory(practice=practice, timezone="America/New_York")
        for weekday in range(7):
            AvailabilityRuleFactory(
                practice=practice,
                clinician=clinician,
                location=location,
                weekday=weekday,
                start_time=time(9, 0),
                end_time=time(17, 0),
                valid_from=date(2020, 1, 1),
            )
        atype = AppointmentTypeFactory(practice=practice, is_bookable_online=True, duration_minutes=45)
        access = PortalAccessFactory(practice=practice, patient__primary_clinician=clinician)
        PortalSettingsFactory(practice=practice, **{"new_patients_may_book": True, **portal_fields})
    return World(practice, clinician, location, atype, access)


@pytest.fixture
def world(practice_a, practice_b, make_member):
    return make_world(practice_a, make_member)


def _make_existing(world):
    """Give the patient a completed visit."""
    with scopes_disabled():
        past = appointment_with_patient(
            world.practice,
            clinician=world.clinician,
            patient=world.patient,
            starts_at=timezone.now() - timedelta(days=30),
            ends_at=timezone.now() - timedelta(days=30) + timedelta(minutes=45),
            status=Appointment.Status.COMPLETED,
        )
        Attendee.objects.filter(appointment=past).update(status=Attendee.Status.ATTENDED)


def test_booking_creates_the_appointment_attendee_event_and_portal_history(world):
    appointment = world.book()
    with scopes_disabled():
        assert appointment.clinician == world.clinician
        assert appointment.location == world.location
        assert list(appointment.attendees.values_list("patient_id", flat=True)) == [world.patient.pk]
        event = PortalAppointmentEvent.objects.get(appointment=appointment)
        assert (event.action, event.user, event.patient) == ("booked", world.access.user, world.patient)
        change = StatusChange.objects.get(appointment=appointment)
        assert change.source == "portal"
        assert "by the patient in the portal" in change.reason


def test_start_inside_the_minimum_notice_is_refused(world):
    with scopes_disabled():
        settings = scheduling_settings(world.practice)
        settings.minimum_notice_hours = 24 * 5
        settings.save()
    slot = world.slots(days_ahead=10)[0]
    with pytest.raises(DomainError, match="notice"):
        world.book(slot, starts_at=timezone.now() + timedelta(days=3))
    assert world.slots(days_ahead=3) == []  # nothing offered inside the notice either
    world.book(slot)


def test_start_past_the_horizon_is_refused(practice_a, make_member):
    world = make_world(practice_a, make_member, booking_horizon_days=5)
    far = world.slots(days_ahead=8)
    assert far == []
    with scopes_disabled():
        rule_day_slot = world.slots(days_ahead=3)[0]
    with pytest.raises(DomainError, match="5 days ahead"):
        world.book(rule_day_slot, starts_at=rule_day_slot.starts_at + timedelta(days=7))


def test_type_not_bookable_online_is_refused(world):
    with scopes_disabled():
        AppointmentType.objects.filter(pk=world.atype.pk).update(is_bookable_online=False)
        world.atype.refresh_from_db()
    with pytest.raises(DomainError, match="cannot be booked online"):
        world.book(world.slots()[0])


def test_clinician_not_bookable_is_refused(world, make_member):
    other = make_member(world.practice, Role.CLINICIAN)
    slot = world.slots()[0]
    with scopes_disabled():
        portal_settings_for(world.practice).bookable_clinicians.set([other])
    with pytest.raises(DomainError, match="clinician cannot be booked"):
        world.book(slot)


def test_configured_clinician_outside_the_caseload_is_booked_through_a_scheduler(world, make_member):
    other = make_member(world.practice, Role.CLINICIAN)
    desk = make_member(world.practice, Role.FRONT_DESK)
    with scopes_disabled():
        AvailabilityRuleFactory(
            practice=world.practice,
            clinician=other,
            location=world.location,
            weekday=(timezone.localdate() + timedelta(days=3)).weekday(),
            valid_from=date(2020, 1, 1),
        )
        portal_settings_for(world.practice).bookable_clinicians.set([other])
    slot = world.slots(clinician=other)[0]
    appointment = world.book(slot, clinician=other)
    with scopes_disabled():
        assert appointment.clinician == other
        assert appointment.created_by == desk


def test_new_patients_may_not_book_unless_the_practice_allows_it(practice_a, make_member):
    world = make_world(practice_a, make_member, new_patients_may_book=False)
    slot = world.slots()[0]
    with pytest.raises(DomainError, match="cannot be booked online"):
        world.book(slot)
    _make_existing(world)
    world.book(slot)


def test_new_patient_only_types_are_for_new_patients(world):
    with scopes_disabled():
        AppointmentType.objects.filter(pk=world.atype.pk).update(new_patient_only=True)
        world.atype.refresh_from_db()
    slot = world.slots()[0]
    _make_existing(world)
    with pytest.raises(DomainError, match="cannot be booked online"):
        world.book(slot)


def test_new_patient_may_book_a_new_patient_only_type(world):
    with scopes_disabled():
        AppointmentType.objects.filter(pk=world.atype.pk).update(new_patient_only=True)
        world.atype.refresh_from_db()
    assert world.book().status == "scheduled"


def test_booking_switched_off_is_refused(world):
    slot = world.slots()[0]
    with scopes_disabled():
        portal = portal_settings_for(world.practice)
        portal.online_booking_enabled = False
        portal.save()
    with pytest.raises(DomainError, match="turned off"):
        world.book(slot)


def test_a_taken_slot_gives_the_friendly_error(world):
    slot = world.slots()[0]
    with scopes_disabled():
        appointment_with_patient(
            world.practice, clinician=world.clinician, starts_at=slot.starts_at, ends_at=slot.ends_at
        )
    with pytest.raises(DomainError, match=r"That time was just taken\. Pick another\."):
        world.book(slot)


def test_a_time_that_is_not_a_slot_is_refused(world):
    slot = world.slots()[0]
    with pytest.raises(DomainError, match="just taken"):
        world.book(slot, starts_at=slot.starts_at + timedelta(minutes=7))


def test_the_patient_cannot_overlap_their_own_appointment(world, make_member):
    slot = world.slots()[0]
    with scopes_disabled():
        elsewhere = make_member(world.practice, Role.CLINICIAN)
        appointment_with_patient(
            world.practice,
            clinician=elsewhere,
            patient=world.patient,
            starts_at=slot.starts_at - timedelta(minutes=15),
            ends_at=slot.ends_at,
        )
    with pytest.raises(DomainError, match="already have an appointment"):
        world.book(slot)


def _cancel(world, appointment):
    with practice_scope(world.practice):
        return services.portal_appointment_cancel(access=world.access, appointment=appointment, reason="Sick")


def test_late_cancel_is_flagged_with_the_fee(world):
    with scopes_disabled():
        settings = scheduling_settings(world.practice)
        settings.late_cancel_hours, settings.late_cancel_fee_cents = 24 * 5, 7500
        settings.save()
    appointment = world.book()
    assert _cancel(world, appointment) is True
    with scopes_disabled():
        appointment.refresh_from_db()
        assert appointment.status == "late_cancelled"
        assert appointment.fee_due is True
        event = PortalAppointmentEvent.objects.get(appointment=appointment, action="cancelled")
        assert event.is_late_cancel is True
        assert StatusChange.objects.filter(
            appointment=appointment, source="portal", to_status="late_cancelled"
        ).exists()
    with practice_scope(world.practice):
        assert sel.late_cancel_fee(world.practice) == Decimal("75.00")


def test_cancel_outside_the_late_window_is_not_flagged(world):
    with scopes_disabled():
        settings = scheduling_settings(world.practice)
        settings.late_cancel_hours, settings.late_cancel_fee_cents = 24, 7500
        settings.save()
    appointment = world.book()  # three days ahead
    assert _cancel(world, appointment) is False
    with scopes_disabled():
        appointment.refresh_from_db()
        assert (appointment.status, appointment.fee_due) == ("cancelled", False)


def test_cancelled_appointment_cannot_be_cancelled_again(world):
    appointment = world.book()
    _cancel(world, appointment)
    with pytest.raises(DomainError, match="no longer be cancelled"):
        _cancel(world, appointment)


def test_group_cancel_frees_only_the_patients_place(world):
    with scopes_disabled():
        group_type = AppointmentTypeFactory(practice=world.practice, is_group=True, max_attendees=6)
        appointment = appointment_with_patient(
            world.practice, clinician=world.clinician, patient=world.patient, appointment_type=group_type
        )
        from scheduling.tests.factories import AttendeeFactory

        AttendeeFactory(appointment=appointment)
    _cancel(world, appointment)
    with scopes_disabled():
        appointment.refresh_from_db()
        assert appointment.status == "scheduled"
        mine = Attendee.objects.get(appointment=appointment, patient=world.patient)
        assert mine.status in ("cancelled", "late_cancelled")
        assert Attendee.objects.filter(appointment=appointment, status="expected").count() == 1


def test_reschedule_moves_to_another_open_slot_and_records_it(world):
    first, later = world.slots()[0], world.slots(days_ahead=5)[2]
    appointment = world.book(first)
    with practice_scope(world.practice), timezone.override(world.practice.timezone):
        moved = services.portal_appointment_reschedule(
            access=world.access, appointment=appointment, starts_at=later.starts_at, location=later.location
        )
    with scopes_disabled():
        assert (moved.starts_at, moved.ends_at) == (later.starts_at, later.ends_at)
        assert Attendee.objects.get(appointment=moved).starts_at == later.starts_at
        assert PortalAppointmentEvent.objects.filter(appointment=moved, action="rescheduled").exists()
        assert StatusChange.objects.filter(appointment=moved, reason__startswith="Rescheduled by the patient").exists()


def test_reschedule_is_refused_inside_the_late_cancel_window(world):
    with scopes_disabled():
        settings = scheduling_settings(world.practice)
        settings.late_cancel_hours = 24 * 5
        settings.save()
    appointment = world.book()
    later = world.slots(days_ahead=6)[0]
    with pytest.raises(DomainError, match="cannot be moved online"), practice_scope(world.practice):
        services.portal_appointment_reschedule(access=world.access, appointment=appointment, starts_at=later.starts_at)


def test_another_patients_appointment_cannot_be_cancelled(world, practice_a):
    with scopes_disabled():
        other = PortalAccessFactory(practice=practice_a)
        theirs = appointment_with_patient(practice_a, clinician=world.clinician, patient=other.patient)
    with pytest.raises(DomainError, match="Not found"):
        _cancel(world, theirs)
    with scopes_disabled():
        theirs.refresh_from_db()
        assert theirs.status == "scheduled"


def test_join_link_shows_from_the_join_window_until_the_end(world):
    with scopes_disabled():
        appointment = appointment_with_patient(
            world.practice,
            clinician=world.clinician,
            patient=world.patient,
            is_telehealth=True,
            telehealth_url="https://video.example/room/1",
        )
        portal = portal_settings_for(world.practice)
    start, end = appointment.starts_at, appointment.ends_at
    assert portal.telehealth_join_minutes == 15
    assert not sel.join_link_visible(appointment, portal=portal, now=start - timedelta(minutes=16))
    assert sel.join_link_visible(appointment, portal=portal, now=start - timedelta(minutes=15))
    assert sel.join_link_visible(appointment, portal=portal, now=end - timedelta(seconds=1))
    assert not sel.join_link_visible(appointment, portal=portal, now=end)
    appointment.status = "cancelled"
    assert not sel.join_link_visible(appointment, portal=portal, now=start)


def test_slots_respect_notice_across_time(world):
    """At a fixed instant, nothing is offered before now + notice."""
    with time_machine.travel(timezone.now().replace(hour=12, minute=0, second=0, microsecond=0), tick=False):
        slots = world.slots(days_ahead=1)
        with scopes_disabled():
            notice = timedelta(hours=scheduling_settings(world.practice.pk).minimum_notice_hours)
        assert slots and all(s.starts_at >= timezone.now() + notice for s in slots)
