"""The portal home page's cards: next appointment, forms to complete, questionnaires due, unread
messages and balance. Bounded: a fixed number of queries whatever the patient's history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from clinical.models import Patient
from portal.models import IntakePacket, IntakeSubmission, PortalSettings, ThreadMessage


@dataclass
class HomeSummary:
    next_attendance: Any  # scheduling.Attendee with its appointment, or None
    telehealth_join_minutes: int
    forms_in_progress: list[IntakeSubmission]
    packet_not_started: IntakePacket | None
    questionnaires_due: list[Any]
    unread_messages: int
    balance: Decimal


def next_attendance(*, patient: Patient, now: datetime | None = None):
    """The patient's next appointment that is still on (not cancelled), or None."""
    from scheduling.models import Appointment, Attendee

    now = now or timezone.now()
    return (
        Attendee.objects.filter(
            patient=patient,
            ends_at__gt=now,
            status__in=Attendee.ACTIVE_STATUSES,
            appointment__status__in=(Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED),
        )
        .select_related("appointment__clinician__user", "appointment__location", "appointment__appointment_type")
        .order_by("starts_at", "id")
        .first()
    )


def questionnaires_due(*, patient: Patient, now: datetime | None = None, limit: int = 5) -> list:
    """Questionnaires sent to the patient (any channel) and not yet completed or expired."""
    from assessments.models import Administration

    now = now or timezone.now()
    return list(
        Administration.objects.filter(patient=patient, status=Administration.Status.SENT)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("due_at", "id")[:limit]
    )


def home_summary(*, patient: Patient, settings: PortalSettings) -> HomeSummary:
    from billing.selectors_patient_billing import patient_balance

    forms = list(
        IntakeSubmission.objects.filter(
            patient=patient, status__in=(IntakeSubmission.Status.IN_PROGRESS, IntakeSubmission.Status.RETURNED)
        )
        .select_related("packet")
        .order_by("-created_at")[:5]
    )
    packet = None
    if settings.intake_packet_id and settings.intake_packet.is_active:
        started = IntakeSubmission.objects.filter(patient=patient, packet_id=settings.intake_packet_id).exists()
        packet = None if started else settings.intake_packet
    unread = ThreadMessage.objects.filter(
        thread__patient=patient, sender_member__isnull=False, read_by_patient_at__isnull=True
    ).count()
    return HomeSummary(
        next_attendance=next_attendance(patient=patient),
        telehealth_join_minutes=settings.telehealth_join_minutes,
        forms_in_progress=forms,
        packet_not_started=packet,
        questionnaires_due=questionnaires_due(patient=patient),
        unread_messages=unread,
        balance=patient_balance(patient=patient),
    )
