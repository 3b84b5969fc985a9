"""Inbound SMS webhook: signature, STOP/START/HELP/C/R, replayed MessageSid."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from twilio.request_validator import RequestValidator

from clinical.models import CommunicationConsent
from clinical.tests.factories import PatientFactory
from notifications.models import InboundMessage, Message
from notifications.tests.factories import NotificationSettingsFactory
from scheduling.models import Appointment, StatusChange
from scheduling.tests.factories import AppointmentFactory, AttendeeFactory

pytestmark = pytest.mark.django_db

TOKEN = "test-auth-token"
URL = "/webhooks/twilio/sms/"


@pytest.fixture(autouse=True)
def _twilio(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.SITE_URL = "https://tend.example.org"


@pytest.fixture
def world(practice_a, practice_b):
    with scopes_disabled():
        NotificationSettingsFactory(practice=practice_a, sms_from_number="+15035550100")
        NotificationSettingsFactory(practice=practice_b, sms_from_number="+15035550199")
        patient = PatientFactory(practice=practice_a, phone="(503) 555-0142", phone_digits="5035550142")
        # the same number in the other practice must not be touched
        other = PatientFactory(practice=practice_b, phone="(503) 555-0142", phone_digits="5035550142")
        appointment = AppointmentFactory(practice=practice_a, starts_at=timezone.now() + timedelta(days=2))
        appointment.ends_at = appointment.starts_at + timedelta(minutes=45)
        appointment.save()
        AttendeeFactory(appointment=appointment, patient=patient)
    return {"patient": patient, "other": other, "appointment": appointment}


_sid = iter(range(10**6))


def _post(client, body, *, sid=None, to="+15035550100", sign=True, token=TOKEN):
    params = {
        "MessageSid": sid or f"SM{next(_sid):032d}",
        "From": "+15035550142",
        "To": to,
        "Body": body,
        "AccountSid": "ACtest",
    }
    headers = {}
    if sign:
        headers["HTTP_X_TWILIO_SIGNATURE"] = RequestValidator(token).compute_signature(
            "https://tend.example.org" + URL, params
        )
    return client.post(URL, params, **headers)


def _consents(patient):
    with scopes_disabled():
        return list(
            CommunicationConsent.all_objects.filter(patient=patient, channel="sms").values_list("is_granted", "source")
        )


def test_bad_or_missing_signature_is_403_and_changes_nothing(client, world):
    assert _post(client, "STOP", sign=False).status_code == 403
    assert _post(client, "STOP", token="wrong-token").status_code == 403
    with scopes_disabled():
        assert not InboundMessage.all_objects.exists()
    assert _consents(world["patient"]) == []


def test_signature_checked_against_site_url_not_the_request_host(client, world, settings):
    settings.SITE_URL = "https://elsewhere.example.org"
    assert _post(client, "STOP").status_code == 403


@pytest.mark.parametrize("word", ["STOP", "stop", "Unsubscribe", "QUIT"])
def test_stop_records_an_opt_out_for_the_patient_of_that_practice_only(client, world, word):
    response = _post(client, word)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert _consents(world["patient"]) == [(False, "sms_reply")]
    assert _consents(world["other"]) == []


def test_start_opts_back_in_and_replies(client, world):
    _post(client, "STOP")
    response = _post(client, "START")
    assert b"receive text messages again" in response.content
    assert _consents(world["patient"])[0] == (True, "sms_reply")


def test_help_replies_with_the_practice_phone(client, world, practice_a):
    practice_a.phone = "(503) 555-0100"
    practice_a.save()
    response = _post(client, "HELP")
    assert b"(503) 555-0100" in response.content


def test_c_confirms_the_next_appointment(client, world):
    response = _post(client, "C")
    assert b"confirmed" in response.content
    with scopes_disabled():
        appointment = Appointment.all_objects.get(pk=world["appointment"].pk)
        assert appointment.status == "confirmed"
        assert StatusChange.all_objects.filter(appointment=appointment, to_status="confirmed", source="sms").exists()


def test_r_flags_a_reschedule_request_and_notifies_the_practice(client, world):
    response = _post(client, "R")
    assert b"new time" in response.content
    with scopes_disabled():
        change = StatusChange.all_objects.get(appointment=world["appointment"])
        assert change.source == "sms"
        assert "reschedule" in change.reason
        notice = Message.all_objects.get(appointment=world["appointment"])
        assert notice.patient is None
        assert notice.status == "sent"
        assert world["patient"].legal_last_name not in notice.body
        assert Appointment.all_objects.get(pk=world["appointment"].pk).status == "scheduled"


def test_replayed_message_sid_is_a_no_op(client, world):
    _post(client, "STOP", sid="SMreplayed")
    _post(client, "START", sid="SMreplayed")  # a retry with the same sid: ignored
    response = _post(client, "C", sid="SMreplayed")
    assert response.status_code == 200
    assert _consents(world["patient"]) == [(False, "sms_reply")]
    with scopes_disabled():
        assert InboundMessage.all_objects.count() == 1
        assert Appointment.all_objects.get(pk=world["appointment"].pk).status == "scheduled"


def test_unknown_number_texted_does_nothing(client, world):
    response = _post(client, "STOP", to="+15035550000")
    assert response.status_code == 200
    with scopes_disabled():
        assert not InboundMessage.all_objects.exists()
