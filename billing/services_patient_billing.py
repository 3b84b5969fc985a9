"""Patient billing writes: patient payments (and copays at check-in), refunds, credits, statements
and the ledger backfill of charges. Ledger conventions: billing/ledger.py docstring.

    patient pays     Dr cash / Cr patient_ar per allocated charge (excess: Cr patient_credit)
    credit applied   Dr patient_credit / Cr patient_ar per charge
    refund           Dr patient_credit (then Dr patient_ar, re-opening paid charges) / Cr cash

Allocation goes to the oldest open patient-responsibility charges first unless the user picks
charges; a copay at check-in goes to that day's patient charges, the rest is held as credit.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.ledger import credit, debit, ledger_post, money
from billing.models import (
    Charge,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    PatientPayment,
    PaymentAllocation,
    Statement,
)
from billing.selectors_patient_billing import (
    open_patient_charges,
    patient_balance,
    patient_credit_available,
    statement_lines,
)
from practice.errors import DomainError

ZERO = Decimal("0.00")


def _lock_patient(patient) -> None:
    """Serialize money writes for one patient (allocation reads balances, then posts)."""
    from clinical.models import Patient

    Patient.objects.select_for_update().filter(pk=patient.pk).first()


def _amount(value: Any, *, field: str = "amount") -> Decimal:
    try:
        amount = money(value)
    except (TypeError, ArithmeticError, ValueError) as exc:
        raise DomainError("Enter an amount in dollars and cents.", field=field) from exc
    if amount <= 0:
        raise DomainError("The amount must be more than zero.", field=field)
    return amount


def _appointment_day(appointment) -> date:
    from zoneinfo import ZoneInfo

    return timezone.localtime(appointment.starts_at, ZoneInfo(appointment.practice.timezone)).date()


@transaction.atomic
def payment_record(
    *,
    patient,
    amount: Any,
    method: str,
    by=None,
    reference: str = "",
    received_on: date | None = None,
    charges: list[Charge] | None = None,
    appointment=None,
    is_copay: bool = False,
    note: str = "",
) -> PatientPayment:
    """Record money received from a patient and allocate it (see module docstring)."""
    amount = _amount(amount)
    if method not in PatientPayment.Method.values:
        raise DomainError("Choose how the patient paid.", field="method")
    if appointment is not None and appointment.practice_id != patient.practice_id:
        raise DomainError("Not found.", code="not_found")
    _lock_patient(patient)
    received_on = received_on or timezone.localdate()
    open_items = open_patient_charges(patient=patient)  # [(charge, outstanding)] oldest first
    if charges is not None:
        wanted = [c.pk for c in charges]
        by_id = {c.pk: (c, due) for c, due in open_items}
        stray = [pk for pk in wanted if pk not in by_id]
        if stray:
            raise DomainError("A chosen charge has nothing owing.", field="charges")
        open_items = [by_id[pk] for pk in wanted]
    elif appointment is not None:
        day = _appointment_day(appointment)
        open_items = [(c, due) for c, due in open_items if c.service_date == day]
    payment = PatientPayment.objects.create(
        practice_id=patient.practice_id,
        patient=patient,
        kind=PatientPayment.Kind.PAYMENT,
        amount=amount,
        method=method,
        reference=reference[:60],
        received_on=received_on,
        is_copay=is_copay,
        appointment=appointment,
        recorded_by=by,
        note=note[:200],
    )
    remaining = amount
    legs = [debit(LedgerAccount.CASH, amount, patient_id=patient.pk)]
    allocations = []
    for charge, due in open_items:
        if remaining <= 0:
            break
        part = min(due, remaining)
        if part <= 0:
            continue
        remaining -= part
        allocations.append(
            PaymentAllocation(practice_id=patient.practice_id, payment=payment, charge=charge, amount=part)
        )
        legs.append(
            credit(
                LedgerAccount.PATIENT_AR,
                part,
                patient_id=patient.pk,
                charge_id=charge.pk,
                rendering_id=charge.rendering_id,
            )
        )
    if remaining > 0:
        legs.append(credit(LedgerAccount.PATIENT_CREDIT, remaining, patient_id=patient.pk))
    PaymentAllocation.objects.bulk_create(allocations)
    label = "Copay" if is_copay else "Patient payment"
    payment.ledger_transaction = ledger_post(
        practice_id=patient.practice_id,
        kind=LedgerTransaction.Kind.PATIENT_PAYMENT,
        legs=legs,
        idempotency_key=f"patient_payment:{payment.pk}",
        occurred_on=received_on,
        memo=f"{label} ({payment.get_method_display().lower()}{', ' + reference if reference else ''})",
        by=by,
    )
    payment.save(update_fields=["ledger_transaction", "updated_at"])
    return payment


@transaction.atomic
def copay_collect(*, appointment, patient, amount: Any, method: str, by=None, reference: str = "") -> PatientPayment:
    """The copay taken at check-in: linked to the appointment, allocated to that day's patient
    charges (usually none yet: then held as credit and applied when the charge posts)."""
    return payment_record(
        patient=patient,
        amount=amount,
        method=method,
        by=by,
        reference=reference,
        appointment=appointment,
        is_copay=True,
        note="Copay at check-in",
    )


@transaction.atomic
def credit_apply(*, patient, by=None, on: date | None = None) -> LedgerTransaction | None:
    """Apply the patient's unapplied credit to open patient charges, oldest first."""
    _lock_patient(patient)
    available = patient_credit_available(patient=patient)
    if available <= 0:
        return None
    legs = []
    used = ZERO
    for charge, due in open_patient_charges(patient=patient):
        part = min(due, available - used)
        if part <= 0:
            break
        used += part
        legs.append(
            credit(
                LedgerAccount.PATIENT_AR,
                part,
                patient_id=patient.pk,
                charge_id=charge.pk,
                rendering_id=charge.rendering_id,
            )
        )
    if not legs:
        return None
    legs.append(debit(LedgerAccount.PATIENT_CREDIT, used, patient_id=patient.pk))
    count = LedgerTransaction.objects.filter(idempotency_key__startswith=f"credit_apply:{patient.pk}:").count()
    return ledger_post(
        practice_id=patient.practice_id,
        kind=LedgerTransaction.Kind.TRANSFER,
        legs=legs,
        idempotency_key=f"credit_apply:{patient.pk}:{count + 1}",
        occurred_on=on,
        memo="Credit applied to charges",
        by=by,
    )


@transaction.atomic
def refund_record(
    *,
    patient,
    amount: Any,
    method: str,
    by=None,
    reference: str = "",
    refunded_on: date | None = None,
    note: str = "",
) -> PatientPayment:
    """Give money back: first from the patient's credit, then by re-opening paid charges (newest
    allocation first). Never more than the credit plus what the patient has paid."""
    amount = _amount(amount)
    if method not in PatientPayment.Method.values:
        raise DomainError("Choose how the refund was paid.", field="method")
    _lock_patient(patient)
    credit_left = patient_credit_available(patient=patient)
    paid_rows = (
        PaymentAllocation.objects.filter(payment__patient=patient)
        .values("charge_id")
        .annotate(net=Sum("amount"))
        .filter(net__gt=0)
    )
    paid_by_charge = {row["charge_id"]: money(row["net"]) for row in paid_rows}
    paid_by_charge = {key: net for key, net in paid_by_charge.items() if net > 0}
    refundable = credit_left + sum(paid_by_charge.values(), ZERO)
    if amount > refundable:
        raise DomainError(f"At most ${refundable} can be refunded to this patient.", field="amount")
    refunded_on = refunded_on or timezone.localdate()
    refund = PatientPayment.objects.create(
        practice_id=patient.practice_id,
        patient=patient,
        kind=PatientPayment.Kind.REFUND,
        amount=amount,
        method=method,
        reference=reference[:60],
        received_on=refunded_on,
        recorded_by=by,
        note=note[:200],
    )
    legs = [credit(LedgerAccount.CASH, amount, patient_id=patient.pk)]
    from_credit = min(credit_left, amount)
    if from_credit > 0:
        legs.append(debit(LedgerAccount.PATIENT_CREDIT, from_credit, patient_id=patient.pk))
    remaining = amount - from_credit
    if remaining > 0:
        newest = (
            PaymentAllocation.objects.filter(payment__patient=patient, charge_id__in=paid_by_charge, amount__gt=0)
            .select_related("charge")
            .order_by("-payment__received_on", "-id")
        )
        allocations = []
        for allocation in newest:
            if remaining <= 0:
                break
            charge_id = allocation.charge_id
            part = min(paid_by_charge[charge_id], allocation.amount, remaining)
            if part <= 0:
                continue
            paid_by_charge[charge_id] -= part
            remaining -= part
            allocations.append(
                PaymentAllocation(practice_id=patient.practice_id, payment=refund, charge_id=charge_id, amount=-part)
            )
            legs.append(
                debit(
                    LedgerAccount.PATIENT_AR,
                    part,
                    patient_id=patient.pk,
                    charge_id=charge_id,
                    rendering_id=allocation.charge.rendering_id,
                )
            )
        PaymentAllocation.objects.bulk_create(allocations)
    refund.ledger_transaction = ledger_post(
        practice_id=patient.practice_id,
        kind=LedgerTransaction.Kind.REFUND,
        legs=legs,
        idempotency_key=f"patient_refund:{refund.pk}",
        occurred_on=refunded_on,
        memo=f"Refund ({refund.get_method_display().lower()}{', ' + reference if reference else ''})",
        by=by,
    )
    refund.save(update_fields=["ledger_transaction", "updated_at"])
    return refund


# --- Statements ------------------------------------------------------------------------------


@transaction.atomic
def statement_issue(*, patient, period_end: date, by=None) -> Statement:
    """Freeze the patient's statement up to `period_end` (lines and balance). Idempotent per
    patient and period end: a second call returns the first statement."""
    key = f"statement:{patient.pk}:{period_end.isoformat()}"
    found = Statement.objects.filter(idempotency_key=key).first()
    if found is not None:
        return found
    previous = Statement.objects.filter(patient=patient, period_end__lt=period_end).order_by("-period_end").first()
    if previous is not None:
        period_start = previous.period_end + timedelta(days=1)
    else:
        first = (
            LedgerEntry.objects.filter(patient=patient, occurred_on__lte=period_end)
            .order_by("occurred_on")
            .values_list("occurred_on", flat=True)
            .first()
        )
        period_start = first or period_end
    return Statement.objects.create(
        practice_id=patient.practice_id,
        patient=patient,
        period_start=period_start,
        period_end=period_end,
        balance_due=patient_balance(patient=patient, as_of=period_end),
        lines=statement_lines(patient=patient, as_of=period_end),
        idempotency_key=key,
    )


# --- Backfill --------------------------------------------------------------------------------


def ledger_backfill(*, practice_id: int) -> int:
    """Post every charge of the practice without a ledger transaction (and reverse voided ones).
    Idempotent by the charge's key; returns how many charges were newly posted."""
    from billing.services_charges import charge_ledger_post, charge_ledger_void

    posted_keys = set(
        LedgerTransaction.objects.filter(idempotency_key__startswith="charge:").values_list(
            "idempotency_key", flat=True
        )
    )
    count = 0
    for charge in Charge.objects.filter(practice_id=practice_id).exclude(fee_cents=0).order_by("pk").iterator():
        with transaction.atomic():
            if f"charge:{charge.pk}" not in posted_keys:
                charge_ledger_post(charge=charge)
                count += 1
            if charge.status == Charge.Status.VOID:
                charge_ledger_void(charge=charge)
    return count
