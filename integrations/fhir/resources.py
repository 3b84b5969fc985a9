"""FHIR R4 resources built as plain dicts from already-loaded rows (the /fhir/R4/ API and the
practice export both use these).

Every function is pure: it issues no query *if* the caller loaded the relations listed in its
docstring. ``integrations.fhir.selectors`` has querysets that load exactly those, so a page of 50
resources costs the same number of queries as a page of 5.

Psychotherapy notes (45 CFR 164.501) are never turned into a resource: there is deliberately no
function for them, and nothing here reads clinical note content.

LOINC codes come from the instrument library (``assessments.library``), whose ground truth is
``shared/reference/instruments.md``: an instrument with no verified LOINC total code gets a
text-only ``code`` (never an invented LOINC).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from assessments.library import Instrument, Item, Option, instrument_or_none
from practice.permissions import Perm, role_has_perm

if TYPE_CHECKING:
    from assessments.models import Response
    from clinical.models import Patient
    from practice.models import Membership
    from scheduling.models import Appointment

FHIR_VERSION = "4.0.1"
LOINC = "http://loinc.org"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"  # identifier types (MR)
V2_0131 = "http://terminology.hl7.org/CodeSystem/v2-0131"  # contact relationship (C = emergency)
V3_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"  # GUARD
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
US_CORE_BIRTHSEX = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
QUESTIONNAIRE_CANONICAL = "urn:tend:fhir:Questionnaire:"  # + instrument code; version after "|"

# Display names of LOINC total-score codes, as given in shared/reference/instruments.md (ref §1-§7).
# A code missing here is still sent, without a display (EPDS 99046-5: long name not confirmed, ref §13.3).
LOINC_TOTAL_DISPLAY = {
    "44261-6": "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",  # [V] ref §1
    "55758-7": "Patient Health Questionnaire 2 item (PHQ-2) total score [Reported]",  # [S] ref §2
    "70274-6": "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",  # [V] ref §3
    "101698-9": "PTSD PCL-5 score [PCL-5]",  # [S] ref §5
    "75626-2": "Total score [AUDIT-C]",  # [V] ref §6
    "93374-7": "Suicide risk level",  # [S] ref §8 (C-SSRS screener risk tier)
}

# Roles that are practitioners (they write clinical notes): owner, clinician, supervisor.
CLINICAL_ROLE_PERM = Perm.NOTE_WRITE

_APPOINTMENT_STATUS = {
    "scheduled": "booked",
    "confirmed": "booked",
    "arrived": "arrived",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "late_cancelled": "cancelled",
    "no_show": "noshow",
}
_ATTENDEE_STATUS = {
    "expected": "needs-action",
    "confirmed": "accepted",
    "arrived": "accepted",
    "attended": "accepted",
    "cancelled": "declined",
    "late_cancelled": "declined",
    "no_show": "declined",
}
_GENDER = {"female": "female", "male": "male", "intersex": "other", "unknown": "unknown", "declined": "unknown"}
_BIRTHSEX = {"female": "F", "male": "M", "unknown": "UNK", "declined": "ASKU"}  # US Core birthsex value set


def _instant(value: datetime) -> str:
    return value.isoformat()


def _day(value: date) -> str:
    return value.isoformat()


def _ref(resource_type: str, public_id: Any) -> dict[str, str]:
    return {"reference": f"{resource_type}/{public_id}"}


def _meta(obj: Any) -> dict[str, str]:
    return {"lastUpdated": _instant(obj.updated_at)}


def is_practitioner(membership: Membership) -> bool:
    """A membership exposed as a Practitioner: a role that writes clinical notes."""
    return role_has_perm(membership.role, CLINICAL_ROLE_PERM)


# --- Patient ------------------------------------------------------------------------------------


def patient_resource(patient: Patient) -> dict[str, Any]:
    """Patient. Needs ``practice`` (MRN identifier system) and ``primary_clinician`` loaded
    (``selectors.fhir_patients``)."""
    names = [
        {
            "use": "official",
            "family": patient.legal_last_name,
            "given": [n for n in (patient.legal_first_name, patient.legal_middle_name) if n],
        }
    ]
    if patient.preferred_name:
        names.append({"use": "usual", "family": patient.legal_last_name, "given": [patient.preferred_name]})
    data: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.public_id),
        "meta": _meta(patient),
        "identifier": [
            {
                "use": "usual",
                "type": {"coding": [{"system": V2_0203, "code": "MR", "display": "Medical record number"}]},
                "system": f"urn:tend:practice:{patient.practice.public_id}:mrn",
                "value": patient.mrn,
            }
        ],
        "active": patient.status != "discharged",
        "name": names,
        "gender": _GENDER.get(patient.sex_assigned_at_birth, "unknown"),
        "birthDate": _day(patient.date_of_birth),
    }
    if patient.sex_assigned_at_birth in _BIRTHSEX:
        data["extension"] = [{"url": US_CORE_BIRTHSEX, "valueCode": _BIRTHSEX[patient.sex_assigned_at_birth]}]
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    if telecom:
        data["telecom"] = telecom
    if patient.address_line1 or patient.city or patient.postal_code:
        address: dict[str, Any] = {"use": "home", "country": "US"}
        lines = [x for x in (patient.address_line1, patient.address_line2) if x]
        if lines:
            address["line"] = lines
        for key, value in (("city", patient.city), ("state", patient.state), ("postalCode", patient.postal_code)):
            if value:
                address[key] = value
        data["address"] = [address]
    contacts = []
    if patient.emergency_contact_name:
        contacts.append(
            _contact(
                {"system": V2_0131, "code": "C", "display": "Emergency Contact"},
                patient.emergency_contact_relationship,
                patient.emergency_contact_name,
                patient.emergency_contact_phone,
                "",
            )
        )
    if patient.guardian_name:
        contacts.append(
            _contact(
                {"system": V3_ROLE_CODE, "code": "GUARD", "display": "guardian"},
                patient.guardian_relationship,
                patient.guardian_name,
                patient.guardian_phone,
                patient.guardian_email,
            )
        )
    if contacts:
        data["contact"] = contacts
    if patient.primary_clinician_id is not None:
        data["generalPractitioner"] = [_ref("Practitioner", patient.primary_clinician.public_id)]
    return data


def _contact(coding: dict, relationship: str, name: str, phone: str, email: str) -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": [coding]}
    if relationship:
        concept["text"] = relationship
    contact: dict[str, Any] = {"relationship": [concept], "name": {"text": name}}
    telecom = [{"system": "phone", "value": phone}] if phone else []
    if email:
        telecom.append({"system": "email", "value": email})
    if telecom:
        contact["telecom"] = telecom
    return contact


# --- Practitioner -------------------------------------------------------------------------------


def practitioner_resource(membership: Membership) -> dict[str, Any]:
    """Practitioner (a membership with a clinical role). Needs ``user`` and ``billing_identity``
    (the billing RenderingProvider, a reverse one-to-one: NPI and split name) loaded
    (``selectors.fhir_practitioners``). The login email is not published."""
    provider = _rendering_provider(membership)
    name: dict[str, Any] = {"use": "official", "text": membership.user.full_name}
    if provider is not None:
        name["family"] = provider.last_name
        name["given"] = [provider.first_name]
    credential = membership.title or (provider.credential if provider else "")
    if credential:
        name["suffix"] = [credential]
    data: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": str(membership.public_id),
        "meta": _meta(membership),
        "active": membership.is_active,
        "name": [name],
    }
    if provider is not None and provider.npi:
        data["identifier"] = [{"use": "official", "system": NPI_SYSTEM, "value": provider.npi}]
    if credential:
        data["qualification"] = [{"code": {"text": credential}}]
    return data


def _rendering_provider(membership: Membership) -> Any:
    from django.core.exceptions import ObjectDoesNotExist

    try:
        return membership.billing_identity
    except ObjectDoesNotExist:
        return None


# --- Appointment --------------------------------------------------------------------------------


def appointment_resource(appointment: Appointment) -> dict[str, Any]:
    """Appointment. Needs ``appointment_type``, ``clinician`` and ``attendees`` (with ``patient``)
    loaded (``selectors.fhir_appointments``). The scheduling note is not published."""
    participants = [
        {
            "actor": _ref("Patient", attendee.patient.public_id),
            "required": "required",
            "status": _ATTENDEE_STATUS.get(attendee.status, "needs-action"),
        }
        for attendee in appointment.attendees.all()
    ]
    participants.append(
        {"actor": _ref("Practitioner", appointment.clinician.public_id), "required": "required", "status": "accepted"}
    )
    data: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(appointment.public_id),
        "meta": _meta(appointment),
        "status": _APPOINTMENT_STATUS.get(appointment.status, "booked"),
        "serviceType": [{"text": appointment.appointment_type.name}],
        "start": _instant(appointment.starts_at),
        "end": _instant(appointment.ends_at),
        "minutesDuration": appointment.duration_minutes,
        "created": _instant(appointment.created_at),
        "participant": participants,
    }
    if appointment.is_telehealth:
        data["appointmentType"] = {"text": "Telehealth"}
    if appointment.status in ("cancelled", "late_cancelled") and appointment.cancel_reason:
        data["cancelationReason"] = {"text": appointment.cancel_reason}
    return data


# --- Questionnaire ------------------------------------------------------------------------------


def questionnaire_id(instrument: Instrument) -> str:
    """The instrument code is the Questionnaire id (``PHQ-9``, ``C-SSRS-SCREEN``): instruments
    are library data, the same for every practice."""
    return instrument.code


def questionnaire_url(instrument: Instrument) -> str:
    return QUESTIONNAIRE_CANONICAL + instrument.code


def _option_coding(option: Option) -> dict[str, Any]:
    if option.loinc:
        return {"system": LOINC, "code": option.loinc, "display": option.label}
    return {"code": str(option.value), "display": option.label}


def _question(item: Item, instrument: Instrument) -> dict[str, Any]:
    question: dict[str, Any] = {
        "linkId": item.key,
        "prefix": item.key if item.key != "difficulty" else None,
        "text": item.text,
        "type": "choice",
        "required": item.scored and item.show_if is None,
        "answerOption": [
            {
                "extension": [{"url": ORDINAL_VALUE, "valueDecimal": option.value}],
                "valueCoding": _option_coding(option),
            }
            for option in item.options
        ],
    }
    if question["prefix"] is None:
        del question["prefix"]
    if item.loinc:
        question["code"] = [{"system": LOINC, "code": item.loinc}]
    if item.show_if is not None:
        controller = next(i for i in instrument.items if i.key == item.show_if.item)
        option = next(o for o in controller.options if o.value == item.show_if.equals)
        question["enableWhen"] = [{"question": controller.key, "operator": "=", "answerCoding": _option_coding(option)}]
    return question


def questionnaire_resource(instrument: Instrument) -> dict[str, Any]:
    """Questionnaire for a library instrument (``assessments.library.INSTRUMENTS``); no query."""
    items: list[dict[str, Any]] = [{"linkId": "instructions", "text": instrument.instructions, "type": "display"}]
    items += [_question(item, instrument) for item in instrument.items]
    if instrument.difficulty_item is not None:
        items.append(_question(instrument.difficulty_item, instrument))
    copyright_text = instrument.licence + (f" {instrument.licence_note}" if instrument.licence_note else "")
    data: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(instrument),
        "url": questionnaire_url(instrument),
        "version": instrument.version,
        "name": re.sub(r"[^A-Za-z0-9]", "", instrument.code),
        "title": instrument.name,
        "status": "active",
        "subjectType": ["Patient"],
        "description": f"{instrument.name}. Recall period: {instrument.recall_period}.",
        "copyright": copyright_text,
        "item": items,
    }
    if instrument.loinc_panel:
        data["code"] = [{"system": LOINC, "code": instrument.loinc_panel}]
    return data


# --- QuestionnaireResponse ----------------------------------------------------------------------


def _response_status(response: Response) -> str:
    if _is_corrected(response):
        return "entered-in-error"  # superseded by a correction
    if response.corrects_id is not None:
        return "amended"
    return "completed"


def _is_corrected(response: Response) -> bool:
    from django.core.exceptions import ObjectDoesNotExist

    try:
        return response.corrected_by is not None
    except ObjectDoesNotExist:
        return False


def _author(response: Response) -> dict[str, str]:
    if response.mode in ("link", "portal") or response.administered_by_id is None:
        return _ref("Patient", response.patient.public_id)
    return _ref("Practitioner", response.administered_by.public_id)


def questionnaire_response_resource(response: Response) -> dict[str, Any]:
    """QuestionnaireResponse. Needs ``patient``, ``administered_by`` and ``corrected_by`` (reverse
    one-to-one) loaded (``selectors.fhir_responses``)."""
    instrument = instrument_or_none(response.instrument_code)
    items: list[dict[str, Any]] = []
    answers = response.answers or []
    if instrument is not None:
        for item, value in zip(instrument.items, answers, strict=False):
            if value is not None:
                items.append(_answered(item, value))
        if instrument.difficulty_item is not None and response.difficulty is not None:
            items.append(_answered(instrument.difficulty_item, response.difficulty))
    else:  # an instrument since removed from the library: keep the stored scores
        items = [
            {"linkId": str(n), "answer": [{"valueInteger": value}]}
            for n, value in enumerate(answers, start=1)
            if value is not None
        ]
    data: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": str(response.public_id),
        "meta": _meta(response),
        "questionnaire": f"{QUESTIONNAIRE_CANONICAL}{response.instrument_code}|{response.instrument_version}",
        "status": _response_status(response),
        "subject": _ref("Patient", response.patient.public_id),
        "authored": _instant(response.completed_at),
        "author": _author(response),
    }
    if response.mode in ("link", "portal"):
        data["source"] = _ref("Patient", response.patient.public_id)
    if items:
        data["item"] = items
    return data


def _answered(item: Item, value: int) -> dict[str, Any]:
    option = next((o for o in item.options if o.value == value), None)
    answer = {"valueCoding": _option_coding(option)} if option else {"valueInteger": value}
    return {"linkId": item.key, "text": item.text, "answer": [answer]}


# --- Observation --------------------------------------------------------------------------------

OBSERVATION_TOTAL_SUFFIX = "-total"
OBSERVATION_RISK_SUFFIX = "-risk"


def observation_code(instrument: Instrument | None, instrument_code: str) -> dict[str, Any]:
    """The total-score code: LOINC when the library has a verified one, else text only."""
    text = f"{instrument_code} total score"
    if instrument is not None and instrument.loinc_total:
        coding: dict[str, str] = {"system": LOINC, "code": instrument.loinc_total}
        if instrument.loinc_total in LOINC_TOTAL_DISPLAY:
            coding["display"] = LOINC_TOTAL_DISPLAY[instrument.loinc_total]
        return {"coding": [coding], "text": text}
    return {"text": text}


def observation_resources(response: Response) -> list[dict[str, Any]]:
    """The score Observations of one response: its total score (when the instrument sums one and
    the response has it), or, for the C-SSRS screener, its risk level. Same relations as
    ``questionnaire_response_resource``. Ids are ``<response public_id>-total`` / ``-risk``."""
    instrument = instrument_or_none(response.instrument_code)
    base: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": _meta(response),
        "status": {"entered-in-error": "entered-in-error", "amended": "amended"}.get(
            _response_status(response), "final"
        ),
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}],
        "subject": _ref("Patient", response.patient.public_id),
        "effectiveDateTime": _instant(response.completed_at),
        "issued": _instant(response.created_at),
        "derivedFrom": [_ref("QuestionnaireResponse", response.public_id)],
    }
    observations = []
    if response.total is not None:
        total = {
            **base,
            "id": f"{response.public_id}{OBSERVATION_TOTAL_SUFFIX}",
            "code": observation_code(instrument, response.instrument_code),
            "valueInteger": response.total,
        }
        if response.severity_label:
            total["interpretation"] = [{"text": response.severity_label}]
        observations.append(total)
    elif instrument is not None and instrument.loinc_risk_level and response.severity:
        coding = {"system": LOINC, "code": instrument.loinc_risk_level}
        coding["display"] = LOINC_TOTAL_DISPLAY.get(instrument.loinc_risk_level, "")
        observations.append(
            {
                **base,
                "id": f"{response.public_id}{OBSERVATION_RISK_SUFFIX}",
                "code": {"coding": [coding], "text": f"{response.instrument_code} risk level"},
                "valueCodeableConcept": {"text": response.severity_label or response.severity},
            }
        )
    return observations
