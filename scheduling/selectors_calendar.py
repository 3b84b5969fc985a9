"""Reads for the calendar area's summaries (dashboard card). The calendar itself uses the core
selectors in scheduling/selectors.py."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from practice.models import Membership
from scheduling.models import Appointment

TODAY_NEXT_LIMIT = 5


def today_load(*, practice, clinician: Membership | None = None, limit: int = TODAY_NEXT_LIMIT) -> dict:
    """Today's appointments in the practice's zone: counts by status and the next few still to
    come (two queries). ``clinician`` narrows it to one clinician's day."""
    tz = ZoneInfo(practice.timezone)
    now = timezone.now()
    day = timezone.localtime(now, tz).date()
    start = datetime.combine(day, time.min, tzinfo=tz)
    queryset = Appointment.objects.filter(starts_at__gte=start, starts_at__lt=start + timedelta(days=1))
    if clinician is not None:
        queryset = queryset.filter(clinician=clinician)
    counts = Counter(queryset.values_list("status", flat=True))
    upcoming = list(
        queryset.filter(ends_at__gte=now, status__in=Appointment.ACTIVE_STATUSES)
        .exclude(status=Appointment.Status.COMPLETED)
        .select_related("appointment_type", "clinician__user")
        .prefetch_related("attendees__patient")
        .order_by("starts_at", "id")[:limit]
    )
    labels = dict(Appointment.Status.choices)
    return {
        "day": day,
        "total": sum(counts.values()),
        "counts": [{"status": s, "label": labels[s], "count": counts[s]} for s in labels if counts.get(s)],
        "upcoming": upcoming,
        "is_own": clinician is not None,
    }
