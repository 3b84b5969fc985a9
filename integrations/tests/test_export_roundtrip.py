"""Round trip: export a populated practice, import the zip's patients, appointments and balances
CSV files into an empty practice through the import service, and compare what arrived."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import pytest
from django.db.models import Sum

from billing.models import LedgerAccount, LedgerEntry
from clinical.models import Patient
from integrations import csv_import, export
from integrations.models import ExportJob, ImportJob
from integrations.tests.export_world import build_world
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import LocationFactory
from scheduling.models import Appointment
from scheduling.tests.factories import AppointmentTypeFactory

pytestmark = pytest.mark.django_db


def _totals(practice) -> dict:
    with practice_scope(practice):
        patient_side = LedgerEntry.objects.filter(
            account__in=(LedgerAccount.PATIENT_AR, LedgerAccount.PATIENT_CREDIT)
        ).aggregate(t=Sum("amount"))["t"]
        insurance = LedgerEntry.objects.filter(account=LedgerAccount.INSURANCE_AR).aggregate(t=Sum("amount"))["t"]
        return {
            "patients": Patient.objects.count(),
            "appointments": sorted(Appointment.objects.values_list("status", flat=True)),
            "durations": sorted(a.duration_minutes for a in Appointment.objects.all()),
            "names": sorted(Patient.objects.values_list("legal_last_name", flat=True)),
            "patient_balance": Decimal(str(patient_side)).quantize(Decimal("0.01")),
            "insurance_balance": Decimal(str(insurance)).quantize(Decimal("0.01")),
        }


def _import(admin, kind, data: bytes) -> ImportJob:
    with practice_scope(admin.practice):
        job = csv_import.import_job_create(by=admin, kind=kind, filename=f"{kind}.csv", data=data)
        assert set(job.mapping) == set(csv_import.template_columns(kind))  # the export's headers map themselves
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.VALIDATING, report=csv_import.QUEUED)
        checked = csv_import.import_job_process(job_id=job.pk, dry_run=True)
        assert checked.report["errors"] == [], checked.report["errors"]
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.IMPORTING, report=csv_import.QUEUED)
        return csv_import.import_job_process(job_id=job.pk, dry_run=False)


def test_an_export_imports_into_an_empty_practice_with_the_same_counts(practice_a, practice_b, make_member):
    world = build_world(practice_a, make_member)
    with practice_scope(practice_a):
        job = ExportJob.objects.create(practice=practice_a, requested_by=world.owner)
        job = export.export_build(export_id=job.pk)
    with job.file.open("rb") as fh:
        zf = zipfile.ZipFile(io.BytesIO(fh.read()))

    # The empty practice: the same clinician (by email), location and appointment type by name.
    admin_b = make_member(practice_b, Role.ADMIN, email="admin@harbor.test")
    make_member(practice_b, Role.CLINICIAN, user=world.clinician.user)
    with practice_scope(practice_b):
        LocationFactory(practice=practice_b, name="Main office", timezone="America/New_York")
        AppointmentTypeFactory(practice=practice_b, name="Therapy 45", duration_minutes=45)

    for kind in ("patients", "appointments", "balances"):
        done = _import(admin_b, kind, zf.read(f"csv/{kind}.csv"))
        assert done.status == ImportJob.Status.IMPORTED, done.report

    before, after = _totals(practice_a), _totals(practice_b)
    assert after == before
    assert after["patients"] == 3 and len(after["appointments"]) == 4
    assert "=Formula" in after["names"]  # the formula guard came off again

    # Importing the same export again changes nothing and duplicates nothing.
    for kind in ("patients", "appointments", "balances"):
        again = _import(admin_b, kind, zf.read(f"csv/{kind}.csv"))
        assert again.report["counts"]["new"] == 0 and again.report["counts"]["updated"] == 0, again.report
    assert _totals(practice_b) == before
