"""Patient pages through the browser's eyes: what each role sees, search, the chart, break-the-glass."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from clinical.models import CommunicationConsent, Diagnosis, EmergencyAccess, Patient
from clinical.tests import factories as cf
from practice.models import AccessEvent
from practice.permissions import Role
from practice.tests.factories import sign_in

pytestmark = pytest.mark.django_db

SLUG = "riverside"
NOTE_TEXT = "Reports sleeping better; two panic episodes this week."


def url(name, **kw):
    return reverse(name, kwargs={"practice_slug": SLUG, **kw})


def chart_url(patient):
    return url("patient_chart", patient_id=patient.public_id)


@pytest.fixture
def members(practice_a, make_member):
    supervisor = make_member(practice_a, Role.SUPERVISOR, email="sup@riverside.test")
    supervisee = make_member(practice_a, Role.CLINICIAN, email="pre@riverside.test", is_licensed=False)
    with scopes_disabled():
        supervisee.supervisor = supervisor
        supervisee.save()
    return {
        "owner": make_member(practice_a, Role.OWNER, email="owner@riverside.test"),
        "admin": make_member(practice_a, Role.ADMIN, email="admin@riverside.test"),
        "clinician": make_member(practice_a, Role.CLINICIAN, email="cl@riverside.test"),
        "other": make_member(practice_a, Role.CLINICIAN, email="other@riverside.test"),
        "supervisor": supervisor,
        "supervisee": supervisee,
        "front_desk": make_member(practice_a, Role.FRONT_DESK, email="desk@riverside.test"),
        "biller": make_member(practice_a, Role.BILLER, email="bill@riverside.test"),
    }


def _patient(practice, clinician, **kw):
    with scopes_disabled():
        return cf.PatientFactory(practice=practice, primary_clinician=clinician, **kw)


@pytest.fixture
def world(practice_a, members):
    mine = _patient(practice_a, members["clinician"], legal_first_name="Maya", legal_last_name="Rivera",
                    date_of_birth=date(1988, 3, 14), phone="(503) 555-0142", phone_digits="5035550142")  # fmt: skip
    theirs = _patient(practice_a, members["other"], legal_first_name="Theo", legal_last_name="Okafor",
                      phone="(971) 555-7788", phone_digits="9715557788")  # fmt: skip
    supervisees = _patient(practice_a, members["supervisee"], legal_first_name="Ana", legal_last_name="Lindqvist")
    with scopes_disabled():
        cf.ProgressNoteFactory(patient=mine, status="signed", signed_at=timezone.now())
    return {"mine": mine, "theirs": theirs, "supervisees": supervisees}


def client_for(member):
    return sign_in(Client(), member)


# --- Caseloads -------------------------------------------------------------------------------


def test_clinician_sees_own_caseload_only(members, world):
    c = client_for(members["clinician"])
    body = c.get(url("patient_list")).content.decode()
    assert "Rivera" in body and "Okafor" not in body and "Lindqvist" not in body
    assert c.get(chart_url(world["mine"])).status_code == 200
    # outside the caseload: a clinician may break the glass, so they are sent there
    response = c.get(chart_url(world["theirs"]))
    assert response.status_code == 302
    assert response["Location"] == url("patient_break_glass", patient_id=world["theirs"].public_id)


def test_supervisor_sees_supervisees_patient(members, world):
    c = client_for(members["supervisor"])
    body = c.get(url("patient_list")).content.decode()
    assert "Lindqvist" in body and "Rivera" not in body
    response = c.get(chart_url(world["supervisees"]))
    assert response.status_code == 200
    assert "Clinical record" not in response.content.decode()  # full chart, not the demographics page


def test_shared_patient_is_visible_after_sharing(members, world):
    owner_of_patient = client_for(members["other"])
    response = owner_of_patient.post(
        url("patient_share", patient_id=world["theirs"].public_id), {"to_membership": members["clinician"].pk}
    )
    assert response.status_code == 302
    c = client_for(members["clinician"])
    assert "Okafor" in c.get(url("patient_list")).content.decode()
    assert c.get(chart_url(world["theirs"])).status_code == 200


@pytest.mark.parametrize("role", ["front_desk", "biller"])
def test_front_desk_and_biller_see_demographics_but_no_note_content(role, members, world):
    c = client_for(members[role])
    body = c.get(url("patient_list")).content.decode()
    assert "Rivera" in body and "Okafor" in body  # every patient's demographics
    response = c.get(chart_url(world["mine"]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "(503) 555-0142" in body  # demographics
    assert NOTE_TEXT not in body and "Progress note" not in body and "F41.1" not in body
    assert "only to the patient&#x27;s clinicians" in body or "only to the patient's clinicians" in body
    # clinical pages are forbidden outright
    assert c.get(url("diagnosis_add", patient_id=world["mine"].public_id)).status_code == 403
    assert c.get(url("diagnosis_code_search") + "?q=F41").status_code == 403
    assert c.get(url("patient_break_glass", patient_id=world["mine"].public_id)).status_code == 403


def test_biller_cannot_edit_demographics(members, world):
    c = client_for(members["biller"])
    assert c.get(url("patient_edit", patient_id=world["mine"].public_id)).status_code == 403
    assert c.get(url("patient_create")).status_code == 403


def test_chart_lists_notes_without_their_content(members, world):
    body = client_for(members["clinician"]).get(chart_url(world["mine"])).content.decode()
    assert "Progress note (SOAP)" in body and "Signed" in body
    assert NOTE_TEXT not in body  # the chart lists notes; content is on the note page


def test_chart_shows_only_the_viewers_own_psychotherapy_notes(members, world, practice_a):
    with scopes_disabled():
        cf.PsychotherapyNoteFactory(patient=world["mine"], author=members["clinician"], session_on=date(2026, 1, 5))
        cf.PsychotherapyNoteFactory(patient=world["mine"], author=members["owner"], session_on=date(2026, 2, 7))
    mine = client_for(members["clinician"]).get(chart_url(world["mine"])).content.decode()
    assert "01/05/2026" in mine and "02/07/2026" not in mine
    assert "transference" not in mine  # never the body
    owner = client_for(members["owner"]).get(chart_url(world["mine"])).content.decode()
    assert "02/07/2026" in owner and "01/05/2026" not in owner


# --- Break-the-glass end to end --------------------------------------------------------------


def test_break_glass_flow_end_to_end(members, world, django_capture_on_commit_callbacks, mailoutbox):
    c = client_for(members["clinician"])
    theirs = world["theirs"]
    response = c.get(chart_url(theirs), follow=True)
    assert response.redirect_chain[-1][0] == url("patient_break_glass", patient_id=theirs.public_id)
    assert "not on your caseload" in response.content.decode()

    bg_url = url("patient_break_glass", patient_id=theirs.public_id)
    short = c.post(bg_url, {"reason": "crisis"})
    assert short.status_code == 200 and "at least 20" in short.content.decode()

    reason = "Covering on call: patient called the crisis line at 2 am."
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(bg_url, {"reason": reason})
    assert response.status_code == 302 and response["Location"] == chart_url(theirs)
    body = c.get(chart_url(theirs)).content.decode()
    assert "emergency access" in body
    with scopes_disabled():
        event = AccessEvent.all_objects.get(action="break_glass")
        assert event.reason == reason and event.patient_id == theirs.public_id
    assert len(mailoutbox) == 1

    admin = client_for(members["admin"])
    log = admin.get(url("break_glass_log")).content.decode()
    assert reason in log and "Okafor" in log and members["clinician"].user.display_name in log
    with scopes_disabled():
        grant = EmergencyAccess.all_objects.get()
    assert admin.post(url("break_glass_log"), {"access": str(grant.public_id)}).status_code == 302
    with scopes_disabled():
        grant.refresh_from_db()
    assert grant.reviewed_by_id == members["admin"].pk and grant.reviewed_at is not None


def test_break_glass_log_needs_audit_view(members):
    assert client_for(members["clinician"]).get(url("break_glass_log")).status_code == 403
    assert client_for(members["front_desk"]).get(url("break_glass_log")).status_code == 403


def test_search_offers_break_glass_for_patients_outside_the_caseload(members, world):
    c = client_for(members["clinician"])
    body = c.get(url("patient_list") + "?q=okafor").content.decode()
    assert "Outside your caseload" in body
    assert url("patient_break_glass", patient_id=world["theirs"].public_id) in body
    assert f'href="{chart_url(world["theirs"])}"' not in body
    # front desk sees everyone already and may not break the glass: no such section
    desk = client_for(members["front_desk"]).get(url("patient_list") + "?q=okafor").content.decode()
    assert "Outside your caseload" not in desk


# --- Search ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["Rivera", "riv", "maya r", "03/14/1988", "1988-03-14", "0142", "503-555-0142", "MRN"]
)
def test_search_finds_by_name_dob_phone_and_mrn(query, members, world):
    if query == "MRN":
        query = world["mine"].mrn
    c = client_for(members["front_desk"])
    body = c.get(url("patient_list"), {"q": query}).content.decode()
    assert "Rivera" in body, query
    assert "Okafor" not in body, query


def test_search_by_preferred_name(members, world, practice_a):
    with scopes_disabled():
        Patient.all_objects.filter(pk=world["theirs"].pk).update(preferred_name="Teddy")
    body = client_for(members["front_desk"]).get(url("patient_list"), {"q": "ted"}).content.decode()
    assert "Okafor" in body


def test_search_is_an_htmx_partial_when_asked(members, world):
    c = client_for(members["front_desk"])
    response = c.get(url("patient_list"), {"q": "riv"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "Rivera" in body and "<html" not in body


def test_search_writes_a_search_event_without_patient(members, world):
    client_for(members["front_desk"]).get(url("patient_list"), {"q": "riv"})
    with scopes_disabled():
        event = AccessEvent.all_objects.get(action="search")
    assert event.object_type == "clinical.patient" and event.patient_id is None


def test_search_is_paginated_and_query_count_bounded(members, practice_a, django_assert_max_num_queries):
    with scopes_disabled():
        for _ in range(30):
            cf.PatientFactory(practice=practice_a, primary_clinician=members["clinician"])
    c = client_for(members["clinician"])
    c.get(url("patient_list"))  # warm the session and content types
    with django_assert_max_num_queries(20):
        response = c.get(url("patient_list"))
    assert response.context["page_obj"].paginator.count == 30
    assert len(response.context["page_obj"].object_list) == 25
    with django_assert_max_num_queries(20):
        c.get(url("patient_list"), {"q": "a"})


# --- Chart -----------------------------------------------------------------------------------


def _fill_chart(patient, n):
    codes = ["F41.1", "F32.1", "F43.10", "F40.10", "F33.1", "F42.2", "F90.0", "F31.81", "F50.2", "F60.3"]
    with scopes_disabled():
        for i in range(n):
            cf.ProgressNoteFactory(patient=patient, status="signed", signed_at=timezone.now(),
                                   session_on=timezone.localdate() - timedelta(days=i))  # fmt: skip
            cf.MedicationFactory(patient=patient, name=f"Med {i}")
            cf.DocumentFactory(patient=patient, title=f"Doc {i}")
            cf.CommunicationConsentFactory(patient=patient, channel="sms", is_granted=bool(i % 2))
            cf.PsychotherapyNoteFactory(patient=patient)
        for i, code in enumerate(codes[: min(n, len(codes))]):
            cf.DiagnosisFactory(patient=patient, code=cf.m.DiagnosisCode.objects.get(code=code),
                                is_primary=(i == 0), rank=i + 1)  # fmt: skip
        plan = cf.TreatmentPlanFactory(patient=patient)
        for _ in range(n):
            cf.TreatmentProblemFactory(plan=plan)


@pytest.mark.parametrize("size", [3, 30])
def test_chart_query_count_is_bounded_whatever_its_size(size, members, practice_a, django_assert_max_num_queries):
    patient = _patient(practice_a, members["clinician"])
    _fill_chart(patient, size)
    c = client_for(members["clinician"])
    c.get(chart_url(patient))
    # 28 + the sidebar's open risk-alert badge + the Assessments section (latest PHQ-9 / GAD-7)
    # + the header's open risk alerts
    with django_assert_max_num_queries(31):
        response = c.get(chart_url(patient))
    assert response.status_code == 200
    chart = response.context["chart"]
    assert len(chart.medications) == size and len(chart.psychotherapy_notes) == size


def test_reading_the_chart_writes_a_view_event(members, world):
    client_for(members["clinician"]).get(chart_url(world["mine"]))
    with scopes_disabled():
        event = AccessEvent.all_objects.get(action="view", object_type="clinical.patient")
    assert event.patient_id == world["mine"].public_id
    assert event.user_id == members["clinician"].user_id


def test_another_practices_patient_is_404(members, practice_b, make_member):
    theirs = _patient(practice_b, make_member(practice_b, Role.CLINICIAN))
    assert client_for(members["owner"]).get(chart_url(theirs)).status_code == 404


# --- Create, edit, consents, diagnoses -------------------------------------------------------

FORM = {
    "legal_first_name": "Jordan",
    "legal_last_name": "Baptiste",
    "date_of_birth": "1992-07-01",
    "sex_assigned_at_birth": "unknown",
    "status": "active",
    "phone": "503 555 0199",
}


def test_create_form_warns_of_a_duplicate_and_creates_anyway(members, practice_a):
    c = client_for(members["front_desk"])
    assert c.post(url("patient_create"), FORM).status_code == 302
    again = c.post(url("patient_create"), FORM)
    assert again.status_code == 200
    body = again.content.decode()
    assert "Possible duplicate" in body and "Create anyway" in body
    with scopes_disabled():
        assert Patient.all_objects.filter(practice=practice_a).count() == 1
    assert c.post(url("patient_create"), FORM | {"create_anyway": "on"}).status_code == 302
    with scopes_disabled():
        assert Patient.all_objects.filter(practice=practice_a).count() == 2


def test_clinician_creating_a_patient_becomes_primary_clinician(members, practice_a):
    c = client_for(members["clinician"])
    form = c.get(url("patient_create")).context["form"]
    assert form.initial["primary_clinician"] == members["clinician"]
    response = c.post(url("patient_create"), FORM | {"primary_clinician": members["clinician"].pk})
    with scopes_disabled():
        patient = Patient.all_objects.get(legal_last_name="Baptiste")
    assert response["Location"] == chart_url(patient)


def test_minor_without_guardian_shows_a_field_error(members, practice_a):
    c = client_for(members["front_desk"])
    dob = (timezone.localdate() - timedelta(days=365 * 12)).isoformat()
    response = c.post(url("patient_create"), FORM | {"date_of_birth": dob})
    assert response.status_code == 200
    assert response.context["form"].errors["guardian_name"]
    with scopes_disabled():
        assert not Patient.all_objects.exists()


def test_edit_demographics(members, world):
    c = client_for(members["front_desk"])
    p = world["mine"]
    data = FORM | {"legal_first_name": "Maya", "legal_last_name": "Rivera", "date_of_birth": "1988-03-14",
                   "pronouns": "she/her", "chart_alert": "Safety plan on file"}  # fmt: skip
    assert c.post(url("patient_edit", patient_id=p.public_id), data).status_code == 302
    body = c.get(chart_url(p)).content.decode()
    assert "she/her" in body and "Safety plan on file" in body


def test_consent_buttons_record_history(members, world):
    c = client_for(members["front_desk"])
    consent_url = url("patient_consent", patient_id=world["mine"].public_id)
    assert c.get(consent_url).status_code == 405
    c.post(consent_url, {"channel": "sms", "is_granted": "1"})
    c.post(consent_url, {"channel": "sms", "is_granted": "0"})
    with scopes_disabled():
        rows = list(CommunicationConsent.all_objects.filter(patient=world["mine"]).values_list("is_granted", flat=True))
    assert rows == [False, True]
    assert "Withdrawn" in c.get(chart_url(world["mine"])).content.decode()


def test_diagnosis_pages(members, world):
    c = client_for(members["clinician"])
    p = world["mine"]
    results = c.get(url("diagnosis_code_search"), {"q": "F41", "patient": str(p.public_id)}).content.decode()
    assert "F41.1" in results and "Generalized anxiety disorder" in results and "Category" in results
    words = c.get(url("diagnosis_code_search"), {"q": "generalized anx"}).content.decode()
    assert "F41.1" in words
    refused = c.post(url("diagnosis_add", patient_id=p.public_id), {"code": "F41"})
    assert refused.status_code == 200 and "billable" in refused.content.decode()
    assert c.post(url("diagnosis_add", patient_id=p.public_id), {"code": "F41.1"}).status_code == 302
    assert c.post(url("diagnosis_add", patient_id=p.public_id), {"code": "F32.1"}).status_code == 302
    with scopes_disabled():
        gad, mdd = Diagnosis.all_objects.filter(patient=p).order_by("rank")
    assert gad.is_primary
    c.post(url("diagnosis_make_primary", patient_id=p.public_id, diagnosis_id=mdd.public_id))
    c.post(url("diagnosis_resolve", patient_id=p.public_id, diagnosis_id=gad.public_id))
    with scopes_disabled():
        gad.refresh_from_db()
        mdd.refresh_from_db()
    today = timezone.localdate(timezone=ZoneInfo(members["clinician"].practice.timezone))
    assert mdd.is_primary and gad.resolved_on == today
    body = c.get(chart_url(p)).content.decode()
    assert "Resolved (1)" in body


def test_diagnosis_of_another_patient_is_404(members, world):
    c = client_for(members["clinician"])
    with scopes_disabled():
        dx = cf.DiagnosisFactory(patient=world["supervisees"])
    response = c.post(url("diagnosis_resolve", patient_id=world["mine"].public_id, diagnosis_id=dx.public_id))
    assert response.status_code == 404
