"""Pre-aggregated A/R aging (issue 10): the aging and the A/R totals of the dashboard and the practice
home read from ARAgingCell rows plus the few ledger entries the cells do not cover.

On the scale data set (500,000 claims, ~4.5 million ledger entries) computing the aging from the
ledger groups every A/R entry by charge and resolves each charge's first submission: seconds per page
view. The cells hold the same balances already resolved and summed by (account, payer or patient,
aging date), for the ledger entries dated up to yesterday and inserted over INFLIGHT_MARGIN before
the build. The page adds, live: entries dated after that day, entries inserted since (an 835 dated
last week but posted today), and the entries of insurance balances not yet on a submitted claim
(their aging date moves when the claim is submitted). The figures equal `metrics.live_aging`.

`ar_rollup_rebuild` is idempotent (replaces the practice's cells in one transaction); Celery runs it
every 10 minutes and nightly (billing.tasks_rollup). With no cells, or an as-of date before the cells'
day, the dashboard computes from the ledger as before.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from billing import metrics
from billing.models import ARAgingCell, ARRollupState, LedgerAccount, LedgerEntry

K = ARAgingCell.Kind

# Longer than any ledger transaction stays open (an 835 paying 10,000 claims posts in ~7 minutes):
# an entry inserted before `entries_before` has committed by the time the cells are built.
INFLIGHT_MARGIN = timedelta(hours=1)


@transaction.atomic
def ar_rollup_rebuild(*, now=None, margin: timedelta = INFLIGHT_MARGIN) -> ARRollupState:
    """Replace the current practice's aging cells (call inside a practice scope). `margin`: how long
    before now an entry must have been inserted to go into the cells (benchmarks on a freshly seeded
    database pass 0)."""
    started = time.perf_counter()
    now = now or timezone.now()
    through_on = timezone.localdate(now) - timedelta(days=1)
    entries_before = now - margin
    covered = LedgerEntry.objects.filter(
        account__in=metrics.AR_ACCOUNTS, occurred_on__lte=through_on, created_at__lt=entries_before
    )
    rows = metrics.aging_groups(covered)
    items = metrics.aging_items(rows)
    cells: dict[tuple, list] = defaultdict(lambda: [Decimal("0.00"), 0])
    open_charges, open_claims = set(), set()
    for row, item in zip(rows, items, strict=True):
        if item.is_open:
            if row["charge_key"]:
                open_charges.add(row["charge_key"])
            else:
                open_claims.add(row["claim_id"])
            continue
        if item.account == LedgerAccount.INSURANCE_AR:
            keys = [(K.PAYER, item.payer_id, None, item.start)]
        else:  # the buckets, each patient's balance by date, and each patient's total (top N)
            keys = [(K.DAY, None, None, item.start), (K.PATIENT, None, item.patient_id, item.start)]
            keys.append((K.TOTAL, None, item.patient_id, through_on))
        for key in keys:
            cell = cells[key]
            cell[0] += item.amount
            cell[1] += 1
    live_ids = _entries_of_open_balances(covered, open_charges, open_claims)
    practice_id = _practice_id()
    ARAgingCell.objects.filter(practice_id=practice_id).delete()
    ARAgingCell.objects.bulk_create(
        [
            ARAgingCell(
                practice_id=practice_id,
                kind=kind,
                account=LedgerAccount.INSURANCE_AR if kind == K.PAYER else LedgerAccount.PATIENT_AR,
                payer_id=payer_id,
                patient_id=patient_id,
                start_on=start,
                amount=amount,
                groups=groups,
            )
            for (kind, payer_id, patient_id, start), (amount, groups) in cells.items()
        ],
        batch_size=2000,
    )
    state, _ = ARRollupState.objects.update_or_create(
        practice_id=practice_id,
        defaults={
            "through_on": through_on,
            "entries_before": entries_before,
            "live_entry_ids": sorted(live_ids),
            "built_at": now,
            "build_seconds": round(time.perf_counter() - started, 3),
        },
    )
    return state


def _practice_id() -> int:
    from django_scopes import get_scope

    practice = get_scope().get("practice")
    return practice.pk if hasattr(practice, "pk") else int(practice)


def _entries_of_open_balances(covered, open_charges: set, open_claims: set) -> set[int]:
    """Ids of the covered insurance entries whose balance is not yet on a submitted claim."""
    if not open_charges and not open_claims:
        return set()
    insurance = covered.filter(account=LedgerAccount.INSURANCE_AR)
    ids = set(
        insurance.filter(Q(charge_id__in=open_charges) | Q(charge__isnull=True, claim_line__charge_id__in=open_charges))
        .values_list("id", flat=True)
        .iterator()
    )
    if open_claims:
        ids |= set(
            insurance.filter(claim_id__in=open_claims, charge__isnull=True)
            .filter(Q(claim_line__isnull=True) | Q(claim_line__charge__isnull=True))
            .values_list("id", flat=True)
        )
    return ids


# Set by one_read(): the page's rollup state, read once however many figures the page shows.
_page: ContextVar[dict | None] = ContextVar("ar_rollup_page", default=None)


@contextmanager
def one_read() -> Iterator[None]:
    """Within the block every figure reads the same rollup state (one query for the whole page)."""
    token = _page.set({})
    try:
        yield
    finally:
        _page.reset(token)


def _state(as_of: date) -> ARRollupState | None:
    page = _page.get()
    if page is not None and "state" in page:
        state = page["state"]
    else:
        state = ARRollupState.objects.first()
        if page is not None:
            page["state"] = state
    if state is None or as_of < state.through_on:
        return None
    return state


def _uncovered(state: ARRollupState, as_of: date):
    """The A/R entries up to the as-of date that the cells do not hold."""
    return LedgerEntry.objects.filter(account__in=metrics.AR_ACCOUNTS, occurred_on__lte=as_of).filter(
        Q(occurred_on__gt=state.through_on)
        | Q(created_at__gte=state.entries_before)
        | Q(id__in=state.live_entry_ids or [0])
    )


def rolled_up_aging(*, as_of: date, top_patients: int = 20) -> metrics.Aging | None:
    """The aging from the cells plus the uncovered entries; None when no cells cover the as-of date."""
    state = _state(as_of)
    if state is None:
        return None
    live = metrics.aging_items(metrics.aging_groups(_uncovered(state, as_of)))
    cells = ARAgingCell.objects.all()
    items = [
        metrics.AgingItem(LedgerAccount.INSURANCE_AR, c["payer_id"], None, c["start_on"], c["amount"], c["groups"])
        for c in cells.filter(kind=K.PAYER).values("payer_id", "start_on", "amount", "groups")
    ]
    # Patient responsibility: the buckets from the by-date cells, patients' rows for the top N only.
    items += [
        metrics.AgingItem(LedgerAccount.PATIENT_AR, None, None, c["start_on"], c["amount"])
        for c in cells.filter(kind=K.DAY).values("start_on", "amount")
    ]
    live_patient = [i for i in live if i.account == LedgerAccount.PATIENT_AR]
    items += [i for i in live if i.account == LedgerAccount.INSURANCE_AR] + live_patient
    by_patient = _top_patients(cells, live_patient, as_of=as_of, top=top_patients)
    return metrics.aging_from_items(items, as_of=as_of, top_patients=top_patients, by_patient=by_patient)


def _top_patients(cells, live_patient: list, *, as_of: date, top: int) -> list[metrics.AgingRow]:
    """The `top` patient balances: any of them is either touched by the live entries or among the
    `top + touched` largest in the cells."""
    touched = {i.patient_id for i in live_patient}
    leaders = list(
        cells.filter(kind=K.TOTAL, amount__gt=0)
        .order_by("-amount", "patient_id")
        .values_list("patient_id", flat=True)[: top + len(touched)]
    )
    candidates = {p for p in leaders if p is not None} | {p for p in touched if p is not None}
    rows: dict = {}
    patient_cells = cells.filter(kind=K.PATIENT, account=LedgerAccount.PATIENT_AR)
    if None in touched or None in leaders:
        patient_cells = patient_cells.filter(Q(patient_id__in=candidates) | Q(patient_id__isnull=True))
    else:
        patient_cells = patient_cells.filter(patient_id__in=candidates)
    for c in patient_cells.values("patient_id", "start_on", "amount"):
        row = rows.setdefault(c["patient_id"], metrics.AgingRow(key=c["patient_id"], label=""))
        row.buckets[metrics.bucket_for((as_of - c["start_on"]).days)] += c["amount"]
    for item in live_patient:
        row = rows.setdefault(item.patient_id, metrics.AgingRow(key=item.patient_id, label=""))
        row.buckets[metrics.bucket_for((as_of - item.start).days)] += item.amount
    return sorted((r for r in rows.values() if r.total > 0), key=metrics.largest_first)[:top]


def rolled_up_ar_totals(*, as_of: date) -> metrics.ARTotals | None:
    """Insurance and patient A/R at the as-of date from the cells plus the uncovered entries."""
    state = _state(as_of)
    if state is None:
        return None
    sums = {LedgerAccount.INSURANCE_AR: Decimal("0.00"), LedgerAccount.PATIENT_AR: Decimal("0.00")}
    for row in ARAgingCell.objects.filter(kind__in=(K.PAYER, K.DAY)).values("account").annotate(total=Sum("amount")):
        sums[row["account"]] += row["total"]
    for row in _uncovered(state, as_of).values("account").annotate(total=Sum("amount")):
        sums[row["account"]] += row["total"]
    return metrics.ARTotals(insurance=sums[LedgerAccount.INSURANCE_AR], patient=sums[LedgerAccount.PATIENT_AR])
