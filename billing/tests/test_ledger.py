"""The double-entry ledger: balanced, idempotent, reversible, never a float."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.ledger import balance, credit, debit, ledger_post, ledger_reverse, money, trial_balance
from billing.models import LedgerAccount as A
from billing.models import LedgerEntry, LedgerTransaction
from billing.tests.factories import ChargeFactory, ledger_charge
from practice.errors import DomainError
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def charge(practice_a):
    with practice_scope(practice_a):
        yield ChargeFactory(practice=practice_a, fee_cents=15000)


def test_a_charge_raises_ar_and_gross_charges_and_balances(charge):
    ledger_charge(charge)
    assert balance(A.INSURANCE_AR, patient=charge.patient) == Decimal("150.00")
    assert balance(A.CHARGES) == Decimal("-150.00")
    assert sum(trial_balance().values()) == 0


def test_posting_twice_with_one_key_posts_once(charge):
    first = ledger_charge(charge)
    second = ledger_charge(charge)
    assert first.pk == second.pk and LedgerEntry.objects.count() == 2


def test_an_unbalanced_transaction_is_refused_and_writes_nothing(practice_a, charge):
    with pytest.raises(DomainError, match="does not balance"):
        ledger_post(
            practice_id=practice_a.pk,
            kind=LedgerTransaction.Kind.PATIENT_PAYMENT,
            legs=[debit(A.CASH, Decimal("20")), credit(A.PATIENT_AR, Decimal("19.99"))],
            idempotency_key="unbalanced",
        )
    assert not LedgerTransaction.objects.exists()


def test_unknown_accounts_and_floats_are_refused(practice_a, charge):
    with pytest.raises(DomainError, match="Unknown ledger account"):
        ledger_post(
            practice_id=practice_a.pk,
            kind=LedgerTransaction.Kind.PATIENT_PAYMENT,
            legs=[debit("petty_cash", Decimal("5")), credit(A.PATIENT_AR, Decimal("5"))],
            idempotency_key="unknown-account",
        )
    with pytest.raises(TypeError):
        money(0.1)
    assert money("10.005") == Decimal("10.01")


def test_a_reversal_negates_every_entry_and_the_books_return_to_zero(charge):
    original = ledger_charge(charge)
    reversal = ledger_reverse(original=original, memo="entered on the wrong patient")
    assert reversal.reverses == original and original.reversed_by == reversal
    assert balance(A.INSURANCE_AR) == 0 and balance(A.CHARGES) == 0
    assert ledger_reverse(original=original).pk == reversal.pk  # idempotent too
