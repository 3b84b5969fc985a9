"""Backends: the official Twilio client against a fake Twilio on loopback; email through locmem."""

from __future__ import annotations

import pytest
from django.core import mail

from clinical.tests.factories import CommunicationConsentFactory, PatientFactory
from notifications import services
from notifications.backends import PermanentSendError, TransientSendError, TwilioSmsBackend, backend_for
from notifications.models import Message
from notifications.tests.factories import NotificationSettingsFactory
from notifications.tests.fake_twilio import FakeTwilio
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_twilio(settings):
    with FakeTwilio() as fake:
        settings.TEND_SMS_BACKEND = "twilio"
        settings.TWILIO_ACCOUNT_SID = "ACfake0000000000000000000000000000"
        settings.TWILIO_AUTH_TOKEN = "fake-token"
        settings.TWILIO_API_BASE = fake.url
        yield fake


def test_sms_goes_through_the_twilio_client_to_the_configured_base_url(practice_a, fake_twilio):
    with practice_scope(practice_a):
        NotificationSettingsFactory(practice=practice_a, sms_from_number="+15035550100")
        patient = PatientFactory(practice=practice_a)
        CommunicationConsentFactory(patient=patient, channel="sms", is_granted=True)
        message = services.message_send(
            practice=practice_a,
            patient=patient,
            channel="sms",
            template_key="reminder",
            context={"date": "Dec 1"},
            idempotency_key="t1",
        )
        assert services.message_deliver(message_id=message.pk) == "sent"
        message.refresh_from_db()
    [request] = fake_twilio.requests
    assert (request["to"], request["from"], request["hint"]) == ("+15035550142", "+15035550100", str(message.public_id))
    assert (message.provider_id, message.backend) == (request["sid"], "twilio")
    assert "Dec 1" in request["body"]


def test_twilio_4xx_is_permanent_and_connection_refused_is_transient(practice_a, fake_twilio, settings):
    with practice_scope(practice_a):
        NotificationSettingsFactory(practice=practice_a)
        message = Message(practice=practice_a, channel="sms", to_address="+15035550142", body="x")
        settings.TWILIO_API_BASE = fake_twilio.url + "/nowhere"  # 404 from the fake
        with pytest.raises(PermanentSendError):
            TwilioSmsBackend().send(message)
        settings.TWILIO_API_BASE = "http://127.0.0.1:9"  # nothing listens: connection refused
        with pytest.raises(TransientSendError):
            TwilioSmsBackend().send(message)


def test_backend_choice_follows_settings(settings):
    settings.TEND_SMS_BACKEND = ""
    settings.TWILIO_ACCOUNT_SID = ""
    assert backend_for("sms").name == "outbox"
    settings.TWILIO_ACCOUNT_SID = "ACx"
    assert backend_for("sms").name == "twilio"
    settings.TEND_EMAIL_BACKEND_KIND = "outbox"
    assert backend_for("email").name == "outbox"
    settings.TEND_EMAIL_BACKEND_KIND = "django"
    assert backend_for("email").name == "email"


def test_email_through_djangos_backend(practice_a):
    with practice_scope(practice_a):
        message = Message(practice=practice_a, channel="email", to_address="a@example.test", subject="S", body="B")
        provider_id = backend_for("email").send(message)
    assert mail.outbox[0].to == ["a@example.test"]
    assert provider_id
