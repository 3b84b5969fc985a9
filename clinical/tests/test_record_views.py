"""Records pages through the client: plans, medications, prescriptions, documents, chart PDF, export."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled
from pypdf import PdfReader

from clinical.models import Document, Medication, Prescription, TreatmentObjective, TreatmentPlan
from clinical.tests import factories as cf
from practice.models import AccessEvent
from practice.permissions import Role

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
NOTE_TEXT = "Kestrel walks lifted her mood this week"
ADDENDUM_TEXT = "Corrected duration to fifty three minutes"
PSYCHNOTE_TEXT = "Countertransference about the lighthouse dream"


@pytest.fixture
def clinician(make_member, practice_a):
    return make_member(practice_a, Role.CLINICIAN, email="clinician@riverside.test", full_name="Dana Reyes", title="MD")


@pytest.fixture
def patient(practice_a, clinician):
    with scopes_disabled():
        return cf.PatientFactory(
            practice=practice_a,
            primary_clinician=clinician,
            legal_first_name="Margaret",
            legal_last_name="Okafor",
            address_line1="12 Elm Street",
            city="Springfield",
            state="MA",
            postal_code="01103",
        )


@pytest.fixture
def c(login, clinician):
    return login(clinician)


def url(name: str, **kwargs) -> str:
    return reverse(name, kwargs={"practice_slug": "riverside", **kwargs})


def _events(action: str, **filters) -> list[AccessEvent]:
    with scopes_disabled():
        return list(AccessEvent.all_objects.filter(action=action, **filters))


def _plan(patient, status=TreatmentPlan.Status.ACTIVE, **kw) -> TreatmentPlan:
    with scopes_disabled():
        plan = cf.TreatmentPlanFactory(patient=patient, status=status, **kw)
        cf.TreatmentObjectiveFactory(
            goal=cf.TreatmentGoalFactory(problem=cf.TreatmentProblemFactory(plan=plan)), description="Walk daily"
        )
    return plan


def _signed_note_with_addendum(patient):
    with scopes_disabled():
        note = cf.ProgressNoteFactory(
            patient=patient,
            status="signed",
            signed_at=timezone.now(),
            content={
                "subjective": NOTE_TEXT,
                "objective": "Calm.",
                "assessment": "Improving.",
                "plan_next": "Continue.",
            },
        )
        cf.NoteAddendumFactory(note=note, text=ADDENDUM_TEXT)
        cf.PsychotherapyNoteFactory(patient=patient, body=PSYCHNOTE_TEXT)
        cf.ProgressNoteFactory(patient=patient, content={"subjective": "Unsigned draft words"})
    return note


def _pdf_text(content: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages).split())


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


# --- Treatment plans -----------------------------------------------------------------------------


def _plan_post(**extra) -> dict:
    data = {
        "effective_on": TODAY.isoformat(),
        "review_on": (TODAY + timedelta(days=90)).isoformat(),
        "strengths": "Motivated; supportive partner.",
        "problem_count": "1",
        "p-0-description": "Panic attacks limit work attendance.",
        "p-0-goal_count": "1",
        "p-0-g-0-description": "No panic attacks for 4 weeks.",
        "p-0-g-0-interventions": "Weekly CBT.",
        "p-0-g-0-objective_count": "2",
        "p-0-g-0-o-0-description": "Practise exposure 4 days a week.",
        "p-0-g-0-o-0-target_on": (TODAY + timedelta(days=30)).isoformat(),
        "p-0-g-0-o-0-status": "not_started",
        "p-0-g-0-o-1-description": "",
        "p-0-g-0-o-1-target_on": "",
        "p-0-g-0-o-1-status": "not_started",
    }
    return data | extra


def test_plan_create_page_saves_a_draft_tree(c, patient):
    assert c.get(url("plan_create", patient_id=patient.public_id)).status_code == 200
    response = c.post(url("plan_create", patient_id=patient.public_id), _plan_post())
    with scopes_disabled():
        plan = TreatmentPlan.all_objects.get(patient=patient)
        objectives = list(TreatmentObjective.all_objects.filter(goal__problem__plan=plan))
    assert response.status_code == 302 and response.url == url("plan_detail", plan_id=plan.public_id)
    assert plan.status == TreatmentPlan.Status.DRAFT and plan.strengths == "Motivated; supportive partner."
    assert [o.description for o in objectives] == ["Practise exposure 4 days a week."]  # blank row dropped


def test_new_plan_page_continues_an_existing_draft(c, patient):
    draft = _plan(patient, status=TreatmentPlan.Status.DRAFT)
    response = c.get(url("plan_create", patient_id=patient.public_id))
    assert response.status_code == 302 and response.url == url("plan_edit", plan_id=draft.public_id)


def test_add_another_posts_back_with_one_more_row_and_saves_nothing(c, patient):
    response = c.post(url("plan_create", patient_id=patient.public_id), _plan_post(add="objective:0:0"))
    assert response.status_code == 200
    assert b'name="p-0-g-0-o-2-description"' in response.content
    assert b"Practise exposure 4 days a week." in response.content  # typed text kept
    response = c.post(url("plan_create", patient_id=patient.public_id), _plan_post(add="problem"))
    assert b'name="p-1-description"' in response.content
    with scopes_disabled():
        assert not TreatmentPlan.all_objects.filter(patient=patient).exists()


def test_plan_form_shows_errors_and_saves_nothing(c, patient):
    response = c.post(
        url("plan_create", patient_id=patient.public_id), _plan_post(**{"p-0-g-0-o-0-target_on": "", "review_on": ""})
    )
    assert response.status_code == 200
    assert b"Enter a target date." in response.content and b"field--error" in response.content
    with scopes_disabled():
        assert not TreatmentPlan.all_objects.filter(patient=patient).exists()


def test_plan_detail_shows_the_tree_and_versions_and_writes_an_access_event(c, patient):
    old = _plan(patient, status=TreatmentPlan.Status.SUPERSEDED, version=1)
    plan = _plan(patient, version=2)
    response = c.get(url("plan_detail", plan_id=plan.public_id))
    assert response.status_code == 200
    assert b"Walk daily" in response.content
    assert url("plan_detail", plan_id=old.public_id).encode() in response.content
    assert [e.object_id for e in _events("view", object_type="clinical.treatmentplan")] == [str(plan.public_id)]


def test_plan_edit_of_a_draft_saves_and_of_an_active_plan_is_refused(c, patient):
    draft = _plan(patient, status=TreatmentPlan.Status.DRAFT)
    assert c.get(url("plan_edit", plan_id=draft.public_id)).status_code == 200
    c.post(url("plan_edit", plan_id=draft.public_id), _plan_post(**{"p-0-description": "Changed problem"}))
    with scopes_disabled():
        assert list(draft.problems.values_list("description", flat=True)) == ["Changed problem"]
        draft.status = TreatmentPlan.Status.ACTIVE
        draft.save()
    response = c.post(url("plan_edit", plan_id=draft.public_id), _plan_post(**{"p-0-description": "Again"}))
    assert response.status_code == 302
    with scopes_disabled():
        assert list(draft.problems.values_list("description", flat=True)) == ["Changed problem"]


def test_sign_revise_patient_sign_and_objective_status_through_the_pages(c, patient):
    active = _plan(patient, version=1)
    draft = _plan(patient, status=TreatmentPlan.Status.DRAFT, version=2)
    assert c.get(url("plan_sign", plan_id=draft.public_id)).status_code == 405
    c.post(url("plan_sign", plan_id=draft.public_id))
    with scopes_disabled():
        active.refresh_from_db(), draft.refresh_from_db()
    assert (active.status, draft.status) == ("superseded", "active")

    response = c.post(url("plan_revise", plan_id=draft.public_id))
    with scopes_disabled():
        revision = TreatmentPlan.all_objects.get(patient=patient, version=3)
    assert response.url == url("plan_edit", plan_id=revision.public_id)

    c.post(url("plan_patient_sign", plan_id=draft.public_id), {"typed_name": "someone else"})
    c.post(url("plan_patient_sign", plan_id=draft.public_id), {"typed_name": "margaret okafor"})
    with scopes_disabled():
        draft.refresh_from_db()
        objective = TreatmentObjective.all_objects.get(goal__problem__plan=draft)
    assert draft.patient_signature_name == "margaret okafor"

    c.post(url("plan_objective_status", plan_id=draft.public_id), {"objective": objective.public_id, "status": "met"})
    with scopes_disabled():
        objective.refresh_from_db()
    assert objective.status == "met"


def test_objective_of_another_plan_cannot_be_changed_through_this_plan(c, patient):
    plan, other = _plan(patient, version=1, status="superseded"), _plan(patient, version=2)
    with scopes_disabled():
        objective = TreatmentObjective.all_objects.get(goal__problem__plan=plan)
    c.post(url("plan_objective_status", plan_id=other.public_id), {"objective": objective.public_id, "status": "met"})
    with scopes_disabled():
        objective.refresh_from_db()
    assert objective.status == "not_started"


# --- Medications and prescriptions ---------------------------------------------------------------


def test_medication_create_and_edit(c, patient):
    page = url("medication_create", patient_id=patient.public_id)
    assert c.get(page).status_code == 200
    response = c.post(
        page, {"name": "Bupropion", "dose": "150 mg", "started_on": "2026-03-02", "stopped_on": "2026-01-01"}
    )
    assert response.status_code == 200 and b"cannot be before" in response.content
    c.post(page, {"name": "Bupropion", "dose": "150 mg", "route": "oral", "started_on": "2026-03-02"})
    with scopes_disabled():
        med = Medication.all_objects.get(patient=patient)
    assert med.dose == "150 mg"
    edit = url("medication_edit", medication_id=med.public_id)
    assert c.get(edit).status_code == 200
    c.post(edit, {"name": "Bupropion XL", "dose": "300 mg", "route": "oral", "started_on": "2026-03-02"})
    with scopes_disabled():
        med.refresh_from_db()
    assert (med.name, med.dose) == ("Bupropion XL", "300 mg")


def test_prescription_create_and_pdf(c, patient, clinician):
    with scopes_disabled():
        med = cf.MedicationFactory(patient=patient, name="Sertraline", dose="50 mg", stopped_on=None)
    page = url("prescription_create", medication_id=med.public_id)
    assert c.get(page).status_code == 200
    c.post(page, {"sig": "Take one tablet every morning.", "quantity": "30 tablets", "refills": "2",
                  "dispense_as_written": "on"})  # fmt: skip
    with scopes_disabled():
        rx = Prescription.all_objects.get(medication=med)
    assert rx.refills == 2 and rx.dispense_as_written and rx.prescriber_id == clinician.pk

    response = c.get(url("prescription_pdf", prescription_id=rx.public_id))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    text = _pdf_text(_body(response))
    for expected in ("Riverside Counseling", "Margaret Okafor", "12 Elm Street", "Sertraline", "50 mg",
                     "Take one tablet every morning.", "30 tablets", "Dana Reyes", "MD",
                     "not transmitted electronically"):  # fmt: skip
        assert expected in text, expected
    assert _events("print", object_type="clinical.prescription")


def test_non_prescriber_gets_the_form_with_a_clear_error(login, make_member, practice_a, patient):
    counsellor = make_member(practice_a, Role.CLINICIAN, email="lcsw@riverside.test", title="LCSW")
    with scopes_disabled():
        patient.primary_clinician = counsellor
        patient.save()
        med = cf.MedicationFactory(patient=patient)
    c = login(counsellor)
    page = url("prescription_create", medication_id=med.public_id)
    assert b"Only prescribers" in c.get(page).content
    response = c.post(page, {"sig": "x", "quantity": "1", "refills": "0"})
    assert response.status_code == 200 and b"Only prescribers" in response.content
    with scopes_disabled():
        assert not Prescription.all_objects.exists()


# --- Documents -----------------------------------------------------------------------------------


def test_document_upload_page_stores_a_pdf_and_refuses_html_renamed_pdf(c, patient):
    page = url("document_upload", patient_id=patient.public_id)
    html = SimpleUploadedFile("consent.pdf", b"<html><script>alert(1)</script></html>", "application/pdf")
    response = c.post(page, {"category": "consent", "title": "Consent", "uploaded_file": html})
    assert response.status_code == 200 and b"another type" in response.content
    pdf = SimpleUploadedFile("consent.pdf", PDF_BYTES, "application/pdf")
    response = c.post(
        page, {"category": "consent", "title": "Consent", "uploaded_file": pdf, "signed_by_name": "Margaret Okafor"}
    )
    assert response.status_code == 302
    with scopes_disabled():
        doc = Document.all_objects.get(patient=patient)
    assert doc.signed_by_name == "Margaret Okafor" and doc.content_type == "application/pdf"


def test_document_download_is_an_audited_sandboxed_attachment(c, patient, clinician):
    with scopes_disabled():
        doc = cf.DocumentFactory(patient=patient, uploaded_by=clinician)
    response = c.get(url("document_download", document_id=doc.public_id))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Content-Type"] == "application/pdf"
    assert _body(response) == b"%PDF-1.4\n%test\n"
    [event] = _events("view", object_type="clinical.document")
    assert event.object_id == str(doc.public_id) and event.patient_id == patient.public_id


def test_document_list_page_query_count_does_not_grow_with_documents(
    c, patient, clinician, django_assert_max_num_queries
):
    page = url("document_upload", patient_id=patient.public_id)
    for total in (3, 30):
        with scopes_disabled():
            while Document.all_objects.filter(patient=patient).count() < total:
                cf.DocumentFactory(patient=patient, uploaded_by=clinician)
        with django_assert_max_num_queries(25):
            response = c.get(page)
        assert response.content.count(b"Download</a>") == total


# --- Chart PDF and export ------------------------------------------------------------------------


def test_chart_pdf_form_then_pdf_with_notes_and_addenda_but_never_psychotherapy_notes(c, patient):
    _signed_note_with_addendum(patient)
    page = url("chart_pdf", patient_id=patient.public_id)
    response = c.get(page)
    assert response.status_code == 200 and b'name="sections"' in response.content
    assert not _events("print")

    response = c.get(page, {"sections": ["demographics", "notes", "plans"]})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    text = _pdf_text(_body(response))
    assert NOTE_TEXT in text and ADDENDUM_TEXT in text
    assert "Riverside Counseling" in text and "Margaret Okafor" in text
    assert "Electronically signed by" in text
    assert "lighthouse" not in text and "Unsigned draft words" not in text
    [event] = _events("print")
    assert event.patient_id == patient.public_id


def test_chart_pdf_date_range_leaves_out_notes_outside_it(c, patient):
    _signed_note_with_addendum(patient)  # session yesterday
    start = (TODAY + timedelta(days=1)).isoformat()
    response = c.get(url("chart_pdf", patient_id=patient.public_id), {"sections": ["notes"], "start": start})
    assert NOTE_TEXT not in _pdf_text(_body(response))


def test_patient_export_zip_has_json_pdf_and_documents_and_no_psychotherapy_notes(c, patient, clinician):
    _signed_note_with_addendum(patient)
    _plan(patient)
    with scopes_disabled():
        doc = cf.DocumentFactory(patient=patient, uploaded_by=clinician)
        rx = cf.PrescriptionFactory(medication=cf.MedicationFactory(patient=patient), prescriber=clinician)
    page = url("patient_export", patient_id=patient.public_id)
    assert c.get(page).status_code == 200
    response = c.post(page, {"reason": "Request #12"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment")
    archive = zipfile.ZipFile(io.BytesIO(_body(response)))
    names = set(archive.namelist())
    assert {"patient.json", "chart.pdf", f"documents/{doc.public_id}.pdf"} <= names
    assert archive.read(f"documents/{doc.public_id}.pdf") == b"%PDF-1.4\n%test\n"
    record = json.loads(archive.read("patient.json"))
    assert record["patient"]["legal_last_name"] == "Okafor"
    assert record["notes"][0]["addenda"][0]["text"] == ADDENDUM_TEXT
    assert record["treatment_plans"][0]["problems"][0]["goals"][0]["objectives"][0]["description"] == "Walk daily"
    assert record["prescriptions"][0]["id"] == str(rx.public_id)
    assert record["documents"][0]["sha256"] == doc.sha256
    everything = b"".join(archive.read(n) for n in names if n != "chart.pdf").decode("utf-8", "replace")
    everything += _pdf_text(archive.read("chart.pdf"))
    assert NOTE_TEXT in everything
    assert "lighthouse" not in everything and "Unsigned draft words" not in everything
    [event] = _events("export")
    assert event.patient_id == patient.public_id and event.reason == "Request #12"


# --- Who may see what ----------------------------------------------------------------------------


@pytest.fixture
def records_of(patient, clinician):
    def make():
        with scopes_disabled():
            med = cf.MedicationFactory(patient=patient)
            return {
                "plan_detail": {"plan_id": _plan(patient).public_id},
                "document_download": {"document_id": cf.DocumentFactory(patient=patient).public_id},
                "medication_edit": {"medication_id": med.public_id},
                "prescription_pdf": {
                    "prescription_id": cf.PrescriptionFactory(medication=med, prescriber=clinician).public_id
                },
                "chart_pdf": {"patient_id": patient.public_id},
                "patient_export": {"patient_id": patient.public_id},
                "document_upload": {"patient_id": patient.public_id},
                "plan_create": {"patient_id": patient.public_id},
            }

    return make


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.BILLER, Role.ADMIN])
def test_front_desk_biller_and_admin_get_403_on_clinical_records(role, login, make_member, practice_a, records_of):
    c = login(make_member(practice_a, role, email=f"{role}@riverside.test"))
    for name, kwargs in records_of().items():
        assert c.get(url(name, **kwargs)).status_code == 403, name
    assert not _events("view") and not _events("print")


def test_clinician_outside_the_caseload_gets_no_records(login, make_member, practice_a, records_of):
    c = login(make_member(practice_a, Role.CLINICIAN, email="other@riverside.test"))
    for name, kwargs in records_of().items():
        response = c.get(url(name, **kwargs))
        # break-the-glass is offered (a redirect), or 404; never the record
        assert response.status_code in (302, 404), name
        if response.status_code == 302:
            assert "break-glass" in response.url, name
    assert not _events("view", object_type="clinical.document") and not _events("print")


def test_another_practices_plan_document_and_prescription_are_404(c, practice_b, make_member):
    with scopes_disabled():
        theirs = cf.PatientFactory(practice=practice_b)
        plan = cf.TreatmentPlanFactory(patient=theirs)
        doc = cf.DocumentFactory(patient=theirs)
        rx = cf.PrescriptionFactory(medication=cf.MedicationFactory(patient=theirs))
    assert c.get(url("plan_detail", plan_id=plan.public_id)).status_code == 404
    assert c.post(url("plan_sign", plan_id=plan.public_id)).status_code == 404
    assert c.get(url("document_download", document_id=doc.public_id)).status_code == 404
    assert c.get(url("prescription_pdf", prescription_id=rx.public_id)).status_code == 404
    assert c.get(url("chart_pdf", patient_id=theirs.public_id), {"sections": ["notes"]}).status_code == 404
    assert c.post(url("patient_export", patient_id=theirs.public_id)).status_code == 404
