"""835 posting from hand-written files (billing.md §4): payments, adjustments, denials, reversals,
crossovers, PLB, unmatched claims, and whole-file rejection. The ledger balances after each."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from billing.era import parse_835
from billing.ledger import balance, trial_balance
from billing.models import Claim, Coverage, DenialCase, ProviderAdjustment, Remittance, RemittanceClaim
from billing.models import LedgerAccount as A
from billing.services_remittance import remittance_claim_dismiss, remittance_claim_match, remittance_import
from billing.tests.era_files import DATA, clp, era
from billing.tests.factories import CoverageFactory, claim_with_lines
from billing.x12_validate import validate_x12
from practice.errors import DomainError
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def scope(practice_a):
    with practice_scope(practice_a):
        yield practice_a


def _claim(practice, cn, **kw):
    kw.setdefault("status", Claim.Status.SUBMITTED)
    return claim_with_lines(practice, control_number=cn, **kw)


def _line(claim, charge, paid, cas, rarcs=()):
    line = claim.lines.first()
    return (line.cpt, charge, paid, line.service_date, cas, list(rarcs))


def _zero(practice):
    assert sum(trial_balance().values(), D("0")) == 0


def test_hand_written_files_validate_with_pyx12():
    text = era(
        [
            clp(
                "X1",
                "1",
                150,
                100,
                20,
                lines=[
                    (
                        "90834",
                        150,
                        100,
                        __import__("datetime").date(2025, 1, 6),
                        [("CO", "45", 30), ("PR", "2", 20)],
                        [],
                    )
                ],
            )
        ],
        "100",
    )
    assert validate_x12(text)[0] is True
    assert validate_x12((DATA / "synthetic_bh_835.txt").read_text())[0] is True


def test_full_payment_with_contractual_and_coinsurance(scope):
    claim = _claim(scope, "FULL1")
    text = era(
        [
            clp(
                "FULL1",
                "1",
                150,
                100,
                20,
                icn="ICN77",
                lines=[_line(claim, 150, 100, [("CO", "45", 30), ("PR", "2", 20)])],
            )
        ],
        "100",
    )
    result = remittance_import(practice=scope, content=text)
    assert not result.rejected, result.error
    rc = result.remittance.claims.get()
    assert rc.outcome == "paid" and rc.claim == claim and rc.lines.get().claim_line == claim.lines.first()
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PAID and claim.payer_claim_number == "ICN77"
    assert balance(A.CASH) == D("100.00")
    assert balance(A.CONTRACTUAL) == D("30.00")
    assert balance(A.PATIENT_AR, patient=claim.patient) == D("20.00")
    assert balance(A.INSURANCE_AR) == D("-150.00")  # the charge itself was not posted in this test
    assert balance(A.CONTRACTUAL, adjustment_group="CO", adjustment_reason="45") == D("30.00")
    assert not DenialCase.objects.exists()
    _zero(scope)
    summary = result.summary()
    assert summary["paid"] == 1 and summary["total_paid"] == "100.00"
    assert summary["claims"][0]["adjustments"][1] == {"group": "PR", "reason": "2", "amount": "20.00"}


def test_partial_payment_one_line_denied(scope):
    claim = _claim(scope, "PART1", lines=2)
    first, second = claim.lines.order_by("line_number")
    lines = [
        (first.cpt, 150, 120, first.service_date, [("CO", "45", 30)], []),
        (second.cpt, 150, 0, second.service_date, [("CO", "197", 150)], ["M62"]),
    ]
    result = remittance_import(practice=scope, content=era([clp("PART1", "1", 300, 120, "", lines=lines)], "120"))
    assert not result.rejected, result.error
    rc = result.remittance.claims.get()
    assert rc.outcome == "partial"
    denied = rc.lines.get(is_denied=True)
    assert denied.denial_reason == "CO-197" and denied.remarks == ["M62"]
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PARTIALLY_PAID
    case = DenialCase.objects.get()
    assert case.reason_code == "CO-197" and case.amount == D("150.00")
    _zero(scope)


def test_zero_pay_auth_denial_with_clp02_1_is_a_denial(scope):
    claim = _claim(scope, "DEN1")
    text = era([clp("DEN1", "1", 160, 0, lines=[_line(claim, 160, 0, [("CO", "197", 160)], ["M62"])])], "0")
    result = remittance_import(practice=scope, content=text)
    assert not result.rejected, result.error
    claim.refresh_from_db()
    assert claim.status == Claim.Status.DENIED
    assert result.remittance.claims.get().outcome == "denied"
    assert DenialCase.objects.get().reason_code == "CO-197"
    # a denial is held in insurance A/R until it is worked, not written off as contractual
    assert balance(A.CONTRACTUAL) == 0 and balance(A.INSURANCE_AR) == 0
    _zero(scope)


def test_zero_pay_all_patient_responsibility_is_not_a_denial(scope):
    claim = _claim(scope, "DED1")
    text = era([clp("DED1", "1", 150, 0, 150, lines=[_line(claim, 150, 0, [("PR", "1", 150)])])], "0")
    result = remittance_import(practice=scope, content=text)
    assert result.remittance.claims.get().outcome == "patient"
    assert not DenialCase.objects.exists()
    assert balance(A.PATIENT_AR, patient=claim.patient) == D("150.00")


def test_reversal_reverses_the_earlier_posting_and_posts_the_correction(scope):
    claim = _claim(scope, "REV1")
    first = era([clp("REV1", "1", 150, 120, lines=[_line(claim, 150, 120, [("CO", "45", 30)])])], "120", trace="T1")
    assert not remittance_import(practice=scope, content=first).rejected
    second = era(
        [
            clp("REV1", "22", -150, -120, icn="ICN1", lines=[_line(claim, -150, -120, [("CO", "45", -30)])]),
            clp(
                "REV1",
                "1",
                150,
                100,
                20,
                icn="ICN2",
                lines=[_line(claim, 150, 100, [("CO", "45", 30), ("PR", "2", 20)])],
            ),
        ],
        "-20",
        trace="T2",
    )
    result = remittance_import(practice=scope, content=second)
    assert not result.rejected, result.error
    outcomes = list(result.remittance.claims.values_list("outcome", flat=True))
    assert outcomes == ["reversed", "paid"]
    assert balance(A.CASH) == D("100.00")
    assert balance(A.CONTRACTUAL) == D("30.00")
    assert balance(A.PATIENT_AR) == D("20.00")
    assert result.summary()["reversed"] == 1
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PAID and claim.payer_claim_number == "ICN2"
    _zero(scope)


def test_crossover_records_forwarded_and_builds_no_secondary(scope):
    claim = _claim(scope, "XO1")
    CoverageFactory(practice=scope, patient=claim.patient, priority=Coverage.Priority.SECONDARY)
    text = era(
        [clp("XO1", "19", 150, 100, 20, lines=[_line(claim, 150, 100, [("CO", "45", 30), ("PR", "2", 20)])])], "100"
    )
    result = remittance_import(practice=scope, content=text)
    assert result.remittance.claims.get().outcome == "forwarded"
    assert Claim.objects.filter(patient=claim.patient).count() == 1
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PAID
    assert result.summary()["forwarded"] == 1


def test_primary_payment_builds_the_secondary_claim(scope):
    claim = _claim(scope, "SEC1")
    secondary = CoverageFactory(practice=scope, patient=claim.patient, priority=Coverage.Priority.SECONDARY)
    text = era(
        [clp("SEC1", "1", 150, 100, 20, lines=[_line(claim, 150, 100, [("CO", "45", 30), ("PR", "2", 20)])])], "100"
    )
    remittance_import(practice=scope, content=text)
    built = Claim.objects.get(coverage=secondary)
    assert built.service_date == claim.service_date
    assert built.status in (Claim.Status.DRAFT, Claim.Status.READY)


def test_plb_interest_is_money_to_us(scope):
    claim = _claim(scope, "PLB1")
    text = era(
        [clp("PLB1", "1", 150, 120, lines=[_line(claim, 150, 120, [("CO", "45", 30)])])],
        "121.25",
        plb=[("L6", "-1.25")],
    )
    result = remittance_import(practice=scope, content=text)
    assert not result.rejected, result.error
    adj = ProviderAdjustment.objects.get()
    assert adj.reason == "L6" and adj.amount == D("-1.25")
    assert balance(A.CASH) == D("121.25")
    assert balance(A.PROVIDER_ADJUSTMENT) == D("-1.25")
    _zero(scope)


def test_unmatched_claim_goes_to_the_queue_and_can_be_matched_by_hand(scope, make_member):
    claim = _claim(scope, "REAL1")
    text = era(
        [clp("TYPO1", "1", 150, 120, patient=("ROE", "TAYLOR"), lines=[_line(claim, 150, 120, [("CO", "45", 30)])])],
        "120",
    )
    result = remittance_import(practice=scope, content=text)
    rc = result.remittance.claims.get()
    assert rc.claim is None and not rc.is_matched and rc.patient_name == "ROE, TAYLOR"
    assert rc.service_date == claim.service_date
    assert result.summary()["unmatched"] == 1
    assert balance(A.CASH) == 0
    with pytest.raises(DomainError):
        remittance_claim_match(remittance_claim=rc, control_number="NOPE", by=None)
    remittance_claim_match(remittance_claim=rc, control_number="REAL1", by=None)
    rc.refresh_from_db()
    assert rc.claim == claim and rc.is_matched and rc.lines.get().claim_line is not None
    assert balance(A.CASH) == D("120.00")
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PAID
    _zero(scope)


def test_unmatched_claim_can_be_dismissed(scope):
    text = era([clp("GHOST", "1", 150, 150, lines=[])], "150")
    rc = remittance_import(practice=scope, content=text).remittance.claims.get()
    remittance_claim_dismiss(remittance_claim=rc, by=None)
    rc.refresh_from_db()
    assert rc.resolved_at is not None and not rc.is_matched


def test_unbalanced_file_is_rejected_whole_and_names_the_segment(scope):
    claim = _claim(scope, "UNB1")
    good = clp("GOOD1", "1", 150, 150, lines=[])
    bad = clp("UNB1", "1", 150, 100, lines=[_line(claim, 150, 100, [("CO", "45", 30)])])
    result = remittance_import(practice=scope, content=era([good, bad], "250"))
    assert result.rejected
    assert "segment 17 (SVC)" in result.error and "does not balance" in result.error
    assert result.remittance.status == Remittance.Status.REJECTED
    assert not RemittanceClaim.objects.exists()
    assert trial_balance() == {}


def test_bpr_mismatch_is_rejected(scope):
    text = era([clp("B1", "1", 150, 150, lines=[])], "149")
    result = remittance_import(practice=scope, content=text)
    assert result.rejected and "(BPR)" in result.error and "BPR02 is 149.00" in result.error


def test_malformed_file_is_rejected_whole(scope):
    text = era([clp("M1", "1", 150, 150, lines=[])], "150").replace("CLP*M1*1*", "CLP*M1*99*")
    result = remittance_import(practice=scope, content=text)
    assert result.rejected and result.error.startswith("segment")
    assert not RemittanceClaim.objects.exists() and trial_balance() == {}
    garbage = remittance_import(practice=scope, content="not an x12 file")
    assert garbage.rejected


def test_duplicate_file_posts_nothing_the_second_time(scope):
    claim = _claim(scope, "DUP1")
    text = era([clp("DUP1", "1", 150, 120, lines=[_line(claim, 150, 120, [("CO", "45", 30)])])], "120")
    first = remittance_import(practice=scope, content=text)
    second = remittance_import(practice=scope, content=text)
    assert second.duplicate and second.remittance.pk == first.remittance.pk
    assert Remittance.objects.count() == 1 and balance(A.CASH) == D("120.00")


def test_synthetic_sample_posts_against_matching_claims(scope):
    text = (DATA / "synthetic_bh_835.txt").read_text()
    for era_claim in parse_835(text)[0].claims:
        if not Claim.objects.filter(control_number=era_claim.control_number).exists():
            _claim(scope, era_claim.control_number)
    result = remittance_import(practice=scope, content=text)
    assert not result.rejected, result.error
    remittance = result.remittance
    assert remittance.payment_amount == D("376.25") and remittance.trace_number == "EFT0000501"
    summary = result.summary()
    assert summary["claims_matched"] == 5 and summary["unmatched"] == 0
    assert summary["denied"] == 1 and summary["reversed"] == 1 and summary["paid"] == 3
    assert DenialCase.objects.get().reason_code == "CO-197"
    assert balance(A.CASH) == D("376.25")
    _zero(scope)


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_import_posts_once(practice_a):
    if connection.vendor != "postgresql":
        pytest.skip("Row locks and the partial unique index need PostgreSQL.")
    with practice_scope(practice_a):
        claim = _claim(practice_a, "CONC1")
        text = era([clp("CONC1", "1", 150, 120, lines=[_line(claim, 150, 120, [("CO", "45", 30)])])], "120")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            with practice_scope(practice_a):
                remittance_import(practice=practice_a, content=text)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with practice_scope(practice_a):
        assert Remittance.objects.filter(status="posted").count() == 1
        assert balance(A.CASH) == D("120.00")


def test_check_in_copay_pays_the_patient_share_when_the_835_arrives(scope):
    from billing import selectors_patient_billing as patient_billing
    from billing.services_patient_billing import copay_collect
    from scheduling.tests.factories import AppointmentFactory

    claim = _claim(scope, "COPAY1")
    copay_collect(appointment=AppointmentFactory(practice=scope), patient=claim.patient, amount="25.00", method="card")
    assert patient_billing.patient_credit_available(patient=claim.patient) == D("25.00")
    text = era(
        [clp("COPAY1", "1", 150, 100, 20, lines=[_line(claim, 150, 100, [("CO", "45", 30), ("PR", "3", 20)])])],
        "100",
    )
    assert not remittance_import(practice=scope, content=text).rejected
    # The PR-3 copay of 20.00 moved to the patient's balance and the 25.00 credit paid it.
    assert patient_billing.open_patient_charges(patient=claim.patient) == []
    assert patient_billing.patient_credit_available(patient=claim.patient) == D("5.00")
    assert balance(A.PATIENT_AR, patient=claim.patient) == D("0.00")
    _zero(scope)
