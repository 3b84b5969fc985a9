"""Portal questionnaires and billing: a PHQ-9 completed in the portal scores like the token link and
opens a risk alert on item 9; shared vs unshared results; completed and expired questionnaires;
statement and superbill PDFs; bounded queries."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from assessments.models import Administration, Response, RiskAlert
from assessments.tests.factories import AdministrationFactory, ResponseFactory
from billing.tests.factories import PatientPaymentFactory, StatementFactory
from clinical.tests.factories import PatientFactory
from portal.tests.factories import PortalAccessFactory, PortalSettingsFactory
from practice.permissions import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(practice_a, make_member, client):
    clinician = make_member(practice_a, Role.CLINICIAN)
    with scopes_disabled():
        patient = PatientFactory(practice=practice_a, primary_clinician=clinician)
        access = PortalAccessFactory(practice=practice_a, patient=patient)
    client.force_login(access.user)
    return type("W", (), {"practice": practice_a, "clinician": clinician, "patient": patient, "access": access})


def _administration(world, **kwargs):
    with scopes_disabled():
        return AdministrationFactory(practice=world.practice, patient=world.patient, **kwargs)


def _phq9(values, difficulty=None):
    data = {f"item_{n}": str(v) for n, v in enumerate(values, start=1)}
    if difficulty is not None:
        data["difficulty"] = str(difficulty)
    return data


def _url(administration):
    return reverse("portal_questionnaire", kwargs={"administration_id": administration.public_id})


def test_due_questionnaires_are_listed_and_expired_or_done_ones_are_not(world, client):
    due = _administration(world)
    portal = _administration(world, channel="portal", status=Administration.Status.SCHEDULED, token_hash=None)
    expired = _administration(world, expires_at=timezone.now() - timedelta(hours=1))
    done = _administration(world, status=Administration.Status.COMPLETED)
    later = _administration(
        world, status=Administration.Status.SCHEDULED, due_at=timezone.now() + timedelta(days=3), token_hash=None
    )
    html = client.get(reverse("portal_questionnaires")).content.decode()
    assert str(due.public_id) in html and str(portal.public_id) in html
    for hidden in (expired, done, later):
        assert str(hidden.public_id) not in html


def test_phq9_in_the_portal_scores_like_the_link_and_opens_a_risk_alert_on_item_9(world, client):
    administration = _administration(world)
    page = client.get(_url(administration))
    assert page.status_code == 200 and page.content.decode().count('type="radio"') == 9 * 4 + 4
    response = client.post(_url(administration), _phq9([1, 1, 1, 1, 1, 1, 1, 1, 2], difficulty=1))
    assert response.status_code == 200
    html = response.content.decode()
    assert "have been sent to your care team" in html
    assert "data-score" not in html  # PHQ-9 not shared by this practice
    with scopes_disabled():
        stored = Response.all_objects.get(administration=administration)
        assert stored.mode == "portal" and stored.total == 10 and stored.difficulty == 1
        assert stored.severity_label == "Moderate"
        administration.refresh_from_db()
        assert administration.status == Administration.Status.COMPLETED
        assert RiskAlert.all_objects.filter(response=stored, patient=world.patient).count() == 1
    again = client.get(_url(administration)).content.decode()
    assert "already completed" in again
    assert client.post(_url(administration), _phq9([0] * 9)).status_code == 200
    with scopes_disabled():
        assert Response.all_objects.filter(patient=world.patient).count() == 1


def test_a_shared_instrument_shows_the_score_and_its_history(world, client):
    with scopes_disabled():
        PortalSettingsFactory(practice=world.practice, shared_instruments=["PHQ-9"])
        ResponseFactory(
            practice=world.practice, patient=world.patient, completed_at=timezone.now() - timedelta(days=30)
        )
        ResponseFactory(
            practice=world.practice,
            patient=world.patient,
            instrument_code="GAD-7",
            answers=[1] * 7,
            total=7,
            severity="mild",
            severity_label="Mild",
        )
    administration = _administration(world)
    html = client.post(_url(administration), _phq9([0, 0, 0, 0, 0, 0, 0, 1, 0], difficulty=0)).content.decode()
    assert "data-score" in html and "minimal" in html
    listing = client.get(reverse("portal_questionnaires")).content.decode()
    assert 'data-shared="PHQ-9"' in listing and "mbc-plot" in listing
    assert 'data-shared="GAD-7"' not in listing  # not shared: never shown


def test_an_expired_questionnaire_explains_and_stores_nothing(world, client):
    administration = _administration(world, expires_at=timezone.now() - timedelta(minutes=1))
    page = client.post(_url(administration), _phq9([1] * 9, difficulty=1))
    assert "no longer open" in page.content.decode()
    with scopes_disabled():
        assert not Response.all_objects.filter(patient=world.patient).exists()


def test_billing_page_lists_balance_statements_and_payments(world, client):
    with scopes_disabled():
        statement = StatementFactory(practice=world.practice, patient=world.patient, balance_due=40)
        PatientPaymentFactory(practice=world.practice, patient=world.patient, amount=25)
        other = StatementFactory(practice=world.practice, patient=PatientFactory(practice=world.practice))
    html = client.get(reverse("portal_billing")).content.decode()
    assert str(statement.public_id) in html and "$25" in html and str(other.public_id) not in html
    pdf = client.get(reverse("portal_statement_pdf", kwargs={"statement_id": statement.public_id}))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    assert client.get(reverse("portal_statement_pdf", kwargs={"statement_id": other.public_id})).status_code == 404


def test_superbill_downloads_a_pdf_and_refuses_a_backwards_range(world, client):
    today = timezone.localdate()
    ok = client.get(reverse("portal_superbill"), {"start": today - timedelta(days=90), "end": today})
    assert ok.status_code == 200 and b"".join(ok.streaming_content).startswith(b"%PDF")
    bad = client.get(reverse("portal_superbill"), {"start": today, "end": today - timedelta(days=1)})
    assert bad.status_code == 400 and "on or before" in bad.content.decode()


def test_staff_cannot_use_the_patient_pages(world, make_member):
    from practice.tests.factories import sign_in

    staff = sign_in(Client(), world.clinician)
    assert staff.get(reverse("portal_billing")).status_code in (302, 403)


def test_pages_use_bounded_queries(world, client, django_assert_max_num_queries):
    with scopes_disabled():
        PortalSettingsFactory(practice=world.practice, shared_instruments=["PHQ-9", "GAD-7"])
        for days in range(10):
            ResponseFactory(
                practice=world.practice, patient=world.patient, completed_at=timezone.now() - timedelta(days=days * 14)
            )
            AdministrationFactory(
                practice=world.practice,
                patient=world.patient,
                token_hash=hashlib.sha256(f"q-{days}".encode()).hexdigest(),
            )
            StatementFactory(practice=world.practice, patient=world.patient)
            PatientPaymentFactory(practice=world.practice, patient=world.patient)
    client.get(reverse("portal_questionnaires"))  # warm up: audit chain heads
    with django_assert_max_num_queries(22):
        assert client.get(reverse("portal_questionnaires")).status_code == 200
    with django_assert_max_num_queries(25):
        assert client.get(reverse("portal_billing")).status_code == 200
