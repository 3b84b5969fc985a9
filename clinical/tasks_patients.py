"""Patient tasks: ids in, practice scope re-entered, one service called; safe to run twice."""

from __future__ import annotations

import smtplib

from practice.tasks import practice_task


@practice_task(
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=6,
)
def emergency_access_notify_task(*, emergency_access_id: int) -> int:
    """Tell the practice's owners and admins that someone used break-the-glass (no PHI)."""
    from clinical.services.patients import emergency_access_notify

    return emergency_access_notify(emergency_access_id=emergency_access_id)
