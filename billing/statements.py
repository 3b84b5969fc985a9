"""Statement and superbill PDFs (WeasyPrint, the house way: clinical/pdf.py — nothing fetched)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils import timezone

from billing.models import BillingProfile, Statement
from billing.selectors_patient_billing import patient_balance, superbill_rows
from clinical.pdf import render_pdf


def _profile(practice_id: int) -> BillingProfile | None:
    return BillingProfile.objects.filter(practice_id=practice_id).first()


def statement_pdf_bytes(*, statement: Statement) -> bytes:
    lines = [
        {
            **line,
            **{
                k: Decimal(line.get(k) or "0")
                for k in ("charge", "insurance_paid", "adjustments", "patient_paid", "balance")
            },
        }
        for line in statement.lines
    ]
    return render_pdf(
        "billing/patient/statement_pdf.html",
        {
            "practice": statement.practice,
            "profile": _profile(statement.practice_id),
            "patient": statement.patient,
            "statement": statement,
            "lines": lines,
            "printed_at": timezone.now(),
        },
    )


def superbill_pdf_bytes(*, patient, start: date, end: date) -> bytes:
    rows = superbill_rows(patient=patient, start=start, end=end)
    return render_pdf(
        "billing/patient/superbill_pdf.html",
        {
            "practice": patient.practice,
            "profile": _profile(patient.practice_id),
            "patient": patient,
            "start": start,
            "end": end,
            "rows": rows,
            "total_charged": sum((r["charged"] for r in rows), Decimal("0.00")),
            "total_paid": sum((r["paid"] for r in rows), Decimal("0.00")),
            "balance": patient_balance(patient=patient),
            "printed_at": timezone.now(),
        },
    )
