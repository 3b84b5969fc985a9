"""The demo patient portal (portal/demo.py via seed_demo) on the real demo world: the printed login
signs in at /portal/login/, the home page shows the unread message, the due PHQ-9 and the balance,
the billing page the statement; the intake was accepted into the chart; the staff inbox shows the
message waiting for a reply; a second run changes nothing."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from assessments.models import Administration, DeliveryChannel, Response
from billing.models import Statement
from clinical.models import Document, Patient
from portal import demo
from portal.models import (
    IntakeSignature,
    IntakeSubmission,
    MessageThread,
    PortalAccess,
    PortalAppointmentEvent,
    PortalInvitation,
    PortalSettings,
    ThreadMessage,
)
from practice.management.commands.seed_demo import DEFAULT_PASSWORD, SeedResult, result_as_table
from practice.models import AuditLogEntry, Membership, Practice, User
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


def _snapshot(practice: Practice) -> dict[str, int]:
    with practice_scope(practice):
        return {
            "users": User.objects.count(),
            "accesses": PortalAccess.objects.count(),
            "invitations": PortalInvitation.objects.count(),
            "submissions": IntakeSubmission.objects.count(),
            "documents": Document.objects.count(),
            "threads": MessageThread.objects.count(),
            "messages": ThreadMessage.objects.count(),
            "administrations": Administration.objects.count(),
            "responses": Response.objects.count(),
            "statements": Statement.objects.count(),
            "audit_entries": AuditLogEntry.all_objects.filter(practice=practice).count(),
        }


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """seed_demo once (the whole demo world, --json), then the portal seed again by hand."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            out = StringIO()
            call_command("seed_demo", "--json", stdout=out, stderr=StringIO())
            cedar = Practice.objects.get(slug="cedar")
            before = _snapshot(cedar)
            with practice_scope(cedar):
                again = demo.seed_portal(cedar, password=DEFAULT_PASSWORD)
            yield {"cedar": cedar, "data": json.loads(out.getvalue()), "before": before, "again": again}
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def login(seeded) -> dict:
    [login] = seeded["data"]["portal_patients"]
    return login


@pytest.fixture
def patient(seeded, login) -> Patient:
    with practice_scope(seeded["cedar"]):
        return Patient.objects.select_related("primary_clinician__user").get(mrn=login["patient_mrn"])


@pytest.fixture
def portal_client(client, login):
    response = client.post(reverse("portal_login"), {"email": login["email"], "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, "the printed portal login signs in"
    return client


def test_one_cedar_patient_of_elena_gets_a_printed_login(seeded, login, patient):
    assert login["practice"] == "cedar"
    assert login["email"] == demo.portal_email(patient) == patient.email
    assert login["email"].endswith("@patient.cedarbh.example")
    assert login["name"] == patient.display_name
    assert patient.primary_clinician.user.email == demo.CLINICIAN_EMAIL
    assert not patient.is_minor
    with practice_scope(seeded["cedar"]):
        access = PortalAccess.objects.get(patient=patient, is_active=True)
        assert access.user.email == login["email"] and not Membership.objects.filter(user=access.user).exists()
        assert PortalInvitation.objects.get(patient=patient).accepted_by == access.user
    table = result_as_table(SeedResult(password=DEFAULT_PASSWORD, practices=[seeded["cedar"]], portal_patients=[login]))
    assert "Patient portal (sign in at /portal/login/):" in table
    assert login["email"] in table and f"Password: {DEFAULT_PASSWORD}" in table


def test_portal_settings_open_booking_with_elena_and_share_phq9_gad7(seeded):
    with practice_scope(seeded["cedar"]):
        settings = PortalSettings.objects.get()
        assert settings.online_booking_enabled
        assert {"PHQ-9", "GAD-7"} <= set(settings.shared_instruments)
        assert settings.bookable_clinicians.filter(user__email=demo.CLINICIAN_EMAIL).exists()
        assert settings.intake_packet is not None and settings.intake_packet.steps.count() == 5


def test_the_home_page_shows_the_unread_message_the_due_phq9_and_the_balance(portal_client, seeded, patient):
    with practice_scope(seeded["cedar"]):
        due = Administration.objects.get(
            patient=patient, instrument_code="PHQ-9", channel=DeliveryChannel.PORTAL, status=Administration.Status.SENT
        )
        assert due.completed_at is None and not Response.objects.filter(administration=due).exists()
    page = portal_client.get(reverse("portal_home")).content.decode()
    assert "<strong>1 unread message</strong>" in page
    assert "to answer." in page and "None due." not in page
    assert "You owe <strong>$" in page
    questionnaires = portal_client.get(reverse("portal_questionnaires")).content.decode()
    assert str(due.public_id) in questionnaires


def test_the_billing_page_shows_the_statement(portal_client, seeded, patient):
    with practice_scope(seeded["cedar"]):
        statement = Statement.objects.get(patient=patient)
    page = portal_client.get(reverse("portal_billing")).content.decode()
    # the amount depends on which of Elena's patients the demo picks (it can be 0.00 on PostgreSQL's
    # ordering); what matters here is that the patient sees their statement
    assert f"{statement.balance_due:.2f}" in page


def test_messages_go_both_ways(seeded, patient):
    with practice_scope(seeded["cedar"]):
        threads = {t.subject: t for t in MessageThread.objects.filter(patient=patient)}
        assert set(threads) == {demo.FIRST_SUBJECT, demo.UNREAD_SUBJECT, demo.WAITING_SUBJECT}
        asked = list(threads[demo.FIRST_SUBJECT].messages.order_by("sent_at"))
        assert [m.from_patient for m in asked] == [True, False]
        assert asked[1].sender_member.user.email == demo.CLINICIAN_EMAIL and asked[1].read_by_patient_at
        assert asked[0].reads.filter(member__user__email=demo.CLINICIAN_EMAIL).exists()
        [note] = threads[demo.UNREAD_SUBJECT].messages.all()
        assert not note.from_patient and note.read_by_patient_at is None
        assert threads[demo.WAITING_SUBJECT].needs_reply and not threads[demo.FIRST_SUBJECT].needs_reply


def test_the_staff_inbox_shows_the_message_waiting_for_a_reply(client, seeded, login):
    from practice.tests.factories import sign_in

    with practice_scope(seeded["cedar"]):
        elena = Membership.objects.get(user__email=demo.CLINICIAN_EMAIL)
        waiting = MessageThread.objects.get(subject=demo.WAITING_SUBJECT)
    sign_in(client, elena)
    page = client.get(reverse("message_inbox", kwargs={"practice_slug": "cedar"})).content.decode()
    assert demo.WAITING_SUBJECT in page and str(waiting.public_id) in page


def test_the_intake_was_completed_and_accepted_into_the_chart(seeded, patient):
    with practice_scope(seeded["cedar"]):
        submission = IntakeSubmission.objects.get(patient=patient)
        assert submission.status == IntakeSubmission.Status.ACCEPTED
        assert submission.reviewed_by.user.email == demo.FRONT_DESK_EMAIL
        assert set(submission.completed_steps) == set(submission.packet.steps.values_list("pk", flat=True))
        signature = IntakeSignature.objects.get(submission=submission)
        assert signature.typed_name == patient.legal_name
        categories = set(Document.objects.filter(patient=patient).values_list("category", flat=True))
        assert {Document.Category.CONSENT, Document.Category.INTAKE} <= categories
        intake_codes = set(
            Response.objects.filter(patient=patient, mode=Response.Mode.PORTAL).values_list(
                "instrument_code", flat=True
            )
        )
        assert intake_codes == {"PHQ-9", "GAD-7"}


def test_the_patient_booked_a_telehealth_visit_and_has_an_upcoming_appointment(portal_client, seeded, patient):
    with practice_scope(seeded["cedar"]):
        event = PortalAppointmentEvent.objects.select_related("appointment").get(patient=patient)
        assert event.action == PortalAppointmentEvent.Action.BOOKED and event.appointment.is_telehealth
    page = portal_client.get(reverse("portal_home")).content.decode()
    assert "No upcoming appointments." not in page


def test_running_it_again_changes_nothing(seeded):
    assert seeded["again"]["changes"] == 0
    assert seeded["again"]["patients"] == seeded["data"]["portal_patients"]
    assert _snapshot(seeded["cedar"]) == seeded["before"]
