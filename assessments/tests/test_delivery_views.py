"""Staff pages for questionnaire delivery: protocols, settings, clinician entry (in session and
paper), response detail and correction, assign/end, send now."""

from __future__ import annotations

import pytest
from django.urls import reverse

from assessments.models import Administration, Protocol, ProtocolAssignment, Response
from assessments.services import response_record
from assessments.tests.factories import ProtocolFactory
from clinical.tests.factories import CommunicationConsentFactory, PatientFactory
from practice.models import AccessEvent
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_a(make_member, practice_a):
    return make_member(practice_a, Role.ADMIN, email="admin@riverside.test")


@pytest.fixture
def patient(practice_a, clinician_a):
    with practice_scope(practice_a):
        return PatientFactory(practice=practice_a, primary_clinician=clinician_a, legal_first_name="Sam")


def _url(name, practice, **kw):
    return reverse(name, kwargs={"practice_slug": practice.slug, **kw})


def test_protocol_create_list_edit_and_switch_off(client, login, practice_a, admin_a):
    c = login(admin_a)
    page = c.post(
        _url("protocol_new", practice_a),
        {
            "name": "Mood",
            "instrument_codes": ["PHQ-9", "GAD-7"],
            "audience": "diagnosis",
            "diagnosis_prefixes": "F32, F33",
            "at_intake": "on",
            "every_n_sessions": "2",
            "channel": "email",
            "auto_assign": "on",
        },
    )
    assert page.status_code == 302
    listing = c.get(_url("protocol_list", practice_a)).content.decode()
    assert "PHQ-9 + GAD-7 at intake and every 2nd session, by email link; patients with F32*, F33*" in listing
    with practice_scope(practice_a):
        protocol = Protocol.objects.get(name="Mood")
    edit_url = _url("protocol_edit", practice_a, protocol_id=protocol.public_id)
    assert c.get(edit_url).status_code == 200
    bad = c.post(edit_url, {"name": "Mood", "instrument_codes": ["PHQ-9"], "audience": "all", "channel": "email"})
    assert bad.status_code == 200 and "at least one" in bad.content.decode()
    assert c.post(edit_url, {"action": "deactivate"}).status_code == 302
    with practice_scope(practice_a):
        assert not Protocol.objects.get(pk=protocol.pk).is_active


def test_protocol_pages_are_forbidden_to_clinicians(client, login, practice_a, clinician_a):
    assert login(clinician_a).get(_url("protocol_list", practice_a)).status_code == 403


def test_settings_page_saves(client, login, practice_a, make_member):
    owner = make_member(practice_a, Role.OWNER, email="owner@riverside.test")
    c = login(owner)
    page = c.post(
        _url("assessment_settings", practice_a),
        {"link_valid_hours": "24", "send_hours_before": "12", "escalate_after_minutes": "60"},
    )
    assert page.status_code == 302
    from assessments.services import assessment_settings_get

    with practice_scope(practice_a):
        row = assessment_settings_get(practice_id=practice_a.pk)
        assert (row.link_valid_hours, row.send_hours_before, row.bill_screening_cpt) == (24, 12, False)


def test_clinician_administers_in_session_and_sees_the_score(client, login, practice_a, clinician_a, patient):
    c = login(clinician_a)
    url = _url("assessment_administer", practice_a, patient_id=patient.public_id)
    assert "Which questionnaire?" in c.get(url).content.decode()
    form = c.get(url, {"instrument": "PHQ-9", "mode": "clinician"}).content.decode()
    assert form.count('type="radio"') == 40
    data = {"instrument": "PHQ-9", "mode": "clinician", **{f"item_{n}": "2" for n in range(1, 10)}}
    data["item_9"] = "0"
    page = c.post(url, data)
    assert page.status_code == 302
    detail = c.get(page["Location"]).content.decode()
    assert "16" in detail and "Moderately severe" in detail
    assert "Administered by clinician" in detail
    with practice_scope(practice_a):
        response = Response.objects.get(patient=patient)
        assert response.administered_by_id == clinician_a.pk
        assert AccessEvent.objects.filter(object_id=str(response.public_id), action="view").exists()


def test_paper_form_needs_the_date_and_allows_blanks(client, login, practice_a, clinician_a, patient):
    c = login(clinician_a)
    url = _url("assessment_administer", practice_a, patient_id=patient.public_id)
    data = {"instrument": "GAD-7", "mode": "paper", **{f"item_{n}": "1" for n in range(1, 7)}}
    page = c.post(url, data)
    assert page.status_code == 200 and "Give the date the paper form was completed." in page.content.decode()
    data["completed_on"] = "2026-01-15"
    page = c.post(url, data)
    assert page.status_code == 302
    with practice_scope(practice_a):
        response = Response.objects.get(patient=patient)
        assert response.mode == "paper" and response.answers[-1] is None
        assert response.completed_at.date().isoformat() == "2026-01-15"


def test_correction_keeps_the_original(client, login, practice_a, clinician_a, patient):
    with practice_scope(practice_a):
        original = response_record(
            patient=patient, instrument_code="GAD-7", answers=[1] * 7, mode="clinician", by=clinician_a
        )
    c = login(clinician_a)
    url = _url("response_correct", practice_a, patient_id=patient.public_id, response_id=original.public_id)
    form = c.get(url).content.decode()
    assert form.count("checked") >= 7  # pre-filled
    data = {f"item_{n}": "2" for n in range(1, 8)}
    assert "This field is required" in c.post(url, data).content.decode()
    page = c.post(url, {**data, "reason": "transcribed from the wrong column"})
    assert page.status_code == 302
    with practice_scope(practice_a):
        correction = Response.objects.get(corrects=original)
        assert correction.total == 14
    detail = c.get(page["Location"]).content.decode()
    assert "Corrections" in detail and "Original" in detail
    # the original cannot be corrected twice
    assert c.get(url).status_code == 302


def test_assign_end_and_send(
    client, login, practice_a, clinician_a, patient, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    with practice_scope(practice_a):
        protocol = ProtocolFactory(practice=practice_a, instrument_codes=["PHQ-9"], every_n_weeks=4)
        CommunicationConsentFactory(patient=patient, channel="email", is_granted=True)
    c = login(clinician_a)
    url = _url("assessment_assign", practice_a, patient_id=patient.public_id)
    assert c.post(url, {"protocol": str(protocol.public_id)}).status_code == 302
    with django_assert_max_num_queries(30):
        page = c.get(url)
    html = page.content.decode()
    assert protocol.name in html and "Scheduled" in html
    with practice_scope(practice_a):
        assignment = ProtocolAssignment.objects.get(patient=patient)
    end = _url("assignment_end", practice_a, patient_id=patient.public_id, assignment_id=assignment.public_id)
    assert c.get(end).status_code == 405
    assert c.post(end).status_code == 302
    with practice_scope(practice_a):
        assert ProtocolAssignment.objects.get(pk=assignment.pk).status == "ended"
        assert not Administration.objects.filter(patient=patient, status="scheduled").exists()

    send = _url("assessment_send", practice_a, patient_id=patient.public_id)
    page = c.get(send).content.decode()
    assert "Consented" in page and "No consent" in page  # email yes, SMS no
    with django_capture_on_commit_callbacks(execute=True):
        assert c.post(send, {"instrument_code": "GAD-7", "channel": "email"}).status_code == 302
    with practice_scope(practice_a):
        sent = Administration.objects.get(patient=patient, instrument_code="GAD-7")
        assert sent.status == "sent" and sent.message is not None


def test_patient_pages_404_outside_the_caseload(client, login, practice_a, make_member, patient):
    other = make_member(practice_a, Role.CLINICIAN, email="other@riverside.test")
    c = login(other)
    assert c.get(_url("assessment_assign", practice_a, patient_id=patient.public_id)).status_code in (302, 404)
