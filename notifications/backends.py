"""Delivery backends: how a Message row leaves Tend.

- email: Django's email system (whatever EMAIL_URL configures: console, SMTP, locmem in tests),
  or the outbox;
- sms: Twilio through the official client, or the outbox;
- outbox: nothing leaves the server; the row is marked sent with provider id "outbox-…" and is
  read on the Outbox page (development and demo).

Settings: TEND_EMAIL_BACKEND_KIND ("django" | "outbox"), TEND_SMS_BACKEND ("twilio" | "outbox";
default twilio when TWILIO_ACCOUNT_SID is set), TWILIO_API_BASE (tests point it at a fake Twilio
on 127.0.0.1). Backends raise TransientSendError (retry later) or PermanentSendError (give up).
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cache
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.core.mail import EmailMessage

if TYPE_CHECKING:
    from notifications.models import Message


class TransientSendError(Exception):
    """The provider may accept a retry (connection refused, 5xx, 429)."""


class PermanentSendError(Exception):
    """Retrying will not help (bad number, opted out at the carrier, 4xx), or the outcome is unknown
    for a non-idempotent provider (an SMS whose response timed out): never sent twice."""


class Backend(Protocol):
    name: str

    def send(self, message: Message) -> str:
        """Deliver one message; return the provider's id for it."""


def send_delay_for_tests() -> None:
    # Test-only: the worker kill tests slow sends so they can kill a worker mid-batch. 0 in production.
    delay = float(getattr(settings, "TEND_NOTIFICATIONS_TEST_SEND_DELAY", 0) or 0)
    if delay > 0:
        time.sleep(delay)


class OutboxBackend:
    name = "outbox"

    def send(self, message: Message) -> str:
        return f"outbox-{message.public_id.hex[:20]}"


class DjangoEmailBackend:
    name = "email"

    def send(self, message: Message) -> str:
        import smtplib

        # Stable per message: if a dead worker's email is sent again, the recipient's mail system
        # sees the same Message-ID and can treat the copy as the message it already has.
        msgid = f"<{message.public_id}@tend.local>"
        email = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to_address],
            headers={"Message-ID": msgid, "X-Tend-Message": str(message.public_id)},
        )
        try:
            email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentSendError(f"recipient refused: {exc.__class__.__name__}") from exc
        except (smtplib.SMTPException, ConnectionError, TimeoutError, OSError) as exc:
            raise TransientSendError(f"email: {exc.__class__.__name__}") from exc
        return msgid.strip("<>")[:64]


_idempotency = threading.local()


@cache
def _twilio_http_client():
    """One HTTP client (and keep-alive session) per process; it adds the Message public id as an
    idempotency hint header (Twilio ignores it; the fake Twilio in tests records it)."""
    from twilio.http.http_client import TwilioHttpClient

    class HintingHttpClient(TwilioHttpClient):
        def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, **kw):
            headers = dict(headers or {})
            token = getattr(_idempotency, "token", "")
            if token:
                headers["I-Twilio-Idempotency-Token"] = token
            return super().request(method, url, params, data, headers, auth, timeout, **kw)

    # The client logs every request's URL and headers at INFO; keep worker logs to what matters.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    return HintingHttpClient(timeout=float(getattr(settings, "TWILIO_TIMEOUT_SECONDS", 10)))


def _twilio_client():
    from twilio.rest import Client

    key = (settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_API_BASE)
    cached = getattr(_idempotency, "client", None)
    if cached is None or cached[0] != key:
        client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=_twilio_http_client())
        client.api.base_url = settings.TWILIO_API_BASE  # default https://api.twilio.com
        cached = (key, client)
        _idempotency.client = cached
    return cached[1]


class TwilioSmsBackend:
    name = "twilio"

    def send(self, message: Message) -> str:
        import requests
        from twilio.base.exceptions import TwilioRestException

        from notifications.services import sms_from_number

        sender = sms_from_number(practice_id=message.practice_id)
        if not sender:
            raise PermanentSendError("no SMS from-number configured")
        _idempotency.token = str(message.public_id)
        try:
            sent = _twilio_client().messages.create(to=message.to_address, from_=sender, body=message.body)
        except TwilioRestException as exc:
            if exc.status == 429 or exc.status >= 500:
                raise TransientSendError(f"twilio {exc.status} {exc.code}") from exc
            raise PermanentSendError(f"twilio {exc.status} {exc.code}") from exc
        except requests.ConnectionError as exc:  # includes ConnectTimeout: nothing reached Twilio
            raise TransientSendError(f"twilio: {exc.__class__.__name__}") from exc
        except requests.exceptions.ReadTimeout as exc:
            # The request may have reached Twilio: resending could text the patient twice.
            raise PermanentSendError("twilio: no response (outcome unknown, not retried)") from exc
        finally:
            _idempotency.token = ""
        return str(sent.sid)[:64]


def backend_for(channel: str) -> Backend:
    from notifications.models import Channel

    if channel == Channel.EMAIL:
        kind = getattr(settings, "TEND_EMAIL_BACKEND_KIND", "django")
        return OutboxBackend() if kind == "outbox" else DjangoEmailBackend()
    kind = getattr(settings, "TEND_SMS_BACKEND", "") or ("twilio" if settings.TWILIO_ACCOUNT_SID else "outbox")
    return TwilioSmsBackend() if kind == "twilio" else OutboxBackend()
