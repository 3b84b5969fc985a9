"""Thin Celery tasks: ids in, scope re-entered, one service called. Each is safe to run twice."""

from __future__ import annotations

import smtplib

from celery import shared_task

from practice.scoping import practice_scope
from practice.services import invitation_deliver


@shared_task(
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=6,
)
def invitation_send_task(*, practice_id: int, invitation_id: int) -> bool:
    with practice_scope(practice_id):
        return invitation_deliver(invitation_id=invitation_id)
