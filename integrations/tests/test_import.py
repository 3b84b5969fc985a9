"""CSV import: upload checks, column mapping, dry run with row errors, all-or-nothing import,
re-runs without duplicates, appointments and opening balances through the real services."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django_scopes import scopes_disabled

from clinical.models import Patient
from clinical.tests.factories import PatientFactory
from integrations import csv_import
from integrations.models import ExternalRecord, ImportJob
from practice.errors import DomainError
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import LocationFactory

pytestmark = pytest.mark.django_db

SAMPLES = Path(csv_import.__file__).resolve().parent / "sample_csv"
PATIENT_HEADER = "external_id,first_name,last_name,date_of_birth,sex,email,primary_clinician_email\n"


@pytest.fixture
def admin_a(make_member, practice_a):
    return make_member(practice_a, Role.ADMIN, email="admin@riverside.test")


@pytest.fixture
def therapist_a(make_member, practice_a):
    return make_member(practice_a, Role.CLINICIAN, email="therapist@riverside.test")


def _job(admin, kind, text, *, filename="file.csv", mapping=None, encoding="utf-8"):
    with practice_scope(admin.practice):
        job = csv_import.import_job_create(by=admin, kind=kind, filename=filename, data=text.encode(encoding))
        if mapping is not None:
            job.mapping = mapping
            job.save(update_fields=["mapping"])
        return job


def _run(job, *, dry_run):
    """What the task does after the step that queues it (status claimed, then processed)."""
    with practice_scope(job.practice_id):
        status = ImportJob.Status.VALIDATING if dry_run else ImportJob.Status.IMPORTING
        ImportJob.objects.filter(pk=job.pk).update(status=status, report=csv_import.QUEUED)
        return csv_import.import_job_process(job_id=job.pk, dry_run=dry_run)


def _patients(practice):
    with practice_scope(practice):
        return list(Patient.objects.order_by("legal_last_name"))


# --- Upload and mapping --------------------------------------------------------------------------


def test_upload_reads_utf8_with_bom_and_sniffs_semicolons(admin_a):
    text = "\ufeffPatient ID;First;Surname;DOB\nA1;Zoë;Łukasz;1990-01-02\n"
    job = _job(admin_a, "patients", text, encoding="utf-8")
    assert job.headers == ["Patient ID", "First", "Surname", "DOB"]
    assert job.total_rows == 1
    assert job.mapping == {
        "external_id": "Patient ID",
        "first_name": "First",
        "last_name": "Surname",
        "date_of_birth": "DOB",
    }


def test_upload_refuses_non_utf8_and_too_large_files(admin_a, settings):
    with pytest.raises(DomainError, match="not UTF-8"):
        _job(admin_a, "patients", "id,first\n1,Jos\xe9\n", encoding="latin-1")
    settings.TEND_IMPORT_MAX_BYTES = 100
    with pytest.raises(DomainError, match="larger than"):
        _job(admin_a, "patients", PATIENT_HEADER + "X,Ana,Lopez,1990-01-02,F,,\n" * 5)


def test_suggested_mapping_uses_header_similarity():
    mapping = csv_import.suggest_mapping(
        "appointments", ["Visit ID", "Client ID", "Provider Email", "Start Time", "Duration", "Service", "Office"]
    )
    assert mapping == {
        "external_id": "Visit ID",
        "patient_external_id": "Client ID",
        "clinician_email": "Provider Email",
        "start": "Start Time",
        "duration_minutes": "Duration",
        "appointment_type": "Service",
        "location": "Office",
    }


def test_mapping_requires_every_required_field(admin_a):
    job = _job(admin_a, "patients", "Ref,Given,Family\nA1,Ana,Lopez\n")
    with practice_scope(admin_a.practice), pytest.raises(DomainError) as exc:
        csv_import.import_job_map_and_check(
            job=job, by=admin_a, mapping={"external_id": "Ref", "first_name": "Given", "last_name": "Family"}
        )
    assert "Date of birth is required" in exc.value.message
    with practice_scope(admin_a.practice), pytest.raises(DomainError, match="no column 'Nope'"):
        csv_import.validate_mapping(
            "patients",
            job.headers,
            {"external_id": "Ref", "first_name": "Given", "last_name": "Nope", "date_of_birth": "Ref"},
        )


def test_mapping_queues_the_dry_run_and_the_task_reports_progress(
    admin_a, therapist_a, monkeypatch, django_capture_on_commit_callbacks
):
    rows = "".join(f"X{i},Ana{i},Lopez,1990-01-{i + 1:02d},F,,therapist@riverside.test\n" for i in range(5))
    job = _job(admin_a, "patients", PATIENT_HEADER + rows)
    seen: list[int] = []
    real_set = csv_import.cache.set

    def spy(key, value, *args, **kwargs):
        if key == csv_import.progress_key(job.pk):
            seen.append(value)
        return real_set(key, value, *args, **kwargs)

    monkeypatch.setattr(csv_import, "PROGRESS_EVERY", 2)
    monkeypatch.setattr(csv_import.cache, "set", spy)
    with django_capture_on_commit_callbacks(execute=True), practice_scope(admin_a.practice):
        csv_import.import_job_map_and_check(job=job, by=admin_a, mapping=job.mapping)
    assert seen == [2, 4, 5]
    job.refresh_from_db()
    assert job.status == ImportJob.Status.VALIDATED
    assert (job.processed_rows, job.total_rows) == (5, 5)
    assert job.report["counts"] == {"new": 5, "updated": 0, "unchanged": 0}
    assert _patients(admin_a.practice) == []  # a dry run writes nothing


# --- Dry run, import, re-run -------------------------------------------------------------------


def test_dry_run_reports_row_column_and_reason(admin_a, therapist_a):
    text = (
        (SAMPLES / "patients_with_errors.csv")
        .read_text()
        .replace("elena.petrova@cedarbh.example", "therapist@riverside.test")
    )
    job = _job(admin_a, "patients", text)
    job = _run(job, dry_run=True)
    errors = {(e["row"], e["column"]): e["reason"] for e in job.report["errors"]}
    assert errors[(3, "first_name")] == "is empty."
    assert errors[(4, "date_of_birth")] == "31/02/1980 is not a date (use YYYY-MM-DD or MM/DD/YYYY)."
    assert "valid email" in errors[(5, "email")]
    assert "guardian" in errors[(6, "guardian_name")]
    assert (
        errors[(7, "primary_clinician_email")] == "nobody@elsewhere.example is not an active member of this practice."
    )
    assert errors[(8, "external_id")] == "OLD-2001 is also on row 2; each id may appear once."
    assert (9, "date_of_birth") in errors
    assert job.report["counts"]["new"] == 1
    assert job.status == ImportJob.Status.VALIDATED
    assert _patients(admin_a.practice) == []
    with practice_scope(admin_a.practice), pytest.raises(DomainError, match="all or nothing"):
        csv_import.import_job_start(job=job, by=admin_a)


def test_import_creates_patients_through_the_service_with_mrns(admin_a, therapist_a, practice_b):
    text = (
        PATIENT_HEADER
        + "A1,Ana,Lopez,1990-01-02,F,ana@example.test,therapist@riverside.test\nA2,Ben,Ode,1985-05-06,m,,\n"
    )
    job = _job(admin_a, "patients", text)
    assert _run(job, dry_run=True).report["counts"] == {"new": 2, "updated": 0, "unchanged": 0}
    job = _run(job, dry_run=False)
    assert job.status == ImportJob.Status.IMPORTED
    assert job.content == ""  # the uploaded copy is dropped once imported
    ana, ben = _patients(admin_a.practice)
    assert (ana.legal_first_name, ana.sex_assigned_at_birth, ana.primary_clinician_id) == (
        "Ana",
        "female",
        therapist_a.pk,
    )
    assert ben.sex_assigned_at_birth == "male" and ben.mrn.startswith("P")
    with practice_scope(admin_a.practice):
        records = dict(ExternalRecord.objects.values_list("external_id", "object_public_id"))
    assert records == {"A1": ana.public_id, "A2": ben.public_id}
    with scopes_disabled():
        assert not Patient.objects.filter(practice=practice_b).exists()


def test_rerun_updates_changed_rows_and_reports_unchanged_without_duplicates(admin_a, therapist_a):
    first = PATIENT_HEADER + "A1,Ana,Lopez,1990-01-02,F,ana@example.test,\nA2,Ben,Ode,1985-05-06,M,,\n"
    _run(_job(admin_a, "patients", first), dry_run=False)
    second = (
        PATIENT_HEADER
        + "A1,Ana,Lopez,1990-01-02,F,ana.new@example.test,\nA2,Ben,Ode,1985-05-06,M,,\nA3,Cy,Li,1970-01-01,U,,\n"
    )
    job = _job(admin_a, "patients", second)
    assert _run(job, dry_run=True).report["counts"] == {"new": 1, "updated": 1, "unchanged": 1}
    job = _run(job, dry_run=False)
    assert job.report["counts"] == {"new": 1, "updated": 1, "unchanged": 1}
    patients = _patients(admin_a.practice)
    assert len(patients) == 3
    assert next(p for p in patients if p.legal_first_name == "Ana").email == "ana.new@example.test"
    with practice_scope(admin_a.practice):
        assert ExternalRecord.objects.count() == 3


def test_import_is_all_or_nothing_an_error_in_the_last_row_writes_nothing(admin_a):
    rows = "".join(f"A{i},Ana{i},Lopez,1990-01-{i + 1:02d},F,,\n" for i in range(9))
    job = _job(admin_a, "patients", PATIENT_HEADER + rows + "A9,Zed,Last,1990-02-30,F,,\n")
    with practice_scope(admin_a.practice):  # as if the file were checked clean
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.VALIDATED, report={"errors": []})
    job = _run(job, dry_run=False)
    assert job.status == ImportJob.Status.FAILED
    assert job.report["errors"] == [
        {
            "row": 11,
            "field": "date_of_birth",
            "column": "date_of_birth",
            "reason": "1990-02-30 is not a date (use YYYY-MM-DD or MM/DD/YYYY).",
        }
    ]
    assert "nothing was written" in job.error
    assert _patients(admin_a.practice) == []
    with practice_scope(admin_a.practice):
        assert ExternalRecord.objects.count() == 0


def test_an_existing_patient_with_the_same_name_and_birth_date_is_a_row_error(admin_a):
    with practice_scope(admin_a.practice):
        PatientFactory(
            practice=admin_a.practice,
            legal_first_name="Ana",
            legal_last_name="Lopez",
            mrn="P000777",
            date_of_birth="1990-01-02",
        )
    job = _run(_job(admin_a, "patients", PATIENT_HEADER + "A1,Ana,Lopez,01/02/1990,F,,\n"), dry_run=True)
    assert (
        job.report["errors"][0]["reason"]
        == "A patient with this name and date of birth is already in Tend (MRN P000777)."
    )


def test_import_keeps_a_free_mrn_from_the_old_system(admin_a):
    text = "external_id,first_name,last_name,date_of_birth,mrn\nA1,Ana,Lopez,1990-01-02,OLD-77\n"
    _run(_job(admin_a, "patients", text), dry_run=False)
    assert _patients(admin_a.practice)[0].mrn == "OLD-77"


def test_a_member_without_the_import_permission_cannot_upload(make_member, practice_a):
    clinician = make_member(practice_a, Role.CLINICIAN)
    with practice_scope(practice_a), pytest.raises(DomainError, match="does not allow"):
        csv_import.import_job_create(by=clinician, kind="patients", filename="x.csv", data=PATIENT_HEADER.encode())


def test_a_duplicate_delivery_of_the_task_does_nothing(admin_a):
    job = _job(admin_a, "patients", PATIENT_HEADER + "A1,Ana,Lopez,1990-01-02,F,,\n")
    with practice_scope(admin_a.practice):  # not queued: the claim finds nothing
        assert csv_import.import_job_process(job_id=job.pk, dry_run=False) is None
    with practice_scope(admin_a.practice):
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.IMPORTING, report=csv_import.QUEUED)
        first = csv_import.import_job_process(job_id=job.pk, dry_run=False)
        again = csv_import.import_job_process(job_id=job.pk, dry_run=False)
    assert first.status == ImportJob.Status.IMPORTED and again is None
    assert len(_patients(admin_a.practice)) == 1


# --- Appointments ------------------------------------------------------------------------------

APPT_HEADER = (
    "external_id,patient_external_id,clinician_email,start,end,duration_minutes,appointment_type,location,status\n"
)


@pytest.fixture
def appointment_world(admin_a, therapist_a):
    from scheduling.tests.factories import AppointmentTypeFactory

    with practice_scope(admin_a.practice):
        AppointmentTypeFactory(practice=admin_a.practice, name="Therapy 45", duration_minutes=45)
        LocationFactory(practice=admin_a.practice, name="Main office", timezone="America/New_York")
    _run(
        _job(admin_a, "patients", PATIENT_HEADER + "P1,Ana,Lopez,1990-01-02,F,,\nP2,Ben,Ode,1985-05-06,M,,\n"),
        dry_run=False,
    )
    return admin_a


def test_appointments_are_booked_with_their_status_and_duration(appointment_world, therapist_a):
    from scheduling.models import Appointment, Attendee, StatusChange

    text = APPT_HEADER + (
        "V1,P1,therapist@riverside.test,2026-03-02 10:00,,,Therapy 45,Main office,completed\n"
        "V2,P1,therapist@riverside.test,2026-03-09 10:00,2026-03-09 11:00,,Therapy 45,Main office,no show\n"
        "V3,P2,therapist@riverside.test,2026-03-09 10:00,,30,Therapy 45,Main office,scheduled\n"
    )
    job = _run(_job(appointment_world, "appointments", text), dry_run=False)
    assert job.status == ImportJob.Status.IMPORTED, job.report
    with practice_scope(appointment_world.practice):
        rows = {a.starts_at.isoformat() + a.status: a for a in Appointment.objects.all()}
        assert len(rows) == 3
        completed = Appointment.objects.get(status="completed")
        assert completed.starts_at.isoformat() == "2026-03-02T15:00:00+00:00"  # 10:00 in New York
        assert completed.duration_minutes == 45
        assert Appointment.objects.get(status="no_show").duration_minutes == 60
        assert Appointment.objects.get(status="no_show").fee_due is False
        assert Appointment.objects.get(status="scheduled").duration_minutes == 30
        assert Attendee.objects.filter(appointment=completed, status="attended").exists()
        assert StatusChange.objects.filter(appointment=completed, to_status="completed", source="import").exists()


def test_appointment_errors_name_the_row_and_column(appointment_world):
    text = APPT_HEADER + (
        "V1,NOPE,therapist@riverside.test,2026-03-02 10:00,,,Therapy 45,,completed\n"
        "V2,P1,therapist@riverside.test,2026-03-02 10:00,,,Unknown type,,completed\n"
        "V3,P1,therapist@riverside.test,next tuesday,,,Therapy 45,,completed\n"
        "V4,P1,therapist@riverside.test,2026-03-02 10:00,,,Therapy 45,,kept\n"
        "V5,P2,therapist@riverside.test,2026-03-02 10:15,,,Therapy 45,,scheduled\n"
    )
    job = _run(_job(appointment_world, "appointments", text), dry_run=True)
    errors = {(e["row"], e["column"]): e["reason"] for e in job.report["errors"]}
    assert "No imported patient has external id 'NOPE'" in errors[(2, "patient_external_id")]
    assert "no appointment type named 'Unknown type'" in errors[(3, "appointment_type")]
    assert "is not a date and time" in errors[(4, "start")]
    assert "overlaps the clinician's appointment" in errors[(6, "start")]
    assert job.report["counts"]["new"] == 1


def test_cancelled_rows_are_booked_first_so_a_rebooked_slot_is_not_a_conflict(appointment_world):
    from scheduling.models import Appointment

    text = APPT_HEADER + (
        "V1,P1,therapist@riverside.test,2026-03-02 10:00,,,Therapy 45,,completed\n"
        "V2,P2,therapist@riverside.test,2026-03-02 10:00,,,Therapy 45,,cancelled\n"
    )
    job = _run(_job(appointment_world, "appointments", text), dry_run=False)
    assert job.status == ImportJob.Status.IMPORTED, job.report
    with practice_scope(appointment_world.practice):
        assert sorted(Appointment.objects.values_list("status", flat=True)) == ["cancelled", "completed"]


def test_appointment_rerun_moves_and_advances_without_duplicates(appointment_world):
    from scheduling.models import Appointment

    future = "2027-05-03 09:00"
    _run(
        _job(
            appointment_world,
            "appointments",
            APPT_HEADER + f"V1,P1,therapist@riverside.test,{future},,,Therapy 45,,scheduled\n",
        ),
        dry_run=False,
    )
    again = APPT_HEADER + "V1,P1,therapist@riverside.test,2027-05-03 11:00,,,Therapy 45,,confirmed\n"
    job = _run(_job(appointment_world, "appointments", again), dry_run=False)
    assert job.report["counts"] == {"new": 0, "updated": 1, "unchanged": 0}
    job = _run(_job(appointment_world, "appointments", again), dry_run=False)
    assert job.report["counts"] == {"new": 0, "updated": 0, "unchanged": 1}
    with practice_scope(appointment_world.practice):
        (appointment,) = Appointment.objects.all()
    assert appointment.status == "confirmed" and appointment.starts_at.hour == 15  # 11:00 EDT


# --- Opening balances --------------------------------------------------------------------------

BAL_HEADER = "patient_external_id,amount,as_of,responsibility,memo\n"


def test_opening_balances_post_to_the_ledger_and_rerun_replaces_changed_ones(appointment_world):
    from billing.models import Charge
    from billing.selectors_patient_billing import insurance_pending, patient_balance

    practice = appointment_world.practice
    text = (
        BAL_HEADER
        + "P1,85.00,2026-08-31,patient,Carried over\nP1,240,2026-08-31,insurance,\nP2,-20.00,2026-08-31,patient,Credit\n"
    )
    job = _run(_job(appointment_world, "balances", text), dry_run=False)
    assert job.status == ImportJob.Status.IMPORTED, job.report
    with practice_scope(practice):
        p1 = Patient.objects.get(legal_first_name="Ana")
        p2 = Patient.objects.get(legal_first_name="Ben")
        assert patient_balance(patient=p1) == Decimal("85.00")
        assert insurance_pending(patient=p1) == Decimal("240.00")
        assert patient_balance(patient=p2) == Decimal("-20.00")
        charge = Charge.objects.get(source="opening_balance")
        assert (charge.kind, charge.status, charge.fee_cents) == ("patient", "patient", 8500)

    changed = (
        BAL_HEADER
        + "P1,100.00,2026-08-31,patient,Carried over\nP1,240,2026-08-31,insurance,\nP2,-20.00,2026-08-31,patient,Credit\n"
    )
    job = _run(_job(appointment_world, "balances", changed), dry_run=False)
    assert job.report["counts"] == {"new": 0, "updated": 1, "unchanged": 2}
    with practice_scope(practice):
        assert patient_balance(patient=p1) == Decimal("100.00")
        assert insurance_pending(patient=p1) == Decimal("240.00")
        assert Charge.objects.filter(source="opening_balance", status="void").count() == 1


def test_balance_errors(appointment_world):
    text = (
        BAL_HEADER
        + "P1,12.345,2026-08-31,patient,\nP1,-5,2026-08-31,insurance,\nP2,abc,2026-08-31,,\nP2,5,2999-01-01,insurance,\n"
    )
    job = _run(_job(appointment_world, "balances", text), dry_run=True)
    errors = {(e["row"], e["column"]): e["reason"] for e in job.report["errors"]}
    assert errors[(2, "amount")] == "12.345 is not an amount in dollars and cents."
    assert errors[(3, "amount")] == "An insurance balance cannot be negative."
    assert errors[(4, "amount")] == "abc is not an amount (use 125.00)."
    assert errors[(5, "as_of")] == "is in the future."


def test_templates_and_samples_share_the_import_columns():
    for kind in ImportJob.Kind.values:
        header = (SAMPLES / f"{kind}.csv").read_text().splitlines()[0]
        assert header.split(",") == csv_import.template_columns(kind)
        assert csv_import.template_csv(kind).strip() == header


def test_an_mrn_already_in_use_is_a_row_error_and_nothing_is_created(admin_a):
    with practice_scope(admin_a.practice):
        PatientFactory(practice=admin_a.practice, mrn="OLD-77")
    text = "external_id,first_name,last_name,date_of_birth,mrn\nA1,Ana,Lopez,1990-01-02,OLD-77\n"
    job = _run(_job(admin_a, "patients", text), dry_run=True)
    assert job.report["errors"][0]["reason"] == "OLD-77 is already another patient's MRN."
    assert job.report["counts"]["new"] == 0


def test_mrns_allocated_in_one_import_are_sequential_and_the_counter_moves_once(admin_a):
    from clinical.models import MrnCounter
    from clinical.services.patients import patient_create

    rows = "".join(f"A{i},Ana{i},Lopez,1990-01-{i + 1:02d},F,,\n" for i in range(4))
    _run(_job(admin_a, "patients", PATIENT_HEADER + rows), dry_run=False)
    assert sorted(p.mrn for p in _patients(admin_a.practice)) == ["P000001", "P000002", "P000003", "P000004"]
    with practice_scope(admin_a.practice):
        assert MrnCounter.objects.get().next_number == 5
        later = patient_create(by=admin_a, legal_first_name="Zed", legal_last_name="Ox", date_of_birth=date(1970, 1, 1))
    assert later.mrn == "P000005"
