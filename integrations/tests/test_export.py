"""Full practice export: zip contents (NDJSON that parses and validates as FHIR R4, CSV with the
import's columns, manifest), download once (410 the second time), owner only, audited, purged."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.observation import Observation as FhirObservation
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.practitioner import Practitioner as FhirPractitioner
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse as FhirQuestionnaireResponse

from integrations import export
from integrations.csv_import import template_columns
from integrations.models import ExportJob
from integrations.tests.export_world import SECRET_NOTE, build_world
from practice.models import AccessEvent
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db

VALIDATORS = {
    "fhir/Patient.ndjson": FhirPatient,
    "fhir/Practitioner.ndjson": FhirPractitioner,
    "fhir/Appointment.ndjson": FhirAppointment,
    "fhir/Questionnaire.ndjson": FhirQuestionnaire,
    "fhir/QuestionnaireResponse.ndjson": FhirQuestionnaireResponse,
    "fhir/Observation.ndjson": FhirObservation,
}


@pytest.fixture
def world(practice_a, make_member):
    return build_world(practice_a, make_member)


def _build(world) -> ExportJob:
    with practice_scope(world.practice):
        job = ExportJob.objects.create(practice=world.practice, requested_by=world.owner)
        return export.export_build(export_id=job.pk)


def _zip(job) -> zipfile.ZipFile:
    with job.file.open("rb") as fh:
        return zipfile.ZipFile(io.BytesIO(fh.read()))


def _csv(zf, name) -> list[dict]:
    return list(csv.DictReader(io.StringIO(zf.read(name).decode("utf-8"))))


def test_export_zip_holds_fhir_ndjson_csv_and_manifest(world, practice_b, make_member):
    build_world(practice_b, make_member)  # another practice's rows must not appear
    job = _build(world)
    assert job.status == ExportJob.Status.READY, job.error
    assert job.size_bytes > 0 and len(job.sha256) == 64
    zf = _zip(job)
    names = set(zf.namelist())
    assert set(VALIDATORS) <= names
    assert {"manifest.json", "README.txt", "csv/patients.csv", "csv/appointments.csv", "csv/balances.csv"} <= names
    assert {
        "csv/claims.csv",
        "csv/claim_lines.csv",
        "csv/payments.csv",
        "csv/ledger_entries.csv",
        "csv/statements.csv",
    } <= names

    for name, model in VALIDATORS.items():
        lines = zf.read(name).decode().splitlines()
        assert lines, name
        for line in lines:
            model.model_validate(json.loads(line))
    patients = [json.loads(line) for line in zf.read("fhir/Patient.ndjson").decode().splitlines()]
    assert sorted(p["id"] for p in patients) == sorted(str(p.public_id) for p in world.patients)
    observations = zf.read("fhir/Observation.ndjson").decode().splitlines()
    assert len(observations) >= 2

    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["counts"]["fhir/Patient.ndjson"] == 3
    assert manifest["counts"]["fhir/Appointment.ndjson"] == 4
    assert manifest["counts"]["csv/claim_lines.csv"] == 2
    assert manifest["counts"] == job.counts
    assert "psychotherapy" in manifest["excluded"]["psychotherapy_notes"].lower()
    assert manifest["generated_at"]
    everything = b"".join(zf.read(n) for n in names)
    assert SECRET_NOTE.encode() not in everything

    patients_csv = _csv(zf, "csv/patients.csv")
    assert list(patients_csv[0]) == template_columns("patients")
    assert {row["last_name"] for row in patients_csv} == {"Lopez", "Ode", "'=Formula"}
    assert list(_csv(zf, "csv/appointments.csv")[0]) == template_columns("appointments")
    balances = _csv(zf, "csv/balances.csv")
    assert list(balances[0]) == template_columns("balances")
    assert {(r["responsibility"], r["amount"]) for r in balances} == {
        ("insurance", "300.00"),
        ("patient", "25.00"),
        ("patient", "-5.00"),
    }
    ledger = _csv(zf, "csv/ledger_entries.csv")
    assert sum(float(r["amount"]) for r in ledger) == pytest.approx(0)


def test_request_queues_one_build_and_audits(world, client, login, django_capture_on_commit_callbacks):
    login(world.owner)
    url = f"/p/{world.practice.slug}/integrations/export/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302
    with scopes_disabled():
        (job,) = ExportJob.objects.filter(practice=world.practice)
        assert job.status == ExportJob.Status.READY
        assert AccessEvent.all_objects.filter(action="export", object_id=str(job.public_id)).count() == 1
    page = client.get(url)
    assert page.status_code == 200
    assert b"data-export-download" in page.content


def test_download_once_then_410_gone(world, client, login):
    job = _build(world)
    login(world.owner)
    url = f"/p/{world.practice.slug}/integrations/export/{job.public_id}/download/"
    first = client.get(url)
    assert first.status_code == 200
    assert first["Content-Type"] == "application/zip"
    body = b"".join(first.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(body)).read("manifest.json")
    second = client.get(url)
    assert second.status_code == 410
    assert b"already downloaded" in second.content
    with scopes_disabled():
        job.refresh_from_db()
        assert job.status == ExportJob.Status.DOWNLOADED and job.downloaded_by_id == world.owner.pk
        assert job.file.name == ""
        events = AccessEvent.all_objects.filter(action="export", object_id=str(job.public_id))
        assert events.count() == 1  # the refused second download reads nothing


def test_downloaded_file_is_deleted_from_storage(world, django_capture_on_commit_callbacks):
    job = _build(world)
    storage, name = job.file.storage, job.file.name
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True), practice_scope(world.practice):
        handle = export.export_claim_download(job=job, by=world.owner)
    assert handle.read(2) == b"PK"  # still readable through the open handle
    handle.close()
    assert not storage.exists(name)


def test_only_an_owner_may_export(world, make_member, client, login):
    admin = make_member(world.practice, Role.ADMIN, email="admin@riverside.test")
    job = _build(world)
    login(admin)
    base = f"/p/{world.practice.slug}/integrations/export/"
    assert client.get(base).status_code == 403
    assert client.post(base).status_code == 403
    assert client.get(f"{base}{job.public_id}/download/").status_code == 403
    with scopes_disabled():
        job.refresh_from_db()
    assert job.status == ExportJob.Status.READY


def test_an_export_not_downloaded_in_seven_days_is_purged(world, django_capture_on_commit_callbacks):
    job = _build(world)
    storage, name = job.file.storage, job.file.name
    with scopes_disabled():
        ExportJob.all_objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True), scopes_disabled():
        from integrations.tasks_data import exports_purge_expired_task

        assert exports_purge_expired_task() == 1
        job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED and "Expired" in job.error
    assert not storage.exists(name)


def test_a_second_build_delivery_does_nothing(world):
    job = _build(world)
    with practice_scope(world.practice):
        assert export.export_build(export_id=job.pk) is None


def test_csv_cells_guard_formulas_but_not_numbers():
    assert export._cell("=SUM(A1)") == "'=SUM(A1)"
    assert export._cell("-12.50") == "-12.50"
    assert export._cell("-rm") == "'-rm"
    assert export._cell(True) == "yes"
