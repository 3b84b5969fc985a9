"""Notification tasks: ids in, practice scope re-entered, one service called; safe to run twice.

Beat (config/celery.py): reminders_dispatch_due_task every minute, notifications_recover_stuck_task
every minute. Both fan out to per-practice tasks.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone
from django_scopes import get_scope

from notifications.backends import TransientSendError
from notifications.models import Message, Reminder
from notifications.services import (
    message_deliver,
    messages_recover_stuck,
    reminders_dispatch_due,
    reminders_recover_stuck,
)
from practice.tasks import practice_task


def _scope_practice_id() -> int:
    practice = get_scope()["practice"]
    return practice.pk


def _batch_size() -> int:
    return int(getattr(settings, "TEND_REMINDER_BATCH_SIZE", 100))


@practice_task(
    autoretry_for=(TransientSendError,), retry_backoff=5, retry_backoff_max=600, retry_jitter=True, max_retries=8
)
def message_deliver_task(*, message_id: int) -> str:
    """Deliver one message. The row is claimed queued -> sending, so a duplicate or redelivered task
    does nothing; transient errors put the row back to QUEUED and retry with backoff."""
    return message_deliver(message_id=message_id)


@practice_task()
def reminders_dispatch_practice_task() -> int:
    """One batch of this practice's due reminders; a full batch queues the next one at once, so a
    backlog drains without waiting for the next beat."""
    claimed = reminders_dispatch_due(batch_size=_batch_size())
    if claimed >= _batch_size():
        reminders_dispatch_practice_task.delay(practice_id=_scope_practice_id())
    return claimed


def _practices_with(queryset) -> list[int]:
    # Only ids cross practices here (all_objects: the beat job has no practice of its own); the
    # work itself runs in per-practice tasks inside their scope.
    return sorted(set(queryset.values_list("practice_id", flat=True).distinct()))


@shared_task(acks_late=True)
def reminders_dispatch_due_task() -> int:
    """Every minute: for each practice with due pending reminders, queue dispatch batches — up to
    TEND_REMINDER_DISPATCH_PARALLEL at once for a backlog (they claim disjoint rows)."""
    from django.db.models import Count

    now = timezone.now()
    parallel = int(getattr(settings, "TEND_REMINDER_DISPATCH_PARALLEL", 4))
    # Only ids and counts cross practices here (all_objects: the beat job has no practice of its
    # own); the work itself runs in per-practice tasks inside their scope.
    due = (
        Reminder.all_objects.filter(status=Reminder.Status.PENDING, due_at__lte=now)
        .values("practice_id")
        .annotate(n=Count("id"))
        .order_by("practice_id")
    )
    queued = 0
    for row in due:
        chains = max(1, min(parallel, -(-row["n"] // _batch_size())))
        for _ in range(chains):
            reminders_dispatch_practice_task.delay(practice_id=row["practice_id"])
        queued += chains
    return queued


@practice_task()
def notifications_recover_practice_task(*, older_than_seconds: int = 600) -> int:
    older_than = timedelta(seconds=older_than_seconds)
    reminders_recover_stuck(older_than=older_than)
    message_ids = messages_recover_stuck(older_than=older_than)
    for message_id in message_ids:
        message_deliver_task.delay(practice_id=_scope_practice_id(), message_id=message_id)
    return len(message_ids)


@shared_task(acks_late=True)
def notifications_recover_stuck_task(older_than_seconds: int = 600) -> int:
    """Every minute: rows a dead worker left behind (SENDING for over 10 minutes, or QUEUED with
    their task lost) are put back in line, per practice."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    practice_ids = set(
        _practices_with(Message.all_objects.filter(status__in=("sending", "queued"), updated_at__lt=cutoff))
    ) | set(_practices_with(Reminder.all_objects.filter(status="sending", claimed_at__lt=cutoff)))
    for practice_id in sorted(practice_ids):
        notifications_recover_practice_task.delay(practice_id=practice_id, older_than_seconds=older_than_seconds)
    return len(practice_ids)
