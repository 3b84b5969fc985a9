"""The demo billing history (billing/demo_remittance.py via seed_demo) on the real demo world:
837 batches, posted 835s with CO-45 and PR-1/2/3, two open denials (one assigned to the biller
with a note), a reversal with its correction, unanswered claims, patient payments, a statement,
a balanced ledger and an AR dashboard with numbers; a second run posts nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from billing import metrics
from billing.demo_remittance import seed_billing_history
from billing.ledger import trial_balance
from billing.models import (
    Claim,
    DenialCase,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    PatientPayment,
    Remittance,
    RemittanceClaim,
    Statement,
)
from billing.selectors_denials import no_response_claims
from practice.models import Membership, Practice
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


def _snapshot(practice: Practice) -> dict[str, int]:
    with practice_scope(practice):
        return {
            "remittances": Remittance.objects.count(),
            "transactions": LedgerTransaction.objects.count(),
            "entries": LedgerEntry.objects.count(),
            "payments": PatientPayment.objects.count(),
            "statements": Statement.objects.count(),
            "denials": DenialCase.objects.count(),
            "submitted": Claim.objects.filter(submitted_at__isnull=False).count(),
        }


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """seed_demo once (~10 s, the whole demo world), then the history seed again by hand."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
            cedar = Practice.objects.get(slug="cedar")
            before = _snapshot(cedar)
            again = seed_billing_history(cedar)
            yield {"cedar": cedar, "before": before, "again": again}
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def cedar(seeded):
    with practice_scope(seeded["cedar"]):
        yield seeded["cedar"]


def test_running_it_again_posts_nothing(seeded):
    assert set(seeded["again"].values()) == {0}
    assert _snapshot(seeded["cedar"]) == seeded["before"]
    assert seeded["before"]["remittances"] >= 3


def test_only_cedar_gets_the_history(seeded):
    maple = Practice.objects.get(slug="maple")
    with practice_scope(maple):
        assert not Remittance.objects.exists()


def test_claims_went_out_in_dated_batches_and_some_got_no_answer(cedar):
    today = timezone.localdate()
    sent = Claim.objects.filter(submitted_at__isnull=False)
    ages = {(today - timezone.localdate(c.submitted_at)).days for c in sent}
    assert any(31 <= age <= 60 for age in ages) and any(61 <= age <= 90 for age in ages)
    assert any(91 <= age <= 120 for age in ages)
    waiting = no_response_claims()
    assert len(waiting) >= 2 and all(c.age_days > c.threshold_days for c in waiting)


def test_835s_post_payments_contractual_and_patient_shares(cedar):
    assert not Remittance.objects.exclude(status=Remittance.Status.POSTED).exists()
    assert RemittanceClaim.objects.filter(outcome=RemittanceClaim.Outcome.PAID).count() >= 20
    assert RemittanceClaim.objects.filter(outcome=RemittanceClaim.Outcome.PATIENT_RESPONSIBILITY).exists()
    assert not RemittanceClaim.objects.filter(is_matched=False).exists()
    reasons = set(LedgerEntry.objects.exclude(adjustment_group="").values_list("adjustment_group", "adjustment_reason"))
    assert {("CO", "45"), ("PR", "1"), ("PR", "2"), ("PR", "3")} <= reasons
    assert Remittance.objects.values("payer").distinct().count() >= 3
    assert not Remittance.objects.filter(payer__isnull=True).exists()  # REF*2U names the demo payer
    assert Remittance.objects.filter(payment_date__lt=timezone.localdate() - timedelta(days=60)).exists()


def test_two_open_denials_one_assigned_to_the_biller_with_a_note(cedar):
    cases = {c.reason_code: c for c in DenialCase.objects.select_related("assigned_to__user")}
    assert set(cases) == {"CO-197", "CO-16"}
    assert all(c.status == DenialCase.Status.OPEN for c in cases.values())
    linda = Membership.objects.get(user__email="linda.nguyen@cedarbh.example")
    assert cases["CO-16"].assigned_to == linda
    assert cases["CO-16"].notes.filter(author=linda, action="note").exists()
    assert cases["CO-197"].assigned_to is None
    assert any("N206" in line.remarks for line in cases["CO-16"].remittance_claim.lines.all())


def test_one_reversal_with_its_correction(cedar):
    reversal = RemittanceClaim.objects.get(outcome=RemittanceClaim.Outcome.REVERSED)
    assert reversal.paid_amount < 0 and reversal.status_code == "22"
    history = list(RemittanceClaim.objects.filter(claim=reversal.claim).order_by("pk"))
    assert [rc.status_code for rc in history] == ["1", "22", "1"]
    assert history[2].remittance_id == reversal.remittance_id
    assert history[2].paid_amount < history[0].paid_amount  # re-priced
    assert LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.REVERSAL).count() == 1


def test_patient_payments_balances_and_a_statement(cedar):
    copay = PatientPayment.objects.get(is_copay=True)
    assert copay.appointment_id is not None and copay.amount > 0
    card = PatientPayment.objects.get(method=PatientPayment.Method.CARD)
    assert card.ledger_transaction.entries.filter(account=LedgerAccount.PATIENT_AR).exists()
    # the billing history issues one statement; the portal demo issues its patient another
    statements = list(Statement.objects.all())
    assert 1 <= len(statements) <= 2
    assert all(s.period_end < timezone.localdate().replace(day=1) for s in statements)  # last month's
    # The billing history's goes to whoever owed most; the portal patient's may owe nothing at month
    # end, depending on which visits the seed's clock has already billed and paid.
    assert max(s.balance_due for s in statements) > 0 and min(s.balance_due for s in statements) >= 0
    assert metrics.ar_totals(as_of=timezone.localdate()).patient > 0


def test_ledger_balances(cedar):
    assert sum(trial_balance().values(), Decimal("0")) == 0


def test_ar_dashboard_shows_every_kpi(cedar, client, login):
    today = timezone.localdate()
    start = today - timedelta(days=89)
    aging = metrics.aging(as_of=today)
    assert all(aging.total.buckets[b] > 0 for b in ("31-60", "61-90", "91-120"))
    assert metrics.days_in_ar(as_of=today) is not None
    assert metrics.denial_rate(start=start, end=today).numerator == 2
    assert metrics.denial_rate(start=today - timedelta(days=29), end=today).numerator == 2
    assert metrics.first_pass_resolution_rate(start=start, end=today).percent is not None
    assert metrics.clean_claim_rate(start=start, end=today).percent is not None
    assert metrics.net_collection_rate(as_of=today).percent is not None
    months = metrics.monthly(as_of=today)
    assert sum(1 for m in months if m.payments > 0) >= 3
    assert sum(1 for m in months if m.charges > 0) >= 3
    linda = Membership.objects.select_related("user").get(user__email="linda.nguyen@cedarbh.example")
    response = login(linda).get(f"/p/{cedar.slug}/billing/ar/")
    assert response.status_code == 200
