"""Copay at check-in on the appointment page (helper R2)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from billing import selectors_patient_billing as sel
from billing.models import PatientPayment
from billing.tests import factories as bf
from practice.permissions import Role
from practice.scoping import practice_scope
from scheduling.tests.factories import appointment_with_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(practice_a, make_member):
    front = make_member(practice_a, Role.FRONT_DESK)
    clinician = make_member(practice_a, Role.CLINICIAN)
    with practice_scope(practice_a):
        appointment = appointment_with_patient(practice_a)
        attendee = appointment.attendees.select_related("patient").first()
        bf.CoverageFactory(practice=practice_a, patient=attendee.patient, copay_cents=3000)
    return {
        "practice": practice_a,
        "front": front,
        "clinician": clinician,
        "appointment": appointment,
        "patient": attendee.patient,
    }


def detail_url(visit):
    return reverse(
        "appointment_detail",
        kwargs={"practice_slug": visit["practice"].slug, "appointment_id": visit["appointment"].public_id},
    )


def copay_url(visit):
    return reverse(
        "appointment_copay",
        kwargs={"practice_slug": visit["practice"].slug, "appointment_id": visit["appointment"].public_id},
    )


def test_front_desk_sees_copay_and_records_it(visit, client, login):
    login(visit["front"])
    page = client.get(detail_url(visit))
    assert page.status_code == 200
    assert b"Collect copay" in page.content and b"copay $30.00" in page.content
    response = client.post(
        copay_url(visit), {"patient": str(visit["patient"].public_id), "amount": "30.00", "method": "card"}
    )
    assert response.status_code == 302
    with practice_scope(visit["practice"]):
        payment = PatientPayment.objects.get()
        assert (
            payment.is_copay and payment.appointment == visit["appointment"] and payment.recorded_by == visit["front"]
        )
        assert sel.patient_credit_available(patient=visit["patient"]) == Decimal("30.00")
    assert b"$30.00 collected" in client.get(detail_url(visit)).content


def test_clinician_sees_no_copay_panel_and_cannot_post(visit, client, login):
    login(visit["clinician"])
    page = client.get(detail_url(visit))
    if page.status_code == 200:
        assert b"Collect copay" not in page.content
    response = client.post(
        copay_url(visit), {"patient": str(visit["patient"].public_id), "amount": "30.00", "method": "card"}
    )
    assert response.status_code in (403, 404)
    with practice_scope(visit["practice"]):
        assert PatientPayment.objects.count() == 0


def test_copay_for_someone_not_on_the_appointment_is_404(visit, client, login, practice_a):
    from clinical.tests.factories import PatientFactory

    with practice_scope(practice_a):
        stranger = PatientFactory(practice=practice_a)
    login(visit["front"])
    response = client.post(copay_url(visit), {"patient": str(stranger.public_id), "amount": "30.00", "method": "card"})
    assert response.status_code == 404
