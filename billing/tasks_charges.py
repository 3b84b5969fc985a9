"""Charge-capture tasks: ids in, the practice's scope re-entered, one service called. Each is safe
to run twice (charges carry idempotency keys). Importing this module also connects the 96127
receiver to `assessments.services.response_billable` (billing/tasks.py imports it at start-up)."""

from __future__ import annotations

import logging

from celery import shared_task
from django_scopes import get_scope

from billing import services_charges
from practice.tasks import practice_task

logger = logging.getLogger(__name__)

__all__ = [
    "appointment_fee_charge_task",
    "charge_for_response_task",
    "charges_catch_up_practice_task",
    "charges_catch_up_task",
    "charges_for_note_task",
]


def _connect_receivers() -> None:
    from assessments.services import response_billable

    response_billable.connect(
        services_charges.on_response_billable, dispatch_uid="billing.charges.on_response_billable", weak=False
    )


_connect_receivers()


@practice_task()
def charges_for_note_task(*, note_id: int) -> int:
    result = services_charges.charges_for_note(note_id=note_id)
    for problem in result.problems:
        logger.info("charge capture: %s", problem)  # ids and rule messages only, no PHI
    return len(result.created)


@practice_task()
def charge_for_response_task(*, response_id: int) -> bool:
    try:
        return services_charges.charge_for_response(response_id=response_id) is not None
    except services_charges.DomainError as exc:
        logger.info("96127 charge for response %s not created: %s", response_id, exc.message)
        return False


@practice_task()
def appointment_fee_charge_task(*, appointment_id: int) -> int:
    return len(services_charges.charges_for_appointment_fee(appointment_id=appointment_id))


@practice_task()
def charges_catch_up_practice_task() -> dict[str, int]:
    return services_charges.charges_catch_up(practice_id=get_scope()["practice"].pk)


@shared_task(acks_late=True)
def charges_catch_up_task() -> int:
    """Beat (every 10 minutes): fan out one catch-up per practice with recent signed notes,
    unrecorded billable responses or fee-due appointments."""
    from datetime import timedelta

    from django.utils import timezone

    from assessments.models import Response
    from clinical.models import ProgressNote
    from scheduling.models import Appointment

    since = timezone.localdate() - timedelta(days=services_charges.CATCH_UP_DAYS)
    # Only ids cross practices here (all_objects: the beat job has no practice of its own).
    ids: set[int] = set(
        ProgressNote.all_objects.filter(status="signed", session_on__gte=since)
        .values_list("practice_id", flat=True)
        .distinct()
    )
    ids |= set(
        Response.all_objects.filter(charge_recorded_at__isnull=True, completed_at__date__gte=since)
        .exclude(billable_cpt="")
        .values_list("practice_id", flat=True)
        .distinct()
    )
    ids |= set(
        Appointment.all_objects.filter(fee_due=True, starts_at__date__gte=since)
        .values_list("practice_id", flat=True)
        .distinct()
    )
    for practice_id in sorted(ids):
        charges_catch_up_practice_task.delay(practice_id=practice_id)
    return len(ids)
