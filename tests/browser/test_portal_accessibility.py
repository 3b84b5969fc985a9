"""Every patient-side portal page on a phone (390x844): axe-core finds no serious or critical WCAG
2.1 A/AA violation, nothing scrolls sideways, and the keyboard works (the first Tab reaches the skip
link, Tab reaches the page's own controls, and 30 Tabs never stick on one element).

One test per page group; each seeds the same small world (`_world`). Pages are reached the way a
patient reaches them (clicking through) where that is what creates the object a later page needs:
the booked appointment, the started intake, the message thread, the answered questionnaire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_scopes import scopes_disabled

from billing.tests.factories import PatientPaymentFactory, PayerFactory, StatementFactory
from clinical.models import Patient
from clinical.tests.factories import PatientFactory
from conftest import DEFAULT_PASSWORD
from portal import services_accounts
from portal.intake_defaults import install_default_intake
from portal.models import PortalAccess, Relationship
from portal.tests.factories import PortalAccessFactory, PortalSettingsFactory, open_mornings
from practice.models import Membership, Practice
from practice.permissions import Role
from practice.tests.factories import MembershipFactory, PracticeFactory, UserFactory
from tests.browser.axe import assert_accessible, axe_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TAB_PRESSES = 30
FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])"


@dataclass
class World:
    practice: Practice
    clinician: Membership
    desk: Membership
    patient: Patient
    access: PortalAccess


def _world() -> World:
    """A practice with a bookable clinician, the default intake packet, a payer, and one portal
    patient with a statement and a payment. The patient's user also has access to a child's record
    (so the choose page lists two records)."""
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside", phone="503-555-0100")
    with scopes_disabled():
        clinician = MembershipFactory(practice=riverside, role=Role.CLINICIAN, user__full_name="Ana Ortiz")
        desk = MembershipFactory(practice=riverside, role=Role.FRONT_DESK)
        open_mornings(riverside, clinician)
        PayerFactory(practice=riverside, name="Blue Valley Health")
        patient = PatientFactory(
            practice=riverside,
            legal_first_name="Dana",
            legal_last_name="Reyes",
            email="dana@example.test",
            primary_clinician=clinician,
        )
        user = UserFactory(email="dana@example.test", full_name="Dana Reyes")
        access = PortalAccessFactory(practice=riverside, patient=patient, user=user)
        child = PatientFactory(practice=riverside, legal_first_name="Milo", legal_last_name="Reyes")
        PortalAccessFactory(practice=riverside, patient=child, user=user, relationship=Relationship.GUARDIAN)
        PortalSettingsFactory(practice=riverside, new_patients_may_book=True, shared_instruments=["PHQ-9"])
        StatementFactory(practice=riverside, patient=patient)
        PatientPaymentFactory(practice=riverside, patient=patient)
    install_default_intake(riverside)
    return World(practice=riverside, clinician=clinician, desk=desk, patient=patient, access=access)


def _check(page, label: str, heading: str | None = None) -> None:
    """axe, no sideways scroll, keyboard reachability on the page as it is now."""
    if heading is not None:
        page.locator("h1").filter(has_text=heading).first.wait_for()
    assert_accessible(page, label)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{label}: scrolls sideways ({width[0]}px wide on a {width[1]}px screen)"
    _check_keyboard(page, label)


def _check_keyboard(page, label: str) -> None:
    # A page may move focus itself on load (the questionnaire's error summary); otherwise the first
    # Tab must reach the skip link.
    starts_at_top = page.evaluate("() => !document.activeElement || document.activeElement === document.body")
    main_has_controls = page.evaluate(
        "(sel) => !!document.querySelector('main') && !!document.querySelector('main').querySelector(sel)", FOCUSABLE
    )
    seen = []
    for _ in range(TAB_PRESSES):
        page.keyboard.press("Tab")
        seen.append(
            page.evaluate(
                """() => {
                  const el = document.activeElement;
                  const main = document.querySelector('main');
                  return {
                    key: Array.prototype.indexOf.call(document.querySelectorAll('*'), el),
                    text: (el.innerText || el.value || el.name || el.tagName).trim().slice(0, 40),
                    inMain: !!main && main.contains(el) && el !== main,
                  };
                }"""
            )
        )
    if starts_at_top:
        assert seen[0]["text"] == "Skip to main content", f"{label}: the first Tab reaches {seen[0]['text']!r}"
    assert len({s["key"] for s in seen}) > 1, f"{label}: focus stuck on {seen[0]['text']!r}"
    if main_has_controls:
        assert any(s["inMain"] for s in seen), f"{label}: {TAB_PRESSES} Tabs never reach the main content"


def _patient_context(browser, live_server, world: World, *, choose: bool = True):
    """A phone context signed in through the portal's own sign-in page, with the patient's own record chosen."""
    context = axe_context(browser, live_server)
    page = context.new_page()
    page.goto("/portal/login/")
    page.get_by_label("Email").fill(world.access.user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if choose:
        page.locator("h1").filter(has_text="Whose record").first.wait_for()
        page.get_by_role("button", name=re.compile("My record")).click()
        page.locator("h1").filter(has_text="Hello, Dana").wait_for()
    return context, page


GROUPS = ["signed_out", "home_account", "appointments", "intake", "questionnaires", "messages", "billing"]


@pytest.mark.parametrize("group", GROUPS)
def test_portal_pages_are_accessible_on_a_phone(browser, live_server, group):
    world = _world()
    if group == "signed_out":
        _signed_out_pages(browser, live_server, world)
        return
    context, page = _patient_context(browser, live_server, world, choose=group != "home_account")
    try:
        globals()[f"_{group}_pages"](page, world)
    finally:
        context.close()


def _signed_out_pages(browser, live_server, world: World) -> None:
    context = axe_context(browser, live_server)
    page = context.new_page()
    try:
        page.goto("/portal/login/")
        _check(page, "sign in", "Sign in")
        page.get_by_role("button", name="Sign in").click()  # empty: the error state
        _check(page, "sign in with errors")

        with scopes_disabled():
            invited = PatientFactory(
                practice=world.practice, legal_first_name="Lee", legal_last_name="Park", email="lee@example.test"
            )
            _invitation, token = services_accounts.portal_invitation_send(
                patient=invited, by=world.desk, relationship=Relationship.SELF, channel="email", email=invited.email
            )
        page.goto(f"/portal/invite/{token}/")
        _check(page, "invitation accept", "Set up your portal account")
        page.get_by_role("button", name="Create my account").click()  # empty: the error state
        _check(page, "invitation accept with errors")
        page.goto("/portal/invite/not-a-real-token/")
        _check(page, "invitation no longer valid")

        page.goto("/portal/password-reset/")
        _check(page, "password reset")
        page.get_by_label("Email").fill(world.access.user.email)
        page.get_by_role("button", name="Send the link").click()
        page.wait_for_url("**/password-reset/done/")
        _check(page, "password reset sent")
        user = world.access.user
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        page.goto(f"/portal/reset/{uid}/{default_token_generator.make_token(user)}/")
        _check(page, "password reset: new password")
        page.goto("/portal/reset/done/")
        _check(page, "password reset complete")
    finally:
        context.close()


def _home_account_pages(page, world: World) -> None:
    page.locator("h1").filter(has_text="Whose record").first.wait_for()
    _check(page, "choose record")
    page.get_by_role("button", name=re.compile("My record")).click()
    _check(page, "home", "Hello, Dana")
    page.goto("/portal/account/")
    _check(page, "account", "Your account")
    page.get_by_role("button", name=re.compile("Change password", re.I)).click()  # empty: the error state
    _check(page, "account with errors")


def _appointments_pages(page, world: World) -> None:
    page.goto("/portal/appointments/")
    _check(page, "appointments (none yet)", "Appointments")
    page.get_by_role("link", name="Book an appointment").click()
    page.wait_for_selector("[data-slot]")
    _check(page, "book", "Book an appointment")
    page.locator("[data-slot]").first.click()
    _check(page, "confirm booking", "Confirm your appointment")
    page.get_by_role("button", name="Book this time").click()
    page.wait_for_selector("text=Your appointment is booked.")
    _check(page, "after booking")
    page.goto("/portal/appointments/")
    page.locator("[data-upcoming] a").first.click()
    _check(page, "appointment detail", "Therapy session")
    detail_url = page.url
    page.get_by_role("link", name="Reschedule").click()
    page.wait_for_selector("[data-slot]")
    _check(page, "reschedule: pick a time", "Reschedule")
    page.locator("[data-slot]").nth(1).click()
    _check(page, "reschedule: confirm", "Reschedule")
    page.goto(detail_url)
    page.get_by_role("link", name="Cancel appointment").click()
    _check(page, "cancel", "Cancel this appointment?")


def _intake_pages(page, world: World) -> None:
    page.goto("/portal/forms/")
    _check(page, "forms (not started)", "Forms")
    page.get_by_role("button", name="Start").click()
    _check(page, "intake step 1: about you", "About you")
    page.locator("#id_address_line1").fill("")
    page.get_by_role("button", name="Save and continue").click()  # the error state
    page.locator(".field-errors, .alert--error").first.wait_for()
    _check(page, "intake step 1 with errors")
    step_url = page.url.split("?")[0]
    for position, heading in [
        (2, "Insurance"),
        (3, "Consent to treatment"),
        (4, "Health history"),
        (5, "Questionnaires"),
    ]:
        page.goto(f"{step_url}?n={position}")
        _check(page, f"intake step {position}: {heading}", heading)
    page.goto("/portal/forms/")
    _check(page, "forms (in progress)", "Forms")
    page.goto(step_url.replace("/step/", "/submit/"))
    _check(page, "intake review and send", "Review and send")
    page.get_by_role("button", name="Send to the practice").click()  # steps missing: the error state
    _check(page, "intake review with the missing steps", "Review and send")


def _questionnaires_pages(page, world: World) -> None:
    from assessments.models import DeliveryChannel
    from assessments.services_delivery import administration_request

    with scopes_disabled():
        administration_request(
            patient=world.patient, instrument_code="PHQ-9", channel=DeliveryChannel.PORTAL, by=world.clinician
        )
    page.goto("/portal/questionnaires/")
    _check(page, "questionnaires (one due)", "Questionnaires")
    page.locator("[data-due] a").first.click()
    _check(page, "PHQ-9 form", "Patient Health Questionnaire")
    page.get_by_role("button", name="Submit my answers").click()  # nothing answered: the error state
    page.wait_for_selector("[data-q-errors]")
    _check(page, "PHQ-9 form with errors")
    for fieldset in page.locator("fieldset.q-item").all():
        fieldset.locator("label.q-option").first.click()
    page.get_by_role("button", name="Submit my answers").click()
    _check(page, "questionnaire thanks", "Thank you")
    page.goto("/portal/questionnaires/")
    page.wait_for_selector("[data-shared='PHQ-9']")
    _check(page, "questionnaires with the score history")


def _messages_pages(page, world: World) -> None:
    from portal import services_messages

    page.goto("/portal/messages/")
    _check(page, "messages (none yet)", "Messages")
    page.get_by_role("link", name="New message").click()
    _check(page, "new message", "New message")
    page.get_by_role("button", name="Send message").click()  # empty: the error state
    _check(page, "new message with errors", "New message")
    page.get_by_label("Subject").fill("Parking")
    page.get_by_label("Message", exact=True).fill("Where do I park for my first visit?")
    page.get_by_role("button", name="Send message").click()
    page.wait_for_selector("text=Your message was sent.")
    _check(page, "thread", "Parking")
    with scopes_disabled():
        from portal.models import MessageThread

        thread = MessageThread.all_objects.get(patient=world.patient)
    with scopes_disabled():
        services_messages.message_reply_by_staff(
            thread=thread, by=world.clinician, body="Use the lot behind the building."
        )
    page.goto("/portal/messages/")
    page.wait_for_selector(".pm-thread--unread")
    _check(page, "messages with an unread reply")
    page.get_by_role("link", name=re.compile("Parking")).click()
    page.wait_for_selector("text=Use the lot behind the building.")
    _check(page, "thread with the reply")


def _billing_pages(page, world: World) -> None:
    page.goto("/portal/billing/")
    _check(page, "billing", "Billing")
    page.goto("/portal/billing/superbill/")
    _check(page, "superbill form")
