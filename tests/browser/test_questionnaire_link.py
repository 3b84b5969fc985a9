"""A patient completes a PHQ-9 from the emailed link on a phone-sized screen (tapping the answer
cards), sees the thank-you page with crisis resources (item 9 was answered), then the clinician
signs in, sees the score on the response page and the risk alert on the alerts list."""

import hashlib

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from assessments.models import Response, RiskAlert
from assessments.tests.factories import AdministrationFactory
from clinical.tests.factories import PatientFactory
from practice.permissions import Role
from practice.tests.factories import DEFAULT_PASSWORD, MembershipFactory, PracticeFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOKEN = "browser-test-token-0123456789abcdefghijklmnopqrstu"
# PHQ-9 answers by label: total 1+1+2+1+0+1+1+0+1 = 8 (mild), item 9 "Several days" -> risk flag
ANSWERS = [
    "Several days",
    "Several days",
    "More than half the days",
    "Several days",
    "Not at all",
    "Several days",
    "Several days",
    "Not at all",
    "Several days",
]


def test_patient_completes_phq9_on_a_phone_and_the_clinician_sees_score_and_alert(browser, live_server):
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside", phone="(503) 555-0100")
    user = UserFactory(email="cara@riverside.test", full_name="Cara Clinician")
    with scopes_disabled():
        cara = MembershipFactory(practice=riverside, user=user, role=Role.CLINICIAN)
        patient = PatientFactory(
            practice=riverside, primary_clinician=cara, legal_first_name="Dana", legal_last_name="Reyes"
        )
        AdministrationFactory(
            practice=riverside,
            patient=patient,
            instrument_code="PHQ-9",
            token_hash=hashlib.sha256(TOKEN.encode()).hexdigest(),
        )

    phone = browser.new_context(base_url=live_server.url, viewport={"width": 375, "height": 740}, has_touch=True)
    phone.set_default_timeout(10_000)
    page = phone.new_page()
    page.goto(f"/q/{TOKEN}/")
    assert page.get_by_text("For Dana").is_visible()
    # no horizontal scrolling on a 375px screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    for number, label in enumerate(ANSWERS, start=1):
        card = page.locator(f"#q-item_{number} label.q-option", has_text=label).first
        box = card.bounding_box()
        assert box is not None and box["height"] >= 44  # tap target
        card.tap()
        assert page.locator(f"#q-item_{number} input:checked").count() == 1
    page.locator("#q-difficulty label.q-option", has_text="Somewhat difficult").tap()
    page.get_by_role("button", name="Submit my answers").tap()
    page.wait_for_selector("text=Thank you, Dana")
    assert page.get_by_text("988").first.is_visible()
    assert "Mild" not in page.content()  # no score shown to the patient
    phone.close()

    with scopes_disabled():
        response = Response.all_objects.get(patient=patient)
        assert response.total == 8 and "suicide_risk" in response.flags
        assert RiskAlert.all_objects.filter(patient=patient, status="open").count() == 1

    desk = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    desk.set_default_timeout(10_000)
    page = desk.new_page()
    page.goto("/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/p/riverside/**")
    page.goto(
        reverse(
            "response_detail",
            kwargs={"practice_slug": "riverside", "patient_id": patient.public_id, "response_id": response.public_id},
        )
    )
    assert page.locator("[data-total]").inner_text() == "8"
    assert page.locator("[data-severity]").inner_text() == "Mild"
    assert page.get_by_text("suicide_risk").first.is_visible()
    page.goto(reverse("risk_alert_list", kwargs={"practice_slug": "riverside"}))
    assert page.get_by_text("Reyes").first.is_visible() or page.get_by_text("Dana").first.is_visible()
    assert page.get_by_text("PHQ-9").first.is_visible()
    desk.close()
