"""Prior authorizations: usage, the selector B2 links charges with, and the booking warning."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Charge
from billing.selectors_setup import (
    appointment_authorization_warnings,
    authorization_for,
    authorization_usage,
    authorization_warning,
)
from billing.services_setup import authorization_save
from billing.tests import factories as bf
from practice.errors import DomainError
from practice.permissions import Role
from practice.scoping import practice_scope
from scheduling.tests import factories as sf

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(practice_a):
    with practice_scope(practice_a):
        payer = bf.PayerFactory(practice=practice_a, name="Acme Commercial", auth_required_cpts=["90837"])
        coverage = bf.CoverageFactory(practice=practice_a, payer=payer)
        auth = bf.PriorAuthorizationFactory(
            practice=practice_a, coverage=coverage, number="AUTH123", cpt_codes=["90837"], visits_authorized=3
        )
        yield {"practice": practice_a, "coverage": coverage, "patient": coverage.patient, "auth": auth}


def _charge(world, status=Charge.Status.UNBILLED, **kw):
    return bf.ChargeFactory(
        practice=world["practice"],
        coverage=world["coverage"],
        patient=world["patient"],
        prior_authorization=world["auth"],
        cpt="90837",
        status=status,
        **kw,
    )


def _book(world, days_ahead, cpt="90837", hour=9):
    appt_type = sf.AppointmentTypeFactory(practice=world["practice"], default_service_code=cpt, duration_minutes=60)
    starts_at = sf.next_weekday_at(hour, days_ahead=days_ahead)
    return sf.appointment_with_patient(
        world["practice"],
        patient=world["patient"],
        appointment_type=appt_type,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=60),
    )


def test_usage_counts_non_void_charges(world):
    with practice_scope(world["practice"]):
        _charge(world)
        _charge(world, status=Charge.Status.ON_CLAIM)
        _charge(world, status=Charge.Status.VOID)
        assert authorization_usage(world["auth"]) == (2, 1)


def test_authorization_for_picks_the_covering_one_with_visits_left(world):
    with practice_scope(world["practice"]):
        today = timezone.localdate()
        coverage, auth = world["coverage"], world["auth"]
        assert authorization_for(coverage=coverage, cpt="90837", on=today) == auth
        assert authorization_for(coverage=coverage, cpt="90834", on=today) is None  # not on this auth
        assert authorization_for(coverage=coverage, cpt="90837", on=auth.ends_on + timedelta(days=1)) is None
        for _ in range(3):
            _charge(world)
        later = bf.PriorAuthorizationFactory(
            practice=world["practice"],
            coverage=coverage,
            number="AUTH456",
            cpt_codes=[],
            visits_authorized=5,
            ends_on=auth.ends_on + timedelta(days=30),
        )
        assert authorization_for(coverage=coverage, cpt="90837", on=today) == later  # the first one is used up
        later.delete()
        assert authorization_for(coverage=coverage, cpt="90837", on=today) == auth  # exhausted, still the one


def test_no_warning_when_the_payer_does_not_require_it_or_visits_are_left(world):
    with practice_scope(world["practice"]):
        today = timezone.localdate()
        assert authorization_warning(patient=world["patient"], cpt="90834", on=today) is None
        assert authorization_warning(patient=world["patient"], cpt="90837", on=today) is None


def test_warning_counts_charged_and_booked_visits(world):
    with practice_scope(world["practice"]):
        _charge(world)
        _charge(world)
        first = _book(world, 3)
        later = _book(world, 10)
        # first booked visit takes the last authorized one; the later one has none left
        assert appointment_authorization_warnings(first) == []
        warnings = appointment_authorization_warnings(later)
        assert warnings == ["Authorization AUTH123 has 0 of 3 visits left (2 used, 1 booked before this one)."]
        day = timezone.localdate() + timedelta(days=20)
        assert "0 of 3 visits left" in authorization_warning(patient=world["patient"], cpt="90837", on=day)


def test_warning_when_expired_or_none_on_file(world):
    with practice_scope(world["practice"]):
        auth = world["auth"]
        after = auth.ends_on + timedelta(days=1)
        message = authorization_warning(patient=world["patient"], cpt="90837", on=after)
        assert message.startswith("Authorization AUTH123 expired on ")
        assert f"{auth.ends_on.day}, {auth.ends_on.year}" in message
        auth.delete()
        message = authorization_warning(patient=world["patient"], cpt="90837", on=timezone.localdate())
        assert message == "No prior authorization on file for 90837: Acme Commercial requires one."


def test_no_warning_without_active_coverage(world):
    with practice_scope(world["practice"]):
        coverage = world["coverage"]
        coverage.is_active = False
        coverage.save()
        assert authorization_warning(patient=world["patient"], cpt="90837", on=timezone.localdate()) is None


def test_authorization_save_validates(world):
    with practice_scope(world["practice"]):
        coverage = world["coverage"]
        today = timezone.localdate()
        data = {"number": "A1", "cpt_codes": ["90837"], "visits_authorized": 4, "starts_on": today, "ends_on": today}
        auth = authorization_save(coverage=coverage, data=data)
        assert auth.patient_id == coverage.patient_id and auth.cpt_codes == ["90837"]
        with pytest.raises(DomainError, match="ends before it starts"):
            authorization_save(coverage=coverage, data={**data, "ends_on": today - timedelta(days=1)})
        with pytest.raises(DomainError, match="99999"):
            authorization_save(coverage=coverage, data={**data, "cpt_codes": ["99999"]})
        _charge(world)
        _charge(world)
        with pytest.raises(DomainError, match="2 visits are already billed"):
            authorization_save(coverage=coverage, authorization=world["auth"], data={"visits_authorized": 1})


def test_appointment_page_shows_the_warning(world, make_member, login, client):
    practice = world["practice"]
    login(make_member(practice, Role.ADMIN, email="admin@riverside.test"))
    with practice_scope(practice):
        for _ in range(3):
            _charge(world)
        appointment = _book(world, 5)
    kwargs = {"practice_slug": practice.slug, "appointment_id": appointment.public_id}
    response = client.get(reverse("appointment_detail", kwargs=kwargs))
    assert response.status_code == 200
    assert "Authorization AUTH123 has 0 of 3 visits left" in response.content.decode()


def test_booking_warns_but_books(world, make_member, login, client):
    from practice.tests.factories import LocationFactory
    from scheduling.models import Appointment

    practice = world["practice"]
    desk = make_member(practice, Role.FRONT_DESK, email="desk@riverside.test")
    clinician = make_member(practice, Role.CLINICIAN, email="clin@riverside.test")
    login(desk)
    with practice_scope(practice):
        world["auth"].delete()
        location = LocationFactory(practice=practice)
        appt_type = sf.AppointmentTypeFactory(practice=practice, default_service_code="90837", duration_minutes=60)
    day = sf.next_weekday_at(15, days_ahead=9).date()
    data = {
        "patient": str(world["patient"].public_id),
        "appointment_type": appt_type.pk,
        "clinician": clinician.pk,
        "location": location.pk,
        "room": "",
        "day": day.isoformat(),
        "start_time": "11:00",
        "telehealth_url": "",
        "repeat": "none",
        "repeat_end": "count",
        "count": "6",
        "until": "",
        "admin_note": "",
    }
    response = client.post(reverse("appointment_new", kwargs={"practice_slug": practice.slug}), data, follow=True)
    assert response.status_code == 200
    with practice_scope(practice):
        assert Appointment.objects.filter(appointment_type=appt_type).count() == 1
    html = response.content.decode()
    assert "Appointment booked." in html
    assert "No prior authorization on file for 90837: Acme Commercial requires one." in html


def test_rescheduling_past_the_authorization_warns(world, make_member, login, client):
    practice = world["practice"]
    login(make_member(practice, Role.ADMIN, email="admin@riverside.test"))
    with practice_scope(practice):
        appointment = _book(world, 5)
        auth = world["auth"]
    new_day = auth.ends_on + timedelta(days=3)
    kwargs = {"practice_slug": practice.slug, "appointment_id": appointment.public_id}
    response = client.post(
        reverse("appointment_reschedule", kwargs=kwargs),
        {"day": new_day.isoformat(), "start_time": "10:00", "clinician": "", "room": ""},
        follow=True,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Appointment moved." in html
    assert "Authorization AUTH123 expired on" in html
