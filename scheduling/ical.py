"""Clinicians' iCalendar feeds: a secret, revocable URL per feed that calendar apps poll.

Only the sha256 of a feed token is stored; the raw token is shown once, when the feed is made.
The feed is RFC 5545 (built with the `icalendar` package): a VTIMEZONE for each zone used, one
VEVENT per appointment from 30 days back to 180 days ahead, UID stable per appointment, SEQUENCE
from Appointment.ical_sequence, cancelled appointments as STATUS:CANCELLED. Patients appear by
their initials only; no other patient detail leaves the practice through a feed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from practice.errors import DomainError
from practice.models import Membership
from scheduling.models import Appointment, Attendee, CalendarFeed

PAST_DAYS = 30
FUTURE_DAYS = 180
PRODID = "-//Tend//Scheduling//EN"
CANCELLED_STATUSES = (Appointment.Status.CANCELLED, Appointment.Status.LATE_CANCELLED)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- Selectors ---------------------------------------------------------------------------------


def calendar_feed_list(*, clinician: Membership) -> QuerySet[CalendarFeed]:
    return CalendarFeed.objects.filter(clinician=clinician).order_by("-created_at")


def calendar_feed_get(*, clinician: Membership, feed_id: object) -> CalendarFeed:
    """One of the clinician's own feeds (another member's feed is DoesNotExist, hence a 404)."""
    return CalendarFeed.objects.get(clinician=clinician, public_id=feed_id)


def calendar_feed_for_token(token: str) -> CalendarFeed | None:
    """The live feed a token opens, looked up ACROSS practices.

    The feed URL carries no practice and no session: calendar apps fetch it with the token as the
    only credential, so there is no scope to enter before the lookup. The token's hash is unique
    across all practices, which makes this single unscoped read safe; the caller enters the
    feed's practice scope before reading anything else. Revoked feeds are not found.
    """
    if not token or len(token) > 200:
        return None
    return (
        CalendarFeed.all_objects.select_related("practice", "clinician__user")
        .filter(token_hash=token_hash(token), revoked_at__isnull=True)
        .first()
    )


def feed_appointments(*, feed: CalendarFeed, now: datetime | None = None) -> QuerySet[Appointment]:
    now = now or timezone.now()
    attendees = Attendee.objects.select_related("patient").order_by("id")
    return (
        Appointment.objects.filter(
            clinician_id=feed.clinician_id,
            starts_at__gte=now - timedelta(days=PAST_DAYS),
            starts_at__lt=now + timedelta(days=FUTURE_DAYS),
        )
        .select_related("appointment_type", "location", "room")
        .prefetch_related(Prefetch("attendees", queryset=attendees))
        .order_by("starts_at", "id")
    )


# --- Services ----------------------------------------------------------------------------------


@transaction.atomic
def calendar_feed_create(*, clinician: Membership, by: Membership) -> tuple[CalendarFeed, str]:
    """A new feed for the member's own calendar. Returns the feed and its raw token (shown once)."""
    if by.pk != clinician.pk:
        raise DomainError("Each clinician manages their own calendar feed.", code="forbidden")
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed.objects.create(
        practice_id=clinician.practice_id, clinician=clinician, token_hash=token_hash(token)
    )
    return feed, token


@transaction.atomic
def calendar_feed_revoke(*, feed: CalendarFeed, by: Membership) -> CalendarFeed:
    if by.pk != feed.clinician_id:
        raise DomainError("Each clinician manages their own calendar feed.", code="forbidden")
    CalendarFeed.objects.filter(pk=feed.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), updated_at=timezone.now()
    )
    feed.refresh_from_db()
    return feed


def calendar_feed_touch(*, feed: CalendarFeed) -> None:
    """Record the fetch (a plain UPDATE: no lock, no audit row per poll)."""
    now = timezone.now()
    CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=now)
    feed.last_fetched_at = now


# --- Rendering ---------------------------------------------------------------------------------


def _summary(appointment: Appointment) -> str:
    attendees = list(appointment.attendees.all())
    type_name = appointment.appointment_type.name
    if appointment.appointment_type.is_group or len(attendees) > 1:
        return f"{type_name} ({len(attendees)} attending)"
    if not attendees:
        return type_name
    return f"{attendees[0].patient.initials} · {type_name}"


def _zone_of(appointment: Appointment, practice_zone: str) -> str:
    return appointment.location.timezone if appointment.location else practice_zone


def calendar_feed_render(*, feed: CalendarFeed, now: datetime | None = None) -> bytes:
    """The feed as RFC 5545 bytes."""
    now = now or timezone.now()
    practice = feed.practice
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"{practice.name}: {feed.clinician.user.display_name}")
    cal.add("x-wr-timezone", practice.timezone)
    appointments = list(feed_appointments(feed=feed, now=now))

    zones = {practice.timezone} | {_zone_of(a, practice.timezone) for a in appointments}
    first = now - timedelta(days=PAST_DAYS + 1)
    last = now + timedelta(days=FUTURE_DAYS + 1)
    for zone_name in sorted(zones):
        cal.add_component(
            icalendar.Timezone.from_tzinfo(ZoneInfo(zone_name), first_date=first.date(), last_date=last.date())
        )

    for appointment in appointments:
        zone = ZoneInfo(_zone_of(appointment, practice.timezone))
        event = icalendar.Event()
        event.add("uid", f"{appointment.public_id}@tend")
        event.add("dtstamp", now)
        event.add("dtstart", appointment.starts_at.astimezone(zone))
        event.add("dtend", appointment.ends_at.astimezone(zone))
        event.add("sequence", appointment.ical_sequence)
        event.add("last-modified", appointment.updated_at)
        event.add("status", "CANCELLED" if appointment.status in CANCELLED_STATUSES else "CONFIRMED")
        event.add("summary", _summary(appointment))
        if appointment.is_telehealth:
            event.add("location", "Telehealth")
        elif appointment.location:
            where = appointment.location.name + (f", {appointment.room.name}" if appointment.room else "")
            event.add("location", where)
        event.add("transp", "TRANSPARENT" if appointment.status in CANCELLED_STATUSES else "OPAQUE")
        event.add("class", "CONFIDENTIAL")
        cal.add_component(event)
    return cal.to_ical()
