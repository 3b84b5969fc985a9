"""The chart header shows a patient's open risk alerts to every clinician who opens the chart;
only those who may act on the alert get a link to it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from assessments.models import RiskAlert
from assessments.services import response_record
from clinical.services.patients import patient_share
from clinical.tests.factories import PatientFactory
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(practice_a, make_member):
    clinician = make_member(practice_a, Role.CLINICIAN, email="primary@riverside.test")
    colleague = make_member(practice_a, Role.CLINICIAN, email="colleague@riverside.test")
    with practice_scope(practice_a):
        patient = PatientFactory(practice=practice_a, primary_clinician=clinician)
        patient_share(patient=patient, by=clinician, to_membership=colleague)
        response_record(patient=patient, instrument_code="PHQ-9", answers=[1, 1, 0, 0, 0, 0, 0, 0, 1], mode="link")
        alert = RiskAlert.objects.get()
    url = reverse("patient_chart", kwargs={"practice_slug": practice_a.slug, "patient_id": patient.public_id})
    return {"clinician": clinician, "colleague": colleague, "alert": alert, "url": url, "practice": practice_a}


def test_the_primary_clinician_sees_the_alert_in_the_chart_header_with_a_link(client, login, world):
    login(world["clinician"])
    page = client.get(world["url"]).content.decode()
    assert 'data-test="risk-alert-chip"' in page
    assert f"/alerts/{world['alert'].public_id}/" in page


def test_a_colleague_with_the_chart_sees_the_alert_but_gets_no_link(client, login, world):
    login(world["colleague"])
    page = client.get(world["url"]).content.decode()
    assert 'data-test="risk-alert-chip"' in page
    assert f"/alerts/{world['alert'].public_id}/" not in page


def test_the_chip_goes_once_the_alert_is_acknowledged(client, login, world):
    from assessments.services_alerts import risk_alert_acknowledge

    with practice_scope(world["practice"]):
        risk_alert_acknowledge(alert=world["alert"], by=world["clinician"], action="contacted")
    login(world["clinician"])
    assert 'data-test="risk-alert-chip"' not in client.get(world["url"]).content.decode()
