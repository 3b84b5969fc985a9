"""The ledger invariant (issue 7): after a random (seeded) sequence of charges, insurance payments,
contractual adjustments, patient-responsibility transfers, patient payments, reversals, refunds
and write-offs, every transaction sums to zero, the trial balance sums to zero, and each patient's
A/R equals a balance computed independently of the ledger."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import selectors_patient_billing as sel
from billing import services_patient_billing as spb
from billing.ledger import balance, credit, debit, ledger_post, ledger_reverse, money, trial_balance
from billing.models import Charge, LedgerAccount, LedgerEntry, LedgerTransaction
from billing.services_charges import charge_ledger_post
from billing.tests import factories as bf
from clinical.tests.factories import PatientFactory
from practice.errors import DomainError
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db
A = LedgerAccount
K = LedgerTransaction.Kind
D = Decimal


def _cents(rng, low, high) -> Decimal:
    return D(rng.randint(low, high)) / 100


@pytest.mark.parametrize("seed", [7, 2026, 31337])
def test_random_sequence_keeps_the_ledger_balanced(practice_a, seed):
    rng = random.Random(seed)
    with practice_scope(practice_a):
        patients = [PatientFactory(practice=practice_a) for _ in range(3)]
        payer = bf.PayerFactory(practice=practice_a)
        # Independent model: per patient, patient A/R + credit; per insurance charge, what is open.
        owed = {p.pk: D("0.00") for p in patients}
        ins_open: dict[int, Decimal] = {}
        insurance_total = D("0.00")
        cash = D("0.00")
        reversible: list[tuple[LedgerTransaction, int, Decimal, Decimal]] = []  # txn, patient, Δowed, Δins
        today = timezone.localdate()
        for step in range(120):
            patient = rng.choice(patients)
            action = rng.choice(
                ["charge", "charge", "insurance", "payment", "payment", "refund", "write_off", "reverse", "credit"]
            )
            key = f"inv:{seed}:{step}"
            if action == "charge":
                insured = rng.random() < 0.6
                charge = bf.ChargeFactory(
                    practice=practice_a,
                    patient=patient,
                    coverage=None,
                    kind=Charge.Kind.INSURANCE if insured else Charge.Kind.PATIENT,
                    status=Charge.Status.UNBILLED if insured else Charge.Status.PATIENT,
                    fee_cents=rng.randint(1000, 25000),
                    service_date=today - timedelta(days=rng.randint(0, 90)),
                )
                txn = charge_ledger_post(charge=charge)
                amount = D(charge.fee_cents) / 100
                if insured:
                    ins_open[charge.pk] = amount
                    insurance_total += amount
                    reversible.append((txn, patient.pk, D("0"), amount))
                else:
                    owed[patient.pk] += amount
                    reversible.append((txn, patient.pk, amount, D("0")))
            elif action == "insurance" and ins_open:
                charge_id = rng.choice(sorted(ins_open))
                charge = Charge.objects.get(pk=charge_id)
                due = ins_open.pop(charge_id)
                paid = (due * D(rng.choice([0, 40, 60, 80])) / 100).quantize(D("0.01"))
                responsibility = min(due - paid, _cents(rng, 0, 4000))
                contractual = due - paid - responsibility
                dims = {"patient_id": charge.patient_id, "charge_id": charge.pk, "payer_id": payer.pk}
                legs = [credit(A.INSURANCE_AR, due, **dims)]
                if paid:
                    legs.append(debit(A.CASH, paid, **dims))
                if contractual:
                    legs.append(
                        debit(A.CONTRACTUAL, contractual, adjustment_group="CO", adjustment_reason="45", **dims)
                    )
                if responsibility:
                    legs.append(
                        debit(A.PATIENT_AR, responsibility, adjustment_group="PR", adjustment_reason="2", **dims)
                    )
                txn = ledger_post(practice_id=practice_a.pk, kind=K.REMITTANCE, legs=legs, idempotency_key=key)
                insurance_total -= due
                cash += paid
                owed[charge.patient_id] += responsibility
                reversible.append((txn, charge.patient_id, responsibility, -due))
            elif action == "payment":
                amount = _cents(rng, 500, 15000)
                spb.payment_record(patient=patient, amount=amount, method=rng.choice(["cash", "check", "card"]))
                owed[patient.pk] -= amount
                cash += amount
            elif action == "credit":
                spb.credit_apply(patient=patient)  # moves credit onto charges: total owed unchanged
            elif action == "refund":
                amount = _cents(rng, 100, 20000)
                try:
                    spb.refund_record(patient=patient, amount=amount, method="check")
                except DomainError:
                    continue
                owed[patient.pk] += amount
                cash -= amount
            elif action == "write_off":
                open_items = sel.open_patient_charges(patient=patient)
                if not open_items:
                    continue
                charge, due = rng.choice(open_items)
                dims = {"patient_id": patient.pk, "charge_id": charge.pk}
                ledger_post(
                    practice_id=practice_a.pk,
                    kind=K.WRITE_OFF,
                    legs=[debit(A.WRITE_OFF, due, **dims), credit(A.PATIENT_AR, due, **dims)],
                    idempotency_key=key,
                )
                owed[patient.pk] -= due
            elif action == "reverse" and reversible:
                txn, patient_id, d_owed, d_ins = reversible.pop(rng.randrange(len(reversible)))
                ledger_reverse(original=txn)
                owed[patient_id] -= d_owed
                insurance_total -= d_ins
                if txn.kind == K.REMITTANCE:
                    cash -= sum(e.amount for e in txn.entries.all() if e.account == A.CASH)
                for entry in txn.entries.all():
                    if entry.account == A.INSURANCE_AR and entry.charge_id:
                        if txn.kind == K.REMITTANCE:  # the claim is open at the payer again
                            ins_open[entry.charge_id] = -entry.amount
                        else:
                            ins_open.pop(entry.charge_id, None)

        # Every transaction sums to zero (summed in Python: SQLite sums decimals as floats).
        per_txn: dict[int, Decimal] = {}
        for txn_id, amount in LedgerEntry.objects.values_list("transaction_id", "amount"):
            per_txn[txn_id] = per_txn.get(txn_id, D("0")) + amount
        assert [t for t, total in per_txn.items() if total != 0] == []
        assert LedgerTransaction.objects.count() > 40
        trial = trial_balance()
        assert abs(sum((D(str(v)) for v in trial.values()), D("0"))) < D("0.001")
        # Patient A/R (+ credit) per patient equals the independent model.
        for patient in patients:
            assert sel.patient_balance(patient=patient) == owed[patient.pk], patient.pk
        assert money(balance(A.INSURANCE_AR)) == insurance_total
        assert money(balance(A.CASH)) == cash
