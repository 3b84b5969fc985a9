"""Each webhook event comes from the real service that makes the change, on commit, with ids and
status only: no names, notes, answers or scores in the payload."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django_scopes import scopes_disabled

from assessments.models import RiskAlert
from assessments.services import response_record
from billing import services_claims
from billing.models import Claim
from billing.tests.factories import ClaimFactory
from clinical.tests.factories import PatientFactory
from integrations.models import WebhookDelivery
from integrations.tests.factories import WebhookEndpointFactory
from integrations.webhooks import EVENT_TYPES
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import LocationFactory
from scheduling import services as scheduling
from scheduling.services import AppointmentConflict
from scheduling.tests.factories import AppointmentTypeFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SLOT = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def world(practice_a, practice_b, make_member):
    desk = make_member(practice_a, Role.FRONT_DESK)
    clinician = make_member(practice_a, Role.CLINICIAN)
    with scopes_disabled():
        endpoint = WebhookEndpointFactory(practice=practice_a, events=list(EVENT_TYPES))
        WebhookEndpointFactory(practice=practice_b, events=list(EVENT_TYPES))  # never receives practice A's events
        location = LocationFactory(practice=practice_a, timezone="America/New_York")
        appointment_type = AppointmentTypeFactory(practice=practice_a, duration_minutes=45)
        patient = PatientFactory(
            practice=practice_a, primary_clinician=clinician, legal_first_name="Zebulon", legal_last_name="Quagmire"
        )
    with time_machine.travel(NOW, tick=False), practice_scope(practice_a):
        yield {
            "practice": practice_a,
            "desk": desk,
            "clinician": clinician,
            "location": location,
            "type": appointment_type,
            "patient": patient,
            "endpoint": endpoint,
        }


def _events() -> list[tuple[str, dict]]:
    with scopes_disabled():
        rows = WebhookDelivery.all_objects.order_by("pk")
        return [(d.event_type, d.payload) for d in rows]


def _book(w):
    return scheduling.appointment_book(
        by=w["desk"],
        clinician=w["clinician"],
        appointment_type=w["type"],
        starts_at=SLOT,
        patients=[w["patient"]],
        location=w["location"],
        admin_note="Prefers the quiet room",
    )


def _no_clinical_content(payload: dict, *forbidden: str) -> None:
    text = json.dumps(payload)
    for word in ("Zebulon", "Quagmire", *forbidden):
        assert word not in text
    assert set(payload["data"]) <= {"object", "id", "status", "previous_status"}


def test_booking_moving_confirming_and_cancelling_emit_appointment_events(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        appointment = _book(world)
    assert callbacks, "the first attempt is queued on commit"
    scheduling.appointment_reschedule(appointment=appointment, by=world["desk"], starts_at=SLOT + timedelta(hours=2))
    scheduling.appointment_set_status(appointment=appointment, by=world["desk"], status="confirmed")
    scheduling.appointment_cancel(appointment=appointment, by=world["desk"], reason="Patient is unwell")
    events = _events()
    assert [e for e, _ in events] == [
        "appointment.created",
        "appointment.updated",
        "appointment.updated",
        "appointment.cancelled",
    ]
    assert [p["data"]["status"] for _, p in events] == ["scheduled", "scheduled", "confirmed", "cancelled"]
    assert {p["data"]["id"] for _, p in events} == {str(appointment.public_id)}
    assert {p["data"]["object"] for _, p in events} == {"appointment"}
    for _, payload in events:
        _no_clinical_content(payload, "quiet room", "unwell")
        assert payload["practice"] == str(world["practice"].public_id)
    with scopes_disabled():
        assert set(WebhookDelivery.all_objects.values_list("endpoint_id", flat=True)) == {world["endpoint"].pk}


def test_a_booking_that_fails_emits_nothing(world):
    _book(world)
    with pytest.raises(AppointmentConflict):  # the same slot again: rolled back
        _book(world)
    assert [e for e, _ in _events()] == ["appointment.created"]


def test_a_rolled_back_booking_emits_nothing(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        _book(world)
        raise RuntimeError
    assert callbacks == [] and _events() == []


def test_a_completed_questionnaire_emits_assessment_completed_without_answers_or_scores(world):
    response = response_record(
        patient=world["patient"], instrument_code="PHQ-9", answers=[3, 3, 2, 2, 1, 1, 0, 0, 0], mode="link"
    )
    ((event, payload),) = _events()
    assert event == "assessment.completed"
    assert payload["data"] == {"object": "assessment_response", "id": str(response.public_id), "status": "completed"}
    _no_clinical_content(payload, "PHQ", "severity", "total", "answers", "moderate")


def test_a_flagged_questionnaire_also_emits_risk_alert_created(world):
    response = response_record(
        patient=world["patient"], instrument_code="PHQ-9", answers=[1, 1, 0, 0, 0, 0, 0, 0, 2], mode="link"
    )
    alert = RiskAlert.objects.get(response=response)
    events = dict(_events())
    assert set(events) == {"assessment.completed", "risk_alert.created"}
    assert events["risk_alert.created"]["data"] == {"object": "risk_alert", "id": str(alert.public_id)}
    _no_clinical_content(events["risk_alert.created"], "suicide", "PHQ", "item")


def test_a_claim_status_change_emits_claim_status_changed(world):
    claim = ClaimFactory(practice=world["practice"], patient=world["patient"])
    services_claims.claim_transition(claim=claim, to=Claim.Status.VOID, by=None, source="system", note="Duplicate")
    ((event, payload),) = _events()
    assert event == "claim.status_changed"
    assert payload["data"] == {
        "object": "claim",
        "id": str(claim.public_id),
        "status": "void",
        "previous_status": "draft",
    }
    _no_clinical_content(payload, "Duplicate", "F33", claim.control_number)


def test_an_edit_that_keeps_the_claim_status_emits_nothing(world):
    claim = ClaimFactory(practice=world["practice"], patient=world["patient"])
    services_claims._event(claim, from_status="draft", to_status="draft", by=None, source="system", note="Scrubbed")
    assert _events() == []
