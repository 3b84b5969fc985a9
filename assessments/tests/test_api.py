"""The assessments REST API: instruments, protocols, assignments, administrations, scored
responses and risk alerts — same caseload, permissions and audit as the pages."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from assessments.models import Administration, Protocol, ProtocolAssignment, RiskAlert
from assessments.models import Response as AssessmentResponse
from assessments.tests import factories as af
from clinical.tests import factories as cf
from practice import services
from practice.models import AccessEvent
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db

PHQ9_MODERATE = [2, 2, 1, 2, 1, 1, 2, 1, 0]  # total 12, no risk item
PHQ9_ITEM9 = [1, 1, 1, 1, 0, 0, 0, 0, 1]  # total 5, item 9 "several days"


def api_as(membership) -> APIClient:
    _token, raw = services.api_token_issue(membership=membership)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def ids(response) -> set[str]:
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def world(practice_a, practice_b, make_member):
    clinician = make_member(practice_a, Role.CLINICIAN, email="lee@riverside.test")
    colleague = make_member(practice_a, Role.CLINICIAN, email="kim@riverside.test")
    admin = make_member(practice_a, Role.ADMIN, email="admin@riverside.test")
    front_desk = make_member(practice_a, Role.FRONT_DESK, email="desk@riverside.test")
    biller = make_member(practice_a, Role.BILLER, email="bill@riverside.test")
    with scopes_disabled():
        mine = cf.PatientFactory(practice=practice_a, primary_clinician=clinician, legal_last_name="Mine")
        theirs = cf.PatientFactory(practice=practice_a, primary_clinician=colleague, legal_last_name="Theirs")
        other_practice = cf.PatientFactory(practice=practice_b)
    return {
        "clinician": clinician,
        "colleague": colleague,
        "admin": admin,
        "front_desk": front_desk,
        "biller": biller,
        "mine": mine,
        "theirs": theirs,
        "other_practice": other_practice,
        "practice": practice_a,
    }


def _post_response(client, patient, answers=PHQ9_MODERATE, **extra):
    body = {"patient": str(patient.public_id), "instrument_code": "PHQ-9", "answers": answers, **extra}
    return client.post("/api/v1/responses/", body, format="json")


def _count(practice, model) -> int:
    with practice_scope(practice):
        return model.objects.count()


# --- Instruments -------------------------------------------------------------------------------


def test_instrument_list_and_detail_carry_items_options_bands_and_loinc(world):
    client = api_as(world["clinician"])
    listing = client.get("/api/v1/instruments/")
    assert listing.status_code == 200
    codes = [row["code"] for row in listing.json()["results"]]
    assert {"PHQ-9", "PHQ-2", "GAD-7", "GAD-2", "PCL-5", "AUDIT-C", "EPDS", "C-SSRS-SCREEN"} <= set(codes)

    phq9 = client.get("/api/v1/instruments/PHQ-9/").json()
    assert len(phq9["items"]) == 9
    assert phq9["items"][8]["is_risk_item"] is True
    assert [o["value"] for o in phq9["items"][0]["options"]] == [0, 1, 2, 3]
    assert phq9["items"][0]["options"][0]["loinc"] == "LA6568-5"
    assert phq9["loinc_panel"] and phq9["loinc_total"]
    assert phq9["bands"][0]["key"] == "none_minimal"
    assert phq9["bands"][-1]["upper"] == 27
    assert phq9["difficulty_item"]["scored"] is False
    assert phq9["licence"] and phq9["version"]

    cssrs = client.get("/api/v1/instruments/C-SSRS-SCREEN/").json()
    assert cssrs["total_range"] is None
    assert any(item["show_if"] for item in cssrs["items"])
    audit = client.get("/api/v1/instruments/AUDIT-C/").json()
    assert set(audit["positive_at_by_sex"]) == {"male", "female"}


def test_unknown_instrument_is_a_404_in_the_error_shape(world):
    response = api_as(world["clinician"]).get("/api/v1/instruments/NOPE-1/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_instruments_need_the_results_permission(world):
    assert api_as(world["front_desk"]).get("/api/v1/instruments/").status_code == 403
    assert api_as(world["biller"]).get("/api/v1/instruments/PHQ-9/").status_code == 403


def test_instruments_need_authentication():
    assert APIClient().get("/api/v1/instruments/").status_code in (401, 403)


# --- Responses ---------------------------------------------------------------------------------


def test_recording_a_response_answers_with_the_scored_result(world):
    client = api_as(world["clinician"])
    response = _post_response(client, world["mine"], difficulty=1, mode="paper")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["total"] == 12
    assert body["severity"] == "moderate"
    assert body["severity_label"]
    assert "suicide_risk" not in body["flags"]
    assert body["positive_screen"] is True
    assert body["instrument_version"]
    assert body["mode"] == "paper"
    assert body["administered_by"] == str(world["clinician"].public_id)
    assert body["alert"] is None
    with practice_scope(world["practice"]):
        stored = AssessmentResponse.objects.get(public_id=body["id"])
        assert stored.answers == PHQ9_MODERATE and stored.difficulty == 1


def test_a_flagged_response_names_the_risk_alert_it_opened(world):
    response = _post_response(api_as(world["clinician"]), world["mine"], answers=PHQ9_ITEM9)
    assert response.status_code == 201
    body = response.json()
    assert "suicide_risk" in body["flags"]
    with practice_scope(world["practice"]):
        alert = RiskAlert.objects.get()
    assert body["alert"] == str(alert.public_id)
    assert alert.clinician == world["clinician"]


@pytest.mark.parametrize(
    ("answers", "needle"),
    [
        ([1, 1, 1], "9 answers"),  # wrong item count
        ([0, 0, 0, 0, 0, 0, 0, 0, 4], "item 9"),  # out of range
        ([0, 0, 0, 0, -1, 0, 0, 0, 0], "item 5"),  # negative
    ],
)
def test_invalid_answers_are_a_400_naming_the_item_and_nothing_is_stored(world, answers, needle):
    response = _post_response(api_as(world["clinician"]), world["mine"], answers=answers)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "answers" in error["fields"]
    assert needle in " ".join(error["fields"]["answers"]).lower()
    assert _count(world["practice"], AssessmentResponse) == 0
    with practice_scope(world["practice"]):
        from assessments.models import MeasureSummary

        assert MeasureSummary.objects.count() == 0


def test_malformed_bodies_are_400_with_field_errors(world):
    client = api_as(world["clinician"])
    bad = client.post(
        "/api/v1/responses/",
        {"patient": "not-a-uuid", "instrument_code": "XYZ", "answers": ["a"], "mode": "link"},
        format="json",
    )
    assert bad.status_code == 400
    assert {"patient", "instrument_code", "answers", "mode"} <= set(bad.json()["error"]["fields"])
    empty = _post_response(client, world["mine"], answers=[])
    assert empty.status_code == 400 and "answers" in empty.json()["error"]["fields"]
    assert _count(world["practice"], AssessmentResponse) == 0


def test_responses_respect_the_caseload(world, make_member):
    client = api_as(world["clinician"])
    assert _post_response(client, world["theirs"]).status_code == 404
    assert _post_response(client, world["other_practice"]).status_code == 404
    with practice_scope(world["practice"]):
        mine = af.ResponseFactory(practice=world["practice"], patient=world["mine"])
        theirs = af.ResponseFactory(practice=world["practice"], patient=world["theirs"])
    assert ids(client.get("/api/v1/responses/")) == {str(mine.public_id)}
    assert client.get(f"/api/v1/responses/{theirs.public_id}/").status_code == 404
    assert client.get(f"/api/v1/responses/?patient={world['theirs'].public_id}").status_code == 404
    # the owner's caseload is every patient
    owner = api_as(make_member(world["practice"], Role.OWNER, email="own@riverside.test"))
    assert ids(owner.get("/api/v1/responses/")) == {str(mine.public_id), str(theirs.public_id)}


def test_response_list_filters_by_patient_instrument_and_since(world):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    with practice_scope(world["practice"]):
        old = af.ResponseFactory(
            practice=world["practice"], patient=world["mine"], completed_at=now - timedelta(days=40)
        )
        new = af.ResponseFactory(
            practice=world["practice"], patient=world["mine"], completed_at=now - timedelta(days=2)
        )
        gad = af.ResponseFactory(
            practice=world["practice"], patient=world["mine"], instrument_code="GAD-7", answers=[1] * 7, total=7
        )
    client = api_as(world["clinician"])
    base = f"/api/v1/responses/?patient={world['mine'].public_id}"
    assert ids(client.get(base)) == {str(old.public_id), str(new.public_id), str(gad.public_id)}
    assert ids(client.get(base + "&instrument=PHQ-9")) == {str(old.public_id), str(new.public_id)}
    since = (now - timedelta(days=10)).isoformat().replace("+00:00", "Z")
    assert ids(client.get(base + f"&instrument=PHQ-9&since={since}")) == {str(new.public_id)}
    assert client.get(base + "&instrument=BOGUS").status_code == 400


def test_reading_responses_writes_access_events(world):
    client = api_as(world["clinician"])
    created = _post_response(client, world["mine"]).json()
    client.get(f"/api/v1/responses/?patient={world['mine'].public_id}")
    client.get(f"/api/v1/responses/{created['id']}/")
    with practice_scope(world["practice"]):
        events = AccessEvent.objects.filter(object_type="assessments.response")
        assert events.filter(action="list", patient_id=world["mine"].public_id).count() == 1
        assert events.filter(action="view").count() == 1


def test_roles_without_clinical_access_cannot_read_or_record_responses(world):
    for who in ("front_desk", "biller", "admin"):
        client = api_as(world[who])
        assert client.get("/api/v1/responses/").status_code == 403, who
        assert _post_response(client, world["mine"]).status_code == 403, who


# --- Risk alerts -------------------------------------------------------------------------------


def _alert(world, patient, **kw):
    with practice_scope(world["practice"]):
        return af.RiskAlertFactory(
            practice=world["practice"], patient=patient, clinician=patient.primary_clinician, **kw
        )


def test_alert_list_is_open_by_default_and_limited_to_the_clinicians_own(world):
    mine_open = _alert(world, world["mine"])
    mine_done = _alert(world, world["mine"], status=RiskAlert.Status.ACKNOWLEDGED)
    theirs = _alert(world, world["theirs"])
    client = api_as(world["clinician"])
    assert ids(client.get("/api/v1/alerts/")) == {str(mine_open.public_id)}
    assert ids(client.get("/api/v1/alerts/?status=acknowledged")) == {str(mine_done.public_id)}
    assert ids(client.get("/api/v1/alerts/?status=all")) == {str(mine_open.public_id), str(mine_done.public_id)}
    assert client.get(f"/api/v1/alerts/{theirs.public_id}/").status_code == 404
    # admins see every alert (escalations reach them); front desk none
    assert ids(api_as(world["admin"]).get("/api/v1/alerts/")) == {str(mine_open.public_id), str(theirs.public_id)}
    assert api_as(world["front_desk"]).get("/api/v1/alerts/").status_code == 403


def test_acknowledging_an_alert_needs_an_action_and_is_audited(world):
    alert = _alert(world, world["mine"])
    client = api_as(world["clinician"])
    url = f"/api/v1/alerts/{alert.public_id}/acknowledge/"
    missing = client.post(url, {}, format="json")
    assert missing.status_code == 400 and "action" in missing.json()["error"]["fields"]
    bogus = client.post(url, {"action": "shrug"}, format="json")
    assert bogus.status_code == 400
    no_note = client.post(url, {"action": "not_significant"}, format="json")
    assert no_note.status_code == 400, no_note.content

    done = client.post(url, {"action": "contacted", "note": "Called, safe, plan reviewed."}, format="json")
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["status"] == "acknowledged" and body["action"] == "contacted"
    assert body["acknowledged_by"] == str(world["clinician"].public_id)
    again = client.post(url, {"action": "contacted"}, format="json")
    assert again.status_code in (400, 409)
    with practice_scope(world["practice"]):
        assert AccessEvent.objects.filter(object_type="assessments.riskalert", action="view").exists()


def test_another_clinician_cannot_acknowledge(world):
    alert = _alert(world, world["mine"])
    response = api_as(world["colleague"]).post(
        f"/api/v1/alerts/{alert.public_id}/acknowledge/", {"action": "contacted"}, format="json"
    )
    assert response.status_code == 404
    with practice_scope(world["practice"]):
        alert.refresh_from_db()
    assert alert.status == RiskAlert.Status.OPEN


def test_reading_alerts_writes_access_events(world):
    alert = _alert(world, world["mine"])
    client = api_as(world["clinician"])
    client.get("/api/v1/alerts/")
    client.get(f"/api/v1/alerts/{alert.public_id}/")
    with practice_scope(world["practice"]):
        events = AccessEvent.objects.filter(object_type="assessments.riskalert")
        assert {e.action for e in events} == {"list", "view"}


# --- Protocols, assignments, administrations ---------------------------------------------------


def test_protocols_are_readable_by_clinicians_and_changed_only_by_managers(world, make_member):
    supervisor = make_member(world["practice"], Role.SUPERVISOR, email="sup@riverside.test")
    body = {
        "name": "Depression screening",
        "instrument_codes": ["PHQ-9"],
        "audience": "diagnosis",
        "diagnosis_prefixes": ["F32", "F33"],
        "at_intake": True,
        "every_n_sessions": 2,
        "channel": "email",
        "auto_assign": False,
    }
    assert api_as(world["clinician"]).post("/api/v1/protocols/", body, format="json").status_code == 403
    created = api_as(supervisor).post("/api/v1/protocols/", body, format="json")
    assert created.status_code == 201, created.content
    protocol = created.json()
    assert protocol["instrument_codes"] == ["PHQ-9"] and protocol["every_n_sessions"] == 2
    assert protocol["created_by"] == str(supervisor.public_id)

    assert ids(api_as(world["clinician"]).get("/api/v1/protocols/")) == {protocol["id"]}
    assert ids(api_as(world["admin"]).get("/api/v1/protocols/")) == {protocol["id"]}
    assert api_as(world["front_desk"]).get("/api/v1/protocols/").status_code == 403

    url = f"/api/v1/protocols/{protocol['id']}/"
    assert api_as(world["clinician"]).patch(url, {"name": "X"}, format="json").status_code == 403
    updated = api_as(world["admin"]).patch(url, {"every_n_weeks": 4, "is_active": False}, format="json")
    assert updated.status_code == 200, updated.content
    assert updated.json()["every_n_weeks"] == 4 and updated.json()["is_active"] is False


def test_protocol_create_rejects_unknown_instruments_with_field_errors(world):
    response = api_as(world["admin"]).post(
        "/api/v1/protocols/", {"name": "Bad", "instrument_codes": ["PHQ-10"]}, format="json"
    )
    assert response.status_code == 400
    assert "instrument_codes" in response.json()["error"]["fields"]
    assert _count(world["practice"], Protocol) == 0


def test_assign_list_and_end_an_assignment(world):
    with practice_scope(world["practice"]):
        protocol = af.ProtocolFactory(practice=world["practice"], created_by=world["admin"], auto_assign=False)
    client = api_as(world["clinician"])
    body = {"protocol": str(protocol.public_id), "patient": str(world["mine"].public_id)}
    created = client.post("/api/v1/assignments/", body, format="json")
    assert created.status_code == 201, created.content
    assignment = created.json()
    assert assignment["status"] == "active" and assignment["patient"] == str(world["mine"].public_id)
    assert assignment["assigned_by"] == str(world["clinician"].public_id)

    listed = client.get(f"/api/v1/assignments/?patient={world['mine'].public_id}")
    assert ids(listed) == {assignment["id"]}
    # a patient outside the caseload
    theirs = {"protocol": str(protocol.public_id), "patient": str(world["theirs"].public_id)}
    assert client.post("/api/v1/assignments/", theirs, format="json").status_code == 404
    assert api_as(world["colleague"]).post(f"/api/v1/assignments/{assignment['id']}/end/").status_code == 404

    ended = client.post(f"/api/v1/assignments/{assignment['id']}/end/")
    assert ended.status_code == 200, ended.content
    assert ended.json()["status"] == "ended"
    with practice_scope(world["practice"]):
        assert ProtocolAssignment.objects.get(public_id=assignment["id"]).ended_at is not None


def test_request_an_administration_now_and_list_it(world):
    client = api_as(world["clinician"])
    body = {"patient": str(world["mine"].public_id), "instrument_code": "GAD-7", "channel": "email"}
    created = client.post("/api/v1/administrations/", body, format="json")
    assert created.status_code == 201, created.content
    row = created.json()
    assert row["instrument_code"] == "GAD-7" and row["requested_by"] == str(world["clinician"].public_id)
    assert "token" not in row and "token_hash" not in row
    assert ids(client.get(f"/api/v1/administrations/?patient={world['mine'].public_id}")) == {row["id"]}
    assert ids(client.get("/api/v1/administrations/?status=cancelled")) == set()
    assert client.get("/api/v1/administrations/?status=nope").status_code == 400
    with practice_scope(world["practice"]):
        theirs = af.AdministrationFactory(practice=world["practice"], patient=world["theirs"])
    assert client.get(f"/api/v1/administrations/{theirs.public_id}/").status_code == 404
    assert row["id"] in ids(client.get("/api/v1/administrations/"))
    assert str(theirs.public_id) not in ids(client.get("/api/v1/administrations/"))
    assert _count(world["practice"], Administration) == 2
    assert api_as(world["front_desk"]).post("/api/v1/administrations/", body, format="json").status_code == 403
