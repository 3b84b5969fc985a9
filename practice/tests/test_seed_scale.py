"""`manage.py seed_scale`: a tiny fraction of the scale data set, built once for the module.

The build runs inside a transaction that is rolled back when the module ends, so other modules
see an empty database. Building takes a few seconds (it is the thing under test).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.test import Client
from django.urls import reverse

from practice.models import Membership, Practice
from practice.permissions import Role
from practice.scale import SCALE_PASSWORD, SCALE_SLUG, STAFF_DOMAIN, clinician_email, patient_email, scale_totp_code
from practice.scale.build import Plan
from practice.scoping import practice_scope, scopes_disabled

FRACTION = 0.0005
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def scale(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_scale", fraction=FRACTION, seed=7, stdout=open("/dev/null", "w"))  # noqa: SIM115
        with scopes_disabled():
            practice = Practice.objects.get(slug=SCALE_SLUG)
        yield practice
        transaction.set_rollback(True)


def _count(model_label: str) -> int:
    return apps.get_model(model_label).all_objects.count()


def test_counts_follow_the_plan(scale):
    plan = Plan.for_fraction(FRACTION)
    with scopes_disabled():
        members = Membership.objects.filter(practice=scale)
        assert members.filter(role__in=(Role.CLINICIAN, Role.SUPERVISOR)).count() == plan.clinicians
        assert members.filter(role=Role.SUPERVISOR).count() == plan.supervisors
        assert members.filter(role=Role.FRONT_DESK).count() == plan.front_desk
        assert members.filter(role=Role.BILLER).count() == plan.billers
    assert _count("practice.Location") == plan.locations
    assert _count("clinical.Patient") == plan.patients
    assert _count("scheduling.Appointment") == plan.appointments
    assert _count("scheduling.Attendee") == plan.appointments
    claims = _count("billing.Claim")
    assert 0.8 * plan.claims <= claims <= plan.claims
    assert 0 < _count("assessments.Response") <= plan.responses + 40
    for label in (
        "billing.Remittance",
        "billing.DenialCase",
        "billing.PatientPayment",
        "assessments.RiskAlert",
        "clinical.ProgressNote",
        "portal.PortalAccess",
        "billing.Coverage",
    ):
        assert _count(label) > 0, label


def test_every_tenant_row_belongs_to_the_scale_practice(scale):
    checked = 0
    for model in apps.get_models():
        if hasattr(model, "all_objects") and any(f.name == "practice" for f in model._meta.fields):
            stray = model.all_objects.exclude(practice_id=scale.pk).count()
            assert stray == 0, model._meta.label
            checked += model.all_objects.count()
    assert checked > 10_000


def test_claim_lines_sum_to_the_claim_total_and_match_their_charges(scale):
    from billing.models import Claim, ClaimLine

    sums = dict(ClaimLine.all_objects.values_list("claim_id").annotate(s=Sum("charge_cents")))
    totals = dict(Claim.all_objects.values_list("id", "total_cents"))
    assert sums == totals
    assert not ClaimLine.all_objects.exclude(charge_cents=models_f("charge__fee_cents")).exists()


def models_f(name: str):
    from django.db.models import F

    return F(name)


def test_ledger_balances_per_transaction_and_in_total(scale):
    from billing.models import LedgerEntry, LedgerTransaction

    assert LedgerEntry.all_objects.aggregate(s=Sum("amount"))["s"] == Decimal("0.00")
    unbalanced = LedgerTransaction.all_objects.annotate(s=Sum("entries__amount")).exclude(s=0)
    assert not unbalanced.exists()
    # every charge is posted once, under the key the charge service uses
    charges = apps.get_model("billing.Charge").all_objects.values_list("id", flat=True)
    keys = set(LedgerTransaction.all_objects.filter(kind="charge").values_list("idempotency_key", flat=True))
    assert keys == {f"charge:{pk}" for pk in charges}


def test_measure_summaries_are_what_the_refresh_service_computes(scale):
    from assessments.models import MeasureSummary
    from assessments.summary import measure_summary_refresh

    fields = [
        "clinician_id",
        "location_id",
        "primary_diagnosis",
        "response_count",
        "baseline_total",
        "baseline_at",
        "latest_total",
        "latest_at",
        "latest_severity",
        "reliable_improvement",
        "response",
        "remission",
        "at_caseness_at_baseline",
    ]
    seeded = list(MeasureSummary.all_objects.values("patient_id", "instrument_code", *fields))
    assert seeded
    with practice_scope(scale), transaction.atomic():
        for row in seeded:
            fresh = measure_summary_refresh(patient_id=row["patient_id"], instrument_code=row["instrument_code"])
            assert {f: getattr(fresh, f) for f in fields} == {f: row[f] for f in fields}
        transaction.set_rollback(True)


def test_no_clinician_patient_or_room_is_double_booked(scale):
    from scheduling.models import Appointment, Attendee

    active = Appointment.all_objects.filter(status__in=Appointment.ACTIVE_STATUSES)
    for key in ("clinician_id", "room_id"):
        by = defaultdict(list)
        for row in active.exclude(**{key: None}).values(key, "starts_at", "ends_at"):
            by[row[key]].append((row["starts_at"], row["ends_at"]))
        for spans in by.values():
            spans.sort()
            assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    per_patient = defaultdict(list)
    for row in Attendee.all_objects.filter(status__in=Attendee.ACTIVE_STATUSES).values(
        "patient_id", "starts_at", "ends_at"
    ):
        per_patient[row["patient_id"]].append((row["starts_at"], row["ends_at"]))
    for spans in per_patient.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    one_attendee = Attendee.all_objects.values("appointment_id").annotate(n=Count("id")).exclude(n=1)
    assert not one_attendee.exists()


def test_signed_notes_keep_their_content_hash(scale):
    from clinical.models import ProgressNote

    signed = list(ProgressNote.all_objects.filter(status="signed")[:200])
    assert signed
    assert all(note.content_hash == note.compute_content_hash() for note in signed)


def test_claim_and_denial_queues_and_ar_dashboard_read_the_data(scale):
    from django.utils import timezone

    from billing.selectors_ar import ar_dashboard
    from billing.selectors_claims import QueueFilters, claim_status_counts
    from billing.selectors_denials import DenialFilters, denial_queue

    today = timezone.localdate()
    with practice_scope(scale):
        counts = claim_status_counts(QueueFilters())
        assert counts.get("paid", 0) > 0 and counts.get("submitted", 0) + counts.get("ready", 0) > 0
        assert denial_queue(DenialFilters())
        dashboard = ar_dashboard(as_of=today, start=today.replace(day=1), end=today)
        assert dashboard.totals.total > 0


def test_scale_staff_and_patients_sign_in(scale):
    clinician = Client()
    response = clinician.post(reverse("login"), {"email": clinician_email(1), "password": SCALE_PASSWORD})
    assert response.status_code == 302
    assert clinician.get(f"/p/{SCALE_SLUG}/").status_code == 200

    admin = Client()
    step = admin.post(reverse("login"), {"email": f"admin@{STAFF_DOMAIN}", "password": SCALE_PASSWORD})
    assert step.url == reverse("login_verify")
    verified = admin.post(reverse("login_verify"), {"code": scale_totp_code(f"admin@{STAFF_DOMAIN}")})
    assert verified.status_code == 302
    assert admin.get(f"/p/{SCALE_SLUG}/").status_code == 200

    patient = Client()
    response = patient.post(reverse("portal_login"), {"email": patient_email(1), "password": SCALE_PASSWORD})
    assert response.status_code == 302


def test_running_it_again_refuses_and_changes_nothing(scale):
    before = _count("scheduling.Appointment")
    with pytest.raises(CommandError, match="exists already"):
        call_command("seed_scale", fraction=FRACTION, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert _count("scheduling.Appointment") == before


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the SQLite guard")
def test_large_fractions_need_postgresql():
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("seed_scale", fraction=0.5)
