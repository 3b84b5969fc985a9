"""A patient fills in the intake packet on a phone (390x844): about you, insurance (self-pay), signs
the consent, health history, questionnaires, reviews and sends it; front desk accepts it and the
chart has the new details and the signed consent."""

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from assessments.models import Administration
from clinical.models import Document, Patient
from clinical.tests.factories import PatientFactory
from portal.intake_defaults import install_default_intake
from portal.models import IntakeSubmission
from portal.tests.factories import PortalAccessFactory
from practice.permissions import Role
from practice.tests.factories import MembershipFactory, PracticeFactory, sign_in
from tests.browser.axe import PHONE, axe_violations, describe

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _context_signed_in_as(browser, live_server, who, *, viewport):
    """A browser context carrying a session made by the test client (portal user or staff member)."""
    client = sign_in(Client(), who)
    context = browser.new_context(base_url=live_server.url, viewport=viewport, bypass_csp=True)
    context.set_default_timeout(10_000)
    host = live_server.url.split("//", 1)[1].split(":")[0]
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "domain": host, "path": "/"}]
    )
    return context


def test_patient_completes_intake_on_a_phone_and_front_desk_accepts_it(browser, live_server):
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside")
    with scopes_disabled():
        MembershipFactory(practice=riverside, role=Role.OWNER)  # requests the intake questionnaires
        desk = MembershipFactory(practice=riverside, role=Role.FRONT_DESK)
        patient = PatientFactory(practice=riverside, legal_first_name="Dana", legal_last_name="Reyes")
        access = PortalAccessFactory(practice=riverside, patient=patient)
    install_default_intake(riverside)

    phone = _context_signed_in_as(browser, live_server, access.user, viewport=PHONE)
    page = phone.new_page()
    page.goto("/portal/forms/")
    page.get_by_role("button", name="Start").click()
    # About you
    page.wait_for_selector("h1:has-text('About you')")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    violations = axe_violations(page)
    assert not violations, describe(violations)
    fields = {
        "preferred_name": "Dee",
        "address_line1": "4 Oak Ave",
        "city": "Salem",
        "state": "or",
        "postal_code": "97301",
        "phone": "503 555 0199",
        "email": "dana@example.test",
        "emergency_contact_name": "Sam Reyes",
        "emergency_contact_phone": "503 555 0198",
        "emergency_contact_relationship": "Partner",
    }
    for name, value in fields.items():
        page.locator(f"#id_{name}").fill(value)
    save = page.get_by_role("button", name="Save and continue")
    box = save.bounding_box()
    assert box is not None and box["height"] >= 44
    save.click()
    # Insurance: self-pay
    page.wait_for_selector("h1:has-text('Insurance')")
    page.get_by_label("Will you use health insurance?").select_option("no")
    page.get_by_role("button", name="Save and continue").click()
    # Consent
    page.wait_for_selector("h1:has-text('Consent to treatment')")
    violations = axe_violations(page)
    assert not violations, describe(violations)
    page.get_by_label("Type your full legal name to sign").fill("dana  reyes")
    page.get_by_label("I have read and agree").check()
    page.get_by_role("button", name="Sign and continue").click()
    # History
    page.wait_for_selector("h1:has-text('Health history')")
    page.get_by_label("What brings you in? What would you like help with?").fill("Stress at work.")
    page.get_by_label("Have you had counseling or therapy before?").select_option("no")
    page.get_by_label("Have you ever been hospitalized for mental health?").select_option("no")
    page.get_by_label("Do alcohol or drugs cause you problems?").select_option("no")
    page.get_by_role("button", name="Save and continue").click()
    # Questionnaires: answered elsewhere (the questionnaire pages); mark them done here.
    page.wait_for_selector("h1:has-text('Questionnaires')")
    with scopes_disabled():
        assert Administration.all_objects.filter(patient=patient, channel="portal").count() == 2
        Administration.all_objects.filter(patient=patient).update(status="completed")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("h1:has-text('Review and send')")
    assert page.get_by_text("Dee").first.is_visible()
    page.get_by_role("button", name="Send to the practice").click()
    page.wait_for_selector("text=Waiting for review")
    phone.close()

    office = _context_signed_in_as(browser, live_server, desk, viewport={"width": 1280, "height": 860})
    page = office.new_page()
    page.goto("/p/riverside/portal/intake/")
    page.get_by_role("link", name="Dana Reyes").click()
    page.wait_for_selector("[data-changed='preferred_name']")
    page.get_by_role("button", name="Accept").click()
    page.wait_for_selector("text=Accepted")
    office.close()

    with scopes_disabled():
        patient = Patient.all_objects.get(pk=patient.pk)
        assert (patient.preferred_name, patient.city, patient.state) == ("Dee", "Salem", "OR")
        consent = Document.all_objects.get(patient=patient, category="consent")
        assert consent.signed_by_name == "dana reyes"
        assert IntakeSubmission.all_objects.get(patient=patient).status == "accepted"
