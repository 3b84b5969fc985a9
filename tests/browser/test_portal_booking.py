"""A patient books an appointment on a phone (390x844): the type and clinician are chosen for them
(one of each), they tap an open time, confirm, and see it on their appointments list."""

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from portal.tests.factories import PortalAccessFactory, PortalSettingsFactory, open_mornings
from practice.permissions import Role
from practice.tests.factories import MembershipFactory, PracticeFactory, sign_in
from scheduling.models import Appointment
from tests.browser.axe import PHONE, axe_violations, describe

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _phone_signed_in_as(browser, live_server, user):
    client = sign_in(Client(), user)
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, bypass_csp=True)
    context.set_default_timeout(10_000)
    host = live_server.url.split("//", 1)[1].split(":")[0]
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "domain": host, "path": "/"}]
    )
    return context


def test_patient_books_a_slot_on_a_phone_and_sees_it_listed(browser, live_server):
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside")
    with scopes_disabled():
        clinician = MembershipFactory(practice=riverside, role=Role.CLINICIAN)
        location, _type = open_mornings(riverside, clinician)
        access = PortalAccessFactory(practice=riverside, patient__primary_clinician=clinician)
        PortalSettingsFactory(practice=riverside, new_patients_may_book=True)

    phone = _phone_signed_in_as(browser, live_server, access.user)
    page = phone.new_page()
    page.goto("/portal/appointments/")
    page.get_by_role("link", name="Book an appointment").click()
    page.wait_for_selector("[data-slot]")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    violations = axe_violations(page)
    assert not violations, describe(violations)
    slot = page.locator("[data-slot]").first
    box = slot.bounding_box()
    assert box is not None and box["height"] >= 44
    slot.click()
    page.wait_for_selector("h1:has-text('Confirm your appointment')")
    violations = axe_violations(page)
    assert not violations, describe(violations)
    page.get_by_role("button", name="Book this time").click()
    page.wait_for_selector("text=Your appointment is booked.")
    page.get_by_role("link", name="Appointments").first.click()
    page.wait_for_selector("[data-upcoming]")
    assert "Therapy session" in page.locator("[data-upcoming]").inner_text()
    violations = axe_violations(page)
    assert not violations, describe(violations)
    with scopes_disabled():
        booked = Appointment.objects.get(attendees__patient=access.patient)
        assert booked.clinician == clinician and booked.location == location
    phone.close()
