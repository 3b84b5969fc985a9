"""Webhook tasks: ids in, practice scope re-entered, one service called; safe to run twice.

Beat (config/celery.py): webhooks_send_due_task every minute queues the due retries.
"""

from __future__ import annotations

import smtplib

from celery import shared_task

from integrations.webhooks import webhook_deliveries_due, webhook_delivery_send, webhook_endpoint_disabled_notify
from practice.tasks import practice_task


@practice_task()
def webhook_deliver_task(*, delivery_id: int) -> str:
    """One attempt of one delivery; the attempt is claimed, so a duplicate task is a no-op."""
    return webhook_delivery_send(delivery_id=delivery_id)


@shared_task(acks_late=True)
def webhooks_send_due_task() -> int:
    """Every minute: queue one attempt for each delivery whose retry time has come (ids only cross
    practices here; each attempt runs in its practice's scope and is claimed there)."""
    due = webhook_deliveries_due()
    for practice_id, delivery_id in due:
        webhook_deliver_task.delay(practice_id=practice_id, delivery_id=delivery_id)
    return len(due)


@practice_task(
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=6,
)
def webhook_endpoint_disabled_notify_task(*, endpoint_id: int) -> int:
    return webhook_endpoint_disabled_notify(endpoint_id=endpoint_id)
