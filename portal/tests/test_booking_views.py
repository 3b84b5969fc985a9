"""Portal booking pages: the list with the join link, the step-by-step booking flow to a booked
appointment, disabled booking with the phone number, cancel with the late policy, reschedule, the
staff settings page, and bounded queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from portal.access import portal_settings_for
from portal.models import PortalAppointmentEvent
from portal.tests.test_booking_rules import make_world
from practice.permissions import Role
from scheduling.models import Appointment
from scheduling.selectors import scheduling_settings
from scheduling.tests.factories import AppointmentTypeFactory, appointment_with_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(practice_a, practice_b, make_member, client):
    w = make_world(practice_a, make_member)
    client.force_login(w.access.user)
    return w


def _telehealth(world, starts_at):
    with scopes_disabled():
        return appointment_with_patient(
            world.practice,
            clinician=world.clinician,
            patient=world.patient,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=45),
            is_telehealth=True,
            telehealth_url="https://video.example/room/42",
        )


def test_list_shows_upcoming_and_past_and_the_join_link_only_in_its_window(world, client):
    soon = _telehealth(world, timezone.now() + timedelta(minutes=10))
    later = _telehealth(world, timezone.now() + timedelta(days=2))
    past = _telehealth(world, timezone.now() - timedelta(days=2))
    body = client.get(reverse("portal_appointments")).content.decode()
    assert str(soon.public_id) in body and str(later.public_id) in body and str(past.public_id) in body
    assert body.count("data-join-link") == 1
    detail = client.get(reverse("portal_appointment_detail", kwargs={"appointment_id": later.public_id}))
    assert "data-join-later" in detail.content.decode() and "video.example" not in detail.content.decode()
    detail = client.get(reverse("portal_appointment_detail", kwargs={"appointment_id": soon.public_id}))
    assert "https://video.example/room/42" in detail.content.decode()


def test_booking_flow_books_and_lists_the_appointment(world, client):
    page = client.get(reverse("portal_book"))
    # one type and one clinician: straight to the slots
    body = page.content.decode()
    assert page.status_code == 200 and "data-slot" in body
    slot = world.slots()[0]
    query = {
        "type": world.atype.public_id,
        "clinician": world.clinician.public_id,
        "start": int(slot.starts_at.timestamp()),
        "location": world.location.public_id,
    }
    confirm = client.get(reverse("portal_book_confirm"), query)
    assert confirm.status_code == 200 and "data-confirm-booking" in confirm.content.decode()
    response = client.post(reverse("portal_book_confirm"), {**query, "modality": "in_person"})
    with scopes_disabled():
        appointment = Appointment.objects.get(attendees__patient=world.patient)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "portal_appointment_detail", kwargs={"appointment_id": appointment.public_id}
    )
    assert appointment.starts_at == slot.starts_at and not appointment.is_telehealth
    listing = client.get(reverse("portal_appointments")).content.decode()
    assert str(appointment.public_id) in listing


def test_booking_a_taken_slot_sends_the_patient_back_with_the_message(world, client):
    slot = world.slots()[0]
    with scopes_disabled():
        appointment_with_patient(world.practice, clinician=world.clinician, starts_at=slot.starts_at)
    response = client.post(
        reverse("portal_book_confirm"),
        {
            "type": world.atype.public_id,
            "clinician": world.clinician.public_id,
            "start": int(slot.starts_at.timestamp()),
        },
        follow=True,
    )
    assert "That time was just taken. Pick another." in response.content.decode()
    with scopes_disabled():
        assert not Appointment.objects.filter(attendees__patient=world.patient).exists()


def test_disabled_booking_explains_and_shows_the_phone(world, client):
    with scopes_disabled():
        portal = portal_settings_for(world.practice)
        portal.online_booking_enabled = False
        portal.save()
        world.practice.phone = "(503) 555-0100"
        world.practice.save()
    body = client.get(reverse("portal_book")).content.decode()
    assert "data-booking-unavailable" in body and "(503) 555-0100" in body and "data-slot" not in body
    assert "Book an appointment</a>" not in client.get(reverse("portal_appointments")).content.decode()


def test_several_types_ask_for_a_choice_first(world, client):
    with scopes_disabled():
        AppointmentTypeFactory(practice=world.practice, is_bookable_online=True, name="Intake 60")
        AppointmentTypeFactory(practice=world.practice, is_bookable_online=False, name="Hidden type")
    body = client.get(reverse("portal_book")).content.decode()
    assert body.count("data-type-choice") == 2 and "Hidden type" not in body and "data-slot" not in body


def test_late_cancel_page_explains_the_fee_and_needs_agreement(world, client):
    with scopes_disabled():
        settings = scheduling_settings(world.practice)
        settings.late_cancel_hours, settings.late_cancel_fee_cents = 48, 5000
        settings.save()
    appointment = _telehealth(world, timezone.now() + timedelta(hours=20))
    url = reverse("portal_appointment_cancel", kwargs={"appointment_id": appointment.public_id})
    body = client.get(url).content.decode()
    assert "data-late-policy" in body and "$50.00" in body
    assert client.post(url, {"reason": ""}).status_code == 200  # not agreed: form again
    with scopes_disabled():
        appointment.refresh_from_db()
        assert appointment.status == "scheduled"
    response = client.post(url, {"reason": "", "accept_fee": "on"})
    assert response.status_code == 302
    with scopes_disabled():
        appointment.refresh_from_db()
        assert (appointment.status, appointment.fee_due) == ("late_cancelled", True)
        assert PortalAppointmentEvent.objects.get(appointment=appointment).is_late_cancel


def test_early_cancel_page_has_no_policy_warning(world, client):
    appointment = _telehealth(world, timezone.now() + timedelta(days=4))
    url = reverse("portal_appointment_cancel", kwargs={"appointment_id": appointment.public_id})
    assert "data-late-policy" not in client.get(url).content.decode()
    assert client.post(url, {"reason": "Travel"}).status_code == 302
    with scopes_disabled():
        appointment.refresh_from_db()
        assert (appointment.status, appointment.fee_due) == ("cancelled", False)


def test_reschedule_page_lists_slots_and_moves(world, client):
    appointment = world.book()
    url = reverse("portal_appointment_reschedule", kwargs={"appointment_id": appointment.public_id})
    assert "data-slot" in client.get(url).content.decode()
    target = world.slots(days_ahead=4)[1]
    confirm = client.get(url, {"start": int(target.starts_at.timestamp()), "location": world.location.public_id})
    assert "data-confirm-move" in confirm.content.decode()
    response = client.post(url, {"start": int(target.starts_at.timestamp()), "location": world.location.public_id})
    assert response.status_code == 302
    with scopes_disabled():
        appointment.refresh_from_db()
        assert appointment.starts_at == target.starts_at


def test_list_and_book_pages_have_bounded_queries(world, client, django_assert_max_num_queries):
    for days in (2, 3, 4, 5, 6):
        _telehealth(world, timezone.now() + timedelta(days=days))
    with django_assert_max_num_queries(25):
        assert client.get(reverse("portal_appointments")).status_code == 200
    with django_assert_max_num_queries(30):
        assert client.get(reverse("portal_book")).status_code == 200


def test_settings_page_saves(practice_a, practice_b, make_member, client, login):
    admin = make_member(practice_a, Role.ADMIN)
    clinician = make_member(practice_a, Role.CLINICIAN)
    login(admin)
    url = reverse("portal_settings", kwargs={"practice_slug": practice_a.slug})
    page = client.get(url)
    assert page.status_code == 200 and "data-portal-types" in page.content.decode()
    response = client.post(
        url,
        {
            "online_booking_enabled": "on",
            "booking_horizon_days": "30",
            "bookable_clinicians": [str(clinician.public_id)],
            "telehealth_join_minutes": "10",
            "messaging_notice": "We reply within two business days.",
            "shared_instruments": ["PHQ-9"],
            "invitation_valid_days": "5",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with scopes_disabled():
        portal = portal_settings_for(practice_a)
        assert portal.booking_horizon_days == 30 and portal.telehealth_join_minutes == 10
        assert portal.messaging_enabled is False and portal.new_patients_may_book is False
        assert portal.shared_instruments == ["PHQ-9"]
        assert list(portal.bookable_clinicians.all()) == [clinician]
        assert portal_settings_for(practice_b).booking_horizon_days == 60


def test_settings_page_refuses_a_clinician_and_bad_values(practice_a, make_member, client, login):
    login(make_member(practice_a, Role.CLINICIAN))
    url = reverse("portal_settings", kwargs={"practice_slug": practice_a.slug})
    assert client.get(url).status_code == 403
    client.logout()
    login(make_member(practice_a, Role.ADMIN))
    response = client.post(
        url, {"booking_horizon_days": "900", "telehealth_join_minutes": "5", "invitation_valid_days": "7"}
    )
    assert response.status_code == 200
    with scopes_disabled():
        assert portal_settings_for(practice_a).booking_horizon_days == 60
