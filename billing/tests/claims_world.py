"""Shared set-up for the charge and claim tests (helper B2): a practice with a payer, its fee
schedule, a self-pay schedule, licensed and pre-licensed clinicians with billing identities, and
patients with coverage and diagnoses. Call inside a practice scope or scopes_disabled()."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from datetime import date, time, timedelta

from django.utils import timezone

from billing.models import FeeSchedule
from billing.tests import factories as bf
from clinical.models import DiagnosisCode
from clinical.tests import factories as cf
from practice.permissions import Role
from practice.tests.factories import MembershipFactory

FEES = {"90791": 20000, "90832": 9000, "90834": 15000, "90837": 20000, "90853": 6000, "96127": 1000}


def year_ago() -> date:
    return timezone.localdate() - timedelta(days=400)


def fee_schedule(practice, *, payer=None, fees=None, modifier_fees=None) -> FeeSchedule:
    kind = FeeSchedule.Kind.PAYER if payer else FeeSchedule.Kind.SELF_PAY
    schedule = bf.FeeScheduleFactory(practice=practice, payer=payer, kind=kind, effective_from=year_ago())
    for code, amount in (fees or FEES).items():
        bf.FeeScheduleEntryFactory(practice=practice, schedule=schedule, cpt=code, amount_cents=amount)
    for (code, modifier), amount in (modifier_fees or {}).items():
        bf.FeeScheduleEntryFactory(
            practice=practice, schedule=schedule, cpt=code, modifier=modifier, amount_cents=amount
        )
    return schedule


def diagnosis(patient, code: str, *, rank: int = 1, is_primary: bool = False, **kw):
    dx, _ = DiagnosisCode.objects.get_or_create(code=code, defaults={"description": code, "is_billable": True})
    return cf.DiagnosisFactory(
        practice=patient.practice, patient=patient, code=dx, rank=rank, is_primary=is_primary, **kw
    )


@dataclass
class World:
    practice: object
    payer: object
    clinician: object
    supervisor: object
    trainee: object
    patients: list = field(default_factory=list)
    coverages: list = field(default_factory=list)


def make_world(practice, *, patients: int = 1) -> World:
    payer = bf.PayerFactory(practice=practice, name="Acme Health")
    fee_schedule(practice, payer=payer)
    fee_schedule(practice)  # self-pay
    bf.BillingProfileFactory(practice=practice)
    clinician = MembershipFactory(practice=practice, role=Role.CLINICIAN)
    supervisor = MembershipFactory(practice=practice, role=Role.SUPERVISOR)
    trainee = MembershipFactory(practice=practice, role=Role.CLINICIAN, is_licensed=False, supervisor=supervisor)
    for member in (clinician, supervisor, trainee):
        bf.RenderingProviderFactory(practice=practice, membership=member)
    world = World(practice, payer, clinician, supervisor, trainee)
    for _ in range(patients):
        add_patient(world)
    return world


def add_patient(world: World, *, coverage: bool = True):
    patient = cf.PatientFactory(practice=world.practice, primary_clinician=world.clinician)
    diagnosis(patient, "F41.1", rank=2)
    diagnosis(patient, "F33.1", rank=1, is_primary=True)
    world.patients.append(patient)
    if coverage:
        world.coverages.append(
            bf.CoverageFactory(practice=world.practice, patient=patient, payer=world.payer, starts_on=year_ago())
        )
    return patient


def signed_note(patient, author, *, days_ago: int = 2, **fields):
    from clinical.models import ProgressNote

    values = {
        "status": ProgressNote.Status.SIGNED,
        "signed_at": timezone.now(),
        "session_on": timezone.localdate() - timedelta(days=days_ago),
        "start_time": time(10, 0),
        "end_time": time(10, 45),  # 45 minutes: 90834 (billing.md P1)
    }
    values.update(fields)
    return cf.ProgressNoteFactory(patient=patient, author=author, **values)


class FakeScrub:
    """Stands in for helper B3's `billing.services_scrub` in unit tests of the lifecycle: stores
    the findings the test asks for, like the real one."""

    def __init__(self, errors: list[str] | None = None) -> None:
        self.errors = list(errors or [])
        self.calls = 0

    def claim_scrub(self, *, claim, by=None, today=None):
        from billing.models import Claim, ScrubFinding

        self.calls += 1
        ScrubFinding.objects.filter(claim=claim).delete()
        rows = [
            ScrubFinding.objects.create(
                practice_id=claim.practice_id,
                claim=claim,
                rule_code=code,
                severity="error",
                message=f"{code} is wrong",
                fix="Fix it",
                fix_url="/fix/",
            )
            for code in self.errors
        ]
        Claim.objects.filter(pk=claim.pk).update(scrubbed_at=timezone.now(), error_count=len(rows), warning_count=0)
        claim.refresh_from_db()
        return types.SimpleNamespace(errors=rows, warnings=[])

    def install(self, monkeypatch) -> FakeScrub:
        module = types.ModuleType("billing.services_scrub")
        module.claim_scrub = self.claim_scrub
        monkeypatch.setitem(sys.modules, "billing.services_scrub", module)
        return self
