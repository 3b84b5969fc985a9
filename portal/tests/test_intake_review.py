"""Accepting intake into the chart at the service level: an insurance company typed by the patient,
a subscriber who is not the patient, self-pay, an existing coverage updated; setup pages."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from billing.models import Coverage, PatientBillingSettings
from billing.tests.factories import CoverageFactory, PayerFactory
from clinical.tests.factories import PatientFactory
from portal import services_intake as services
from portal.models import ConsentDocument, IntakePacket, IntakeStep, IntakeSubmission
from portal.tests.factories import IntakeSubmissionFactory, intake_packet_with_steps
from practice.permissions import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(make_member, practice_a):
    return make_member(practice_a, Role.FRONT_DESK)


def _submitted(practice, insurance: dict) -> IntakeSubmission:
    with scopes_disabled():
        packet = intake_packet_with_steps(practice)
        patient = PatientFactory(
            practice=practice, address_line1="1 Main St", city="Bend", state="OR", postal_code="97701"
        )
        step = packet.steps.get(kind=IntakeStep.Kind.INSURANCE)
        return IntakeSubmissionFactory(
            practice=practice,
            patient=patient,
            packet=packet,
            status=IntakeSubmission.Status.SUBMITTED,
            submitted_at=timezone.now(),
            data={str(step.pk): insurance},
        )


def test_a_typed_insurance_company_needs_staff_to_choose_the_payer(practice_a, desk):
    submission = _submitted(
        practice_a,
        {
            "has_insurance": "yes",
            "payer": "other",
            "payer_other": "Tiny Mutual",
            "member_id": "M1",
            "relationship": "18",
        },
    )
    with scope(practice=practice_a):
        payer = PayerFactory(practice=practice_a)
        with pytest.raises(services.DomainError) as refused:
            services.intake_accept(submission=submission, by=desk)
        assert refused.value.field == "payer"
        assert IntakeSubmission.objects.get(pk=submission.pk).status == "submitted"
        services.intake_accept(submission=submission, by=desk, payer=payer)
        assert Coverage.objects.get(patient=submission.patient).payer == payer


def test_subscriber_who_is_not_the_patient_gets_the_patients_address(practice_a, desk):
    with scopes_disabled():
        payer = PayerFactory(practice=practice_a)
    answers = {
        "has_insurance": "yes",
        "payer": str(payer.public_id),
        "member_id": "M2",
        "relationship": Coverage.Relationship.SPOUSE,
        "subscriber_first_name": "Lee",
        "subscriber_last_name": "Park",
        "subscriber_date_of_birth": "1980-02-03",
        "subscriber_sex": "M",
    }
    submission = _submitted(practice_a, answers)
    with scope(practice=practice_a):
        services.intake_accept(submission=submission, by=desk)
        coverage = Coverage.objects.get(patient=submission.patient)
    assert (coverage.relationship, coverage.subscriber_last_name, coverage.subscriber_date_of_birth) == (
        "01",
        "Park",
        date(1980, 2, 3),
    )
    assert (coverage.subscriber_city, coverage.subscriber_zip_code) == ("Bend", "97701")


def test_existing_primary_coverage_is_updated_not_duplicated(practice_a, desk):
    with scopes_disabled():
        payer = PayerFactory(practice=practice_a)
    submission = _submitted(
        practice_a, {"has_insurance": "yes", "payer": str(payer.public_id), "member_id": "NEW", "relationship": "18"}
    )
    with scopes_disabled():
        old = CoverageFactory(practice=practice_a, patient=submission.patient, payer=payer, member_id="OLD")
    with scope(practice=practice_a):
        services.intake_accept(submission=submission, by=desk)
        assert list(Coverage.objects.filter(patient=submission.patient).values_list("pk", "member_id")) == [
            (old.pk, "NEW")
        ]


def test_self_pay_is_recorded(practice_a, desk):
    submission = _submitted(practice_a, {"has_insurance": "no"})
    with scope(practice=practice_a):
        services.intake_accept(submission=submission, by=desk)
        assert PatientBillingSettings.objects.get(patient=submission.patient).self_pay is True
        assert not Coverage.objects.filter(patient=submission.patient).exists()


def test_returned_submission_can_be_changed_and_sent_again(practice_a, desk):
    submission = _submitted(practice_a, {"has_insurance": "no"})
    with scope(practice=practice_a):
        services.intake_return(submission=submission, by=desk, note="Add your card.")
        step = submission.packet.steps.get(kind=IntakeStep.Kind.HISTORY)
        saved = services.step_save(submission=submission, step=step, answers={"presenting_concerns": "x"})
        assert saved.status == "returned" and step.pk in saved.completed_steps
        with pytest.raises(services.DomainError):
            services.intake_return(submission=submission, by=desk, note="again")


def test_admin_creates_a_packet_and_a_consent_version_in_the_setup_pages(client, login, make_member, practice_a):
    login(make_member(practice_a, Role.ADMIN))
    slug = practice_a.slug
    consents = reverse("intake_consents", kwargs={"practice_slug": slug})
    assert (
        client.post(consents, {"key": "telehealth", "title": "Telehealth consent", "body": "I agree."}).status_code
        == 302
    )
    packets = reverse("intake_packets", kwargs={"practice_slug": slug})
    steps = "demographics\nconsent telehealth\nquestionnaires PHQ-9"
    bad = client.post(packets, {"name": "Short", "steps": "demographics\nconsent nope"})
    assert bad.status_code == 400 and "no consent with the key" in bad.content.decode()
    assert client.post(packets, {"name": "Short", "steps": steps, "is_default": "on"}).status_code == 302
    with scope(practice=practice_a):
        packet = IntakePacket.objects.get(name="Short")
        assert [s.kind for s in packet.steps.all()] == ["demographics", "consent", "questionnaires"]
        consent = ConsentDocument.objects.get(key="telehealth")
    url = reverse("intake_consent_version", kwargs={"practice_slug": slug, "consent_id": consent.public_id})
    assert client.post(url, {"title": "Telehealth consent", "body": "I agree, v2."}).status_code == 302
    with scope(practice=practice_a):
        assert list(ConsentDocument.objects.filter(key="telehealth").values_list("version", "is_current")) == [
            (2, True),
            (1, False),
        ]
        assert packet.steps.get(kind="consent").consent.version == 2


def test_front_desk_cannot_open_intake_setup(client, login, desk, practice_a):
    login(desk)
    assert client.get(reverse("intake_packets", kwargs={"practice_slug": practice_a.slug})).status_code == 403
