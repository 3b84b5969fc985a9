"""The portal end to end, the patient on a phone (390x844), staff at a desk (issue 8, "Tests").

Front desk invites the patient from the chart's Portal access page; the patient opens the link from
the invitation message, sets a password and lands on the portal home; fills in every step of the
intake packet (about you, insurance with a photo of the card, the e-signed consent, health history,
the PHQ-9 and GAD-7) and sends it; books an open slot; answers a PHQ-9 the clinician asks for; writes
to the practice. The clinician replies from the Messages inbox; front desk accepts the intake from
Intake forms and the chart shows the new details and coverage; the clinician sees the documents on
the chart. Back on the phone the reply is marked new, and reading it clears the mark.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from assessments.models import Administration, DeliveryChannel, Response
from assessments.services_delivery import administration_request
from billing.models import Coverage
from billing.tests.factories import PayerFactory
from clinical.models import Document, Patient
from clinical.tests.factories import PatientFactory
from notifications.models import Message
from portal.intake_defaults import install_default_intake
from portal.models import IntakeSubmission, IntakeUpload, PortalAccess, ThreadMessage
from portal.tests.factories import PNG_BYTES, PortalSettingsFactory, open_mornings
from practice.permissions import Role
from practice.tests.factories import MembershipFactory, PracticeFactory, sign_in
from scheduling.models import Appointment
from tests.browser.axe import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 860}
PASSWORD = "river stones and maple leaves"


def _staff_context(browser, live_server, member):
    client = sign_in(Client(), member)
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    host = live_server.url.split("//", 1)[1].split(":")[0]
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "domain": host, "path": "/"}]
    )
    return context


def _heading(page, text: str) -> None:
    page.locator("h1").filter(has_text=text).first.wait_for()


def _answer_questionnaire(page, choices: dict[int, int]) -> None:
    """Tick one option per question: `choices` maps question index -> option index (default 0)."""
    for index, fieldset in enumerate(page.locator("fieldset.q-item").all()):
        fieldset.locator("label.q-option").nth(choices.get(index, 0)).click()
    page.get_by_role("button", name="Submit my answers").click()
    _heading(page, "Thank you")


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


def test_invite_intake_book_questionnaire_message_reply_accept(browser, live_server, tmp_path):
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside")
    with scopes_disabled():
        clinician = MembershipFactory(practice=riverside, role=Role.CLINICIAN, user__full_name="Ana Ortiz")
        desk = MembershipFactory(practice=riverside, role=Role.FRONT_DESK, user__full_name="Jo Front")
        location, _type = open_mornings(riverside, clinician)
        payer = PayerFactory(practice=riverside, name="Blue Valley Health")
        settings = PortalSettingsFactory(practice=riverside, new_patients_may_book=True, shared_instruments=["PHQ-9"])
        settings.bookable_clinicians.add(clinician)
        patient = PatientFactory(
            practice=riverside,
            legal_first_name="Dana",
            legal_last_name="Reyes",
            email="dana@example.test",
            primary_clinician=clinician,
        )
    install_default_intake(riverside)
    card = tmp_path / "card-front.png"
    card.write_bytes(PNG_BYTES)

    # --- Front desk invites the patient from the chart --------------------------------------------
    office = _staff_context(browser, live_server, desk)
    staff = office.new_page()
    staff.goto(f"/p/riverside/patients/{patient.public_id}/")
    staff.get_by_role("link", name="Portal access").click()
    _heading(staff, "Patient portal")
    assert staff.locator("#id_email").input_value() == "dana@example.test"
    staff.get_by_role("button", name="Send invitation").click()
    staff.wait_for_selector("text=Invitation sent to Dana Reyes.")
    with scopes_disabled():
        invitation_message = Message.all_objects.get(patient=patient, template_key="portal_invitation")
    link = re.search(r"/portal/invite/[\w-]+/", invitation_message.body)
    assert link, invitation_message.body

    # --- The patient accepts on a phone -----------------------------------------------------------
    phone = browser.new_context(base_url=live_server.url, viewport=PHONE)
    phone.set_default_timeout(10_000)
    page = phone.new_page()
    page.goto(link.group(0))
    _heading(page, "Set up your portal account")
    page.get_by_label("Your full name").fill("Dana Reyes")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    _heading(page, "Hello, Dana")
    page.wait_for_selector("text=Your account is ready.")
    assert page.get_by_text("New patient intake (not started)").is_visible()
    _no_sideways_scroll(page)

    # --- Intake: every step -----------------------------------------------------------------------
    page.get_by_role("link", name="Go to forms").click()
    page.get_by_role("button", name="Start").click()
    _heading(page, "About you")
    for name, value in {
        "preferred_name": "Dee",
        "pronouns": "she/her",
        "address_line1": "4 Oak Ave",
        "city": "Salem",
        "state": "OR",
        "postal_code": "97301",
        "phone": "503 555 0199",
        "emergency_contact_name": "Sam Reyes",
        "emergency_contact_phone": "503 555 0198",
        "emergency_contact_relationship": "Partner",
    }.items():
        page.locator(f"#id_{name}").fill(value)
    page.get_by_role("button", name="Save and continue").click()

    _heading(page, "Insurance")
    page.get_by_label("Which side").select_option(label="Front of the card")
    page.get_by_label("Photo of the card").set_input_files(str(card))
    page.get_by_role("button", name="Add photo").click()
    page.wait_for_selector("text=Card photo added.")
    assert page.get_by_text("Front: added (card-front.png)").is_visible()
    page.get_by_label("Will you use health insurance?").select_option("yes")
    page.locator("#id_payer").select_option(label="Blue Valley Health")
    page.locator("#id_member_id").fill("BVH123456789")
    page.locator("#id_group_number").fill("GRP-77")
    page.locator("#id_relationship").select_option(label="Self")
    page.get_by_role("button", name="Save and continue").click()

    _heading(page, "Consent to treatment")
    assert page.get_by_text("In a crisis I will call or text 988").is_visible()
    page.get_by_label("Type your full legal name to sign").fill("Dana Reyes")
    page.get_by_label("I have read and agree").check()
    page.get_by_role("button", name="Sign and continue").click()

    _heading(page, "Health history")
    page.get_by_label("What brings you in? What would you like help with?").fill("Trouble sleeping since spring.")
    page.get_by_label("Have you had counseling or therapy before?").select_option("no")
    page.get_by_label("Have you ever been hospitalized for mental health?").select_option("no")
    page.get_by_label("Do alcohol or drugs cause you problems?").select_option("no")
    page.get_by_role("button", name="Save and continue").click()

    _heading(page, "Questionnaires")
    for code in ("PHQ-9", "GAD-7"):
        page.get_by_role("link", name=f"Answer {code}").click()
        _answer_questionnaire(page, {0: 1, 1: 1})  # "several days" for the first two questions
        page.get_by_role("link", name="Forms").first.click()
        page.get_by_role("button", name="Continue").click()
        _heading(page, "Questionnaires")
    assert page.get_by_text("Answered: PHQ-9").is_visible()
    assert page.get_by_text("Answered: GAD-7").is_visible()
    page.get_by_role("button", name="Continue").click()

    _heading(page, "Review and send")
    assert page.get_by_text("Dee", exact=True).is_visible()
    assert page.get_by_text("BVH123456789").is_visible()
    assert page.get_by_text("Card photos: front").is_visible()
    _no_sideways_scroll(page)
    page.get_by_role("button", name="Send to the practice").click()
    page.wait_for_selector("text=Your forms were sent to the practice for review.")
    assert page.get_by_text("Waiting for review by the practice.").is_visible()

    # --- Book an open slot --------------------------------------------------------------------------
    page.get_by_role("link", name="Appointments").first.click()
    page.get_by_role("link", name="Book an appointment").click()
    page.wait_for_selector("[data-slot]")
    _no_sideways_scroll(page)
    page.locator("[data-slot]").first.click()
    _heading(page, "Confirm your appointment")
    when = page.locator("[data-when]").inner_text()
    page.get_by_role("button", name="Book this time").click()
    page.wait_for_selector("text=Your appointment is booked.")
    page.get_by_role("link", name="Appointments").first.click()
    upcoming = page.locator("[data-upcoming]").inner_text()
    assert "Therapy session with Ana Ortiz" in upcoming and "Main Street office" in upcoming

    # --- A PHQ-9 the clinician asks for ---------------------------------------------------------------
    with scopes_disabled():
        administration_request(patient=patient, instrument_code="PHQ-9", channel=DeliveryChannel.PORTAL, by=clinician)
    page.get_by_role("link", name="Home").click()
    assert page.get_by_text("1 questionnaire to answer.").is_visible()
    page.get_by_role("link", name="Answer now").click()
    _heading(page, "Questionnaires")
    page.locator("[data-due] a").first.click()
    _heading(page, "Patient Health Questionnaire")
    _answer_questionnaire(page, {0: 2, 1: 2, 2: 1})  # 2 + 2 + 1 = 5: mild
    assert re.search(r"\b5\b", page.locator("[data-score]").inner_text())
    page.get_by_role("link", name="Back to questionnaires").click()
    assert page.get_by_text("Nothing to complete right now.").is_visible()
    history = page.locator("[data-shared='PHQ-9'] tbody").inner_text()
    assert history.count("\n") == 1, history  # two PHQ-9 scores: the intake's and today's

    # --- The patient writes to the practice ------------------------------------------------------------
    page.get_by_role("link", name="Messages").first.click()
    page.get_by_role("link", name="New message").click()
    page.get_by_label("Subject").fill("Before my first visit")
    page.get_by_label("Message", exact=True).fill("Is there parking near the Main Street office?")
    page.get_by_role("button", name="Send message").click()
    page.wait_for_selector("text=Your message was sent.")
    _heading(page, "Before my first visit")
    page.locator(".pm-back a").click()
    _heading(page, "Messages")
    assert page.locator(".pm-thread--unread").count() == 0

    # --- The clinician replies from the inbox ---------------------------------------------------------
    desk_clinician = _staff_context(browser, live_server, clinician)
    doctor = desk_clinician.new_page()
    doctor.goto("/p/riverside/")
    doctor.get_by_role("link", name="Messages").first.click()
    doctor.get_by_role("link", name="Before my first visit").click()
    assert doctor.get_by_text("Is there parking near the Main Street office?").is_visible()
    doctor.get_by_label("Message", exact=True).fill("Yes: the lot behind the building is free for patients.")
    doctor.get_by_role("button", name="Send reply").click()
    doctor.wait_for_selector("text=Not yet read by the patient")
    thread_url = doctor.url

    # --- Front desk accepts the intake; the chart shows it ---------------------------------------------
    staff.goto("/p/riverside/")
    staff.get_by_role("link", name="Intake forms").click()
    staff.get_by_role("link", name="Dana Reyes").click()
    staff.wait_for_selector("[data-changed='preferred_name']")
    assert staff.get_by_role("link", name="Insurance card, front").is_visible()
    staff.get_by_role("button", name="Accept").click()
    staff.wait_for_selector("text=Accepted: the answers, coverage and documents are in the chart.")
    staff.goto(f"/p/riverside/patients/{patient.public_id}/")
    chart = staff.locator("main").inner_text()
    assert "Dee" in chart and "4 Oak Ave" in chart and "Salem, OR 97301" in chart
    assert "Blue Valley Health" in staff.locator("#billing").inner_text()
    assert "BVH123456789" in staff.locator("#billing").inner_text()

    doctor.goto(f"/p/riverside/patients/{patient.public_id}/")
    documents = doctor.locator("#documents").inner_text()
    assert "Informed consent for outpatient mental-health treatment (version 1)" in documents
    assert "Insurance card, front" in documents
    assert "Intake health history" in documents

    # --- Back on the phone: the reply is marked new -----------------------------------------------------
    page.reload()
    assert page.locator("[data-nav-badge]").inner_text().startswith("1")
    assert "1 new" in page.locator(".pm-thread--unread").inner_text()
    page.get_by_role("link", name=re.compile("Before my first visit")).click()
    page.wait_for_selector("text=the lot behind the building is free for patients.")
    assert page.locator("[data-nav-badge]").count() == 0
    _no_sideways_scroll(page)
    doctor.goto(thread_url)
    doctor.wait_for_selector("text=Read by the patient")

    phone.close()
    office.close()
    desk_clinician.close()

    # --- The database agrees ----------------------------------------------------------------------------
    with scopes_disabled():
        access = PortalAccess.all_objects.get(patient=patient, is_active=True)
        assert access.user.email == "dana@example.test" and access.relationship == "self"
        patient = Patient.all_objects.get(pk=patient.pk)
        assert (patient.preferred_name, patient.address_line1, patient.city, patient.state) == (
            "Dee",
            "4 Oak Ave",
            "Salem",
            "OR",
        )
        submission = IntakeSubmission.all_objects.get(patient=patient)
        assert submission.status == IntakeSubmission.Status.ACCEPTED and submission.reviewed_by == desk
        coverage = Coverage.all_objects.get(patient=patient)
        assert (coverage.payer, coverage.member_id, coverage.group_number, coverage.relationship) == (
            payer,
            "BVH123456789",
            "GRP-77",
            Coverage.Relationship.SELF,
        )
        upload = IntakeUpload.all_objects.get(submission=submission)
        assert upload.kind == "card_front" and upload.document.category == Document.Category.INSURANCE
        categories = sorted(Document.all_objects.filter(patient=patient).values_list("category", flat=True))
        assert categories == sorted([Document.Category.CONSENT, Document.Category.INSURANCE, Document.Category.INTAKE])
        assert Document.all_objects.get(patient=patient, category="consent").signed_by_name == "Dana Reyes"
        appointment = Appointment.objects.get(attendees__patient=patient)
        assert appointment.clinician == clinician and appointment.location == location
        assert appointment.starts_at.strftime("%B %-d") in when
        phq9 = list(Response.all_objects.filter(patient=patient, instrument_code="PHQ-9").order_by("completed_at"))
        assert [r.total for r in phq9] == [2, 5] and all(r.mode == Response.Mode.PORTAL for r in phq9)
        assert Response.all_objects.get(patient=patient, instrument_code="GAD-7").total == 2
        assert not Administration.all_objects.filter(patient=patient).exclude(status="completed").exists()
        messages = list(ThreadMessage.all_objects.filter(thread__patient=patient).order_by("sent_at", "id"))
        assert [m.sender_user_id is not None for m in messages] == [True, False]
        assert messages[0].sender_user == access.user and messages[1].sender_member == clinician
        assert messages[1].read_by_patient_at is not None
