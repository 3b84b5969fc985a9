"""Patient billing reads, all from the ledger (billing/ledger.py): balances, open charges,
activity, statement lines and superbill rows. Every function runs a bounded number of queries."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce

from billing.ledger import money
from billing.models import Charge, LedgerAccount, LedgerEntry, LedgerTransaction, PatientPayment, RenderingProvider

ZERO = Decimal("0.00")
A = LedgerAccount
K = LedgerTransaction.Kind


def _sum(queryset) -> Decimal:
    # money(): SQLite sums decimals as floats; PostgreSQL is exact either way.
    return money(queryset.aggregate(total=Sum("amount"))["total"] or ZERO)


def patient_balance(*, patient, as_of: date | None = None) -> Decimal:
    """What the patient owes: patient_ar + patient_credit (negative = the practice owes a credit)."""
    queryset = LedgerEntry.objects.filter(patient=patient, account__in=(A.PATIENT_AR, A.PATIENT_CREDIT))
    if as_of is not None:
        queryset = queryset.filter(occurred_on__lte=as_of)
    return _sum(queryset)


def patient_credit_available(*, patient) -> Decimal:
    """Unapplied credit held for the patient (patient_credit is credit-normal, so negate it)."""
    return -_sum(LedgerEntry.objects.filter(patient=patient, account=A.PATIENT_CREDIT))


def insurance_pending(*, patient) -> Decimal:
    return _sum(LedgerEntry.objects.filter(patient=patient, account=A.INSURANCE_AR))


def _charge_key():
    # Remittance postings may carry only the claim line; its charge is the same service.
    return Coalesce(F("charge_id"), F("claim_line__charge_id"))


def open_patient_charges(*, patient) -> list[tuple[Charge, Decimal]]:
    """Charges with patient responsibility still owing, oldest first: [(charge, outstanding)]."""
    rows = (
        LedgerEntry.objects.filter(patient=patient, account=A.PATIENT_AR)
        .annotate(key=_charge_key())
        .exclude(key=None)
        .values("key")
        .annotate(due=Sum("amount"))
        .filter(due__gt=0)
    )
    due = {row["key"]: money(row["due"]) for row in rows}
    due = {key: amount for key, amount in due.items() if amount > 0}
    charges = Charge.objects.filter(pk__in=due).order_by("service_date", "pk")
    return [(charge, due[charge.pk]) for charge in charges]


def patient_activity(*, patient, limit: int = 200) -> list[dict]:
    """Ledger transactions touching the patient, newest first, with their effect on the patient's
    balance and on insurance A/R."""
    rows = (
        LedgerEntry.objects.filter(patient=patient)
        .values("transaction_id", "transaction__kind", "transaction__occurred_on", "transaction__memo")
        .annotate(
            patient_effect=Coalesce(Sum("amount", filter=Q(account__in=(A.PATIENT_AR, A.PATIENT_CREDIT))), ZERO),
            insurance_effect=Coalesce(Sum("amount", filter=Q(account=A.INSURANCE_AR)), ZERO),
            cash=Coalesce(Sum("amount", filter=Q(account=A.CASH)), ZERO),
            charged=Coalesce(Sum("amount", filter=Q(account=A.CHARGES)), ZERO),
        )
        .order_by("-transaction__occurred_on", "-transaction_id")[:limit]
    )
    labels = dict(K.choices)
    return [
        {
            "id": row["transaction_id"],
            "kind": row["transaction__kind"],
            "kind_label": labels.get(row["transaction__kind"], row["transaction__kind"]),
            "on": row["transaction__occurred_on"],
            "memo": row["transaction__memo"],
            "charged": -row["charged"],
            "cash": row["cash"],
            "patient_effect": row["patient_effect"],
            "insurance_effect": row["insurance_effect"],
        }
        for row in rows
    ]


def patient_payments(*, patient, limit: int = 100):
    return PatientPayment.objects.filter(patient=patient).select_related("appointment")[:limit]


def _per_charge(*, patient, as_of: date | None = None, start: date | None = None, end: date | None = None):
    """Per charge: charged, insurance paid, adjustments, patient paid, patient balance, insurance
    pending — one grouped query over the ledger."""
    entries = LedgerEntry.objects.filter(patient=patient).annotate(key=_charge_key()).exclude(key=None)
    if as_of is not None:
        entries = entries.filter(occurred_on__lte=as_of)
    rows = entries.values("key", "account").annotate(total=Sum("amount"))
    out: dict[int, dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(
            ("charge", "insurance_paid", "adjustments", "patient_paid", "balance", "insurance_pending"), ZERO
        )
    )
    for row in rows:
        item, account, total = out[row["key"]], row["account"], row["total"]
        if account == A.CHARGES:
            item["charge"] -= money(total)
        elif account == A.CASH:
            item["insurance_paid"] += total
        elif account in (A.CONTRACTUAL, A.OTHER_ADJUSTMENT, A.WRITE_OFF):
            item["adjustments"] += total
        elif account == A.PATIENT_AR:
            item["balance"] += total
        elif account == A.INSURANCE_AR:
            item["insurance_pending"] += total
    # A patient's cash carries no charge dimension: what they paid on a charge is the patient_ar
    # credited by their payments, refunds and applied credits.
    paid = LedgerEntry.objects.filter(patient=patient, account=A.PATIENT_AR).filter(
        Q(transaction__kind__in=(K.PATIENT_PAYMENT, K.REFUND))
        | Q(transaction__idempotency_key__startswith="credit_apply:")
    )
    if as_of is not None:
        paid = paid.filter(occurred_on__lte=as_of)
    for row in paid.exclude(charge_id=None).values("charge_id").annotate(total=Sum("amount")):
        out[row["charge_id"]]["patient_paid"] = -money(row["total"])
    charges = Charge.objects.filter(pk__in=list(out)).exclude(fee_cents=0).select_related("rendering__user")
    if start is not None:
        charges = charges.filter(service_date__gte=start)
    if end is not None:
        charges = charges.filter(service_date__lte=end)
    return [
        (charge, {name: money(value) for name, value in out[charge.pk].items()})
        for charge in charges.order_by("service_date", "pk")
    ]


def statement_lines(*, patient, as_of: date) -> list[dict]:
    """The frozen statement lines (JSON-safe strings) up to `as_of`."""
    lines = []
    for charge, item in _per_charge(patient=patient, as_of=as_of):
        if item["charge"] == 0 and item["balance"] == 0:
            continue
        lines.append(
            {
                "date": charge.service_date.isoformat(),
                "description": charge.description or charge.cpt,
                "cpt": charge.cpt,
                "charge": str(item["charge"]),
                "insurance_paid": str(item["insurance_paid"]),
                "adjustments": str(item["adjustments"]),
                "patient_paid": str(item["patient_paid"]),
                "insurance_pending": str(item["insurance_pending"]),
                "balance": str(item["balance"]),
            }
        )
    return lines


def superbill_rows(*, patient, start: date, end: date) -> list[dict]:
    """Services in [start, end] for the out-of-network superbill: DOS, CPT (+ our label), ICD-10,
    rendering clinician and NPI, amount charged and paid (insurance + patient)."""
    from billing import cpt as cpt_catalog

    per_charge = [
        (charge, item)
        for charge, item in _per_charge(patient=patient, start=start, end=end)
        if charge.status != Charge.Status.VOID and charge.cpt
    ]
    member_ids = {charge.rendering_id for charge, _ in per_charge if charge.rendering_id}
    npis = dict(RenderingProvider.objects.filter(membership_id__in=member_ids).values_list("membership_id", "npi"))
    rows = []
    for charge, item in per_charge:
        rows.append(
            {
                "date": charge.service_date,
                "cpt": charge.cpt,
                "modifiers": " ".join(charge.modifiers or []),
                "label": cpt_catalog.cpt_label(charge.cpt),
                "icd10": ", ".join(charge.diagnosis_codes or []),
                "units": charge.units,
                "clinician": str(charge.rendering.user) if charge.rendering_id else "",
                "npi": npis.get(charge.rendering_id, ""),
                "charged": item["charge"],
                "paid": item["insurance_paid"] + item["patient_paid"],
                "balance": item["balance"],
            }
        )
    return rows


def statements_for(*, patient, limit: int = 24):
    return patient.statements.all()[:limit]


def patients_with_balance(*, as_of: date | None = None) -> list[int]:
    """Ids of the scope's patients whose patient balance is above zero."""
    queryset = LedgerEntry.objects.filter(account__in=(A.PATIENT_AR, A.PATIENT_CREDIT)).exclude(patient_id=None)
    if as_of is not None:
        queryset = queryset.filter(occurred_on__lte=as_of)
    rows = queryset.values("patient_id").annotate(total=Sum("amount")).filter(total__gte=Decimal("0.005"))
    return [row["patient_id"] for row in rows]
