"""Factories for billing. Create inside practice_scope(...) or scopes_disabled().

Identifiers are valid by default (NPIs pass the Luhn check, ZIP+4, taxonomy format), so a test
that checks a scrubbing rule breaks exactly one thing.
"""

from __future__ import annotations

from datetime import date, timedelta

import factory
from django.utils import timezone

from billing import models as m
from billing.validators import make_npi
from clinical.tests.factories import PatientFactory, ScopedFactory
from practice.permissions import Role
from practice.tests.factories import MembershipFactory, PracticeFactory


class BillingProfileFactory(ScopedFactory):
    class Meta:
        model = m.BillingProfile

    practice = factory.SubFactory(PracticeFactory)
    legal_name = "Riverside Behavioral Health LLC"
    npi = "1234567893"
    tin = "371234567"
    taxonomy = "261QM0801X"
    address_line1 = "100 Main Street"
    city = "Portland"
    state = "OR"
    zip_code = "972051234"
    submitter_id = "RIVERSIDEBH"
    contact_name = "Billing Office"
    contact_phone = "5035550100"


class RenderingProviderFactory(ScopedFactory):
    class Meta:
        model = m.RenderingProvider

    practice = factory.SubFactory(PracticeFactory)
    membership = factory.LazyAttribute(lambda o: MembershipFactory(practice=o.practice, role=Role.CLINICIAN))
    npi = factory.Sequence(lambda n: make_npi(f"19{n:07d}"))
    taxonomy = "101YP2500X"
    credential = "LPC"
    first_name = "Alex"
    last_name = factory.Sequence(lambda n: f"Smith{n}")


class PayerFactory(ScopedFactory):
    class Meta:
        model = m.Payer

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Example Health Plan {n}")
    payer_id = factory.Sequence(lambda n: f"{60000 + n}")
    filing_indicator = m.Payer.FilingIndicator.COMMERCIAL
    timely_filing_days = 180


class FeeScheduleFactory(ScopedFactory):
    class Meta:
        model = m.FeeSchedule

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Fee schedule {n}")
    payer = factory.LazyAttribute(lambda o: PayerFactory(practice=o.practice))


class FeeScheduleEntryFactory(ScopedFactory):
    class Meta:
        model = m.FeeScheduleEntry

    practice = factory.SubFactory(PracticeFactory)
    schedule = factory.LazyAttribute(lambda o: FeeScheduleFactory(practice=o.practice))
    cpt = "90834"
    amount_cents = 15000


class SlidingScaleTierFactory(ScopedFactory):
    class Meta:
        model = m.SlidingScaleTier

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Tier {n}")
    discount_percent = 40


class CoverageFactory(ScopedFactory):
    class Meta:
        model = m.Coverage

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.LazyAttribute(lambda o: PatientFactory(practice=o.practice))
    payer = factory.LazyAttribute(lambda o: PayerFactory(practice=o.practice))
    member_id = factory.Sequence(lambda n: f"XYZ{n:09d}")
    group_number = "GRP1001"
    starts_on = factory.LazyFunction(lambda: date(timezone.localdate().year - 1, 1, 1))
    copay_cents = 2500


class PriorAuthorizationFactory(ScopedFactory):
    class Meta:
        model = m.PriorAuthorization

    practice = factory.SubFactory(PracticeFactory)
    coverage = factory.LazyAttribute(lambda o: CoverageFactory(practice=o.practice))
    patient = factory.LazyAttribute(lambda o: o.coverage.patient)
    number = factory.Sequence(lambda n: f"AUTH{n:06d}")
    cpt_codes = factory.LazyFunction(lambda: ["90834", "90837"])
    visits_authorized = 12
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=60))
    ends_on = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=120))


class ChargeFactory(ScopedFactory):
    """An unbilled 90834 insurance charge of $150 with one F-code diagnosis."""

    class Meta:
        model = m.Charge

    practice = factory.SubFactory(PracticeFactory)
    coverage = factory.LazyAttribute(lambda o: CoverageFactory(practice=o.practice))
    patient = factory.LazyAttribute(lambda o: o.coverage.patient if o.coverage else PatientFactory(practice=o.practice))
    rendering = factory.LazyAttribute(lambda o: RenderingProviderFactory(practice=o.practice).membership)
    source = "note"
    service_date = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=3))
    cpt = "90834"
    minutes = 45
    diagnosis_codes = factory.LazyFunction(lambda: ["F33.1"])
    diagnosis_pointers = factory.LazyFunction(lambda: [1])
    fee_cents = 15000
    idempotency_key = factory.Sequence(lambda n: f"test-charge-{n}")


class ClaimFactory(ScopedFactory):
    """A draft claim (no lines; use `claim_with_lines` for a whole one)."""

    class Meta:
        model = m.Claim

    practice = factory.SubFactory(PracticeFactory)
    coverage = factory.LazyAttribute(lambda o: CoverageFactory(practice=o.practice))
    patient = factory.LazyAttribute(lambda o: o.coverage.patient)
    payer = factory.LazyAttribute(lambda o: o.coverage.payer)
    service_date = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=3))
    control_number = factory.Sequence(lambda n: f"TC{n:010d}")
    rendering = factory.LazyAttribute(lambda o: RenderingProviderFactory(practice=o.practice).membership)
    diagnosis_codes = factory.LazyFunction(lambda: ["F33.1"])
    total_cents = 15000


def claim_with_lines(practice, *, lines: int = 1, **claim_fields) -> m.Claim:
    """A claim with `lines` 90834 lines from their own charges (same patient, coverage, date)."""
    claim = ClaimFactory(practice=practice, **claim_fields)
    total = 0
    for number in range(1, lines + 1):
        charge = ChargeFactory(
            practice=practice,
            coverage=claim.coverage,
            patient=claim.patient,
            rendering=claim.rendering,
            service_date=claim.service_date,
            status=m.Charge.Status.ON_CLAIM,
        )
        m.ClaimLine.all_objects.create(
            practice=practice,
            claim=claim,
            charge=charge,
            line_number=number,
            service_date=claim.service_date,
            cpt=charge.cpt,
            units=1,
            charge_cents=charge.fee_cents,
            diagnosis_pointers=[1],
            minutes=charge.minutes,
        )
        total += charge.fee_cents
    claim.total_cents = total
    claim.save(update_fields=["total_cents"])
    return claim


class ClaimFileFactory(ScopedFactory):
    class Meta:
        model = m.ClaimFile

    practice = factory.SubFactory(PracticeFactory)
    receiver_id = "CLEARINGHOUSE"
    interchange_control_number = factory.Sequence(lambda n: f"{n + 1:09d}")
    group_control_number = factory.Sequence(lambda n: f"{n + 1}")
    transaction_control_number = factory.Sequence(lambda n: f"{n + 1:04d}")
    filename = factory.Sequence(lambda n: f"837P-{n:06d}.x12")
    content = "ISA*00*~"
    sha256 = factory.Sequence(lambda n: f"{n:064d}")
    status = m.ClaimFile.Status.RELEASED


class ClaimExportRequestFactory(ScopedFactory):
    class Meta:
        model = m.ClaimExportRequest

    practice = factory.SubFactory(PracticeFactory)
    status = m.ClaimExportRequest.Status.DONE


class ClearinghouseConnectionFactory(ScopedFactory):
    class Meta:
        model = m.ClearinghouseConnection

    practice = factory.SubFactory(PracticeFactory)
    name = "Example Clearinghouse"
    host = "127.0.0.1"
    username = "riverside"
    receiver_id = "CLEARINGHOUSE"
    receiver_name = "EXAMPLE CLEARINGHOUSE"


class TransmissionFactory(ScopedFactory):
    class Meta:
        model = m.Transmission

    practice = factory.SubFactory(PracticeFactory)
    connection = factory.LazyAttribute(lambda o: ClearinghouseConnectionFactory(practice=o.practice))
    direction = m.Transmission.Direction.UPLOAD
    filename = factory.Sequence(lambda n: f"837P-{n:06d}.x12")


class InboundFileFactory(ScopedFactory):
    class Meta:
        model = m.InboundFile

    practice = factory.SubFactory(PracticeFactory)
    kind = m.InboundFile.Kind.ACK_999
    filename = factory.Sequence(lambda n: f"ack-{n}.999")
    content = "ISA*00*~"
    sha256 = factory.Sequence(lambda n: f"{n:064x}")


class EligibilityCheckFactory(ScopedFactory):
    class Meta:
        model = m.EligibilityCheck

    practice = factory.SubFactory(PracticeFactory)
    coverage = factory.LazyAttribute(lambda o: CoverageFactory(practice=o.practice))
    trace_number = factory.Sequence(lambda n: f"TRN{n:08d}")
    request_x12 = "ISA*00*~"


# --- Billing II (issue 7) ---------------------------------------------------------------------


def ledger_charge(charge: m.Charge) -> m.LedgerTransaction:
    """Post a charge to the ledger the way billing does (A/R up, gross charges up)."""
    from billing.ledger import cents_to_money, credit, debit, ledger_post

    account = m.LedgerAccount.INSURANCE_AR if charge.kind == m.Charge.Kind.INSURANCE else m.LedgerAccount.PATIENT_AR
    dims = {"patient": charge.patient, "charge": charge}
    amount = cents_to_money(charge.fee_cents)
    return ledger_post(
        practice_id=charge.practice_id,
        kind=m.LedgerTransaction.Kind.CHARGE,
        legs=[debit(account, amount, **dims), credit(m.LedgerAccount.CHARGES, amount, **dims)],
        idempotency_key=f"charge:{charge.pk}",
        occurred_on=charge.service_date,
    )


class RemittanceFactory(ScopedFactory):
    class Meta:
        model = m.Remittance

    practice = factory.SubFactory(PracticeFactory)
    payer = factory.LazyAttribute(lambda o: PayerFactory(practice=o.practice))
    payer_identifier = "1371234567"
    trace_number = factory.Sequence(lambda n: f"EFT{n:09d}")
    payment_amount = 0
    payment_method = "ACH"
    status = m.Remittance.Status.POSTED


class RemittanceClaimFactory(ScopedFactory):
    class Meta:
        model = m.RemittanceClaim

    practice = factory.SubFactory(PracticeFactory)
    remittance = factory.LazyAttribute(lambda o: RemittanceFactory(practice=o.practice))
    claim = factory.LazyAttribute(lambda o: claim_with_lines(o.practice))
    claim_control_number = factory.LazyAttribute(lambda o: o.claim.control_number if o.claim else "UNKNOWN1")
    status_code = "1"
    outcome = m.RemittanceClaim.Outcome.DENIED
    charge_amount = 150
    paid_amount = 0


class PatientPaymentFactory(ScopedFactory):
    class Meta:
        model = m.PatientPayment

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.LazyAttribute(lambda o: PatientFactory(practice=o.practice))
    amount = 25
    method = m.PatientPayment.Method.CARD


class DenialCaseFactory(ScopedFactory):
    class Meta:
        model = m.DenialCase

    practice = factory.SubFactory(PracticeFactory)
    remittance_claim = factory.LazyAttribute(lambda o: RemittanceClaimFactory(practice=o.practice))
    claim = factory.LazyAttribute(lambda o: o.remittance_claim.claim)
    reason_code = "CO-197"
    amount = 150


class StatementFactory(ScopedFactory):
    class Meta:
        model = m.Statement

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.LazyAttribute(lambda o: PatientFactory(practice=o.practice))
    period_start = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=30))
    period_end = factory.LazyFunction(timezone.localdate)
    balance_due = 40
    idempotency_key = factory.Sequence(lambda n: f"statement-{n}")
