"""The double-entry ledger: every money event is one LedgerTransaction whose entries sum to zero.

Balances are sums of entries at an as-of date, never mutable columns. Debits are positive and
credits negative, so an A/R account's sum is what is owed to the practice.

    charge created            Dr insurance_ar (or patient_ar)   Cr charges
    insurer pays              Dr cash                           Cr insurance_ar
    contractual (CO)          Dr contractual                    Cr insurance_ar
    patient responsibility    Dr patient_ar                     Cr insurance_ar
    patient pays              Dr cash                           Cr patient_ar (overpayment: patient_credit)
    refund to patient         Dr patient_credit / patient_ar    Cr cash
    write-off                 Dr write_off                      Cr insurance_ar / patient_ar
    PLB (e.g. interest L6)    Dr cash / provider_adjustment     Cr provider_adjustment / cash
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from billing.models import LedgerAccount, LedgerEntry, LedgerTransaction
from practice.errors import DomainError

CENT = Decimal("0.01")


def money(value: Any) -> Decimal:
    """A Decimal rounded to cents (half up). Integers are taken as cents only via `cents_to_money`."""
    if isinstance(value, float):
        raise TypeError("Money is never a float.")
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def cents_to_money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


@dataclass
class Leg:
    """One side of a posting: an account, a signed amount (debit +, credit -) and its dimensions."""

    account: str
    amount: Decimal
    dims: dict[str, Any] = field(
        default_factory=dict
    )  # patient, payer, claim, claim_line, charge, rendering, adjustment_*


def debit(account: str, amount: Decimal, **dims: Any) -> Leg:
    return Leg(account, money(amount), dims)


def credit(account: str, amount: Decimal, **dims: Any) -> Leg:
    return Leg(account, -money(amount), dims)


def ledger_post(
    *,
    practice_id: int,
    kind: str,
    legs: list[Leg],
    idempotency_key: str,
    occurred_on: date | None = None,
    memo: str = "",
    by: Any = None,
    reverses: LedgerTransaction | None = None,
) -> LedgerTransaction:
    """Record one balanced transaction. The same idempotency key returns the first transaction and
    posts nothing. Unbalanced legs, unknown accounts or another practice's key are refused."""
    existing = LedgerTransaction.all_objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.practice_id != practice_id:
            raise DomainError("Idempotency key already used.", field="idempotency_key")
        return existing
    legs = [leg for leg in legs if leg.amount != 0]
    if not legs:
        raise DomainError("A ledger transaction needs at least one non-zero amount.")
    unknown = {leg.account for leg in legs} - set(LedgerAccount.values)
    if unknown:
        raise DomainError(f"Unknown ledger account(s): {', '.join(sorted(unknown))}.")
    total = sum((leg.amount for leg in legs), Decimal("0"))
    if total != 0:
        raise DomainError(f"Ledger transaction does not balance (off by {total}).")
    on = occurred_on or timezone.localdate()
    # The checks above write nothing, so the writes need no savepoint of their own (a failure
    # there fails the caller's transaction); only the insert that may lose a race gets one.
    with transaction.atomic(savepoint=False):
        try:
            with transaction.atomic():
                txn = LedgerTransaction.objects.create(
                    practice_id=practice_id,
                    kind=kind,
                    occurred_on=on,
                    memo=memo[:300],
                    idempotency_key=idempotency_key,
                    reverses=reverses,
                    created_by=by,
                )
        except IntegrityError:  # a concurrent post with the same key won
            return LedgerTransaction.all_objects.get(idempotency_key=idempotency_key, practice_id=practice_id)
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    practice_id=practice_id,
                    transaction=txn,
                    account=leg.account,
                    amount=leg.amount,
                    occurred_on=on,
                    **leg.dims,
                )
                for leg in legs
            ]
        )
    return txn


@transaction.atomic
def ledger_reverse(*, original: LedgerTransaction, memo: str = "", by: Any = None, occurred_on: date | None = None):
    """A transaction with every entry of `original` negated (original stays, marked reversed)."""
    legs = [
        Leg(
            e.account,
            -e.amount,
            {
                k: getattr(e, k)
                for k in ("patient_id", "payer_id", "claim_id", "claim_line_id", "charge_id", "rendering_id")
                if getattr(e, k) is not None
            }
            | {"adjustment_group": e.adjustment_group, "adjustment_reason": e.adjustment_reason},
        )
        for e in original.entries.all()
    ]
    return ledger_post(
        practice_id=original.practice_id,
        kind=LedgerTransaction.Kind.REVERSAL,
        legs=legs,
        idempotency_key=f"reverse:{original.pk}",
        occurred_on=occurred_on,
        memo=memo or f"Reversal of {original.get_kind_display().lower()} #{original.pk}",
        by=by,
        reverses=original,
    )


def balance(account: str, *, as_of: date | None = None, **filters: Any) -> Decimal:
    """Sum of an account's entries (optionally up to a date, filtered by dimensions)."""
    queryset = LedgerEntry.objects.filter(account=account, **filters)
    if as_of is not None:
        queryset = queryset.filter(occurred_on__lte=as_of)
    return _cents(queryset.aggregate(total=Sum("amount"))["total"])


def trial_balance(**filters: Any) -> dict[str, Decimal]:
    """Every account's sum; the values always add up to zero."""
    rows = LedgerEntry.objects.filter(**filters).values("account").annotate(total=Sum("amount"))
    return {row["account"]: _cents(row["total"]) for row in rows}


def _cents(total: Any) -> Decimal:
    """SQLite sums decimals as floats (49.6699999999997); every stored amount is whole cents, so
    rounding the sum to cents gives the exact total on every database."""
    if total is None:
        return Decimal("0.00")
    return Decimal(str(total)).quantize(CENT, rounding=ROUND_HALF_UP)
