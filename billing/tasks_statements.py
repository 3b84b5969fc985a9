"""Monthly patient statements (helper R2, issue 7): beat fans out one task per practice; each
issues a statement for every patient with a balance above zero (idempotent per patient and
period end) and emails "Your statement from <practice> is ready" — never an amount in the email.
Portal delivery comes with the portal issue."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from billing import selectors_patient_billing as sel
from billing import services_patient_billing as svc
from practice.tasks import practice_task

logger = logging.getLogger(__name__)

__all__ = ["statements_monthly_practice_task", "statements_monthly_task"]


def last_month_end(today: date) -> date:
    return today.replace(day=1) - timedelta(days=1)


def statement_email(*, statement) -> None:
    """Email the patient that a statement is ready (notifications' STATEMENT template: consent,
    address and idempotency are message_send's). The text names no amount; it links to the portal."""
    from django.conf import settings
    from django.urls import NoReverseMatch, reverse

    from notifications.models import Channel, MessageTemplate
    from notifications.services import message_send

    try:
        path = reverse("portal_billing")
    except NoReverseMatch:
        path = "/portal/"
    message = message_send(
        practice=statement.practice,
        patient=statement.patient,
        channel=Channel.EMAIL,
        template_key=MessageTemplate.Key.STATEMENT,
        context={"link": f"{settings.SITE_URL.rstrip('/')}{path}"},
        idempotency_key=f"statement-email:{statement.pk}",
    )
    if statement.emailed_at is None and message.status != message.Status.SUPPRESSED:
        statement.emailed_at = timezone.now()
        statement.save(update_fields=["emailed_at", "updated_at"])


@practice_task()
def statements_monthly_practice_task(*, period_end: str | None = None) -> int:
    """Issue (and email) this practice's statements for the month ending `period_end`."""
    from clinical.models import Patient

    end = date.fromisoformat(period_end) if period_end else last_month_end(timezone.localdate())
    issued = 0
    for patient in Patient.objects.filter(pk__in=sel.patients_with_balance(as_of=end)).order_by("pk"):
        with transaction.atomic():
            statement = svc.statement_issue(patient=patient, period_end=end)
            try:
                statement_email(statement=statement)
            except Exception:  # the statement stands; the email is retried on the next run
                logger.exception("statement email failed for statement %s", statement.pk)
        issued += 1
    return issued


@shared_task(acks_late=True)
def statements_monthly_task(period_end: str | None = None) -> int:
    """Beat (monthly, the 1st): one task per practice with any patient balance."""
    from billing.models import LedgerAccount, LedgerEntry

    ids = sorted(
        set(
            LedgerEntry.all_objects.filter(account=LedgerAccount.PATIENT_AR)
            .values_list("practice_id", flat=True)
            .distinct()
        )
    )
    for practice_id in ids:
        statements_monthly_practice_task.delay(practice_id=practice_id, period_end=period_end)
    return len(ids)
