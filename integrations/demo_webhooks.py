"""Demo webhooks: one endpoint of a reporting system with a short, realistic delivery log.

The endpoint points at https://hooks.example.org/tend (a reserved, harmless domain) and is left
switched off, so the demo never tries to reach it; its log shows a test ping, an event delivered
at once, one delivered on its third attempt after two 503s, and one that failed every attempt
(which is why staff switched it off). Payloads carry ids only, like real ones. Idempotent.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from billing.crypto import encrypt
from integrations import webhooks
from integrations.models import WebhookDelivery, WebhookEndpoint
from practice.models import Membership, Practice

DEMO_URL = "https://hooks.example.org/tend"
S = WebhookDelivery.Status


def _object_id(model_path: str) -> str:
    from django.apps import apps

    row = apps.get_model(model_path).objects.order_by("pk").values_list("public_id", flat=True).first()
    return str(row or uuid.uuid4())


@transaction.atomic
def seed_webhooks(practice: Practice, by: Membership) -> int:
    """Create the demo endpoint and its log inside the practice's scope; 0 when it exists."""
    if WebhookEndpoint.objects.filter(url=DEMO_URL).exists():
        return 0
    now = timezone.now()
    endpoint = WebhookEndpoint.objects.create(
        practice=practice,
        url=DEMO_URL,
        description="Reporting warehouse (demo)",
        events=list(webhooks.EVENT_TYPES),
        secret_encrypted=encrypt(webhooks.secret_generate()),
        is_active=False,
        consecutive_failures=0,
        disabled_at=now - timedelta(hours=20),
        disabled_reason="Switched off by staff.",
        created_by=by,
    )
    appointment_id = _object_id("scheduling.Appointment")
    claim_id = _object_id("billing.Claim")
    rows = [
        # (hours ago, event, data, status, attempts, response, error, minutes to deliver)
        (
            72,
            webhooks.PING,
            {"object": "webhook_endpoint", "id": str(endpoint.public_id)},
            S.SUCCEEDED,
            1,
            200,
            "",
            0,
        ),
        (
            50,
            "appointment.created",
            {"object": "appointment", "id": appointment_id, "status": "scheduled"},
            S.SUCCEEDED,
            1,
            200,
            "",
            0,
        ),
        (
            30,
            "claim.status_changed",
            {"object": "claim", "id": claim_id, "status": "submitted", "previous_status": "ready"},
            S.SUCCEEDED,
            3,
            200,
            "",
            7,  # 503 at once, 503 a minute later, delivered after 5 more minutes
        ),
        (
            36,
            "appointment.updated",
            {"object": "appointment", "id": appointment_id, "status": "confirmed"},
            S.FAILED,
            webhooks.MAX_ATTEMPTS,
            503,
            "HTTP 503",
            None,
        ),
    ]
    for hours_ago, event_type, data, status, attempts, response, error, minutes in rows:
        created = now - timedelta(hours=hours_ago)
        event_id = uuid.uuid4()
        delivery = WebhookDelivery.objects.create(
            practice=practice,
            endpoint=endpoint,
            event_id=event_id,
            event_type=event_type,
            payload={
                "id": str(event_id),
                "type": event_type,
                "created": created.isoformat(),
                "practice": str(practice.public_id),
                "data": data,
            },
            status=status,
            attempts=attempts,
            next_attempt_at=created,
            last_attempted_at=created + timedelta(minutes=minutes or 0) if minutes is not None else created,
            response_status=response,
            response_body='{"received": true}' if status == S.SUCCEEDED else "Service Unavailable",
            error=error,
            delivered_at=created + timedelta(minutes=minutes) if minutes is not None else None,
        )
        if status == S.FAILED:  # the last of its attempts came 21 hours after the event
            delivery.last_attempted_at = created + timedelta(hours=21)
            delivery.save(update_fields=["last_attempted_at"])
        WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=created)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(created_at=now - timedelta(days=4))
    return 1 + len(rows)
