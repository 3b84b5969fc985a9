"""AR dashboard, revenue-leakage report, their CSVs, the practice home A/R card and permissions;
bounded queries at two data sizes."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing import selectors_ar
from billing.ledger import credit, debit, ledger_post
from billing.models import Charge, Claim, DenialCase, RemittanceClaim
from billing.models import LedgerAccount as A
from billing.tests.factories import (
    ChargeFactory,
    FeeScheduleEntryFactory,
    FeeScheduleFactory,
    RemittanceClaimFactory,
    RemittanceFactory,
    claim_with_lines,
    ledger_charge,
)
from clinical.tests.factories import PatientFactory, ProgressNoteFactory
from practice.permissions import Role
from practice.scoping import practice_scope
from scheduling.tests.factories import AppointmentFactory, AttendeeFactory

pytestmark = pytest.mark.django_db
D = Decimal


def url(name, **kwargs):
    return reverse(name, kwargs={"practice_slug": "riverside", **kwargs})


@pytest.fixture
def biller(make_member, practice_a):
    return make_member(practice_a, Role.BILLER)


def billed_world(practice, n: int):
    """n submitted claims of $150 posted to the ledger; each paid $100 + CO-45 $20 + PR $30 on a
    first remit (every third one denied instead)."""
    today = timezone.localdate()
    for i in range(n):
        claim = claim_with_lines(
            practice,
            service_date=today - timedelta(days=20 + i),
            status=Claim.Status.SUBMITTED,
            submitted_at=timezone.now() - timedelta(days=15 + i),
        )
        charge = claim.lines.get().charge
        ledger_charge(charge)
        denied = i % 3 == 2
        RemittanceClaimFactory(
            practice=practice,
            claim=claim,
            remittance=RemittanceFactory(practice=practice, payment_date=today - timedelta(days=2)),
            outcome=RemittanceClaim.Outcome.DENIED if denied else RemittanceClaim.Outcome.PAID,
        )
        if not denied:
            dims = {"charge": charge, "claim": claim, "payer": claim.payer}
            ledger_post(
                practice_id=practice.pk,
                kind="remittance",
                legs=[
                    debit(A.CASH, D(100), **dims),
                    debit(A.CONTRACTUAL, D(20), **dims),
                    debit(A.PATIENT_AR, D(30), **dims),
                    credit(A.INSURANCE_AR, D(150), **dims),
                ],
                idempotency_key=f"test-remit-{claim.pk}",
                occurred_on=today - timedelta(days=2),
            )


def test_dashboard_shows_the_kpis_charts_and_help(client, login, biller, practice_a):
    with practice_scope(practice_a):
        billed_world(practice_a, 3)  # 2 paid (A/R: 30 patient each), 1 denied (150 insurance)
    login(biller)
    response = client.get(url("ar_dashboard"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "$210.00" in body  # total A/R = 150 + 2 x 30
    assert "insurance $150.00 · patient $60.00" in body
    assert "33.3%" in body and "1 of 3 first remits" in body  # denial rate
    assert "66.7%" in body and "2 of 3 adjudicated" in body  # first-pass resolution
    assert '<polyline class="ar-trend__line ar-trend__line--charges"' in body
    assert 'class="ar-bars__seg ar-bars__seg--0"' in body
    assert "Patient balances by age" in body and "/riverside/patients/" in body
    assert "MGMA cost &amp; revenue glossary" in body and "HFMA MAP Key CL-1" in body
    assert "style=" not in body.split("<main", 1)[-1]  # CSP: no inline style in the page content


def test_dashboard_as_of_in_the_past_and_bad_input(client, login, biller, practice_a):
    with practice_scope(practice_a):
        billed_world(practice_a, 1)
    login(biller)
    past = (timezone.localdate() - timedelta(days=400)).isoformat()
    body = client.get(url("ar_dashboard"), {"as_of": past, "period": "365"}).content.decode()
    assert "$0.00" in body and "No open balances on this date." in body
    assert client.get(url("ar_dashboard"), {"as_of": "nonsense", "period": "7"}).status_code == 200


def test_dashboard_csv(client, login, biller, practice_a):
    with practice_scope(practice_a):
        billed_world(practice_a, 3)
    login(biller)
    response = client.get(url("ar_dashboard_csv"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    summary = {r[1]: r[2] for r in rows if r and r[0] == "summary"}
    assert summary["total_ar"] == "210.00" and summary["denial_rate_pct"] == "33.3"
    aging_total = next(r for r in rows if r[:2] == ["aging", "Total"])
    assert aging_total[-1] == "210.00"
    assert sum(1 for r in rows if r and r[0] == "monthly" and r[1] != "month") == 12


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.FRONT_DESK, Role.SUPERVISOR])
def test_roles_without_ar_dashboard_permission_get_403(client, login, make_member, practice_a, role):
    login(make_member(practice_a, role))
    for name in ("ar_dashboard", "ar_dashboard_csv", "revenue_leakage", "revenue_leakage_csv"):
        assert client.get(url(name)).status_code == 403


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.BILLER])
def test_owner_admin_and_biller_reach_the_pages(client, login, make_member, practice_a, role):
    login(make_member(practice_a, role))
    for name in ("ar_dashboard", "ar_dashboard_csv", "revenue_leakage", "revenue_leakage_csv"):
        assert client.get(url(name)).status_code == 200


def test_dashboard_queries_are_bounded(client, login, biller, practice_a, django_assert_max_num_queries):
    login(biller)
    counts = []
    for size in (2, 12):
        with practice_scope(practice_a):
            billed_world(practice_a, size)
        client.get(url("ar_dashboard"))  # warm-up: the session's and the audit chain's first-time rows
        with django_assert_max_num_queries(36), CaptureQueriesContext(connection) as ctx:
            assert client.get(url("ar_dashboard")).status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1]  # the same queries whatever the data size


def leaky_world(practice):
    """One item in each leakage check, with known money at stake."""
    now = timezone.now()
    today = timezone.localdate()
    schedule = FeeScheduleFactory(
        practice=practice, kind="self_pay", payer=None, effective_from=today - timedelta(days=400)
    )
    FeeScheduleEntryFactory(practice=practice, schedule=schedule, cpt="90834", amount_cents=14000)
    FeeScheduleEntryFactory(practice=practice, schedule=schedule, cpt="90837", amount_cents=18000)
    # 1. a completed appointment (90834) with no note
    appointment = AppointmentFactory(
        practice=practice,
        status="completed",
        starts_at=now - timedelta(days=3),
        ends_at=now - timedelta(days=3, minutes=-45),
    )
    AttendeeFactory(practice=practice, appointment=appointment, status="attended")
    # ... and one that is not a leak: completed with a signed note
    done = AppointmentFactory(
        practice=practice,
        status="completed",
        starts_at=now - timedelta(days=4),
        ends_at=now - timedelta(days=4, minutes=-45),
    )
    patient = PatientFactory(practice=practice, primary_clinician=done.clinician)
    note = ProgressNoteFactory(practice=practice, patient=patient, status="signed", signed_at=now - timedelta(days=4))
    AttendeeFactory(practice=practice, appointment=done, patient=patient, status="attended", progress_note=note)
    ChargeFactory(practice=practice, patient=patient, note=note, status=Charge.Status.ON_CLAIM)
    # 2. a signed 90837 note two days ago with no charge (a fresh one is still within the grace period)
    leak_patient = PatientFactory(practice=practice, primary_clinician=done.clinician)
    ProgressNoteFactory(
        practice=practice,
        patient=leak_patient,
        status="signed",
        signed_at=now - timedelta(days=2),
        service_code="90837",
    )
    ProgressNoteFactory(practice=practice, patient=leak_patient, status="signed", signed_at=now - timedelta(minutes=5))
    # 3. an insurance charge unbilled for 10 days ($125), and one unbilled for 3 days (not yet)
    ChargeFactory(practice=practice, service_date=today - timedelta(days=10), fee_cents=12500)
    ChargeFactory(practice=practice, service_date=today - timedelta(days=3), fee_cents=9900)
    # 4. a claim submitted 40 days ago with no remit ($150) and one that has a remit
    claim_with_lines(practice, status=Claim.Status.SUBMITTED, submitted_at=now - timedelta(days=40))
    answered = claim_with_lines(practice, status=Claim.Status.SUBMITTED, submitted_at=now - timedelta(days=40))
    rc = RemittanceClaimFactory(practice=practice, claim=answered)
    # 5. an open denial untouched for 20 days ($75) and one worked yesterday
    stale = DenialCase.objects.create(
        practice=practice, claim=answered, remittance_claim=rc, reason_code="CO-197", amount=75
    )
    DenialCase.objects.filter(pk=stale.pk).update(created_at=now - timedelta(days=20))
    DenialCase.objects.create(
        practice=practice,
        claim=answered,
        remittance_claim=RemittanceClaimFactory(practice=practice, claim=answered),
        reason_code="CO-16",
        amount=60,
        last_worked_at=now - timedelta(days=1),
    )


def test_revenue_leakage_counts_and_money_at_stake(practice_a):
    with practice_scope(practice_a):
        leaky_world(practice_a)
        sections = {s.key: s for s in selectors_ar.revenue_leakage()}
    assert {k: (s.count, s.amount) for k, s in sections.items()} == {
        "unsigned": (1, D("140.00")),
        "uncharged": (1, D("180.00")),
        "unbilled": (1, D("125.00")),
        "no_response": (1, D("150.00")),
        "idle_denials": (1, D("75.00")),
    }
    assert sections["uncharged"].items[0].what.startswith("CPT 90837")


def test_revenue_leakage_page_and_csv(client, login, biller, practice_a):
    with practice_scope(practice_a):
        leaky_world(practice_a)
    login(biller)
    body = client.get(url("revenue_leakage")).content.decode()
    assert "$670.00 at stake" in body  # 140 + 180 + 125 + 150 + 75
    assert "Completed appointments without a signed note" in body and "Denials not worked in 14 days" in body
    assert "/riverside/appointments/" in body and "/riverside/billing/claims/" in body
    rows = list(csv.reader(io.StringIO(client.get(url("revenue_leakage_csv")).content.decode())))
    assert ["Signed notes without a charge", "1", "180.00", "", "", "", ""] in rows
    assert len(rows) == 1 + 5 + 5


def test_revenue_leakage_queries_are_bounded(client, login, biller, practice_a, django_assert_max_num_queries):
    login(biller)
    with practice_scope(practice_a):
        leaky_world(practice_a)
    with django_assert_max_num_queries(30):
        assert client.get(url("revenue_leakage")).status_code == 200
    with practice_scope(practice_a):
        for _ in range(5):
            ChargeFactory(practice=practice_a, service_date=timezone.localdate() - timedelta(days=12))
            claim_with_lines(
                practice_a, status=Claim.Status.SUBMITTED, submitted_at=timezone.now() - timedelta(days=45)
            )
    with django_assert_max_num_queries(30):
        assert client.get(url("revenue_leakage")).status_code == 200


def test_home_card_shows_the_ar_summary_to_billing_roles_only(client, login, biller, make_member, practice_a):
    with practice_scope(practice_a):
        billed_world(practice_a, 3)
    login(biller)
    body = client.get(reverse("practice_dashboard", kwargs={"practice_slug": "riverside"})).content.decode()
    assert 'id="card-ar"' in body and "$210.00" in body and "33.3%" in body
    assert url("ar_dashboard") in body
    login(make_member(practice_a, Role.CLINICIAN))
    body = client.get(reverse("practice_dashboard", kwargs={"practice_slug": "riverside"})).content.decode()
    assert 'id="card-ar"' not in body and url("ar_dashboard") not in body


def test_home_card_queries_are_bounded(client, login, biller, practice_a, django_assert_max_num_queries):
    login(biller)
    home = reverse("practice_dashboard", kwargs={"practice_slug": "riverside"})
    with practice_scope(practice_a):
        billed_world(practice_a, 2)
    with django_assert_max_num_queries(40):
        assert client.get(home).status_code == 200
    with practice_scope(practice_a):
        billed_world(practice_a, 10)
    with django_assert_max_num_queries(40):
        assert client.get(home).status_code == 200


# --- Whole-ledger figures computed ahead by beat (issue 10) ----------------------------------------


@pytest.fixture
def empty_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def test_beat_figures_are_what_the_page_computes_and_are_shown_with_their_time(
    client, login, biller, practice_a, empty_cache
):
    from billing.tasks_rollup import ar_figures_practice_task, ar_figures_task

    with practice_scope(practice_a):
        billed_world(practice_a, 4)
    login(biller)
    live = client.get(url("ar_dashboard"))
    assert live.context["dash"].figures_computed_at is None
    assert b"data-figures-computed-at" not in live.content

    assert ar_figures_task.delay().get() >= 1  # eager in tests: fans out to the practice task
    stored = client.get(url("ar_dashboard"))
    dash, live_dash = stored.context["dash"], live.context["dash"]
    assert dash.figures_computed_at is not None
    assert b"data-figures-computed-at" in stored.content
    for name in ("denial", "first_pass", "clean_claims", "net_collection", "months", "by_payer", "by_clinician"):
        assert getattr(dash, name) == getattr(live_dash, name), name
    assert ar_figures_practice_task.delay(practice_id=practice_a.pk).get() == len(selectors_ar.PERIODS)


def test_stored_figures_serve_only_their_own_window_and_practice(client, login, biller, practice_a, empty_cache):
    with practice_scope(practice_a):
        billed_world(practice_a, 2)
        today = timezone.localdate()
        start, end = selectors_ar.window(today, "30")
        selectors_ar.ledger_figures_store(practice_id=practice_a.pk, as_of=today, start=start, end=end)
        assert selectors_ar.ledger_figures_stored(practice_id=practice_a.pk, as_of=today, start=start, end=end)
        assert (
            selectors_ar.ledger_figures_stored(practice_id=practice_a.pk + 1, as_of=today, start=start, end=end) is None
        )
        yesterday = today - timedelta(days=1)
        assert (
            selectors_ar.ledger_figures_stored(practice_id=practice_a.pk, as_of=yesterday, start=start, end=end) is None
        )
    login(biller)
    assert client.get(url("ar_dashboard"), {"period": "30"}).context["dash"].figures_computed_at is not None
    assert client.get(url("ar_dashboard"), {"period": "90"}).context["dash"].figures_computed_at is None
    past = (today - timedelta(days=3)).isoformat()
    assert client.get(url("ar_dashboard"), {"period": "30", "as_of": past}).context["dash"].figures_computed_at is None
