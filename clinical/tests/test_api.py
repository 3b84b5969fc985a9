"""The clinical REST API: same caseload, permissions and audit as the pages."""

from datetime import date

import pytest
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from clinical.models import ProgressNote
from clinical.services.templates import note_templates_install_builtin
from clinical.tests import factories as cf
from practice import services
from practice.models import AccessEvent
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def api_as(membership) -> APIClient:
    _token, raw = services.api_token_issue(membership=membership)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def world(practice_a, practice_b, make_member):
    note_templates_install_builtin(practice=practice_a)
    clinician = make_member(practice_a, Role.CLINICIAN, email="lee@riverside.test")
    colleague = make_member(practice_a, Role.CLINICIAN, email="kim@riverside.test")
    front_desk = make_member(practice_a, Role.FRONT_DESK, email="desk@riverside.test")
    with scopes_disabled():
        mine = cf.PatientFactory(practice=practice_a, primary_clinician=clinician, legal_last_name="Mine")
        theirs = cf.PatientFactory(practice=practice_a, primary_clinician=colleague, legal_last_name="Theirs")
        other_practice = cf.PatientFactory(practice=practice_b)
    return {
        "clinician": clinician,
        "colleague": colleague,
        "front_desk": front_desk,
        "mine": mine,
        "theirs": theirs,
        "other_practice": other_practice,
    }


def ids(response) -> set[str]:
    return {row["id"] for row in response.json()["results"]}


def test_a_clinician_lists_only_their_caseload(world):
    response = api_as(world["clinician"]).get("/api/v1/patients/")
    assert response.status_code == 200
    assert ids(response) == {str(world["mine"].public_id)}


def test_front_desk_sees_every_patients_demographics_but_no_notes(world):
    desk = api_as(world["front_desk"])
    assert ids(desk.get("/api/v1/patients/")) == {str(world["mine"].public_id), str(world["theirs"].public_id)}
    assert desk.get("/api/v1/notes/").status_code == 403
    assert desk.get("/api/v1/diagnoses/").status_code == 403


def test_reading_a_patient_writes_an_access_event(world, practice_a):
    patient = world["mine"]
    response = api_as(world["clinician"]).get(f"/api/v1/patients/{patient.public_id}/")
    assert response.status_code == 200 and response.json()["mrn"] == patient.mrn
    with practice_scope(practice_a):
        event = AccessEvent.objects.get(action="view", object_type="clinical.patient")
    assert event.patient_id == patient.public_id and event.api_token_id is not None


def test_outside_the_caseload_and_another_practice_are_404(world):
    client = api_as(world["clinician"])
    assert client.get(f"/api/v1/patients/{world['theirs'].public_id}/").status_code == 404
    assert client.get(f"/api/v1/patients/{world['other_practice'].public_id}/").status_code == 404
    assert client.get(f"/api/v1/notes/?patient={world['theirs'].public_id}").status_code == 404


def test_create_patient_validates_and_detects_duplicates(world):
    desk = api_as(world["front_desk"])
    bad = desk.post("/api/v1/patients/", {"legal_first_name": "Ada"}, format="json")
    assert bad.status_code == 400 and "legal_last_name" in bad.json()["error"]["fields"]
    body = {"legal_first_name": "Ada", "legal_last_name": "Quinn", "date_of_birth": "1990-04-02"}
    first = desk.post("/api/v1/patients/", body, format="json")
    assert first.status_code == 201 and first.json()["mrn"].startswith("P")
    again = desk.post("/api/v1/patients/", body, format="json")
    assert again.status_code == 409 and again.json()["error"]["duplicates"][0]["id"] == first.json()["id"]
    forced = desk.post("/api/v1/patients/", body | {"allow_duplicate": True}, format="json")
    assert forced.status_code == 201


def test_a_draft_is_written_saved_idempotently_and_signed(world, practice_a):
    client = api_as(world["clinician"])
    with practice_scope(practice_a):
        from clinical.models import NoteTemplate

        template = NoteTemplate.objects.get(kind="soap")
    created = client.post(
        "/api/v1/notes/",
        {"patient": str(world["mine"].public_id), "template": str(template.public_id), "session_on": "2026-11-20"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    url = f"/api/v1/notes/{created.json()['id']}/"
    content = {
        "content": {
            "subjective": "Better sleep.",
            "objective": "Calm.",
            "assessment": "Improving.",
            "plan_next": "Weekly.",
        },
        "start_time": "10:00",
        "end_time": "10:53",
        "risk_ideation": "none",
        "risk_level": "low",
    }
    first = client.patch(url, content, format="json")
    assert first.status_code == 200 and first.json()["duration_minutes"] == 53
    second = client.patch(url, content, format="json")
    assert second.json()["revision"] == first.json()["revision"]  # the same save twice is a no-op

    wrong = client.post(url + "sign/", {"credential": "not my password"}, format="json")
    assert wrong.status_code == 400 and "credential" in wrong.json()["error"]["fields"]
    signed = client.post(url + "sign/", {"credential": DEFAULT_PASSWORD}, format="json")
    assert signed.status_code == 200 and signed.json()["status"] == "signed"
    locked = client.patch(url, {"plan": "changed"}, format="json")
    assert locked.status_code == 409
    with practice_scope(practice_a):
        assert ProgressNote.objects.get(public_id=created.json()["id"]).plan == ""


def test_psychotherapy_notes_never_appear_in_the_api(world, practice_a):
    with scopes_disabled():
        cf.PsychotherapyNoteFactory(patient=world["mine"], author=world["clinician"], body="SECRET-PROCESS-NOTE")
        cf.ProgressNoteFactory(patient=world["mine"], author=world["clinician"])
    client = api_as(world["clinician"])
    for path in ("/api/v1/notes/", f"/api/v1/notes/?patient={world['mine'].public_id}", "/api/v1/patients/"):
        response = client.get(path)
        assert response.status_code == 200
        assert "SECRET-PROCESS-NOTE" not in response.content.decode()
    assert client.get("/api/v1/psychotherapy-notes/").status_code == 404


def test_plans_and_medications_come_with_their_details(world, practice_a):
    with scopes_disabled():
        cf.TreatmentObjectiveFactory(
            goal=cf.TreatmentGoalFactory(
                problem=cf.TreatmentProblemFactory(
                    plan=cf.TreatmentPlanFactory(patient=world["mine"], author=world["clinician"])
                )
            )
        )
        cf.MedicationFactory(patient=world["mine"], recorded_by=world["clinician"], started_on=date(2026, 1, 5))
    client = api_as(world["clinician"])
    plans = client.get(f"/api/v1/treatment-plans/?patient={world['mine'].public_id}").json()["results"]
    assert plans[0]["problems"][0]["goals"][0]["objectives"][0]["status"] == "not_started"
    meds = client.get("/api/v1/medications/").json()["results"]
    assert [m["name"] for m in meds] == ["Sertraline"]


@pytest.mark.parametrize("path", ["/api/v1/patients/", "/api/v1/notes/", "/api/v1/treatment-plans/"])
def test_list_query_count_does_not_grow(world, path, django_assert_max_num_queries):
    client = api_as(world["clinician"])

    def add(n):
        with scopes_disabled():
            for _ in range(n):
                patient = cf.PatientFactory(practice=world["mine"].practice, primary_clinician=world["clinician"])
                cf.ProgressNoteFactory(patient=patient, author=world["clinician"])
                cf.TreatmentGoalFactory(
                    problem=cf.TreatmentProblemFactory(
                        plan=cf.TreatmentPlanFactory(patient=patient, author=world["clinician"])
                    )
                )

    add(3)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert client.get(path).status_code == 200
    add(27)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(path).status_code == 200
