"""Patient billing (helper R2): charges in the ledger, payments, allocation, copays, credits,
refunds, statements and the backfill."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing import selectors_patient_billing as sel
from billing import services_patient_billing as spb
from billing.ledger import balance, trial_balance
from billing.models import Charge, LedgerAccount, LedgerTransaction, PaymentAllocation
from billing.services_charges import charge_ledger_post, charge_void
from billing.tests import factories as bf
from clinical.tests.factories import PatientFactory
from practice.errors import DomainError
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def scope(practice_a):
    with practice_scope(practice_a):
        yield practice_a


def patient_charge(practice, patient, *, cents, days_ago, post=True):
    charge = bf.ChargeFactory(
        practice=practice,
        coverage=None,
        patient=patient,
        kind=Charge.Kind.PATIENT,
        status=Charge.Status.PATIENT,
        fee_cents=cents,
        service_date=timezone.localdate() - timedelta(days=days_ago),
    )
    if post:
        charge_ledger_post(charge=charge)
    return charge


def test_charge_posts_to_patient_or_insurance_ar_once(scope):
    patient = PatientFactory(practice=scope)
    mine = patient_charge(scope, patient, cents=12345, days_ago=2)
    insured = bf.ChargeFactory(practice=scope, fee_cents=15000)
    charge_ledger_post(charge=insured)
    charge_ledger_post(charge=insured)  # idempotent
    assert balance(LedgerAccount.PATIENT_AR, charge=mine) == D("123.45")
    assert balance(LedgerAccount.INSURANCE_AR, charge=insured) == D("150.00")
    assert balance(LedgerAccount.CHARGES) == D("-273.45")
    assert LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.CHARGE).count() == 2


def test_captured_charge_is_in_the_ledger_in_the_same_transaction(scope):
    from billing.services_charges import _create_once

    patient = PatientFactory(practice=scope)
    _charge, created = _create_once(
        practice=scope,
        patient=patient,
        kind=Charge.Kind.PATIENT,
        status=Charge.Status.PATIENT,
        source="no_show_fee",
        service_date=timezone.localdate(),
        cpt="",
        fee_cents=5000,
        description="No-show fee",
        idempotency_key="fee:test",
    )
    assert created
    assert sel.patient_balance(patient=patient) == D("50.00")


def test_void_reverses_the_charge(scope):
    patient = PatientFactory(practice=scope)
    charge = patient_charge(scope, patient, cents=8000, days_ago=1)
    charge_void(charge=charge)
    charge_void(charge=charge)  # idempotent
    assert sel.patient_balance(patient=patient) == 0
    assert balance(LedgerAccount.CHARGES) == 0
    assert LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.REVERSAL).count() == 1


def test_payment_goes_to_oldest_charges_first_then_credit(scope):
    patient = PatientFactory(practice=scope)
    old = patient_charge(scope, patient, cents=3000, days_ago=20)
    new = patient_charge(scope, patient, cents=5000, days_ago=5)
    payment = spb.payment_record(patient=patient, amount="50.00", method="cash")
    allocated = dict(payment.allocations.values_list("charge_id", "amount"))
    assert allocated == {old.pk: D("30.00"), new.pk: D("20.00")}
    assert sel.patient_balance(patient=patient) == D("30.00")
    spb.payment_record(patient=patient, amount="40.00", method="check", reference="1042")
    assert sel.patient_balance(patient=patient) == D("-10.00")
    assert sel.patient_credit_available(patient=patient) == D("10.00")
    assert sel.open_patient_charges(patient=patient) == []
    assert sum(trial_balance().values()) == 0


def test_payment_to_chosen_charges(scope):
    patient = PatientFactory(practice=scope)
    old = patient_charge(scope, patient, cents=3000, days_ago=20)
    new = patient_charge(scope, patient, cents=5000, days_ago=5)
    payment = spb.payment_record(patient=patient, amount="50.00", method="card", charges=[new])
    assert dict(payment.allocations.values_list("charge_id", "amount")) == {new.pk: D("50.00")}
    assert dict((c.pk, due) for c, due in sel.open_patient_charges(patient=patient)) == {old.pk: D("30.00")}
    with pytest.raises(DomainError):
        spb.payment_record(patient=patient, amount="5.00", method="card", charges=[new])


@pytest.mark.parametrize("bad", ["0", "-5", "abc"])
def test_payment_amount_must_be_positive(scope, bad):
    patient = PatientFactory(practice=scope)
    with pytest.raises(DomainError):
        spb.payment_record(patient=patient, amount=bad, method="cash")


def test_copay_held_as_credit_then_applied(scope):
    from scheduling.tests.factories import AppointmentFactory

    patient = PatientFactory(practice=scope)
    appointment = AppointmentFactory(practice=scope)
    older = patient_charge(scope, patient, cents=2000, days_ago=40)
    payment = spb.copay_collect(appointment=appointment, patient=patient, amount="25.00", method="card")
    assert payment.is_copay and payment.appointment == appointment
    assert payment.allocations.count() == 0  # not that day's charge: held as credit
    assert sel.patient_credit_available(patient=patient) == D("25.00")
    spb.credit_apply(patient=patient)
    assert sel.patient_credit_available(patient=patient) == D("5.00")
    assert sel.open_patient_charges(patient=patient) == []
    assert sel.patient_balance(patient=patient) == D("-5.00")
    assert older.pk


def test_refund_only_up_to_credit_and_paid(scope):
    patient = PatientFactory(practice=scope)
    charge = patient_charge(scope, patient, cents=4000, days_ago=3)
    spb.payment_record(patient=patient, amount="50.00", method="cash")  # 40 paid + 10 credit
    with pytest.raises(DomainError):
        spb.refund_record(patient=patient, amount="50.01", method="cash")
    refund = spb.refund_record(patient=patient, amount="10.00", method="cash")
    assert sel.patient_credit_available(patient=patient) == 0
    assert refund.allocations.count() == 0
    refund2 = spb.refund_record(patient=patient, amount="15.00", method="check")
    assert dict(refund2.allocations.values_list("charge_id", "amount")) == {charge.pk: D("-15.00")}
    assert sel.patient_balance(patient=patient) == D("15.00")
    assert balance(LedgerAccount.CASH) == D("25.00")
    with pytest.raises(DomainError):
        spb.refund_record(patient=patient, amount="25.01", method="cash")
    assert PaymentAllocation.objects.count() == 2


def test_statement_frozen_and_idempotent(scope):
    patient = PatientFactory(practice=scope)
    patient_charge(scope, patient, cents=9000, days_ago=10)
    spb.payment_record(
        patient=patient, amount="20.00", method="cash", received_on=timezone.localdate() - timedelta(days=9)
    )
    end = timezone.localdate() - timedelta(days=1)
    statement = spb.statement_issue(patient=patient, period_end=end)
    assert statement.balance_due == D("70.00")
    assert statement.lines[0]["charge"] == "90.00" and statement.lines[0]["patient_paid"] == "20.00"
    assert statement.lines[0]["balance"] == "70.00"
    spb.payment_record(patient=patient, amount="70.00", method="cash")
    again = spb.statement_issue(patient=patient, period_end=end)
    assert again.pk == statement.pk and again.balance_due == D("70.00")
    nxt = spb.statement_issue(patient=patient, period_end=timezone.localdate())
    assert nxt.period_start == end + timedelta(days=1) and nxt.balance_due == 0


def test_backfill_posts_old_charges_once(scope):
    patient = PatientFactory(practice=scope)
    patient_charge(scope, patient, cents=1000, days_ago=3, post=False)
    voided = patient_charge(scope, patient, cents=2000, days_ago=2, post=False)
    Charge.objects.filter(pk=voided.pk).update(status=Charge.Status.VOID)
    call_command("ledger_backfill", "--practice", scope.slug)
    call_command("ledger_backfill")
    assert sel.patient_balance(patient=patient) == D("10.00")
    assert LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.CHARGE).count() == 2
    assert LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.REVERSAL).count() == 1


def test_superbill_rows(scope):
    patient = PatientFactory(practice=scope)
    charge = bf.ChargeFactory(practice=scope, patient=patient, coverage=None, kind=Charge.Kind.PATIENT, fee_cents=15000)
    charge_ledger_post(charge=charge)
    spb.payment_record(patient=patient, amount="100.00", method="cash")
    rows = sel.superbill_rows(patient=patient, start=date(2000, 1, 1), end=timezone.localdate())
    assert len(rows) == 1
    row = rows[0]
    assert row["cpt"] == "90834" and row["icd10"] == "F33.1"
    assert row["charged"] == D("150.00") and row["paid"] == D("100.00")
    assert row["npi"] and len(row["npi"]) == 10


def test_note_charge_is_in_the_ledger_and_voiding_its_draft_claim_reverses_it(practice_a):
    from billing import services_charges as sc
    from billing import services_claims as claims
    from billing.tests.claims_world import make_world, signed_note
    from practice.permissions import Role
    from practice.tests.factories import MembershipFactory

    with practice_scope(practice_a):
        world = make_world(practice_a, patients=1)
        biller = MembershipFactory(practice=practice_a, role=Role.BILLER)
        note = signed_note(world.patients[0], world.clinician, days_ago=2)
        charge = sc.charges_for_note(note_id=note.pk).created[0]
        assert balance(LedgerAccount.INSURANCE_AR, charge=charge) == D(charge.fee_cents) / 100
        (claim,) = claims.claims_build(practice_id=practice_a.pk)
        claims.claim_void(claim=claim, by=biller)
        assert balance(LedgerAccount.INSURANCE_AR) == 0 and balance(LedgerAccount.CHARGES) == 0
