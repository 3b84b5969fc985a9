"""Thin Celery tasks for the portal: ids in, scope re-entered by practice_task, one service called."""

from __future__ import annotations

import smtplib

from practice.tasks import practice_task


@practice_task(autoretry_for=(smtplib.SMTPException, ConnectionError), retry_backoff=True, max_retries=5)
def portal_message_staff_notify_task(*, message_id: int) -> bool:
    """Email the care team that a patient wrote (a link only). Claimed once: safe to run twice."""
    from portal.services_messages import portal_message_staff_notify

    return portal_message_staff_notify(message_id=message_id)
