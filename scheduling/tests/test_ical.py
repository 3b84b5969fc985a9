"""Calendar feeds: the secret URL (hash stored, shown once, revocable), and the feed itself parsed
back with icalendar: properties, DST-correct local times, initials only."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django_scopes import scopes_disabled

from clinical.tests.factories import PatientFactory
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import LocationFactory, sign_in
from scheduling import ical
from scheduling.models import CalendarFeed
from scheduling.tests import factories as sf

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)  # a week before the spring DST change in New York


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def clinician(make_member, practice_a):
    return make_member(practice_a, Role.CLINICIAN, email="dr@riverside.test", full_name="Dana Reyes")


@pytest.fixture
def location(practice_a):
    with scopes_disabled():
        return LocationFactory(practice=practice_a, name="Cedar Main", timezone="America/New_York")


def book(practice, clinician, location, starts_local: datetime, *, patient=None, minutes=45, **kwargs):
    with scopes_disabled():
        return sf.appointment_with_patient(
            practice,
            clinician=clinician,
            patient=patient,
            location=location,
            starts_at=starts_local.astimezone(UTC),
            ends_at=(starts_local + timedelta(minutes=minutes)).astimezone(UTC),
            **kwargs,
        )


def make_feed(clinician) -> str:
    with practice_scope(clinician.practice_id):
        _feed, token = ical.calendar_feed_create(clinician=clinician, by=clinician)
    return token


def fetch(token: str):
    return Client().get(reverse("ical_feed", kwargs={"token": token}))


def events_of(body: bytes) -> dict[str, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(body)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_feed_is_valid_rfc5545_with_every_property(practice_a, clinician, location):
    with scopes_disabled():
        patient = PatientFactory(
            practice=practice_a, primary_clinician=clinician, legal_first_name="Zebedee", legal_last_name="Quintrell"
        )
    before_dst = book(practice_a, clinician, location, datetime(2026, 3, 6, 10, 0, tzinfo=NY), patient=patient)
    after_dst = book(practice_a, clinician, location, datetime(2026, 3, 13, 10, 0, tzinfo=NY), patient=patient)
    cancelled = book(
        practice_a, clinician, location, datetime(2026, 3, 20, 10, 0, tzinfo=NY), status="cancelled", ical_sequence=2
    )
    token = make_feed(clinician)

    response = fetch(token)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content
    cal = icalendar.Calendar.from_ical(body)
    assert str(cal["VERSION"]) == "2.0" and "Tend" in str(cal["PRODID"])
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["America/New_York"]
    assert {c.name for c in cal.walk("VTIMEZONE")[0].subcomponents} == {"STANDARD", "DAYLIGHT"}
    events = events_of(body)
    assert set(events) == {f"{a.public_id}@tend" for a in (before_dst, after_dst, cancelled)}

    first = events[f"{before_dst.public_id}@tend"]
    assert first["DTSTART"].params["TZID"] == "America/New_York"
    assert first["DTSTART"].dt.replace(tzinfo=None) == datetime(2026, 3, 6, 10, 0)
    assert first["DTSTART"].dt.astimezone(UTC) == datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # EST, UTC-5
    assert first["DTEND"].dt.astimezone(UTC) == datetime(2026, 3, 6, 15, 45, tzinfo=UTC)
    assert str(first["STATUS"]) == "CONFIRMED"
    assert int(first["SEQUENCE"]) == 0
    assert first["DTSTAMP"].dt == NOW
    assert str(first["SUMMARY"]).startswith("ZQ")
    assert str(first["LOCATION"]) == "Cedar Main"

    second = events[f"{after_dst.public_id}@tend"]
    assert second["DTSTART"].dt.replace(tzinfo=None) == datetime(2026, 3, 13, 10, 0)
    assert second["DTSTART"].dt.astimezone(UTC) == datetime(2026, 3, 13, 14, 0, tzinfo=UTC)  # EDT, UTC-4

    gone = events[f"{cancelled.public_id}@tend"]
    assert str(gone["STATUS"]) == "CANCELLED" and int(gone["SEQUENCE"]) == 2

    text = body.decode()
    assert "Zebedee" not in text and "Quintrell" not in text and patient.mrn not in text
    assert "BEGIN:VTIMEZONE" in text and re.search(r"DTSTART;TZID=America/New_York:20260306T100000", text)


def test_uid_is_stable_and_sequence_follows_changes(practice_a, clinician, location):
    appointment = book(practice_a, clinician, location, datetime(2026, 3, 6, 10, 0, tzinfo=NY))
    token = make_feed(clinician)
    uid = f"{appointment.public_id}@tend"
    assert uid in events_of(fetch(token).content)
    with scopes_disabled():
        type(appointment).all_objects.filter(pk=appointment.pk).update(
            starts_at=datetime(2026, 3, 6, 16, 0, tzinfo=UTC),
            ends_at=datetime(2026, 3, 6, 16, 45, tzinfo=UTC),
            ical_sequence=1,
        )
    event = events_of(fetch(token).content)[uid]
    assert int(event["SEQUENCE"]) == 1 and event["DTSTART"].dt.astimezone(UTC).hour == 16


def test_feed_window_is_30_days_back_to_180_ahead(practice_a, clinician, location):
    inside_past = book(practice_a, clinician, location, datetime(2026, 2, 5, 10, 0, tzinfo=NY))
    book(practice_a, clinician, location, datetime(2026, 1, 20, 10, 0, tzinfo=NY))  # too old
    inside_future = book(practice_a, clinician, location, datetime(2026, 8, 20, 10, 0, tzinfo=NY))
    book(practice_a, clinician, location, datetime(2026, 9, 10, 10, 0, tzinfo=NY))  # too far
    assert set(events_of(fetch(make_feed(clinician)).content)) == {
        f"{inside_past.public_id}@tend",
        f"{inside_future.public_id}@tend",
    }


def test_feed_holds_only_that_clinicians_appointments(practice_a, practice_b, clinician, location, make_member):
    other = make_member(practice_a, Role.CLINICIAN, email="other@riverside.test")
    theirs = make_member(practice_b, Role.CLINICIAN, email="dr@harbor.test")
    mine = book(practice_a, clinician, location, datetime(2026, 3, 6, 10, 0, tzinfo=NY))
    book(practice_a, other, location, datetime(2026, 3, 6, 11, 0, tzinfo=NY))
    with scopes_disabled():
        book(practice_b, theirs, LocationFactory(practice=practice_b), datetime(2026, 3, 6, 10, 0, tzinfo=NY))
    assert set(events_of(fetch(make_feed(clinician)).content)) == {f"{mine.public_id}@tend"}


def test_group_session_shows_a_count_not_names(practice_a, clinician, location):
    with scopes_disabled():
        group = sf.AppointmentTypeFactory(practice=practice_a, name="DBT skills group", is_group=True, max_attendees=8)
        appointment = book(
            practice_a, clinician, location, datetime(2026, 3, 6, 18, 0, tzinfo=NY), appointment_type=group
        )
        # Fixed initials ("QZ") that cannot occur in the summary by chance (Faker's could: "DB" in "DBT").
        patient = PatientFactory(
            practice=practice_a, primary_clinician=clinician, legal_first_name="Quinn", legal_last_name="Zhou"
        )
        extra = sf.AttendeeFactory(appointment=appointment, patient=patient)
    event = events_of(fetch(make_feed(clinician)).content)[f"{appointment.public_id}@tend"]
    assert str(event["SUMMARY"]) == "DBT skills group (2 attending)"
    assert extra.patient.initials not in str(event["SUMMARY"])


def test_fetch_records_last_fetched_at_and_only_the_hash_is_stored(practice_a, clinician):
    token = make_feed(clinician)
    fetch(token)
    with scopes_disabled():
        feed = CalendarFeed.all_objects.get()
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert feed.last_fetched_at == NOW


def test_revoked_or_unknown_feed_is_404(practice_a, clinician):
    token = make_feed(clinician)
    with practice_scope(practice_a):
        feed = CalendarFeed.objects.get()
        ical.calendar_feed_revoke(feed=feed, by=clinician)
    assert fetch(token).status_code == 404
    assert fetch("not-a-token").status_code == 404


def test_feeds_page_shows_the_url_once_and_revokes(practice_a, clinician):
    client = sign_in(Client(), clinician)
    url = reverse("calendar_feeds", kwargs={"practice_slug": practice_a.slug})
    created = client.post(url).content.decode()
    match = re.search(r"/ical/([A-Za-z0-9_\-]+)\.ics", created)
    assert match, "the new feed URL is shown"
    token = match.group(1)
    assert fetch(token).status_code == 200
    assert token not in client.get(url).content.decode()
    with practice_scope(practice_a):
        feed = CalendarFeed.objects.get()
    revoke = reverse("calendar_feed_revoke", kwargs={"practice_slug": practice_a.slug, "feed_id": feed.public_id})
    assert client.post(revoke).status_code == 302
    assert fetch(token).status_code == 404


def test_a_clinician_cannot_revoke_a_colleagues_feed(practice_a, clinician, make_member):
    colleague = make_member(practice_a, Role.CLINICIAN, email="colleague@riverside.test")
    token = make_feed(colleague)
    with practice_scope(practice_a):
        feed = CalendarFeed.objects.get()
    client = sign_in(Client(), clinician)
    revoke = reverse("calendar_feed_revoke", kwargs={"practice_slug": practice_a.slug, "feed_id": feed.public_id})
    assert client.post(revoke).status_code == 404
    assert fetch(token).status_code == 200
