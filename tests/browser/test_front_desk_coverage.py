"""Front desk adds a child's insurance with the parent as subscriber (the subscriber fields appear
when the relationship is not Self), adds a prior authorization and sees its usage."""

import os

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from billing.models import Coverage, PriorAuthorization
from billing.tests import factories as bf
from clinical.tests.factories import PatientFactory
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import (
    MembershipFactory,
    PracticeFactory,
    UserFactory,
    totp_device_for,
)
from tests.browser.staff import sign_in_with_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("B1_SCREENSHOTS")


def _shot(page, name):
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_front_desk_adds_dependent_coverage_and_an_authorization(page):
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside")
    user = UserFactory(email="fran@riverside.test", full_name="Fran Desk")
    with scopes_disabled():
        MembershipFactory(practice=riverside, user=user, role=Role.FRONT_DESK)
    with practice_scope(riverside):
        payer = bf.PayerFactory(practice=riverside, name="Acme Commercial", auth_required_cpts=["90837"])
        patient = PatientFactory(practice=riverside, legal_first_name="Milo", legal_last_name="Reyes")
    device = totp_device_for(user)

    sign_in_with_totp(page, user, device)

    page.goto(reverse("patient_coverage", kwargs={"practice_slug": "riverside", "patient_id": patient.public_id}))
    subscriber = page.locator("[data-subscriber-fields]")
    assert subscriber.is_hidden()  # Self by default: no subscriber block
    page.get_by_label("Payer").select_option(label="Acme Commercial")
    page.get_by_label("Member ID").fill("ACM123456789")
    page.get_by_label("Patient's relationship to the subscriber").select_option(label="Child")
    assert subscriber.is_visible()
    page.get_by_label("Subscriber first name").fill("Dana")
    page.get_by_label("Subscriber last name").fill("Reyes")
    page.get_by_label("Subscriber date of birth").fill("1980-05-06")
    page.get_by_label("Subscriber sex").select_option(label="Female")
    page.get_by_label("Subscriber address line1").fill("12 Elm Street")
    page.get_by_label("Subscriber city").fill("Portland")
    page.get_by_label("Subscriber state").fill("OR")
    page.get_by_label("Subscriber ZIP code").fill("97205")
    _shot(page, "coverage-add")
    page.get_by_role("button", name="Add coverage").click()
    page.wait_for_url("**/coverage/")
    assert "Acme Commercial" in page.locator("[data-coverages]").inner_text()
    assert "Child of the subscriber" in page.locator("[data-coverages]").inner_text()

    page.get_by_role("link", name="Add authorization").click()
    page.get_by_label("Authorization number").fill("AUTH778899")
    page.get_by_label("Visits authorized").fill("12")
    page.get_by_label("Starts on").fill("2026-01-01")
    page.get_by_label("Ends on").fill("2026-12-31")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/coverage/")
    assert "0 of 12 visits used, 12 left" in page.locator("[data-coverages]").inner_text()
    _shot(page, "coverage-list")
    with practice_scope(riverside):
        coverage = Coverage.objects.get()
        assert coverage.relationship == "19" and coverage.subscriber_last_name == "Reyes"
        assert PriorAuthorization.objects.get().cpt_codes == ["90837"]
    assert payer.pk == coverage.payer_id
