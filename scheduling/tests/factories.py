"""Factories for scheduling. Create inside practice_scope(...) or scopes_disabled()."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta

import factory
from django.utils import timezone

from clinical.tests.factories import PatientFactory, ScopedFactory
from practice.permissions import Role
from practice.tests.factories import LocationFactory, MembershipFactory, PracticeFactory
from scheduling import models as m


def next_weekday_at(hour: int, *, days_ahead: int = 7) -> datetime:
    """A UTC datetime `days_ahead` days from now at `hour`:00 UTC (test-friendly, no DST edge)."""
    day = (timezone.now() + timedelta(days=days_ahead)).date()
    return datetime.combine(day, time(hour, 0), tzinfo=UTC)


class RoomFactory(ScopedFactory):
    class Meta:
        model = m.Room

    practice = factory.SubFactory(PracticeFactory)
    location = factory.LazyAttribute(lambda o: LocationFactory(practice=o.practice))
    name = factory.Sequence(lambda n: f"Room {n + 1}")


class AppointmentTypeFactory(ScopedFactory):
    class Meta:
        model = m.AppointmentType

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Psychotherapy 45 min #{n}")
    duration_minutes = 45
    default_service_code = "90834"


class AvailabilityRuleFactory(ScopedFactory):
    class Meta:
        model = m.AvailabilityRule

    practice = factory.SubFactory(PracticeFactory)
    clinician = factory.LazyAttribute(lambda o: MembershipFactory(practice=o.practice, role=Role.CLINICIAN))
    location = factory.LazyAttribute(lambda o: LocationFactory(practice=o.practice))
    weekday = 0
    start_time = time(9, 0)
    end_time = time(17, 0)


class AvailabilityExceptionFactory(ScopedFactory):
    class Meta:
        model = m.AvailabilityException

    practice = factory.SubFactory(PracticeFactory)
    clinician = factory.LazyAttribute(lambda o: MembershipFactory(practice=o.practice, role=Role.CLINICIAN))
    kind = m.AvailabilityException.Kind.TIME_OFF
    starts_at = factory.LazyFunction(lambda: next_weekday_at(8, days_ahead=14))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=8))
    reason = "Conference"


class AppointmentSeriesFactory(ScopedFactory):
    class Meta:
        model = m.AppointmentSeries

    practice = factory.SubFactory(PracticeFactory)
    rrule = "FREQ=WEEKLY;COUNT=6"
    dtstart = factory.LazyFunction(lambda: next_weekday_at(15))
    timezone = "America/New_York"
    created_by = factory.LazyAttribute(lambda o: MembershipFactory(practice=o.practice, role=Role.FRONT_DESK))


class AppointmentFactory(ScopedFactory):
    class Meta:
        model = m.Appointment

    practice = factory.SubFactory(PracticeFactory)
    clinician = factory.LazyAttribute(lambda o: MembershipFactory(practice=o.practice, role=Role.CLINICIAN))
    appointment_type = factory.LazyAttribute(lambda o: AppointmentTypeFactory(practice=o.practice))
    starts_at = factory.LazyFunction(lambda: next_weekday_at(15))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(minutes=45))
    created_by = factory.LazyAttribute(lambda o: o.clinician)


class AttendeeFactory(ScopedFactory):
    class Meta:
        model = m.Attendee

    appointment = factory.SubFactory(AppointmentFactory)
    practice = factory.LazyAttribute(lambda o: o.appointment.practice)
    patient = factory.LazyAttribute(
        lambda o: PatientFactory(practice=o.practice, primary_clinician=o.appointment.clinician)
    )
    starts_at = factory.LazyAttribute(lambda o: o.appointment.starts_at)
    ends_at = factory.LazyAttribute(lambda o: o.appointment.ends_at)


def appointment_with_patient(practice, *, clinician=None, patient=None, **kwargs) -> m.Appointment:
    """An individual appointment with its one attendee (the usual shape)."""
    appointment = AppointmentFactory(practice=practice, **({"clinician": clinician} if clinician else {}), **kwargs)
    AttendeeFactory(appointment=appointment, **({"patient": patient} if patient else {}))
    return appointment


class StatusChangeFactory(ScopedFactory):
    class Meta:
        model = m.StatusChange

    appointment = factory.SubFactory(AppointmentFactory)
    practice = factory.LazyAttribute(lambda o: o.appointment.practice)
    from_status = "scheduled"
    to_status = "confirmed"


class SchedulingSettingsFactory(ScopedFactory):
    class Meta:
        model = m.SchedulingSettings
        django_get_or_create = ("practice",)

    practice = factory.SubFactory(PracticeFactory)


class WaitlistEntryFactory(ScopedFactory):
    class Meta:
        model = m.WaitlistEntry

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.LazyAttribute(lambda o: PatientFactory(practice=o.practice))
    appointment_type = factory.LazyAttribute(lambda o: AppointmentTypeFactory(practice=o.practice))
    added_by = factory.LazyAttribute(lambda o: MembershipFactory(practice=o.practice, role=Role.FRONT_DESK))


class WaitlistOfferFactory(ScopedFactory):
    class Meta:
        model = m.WaitlistOffer

    entry = factory.SubFactory(WaitlistEntryFactory)
    practice = factory.LazyAttribute(lambda o: o.entry.practice)
    freed_appointment = factory.LazyAttribute(lambda o: AppointmentFactory(practice=o.practice, status="cancelled"))
    clinician = factory.LazyAttribute(lambda o: o.freed_appointment.clinician)
    starts_at = factory.LazyAttribute(lambda o: o.freed_appointment.starts_at)
    ends_at = factory.LazyAttribute(lambda o: o.freed_appointment.ends_at)
    token_hash = factory.Sequence(lambda n: hashlib.sha256(f"offer-{n}".encode()).hexdigest())
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=2))


class CalendarFeedFactory(ScopedFactory):
    class Meta:
        model = m.CalendarFeed

    practice = factory.SubFactory(PracticeFactory)
    clinician = factory.LazyAttribute(lambda o: MembershipFactory(practice=o.practice, role=Role.CLINICIAN))
    token_hash = factory.Sequence(lambda n: hashlib.sha256(f"feed-{n}".encode()).hexdigest())
