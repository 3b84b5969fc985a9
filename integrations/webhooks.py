"""Outbound webhooks: endpoints a practice registers, events emitted by the services, signed
deliveries retried with backoff, and endpoints switched off after repeated failures.

- `webhook_emit(practice_id, event_type, data)` is called by the service that makes a change,
  inside its transaction: one WebhookDelivery per active endpoint subscribed to the event; the
  first attempt is queued on commit (a rolled-back change sends nothing). Payloads carry ids and
  status only, never clinical content: the receiver fetches what it needs through the API.
- `webhook_delivery_send` makes one attempt. The attempt is claimed with a conditional UPDATE
  (status, attempt count and due time must still match) which also pushes `next_attempt_at` out
  by a lease, so two workers never send the same attempt and a worker that dies mid-send is
  retried after the lease. 2xx = succeeded; anything else is recorded and retried after
  RETRY_DELAYS (with jitter) until MAX_ATTEMPTS.
- The beat task (`webhooks_send_due_task`, every minute) queues the due retries.
- An endpoint whose `consecutive_failures` reaches DISABLE_AFTER_FAILURES, or whose delivery
  exhausts its attempts, is switched off and the practice's owners and admins are emailed.

Signature: header `Tend-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>`
(docs/webhooks.md has the receiver's recipe).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.crypto import SecretUnreadable, decrypt, encrypt
from integrations.models import WebhookDelivery, WebhookEndpoint
from practice.errors import DomainError
from practice.models import Membership
from practice.permissions import Perm, Role

logger = logging.getLogger(__name__)

EVENT_TYPES: dict[str, str] = {
    "appointment.created": "An appointment was booked",
    "appointment.updated": "An appointment was moved or its status changed",
    "appointment.cancelled": "An appointment was cancelled",
    "assessment.completed": "A questionnaire response was recorded",
    "risk_alert.created": "A risk alert was opened",
    "claim.status_changed": "A claim's status changed",
}
PING = "ping"  # the test event: sent to one endpoint on request, whatever it subscribes to

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SIGNATURE_HEADER = "Tend-Signature"
TIMEOUT_SECONDS = 5
LEASE = timedelta(minutes=2)  # an attempt in flight is not due again before this (worker died)
RETRY_DELAYS = (60, 300, 1800, 7200, 21600, 43200, 86400)  # seconds after failed attempt 1, 2, ...
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.1  # each delay is stretched or shrunk by up to 10 %
DISABLE_AFTER_FAILURES = 10
RESPONSE_BODY_CHARS = 1000
DUE_BATCH = 500

S = WebhookDelivery.Status
OPEN_STATUSES = (S.PENDING, S.RETRYING)


# --- Signing -----------------------------------------------------------------------------------


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(24)


def signature_compute(*, secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of f"{timestamp}.{body}" keyed with the endpoint's secret."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature_compute(secret=secret, timestamp=timestamp, body=body)}"


def signature_verify(*, secret: str, header: str, body: bytes, tolerance: int = 300, now: int | None = None) -> bool:
    """The receiver's check (also used by the tests): a v1 signature matches and t is recent."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    current = int(timezone.now().timestamp()) if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = signature_compute(secret=secret, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", []))


def payload_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON with sorted keys."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


# --- URL checks (SSRF) -----------------------------------------------------------------------------


def _allow_private() -> bool:
    return bool(getattr(settings, "TEND_WEBHOOKS_ALLOW_PRIVATE", False))


def _allow_http() -> bool:
    return bool(getattr(settings, "TEND_WEBHOOKS_ALLOW_HTTP", False) or settings.DEBUG)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return sorted({info[4][0] for info in infos})


def url_check(url: str, *, resolve: bool = True) -> None:
    """Refuse URLs a practice must not point Tend at: not http(s), plain http (unless allowed),
    credentials in the URL, or a host on a private, loopback or link-local address (unless
    TEND_WEBHOOKS_ALLOW_PRIVATE). A host that does not resolve now is accepted here and checked
    again before every delivery."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DomainError("Enter a full https:// address.", field="url")
    if parts.scheme == "http" and not _allow_http():
        raise DomainError("Webhook addresses must start with https://.", field="url")
    if parts.username or parts.password:
        raise DomainError("Leave user names and passwords out of the address.", field="url")
    if _allow_private():
        return
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise DomainError("The port is not a number.", field="url") from exc
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        raise DomainError("Webhooks cannot be sent to this computer.", field="url")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    elif resolve:
        try:
            addresses = _resolve(host, port)
        except OSError:
            return  # checked again at send time
    else:
        return
    if not all(_is_public(a) for a in addresses):
        raise DomainError("This address is on a private network; webhooks go to public addresses.", field="url")


# --- Emitting ----------------------------------------------------------------------------------


def _queue_on_commit(practice_id: int, delivery_ids: list[int]) -> None:
    if not delivery_ids:
        return

    def queue() -> None:
        from integrations.tasks_webhooks import webhook_deliver_task

        for delivery_id in delivery_ids:
            try:
                webhook_deliver_task.delay(practice_id=practice_id, delivery_id=delivery_id)
            except Exception:  # broker trouble must not fail the committed change; beat sends it
                logger.exception("webhook delivery %s not queued", delivery_id)

    transaction.on_commit(queue)


def _payload(*, practice_id: int, event_type: str, event_id: uuid.UUID, data: dict[str, Any]) -> dict[str, Any]:
    from practice.models import Practice

    practice_public_id = Practice.objects.filter(pk=practice_id).values_list("public_id", flat=True).get()
    return {
        "id": str(event_id),
        "type": event_type,
        "created": timezone.now().isoformat(),
        "practice": str(practice_public_id),
        "data": data,
    }


def webhook_emit(practice_id: int, event_type: str, data: dict[str, Any]) -> list[int]:
    """Record the event for every active endpoint of the practice subscribed to it and queue the
    first attempts on commit. `data` holds ids and status only. Returns the delivery ids."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event_type}")
    # Explicit practice filter (callers may run outside a scope, e.g. on-commit hooks, seeding).
    subscribed = [
        pk
        for pk, events in WebhookEndpoint.all_objects.filter(practice_id=practice_id, is_active=True).values_list(
            "pk", "events"
        )
        if event_type in (events or [])
    ]
    if not subscribed:
        return []
    event_id = uuid.uuid4()
    payload = _payload(practice_id=practice_id, event_type=event_type, event_id=event_id, data=data)
    rows = WebhookDelivery.all_objects.bulk_create(
        [
            WebhookDelivery(
                practice_id=practice_id, endpoint_id=pk, event_id=event_id, event_type=event_type, payload=payload
            )
            for pk in subscribed
        ]
    )
    ids = [row.pk for row in rows]
    if any(i is None for i in ids):  # backends that do not return ids from bulk_create
        ids = list(
            WebhookDelivery.all_objects.filter(practice_id=practice_id, event_id=event_id).values_list("pk", flat=True)
        )
    _queue_on_commit(practice_id, ids)
    return ids


def webhook_emit_appointment(appointment: Any, *, from_status: str | None) -> list[int]:
    """The scheduling services' one call: created (no previous status), cancelled (now cancelled
    or late-cancelled) or updated (moved, or any other status change)."""
    from scheduling.models import Appointment

    cancelled = (Appointment.Status.CANCELLED, Appointment.Status.LATE_CANCELLED)
    if not from_status:
        event_type = "appointment.created"
    elif appointment.status in cancelled and from_status not in cancelled:
        event_type = "appointment.cancelled"
    else:
        event_type = "appointment.updated"
    data = {"object": "appointment", "id": str(appointment.public_id), "status": appointment.status}
    return webhook_emit(appointment.practice_id, event_type, data)


# --- Endpoints (staff) -------------------------------------------------------------------------


def _require(by: Membership, practice_id: int | None = None) -> None:
    if not by.has_perm(Perm.INTEGRATIONS_MANAGE):
        raise DomainError("Your role does not allow this.", code="forbidden")
    if practice_id is not None and by.practice_id != practice_id:
        raise DomainError("Not found.", code="not_found")


def _clean_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events or []))
    unknown = [e for e in chosen if e not in EVENT_TYPES]
    if unknown:
        raise DomainError(f"Unknown event: {', '.join(unknown)}.", field="events")
    if not chosen:
        raise DomainError("Choose at least one event.", field="events")
    return [e for e in EVENT_TYPES if e in chosen]


@transaction.atomic
def webhook_endpoint_create(
    *, by: Membership, url: str, events: Iterable[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (returned once: only its encryption is stored)."""
    _require(by)
    url = url.strip()
    url_check(url)
    secret = secret_generate()
    endpoint = WebhookEndpoint.objects.create(
        practice_id=by.practice_id,
        url=url,
        description=description.strip()[:200],
        events=_clean_events(events),
        secret_encrypted=encrypt(secret),
        created_by=by,
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, by: Membership, url: str, events: Iterable[str], description: str = ""
) -> WebhookEndpoint:
    _require(by, endpoint.practice_id)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    url = url.strip()
    if url != endpoint.url:
        url_check(url)
    endpoint.url = url
    endpoint.events = _clean_events(events)
    endpoint.description = description.strip()[:200]
    endpoint.save(update_fields=["url", "events", "description", "updated_at"])
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, by: Membership) -> tuple[WebhookEndpoint, str]:
    """A new secret at once (the old one stops verifying); returned once."""
    _require(by, endpoint.practice_id)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = secret_generate()
    endpoint.secret_encrypted = encrypt(secret)
    endpoint.save(update_fields=["secret_encrypted", "updated_at"])
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_set_active(*, endpoint: WebhookEndpoint, by: Membership, is_active: bool) -> WebhookEndpoint:
    """Switch an endpoint on (failure count reset; waiting deliveries resume) or off (nothing is
    sent or recorded for it until it is switched on)."""
    _require(by, endpoint.practice_id)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if is_active:
        if not endpoint.is_active:
            url_check(endpoint.url)
        endpoint.is_active = True
        endpoint.consecutive_failures = 0
        endpoint.disabled_at = None
        endpoint.disabled_reason = ""
    elif endpoint.is_active:
        endpoint.is_active = False
        endpoint.disabled_at = timezone.now()
        endpoint.disabled_reason = "Switched off by staff."
    endpoint.save(update_fields=["is_active", "consecutive_failures", "disabled_at", "disabled_reason", "updated_at"])
    return endpoint


@transaction.atomic
def webhook_endpoint_send_test(*, endpoint: WebhookEndpoint, by: Membership) -> WebhookDelivery:
    """A `ping` event to this endpoint only, sent now (on commit)."""
    _require(by, endpoint.practice_id)
    if not endpoint.is_active:
        raise DomainError("Switch the endpoint on before sending a test event.", code="inactive")
    event_id = uuid.uuid4()
    payload = _payload(
        practice_id=endpoint.practice_id,
        event_type=PING,
        event_id=event_id,
        data={"object": "webhook_endpoint", "id": str(endpoint.public_id)},
    )
    delivery = WebhookDelivery.objects.create(
        practice_id=endpoint.practice_id, endpoint=endpoint, event_id=event_id, event_type=PING, payload=payload
    )
    _queue_on_commit(endpoint.practice_id, [delivery.pk])
    return delivery


@transaction.atomic
def webhook_delivery_resend(*, delivery: WebhookDelivery, by: Membership) -> WebhookDelivery:
    """Try a failed delivery once more, now (same event id and body; the receiver dedupes)."""
    _require(by, delivery.practice_id)
    delivery = WebhookDelivery.objects.select_for_update().select_related("endpoint").get(pk=delivery.pk)
    if delivery.status != S.FAILED:
        raise DomainError("Only failed deliveries can be sent again.", code="invalid_transition")
    if not delivery.endpoint.is_active:
        raise DomainError("Switch the endpoint on before sending again.", code="inactive")
    delivery.status = S.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at", "updated_at"])
    _queue_on_commit(delivery.practice_id, [delivery.pk])
    return delivery


# --- Delivering --------------------------------------------------------------------------------


def retry_delay(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """Wait after failed attempt number `attempts` (1-based), with +-JITTER."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return timedelta(seconds=base * factor)


class _Outcome:
    def __init__(self, *, ok: bool, status: int | None = None, body: str = "", error: str = "") -> None:
        self.ok, self.status, self.body, self.error = ok, status, body, error


def _post(url: str, *, body: bytes, headers: dict[str, str]) -> _Outcome:
    import requests

    parts = urlsplit(url)
    if parts.scheme == "http" and not _allow_http():
        return _Outcome(ok=False, error="Plain http is not allowed; use https.")
    if not _allow_private():
        try:
            addresses = _resolve(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        except OSError as exc:
            return _Outcome(ok=False, error=f"Could not resolve the host ({exc.__class__.__name__}).")
        if not addresses or not all(_is_public(a) for a in addresses):
            return _Outcome(ok=False, error="The host resolves to a private address; not sent.")
    try:
        response = requests.post(
            url, data=body, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False, stream=True
        )
    except requests.Timeout:
        return _Outcome(ok=False, error=f"No answer within {TIMEOUT_SECONDS} seconds.")
    except requests.RequestException as exc:
        return _Outcome(ok=False, error=f"Connection failed ({exc.__class__.__name__}).")
    try:
        raw = response.raw.read(RESPONSE_BODY_CHARS * 4, decode_content=True) or b""
        text = raw.decode(response.encoding or "utf-8", errors="replace")[:RESPONSE_BODY_CHARS]
    except Exception:  # a broken body does not change the status the receiver gave
        text = ""
    finally:
        response.close()
    if 200 <= response.status_code < 300:
        return _Outcome(ok=True, status=response.status_code, body=text)
    if 300 <= response.status_code < 400:
        error = f"HTTP {response.status_code}: redirects are not followed; register the final address."
    else:
        error = f"HTTP {response.status_code}"
    return _Outcome(ok=False, status=response.status_code, body=text, error=error)


def webhook_delivery_send(*, delivery_id: int, now: datetime | None = None) -> str:
    """One attempt of one delivery (inside the practice's scope). Returns what happened:
    "succeeded", "retrying", "failed" or "skipped" (not due, already claimed, endpoint off)."""
    now = now or timezone.now()
    row = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if row is None or row.status not in OPEN_STATUSES or not row.endpoint.is_active or row.next_attempt_at > now:
        return "skipped"
    attempt = row.attempts + 1
    claimed = WebhookDelivery.objects.filter(
        pk=row.pk, status=row.status, attempts=row.attempts, next_attempt_at__lte=now
    ).update(attempts=attempt, last_attempted_at=now, next_attempt_at=now + LEASE, updated_at=now)
    if claimed != 1:
        return "skipped"  # another worker has this attempt

    endpoint = row.endpoint
    body = payload_body(row.payload)
    try:
        secret = decrypt(endpoint.secret_encrypted)
    except SecretUnreadable:
        outcome = _Outcome(ok=False, error="The signing secret cannot be read (key changed): rotate the secret.")
    else:
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Tend-Webhooks/1",
            SIGNATURE_HEADER: signature_header(secret=secret, timestamp=timestamp, body=body),
            "Tend-Event-Id": str(row.event_id),
            "Tend-Event-Type": row.event_type,
            "Tend-Delivery-Attempt": str(attempt),
        }
        outcome = _post(endpoint.url, body=body, headers=headers)
    return _record(row=row, attempt=attempt, claimed_at=now, outcome=outcome)


@transaction.atomic
def _record(*, row: WebhookDelivery, attempt: int, claimed_at: datetime, outcome: _Outcome) -> str:
    done_at = timezone.now()
    fields: dict[str, Any] = {
        "response_status": outcome.status,
        "response_body": outcome.body,
        "error": outcome.error[:1000],
        "updated_at": done_at,
    }
    if outcome.ok:
        fields.update(status=S.SUCCEEDED, delivered_at=done_at, error="")
        result = "succeeded"
    elif attempt >= MAX_ATTEMPTS:
        fields.update(status=S.FAILED)
        result = "failed"
    else:
        fields.update(status=S.RETRYING, next_attempt_at=claimed_at + retry_delay(attempt))
        result = "retrying"
    WebhookDelivery.objects.filter(pk=row.pk, attempts=attempt).update(**fields)

    endpoints = WebhookEndpoint.objects.filter(pk=row.endpoint_id)
    if outcome.ok:
        endpoints.exclude(consecutive_failures=0).update(consecutive_failures=0, updated_at=done_at)
        return result
    endpoints.update(consecutive_failures=F("consecutive_failures") + 1, updated_at=done_at)
    failures = endpoints.values_list("consecutive_failures", flat=True).first() or 0
    if failures >= DISABLE_AFTER_FAILURES:
        webhook_endpoint_disable(
            endpoint_id=row.endpoint_id, reason=f"{failures} deliveries in a row failed (last: {outcome.error[:120]})."
        )
    elif attempt == MAX_ATTEMPTS:
        webhook_endpoint_disable(
            endpoint_id=row.endpoint_id,
            reason=f"A {row.event_type} event failed {MAX_ATTEMPTS} times (last: {outcome.error[:120]}).",
        )
    return result


def webhook_endpoint_disable(*, endpoint_id: int, reason: str) -> bool:
    """Switch an endpoint off after failures (conditional UPDATE: only the first caller wins and
    only it queues the email to the owners and admins, on commit)."""
    now = timezone.now()
    won = WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).update(
        is_active=False, disabled_at=now, disabled_reason=reason[:300], updated_at=now
    )
    if not won:
        return False
    practice_id = WebhookEndpoint.objects.values_list("practice_id", flat=True).get(pk=endpoint_id)

    def queue() -> None:
        from integrations.tasks_webhooks import webhook_endpoint_disabled_notify_task

        try:
            webhook_endpoint_disabled_notify_task.delay(practice_id=practice_id, endpoint_id=endpoint_id)
        except Exception:
            logger.exception("could not queue the disabled-webhook notice for endpoint %s", endpoint_id)

    transaction.on_commit(queue)
    return True


def webhook_endpoint_disabled_notify(*, endpoint_id: int) -> int:
    """Email the practice's active owners and admins that an endpoint was switched off, once per
    switch-off (claimed with an atomic cache add; a failed send releases the claim). Ids only."""
    from django.core.cache import cache
    from django.core.mail import send_mail
    from django.urls import reverse

    from practice.services import site_url

    endpoint = WebhookEndpoint.objects.select_related("practice").filter(pk=endpoint_id).first()
    if endpoint is None or endpoint.is_active or endpoint.disabled_at is None:
        return 0
    claim_key = f"tend:webhook-disabled:{endpoint.public_id}:{endpoint.disabled_at.timestamp()}"
    if not cache.add(claim_key, 1, timeout=60 * 60 * 24 * 30):
        return 0
    recipients = sorted(
        {
            m.user.email
            for m in Membership.objects.filter(
                practice_id=endpoint.practice_id, is_active=True, role__in=(Role.OWNER, Role.ADMIN)
            ).select_related("user")
            if m.user.email
        }
    )
    if not recipients:
        return 0
    path = reverse(
        "webhook_detail", kwargs={"practice_slug": endpoint.practice.slug, "endpoint_id": endpoint.public_id}
    )
    try:
        send_mail(
            subject="A webhook endpoint was switched off",
            message=(
                f"Tend stopped sending webhooks to {endpoint.url}.\n\n"
                f"Why: {endpoint.disabled_reason}\n\n"
                "Check the receiver, then switch the endpoint on again (waiting deliveries resume):\n"
                f"{site_url()}{path}\n"
            ),
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:
        cache.delete(claim_key)
        raise
    return len(recipients)


def webhook_deliveries_due(*, now: datetime | None = None, limit: int = DUE_BATCH) -> list[tuple[int, int]]:
    """(practice id, delivery id) of deliveries due now at active endpoints, oldest due first.
    Cross-practice on purpose (the beat job has no practice): ids only."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.all_objects.filter(status__in=OPEN_STATUSES, next_attempt_at__lte=now, endpoint__is_active=True)
        .order_by("next_attempt_at", "pk")
        .values_list("practice_id", "pk")[:limit]
    )
