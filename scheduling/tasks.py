"""Scheduling tasks: ids in, the practice scope re-entered, one service called; safe to run twice."""

from __future__ import annotations

from celery import shared_task

from practice.models import Practice
from practice.tasks import practice_task
from scheduling import waitlist


@practice_task()
def waitlist_offer_freed_slot_task(*, appointment_id: int) -> int:
    """A cancelled appointment's slot goes to the best waitlist matches. One batch per freed
    appointment: a second run (redelivery, double cancel) finds the batch and does nothing."""
    return len(waitlist.waitlist_offer_freed_slot(appointment_id=appointment_id))


@practice_task()
def waitlist_offers_expire_practice_task() -> int:
    return waitlist.waitlist_offers_expire()


@shared_task(acks_late=True)
def waitlist_offers_expire_task() -> int:
    """Beat job (every minute): expire overdue offers in every active practice, each in its own
    scope, and offer those slots to the next matches."""
    practice_ids = list(Practice.objects.filter(is_active=True).values_list("pk", flat=True))
    for practice_id in practice_ids:
        waitlist_offers_expire_practice_task.delay(practice_id=practice_id)
    return len(practice_ids)
