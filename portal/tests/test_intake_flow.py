"""Intake packet: the patient fills it in step by step, signs, uploads card photos and submits; staff
accept it into the chart (or return it); caseload and query bounds."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from billing.models import Coverage
from billing.tests.factories import PayerFactory
from clinical.models import Document
from clinical.tests.factories import PatientFactory
from portal import services_intake as services
from portal.models import IntakeSignature, IntakeStep, IntakeSubmission, IntakeUpload
from portal.tests.factories import PNG_BYTES, PortalAccessFactory, intake_packet_with_steps
from practice.permissions import Role

pytestmark = pytest.mark.django_db

DEMOGRAPHICS = {
    "legal_first_name": "Ana",
    "legal_middle_name": "",
    "legal_last_name": "Rivera",
    "preferred_name": "Annie",
    "pronouns": "she/her",
    "address_line1": "12 Elm St",
    "address_line2": "",
    "city": "Portland",
    "state": "or",
    "postal_code": "97201",
    "phone": "503-555-0101",
    "email": "ana@example.test",
    "emergency_contact_name": "Luis Rivera",
    "emergency_contact_phone": "503-555-0102",
    "emergency_contact_relationship": "Brother",
}
HISTORY = {
    "presenting_concerns": "Trouble sleeping, worry.",
    "previous_treatment": "no",
    "hospitalisations": "no",
    "substance_use": "no",
    "medications": "sertraline 50 mg",
}


@pytest.fixture
def world(practice_a):
    with scopes_disabled():
        patient = PatientFactory(
            practice=practice_a, legal_first_name="Ana", legal_last_name="Rivera", date_of_birth=date(1990, 5, 1)
        )
        access = PortalAccessFactory(practice=practice_a, patient=patient)
        packet = intake_packet_with_steps(practice_a)
        payer = PayerFactory(practice=practice_a, name="Acme Health")
        steps = {s.kind: s for s in packet.steps.all()}
    return {"access": access, "patient": patient, "packet": packet, "payer": payer, "steps": steps}


def _start(client, world) -> IntakeSubmission:
    client.force_login(world["access"].user)
    response = client.post(reverse("portal_intake"))
    assert response.status_code == 302
    with scopes_disabled():
        return IntakeSubmission.all_objects.get(patient=world["patient"])


def _step_url(submission, step) -> str:
    return reverse("portal_intake_step", kwargs={"submission_id": submission.public_id}) + f"?n={step.position}"


def _fill_all(client, world, submission):
    steps = world["steps"]
    assert client.post(_step_url(submission, steps["demographics"]), DEMOGRAPHICS).status_code == 302
    insurance = {
        "has_insurance": "yes",
        "payer": str(world["payer"].public_id),
        "member_id": "XJ123",
        "group_number": "G9",
        "relationship": Coverage.Relationship.SELF,
    }
    assert client.post(_step_url(submission, steps["insurance"]), insurance).status_code == 302
    upload_url = reverse("portal_intake_upload", kwargs={"submission_id": submission.public_id})
    client.post(upload_url, {"kind": "card_front", "file": SimpleUploadedFile("front.png", PNG_BYTES)})
    sign = {"typed_name": "  ana   RIVERA ", "agree": "on"}
    assert client.post(_step_url(submission, steps["consent"]), sign, REMOTE_ADDR="198.51.100.4").status_code == 302
    assert client.post(_step_url(submission, steps["history"]), HISTORY).status_code == 302
    # The questionnaire step: mark its administrations completed (helper P4 builds the answering page).
    client.get(_step_url(submission, steps["questionnaires"]))
    with scopes_disabled():
        from assessments.models import Administration

        Administration.all_objects.filter(patient=world["patient"]).update(status="completed")


def test_partial_progress_is_saved_and_resumed(client, world):
    submission = _start(client, world)
    response = client.post(_step_url(submission, world["steps"]["demographics"]), DEMOGRAPHICS)
    assert response.status_code == 302 and "n=2" in response["Location"]
    submission.refresh_from_db()
    assert submission.data[str(world["steps"]["demographics"].pk)]["state"] == "OR"
    assert submission.completed_steps == [world["steps"]["demographics"].pk]
    # Coming back: "Continue" goes to the first step not done, and the saved answers are shown.
    resumed = client.post(reverse("portal_intake"))
    assert resumed["Location"].endswith("?n=2")
    page = client.get(_step_url(submission, world["steps"]["demographics"]))
    assert 'value="Annie"' in page.content.decode()


def test_validation_errors_are_shown_and_nothing_is_saved(client, world):
    submission = _start(client, world)
    bad = {**DEMOGRAPHICS, "state": "Oregon", "postal_code": "9720", "email": "nope"}
    response = client.post(_step_url(submission, world["steps"]["demographics"]), bad)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Use a 5- or 9-digit ZIP code." in body and "Enter a valid email address." in body
    submission.refresh_from_db()
    assert submission.data == {} and submission.completed_steps == []


def test_signature_records_version_hash_ip_and_agent(client, world):
    submission = _start(client, world)
    step = world["steps"]["consent"]
    client.post(
        _step_url(submission, step),
        {"typed_name": "ana rivera", "agree": "on"},
        REMOTE_ADDR="198.51.100.4",
        HTTP_USER_AGENT="Phone/1.0",
    )
    with scopes_disabled():
        signature = IntakeSignature.all_objects.get(submission=submission)
        consent = step.consent
    assert signature.consent_version == consent.version
    assert signature.consent_sha256 == consent.body_sha256 == services.sha256_text(consent.body)
    assert str(signature.ip_address) == "198.51.100.4" and signature.user_agent == "Phone/1.0"
    assert signature.signer == world["access"].user and signature.signer_relationship == "self"


def test_signature_with_another_name_or_unticked_box_is_refused(client, world):
    submission = _start(client, world)
    url = _step_url(submission, world["steps"]["consent"])
    wrong = client.post(url, {"typed_name": "Someone Else", "agree": "on"})
    assert wrong.status_code == 400 and "does not match" in wrong.content.decode()
    unticked = client.post(url, {"typed_name": "Ana Rivera"})
    assert unticked.status_code == 400
    with scopes_disabled():
        assert not IntakeSignature.all_objects.filter(submission=submission).exists()


def test_a_minor_signs_through_a_guardian_only(practice_a):
    with scopes_disabled():
        child = PatientFactory(practice=practice_a, date_of_birth=date(2015, 1, 1), guardian_name="Maria Lopez")
        own = PortalAccessFactory(practice=practice_a, patient=child)
        guardian = PortalAccessFactory(practice=practice_a, patient=child, relationship="guardian")
        packet = intake_packet_with_steps(practice_a)
    with scope(practice=practice_a):
        step = packet.steps.get(kind=IntakeStep.Kind.CONSENT)
        submission = services.submission_start(access=guardian, packet=packet)
        kwargs = {"submission": submission, "step": step, "agreed": True, "ip_address": None, "user_agent": ""}
        with pytest.raises(services.DomainError):
            services.consent_sign(access=own, typed_name=child.legal_name, **kwargs)
        signature = services.consent_sign(access=guardian, typed_name="maria lopez", **kwargs)
    assert signature.signer_relationship == "guardian"


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"<html><script>alert(1)</script></html>", "This file is another type."), (PNG_BYTES * 40, "larger than")],
)
def test_upload_of_wrong_type_or_size_is_rejected_with_a_message(client, world, settings, content, message):
    settings.TEND_MAX_UPLOAD_BYTES = 2048
    submission = _start(client, world)
    url = reverse("portal_intake_upload", kwargs={"submission_id": submission.public_id})
    response = client.post(url, {"kind": "card_front", "file": SimpleUploadedFile("card.png", content)}, follow=True)
    assert message in response.content.decode()
    with scopes_disabled():
        assert not IntakeUpload.all_objects.filter(submission=submission).exists()


def test_submit_needs_every_step_then_sends(client, world):
    submission = _start(client, world)
    url = reverse("portal_intake_review_submit", kwargs={"submission_id": submission.public_id})
    early = client.post(url)
    assert early.status_code == 400 and "Finish these steps first" in early.content.decode()
    _fill_all(client, world, submission)
    assert client.post(url).status_code == 302
    submission.refresh_from_db()
    assert submission.status == IntakeSubmission.Status.SUBMITTED and submission.submitted_at
    assert "Waiting for review" in client.get(reverse("portal_intake")).content.decode()


@pytest.fixture
def submitted(client, world):
    submission = _start(client, world)
    _fill_all(client, world, submission)
    client.post(reverse("portal_intake_review_submit", kwargs={"submission_id": submission.public_id}))
    client.logout()
    submission.refresh_from_db()
    assert submission.status == IntakeSubmission.Status.SUBMITTED
    return submission


def test_staff_accept_writes_patient_coverage_and_documents(client, login, make_member, world, submitted):
    member = make_member(submitted.practice, Role.FRONT_DESK)
    login(member)
    slug = submitted.practice.slug
    review = client.get(reverse("intake_review", kwargs={"practice_slug": slug, "submission_id": submitted.public_id}))
    assert review.status_code == 200 and 'data-changed="preferred_name"' in review.content.decode()
    url = reverse("intake_accept", kwargs={"practice_slug": slug, "submission_id": submitted.public_id})
    assert client.post(url).status_code == 302
    with scopes_disabled():
        patient = type(world["patient"]).all_objects.get(pk=world["patient"].pk)
        assert (patient.preferred_name, patient.city, patient.state, patient.email) == (
            "Annie",
            "Portland",
            "OR",
            "ana@example.test",
        )
        coverage = Coverage.all_objects.get(patient=patient, is_active=True)
        assert (coverage.payer, coverage.member_id, coverage.group_number, coverage.priority) == (
            world["payer"],
            "XJ123",
            "G9",
            "P",
        )
        documents = {d.category: d for d in Document.all_objects.filter(patient=patient)}
        assert set(documents) == {"insurance", "consent", "intake"}
        assert documents["consent"].signed_by_name == "ana RIVERA" and documents["consent"].signed_at
        assert documents["consent"].content_type == "application/pdf"
        assert IntakeUpload.all_objects.get(submission=submitted).document == documents["insurance"]
        submitted.refresh_from_db()
        assert submitted.status == "accepted" and submitted.reviewed_by == member
    # Accepting twice is refused and writes nothing more.
    again = client.post(url)
    assert again.status_code == 400 and "not waiting for review" in again.content.decode()
    with scopes_disabled():
        assert Document.all_objects.filter(patient=world["patient"]).count() == 3


def test_staff_return_with_note_reopens_for_the_patient(client, login, make_member, world, submitted):
    login(make_member(submitted.practice, Role.FRONT_DESK))
    slug = submitted.practice.slug
    url = reverse("intake_return", kwargs={"practice_slug": slug, "submission_id": submitted.public_id})
    assert client.post(url, {"note": ""}).status_code == 400
    assert client.post(url, {"note": "Please add the back of your card."}).status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == "returned" and submitted.review_note == "Please add the back of your card."
    client.logout()
    client.force_login(world["access"].user)
    page = client.get(reverse("portal_intake")).content.decode()
    assert "Please add the back of your card." in page


def test_clinician_sees_only_their_caseload(client, login, make_member, world, submitted):
    other = make_member(submitted.practice, Role.CLINICIAN)
    login(other)
    slug = submitted.practice.slug
    review = reverse("intake_review", kwargs={"practice_slug": slug, "submission_id": submitted.public_id})
    assert client.get(review).status_code == 404
    assert (
        str(submitted.public_id)
        not in client.get(reverse("intake_queue", kwargs={"practice_slug": slug})).content.decode()
    )
    with scopes_disabled():
        type(world["patient"]).all_objects.filter(pk=world["patient"].pk).update(primary_clinician=other)
    assert client.get(review).status_code == 200


def test_queue_queries_are_bounded(client, login, make_member, practice_a, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from portal.tests.factories import IntakeSubmissionFactory

    with scopes_disabled():
        packet = intake_packet_with_steps(practice_a)

    def add(n):
        with scopes_disabled():
            for _ in range(n):
                IntakeSubmissionFactory(
                    practice=practice_a, packet=packet, status="submitted", submitted_at="2026-01-01T10:00Z"
                )

    login(make_member(practice_a, Role.FRONT_DESK))
    url = reverse("intake_queue", kwargs={"practice_slug": practice_a.slug})
    add(1)
    client.get(url)  # warm the per-session caches
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    add(9)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(url)
    assert response.content.decode().count("data-submission=") == 10
