"""A patient writes to the practice on a phone (390x844), the clinician replies from the staff inbox,
and the patient sees the reply marked new, opens it, and the clinician sees it was read."""

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from portal.models import MessageThread
from portal.tests.factories import PortalAccessFactory
from practice.permissions import Role
from practice.tests.factories import MembershipFactory, PracticeFactory, sign_in
from tests.browser.axe import PHONE, axe_violations, describe

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _signed_in(browser, live_server, who, viewport):
    client = sign_in(Client(), who)
    context = browser.new_context(base_url=live_server.url, viewport=viewport, bypass_csp=True)
    context.set_default_timeout(10_000)
    host = live_server.url.split("//", 1)[1].split(":")[0]
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "domain": host, "path": "/"}]
    )
    return context


def test_patient_writes_clinician_replies_patient_reads(browser, live_server):
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside")
    with scopes_disabled():
        clinician = MembershipFactory(practice=riverside, role=Role.CLINICIAN)
        access = PortalAccessFactory(practice=riverside, patient__primary_clinician=clinician)

    phone = _signed_in(browser, live_server, access.user, PHONE)
    page = phone.new_page()
    page.goto("/portal/messages/")
    page.get_by_role("link", name="New message").click()
    assert "not for emergencies" in page.content()
    violations = axe_violations(page)
    assert not violations, describe(violations)
    page.get_by_label("Subject").fill("Moving Thursday")
    page.get_by_role("textbox", name="Message").fill("Could we meet in the afternoon instead?")
    page.get_by_role("button", name="Send message").click()
    page.wait_for_selector("text=Your message was sent.")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    violations = axe_violations(page)
    assert not violations, describe(violations)

    with scopes_disabled():
        thread = MessageThread.all_objects.get(patient=access.patient)
    desk = _signed_in(browser, live_server, clinician, {"width": 1280, "height": 860})
    staff = desk.new_page()
    staff.goto("/p/riverside/messages/")
    staff.get_by_role("link", name="Moving Thursday").click()
    staff.get_by_role("textbox", name="Message").fill("Yes, 3 pm works.")
    staff.get_by_role("button", name="Send reply").click()
    staff.wait_for_selector("text=Not yet read by the patient")

    page.goto("/portal/messages/")
    assert "1 new" in page.locator(".pm-threads").inner_text()
    page.get_by_role("link", name="Moving Thursday").click()
    page.wait_for_selector("text=Yes, 3 pm works.")
    staff.goto(f"/p/riverside/messages/{thread.public_id}/")
    staff.wait_for_selector("text=Read by the patient")
    phone.close()
    desk.close()
