"""/fhir/R4/: capability statement, read, search parameters, Bundle paging, OperationOutcome
errors, caseload, audit and bounded queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pytest
from django_scopes import scopes_disabled
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from rest_framework.test import APIClient

from assessments.tests import factories as af
from clinical.tests import factories as cf
from practice import services
from practice.models import AccessEvent
from practice.permissions import Role
from practice.scoping import practice_scope
from scheduling.tests import factories as sf

pytestmark = pytest.mark.django_db

BASE = "/fhir/R4/"


def api_as(membership) -> APIClient:
    _token, raw = services.api_token_issue(membership=membership)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def fhir_get(client, path, params=None):
    response = client.get(BASE + path, params or {})
    assert response["Content-Type"].startswith("application/fhir+json"), response["Content-Type"]
    return response


def search(client, path, params=None) -> dict:
    response = fhir_get(client, path, params)
    assert response.status_code == 200, response.content
    body = response.json()
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    return body


def entry_ids(bundle) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def follow(client, url) -> dict:
    parsed = urlparse(url)
    response = client.get(parsed.path + "?" + parsed.query)
    assert response.status_code == 200
    return response.json()


def assert_outcome(response, status, code=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    OperationOutcome.model_validate(body)
    if code:
        assert body["issue"][0]["code"] == code
    return body


@pytest.fixture
def world(practice_a, practice_b, make_member):
    clinician = make_member(practice_a, Role.CLINICIAN, email="lee@riverside.test")
    colleague = make_member(practice_a, Role.CLINICIAN, email="kim@riverside.test")
    front_desk = make_member(practice_a, Role.FRONT_DESK, email="desk@riverside.test")
    biller = make_member(practice_a, Role.BILLER, email="bill@riverside.test")
    with scopes_disabled():
        mine = cf.PatientFactory(practice=practice_a, primary_clinician=clinician, legal_last_name="Mine")
        theirs = cf.PatientFactory(practice=practice_a, primary_clinician=colleague, legal_last_name="Theirs")
    return {
        "clinician": clinician,
        "colleague": colleague,
        "front_desk": front_desk,
        "biller": biller,
        "mine": mine,
        "theirs": theirs,
        "practice": practice_a,
    }


def _response(practice, patient, when, **kwargs):
    with scopes_disabled():
        return af.ResponseFactory(practice=practice, patient=patient, completed_at=when, **kwargs)


# --- metadata and errors --------------------------------------------------------------------------


def test_metadata_is_public_and_a_valid_r4_capability_statement(client):
    response = client.get(BASE + "metadata")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    CapabilityStatement.model_validate(body)
    assert body["fhirVersion"] == "4.0.1"
    assert "application/fhir+json" in body["format"]
    rest = body["rest"][0]
    types = {res["type"]: res for res in rest["resource"]}
    assert set(types) == {
        "Patient",
        "Practitioner",
        "Appointment",
        "Questionnaire",
        "QuestionnaireResponse",
        "Observation",
    }
    assert {p["name"] for p in types["Observation"]["searchParam"]} >= {"_id", "patient", "date", "code", "_count"}
    assert "Bearer" in rest["security"]["service"][0]["text"]


def test_search_and_read_without_credentials_are_401_operation_outcomes(world, client):
    assert_outcome(client.get(BASE + "Patient"), 401, "login")
    response = client.get(BASE + f"Patient/{world['mine'].public_id}")
    assert_outcome(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_role_without_the_permission_gets_403(world):
    biller = api_as(world["biller"])
    assert_outcome(biller.get(BASE + "QuestionnaireResponse"), 403, "forbidden")
    assert_outcome(biller.get(BASE + "Observation"), 403)
    assert fhir_get(biller, "Appointment").status_code == 200  # billers see the schedule


def test_unknown_id_and_unknown_type_are_404_outcomes(world):
    client = api_as(world["clinician"])
    assert_outcome(client.get(BASE + "Patient/00000000-0000-0000-0000-000000000000"), 404, "not-found")
    assert_outcome(client.get(BASE + "Patient/not-a-uuid"), 404)
    assert_outcome(client.get(BASE + "DocumentReference"), 404)
    assert_outcome(client.get(BASE + "Questionnaire/NOPE"), 404)


@pytest.mark.parametrize(
    "query",
    [
        {"name": "Smith"},  # unsupported parameter
        {"date": "2025-13-01"},
        {"date": "sa2025-01-01"},  # unsupported prefix
        {"date": "yesterday"},
        {"_count": "ten"},
        {"_page": "0"},
        {"patient": "Practitioner/1f0e5d0c-1111-4c4c-9999-000000000000"},
        {"code:text": "phq"},  # modifiers are not supported
    ],
)
def test_bad_search_parameters_are_400_outcomes(world, query):
    assert_outcome(api_as(world["clinician"]).get(BASE + "Observation", query), 400)


def test_writes_are_405(world):
    client = api_as(world["clinician"])
    assert_outcome(client.post(BASE + "Patient", {}, format="json"), 405)
    assert_outcome(client.delete(BASE + f"Patient/{world['mine'].public_id}"), 405)


def test_xml_is_not_acceptable(world):
    assert_outcome(api_as(world["clinician"]).get(BASE + "Patient", {"_format": "xml"}), 406)


# --- read and caseload ----------------------------------------------------------------------------


def test_patient_read_follows_the_caseload_and_is_logged(world):
    client = api_as(world["clinician"])
    response = fhir_get(client, f"Patient/{world['mine'].public_id}")
    assert response.status_code == 200
    assert response.json()["identifier"][0]["value"] == world["mine"].mrn
    assert_outcome(client.get(BASE + f"Patient/{world['theirs'].public_id}"), 404)
    with practice_scope(world["practice"]):
        event = AccessEvent.objects.filter(action=AccessEvent.Action.VIEW).latest("id")
    assert event.object_type == "clinical.patient"
    assert str(event.patient_id) == str(world["mine"].public_id)


def test_front_desk_sees_every_patient_but_no_assessment_results(world):
    desk = api_as(world["front_desk"])
    ids = entry_ids(search(desk, "Patient"))
    assert {str(world["mine"].public_id), str(world["theirs"].public_id)} <= set(ids)
    assert_outcome(desk.get(BASE + "Observation"), 403)


def test_responses_and_observations_follow_the_caseload(world):
    now = datetime.now(UTC)
    mine = _response(world["practice"], world["mine"], now)
    theirs = _response(world["practice"], world["theirs"], now)
    client = api_as(world["clinician"])
    assert entry_ids(search(client, "QuestionnaireResponse")) == [str(mine.public_id)]
    assert entry_ids(search(client, "Observation")) == [f"{mine.public_id}-total"]
    assert_outcome(client.get(BASE + f"QuestionnaireResponse/{theirs.public_id}"), 404)
    assert_outcome(client.get(BASE + f"Observation/{theirs.public_id}-total"), 404)
    observation = fhir_get(client, f"Observation/{mine.public_id}-total").json()
    assert observation["code"]["coding"][0]["code"] == "44261-6"
    # a PHQ-9 has no risk-level observation
    assert_outcome(client.get(BASE + f"Observation/{mine.public_id}-risk"), 404)


def test_search_is_logged_with_its_patient(world):
    client = api_as(world["clinician"])
    search(client, "QuestionnaireResponse", {"patient": f"Patient/{world['mine'].public_id}"})
    with practice_scope(world["practice"]):
        event = AccessEvent.objects.latest("id")
    assert event.action == AccessEvent.Action.SEARCH
    assert event.object_type == "assessments.response"
    assert str(event.patient_id) == str(world["mine"].public_id)


def test_practitioners_are_the_clinical_staff(world):
    client = api_as(world["front_desk"])
    ids = set(entry_ids(search(client, "Practitioner")))
    assert ids == {str(world["clinician"].public_id), str(world["colleague"].public_id)}
    assert_outcome(client.get(BASE + f"Practitioner/{world['biller'].public_id}"), 404)


def test_questionnaires_cover_the_library(world):
    client = api_as(world["clinician"])
    bundle = search(client, "Questionnaire")
    assert "PHQ-9" in entry_ids(bundle)
    assert entry_ids(search(client, "Questionnaire", {"_id": "GAD-7"})) == ["GAD-7"]
    assert fhir_get(client, "Questionnaire/GAD-7").json()["code"][0]["code"] == "69737-5"


# --- search parameters ----------------------------------------------------------------------------


def test_id_search_accepts_several_ids_and_ignores_unknown_ones(world):
    client = api_as(world["clinician"])
    with scopes_disabled():
        second = cf.PatientFactory(practice=world["practice"], primary_clinician=world["clinician"])
    wanted = f"{world['mine'].public_id},{second.public_id},nonsense"
    assert set(entry_ids(search(client, "Patient", {"_id": wanted}))) == {
        str(world["mine"].public_id),
        str(second.public_id),
    }


def test_patient_param_takes_a_reference_or_a_bare_id(world):
    with scopes_disabled():
        other = cf.PatientFactory(practice=world["practice"], primary_clinician=world["clinician"])
    now = datetime.now(UTC)
    first = _response(world["practice"], world["mine"], now)
    _response(world["practice"], other, now)
    client = api_as(world["clinician"])
    for value in (f"Patient/{world['mine'].public_id}", str(world["mine"].public_id)):
        assert entry_ids(search(client, "QuestionnaireResponse", {"patient": value})) == [str(first.public_id)]
        assert entry_ids(search(client, "Observation", {"patient": value})) == [f"{first.public_id}-total"]
    # another clinician's patient: an empty searchset, not an error
    empty = search(client, "Observation", {"patient": str(world["theirs"].public_id)})
    assert empty["total"] == 0


def test_date_prefixes_on_observation_effective_date(world):
    jan, feb, mar = (datetime(2025, month, 15, 15, 0, tzinfo=UTC) for month in (1, 2, 3))
    rows = {
        m: _response(world["practice"], world["mine"], when) for m, when in (("jan", jan), ("feb", feb), ("mar", mar))
    }
    client = api_as(world["clinician"])

    def found(*dates):
        bundle = search(client, "Observation", {"date": list(dates)})
        return {k for k, v in rows.items() if f"{v.public_id}-total" in entry_ids(bundle)}

    assert found("2025-02-15") == {"feb"}  # eq, a day
    assert found("eq2025-02") == {"feb"}  # a month
    assert found("ge2025-02-15") == {"feb", "mar"}
    assert found("gt2025-02-15") == {"mar"}
    assert found("le2025-02-15") == {"jan", "feb"}
    assert found("lt2025-02-15") == {"jan"}
    assert found("ge2025-01-20", "le2025-03-01") == {"feb"}  # a range
    assert found("2025") == {"jan", "feb", "mar"}
    assert found("ge2025-02-15T15:00:00Z") == {"feb", "mar"}
    assert found("gt2025-02-15T15:00:00Z") == {"mar"}


def test_date_on_questionnaire_responses_and_appointments(world):
    jan, mar = datetime(2025, 1, 15, 15, tzinfo=UTC), datetime(2025, 3, 15, 15, tzinfo=UTC)
    early = _response(world["practice"], world["mine"], jan)
    _response(world["practice"], world["mine"], mar)
    with scopes_disabled():
        appt_jan = sf.appointment_with_patient(
            world["practice"],
            clinician=world["clinician"],
            patient=world["mine"],
            starts_at=jan,
            ends_at=jan + timedelta(minutes=45),
        )
        sf.appointment_with_patient(
            world["practice"],
            clinician=world["clinician"],
            patient=world["mine"],
            starts_at=mar,
            ends_at=mar + timedelta(minutes=45),
        )
    client = api_as(world["clinician"])
    assert entry_ids(search(client, "QuestionnaireResponse", {"date": "lt2025-02-01"})) == [str(early.public_id)]
    assert entry_ids(search(client, "QuestionnaireResponse", {"authored": "lt2025-02-01"})) == [str(early.public_id)]
    found = search(client, "Appointment", {"date": "lt2025-02-01", "patient": str(world["mine"].public_id)})
    assert entry_ids(found) == [str(appt_jan.public_id)]


def test_appointment_patient_search_respects_the_caseload(world):
    with scopes_disabled():
        theirs = sf.appointment_with_patient(world["practice"], clinician=world["colleague"], patient=world["theirs"])
    desk = api_as(world["front_desk"])
    assert entry_ids(search(desk, "Appointment", {"patient": str(world["theirs"].public_id)})) == [
        str(theirs.public_id)
    ]
    clinician = api_as(world["clinician"])
    assert search(clinician, "Appointment", {"patient": str(world["theirs"].public_id)})["total"] == 0


def test_code_search_on_loinc_total(world):
    now = datetime.now(UTC)
    phq9 = _response(world["practice"], world["mine"], now)
    gad7 = _response(world["practice"], world["mine"], now, instrument_code="GAD-7", answers=[1] * 7, total=7)
    client = api_as(world["clinician"])
    assert entry_ids(search(client, "Observation", {"code": "http://loinc.org|44261-6"})) == [f"{phq9.public_id}-total"]
    assert entry_ids(search(client, "Observation", {"code": "70274-6"})) == [f"{gad7.public_id}-total"]
    both = search(client, "Observation", {"code": "http://loinc.org|44261-6,http://loinc.org|70274-6"})
    assert both["total"] == 2
    assert search(client, "Observation", {"code": "http://snomed.info/sct|44261-6"})["total"] == 0
    assert search(client, "Observation", {"code": "http://loinc.org|0000-0"})["total"] == 0


def test_count_paging_follows_next_to_the_end(world):
    base = datetime(2025, 1, 1, tzinfo=UTC)
    made = {str(_response(world["practice"], world["mine"], base + timedelta(days=i)).public_id) for i in range(7)}
    client = api_as(world["clinician"])
    bundle = search(client, "QuestionnaireResponse", {"_count": "3"})
    assert bundle["total"] == 7
    seen, pages = [], 0
    while True:
        pages += 1
        Bundle.model_validate(bundle)
        seen += entry_ids(bundle)
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        assert "self" in links
        for entry in bundle["entry"]:
            assert entry["search"] == {"mode": "match"}
            assert entry["fullUrl"].endswith(f"/fhir/R4/QuestionnaireResponse/{entry['resource']['id']}")
        if pages > 1:
            assert "previous" in links
        if "next" not in links:
            break
        assert "_count=3" in links["next"]
        bundle = follow(client, links["next"])
    assert pages == 3
    assert len(seen) == 7 and set(seen) == made
    previous = follow(client, {link["relation"]: link["url"] for link in bundle["link"]}["previous"])
    assert len(previous["entry"]) == 3


def test_count_zero_gives_only_the_total(world):
    _response(world["practice"], world["mine"], datetime.now(UTC))
    bundle = search(api_as(world["clinician"]), "Observation", {"_count": "0"})
    assert bundle["total"] == 1
    assert bundle.get("entry", []) == []


# --- psychotherapy notes --------------------------------------------------------------------------


def test_no_resource_of_any_type_contains_psychotherapy_note_content(world, practice_a, make_member):
    owner = make_member(practice_a, Role.OWNER)
    secret = "Process notes: dream about the lighthouse, zebra-47."
    with scopes_disabled():
        cf.PsychotherapyNoteFactory(patient=world["mine"], author=world["clinician"], body=secret)
        sf.appointment_with_patient(practice_a, clinician=world["clinician"], patient=world["mine"])
    _response(practice_a, world["mine"], datetime.now(UTC))
    bodies = []
    for who in (api_as(world["clinician"]), api_as(owner)):
        for resource_type in (
            "Patient",
            "Practitioner",
            "Appointment",
            "Questionnaire",
            "QuestionnaireResponse",
            "Observation",
        ):
            bundle = search(who, resource_type, {"_count": "200"})
            assert bundle["total"] >= 1, resource_type
            bodies.append(str(bundle))
            for entry in bundle["entry"]:
                bodies.append(fhir_get(who, f"{resource_type}/{entry['resource']['id']}").content.decode())
    assert not any("zebra-47" in body or "lighthouse" in body for body in bodies)
    assert_outcome(api_as(owner).get(BASE + "DocumentReference"), 404)


# --- query counts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource_type", "make"),
    [
        ("Patient", lambda w, i: cf.PatientFactory(practice=w["practice"], primary_clinician=w["clinician"])),
        (
            "Appointment",
            lambda w, i: sf.appointment_with_patient(
                w["practice"],
                clinician=w["clinician"],
                patient=w["mine"],
                starts_at=datetime(2025, 1, 1, 9, tzinfo=UTC) + timedelta(days=i),
                ends_at=datetime(2025, 1, 1, 10, tzinfo=UTC) + timedelta(days=i),
            ),
        ),
        ("QuestionnaireResponse", lambda w, i: af.ResponseFactory(practice=w["practice"], patient=w["mine"])),
        ("Observation", lambda w, i: af.ResponseFactory(practice=w["practice"], patient=w["mine"])),
    ],
)
def test_search_query_count_does_not_grow_with_the_page(world, resource_type, make, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api_as(world["clinician"])
    search(client, resource_type)  # the first request of a token also records its use

    def queries_for_page() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            bundle = search(client, resource_type, {"_count": "50"})
        return len(ctx.captured_queries), len(bundle["entry"])

    with scopes_disabled():
        for i in range(5):
            make(world, i)
    small, small_n = queries_for_page()
    with scopes_disabled():
        for i in range(5, 50):
            make(world, i)
    large, large_n = queries_for_page()
    assert large_n >= 50 and small_n >= 5
    assert large == small, (resource_type, small, large)
    with django_assert_max_num_queries(small):
        search(client, resource_type, {"_count": "50"})


# --- API keys -------------------------------------------------------------------------------------


def test_api_key_scopes_apply_per_resource_type(world, practice_a, make_member):
    from integrations.api_keys import api_key_create

    owner = make_member(practice_a, Role.OWNER)
    _response(practice_a, world["mine"], datetime.now(UTC))
    _key, raw = api_key_create(by=owner, name="Outcomes warehouse", scopes=["assessments:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert search(client, "Observation")["total"] == 1
    assert search(client, "QuestionnaireResponse")["total"] == 1
    assert_outcome(client.get(BASE + "Patient"), 403, "forbidden")
    assert_outcome(client.get(BASE + "Appointment"), 403)
