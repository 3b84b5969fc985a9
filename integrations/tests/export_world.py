"""A small populated practice for the export tests and the round trip (built with factories and
billing services, not with the import, so the round trip checks the import against something
independent)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from django_scopes import scopes_disabled

from assessments.tests import factories as af
from billing.models import Charge
from billing.services_charges import charge_ledger_post
from billing.services_patient_billing import payment_record
from billing.tests import factories as bf
from clinical.tests import factories as cf
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import LocationFactory
from scheduling.tests import factories as sf

SECRET_NOTE = "PSYCHOTHERAPY-NOTE-BODY-MUST-NOT-LEAK"


@dataclass
class World:
    practice: object
    owner: object
    clinician: object
    patients: list
    appointments: list


def build_world(practice, make_member) -> World:
    owner = make_member(practice, Role.OWNER, email=f"owner@{practice.slug}.test")
    clinician = make_member(practice, Role.CLINICIAN, email=f"lee@{practice.slug}.test", full_name="Lee Park")
    with scopes_disabled():
        location = LocationFactory(practice=practice, name="Main office", timezone="America/New_York")
        therapy = sf.AppointmentTypeFactory(practice=practice, name="Therapy 45", duration_minutes=45)
        patients = [
            cf.PatientFactory(
                practice=practice,
                primary_clinician=clinician,
                legal_first_name=first,
                legal_last_name=last,
                mrn=f"P{900 + n:06d}",
                email=f"{first.lower()}@example.test",
                city="Springfield",
                state="IL",
                postal_code="62701",
                phone="(217) 555-0100",
            )
            for n, (first, last) in enumerate((("Ana", "Lopez"), ("Ben", "Ode"), ("Cleo", "=Formula")))
        ]
        cf.PsychotherapyNoteFactory(practice=practice, patient=patients[0], author=clinician, body=SECRET_NOTE)
        base = timezone.now().replace(microsecond=0, second=0, minute=0) - timedelta(days=20)
        appointments = []
        for n, status in enumerate(("completed", "completed", "cancelled", "scheduled")):
            starts_at = base + timedelta(days=7 * n + (30 if status == "scheduled" else 0), hours=n)
            appointments.append(
                sf.appointment_with_patient(
                    practice,
                    clinician=clinician,
                    patient=patients[n % 2],
                    appointment_type=therapy,
                    location=location,
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=45 if n else 60),
                    status=status,
                )
            )
        af.ResponseFactory(practice=practice, patient=patients[0])
        af.ResponseFactory(practice=practice, patient=patients[1], instrument_code="GAD-7", answers=[1] * 7, total=7)
        claim = bf.claim_with_lines(
            practice, lines=2, patient=patients[0], coverage=bf.CoverageFactory(practice=practice, patient=patients[0])
        )
        bf.StatementFactory(practice=practice, patient=patients[1])
    with practice_scope(practice):
        for line in claim.lines.select_related("charge"):
            charge_ledger_post(charge=line.charge)
        patient_charge = Charge.objects.create(
            practice=practice,
            patient=patients[1],
            kind=Charge.Kind.PATIENT,
            status=Charge.Status.PATIENT,
            source="manual",
            service_date=timezone.localdate() - timedelta(days=5),
            fee_cents=4000,
            description="Copay",
            idempotency_key=f"world-copay-{practice.pk}",
        )
        charge_ledger_post(charge=patient_charge)
        payment_record(patient=patients[1], amount=Decimal("15.00"), method="card", by=owner)
        payment_record(patient=patients[0], amount=Decimal("5.00"), method="cash", by=owner)  # a credit
    return World(practice, owner, clinician, patients, appointments)
