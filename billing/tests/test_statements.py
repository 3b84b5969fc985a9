"""Statements, superbills and the patient balance page (helper R2)."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from billing import selectors_patient_billing as sel
from billing import services_patient_billing as spb
from billing.models import Charge, PatientPayment, Statement
from billing.services_charges import charge_ledger_post
from billing.tests import factories as bf
from clinical.tests.factories import PatientFactory
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db
D = Decimal


def pdf_text(content: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages).split())


def make_charges(practice, patient, n=1, cents=15000):
    charges = []
    for i in range(n):
        charge = bf.ChargeFactory(
            practice=practice,
            patient=patient,
            coverage=None,
            kind=Charge.Kind.PATIENT,
            status=Charge.Status.PATIENT,
            fee_cents=cents,
            service_date=timezone.localdate() - timedelta(days=10 + i),
        )
        charge_ledger_post(charge=charge)
        charges.append(charge)
    return charges


@pytest.fixture
def world(practice_a, make_member):
    biller = make_member(practice_a, Role.BILLER)
    front = make_member(practice_a, Role.FRONT_DESK)
    with practice_scope(practice_a):
        profile = bf.BillingProfileFactory(practice=practice_a)
        patient = PatientFactory(practice=practice_a)
        charges = make_charges(practice_a, patient)
    return {
        "practice": practice_a,
        "biller": biller,
        "front": front,
        "patient": patient,
        "charges": charges,
        "profile": profile,
    }


def url(name, world, **kw):
    return reverse(
        name, kwargs={"practice_slug": world["practice"].slug, "patient_id": world["patient"].public_id, **kw}
    )


def test_statement_pdf_contains_the_balance(world, client, login):
    with practice_scope(world["practice"]):
        spb.payment_record(patient=world["patient"], amount="20.00", method="cash")
        statement = spb.statement_issue(patient=world["patient"], period_end=timezone.localdate())
    login(world["biller"])
    response = client.get(url("statement_pdf", world, statement_id=statement.public_id))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "$130.00" in text and "Patient statement" in text
    assert world["patient"].mrn in text


def test_superbill_has_npi_tin_cpt_icd_and_amounts(world, client, login):
    with practice_scope(world["practice"]):
        spb.payment_record(patient=world["patient"], amount="150.00", method="card")
        npi = bf.m.RenderingProvider.objects.get(membership=world["charges"][0].rendering).npi
    login(world["front"])
    start = (timezone.localdate() - timedelta(days=60)).isoformat()
    response = client.get(url("superbill_pdf", world) + f"?start={start}&end={timezone.localdate().isoformat()}")
    assert response.status_code == 200
    text = pdf_text(response.content)
    profile = world["profile"]
    for expected in (profile.npi, profile.tin, npi, "90834", "F33.1", "$150.00", world["practice"].name):
        assert expected in text, expected


def test_superbill_outside_the_dates_is_empty(world, client, login):
    login(world["biller"])
    response = client.get(url("superbill_pdf", world) + "?start=2001-01-01&end=2001-12-31")
    assert "No services in this period" in pdf_text(response.content)
    assert client.get(url("superbill_pdf", world) + "?start=nope").status_code == 404


def test_balance_page_records_payment_and_front_desk_cannot_refund(world, client, login):
    login(world["front"])
    page = client.get(url("patient_balance", world))
    assert page.status_code == 200 and b"$150.00" in page.content
    response = client.post(url("patient_balance", world), {"action": "pay", "amount": "200.00", "method": "cash"})
    assert response.status_code == 302
    with practice_scope(world["practice"]):
        assert sel.patient_balance(patient=world["patient"]) == D("-50.00")
    assert (
        client.post(url("patient_balance", world), {"action": "refund", "amount": "10", "method": "cash"}).status_code
        == 404
    )


def test_biller_refunds_and_overrefund_is_a_form_error(world, client, login):
    with practice_scope(world["practice"]):
        spb.payment_record(patient=world["patient"], amount="160.00", method="cash")
    login(world["biller"])
    too_much = client.post(url("patient_balance", world), {"action": "refund", "amount": "500", "method": "cash"})
    assert too_much.status_code == 200 and b"At most $160.00" in too_much.content
    ok = client.post(url("patient_balance", world), {"action": "refund", "amount": "10", "method": "cash"})
    assert ok.status_code == 302
    with practice_scope(world["practice"]):
        assert PatientPayment.objects.filter(kind=PatientPayment.Kind.REFUND).count() == 1
        assert sel.patient_credit_available(patient=world["patient"]) == 0


def test_issue_statement_from_the_page_is_idempotent(world, client, login):
    login(world["biller"])
    client.post(url("patient_balance", world), {"action": "statement"})
    client.post(url("patient_balance", world), {"action": "statement"})
    with practice_scope(world["practice"]):
        assert Statement.objects.filter(patient=world["patient"]).count() == 1
    assert b"statements/" in client.get(url("patient_balance", world)).content


@pytest.mark.parametrize("n", [1, 6])
def test_balance_page_queries_are_bounded(world, client, login, django_assert_max_num_queries, n):
    with practice_scope(world["practice"]):
        make_charges(world["practice"], world["patient"], n=n)
        for _ in range(n):
            spb.payment_record(patient=world["patient"], amount="30.00", method="cash")
        spb.statement_issue(patient=world["patient"], period_end=timezone.localdate())
    login(world["biller"])
    with django_assert_max_num_queries(30):
        assert client.get(url("patient_balance", world)).status_code == 200


def test_monthly_batch_issues_and_emails_without_amounts(practice_a, practice_b, django_capture_on_commit_callbacks):
    from billing.tasks_statements import statements_monthly_task
    from clinical.services.patients import consent_record
    from notifications.models import Message

    end = timezone.localdate()
    with practice_scope(practice_a):
        owes = PatientFactory(practice=practice_a)
        make_charges(practice_a, owes, cents=4321)
        settled = PatientFactory(practice=practice_a)
        make_charges(practice_a, settled)
        spb.payment_record(patient=settled, amount="150.00", method="cash")
        consent_record(patient=owes, by=None, channel="email", is_granted=True)
    with practice_scope(practice_b):
        other = PatientFactory(practice=practice_b)
        make_charges(practice_b, other)
    with django_capture_on_commit_callbacks(execute=False):
        assert statements_monthly_task.apply(kwargs={"period_end": end.isoformat()}).get() == 2
        statements_monthly_task.apply(kwargs={"period_end": end.isoformat()}).get()  # idempotent
    with practice_scope(practice_a):
        statements = list(Statement.objects.all())
        assert [s.patient_id for s in statements] == [owes.pk]
        assert statements[0].balance_due == D("43.21")
        message = Message.objects.get(patient=owes)
        assert f"Your statement from {practice_a.name} is ready" in message.subject
        assert "43" not in message.subject + message.body and "$" not in message.body
        assert statements[0].emailed_at is not None
    with practice_scope(practice_b):
        assert Statement.objects.count() == 1
