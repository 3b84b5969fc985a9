"""Clinical record tasks: ids in, practice scope re-entered, one service called; safe to run twice."""

from __future__ import annotations

import smtplib

from celery import shared_task

from clinical.services.plans import plan_review_reminders_send

# Celery discovers <app>.tasks modules only; the patients area keeps its task beside its service.
from clinical.tasks_patients import emergency_access_notify_task  # noqa: F401
from practice.models import Practice
from practice.tasks import practice_task


@practice_task(
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=6,
)
def treatment_plan_review_reminders_practice_task() -> int:
    """One practice: email the primary clinician of each ACTIVE plan due for review (claimed once)."""
    return plan_review_reminders_send()


@shared_task(acks_late=True)
def treatment_plan_review_reminders_task() -> int:
    """Daily beat job: queue the reminder task for every active practice (each runs in its own scope)."""
    practice_ids = list(Practice.objects.filter(is_active=True).values_list("pk", flat=True))
    for practice_id in practice_ids:
        treatment_plan_review_reminders_practice_task.delay(practice_id=practice_id)
    return len(practice_ids)
