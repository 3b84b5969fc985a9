"""The "Collect copay" panel on the appointment page (check-in), helper R2 (issue 7)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django import template
from django.utils import timezone

from billing.models import Coverage, PatientPayment
from practice.permissions import Perm

register = template.Library()


@register.inclusion_tag("billing/patient/_copay_panel.html", takes_context=True)
def copay_panel(context: dict[str, Any], appointment) -> dict[str, Any]:
    """Per attendee: the active primary coverage's copay and copays already taken for this visit.
    Two queries whatever the group size; nothing for members without COVERAGE_MANAGE."""
    request = context.get("request")
    membership = getattr(request, "membership", None)
    if membership is None or not membership.has_perm(Perm.COVERAGE_MANAGE):
        return {"rows": []}
    attendees = list(appointment.attendees.all())
    patient_ids = [a.patient_id for a in attendees]
    practice = context.get("practice") or appointment.practice
    day = timezone.localtime(appointment.starts_at, ZoneInfo(practice.timezone)).date()
    copays: dict[int, int] = {}
    for coverage in (
        Coverage.objects.filter(
            patient_id__in=patient_ids, priority=Coverage.Priority.PRIMARY, is_active=True, copay_cents__gt=0
        )
        .exclude(starts_on__gt=day)
        .exclude(ends_on__lt=day)
        .order_by("-starts_on", "-id")
    ):
        copays.setdefault(coverage.patient_id, coverage.copay_cents)
    taken: dict[int, Any] = {}
    for payment in PatientPayment.objects.filter(appointment=appointment, is_copay=True):
        taken[payment.patient_id] = taken.get(payment.patient_id, 0) + payment.amount
    rows = [
        {
            "attendee": a,
            "copay": f"{copays.get(a.patient_id, 0) / 100:.2f}",
            "has_copay": a.patient_id in copays,
            "taken": taken.get(a.patient_id),
        }
        for a in attendees
    ]
    return {
        "rows": rows,
        "appointment": appointment,
        "practice": practice,
        "methods": PatientPayment.Method.choices,
        "csrf_token": context.get("csrf_token"),
    }
