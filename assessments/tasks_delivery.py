"""Questionnaire delivery tasks: ids in, practice scope re-entered, one service called; each is
safe to run twice (rows are claimed with a conditional UPDATE; messages carry idempotency keys).

Beat (config/celery.py): administrations_dispatch_due_task every minute, administrations_expire_task
every 5 minutes, protocols_auto_assign_task hourly. Each fans out to per-practice tasks.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from assessments.models import Administration, Protocol
from assessments.services_delivery import (
    administration_send,
    administrations_dispatch_due,
    administrations_expire,
    protocols_auto_assign,
)
from practice.models import Practice
from practice.tasks import practice_task

__all__ = [
    "administration_send_task",
    "administrations_dispatch_due_task",
    "administrations_dispatch_practice_task",
    "administrations_expire_practice_task",
    "administrations_expire_task",
    "protocols_auto_assign_practice_task",
    "protocols_auto_assign_task",
]


def _batch_size() -> int:
    return int(getattr(settings, "TEND_QUESTIONNAIRE_BATCH_SIZE", 100))


@practice_task()
def administration_send_task(*, administration_id: int) -> str:
    """Send one questionnaire now (a clinician's "send now"); a duplicate does nothing."""
    return administration_send(administration_id=administration_id)


@practice_task()
def administrations_dispatch_practice_task() -> int:
    """One batch of this practice's due questionnaires; a full batch queues the next at once."""
    claimed = administrations_dispatch_due(batch_size=_batch_size())
    if claimed >= _batch_size():
        from django_scopes import get_scope

        administrations_dispatch_practice_task.delay(practice_id=get_scope()["practice"].pk)
    return claimed


@shared_task(acks_late=True)
def administrations_dispatch_due_task() -> int:
    """Every minute: queue a dispatch batch for each practice with due questionnaires. Only ids
    cross practices here (all_objects: the beat job has no practice of its own)."""
    practice_ids = sorted(
        set(
            Administration.all_objects.filter(status=Administration.Status.SCHEDULED, due_at__lte=timezone.now())
            .values_list("practice_id", flat=True)
            .distinct()
        )
    )
    for practice_id in practice_ids:
        administrations_dispatch_practice_task.delay(practice_id=practice_id)
    return len(practice_ids)


@practice_task()
def administrations_expire_practice_task() -> int:
    return administrations_expire()


@shared_task(acks_late=True)
def administrations_expire_task() -> int:
    """Every 5 minutes: sent links past their expiry become expired, per practice."""
    practice_ids = sorted(
        set(
            Administration.all_objects.filter(status=Administration.Status.SENT, expires_at__lt=timezone.now())
            .values_list("practice_id", flat=True)
            .distinct()
        )
    )
    for practice_id in practice_ids:
        administrations_expire_practice_task.delay(practice_id=practice_id)
    return len(practice_ids)


@practice_task()
def protocols_auto_assign_practice_task() -> int:
    from django_scopes import get_scope

    return protocols_auto_assign(practice_id=get_scope()["practice"].pk)


@shared_task(acks_late=True)
def protocols_auto_assign_task() -> int:
    """Hourly: for every active practice with an active protocol, assign auto-assign protocols to
    matching patients (each practice in its own task and scope)."""
    with_protocols = set(Protocol.all_objects.filter(is_active=True).values_list("practice_id", flat=True).distinct())
    practice_ids = sorted(
        pk for pk in Practice.objects.filter(is_active=True).values_list("pk", flat=True) if pk in with_protocols
    )
    for practice_id in practice_ids:
        protocols_auto_assign_practice_task.delay(practice_id=practice_id)
    return len(practice_ids)
