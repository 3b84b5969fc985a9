"""Risk-alert tasks: ids in, practice scope re-entered, one service called; safe to run twice.

Beat (config/celery.py): `risk_alerts_escalate_task` every minute fans out one
`risk_alerts_escalate_practice_task` per practice with open alerts; each escalation is a
conditional UPDATE, so overlapping runs never escalate (or email) twice.
"""

from __future__ import annotations

import smtplib

from celery import shared_task

from assessments.models import RiskAlert
from assessments.services_alerts import risk_alert_notify, risk_alerts_escalate_due
from practice.tasks import practice_task

__all__ = ["risk_alert_notify_task", "risk_alerts_escalate_practice_task", "risk_alerts_escalate_task"]


@practice_task(
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=6,
)
def risk_alert_notify_task(*, alert_id: int, level: int) -> int:
    """Email the alert's recipients at `level` (no PHI; sent once)."""
    return risk_alert_notify(alert_id=alert_id, level=level)


@practice_task()
def risk_alerts_escalate_practice_task() -> int:
    """One practice: move its overdue open alerts up a level and notify the new targets."""
    return risk_alerts_escalate_due()


@shared_task(acks_late=True)
def risk_alerts_escalate_task() -> int:
    """Every minute: queue the escalation for each practice with open alerts."""
    # Only ids cross practices here (all_objects: the beat job has no practice of its own); the
    # work itself runs in per-practice tasks inside their scope.
    practice_ids = sorted(
        set(
            RiskAlert.all_objects.filter(status=RiskAlert.Status.OPEN, escalation_level__lt=2)
            .values_list("practice_id", flat=True)
            .distinct()
        )
    )
    for practice_id in practice_ids:
        risk_alerts_escalate_practice_task.delay(practice_id=practice_id)
    return len(practice_ids)
