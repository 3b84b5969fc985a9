"""The pre-aggregated A/R aging (billing.ar_rollup) gives the figures computed from the ledger, before
and after writes the cells do not hold, and rebuilding it is idempotent."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from billing import ar_rollup, metrics
from billing.ledger import credit, debit
from billing.models import ARAgingCell, ARRollupState, ClaimLine, LedgerEntry
from billing.models import LedgerAccount as A
from billing.tasks_rollup import ar_rollup_task
from billing.tests.factories import ClaimFactory, claim_with_lines
from billing.tests.test_metrics import aware, charge_posted, post
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db

D = Decimal
NOW_MARGIN = timedelta(0)  # entries inserted before the build go into the cells


@pytest.fixture
def scope(practice_a):
    with practice_scope(practice_a):
        yield practice_a


def _figures(aged: metrics.Aging):
    return (
        [(r.label, r.values) for r in aged.by_payer],
        aged.patient.values,
        aged.total.values,
        [(r.label, r.values) for r in aged.by_patient],
    )


def _live_totals(as_of):
    rows = LedgerEntry.objects.filter(account__in=metrics.AR_ACCOUNTS, occurred_on__lte=as_of)
    return {r["account"]: r["t"] for r in rows.values("account").annotate(t=Sum("amount"))}


def _world(practice, today):
    """Submitted and unsubmitted insurance balances, patient balances of several patients, a paid charge."""
    submitted = claim_with_lines(
        practice, service_date=today - timedelta(days=100), submitted_at=aware(today - timedelta(days=95))
    )
    head = submitted.lines.get().charge
    post(
        practice, head.service_date, debit(A.INSURANCE_AR, D(150), charge=head), credit(A.CHARGES, D(150), charge=head)
    )
    waiting = charge_posted(practice, amount=100, on=today - timedelta(days=40))
    patients = [
        charge_posted(practice, amount=amount, on=today - timedelta(days=days), kind="patient", coverage=None)
        for amount, days in ((40, 61), (40, 10), (75, 130), (20, 2))
    ]
    paid = charge_posted(practice, amount=80, on=today - timedelta(days=5))
    post(practice, today - timedelta(days=1), debit(A.CASH, D(80)), credit(A.INSURANCE_AR, D(80), charge=paid))
    return submitted, waiting, patients


def test_cells_give_the_ledgers_aging_and_totals_before_and_after_later_writes(scope):
    today = timezone.localdate()
    submitted, waiting, patients = _world(scope, today)
    live_before = _figures(metrics.live_aging(as_of=today, top_patients=3))

    state = ar_rollup.ar_rollup_rebuild(margin=NOW_MARGIN)

    assert ARAgingCell.objects.exists()
    # the unsubmitted insurance charge stays live: its aging date moves when it is submitted
    assert set(state.live_entry_ids) == set(
        LedgerEntry.objects.filter(charge=waiting, account=A.INSURANCE_AR).values_list("id", flat=True)
    )
    assert _figures(metrics.aging(as_of=today, top_patients=3)) == live_before

    # After the build: the waiting charge is submitted today, an 835 dated last week pays part of the
    # submitted claim, a patient pays, and a new charge is posted today.
    claim = ClaimFactory(
        practice=scope, coverage=waiting.coverage, patient=waiting.patient, submitted_at=timezone.now()
    )
    ClaimLine.all_objects.create(
        practice=scope, claim=claim, charge=waiting, line_number=1, service_date=waiting.service_date,
        cpt=waiting.cpt, units=1, charge_cents=waiting.fee_cents, diagnosis_pointers=[1], minutes=waiting.minutes,
    )  # fmt: skip
    head = submitted.lines.get().charge
    post(scope, today - timedelta(days=7), debit(A.CASH, D(100)), credit(A.INSURANCE_AR, D(100), charge=head))
    post(scope, today - timedelta(days=3), debit(A.CASH, D(40)), credit(A.PATIENT_AR, D(40), charge=patients[1]))
    charge_posted(scope, amount=60, on=today, kind="patient", coverage=None, patient=patients[3].patient)

    live_after = _figures(metrics.live_aging(as_of=today, top_patients=3))
    assert live_after != live_before
    assert _figures(metrics.aging(as_of=today, top_patients=3)) == live_after
    totals = metrics.ar_totals(as_of=today)
    live = _live_totals(today)
    assert (totals.insurance, totals.patient) == (live[A.INSURANCE_AR], live[A.PATIENT_AR])


def test_an_as_of_date_before_the_cells_day_is_computed_from_the_ledger(scope):
    today = timezone.localdate()
    _world(scope, today)
    ar_rollup.ar_rollup_rebuild(margin=NOW_MARGIN)
    earlier = today - timedelta(days=30)
    assert ar_rollup.rolled_up_aging(as_of=earlier) is None
    assert _figures(metrics.aging(as_of=earlier)) == _figures(metrics.live_aging(as_of=earlier))


def test_rebuilding_twice_gives_the_same_cells(scope):
    _world(scope, timezone.localdate())

    def cells():
        rows = ARAgingCell.objects.values_list(
            "kind", "account", "payer_id", "patient_id", "start_on", "amount", "groups"
        )
        return sorted(map(repr, rows))

    first = ar_rollup.ar_rollup_rebuild(margin=NOW_MARGIN)
    before = cells()
    second = ar_rollup.ar_rollup_rebuild(margin=NOW_MARGIN)
    assert cells() == before and before
    assert second.pk == first.pk and second.live_entry_ids == first.live_entry_ids
    assert ARRollupState.objects.count() == 1


def test_the_beat_task_rebuilds_each_practice_with_a_ledger_in_its_own_scope(practice_a, practice_b):
    with practice_scope(practice_a):
        _world(practice_a, timezone.localdate())
    assert ar_rollup_task.delay().get() == 1
    assert ARRollupState.all_objects.filter(practice=practice_a).exists()
    assert not ARRollupState.all_objects.filter(practice=practice_b).exists()
    assert not ARAgingCell.all_objects.filter(practice=practice_b).exists()
    with practice_scope(practice_b):
        assert metrics.aging(as_of=timezone.localdate()).total.total == 0
