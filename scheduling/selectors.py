"""Scheduling reads: open slots, the calendar, appointment lookups, the practice's settings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from practice.models import Location, Membership
from scheduling.models import (
    Appointment,
    AppointmentType,
    Attendee,
    AvailabilityException,
    AvailabilityRule,
    SchedulingSettings,
)


def scheduling_settings(practice) -> SchedulingSettings:
    """The practice's scheduling settings, created with defaults on first use."""
    practice_id = practice if isinstance(practice, int) else practice.pk
    found = SchedulingSettings.objects.filter(practice_id=practice_id).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return SchedulingSettings.objects.create(practice_id=practice_id)
    except IntegrityError:  # created concurrently
        return SchedulingSettings.objects.get(practice_id=practice_id)


@dataclass(frozen=True)
class Slot:
    clinician: Membership
    location: Location | None
    starts_at: datetime
    ends_at: datetime


def _subtract(intervals: list[tuple[datetime, datetime]], cut: tuple[datetime, datetime]):
    out = []
    for start, end in intervals:
        if cut[1] <= start or cut[0] >= end:
            out.append((start, end))
            continue
        if cut[0] > start:
            out.append((start, cut[0]))
        if cut[1] < end:
            out.append((cut[1], end))
    return out


def _local(day: date, wall, tz: ZoneInfo) -> datetime:
    """A wall-clock time on `day` in `tz`, as UTC (a time inside a spring-forward gap moves on)."""
    return datetime.combine(day, wall).replace(tzinfo=tz).astimezone(UTC)


def open_slots(
    *,
    clinician: Membership | None = None,
    clinicians: Iterable[Membership] | None = None,
    appointment_type: AppointmentType,
    start: date,
    end: date,
    location: Location | None = None,
    minimum_notice: timedelta | int | None = None,
) -> list[Slot]:
    """Bookable slots of `appointment_type` from `start` to `end` (both days included, in each
    location's zone): weekly availability plus extra hours, minus time off and active
    appointments, stepped by the practice's slot step, none starting before now + notice
    (``minimum_notice`` as a timedelta or hours; default the practice's setting).
    Four queries whatever the number of clinicians or days."""
    members = list(clinicians or []) + ([clinician] if clinician is not None else [])
    if not members:
        return []
    by_id = {m.pk: m for m in members}
    settings = scheduling_settings(appointment_type.practice_id)
    if minimum_notice is None:
        notice = timedelta(hours=settings.minimum_notice_hours)
    elif isinstance(minimum_notice, timedelta):
        notice = minimum_notice
    else:
        notice = timedelta(hours=int(minimum_notice))
    earliest = timezone.now() + notice
    step = timedelta(minutes=max(1, settings.slot_step_minutes))
    duration = timedelta(minutes=appointment_type.duration_minutes)
    # UTC window wide enough for any zone's day boundaries.
    window_start = datetime.combine(start, datetime.min.time(), tzinfo=UTC) - timedelta(days=1)
    window_end = datetime.combine(end, datetime.min.time(), tzinfo=UTC) + timedelta(days=2)

    rules = AvailabilityRule.objects.filter(clinician_id__in=by_id, valid_from__lte=end).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=start)
    )
    if location is not None:
        rules = rules.filter(location=location)
    rules = rules.select_related("location")
    exceptions = AvailabilityException.objects.filter(
        clinician_id__in=by_id, starts_at__lt=window_end, ends_at__gt=window_start
    ).select_related("location")
    busy = Appointment.objects.filter(
        clinician_id__in=by_id,
        status__in=Appointment.ACTIVE_STATUSES,
        starts_at__lt=window_end,
        ends_at__gt=window_start,
    ).values_list("clinician_id", "starts_at", "ends_at")

    # (clinician id, location) -> free intervals
    free: dict[tuple[int, Location | None], list[tuple[datetime, datetime]]] = defaultdict(list)
    locations: dict[int | None, Location | None] = {}
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    for rule in rules:
        tz = ZoneInfo(rule.location.timezone)
        locations[rule.location_id] = rule.location
        for day in days:
            if day.weekday() != rule.weekday or day < rule.valid_from:
                continue
            if rule.valid_until is not None and day > rule.valid_until:
                continue
            free[(rule.clinician_id, rule.location_id)].append(
                (_local(day, rule.start_time, tz), _local(day, rule.end_time, tz))
            )
    exception_rows = list(exceptions)
    for exc in exception_rows:
        if exc.kind != AvailabilityException.Kind.EXTRA_HOURS:
            continue
        if location is not None and exc.location_id not in (None, location.pk):
            continue
        tz = ZoneInfo(exc.location.timezone) if exc.location else ZoneInfo("UTC")
        first_day = exc.starts_at.astimezone(tz).date()
        last_day = exc.ends_at.astimezone(tz).date()
        if last_day < start or first_day > end:
            continue
        locations[exc.location_id] = exc.location
        free[(exc.clinician_id, exc.location_id)].append((exc.starts_at, exc.ends_at))

    taken: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for clinician_id, s, e in busy:
        taken[clinician_id].append((s, e))
    for exc in exception_rows:
        if exc.kind == AvailabilityException.Kind.TIME_OFF:
            taken[exc.clinician_id].append((exc.starts_at, exc.ends_at))

    slots: list[Slot] = []
    for (clinician_id, location_id), intervals in free.items():
        intervals = _merge(intervals)
        for cut in taken.get(clinician_id, ()):
            intervals = _subtract(intervals, cut)
        for lo, hi in intervals:
            cursor = lo
            while cursor + duration <= hi:
                if cursor >= earliest:
                    slots.append(Slot(by_id[clinician_id], locations.get(location_id), cursor, cursor + duration))
                cursor += step
    slots.sort(key=lambda s: (s.starts_at, s.clinician.pk))
    return _dedupe(slots)


def _merge(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for s, e in sorted(intervals):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _dedupe(slots: Sequence[Slot]) -> list[Slot]:
    """One slot per clinician and start (extra hours may repeat a weekly block elsewhere)."""
    seen: set[tuple[int, datetime]] = set()
    out = []
    for slot in slots:
        key = (slot.clinician.pk, slot.starts_at)
        if key not in seen:
            seen.add(key)
            out.append(slot)
    return out


def _with_relations(queryset: QuerySet[Appointment]) -> QuerySet[Appointment]:
    return queryset.select_related(
        "appointment_type", "clinician__user", "location", "room", "series"
    ).prefetch_related(Prefetch("attendees", queryset=Attendee.objects.select_related("patient").order_by("id")))


def calendar_appointments(
    *,
    start: datetime,
    end: datetime,
    clinicians: Iterable[Membership],
    location: Location | None = None,
    include_cancelled: bool = True,
) -> QuerySet[Appointment]:
    """Appointments overlapping [start, end) of these clinicians, with type, clinician, room,
    location and attendees' patients loaded (three queries whatever the count)."""
    queryset = Appointment.objects.filter(
        clinician__in=[c.pk for c in clinicians], starts_at__lt=end, ends_at__gt=start
    )
    if location is not None:
        queryset = queryset.filter(location=location)
    if not include_cancelled:
        queryset = queryset.filter(status__in=Appointment.ACTIVE_STATUSES)
    return _with_relations(queryset).order_by("starts_at", "id")


def appointment_list(
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    clinician: Membership | None = None,
    patient_ids: Iterable[int] | None = None,
    status: str | None = None,
    location: Location | None = None,
    newest_first: bool = False,
) -> QuerySet[Appointment]:
    queryset = Appointment.objects.all()
    if start is not None:
        queryset = queryset.filter(ends_at__gt=start)
    if end is not None:
        queryset = queryset.filter(starts_at__lt=end)
    if clinician is not None:
        queryset = queryset.filter(clinician=clinician)
    if patient_ids is not None:
        queryset = queryset.filter(attendees__patient_id__in=list(patient_ids)).distinct()
    if status:
        queryset = queryset.filter(status=status)
    if location is not None:
        queryset = queryset.filter(location=location)
    order = ("-starts_at", "-id") if newest_first else ("starts_at", "id")
    return _with_relations(queryset).order_by(*order)


def appointment_get(*, public_id) -> Appointment | None:
    """One appointment (scoped: another practice's is None) with its relations."""
    return _with_relations(Appointment.objects.filter(public_id=public_id)).first()


def availability_rules(*, clinicians: Iterable[Membership] | None = None) -> QuerySet[AvailabilityRule]:
    queryset = AvailabilityRule.objects.all()
    if clinicians is not None:
        queryset = queryset.filter(clinician__in=[c.pk for c in clinicians])
    return queryset.select_related("clinician__user", "location").order_by("clinician_id", "weekday", "start_time")


def availability_exceptions(
    *, clinicians: Iterable[Membership] | None = None, start: datetime | None = None, end: datetime | None = None
) -> QuerySet[AvailabilityException]:
    queryset = AvailabilityException.objects.all()
    if clinicians is not None:
        queryset = queryset.filter(clinician__in=[c.pk for c in clinicians])
    if start is not None:
        queryset = queryset.filter(ends_at__gt=start)
    if end is not None:
        queryset = queryset.filter(starts_at__lt=end)
    return queryset.select_related("clinician__user", "location").order_by("starts_at")
