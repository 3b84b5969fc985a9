"""Treatment plans, review reminders, medications, prescriptions and document uploads (services)."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.models import model_to_dict
from django.utils import timezone
from django_scopes import scopes_disabled

from clinical.models import Document, TreatmentObjective, TreatmentPlan
from clinical.services import plans, records
from clinical.tasks import treatment_plan_review_reminders_task
from clinical.tests import factories as cf
from practice.errors import DomainError
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def clinician(make_member, practice_a):
    return make_member(practice_a, Role.CLINICIAN, email="clinician@riverside.test", full_name="Dana Reyes")


@pytest.fixture
def patient(practice_a, clinician):
    with scopes_disabled():
        return cf.PatientFactory(
            practice=practice_a,
            primary_clinician=clinician,
            legal_first_name="Margaret",
            legal_middle_name="Ann",
            legal_last_name="Okafor",
            preferred_name="Maggie",
            mrn="R-4242",
        )


@pytest.fixture
def scoped(practice_a):
    with practice_scope(practice_a):
        yield practice_a


def _tree(n_objectives: int = 2) -> list[dict]:
    return [
        {
            "description": "Panic attacks limit work attendance.",
            "goals": [
                {
                    "description": "GAD-7 below 10 for four consecutive weeks.",
                    "interventions": "Weekly CBT with interoceptive exposure.",
                    "objectives": [
                        {"description": f"Objective {i}", "target_on": TODAY + timedelta(days=30 * i)}
                        for i in range(1, n_objectives + 1)
                    ],
                }
            ],
        },
        {"description": "Poor sleep.", "goals": [{"description": "Sleep 7 hours on 5 nights a week."}]},
    ]


def _active_plan(patient, clinician) -> TreatmentPlan:
    plan = plans.plan_create(patient=patient, by=clinician, review_on=TODAY + timedelta(days=90), problems=_tree())
    return plans.plan_sign(plan=plan, by=clinician)


def _snapshot(plan: TreatmentPlan) -> tuple[dict, list]:
    plan.refresh_from_db()
    return model_to_dict(plan), plans.plan_tree(plan)


# --- Treatment plans -----------------------------------------------------------------------------


def test_plan_create_is_a_draft_numbered_after_the_last_version(scoped, patient, clinician):
    first = _active_plan(patient, clinician)
    second = plans.plan_create(patient=patient, by=clinician, review_on=TODAY + timedelta(days=60), problems=_tree(1))
    assert (first.version, second.version) == (1, 2)
    assert second.status == TreatmentPlan.Status.DRAFT
    assert second.previous_id == first.pk
    assert len(plans.plan_tree(second)[0]["goals"][0]["objectives"]) == 1


def test_a_second_draft_is_refused_while_one_exists(scoped, patient, clinician):
    plans.plan_create(patient=patient, by=clinician, review_on=TODAY, problems=_tree())
    with pytest.raises(DomainError, match="already a draft"):
        plans.plan_create(patient=patient, by=clinician, review_on=TODAY, problems=_tree())


def test_revise_copies_the_whole_tree_and_keeps_the_old_version_unchanged(scoped, patient, clinician):
    active = _active_plan(patient, clinician)
    before = _snapshot(active)

    draft = plans.plan_revise(plan=active, by=clinician)

    assert draft.status == TreatmentPlan.Status.DRAFT
    assert draft.version == active.version + 1 and draft.previous_id == active.pk
    assert plans.plan_tree(draft) == before[1]  # the whole tree, objective statuses included
    assert _snapshot(active) == before  # the old version is untouched (still ACTIVE until the draft is signed)
    # Editing the revision does not reach the old version's rows.
    plans.plan_update_draft(plan=draft, by=clinician, review_on=TODAY + timedelta(days=30), problems=_tree(1))
    assert _snapshot(active) == before


def test_signing_a_revision_supersedes_the_previous_active_plan(scoped, patient, clinician):
    active = _active_plan(patient, clinician)
    draft = plans.plan_revise(plan=active, by=clinician)

    signed = plans.plan_sign(plan=draft, by=clinician)

    active.refresh_from_db()
    assert signed.status == TreatmentPlan.Status.ACTIVE and signed.clinician_signed_at is not None
    assert active.status == TreatmentPlan.Status.SUPERSEDED
    assert TreatmentPlan.objects.filter(patient=patient, status=TreatmentPlan.Status.ACTIVE).count() == 1


def test_non_draft_plan_cannot_be_edited_or_signed_again(scoped, patient, clinician):
    active = _active_plan(patient, clinician)
    before = _snapshot(active)
    with pytest.raises(DomainError, match="Only a draft"):
        plans.plan_update_draft(plan=active, by=clinician, review_on=TODAY, problems=_tree(1))
    with pytest.raises(DomainError, match="Only a draft"):
        plans.plan_sign(plan=active, by=clinician)
    assert _snapshot(active) == before


def test_only_the_active_plan_can_be_revised(scoped, patient, clinician):
    draft = plans.plan_create(patient=patient, by=clinician, review_on=TODAY, problems=_tree())
    with pytest.raises(DomainError, match="active plan"):
        plans.plan_revise(plan=draft, by=clinician)


def test_an_empty_plan_cannot_be_signed(scoped, patient, clinician):
    draft = plans.plan_create(patient=patient, by=clinician, review_on=TODAY, problems=[])
    with pytest.raises(DomainError, match="at least one problem"):
        plans.plan_sign(plan=draft, by=clinician)


def test_objective_status_changes_on_the_active_plan_but_not_on_a_superseded_one(scoped, patient, clinician):
    active = _active_plan(patient, clinician)
    objective = TreatmentObjective.objects.filter(goal__problem__plan=active).first()
    plans.objective_set_status(objective=objective, by=clinician, status=TreatmentObjective.Status.MET)
    objective.refresh_from_db()
    assert objective.status == TreatmentObjective.Status.MET

    plans.plan_sign(plan=plans.plan_revise(plan=active, by=clinician), by=clinician)
    with pytest.raises(DomainError, match="no longer active"):
        plans.objective_set_status(objective=objective, by=clinician, status=TreatmentObjective.Status.REVISED)
    objective.refresh_from_db()
    assert objective.status == TreatmentObjective.Status.MET


def test_plan_tree_rows_need_descriptions_and_target_dates(scoped, patient, clinician):
    bad = [{"description": "x", "goals": [{"description": "y", "objectives": [{"description": "z"}]}]}]
    with pytest.raises(DomainError, match="target date"):
        plans.plan_create(patient=patient, by=clinician, review_on=TODAY, problems=bad)
    assert not TreatmentPlan.objects.filter(patient=patient).exists()


@pytest.mark.parametrize("typed", ["Margaret Ann Okafor", "margaret okafor", "  MAGGIE   okafor "])
def test_patient_signs_with_legal_or_preferred_full_name_in_any_case(scoped, patient, clinician, typed):
    active = _active_plan(patient, clinician)
    signed = plans.plan_patient_sign(plan=active, by=clinician, typed_name=typed)
    assert signed.patient_signed_at is not None
    assert signed.patient_signature_name == " ".join(typed.split())


@pytest.mark.parametrize("typed", ["", "Maggie", "Okafor", "Margaret Smith", "Dana Reyes"])
def test_patient_signature_with_another_name_is_refused(scoped, patient, clinician, typed):
    active = _active_plan(patient, clinician)
    with pytest.raises(DomainError, match="must match"):
        plans.plan_patient_sign(plan=active, by=clinician, typed_name=typed)
    active.refresh_from_db()
    assert active.patient_signed_at is None and active.patient_signature_name == ""


def test_patient_signature_is_refused_on_a_draft_and_recorded_once(scoped, patient, clinician):
    draft = plans.plan_create(patient=patient, by=clinician, review_on=TODAY, problems=_tree())
    with pytest.raises(DomainError, match="active plan"):
        plans.plan_patient_sign(plan=draft, by=clinician, typed_name="Margaret Okafor")
    active = plans.plan_sign(plan=draft, by=clinician)
    plans.plan_patient_sign(plan=active, by=clinician, typed_name="Margaret Okafor")
    with pytest.raises(DomainError, match="already signed"):
        plans.plan_patient_sign(plan=active, by=clinician, typed_name="Maggie Okafor")


def test_member_of_another_practice_or_without_note_write_cannot_touch_plans(
    scoped, patient, clinician, make_member, practice_a, practice_b
):
    outsider = make_member(practice_b, Role.CLINICIAN, email="x@harbor.test")
    front_desk = make_member(practice_a, Role.FRONT_DESK, email="fd@riverside.test")
    for who in (outsider, front_desk):
        with pytest.raises(PermissionDenied):
            plans.plan_create(patient=patient, by=who, review_on=TODAY, problems=_tree())


# --- Review reminders ----------------------------------------------------------------------------


def test_review_reminder_task_emails_the_primary_clinician_once_over_two_runs_without_phi(
    patient, clinician, practice_a, practice_b, make_member
):
    other_clinician = make_member(practice_b, Role.CLINICIAN, email="clinician@harbor.test")
    with scopes_disabled():
        due = cf.TreatmentPlanFactory(patient=patient, review_on=TODAY + timedelta(days=7))
        lapsed = cf.TreatmentPlanFactory(
            patient=cf.PatientFactory(practice=practice_a, primary_clinician=clinician, mrn="R-4243"),
            review_on=TODAY - timedelta(days=3),
        )
        cf.TreatmentPlanFactory(  # not due yet
            patient=cf.PatientFactory(practice=practice_a, primary_clinician=clinician),
            review_on=TODAY + timedelta(days=8),
        )
        cf.TreatmentPlanFactory(  # due, but only a draft
            patient=cf.PatientFactory(practice=practice_a, primary_clinician=clinician),
            status=TreatmentPlan.Status.DRAFT,
            review_on=TODAY,
        )
        theirs = cf.TreatmentPlanFactory(
            patient=cf.PatientFactory(practice=practice_b, primary_clinician=other_clinician),
            review_on=TODAY + timedelta(days=1),
        )

    treatment_plan_review_reminders_task.delay()
    treatment_plan_review_reminders_task.delay()

    assert len(mail.outbox) == 3
    by_recipient = sorted(m.to[0] for m in mail.outbox)
    assert by_recipient == ["clinician@harbor.test", "clinician@riverside.test", "clinician@riverside.test"]
    with scopes_disabled():
        for plan in (due, lapsed, theirs):
            plan.refresh_from_db()
            assert plan.review_reminder_sent_at is not None
    ours = next(m for m in mail.outbox if str(due.public_id) in m.body)
    assert ours.subject == "A treatment plan is due for review"
    assert f"/p/riverside/plans/{due.public_id}/" in ours.body
    assert "R-4242" in ours.body
    for message in mail.outbox:
        text = message.subject + message.body
        for name in ("Margaret", "Okafor", "Maggie", str(patient.date_of_birth)):
            assert name not in text


def test_review_reminder_is_released_when_the_email_fails(patient, clinician, practice_a, monkeypatch):
    with scopes_disabled():
        plan = cf.TreatmentPlanFactory(patient=patient, review_on=TODAY)

    def boom(*args, **kwargs):
        raise ConnectionError("smtp down")

    monkeypatch.setattr("django.core.mail.send_mail", boom)
    with practice_scope(practice_a), pytest.raises(ConnectionError):
        plans.plan_review_reminders_send()
    with scopes_disabled():
        plan.refresh_from_db()
    assert plan.review_reminder_sent_at is None


# --- Medications and prescriptions ---------------------------------------------------------------


def test_medication_stop_date_cannot_be_before_its_start(scoped, patient, clinician):
    with pytest.raises(DomainError) as exc:
        records.medication_save(
            patient=patient, by=clinician, name="Sertraline", started_on=date(2026, 3, 1), stopped_on=date(2026, 2, 1)
        )
    assert exc.value.field == "stopped_on"
    med = records.medication_save(
        patient=patient, by=clinician, name="Sertraline", dose="50 mg", started_on=date(2026, 3, 1)
    )
    records.medication_save(patient=patient, by=clinician, medication=med, stopped_on=date(2026, 3, 1))
    with pytest.raises(DomainError):
        records.medication_save(patient=patient, by=clinician, medication=med, stopped_on=date(2026, 2, 28))
    med.refresh_from_db()
    assert med.stopped_on == date(2026, 3, 1)


def test_medication_of_another_patient_cannot_be_saved_through_this_one(scoped, patient, clinician, practice_a):
    other = cf.PatientFactory(practice=practice_a, primary_clinician=clinician)
    med = cf.MedicationFactory(patient=other)
    with pytest.raises(DomainError, match="another patient"):
        records.medication_save(patient=patient, by=clinician, medication=med, name="Changed")


@pytest.mark.parametrize(("title", "allowed"), [("MD", True), ("M.D.", True), ("PMHNP-BC", True), ("PA-C", True),
                                               ("DO", True), ("NP", True), ("LCSW", False), ("", False),
                                               ("PhD", False), ("DOCTOR", False)])  # fmt: skip
def test_only_members_with_a_prescriber_title_write_prescriptions(scoped, patient, clinician, title, allowed):
    clinician.title = title
    clinician.save(update_fields=["title"])
    med = cf.MedicationFactory(patient=patient)
    kwargs = {"sig": "Take one tablet daily.", "quantity": "30 tablets", "refills": 1, "dispense_as_written": False}
    if allowed:
        rx = records.prescription_create(medication=med, by=clinician, **kwargs)
        assert rx.patient_id == patient.pk and rx.prescriber_id == clinician.pk
    else:
        with pytest.raises(DomainError, match="Only prescribers"):
            records.prescription_create(medication=med, by=clinician, **kwargs)


def test_front_desk_with_a_prescriber_title_still_cannot_prescribe(scoped, patient, make_member, practice_a):
    front_desk = make_member(practice_a, Role.FRONT_DESK, email="fd@riverside.test", title="MD")
    med = cf.MedicationFactory(patient=patient)
    with pytest.raises(PermissionDenied):
        records.prescription_create(medication=med, by=front_desk, sig="x", quantity="1", refills=0,
                                    dispense_as_written=False)  # fmt: skip


# --- Documents -----------------------------------------------------------------------------------

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def _upload(name: str, content: bytes, content_type: str = "application/pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def _media_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_pdf_upload_is_stored_under_media_root_with_a_random_name_and_sha256(scoped, patient, clinician):
    doc = records.document_upload(
        patient=patient,
        by=clinician,
        uploaded_file=_upload("Okafor consent.pdf", PDF_BYTES),
        title="Consent for treatment",
        category=Document.Category.CONSENT,
        signed_by_name="Margaret  Okafor",
    )
    assert doc.content_type == "application/pdf"
    assert doc.sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    assert doc.size_bytes == len(PDF_BYTES)
    assert doc.original_filename == "Okafor consent.pdf"
    assert "Okafor" not in doc.file.name and doc.file.name.endswith(".pdf")
    assert doc.signed_by_name == "Margaret Okafor" and doc.signed_at is not None
    path = Path(doc.file.path).resolve()
    assert path.read_bytes() == PDF_BYTES
    assert path.is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    web_roots = [Path(settings.STATIC_ROOT), *map(Path, settings.STATICFILES_DIRS)]
    assert not any(path.is_relative_to(root.resolve()) for root in web_roots)


def test_png_upload_is_accepted_whatever_its_name(scoped, patient, clinician):
    doc = records.document_upload(
        patient=patient,
        by=clinician,
        uploaded_file=_upload("card.pdf", PNG_BYTES, "application/pdf"),
        title="Insurance card",
        category=Document.Category.INSURANCE,
    )
    assert doc.content_type == "image/png" and doc.file.name.endswith(".png")


@pytest.mark.parametrize(
    "content",
    [
        b"<!doctype html><html><body><script>alert(1)</script></body></html>",
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"just some text that claims to be a pdf",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40,
    ],
    ids=["html", "exe", "svg", "text", "zip"],
)
def test_upload_of_another_type_renamed_pdf_is_rejected(scoped, patient, clinician, content):
    with pytest.raises(DomainError) as exc:
        records.document_upload(
            patient=patient,
            by=clinician,
            uploaded_file=_upload("consent.pdf", content),
            title="Consent",
            category=Document.Category.CONSENT,
        )
    assert exc.value.field == "uploaded_file"
    assert not Document.objects.exists()
    assert _media_files() == []


def test_upload_over_the_size_limit_is_rejected(scoped, patient, clinician, settings):
    settings.TEND_MAX_UPLOAD_BYTES = 1024
    with pytest.raises(DomainError, match="larger than"):
        records.document_upload(
            patient=patient,
            by=clinician,
            uploaded_file=_upload("big.pdf", PDF_BYTES + b"0" * 1024),
            title="Big",
            category=Document.Category.RECORDS,
        )
    assert not Document.objects.exists() and _media_files() == []


def test_e_signature_only_on_consents_and_releases(scoped, patient, clinician):
    with pytest.raises(DomainError) as exc:
        records.document_upload(
            patient=patient,
            by=clinician,
            uploaded_file=_upload("letter.pdf", PDF_BYTES),
            title="Letter",
            category=Document.Category.CORRESPONDENCE,
            signed_by_name="Margaret Okafor",
        )
    assert exc.value.field == "signed_by_name"
    assert _media_files() == []


def test_upload_limit_setting_is_ten_megabytes():
    from config.settings import base

    assert base.TEND_MAX_UPLOAD_BYTES == 10 * 1024 * 1024
