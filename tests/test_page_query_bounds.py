"""Query-count bounds for the heavy pages (SPEC 10, issue 10).

Each page is requested by the role that uses it at a small and a large data size (SMALL and LARGE
of each thing it lists or aggregates). Both requests stay within the page's bound (the count
measured on SQLite and PostgreSQL, plus one) and issue exactly the same number of queries: no
query per row. Every page must show some of the large data, so an empty page cannot pass.

A test takes about a second: it builds 25 rows of everything its page shows (the change log is
switched off while building; the requests themselves run as in production).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from auditlog.context import disable_auditlog
from django.test import Client
from django.urls import reverse

from assessments.tests import factories as af
from billing.ledger import credit, debit, ledger_post
from billing.models import Charge, Claim, DenialCase, LedgerAccount, RemittanceClaim, RemittanceLine, ScrubFinding
from billing.tests import factories as bf
from clinical.models import DiagnosisCode
from clinical.selectors.patients import CHART_NOTE_LIMIT
from clinical.tests import factories as cf
from portal.tests import factories as pf
from practice.permissions import Role
from practice.scoping import scopes_disabled
from practice.tests.factories import InvitationFactory, LocationFactory, MembershipFactory, UserFactory, sign_in
from scheduling.tests import factories as sf

pytestmark = pytest.mark.django_db

SMALL, LARGE = 2, 25
NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 17, 14, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York (no DST edge)
TODAY = date(2026, 3, 17)
NEXT_MONDAY = date(2026, 3, 23)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NY)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@dataclass
class World:
    practice: object
    members: dict
    patient: object  # the chart's patient, seen by members["clinician"]
    portal_user: object  # signs in to the portal as `patient`
    other_claim: object  # practice B's: never on practice A's pages
    extra: dict = field(default_factory=dict)  # rows a page builds once (calendar clinicians, ...)

    def url(self, name: str, **kwargs) -> str:
        return reverse(name, kwargs={"practice_slug": self.practice.slug, **kwargs})


@pytest.fixture
def world(practice_a, practice_b, make_member) -> World:
    with scopes_disabled():
        practice_a.timezone = "America/New_York"
        practice_a.save(update_fields=["timezone"])
        members = {
            "clinician": make_member(practice_a, Role.CLINICIAN, email="cl@riverside.test", full_name="Dana Reyes"),
            "front_desk": make_member(practice_a, Role.FRONT_DESK, email="desk@riverside.test"),
            "biller": make_member(practice_a, Role.BILLER, email="bill@riverside.test"),
            "admin": make_member(practice_a, Role.ADMIN, email="admin@riverside.test"),
        }
        patient = cf.PatientFactory(
            practice=practice_a,
            primary_clinician=members["clinician"],
            legal_first_name="Maya",
            legal_last_name="Rivera",
        )
        portal_user = pf.PortalAccessFactory(practice=practice_a, patient=patient).user
        other_claim = bf.claim_with_lines(practice_b, lines=2)
    return World(practice_a, members, patient, portal_user, other_claim)


# --- Data builders: add rows start..stop-1 and return text the page must then show -------------


def fill_chart(w: World, start: int, stop: int) -> list[str]:
    patient, clinician = w.patient, w.members["clinician"]
    codes = list(DiagnosisCode.objects.filter(code__startswith="F", is_billable=True).order_by("code")[start:stop])
    plan = w.extra.get("plan") or cf.TreatmentPlanFactory(patient=patient)
    w.extra["plan"] = plan
    for i in range(start, stop):
        cf.ProgressNoteFactory(
            patient=patient, status="signed", signed_at=NOW, session_on=TODAY - timedelta(days=i + 1)
        )
        cf.MedicationFactory(patient=patient, name=f"Medication {i:02d}")
        cf.DocumentFactory(patient=patient, title=f"Document {i:02d}")
        cf.PsychotherapyNoteFactory(patient=patient, session_on=TODAY - timedelta(days=i + 1))
        cf.DiagnosisFactory(patient=patient, code=codes[i - start], is_primary=i == 0, rank=i + 1)
        cf.TreatmentProblemFactory(plan=plan)
        cf.CommunicationConsentFactory(patient=patient, channel="sms", is_granted=bool(i % 2))
        sf.appointment_with_patient(
            w.practice, clinician=clinician, patient=patient, starts_at=local(TODAY + timedelta(days=i + 1), 9)
        )
        af.ResponseFactory(practice=w.practice, patient=patient, completed_at=NOW - timedelta(days=7 * i + 1))
        af.RiskAlertFactory(practice=w.practice, patient=patient, clinician=clinician)
    shown = [f"Medication {stop - 1:02d}", f"Document {stop - 1:02d}", codes[-1].code]
    if stop > CHART_NOTE_LIMIT:
        shown.append(f"The {CHART_NOTE_LIMIT} most recent of {stop}.")
    return shown


def fill_psychotherapy_notes(w: World, start: int, stop: int) -> list[str]:
    for i in range(start, stop):
        cf.PsychotherapyNoteFactory(patient=w.patient, session_on=TODAY - timedelta(days=i + 1))
    return ["Session " + (TODAY - timedelta(days=stop)).strftime("%b %-d, %Y")]


def fill_assessments(w: World, start: int, stop: int) -> list[str]:
    for i in range(start, stop):
        for code, total in (("PHQ-9", 10 + i % 10), ("GAD-7", 5 + i % 10)):
            af.ResponseFactory(
                practice=w.practice,
                patient=w.patient,
                instrument_code=code,
                total=total,
                answers=[1] * (9 if code == "PHQ-9" else 7),
                administered_by=w.members["clinician"],
                completed_at=NOW - timedelta(days=7 * i + 1),
            )
        af.AdministrationFactory(
            practice=w.practice, patient=w.patient, instrument_code="GAD-7", due_at=NOW + timedelta(days=i + 1)
        )
    return [(NOW - timedelta(days=7 * (stop - 1) + 1)).astimezone(NY).strftime("%b %-d, %Y")]


def _patient_charge(w: World, patient, i: int) -> Charge:
    charge = bf.ChargeFactory(
        practice=w.practice,
        patient=patient,
        coverage=None,
        kind=Charge.Kind.PATIENT,
        fee_cents=(100 + i) * 100,
        service_date=TODAY - timedelta(days=i + 1),
    )
    bf.ledger_charge(charge)
    return charge


def fill_balance(w: World, start: int, stop: int) -> list[str]:
    for i in range(start, stop):
        _patient_charge(w, w.patient, i)
        bf.PatientPaymentFactory(practice=w.practice, patient=w.patient, amount=Decimal(5))
        bf.StatementFactory(practice=w.practice, patient=w.patient, balance_due=Decimal(200 + i))
    return [f"${100 + stop - 1}.00"]


def fill_calendar(w: World, start: int, stop: int) -> list[str]:
    clinicians = w.extra.setdefault(
        "calendar", [MembershipFactory(practice=w.practice, role=Role.CLINICIAN) for _ in range(10)]
    )
    appointment_type = w.extra.setdefault("type", sf.AppointmentTypeFactory(practice=w.practice, color="#2563eb"))
    location = w.extra.setdefault("location", LocationFactory(practice=w.practice, timezone="America/New_York"))
    for n, clinician in enumerate(clinicians):
        for i in range(start, stop):
            starts = local(NEXT_MONDAY + timedelta(days=i % 5), 7) + timedelta(minutes=50 * (i // 5))
            patient = cf.PatientFactory(
                practice=w.practice, primary_clinician=clinician, legal_last_name=f"Calendar{n}x{i}"
            )
            sf.appointment_with_patient(
                w.practice,
                clinician=clinician,
                patient=patient,
                appointment_type=appointment_type,
                location=location,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=45),
            )
    return [f"Calendar9x{stop - 1}"]


def calendar_url(w: World) -> str:
    clinicians = "&".join(f"clinician={c.public_id}" for c in w.extra["calendar"])
    return f"{w.url('calendar')}?view=week&date={NEXT_MONDAY.isoformat()}&{clinicians}"


def fill_claims(w: World, start: int, stop: int) -> list[str]:
    claims = []
    for i in range(start, stop):
        claim = bf.claim_with_lines(w.practice, lines=2, service_date=TODAY - timedelta(days=3 + i))
        ScrubFinding.objects.create(
            practice=w.practice,
            claim=claim,
            rule_code="P1",
            severity="error",
            message="90837 needs 53 minutes or more; the note documents 45.",
            fix="Change the code to 90834.",
        )
        Claim.objects.filter(pk=claim.pk).update(error_count=1)
        claims.append(claim)
    return [claims[-1].control_number, claims[-1].payer.name]


# Denials at each size: 60 at the large one, more than the queue's page of 50.
DENIALS_AT = {0: 0, SMALL: SMALL, LARGE: 60}


def fill_denials(w: World, start: int, stop: int) -> list[str]:
    cases, silent = [], []
    for _ in range(DENIALS_AT[start], DENIALS_AT[stop]):
        case = bf.DenialCaseFactory(practice=w.practice, reason_code="CO-197", amount=Decimal(150))
        Claim.objects.filter(pk=case.claim_id).update(status=Claim.Status.DENIED)
        rc = case.remittance_claim
        line = case.claim.lines.first()
        RemittanceLine.objects.create(
            practice=w.practice,
            remittance_claim=rc,
            claim_line=line,
            cpt=line.cpt,
            charge_amount=Decimal(150),
            paid_amount=0,
            adjustments=[{"group": "CO", "reason": "197", "amount": "150.00"}],
            remarks=["M62"],
            is_denied=True,
            denial_reason="CO-197",
        )
        cases.append(case)
    for i in range(start, stop):
        claim = bf.claim_with_lines(w.practice, service_date=TODAY - timedelta(days=70 + i))
        Claim.objects.filter(pk=claim.pk).update(
            status=Claim.Status.SUBMITTED, submitted_at=NOW - timedelta(days=60 + i)
        )
        silent.append(claim)
    total = DENIALS_AT[stop]
    assert DenialCase.objects.filter(status=DenialCase.Status.OPEN).count() == total
    # Same remittance date and creation time (frozen clock): the queue is in id order, so this
    # call's first case is on page 1 at both sizes; the count and money cover every page.
    shown = [str(cases[0].public_id), f'data-silent-claim="{silent[-1].control_number}"']
    shown.append(
        f"<span data-denial-count>{total} open denials</span> · <span data-denial-total>${150 * total}.00</span>"
    )
    if total > 50:
        shown.append(f"Page 1 of 2 · {total} entries")
    return shown


def _billed_claim(w: World, i: int) -> Claim:
    """A submitted $150 claim on the ledger; paid on a first remit (cash 100 - i, CO-45 20,
    patient 30 + i) except every third one, which is denied."""
    coverage = bf.CoverageFactory(
        practice=w.practice, patient=cf.PatientFactory(practice=w.practice, legal_last_name=f"Aging{i:02d}")
    )
    claim = bf.claim_with_lines(
        w.practice,
        coverage=coverage,
        service_date=TODAY - timedelta(days=20 + i),
        status=Claim.Status.SUBMITTED,
        submitted_at=NOW - timedelta(days=15 + i),
    )
    charge = claim.lines.get().charge
    bf.ledger_charge(charge)
    denied = i % 3 == 2
    bf.RemittanceClaimFactory(
        practice=w.practice,
        claim=claim,
        remittance=bf.RemittanceFactory(practice=w.practice, payer=claim.payer, payment_date=TODAY - timedelta(days=2)),
        outcome=RemittanceClaim.Outcome.DENIED if denied else RemittanceClaim.Outcome.PAID,
    )
    if not denied:
        dims = {"charge": charge, "claim": claim, "payer": claim.payer}
        ledger_post(
            practice_id=w.practice.pk,
            kind="remittance",
            legs=[
                debit(LedgerAccount.CASH, Decimal(100 - i), **dims),
                debit(LedgerAccount.CONTRACTUAL, Decimal(20), **dims),
                debit(LedgerAccount.PATIENT_AR, Decimal(30 + i), **dims),
                credit(LedgerAccount.INSURANCE_AR, Decimal(150), **dims),
            ],
            idempotency_key=f"remit-{claim.pk}",
            occurred_on=TODAY - timedelta(days=2),
        )
    return claim


def fill_ar(w: World, start: int, stop: int) -> list[str]:
    for i in range(start, stop):
        _billed_claim(w, i)
    last_paid = max(i for i in range(stop) if i % 3 != 2)
    return [f"Aging{last_paid:02d}"]  # the largest patient balance heads the by-patient table


def _summary(w: World, i: int, *, clinician, location) -> None:
    af.MeasureSummaryFactory(
        practice=w.practice,
        patient=cf.PatientFactory(practice=w.practice, primary_clinician=clinician),
        clinician=clinician,
        location=location,
        primary_diagnosis=f"F3{i % 4}.1",
        response_count=3,
        baseline_total=20,
        baseline_at=NOW - timedelta(days=95),
        latest_total=6 + i % 10,
        latest_at=NOW - timedelta(days=5),
        at_caseness_at_baseline=True,
        reliable_improvement=True,
        reliable_deterioration=False,
    )


def fill_outcomes(w: World, start: int, stop: int) -> list[str]:
    for i in range(start, stop):
        clinician = _member(w, f"Outcome Clinician {i:02d}")
        location = LocationFactory(practice=w.practice, name=f"Outcome Site {i:02d}")
        _summary(w, i, clinician=clinician, location=location)
        af.AdministrationFactory(
            practice=w.practice, patient=w.patient, status="completed", due_at=NOW - timedelta(days=i + 1)
        )
    return [f"Outcome Clinician {stop - 1:02d}", f"Outcome Site {stop - 1:02d}"]


def _member(w: World, full_name: str, role: str = Role.CLINICIAN):
    return MembershipFactory(practice=w.practice, role=role, user=UserFactory(full_name=full_name))


def fill_admin_home(w: World, start: int, stop: int) -> list[str]:
    clinician = w.members["clinician"]
    for i in range(start, stop):
        staff = _member(w, f"Staff {i:02d}")
        LocationFactory(practice=w.practice)
        InvitationFactory(practice=w.practice, invited_by=w.members["admin"])
        starts = local(TODAY, 11) + timedelta(minutes=15 * i)
        sf.appointment_with_patient(
            w.practice, clinician=staff, starts_at=starts, ends_at=starts + timedelta(minutes=45)
        )
        cf.ProgressNoteFactory(patient=w.patient, author=clinician, session_on=TODAY - timedelta(days=i + 1))
        af.RiskAlertFactory(practice=w.practice, patient=w.patient, clinician=clinician)
        _summary(w, i, clinician=staff, location=None)
        _billed_claim(w, 100 + i)
    return [
        f'<span class="badge badge--neutral">{stop} appointments</span>',
        f"data-risk-open>{stop}<",
    ]


def fill_portal_home(w: World, start: int, stop: int) -> list[str]:
    patient, clinician = w.patient, w.members["clinician"]
    for i in range(start, stop):
        thread = pf.MessageThreadFactory(practice=w.practice, patient=patient)
        pf.ThreadMessageFactory(practice=w.practice, thread=thread, sender_user=None, sender_member=clinician)
        af.AdministrationFactory(practice=w.practice, patient=patient, due_at=NOW - timedelta(hours=i + 1))
        pf.IntakeSubmissionFactory(practice=w.practice, patient=patient)
        sf.appointment_with_patient(
            w.practice, clinician=clinician, patient=patient, starts_at=local(TODAY + timedelta(days=i + 1), 9)
        )
        _patient_charge(w, patient, i)
    owed = sum(100 + i for i in range(stop))
    return [f"{stop} unread messages", f"You owe <strong>${owed:.2f}</strong>"]


# --- The pages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    name: str
    role: str  # a key of World.members, or "patient" for the portal
    bound: int
    url: Callable[[World], str]
    fill: Callable[[World, int, int], list[str]]


# BOUND = the count measured at both sizes on SQLite and PostgreSQL (the same on both) + 1.
PAGES = [
    Page("chart", "clinician", 28 + 1, lambda w: w.url("patient_chart", patient_id=w.patient.public_id), fill_chart),
    Page(
        "chart_psychotherapy_notes",
        "clinician",
        16 + 1,
        lambda w: w.url("psychotherapy_note_list", patient_id=w.patient.public_id),
        fill_psychotherapy_notes,
    ),
    Page(
        "chart_assessments",
        "clinician",
        17 + 1,
        lambda w: w.url("patient_assessments", patient_id=w.patient.public_id),
        fill_assessments,
    ),
    Page(
        "chart_balance",
        "biller",
        20 + 1,
        lambda w: w.url("patient_balance", patient_id=w.patient.public_id),
        fill_balance,
    ),
    Page("calendar_week_10_clinicians", "front_desk", 16 + 1, calendar_url, fill_calendar),
    Page("claim_queue", "biller", 19 + 1, lambda w: w.url("claim_queue"), fill_claims),
    Page("denial_queue", "biller", 17 + 1, lambda w: w.url("denial_queue"), fill_denials),
    Page("ar_dashboard", "biller", 27 + 1, lambda w: w.url("ar_dashboard"), fill_ar),
    Page("outcome_dashboard", "admin", 20 + 1, lambda w: w.url("outcome_dashboard"), fill_outcomes),
    Page("admin_home", "admin", 29 + 1, lambda w: w.url("practice_dashboard"), fill_admin_home),
    Page("portal_home", "patient", 18 + 1, lambda w: reverse("portal_home"), fill_portal_home),
]


def _client(w: World, role: str) -> Client:
    if role == "patient":
        client = Client()
        client.force_login(w.portal_user)
        return client
    return sign_in(Client(), w.members[role])


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_heavy_page_issues_the_same_queries_at_two_data_sizes(page, world, django_assert_max_num_queries):
    client = _client(world, page.role)
    counts = []
    built = 0
    for size in (SMALL, LARGE):
        with scopes_disabled(), disable_auditlog():  # building rows only: the change log is not what's measured
            must_show = page.fill(world, built, size)
        built = size
        url = page.url(world)
        assert client.get(url).status_code == 200  # warm-up: session, content types, audit chain heads
        with django_assert_max_num_queries(page.bound) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        for text in must_show:
            assert text in html, (page.name, size, text)
        assert world.other_claim.control_number not in html
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], f"{page.name}: {counts[0]} queries with {SMALL} rows, {counts[1]} with {LARGE}"
