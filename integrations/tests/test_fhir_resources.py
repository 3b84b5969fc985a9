"""FHIR resource builders: every resource validates as FHIR R4 (fhir.resources R4B models, whose
base datatypes and these six resources match R4) and carries the right codes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django_scopes import scopes_disabled
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.observation import Observation as FhirObservation
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.practitioner import Practitioner as FhirPractitioner
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse as FhirQuestionnaireResponse

from assessments.library import INSTRUMENTS
from assessments.tests import factories as af
from billing.tests import factories as bf
from clinical.tests import factories as cf
from integrations.fhir import resources as r
from integrations.fhir import selectors
from practice.permissions import Role
from practice.scoping import practice_scope
from scheduling.tests import factories as sf

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinician(practice_a, make_member):
    return make_member(practice_a, Role.CLINICIAN, full_name="Lee Park", title="LCSW")


@pytest.fixture
def patient(practice_a, clinician):
    with scopes_disabled():
        return cf.PatientFactory(
            practice=practice_a,
            primary_clinician=clinician,
            preferred_name="Sam",
            phone="555-010-2000",
            email="sam@example.test",
            address_line1="1 Main St",
            city="Springfield",
            state="IL",
            postal_code="62701",
            emergency_contact_name="Pat Doe",
            emergency_contact_phone="555-010-3000",
            emergency_contact_relationship="Sister",
            sex_assigned_at_birth="female",
        )


def test_patient_resource_validates_with_mrn_names_contacts_and_clinician(practice_a, patient, clinician):
    with practice_scope(practice_a):
        loaded = selectors.fhir_patients().get(pk=patient.pk)
        data = r.patient_resource(loaded)
    FhirPatient.model_validate(data)
    assert data["id"] == str(patient.public_id)
    assert data["identifier"][0]["value"] == patient.mrn
    assert data["identifier"][0]["type"]["coding"][0]["code"] == "MR"
    assert {n["use"] for n in data["name"]} == {"official", "usual"}
    assert data["gender"] == "female"
    assert data["birthDate"] == patient.date_of_birth.isoformat()
    assert data["contact"][0]["relationship"][0]["coding"][0]["code"] == "C"
    assert data["generalPractitioner"] == [{"reference": f"Practitioner/{clinician.public_id}"}]


def test_practitioner_carries_npi_from_the_billing_identity(practice_a, clinician, make_member):
    with scopes_disabled():
        provider = bf.RenderingProviderFactory(practice=practice_a, membership=clinician)
    no_npi = make_member(practice_a, Role.SUPERVISOR)
    with practice_scope(practice_a):
        rows = {m.pk: m for m in selectors.fhir_practitioners()}
    with_npi = r.practitioner_resource(rows[clinician.pk])
    without = r.practitioner_resource(rows[no_npi.pk])
    for data in (with_npi, without):
        FhirPractitioner.model_validate(data)
    assert with_npi["identifier"] == [{"use": "official", "system": r.NPI_SYSTEM, "value": provider.npi}]
    assert with_npi["name"][0]["family"] == provider.last_name
    assert with_npi["name"][0]["suffix"] == ["LCSW"]
    assert "identifier" not in without


def test_practitioners_are_clinical_roles_only(practice_a, clinician, make_member):
    make_member(practice_a, Role.FRONT_DESK)
    make_member(practice_a, Role.BILLER)
    owner = make_member(practice_a, Role.OWNER)
    with practice_scope(practice_a):
        found = set(selectors.fhir_practitioners().values_list("pk", flat=True))
    assert found == {clinician.pk, owner.pk}


def test_appointment_resource_validates_with_patient_and_practitioner(practice_a, clinician, patient):
    with scopes_disabled():
        appointment = sf.appointment_with_patient(practice_a, clinician=clinician, patient=patient)
        cancelled = sf.appointment_with_patient(
            practice_a, clinician=clinician, status="late_cancelled", cancel_reason="Sick"
        )
    with practice_scope(practice_a):
        loaded = {a.pk: a for a in selectors.fhir_appointments()}
    data = r.appointment_resource(loaded[appointment.pk])
    gone = r.appointment_resource(loaded[cancelled.pk])
    FhirAppointment.model_validate(data)
    FhirAppointment.model_validate(gone)
    actors = [p["actor"]["reference"] for p in data["participant"]]
    assert actors == [f"Patient/{patient.public_id}", f"Practitioner/{clinician.public_id}"]
    assert data["status"] == "booked"
    assert data["start"] == appointment.starts_at.isoformat()
    assert gone["status"] == "cancelled"
    assert gone["cancelationReason"] == {"text": "Sick"}


@pytest.mark.parametrize("code", sorted(INSTRUMENTS))
def test_every_instrument_is_a_valid_questionnaire(code):
    instrument = INSTRUMENTS[code]
    data = r.questionnaire_resource(instrument)
    FhirQuestionnaire.model_validate(data)
    questions = [i for i in data["item"] if i["type"] == "choice"]
    assert len(questions) == instrument.item_count + (1 if instrument.difficulty_item else 0)
    assert data["id"] == code


def test_phq9_questionnaire_carries_loinc_item_and_answer_codes():
    data = r.questionnaire_resource(INSTRUMENTS["PHQ-9"])
    assert data["code"] == [{"system": r.LOINC, "code": "44249-1"}]
    item9 = next(i for i in data["item"] if i["linkId"] == "9")
    assert item9["code"] == [{"system": r.LOINC, "code": "44260-8"}]
    assert [o["valueCoding"]["code"] for o in item9["answerOption"]] == [
        "LA6568-5",
        "LA6569-3",
        "LA6570-1",
        "LA6571-9",
    ]


def test_cssrs_skip_logic_becomes_enable_when():
    data = r.questionnaire_resource(INSTRUMENTS["C-SSRS-SCREEN"])
    item3 = next(i for i in data["item"] if i["linkId"] == "3")
    assert item3["enableWhen"][0]["question"] == "2"
    assert item3["enableWhen"][0]["answerCoding"]["code"] == "LA33-6"  # Yes


def _response(practice, patient, **kwargs):
    with scopes_disabled():
        row = af.ResponseFactory(practice=practice, patient=patient, **kwargs)
    with practice_scope(practice):
        return selectors.fhir_responses().get(pk=row.pk)


def test_questionnaire_response_validates_and_answers_with_loinc_codings(practice_a, patient):
    response = _response(practice_a, patient, difficulty=1)
    data = r.questionnaire_response_resource(response)
    FhirQuestionnaireResponse.model_validate(data)
    assert data["subject"] == {"reference": f"Patient/{patient.public_id}"}
    assert data["questionnaire"] == f"{r.QUESTIONNAIRE_CANONICAL}PHQ-9|2001"
    assert data["status"] == "completed"
    first = data["item"][0]
    assert first["linkId"] == "1"
    assert first["answer"][0]["valueCoding"] == {
        "system": r.LOINC,
        "code": "LA6570-1",
        "display": "More than half the days",
    }
    assert data["item"][-1]["linkId"] == "difficulty"


@pytest.mark.parametrize(
    ("code", "answers", "total", "loinc"),
    [
        ("PHQ-9", [2, 2, 1, 2, 1, 1, 2, 1, 0], 12, "44261-6"),
        ("GAD-7", [1, 1, 1, 1, 1, 1, 1], 7, "70274-6"),
        ("PHQ-2", [1, 1], 2, "55758-7"),
        ("AUDIT-C", [1, 1, 1], 3, "75626-2"),
    ],
)
def test_total_observation_has_the_loinc_total_code(practice_a, patient, code, answers, total, loinc):
    response = _response(practice_a, patient, instrument_code=code, answers=answers, total=total)
    [data] = r.observation_resources(response)
    FhirObservation.model_validate(data)
    assert data["code"]["coding"][0] == {"system": r.LOINC, "code": loinc, "display": r.LOINC_TOTAL_DISPLAY[loinc]}
    assert data["valueInteger"] == total
    assert data["id"] == f"{response.public_id}-total"
    assert data["derivedFrom"] == [{"reference": f"QuestionnaireResponse/{response.public_id}"}]
    assert data["effectiveDateTime"] == response.completed_at.isoformat()


def test_instrument_without_a_loinc_total_gets_a_text_only_code(practice_a, patient):
    response = _response(practice_a, patient, instrument_code="GAD-2", answers=[1, 2], total=3)
    [data] = r.observation_resources(response)
    FhirObservation.model_validate(data)
    assert data["code"] == {"text": "GAD-2 total score"}


def test_cssrs_gives_a_risk_level_observation_not_a_total(practice_a, patient):
    response = _response(
        practice_a,
        patient,
        instrument_code="C-SSRS-SCREEN",
        instrument_version="1.0",
        answers=[1, 1, 0, 0, 0, 0, None],
        total=None,
        severity="moderate",
        severity_label="Moderate risk",
    )
    [data] = r.observation_resources(response)
    FhirObservation.model_validate(data)
    FhirQuestionnaireResponse.model_validate(r.questionnaire_response_resource(response))
    assert data["code"]["coding"][0]["code"] == "93374-7"
    assert data["valueCodeableConcept"] == {"text": "Moderate risk"}


def test_incomplete_response_without_total_has_no_observation(practice_a, patient):
    response = _response(practice_a, patient, answers=[1, None, 1, 1, 1, 1, 1, 1, 1], total=None, is_complete=False)
    assert r.observation_resources(response) == []
    data = r.questionnaire_response_resource(response)
    assert [i["linkId"] for i in data["item"]] == ["1", "3", "4", "5", "6", "7", "8", "9"]


def test_a_corrected_response_is_entered_in_error_and_its_correction_amended(practice_a, patient):
    original = _response(practice_a, patient)
    with scopes_disabled():
        af.ResponseFactory(practice=practice_a, patient=patient, corrects=original, completed_at=datetime.now(UTC))
    with practice_scope(practice_a):
        rows = {x.pk: x for x in selectors.fhir_responses()}
    correction = next(x for x in rows.values() if x.corrects_id == original.pk)
    assert r.questionnaire_response_resource(rows[original.pk])["status"] == "entered-in-error"
    assert r.observation_resources(rows[original.pk])[0]["status"] == "entered-in-error"
    assert r.questionnaire_response_resource(correction)["status"] == "amended"
