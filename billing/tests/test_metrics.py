"""AR KPIs (billing.metrics) against small hand-computed data sets: every expected number below
was worked out by hand from the rows the test creates (billing.md §6 formulas)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest
from django.utils import timezone

from billing import metrics
from billing.ledger import credit, debit, ledger_post
from billing.models import Claim, ClaimEvent, DenialCase, RemittanceClaim, RemittanceLine
from billing.models import LedgerAccount as A
from billing.models import LedgerTransaction as T
from billing.tests.factories import (
    ChargeFactory,
    ClaimFactory,
    RemittanceClaimFactory,
    RemittanceFactory,
    claim_with_lines,
)
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 6, 30)
_keys = count()
D = Decimal


@pytest.fixture
def scope(practice_a):
    with practice_scope(practice_a):
        yield practice_a


def post(practice, on, *legs, kind=T.Kind.CHARGE):
    return ledger_post(
        practice_id=practice.pk, kind=kind, legs=list(legs), idempotency_key=f"m-{next(_keys)}", occurred_on=on
    )


def charge_posted(practice, *, amount, on, kind="insurance", **fields):
    charge = ChargeFactory(practice=practice, service_date=on, fee_cents=int(amount * 100), kind=kind, **fields)
    account = A.INSURANCE_AR if kind == "insurance" else A.PATIENT_AR
    post(practice, on, debit(account, D(amount), charge=charge), credit(A.CHARGES, D(amount), charge=charge))
    return charge


def aware(day: date) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, 12))


@pytest.mark.parametrize(
    ("age", "bucket"),
    [
        (-3, "0-30"),
        (0, "0-30"),
        (30, "0-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "91-120"),
        (120, "91-120"),
        (121, "120+"),
        (400, "120+"),
    ],
)
def test_aging_bucket_boundaries(age, bucket):
    assert metrics.bucket_for(age) == bucket


def test_total_ar_and_days_in_ar(scope):
    ins = charge_posted(scope, amount=150, on=AS_OF - timedelta(days=10))
    charge_posted(scope, amount=40, on=AS_OF - timedelta(days=100), kind="patient")  # outside the 90 days
    post(scope, AS_OF - timedelta(days=5), debit(A.CASH, D(100)), credit(A.INSURANCE_AR, D(100), charge=ins))
    charge_posted(scope, amount=999, on=AS_OF + timedelta(days=1))  # after the as-of date: ignored
    totals = metrics.ar_totals(as_of=AS_OF)
    assert (totals.insurance, totals.patient, totals.total) == (D("50.00"), D("40.00"), D("90.00"))
    # 90 ÷ (150 ÷ 90) = 54.0 days
    assert metrics.days_in_ar(as_of=AS_OF) == D("54.0")
    assert metrics.days_in_ar(as_of=AS_OF - timedelta(days=200)) is None  # no charges: no ratio


def test_aging_by_payer_and_patient_adds_up_to_total_ar(scope):
    # A: DOS 100 days ago, first submitted 95 days ago (a later resubmission does not re-age it) -> 91-120
    claim_a = claim_with_lines(
        scope, service_date=AS_OF - timedelta(days=100), submitted_at=aware(AS_OF - timedelta(days=95))
    )
    charge_a = claim_a.lines.get().charge
    post(
        scope,
        charge_a.service_date,
        debit(A.INSURANCE_AR, D(150), charge=charge_a),
        credit(A.CHARGES, D(150), charge=charge_a),
    )
    ClaimFactory(
        practice=scope,
        coverage=claim_a.coverage,
        original=claim_a,
        frequency="7",
        submitted_at=aware(AS_OF - timedelta(days=10)),
    )
    # B: not submitted yet, DOS 40 days ago -> 31-60 under its coverage's payer
    charge_b = charge_posted(scope, amount=100, on=AS_OF - timedelta(days=40))
    # C: patient balance from a charge 61 days ago -> 61-90
    patient_c = charge_posted(scope, amount=40, on=AS_OF - timedelta(days=61), kind="patient", coverage=None)
    # D: paid in full: no balance, not in any bucket
    paid = charge_posted(scope, amount=80, on=AS_OF - timedelta(days=5))
    post(scope, AS_OF, debit(A.CASH, D(80)), credit(A.INSURANCE_AR, D(80), charge=paid))

    aged = metrics.aging(as_of=AS_OF)
    assert aged.total.buckets == {
        "0-30": D("0.00"),
        "31-60": D("100.00"),
        "61-90": D("40.00"),
        "91-120": D("150.00"),
        "120+": D("0.00"),
    }
    assert aged.total.total == metrics.ar_totals(as_of=AS_OF).total == D("290.00")
    assert aged.patient.buckets["61-90"] == D("40.00") and aged.patient.total == D("40.00")
    assert [(r.label, r.values) for r in aged.by_patient] == [
        (patient_c.patient.display_name, [0, 0, D("40.00"), 0, 0])
    ]
    by_payer = {row.label: row.values for row in aged.by_payer}
    assert by_payer[claim_a.payer.name] == [0, 0, 0, D("150.00"), 0]
    assert by_payer[charge_b.coverage.payer.name] == [0, D("100.00"), 0, 0, 0]
    # % over 90 days (HFMA AR-1): 150 ÷ 290 = 51.7 %
    assert aged.over_90_percent == D("51.7")
    # ten days later the 91-120 balance is still 91-120 (105 days), B has moved to 31-60 (50 days)
    later = metrics.aging(as_of=AS_OF + timedelta(days=26))
    assert later.total.buckets["120+"] == D("150.00") and later.total.buckets["61-90"] == D("140.00")


def test_merged_96127_charges_age_with_their_line_and_never_go_negative(scope):
    """Two 96127 charges of one day are one claim line (units 2) carried by the first charge; the
    payment credits that charge only. Both age from the claim's submission (40 days after DOS)."""
    dos = AS_OF - timedelta(days=50)
    claim = claim_with_lines(scope, service_date=dos, submitted_at=aware(AS_OF - timedelta(days=10)))
    line = claim.lines.get()
    head = line.charge
    head.cpt = line.cpt = "96127"
    head.save(update_fields=["cpt"])
    line.save(update_fields=["cpt"])
    post(scope, dos, debit(A.INSURANCE_AR, D(10), charge=head), credit(A.CHARGES, D(10), charge=head))
    merged = charge_posted(
        scope, amount=10, on=dos, patient=claim.patient, coverage=claim.coverage, cpt="96127", status="on_claim"
    )
    before = metrics.aging(as_of=AS_OF).total.buckets
    assert before["0-30"] == D("20.00") and before["31-60"] == D("0.00")
    # the payer pays $8 for both units on the one line (the head charge) and CO-45 the rest
    post(scope, AS_OF, debit(A.CASH, D(8)), credit(A.INSURANCE_AR, D(20), charge=head), debit(A.CONTRACTUAL, D(12)))
    after = metrics.aging(as_of=AS_OF).total.buckets
    assert all(amount == 0 for amount in after.values()), after
    assert merged.pk


def remit(practice, claim, outcome, on, *, status_code="1", denied_line=False):
    rc = RemittanceClaimFactory(
        practice=practice,
        claim=claim,
        remittance=RemittanceFactory(practice=practice, payment_date=on),
        outcome=outcome,
        status_code=status_code,
    )
    if denied_line:
        RemittanceLine.objects.create(
            practice=practice,
            remittance_claim=rc,
            cpt="90834",
            charge_amount=150,
            paid_amount=0,
            is_denied=True,
            denial_reason="CO-197",
        )
    return rc


def test_denial_rate_and_first_pass_resolution_rate(scope):
    on = AS_OF - timedelta(days=10)
    O = RemittanceClaim.Outcome  # noqa: E741
    c1, c2, c3, c4, c5, c6, c7, c8, c9 = (claim_with_lines(scope) for _ in range(9))
    remit(scope, c1, O.PAID, on)  # resolved
    remit(scope, c2, O.DENIED, on)  # denied first ...
    remit(scope, c2, O.PAID, on)  # ... paid later: still an initial denial, not first-pass
    remit(scope, c3, O.PARTIAL, on, denied_line=True)  # a denied line: denied
    remit(scope, c4, O.PATIENT_RESPONSIBILITY, on)  # moved to patient: resolved
    remit(scope, c5, O.PAID, on)  # paid but then corrected: not first-pass
    ClaimFactory(practice=scope, coverage=c5.coverage, original=c5, frequency="7")
    remit(scope, c6, O.REVERSED, on, status_code="22")  # a reversal alone is never a first remit
    remit(scope, c7, O.DENIED, AS_OF - timedelta(days=200))  # first remit outside the period
    remit(scope, c8, O.PAID, on)  # resolved
    rc9 = remit(scope, c9, O.PATIENT_RESPONSIBILITY, on)  # moved to patient but appealed: not first-pass
    DenialCase.objects.create(
        practice=scope, claim=c9, remittance_claim=rc9, reason_code="PR-1", amount=10, status="appealed"
    )
    start, end = AS_OF - timedelta(days=89), AS_OF
    # adjudicated in the period: c1 c2 c3 c4 c5 c8 c9 = 7; denied: c2 c3 = 2 -> 28.6 %
    denial = metrics.denial_rate(start=start, end=end)
    assert (denial.numerator, denial.denominator, denial.percent) == (2, 7, D("28.6"))
    # first-pass resolved: c1 c4 c8 = 3 of 7 -> 42.9 %
    fpr = metrics.first_pass_resolution_rate(start=start, end=end)
    assert (fpr.numerator, fpr.denominator, fpr.percent) == (3, 7, D("42.9"))
    empty = metrics.denial_rate(start=AS_OF + timedelta(days=1), end=AS_OF + timedelta(days=2))
    assert (empty.denominator, empty.percent) == (0, None)


def scrub_event(practice, claim, note, to_status=None):
    ClaimEvent.objects.create(practice=practice, claim=claim, to_status=to_status or claim.status, note=note)


def test_clean_claim_rate(scope):
    k1, k2, k3, k4, k5 = (claim_with_lines(scope) for _ in range(5))
    scrub_event(scope, k1, "scrubbed: 0 errors, 1 warning")  # clean (a warning is not an edit)
    scrub_event(scope, k2, "scrubbed: 2 errors, 0 warnings")  # first scrub had errors ...
    scrub_event(scope, k2, "scrubbed: 0 errors, 0 warnings")  # ... fixed later: not clean
    scrub_event(scope, k3, "scrubbed: 0 errors, 0 warnings")
    scrub_event(scope, k3, "999: rejected", to_status=Claim.Status.REJECTED)  # rejected: not clean
    scrub_event(scope, k4, "scrubbed: 0 errors, 0 warnings")
    replacement = ClaimFactory(practice=scope, coverage=k4.coverage, original=k4, frequency="7")  # resubmitted
    scrub_event(scope, replacement, "scrubbed: 0 errors, 0 warnings")  # a replacement is not a new claim
    assert k5.pk  # never scrubbed: not yet in the claim tool
    today = timezone.localdate()
    ratio = metrics.clean_claim_rate(start=today - timedelta(days=1), end=today)
    # k1 of k1..k4 -> 1 / 4 = 25.0 %
    assert (ratio.numerator, ratio.denominator, ratio.percent) == (1, 4, D("25.0"))


def test_net_collection_rate_monthly_and_by_payer(scope):
    # cohort: DOS from AS_OF-179 to AS_OF-90
    x = charge_posted(scope, amount=200, on=AS_OF - timedelta(days=100))
    y = charge_posted(scope, amount=100, on=AS_OF - timedelta(days=30))  # too recent: not in the cohort
    post(
        scope,
        AS_OF - timedelta(days=60),
        debit(A.CASH, D(120), charge=x),
        debit(A.CONTRACTUAL, D(50), charge=x, adjustment_group="CO", adjustment_reason="45"),
        debit(A.PATIENT_AR, D(30), charge=x),
        credit(A.INSURANCE_AR, D(200), charge=x),
        kind=T.Kind.REMITTANCE,
    )
    post(scope, AS_OF - timedelta(days=20), debit(A.CASH, D(20), charge=x), credit(A.PATIENT_AR, D(20), charge=x))
    post(scope, AS_OF - timedelta(days=2), debit(A.CASH, D(100), charge=y), credit(A.INSURANCE_AR, D(100), charge=y))
    ncr = metrics.net_collection_rate(as_of=AS_OF)
    assert (ncr.cohort_start, ncr.cohort_end) == (AS_OF - timedelta(days=179), AS_OF - timedelta(days=90))
    # (120 + 20) ÷ (200 - 50) = 93.3 %
    assert (ncr.payments, ncr.gross, ncr.contractual, ncr.percent) == (D(140), D(200), D(50), D("93.3"))

    months = {row.month: row for row in metrics.monthly(as_of=AS_OF)}
    assert len(months) == 12 and min(months) == date(2025, 7, 1)
    march = months[date(2026, 3, 1)]  # AS_OF-100 = 2026-03-22
    assert (march.charges, march.payments, march.adjustments) == (D(200), 0, 0)
    may = months[date(2026, 5, 1)]  # AS_OF-60 = 2026-05-01: the remit; AS_OF-30 = 2026-05-31: charge y
    assert (may.charges, may.payments, may.adjustments) == (D(100), D(120), D(50))
    june = months[date(2026, 6, 1)]
    assert (june.charges, june.payments) == (0, D(120))

    rows = metrics.by_payer(start=date(2026, 3, 1), end=AS_OF, as_of=AS_OF)
    assert {r.label: (r.charges, r.payments, r.ar) for r in rows} == {
        x.coverage.payer.name: (D(200), D(140), D(10)),
        y.coverage.payer.name: (D(100), D(100), D(0)),
    }
    clinicians = metrics.by_clinician(start=date(2026, 3, 1), end=AS_OF, as_of=AS_OF)
    assert sum(r.charges for r in clinicians) == D(300) and len(clinicians) == 2
