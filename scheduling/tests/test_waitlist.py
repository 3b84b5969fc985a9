"""Waitlist: matching, offering a freed slot (once), first acceptance wins, expiry, the public
offer page and the front-desk pages. Two practices in every world."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django_scopes import scopes_disabled

from clinical.tests.factories import CommunicationConsentFactory, PatientFactory
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import LocationFactory, sign_in
from scheduling import waitlist as wl
from scheduling.models import Appointment, WaitlistEntry, WaitlistOffer
from scheduling.tasks import waitlist_offer_freed_slot_task, waitlist_offers_expire_task
from scheduling.tests import factories as sf

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # a Monday
SLOT_START = datetime(2026, 6, 8, 10, 0, tzinfo=NY)  # the next Monday, 10:00 New York (EDT)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


class World:
    def __init__(self, practice, make_member):
        self.practice = practice
        self.front_desk = make_member(practice, Role.FRONT_DESK, email=f"desk@{practice.slug}.test")
        self.clinician = make_member(practice, Role.CLINICIAN, email=f"dr@{practice.slug}.test", full_name="Dana Reyes")
        self.other_clinician = make_member(practice, Role.CLINICIAN, email=f"dr2@{practice.slug}.test")
        with scopes_disabled():
            self.location = LocationFactory(
                practice=practice, name=f"Main {practice.slug}", timezone="America/New_York"
            )
            self.type45 = sf.AppointmentTypeFactory(practice=practice, name="Psychotherapy 45", duration_minutes=45)
            self.type60 = sf.AppointmentTypeFactory(practice=practice, name="Psychotherapy 60", duration_minutes=60)

    def patient(self, *, consent: str | None = "email", **kwargs):
        with scopes_disabled():
            patient = PatientFactory(practice=self.practice, primary_clinician=self.clinician, **kwargs)
            if consent:
                CommunicationConsentFactory(patient=patient, channel=consent, is_granted=True)
            return patient

    def entry(self, *, clinicians=(), created_days_ago: int = 0, **kwargs):
        with scopes_disabled():
            kwargs.setdefault("appointment_type", self.type45)
            kwargs.setdefault("patient", self.patient())
            entry = sf.WaitlistEntryFactory(practice=self.practice, added_by=self.front_desk, **kwargs)
            entry.clinicians.set(clinicians)
            if created_days_ago:
                WaitlistEntry.all_objects.filter(pk=entry.pk).update(created_at=NOW - timedelta(days=created_days_ago))
            return entry

    def freed(self, *, starts_at=SLOT_START, minutes=45, status="cancelled"):
        with scopes_disabled():
            return sf.appointment_with_patient(
                self.practice,
                clinician=self.clinician,
                appointment_type=self.type45,
                location=self.location,
                starts_at=starts_at.astimezone(UTC),
                ends_at=(starts_at + timedelta(minutes=minutes)).astimezone(UTC),
                status=status,
            )


@pytest.fixture
def world(practice_a, make_member):
    return World(practice_a, make_member)


@pytest.fixture
def world_b(practice_b, make_member):
    return World(practice_b, make_member)


@pytest.fixture
def tokens(monkeypatch):
    """Deterministic offer tokens, so a test can act as the patient who got the link."""
    issued: list[str] = []

    def make(nbytes=32):
        issued.append(f"tok-{len(issued) + 1}-{'x' * 20}")
        return issued[-1]

    monkeypatch.setattr(wl.secrets, "token_urlsafe", make)
    return issued


def offer_slot(world, appointment) -> list[WaitlistOffer]:
    with practice_scope(world.practice):
        return wl.waitlist_offer_freed_slot(appointment_id=appointment.pk)


# --- Matching -----------------------------------------------------------------------------------


def test_matches_rank_by_priority_then_oldest(world):
    late_high = world.entry(priority=1, created_days_ago=1)
    old_normal = world.entry(priority=3, created_days_ago=30)
    new_normal = world.entry(priority=3, created_days_ago=2)
    slot = wl.FreedSlot(world.clinician, world.location, SLOT_START, SLOT_START + timedelta(minutes=45))
    with practice_scope(world.practice):
        assert [e.pk for e in wl.waitlist_matches(slot)] == [late_high.pk, old_normal.pk, new_normal.pk]


def test_matches_respect_clinician_weekday_time_window_type_and_location(world):
    w = world
    anyone = w.entry()
    mine = w.entry(clinicians=[w.clinician])
    w.entry(clinicians=[w.other_clinician])  # another clinician only
    mondays = w.entry(weekdays=[0])
    w.entry(weekdays=[1, 2])  # not Mondays
    window = w.entry(earliest_time=time(9, 30), latest_time=time(11, 0))
    w.entry(earliest_time=time(13, 0))  # afternoons only
    w.entry(latest_time=time(10, 30))  # the session would end at 10:45
    w.entry(appointment_type=w.type60)  # 60 minutes do not fit a 45-minute slot
    here = w.entry(location=w.location)
    with scopes_disabled():
        w.entry(location=LocationFactory(practice=w.practice, name="Elsewhere"))
        w.entry(status=WaitlistEntry.Status.REMOVED)
        w.entry(status=WaitlistEntry.Status.BOOKED)
    slot = wl.FreedSlot(w.clinician, w.location, SLOT_START, SLOT_START + timedelta(minutes=45))
    with practice_scope(w.practice):
        got = {e.pk for e in wl.waitlist_matches(slot)}
    assert got == {anyone.pk, mine.pk, mondays.pk, window.pk, here.pk}


def test_weekday_is_judged_in_the_locations_zone(world):
    # Monday 22:30 in New York is already Tuesday in UTC
    late = datetime(2026, 6, 8, 22, 30, tzinfo=NY)
    monday = world.entry(weekdays=[0])
    world.entry(weekdays=[1])
    slot = wl.FreedSlot(world.clinician, world.location, late, late + timedelta(minutes=45))
    with practice_scope(world.practice):
        assert [e.pk for e in wl.waitlist_matches(slot)] == [monday.pk]


def test_matches_skip_patients_already_booked_then_and_other_practices(world, world_b):
    busy_patient = world.patient()
    world.entry(patient=busy_patient)
    with scopes_disabled():
        sf.appointment_with_patient(
            world.practice,
            clinician=world.other_clinician,
            patient=busy_patient,
            starts_at=SLOT_START.astimezone(UTC),
            ends_at=(SLOT_START + timedelta(minutes=45)).astimezone(UTC),
        )
    world_b.entry()
    free = world.entry()
    slot = wl.FreedSlot(world.clinician, world.location, SLOT_START, SLOT_START + timedelta(minutes=45))
    with practice_scope(world.practice):
        assert [e.pk for e in wl.waitlist_matches(slot)] == [free.pk]


# --- Offering a freed slot ----------------------------------------------------------------------


def test_freed_slot_goes_to_the_top_three_once(world, tokens):
    entries = [world.entry(priority=p) for p in (4, 1, 2, 3)]
    appointment = world.freed()
    waitlist_offer_freed_slot_task.delay(practice_id=world.practice.pk, appointment_id=appointment.pk)
    waitlist_offer_freed_slot_task.delay(practice_id=world.practice.pk, appointment_id=appointment.pk)
    with practice_scope(world.practice):
        offers = list(WaitlistOffer.objects.order_by("id"))
        assert [o.entry_id for o in offers] == [entries[1].pk, entries[2].pk, entries[3].pk]
        assert all(o.status == WaitlistOffer.Status.SENT for o in offers)
        assert all(o.expires_at == NOW + timedelta(minutes=120) for o in offers)
        assert {o.token_hash for o in offers} == {hashlib.sha256(t.encode()).hexdigest() for t in tokens}
        assert set(WaitlistEntry.objects.filter(status="offered").values_list("pk", flat=True)) == {
            entries[1].pk,
            entries[2].pk,
            entries[3].pk,
        }
        assert WaitlistEntry.objects.get(pk=entries[0].pk).status == WaitlistEntry.Status.WAITING


def test_offer_lifetime_follows_the_practice_setting(world, tokens):
    with scopes_disabled():
        sf.SchedulingSettingsFactory(practice=world.practice, waitlist_offer_minutes=30)
    world.entry()
    (offer,) = offer_slot(world, world.freed())
    assert offer.expires_at == NOW + timedelta(minutes=30)


def test_offer_message_carries_the_link_and_logistics_only(world, tokens):
    from notifications.models import Message

    patient = world.patient(consent="sms", legal_first_name="Zebedee", legal_last_name="Quintrell")
    world.entry(patient=patient)
    offer_slot(world, world.freed())
    with practice_scope(world.practice):
        message = Message.objects.get(template_key="waitlist_offer")
    assert message.channel == "sms"
    assert f"/offers/{tokens[0]}/" in message.body
    assert "Quintrell" not in message.body
    assert "June 8" in message.body and "10:00" in message.body


def test_email_is_used_without_sms_consent(world, tokens):
    from notifications.models import Message

    world.entry(patient=world.patient(consent="email"))
    offer_slot(world, world.freed())
    with practice_scope(world.practice):
        assert Message.objects.get(template_key="waitlist_offer").channel == "email"


def test_no_offer_for_a_slot_in_the_past_or_booked_again_or_still_active(world):
    world.entry()
    past = world.freed(starts_at=datetime(2026, 5, 25, 10, 0, tzinfo=NY))
    assert offer_slot(world, past) == []
    active = world.freed(starts_at=datetime(2026, 6, 9, 10, 0, tzinfo=NY), status="scheduled")
    assert offer_slot(world, active) == []
    freed = world.freed()
    world.freed(status="scheduled")  # the front desk re-booked the time already
    assert offer_slot(world, freed) == []


def test_task_with_another_practice_touches_nothing(world, world_b):
    world.entry()
    appointment = world.freed()
    waitlist_offer_freed_slot_task.delay(practice_id=world_b.practice.pk, appointment_id=appointment.pk)
    with scopes_disabled():
        assert WaitlistOffer.all_objects.count() == 0


# --- Accepting, declining, expiry ---------------------------------------------------------------


def test_first_acceptance_books_and_the_others_are_left_waiting(world, tokens):
    first, second, third = world.entry(priority=1), world.entry(priority=2), world.entry(priority=3)
    freed = world.freed()
    offer_slot(world, freed)
    with practice_scope(world.practice):
        outcome = wl.waitlist_offer_accept(token=tokens[1])
        assert outcome.result == "accepted"
        offers = {o.entry_id: o for o in WaitlistOffer.objects.all()}
        assert offers[second.pk].status == WaitlistOffer.Status.ACCEPTED
        assert offers[first.pk].status == offers[third.pk].status == WaitlistOffer.Status.TAKEN
        booked = offers[second.pk].booked_appointment
        assert booked.starts_at == freed.starts_at and booked.clinician_id == world.clinician.pk
        assert booked.status == Appointment.Status.SCHEDULED
        assert [a.patient_id for a in booked.attendees.all()] == [second.patient_id]
        statuses = dict(WaitlistEntry.objects.values_list("pk", "status"))
        assert statuses == {first.pk: "waiting", second.pk: "booked", third.pk: "waiting"}
        # the second acceptance: a clear "taken"
        assert wl.waitlist_offer_accept(token=tokens[0]).result == "taken"
        assert Appointment.objects.filter(status="scheduled", starts_at=freed.starts_at).count() == 1


def test_the_others_are_told_the_slot_is_taken(world, tokens):
    from notifications.models import Message

    first, _second, third = world.entry(priority=1), world.entry(priority=2), world.entry(priority=3)
    offer_slot(world, world.freed())
    with practice_scope(world.practice):
        wl.waitlist_offer_accept(token=tokens[1])
        taken = Message.objects.filter(template_key="waitlist_taken")
        assert sorted(taken.values_list("patient_id", flat=True)) == sorted([first.patient_id, third.patient_id])
        assert all("taken" in m.body for m in taken)


def test_accepting_twice_is_harmless(world, tokens):
    world.entry()
    offer_slot(world, world.freed())
    with practice_scope(world.practice):
        assert wl.waitlist_offer_accept(token=tokens[0]).result == "accepted"
        assert wl.waitlist_offer_accept(token=tokens[0]).result == "accepted"
        assert Appointment.objects.filter(status="scheduled").count() == 1


def test_slot_booked_meanwhile_makes_the_offer_taken(world, tokens):
    world.entry()
    freed = world.freed()
    offer_slot(world, freed)
    with scopes_disabled():
        sf.appointment_with_patient(
            world.practice, clinician=world.clinician, starts_at=freed.starts_at, ends_at=freed.ends_at
        )
    with practice_scope(world.practice):
        assert wl.waitlist_offer_accept(token=tokens[0]).result == "taken"
        assert WaitlistOffer.objects.get().status == WaitlistOffer.Status.TAKEN
        assert WaitlistEntry.objects.get().status == WaitlistEntry.Status.WAITING


def test_expired_offer_cannot_be_accepted(world, tokens):
    world.entry()
    offer_slot(world, world.freed())
    with time_machine.travel(NOW + timedelta(minutes=121), tick=False), practice_scope(world.practice):
        assert wl.waitlist_offer_accept(token=tokens[0]).result == "expired"
        assert WaitlistOffer.objects.get().status == WaitlistOffer.Status.EXPIRED
        assert not Appointment.objects.filter(status="scheduled").exists()


def test_expiry_task_moves_the_slot_to_the_next_matches(world, tokens):
    entries = [world.entry(priority=p) for p in (1, 2, 3, 4, 5)]
    offer_slot(world, world.freed())
    with time_machine.travel(NOW + timedelta(minutes=121), tick=False):
        waitlist_offers_expire_task.delay()
        waitlist_offers_expire_task.delay()  # a second run changes nothing more
    with practice_scope(world.practice):
        by_entry = {o.entry_id: o.status for o in WaitlistOffer.objects.all()}
        statuses = dict(WaitlistEntry.objects.values_list("pk", "status"))
    assert [by_entry[e.pk] for e in entries] == ["expired", "expired", "expired", "sent", "sent"]
    assert [statuses[e.pk] for e in entries] == ["waiting", "waiting", "waiting", "offered", "offered"]


def test_decline_offers_the_slot_to_the_next_match(world, tokens):
    entries = [world.entry(priority=p) for p in (1, 2, 3, 4)]
    offer_slot(world, world.freed())
    with practice_scope(world.practice):
        assert wl.waitlist_offer_decline(token=tokens[0]).result == "declined"
        by_entry = {o.entry_id: o.status for o in WaitlistOffer.objects.all()}
        assert by_entry == {
            entries[0].pk: "declined",
            entries[1].pk: "sent",
            entries[2].pk: "sent",
            entries[3].pk: "sent",
        }
        assert WaitlistEntry.objects.get(pk=entries[0].pk).status == "waiting"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL; SQLite runs it sequentially")
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_acceptances_book_once_postgres(practice_a, make_member, tokens):
    world = World(practice_a, make_member)
    world.entry(priority=1)
    world.entry(priority=2)
    offer_slot(world, world.freed())
    barrier = threading.Barrier(2)
    results: list[str] = []

    def accept(token):
        try:
            barrier.wait()
            with practice_scope(practice_a.pk):
                results.append(wl.waitlist_offer_accept(token=token).result)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accept, args=(t,)) for t in tokens[:2]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["accepted", "taken"]
    with practice_scope(practice_a):
        assert Appointment.objects.filter(status="scheduled").count() == 1
        assert sorted(WaitlistOffer.objects.values_list("status", flat=True)) == ["accepted", "taken"]


def test_two_acceptances_in_turn_book_once(world, tokens):
    world.entry(priority=1)
    world.entry(priority=2)
    offer_slot(world, world.freed())
    with practice_scope(world.practice):
        results = [wl.waitlist_offer_accept(token=t).result for t in tokens[:2]]
        assert results == ["accepted", "taken"]
        assert Appointment.objects.filter(status="scheduled").count() == 1


# --- The public offer page ----------------------------------------------------------------------


def test_offer_page_shows_the_slot_and_nothing_about_patients(world, tokens):
    patient = world.patient(legal_first_name="Zebedee", legal_last_name="Quintrell")
    world.entry(patient=patient)
    offer_slot(world, world.freed())
    page = Client().get(reverse("waitlist_offer_respond", kwargs={"token": tokens[0]}))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Monday, June 8, 2026" in body and "10:00 AM" in body and "Dana Reyes" in body
    assert "Quintrell" not in body and "Zebedee" not in body and patient.mrn not in body
    assert 'value="accept"' in body and 'value="decline"' in body


def test_offer_page_accepts_and_then_says_it_is_taken(world, tokens):
    world.entry(priority=1)
    world.entry(priority=2)
    offer_slot(world, world.freed())
    client = Client()
    url0 = reverse("waitlist_offer_respond", kwargs={"token": tokens[0]})
    url1 = reverse("waitlist_offer_respond", kwargs={"token": tokens[1]})
    accepted = client.post(url0, {"action": "accept"})
    assert accepted.status_code == 200 and "You're booked" in accepted.content.decode()
    taken = client.get(url1).content.decode()
    assert "already been taken" in taken and 'value="accept"' not in taken
    assert "already been taken" in client.post(url1, {"action": "accept"}).content.decode()


def test_offer_page_takes_the_browsers_origin_null_post(world, tokens):
    """The page's `Referrer-Policy: no-referrer` makes browsers post with `Origin: null`."""
    world.entry()
    offer_slot(world, world.freed())
    strict = Client(enforce_csrf_checks=True)
    url = reverse("waitlist_offer_respond", kwargs={"token": tokens[0]})
    accepted = strict.post(url, {"action": "accept"}, HTTP_ORIGIN="null")
    assert accepted.status_code == 200 and "You're booked" in accepted.content.decode()


def test_offer_page_unknown_token_is_404(world):
    assert Client().get("/offers/not-a-real-token/").status_code == 404
    assert Client().post("/offers/not-a-real-token/", {"action": "accept"}).status_code == 404


def test_expired_offer_page(world, tokens):
    world.entry()
    offer_slot(world, world.freed())
    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        body = Client().get(f"/offers/{tokens[0]}/").content.decode()
    assert "expired" in body and 'value="accept"' not in body


# --- Front-desk pages ---------------------------------------------------------------------------


def test_waitlist_page_lists_by_priority_with_bounded_queries(world, world_b, django_assert_max_num_queries):
    for p in (3, 1, 2, 5, 4):
        world.entry(priority=p, clinicians=[world.clinician])
    theirs = world_b.entry()
    client = sign_in(Client(), world.front_desk)
    url = reverse("waitlist", kwargs={"practice_slug": world.practice.slug})
    with django_assert_max_num_queries(25):
        page = client.get(url)
    body = page.content.decode()
    assert page.status_code == 200
    with scopes_disabled():
        names = [
            e.patient.display_name
            for e in WaitlistEntry.all_objects.filter(practice=world.practice).order_by("priority")
        ]
    positions = [body.index(n) for n in names]
    assert positions == sorted(positions)
    assert theirs.patient.display_name not in body


def test_waitlist_filters(world):
    high = world.entry(priority=1)
    low = world.entry(priority=5, appointment_type=world.type60)
    client = sign_in(Client(), world.front_desk)
    url = reverse("waitlist", kwargs={"practice_slug": world.practice.slug})
    body = client.get(url, {"priority": 1}).content.decode()
    assert high.patient.display_name in body and low.patient.display_name not in body
    with scopes_disabled():
        type_id = world.type60.pk
    body = client.get(url, {"appointment_type": type_id}).content.decode()
    assert low.patient.display_name in body and high.patient.display_name not in body


def test_front_desk_adds_and_removes_an_entry(world):
    patient = world.patient()
    client = sign_in(Client(), world.front_desk)
    with scopes_disabled():
        data = {
            "patient": patient.pk,
            "appointment_type": world.type45.pk,
            "clinicians": [world.clinician.pk],
            "weekdays": ["0", "2"],
            "earliest_time": "09:00",
            "latest_time": "12:00",
            "priority": "2",
            "notes": "Mornings",
        }
    response = client.post(reverse("waitlist_entry_new", kwargs={"practice_slug": world.practice.slug}), data)
    assert response.status_code == 302
    with practice_scope(world.practice):
        entry = WaitlistEntry.objects.get()
        assert entry.weekdays == [0, 2] and entry.priority == 2 and entry.added_by == world.front_desk
        assert list(entry.clinicians.all()) == [world.clinician]
    edit_url = reverse("waitlist_entry", kwargs={"practice_slug": world.practice.slug, "entry_id": entry.public_id})
    assert client.get(edit_url).status_code == 200
    data.pop("patient")
    response = client.post(edit_url, {**data, "is_removed": "on"})
    assert response.status_code == 302
    with practice_scope(world.practice):
        assert WaitlistEntry.objects.get().status == WaitlistEntry.Status.REMOVED


def test_entry_form_rejects_an_inverted_time_window(world):
    patient = world.patient()
    client = sign_in(Client(), world.front_desk)
    with scopes_disabled():
        data = {"patient": patient.pk, "appointment_type": world.type45.pk, "priority": "3"}
    response = client.post(
        reverse("waitlist_entry_new", kwargs={"practice_slug": world.practice.slug}),
        {**data, "earliest_time": "15:00", "latest_time": "09:00"},
    )
    assert response.status_code == 200
    assert "earliest time must be before" in response.content.decode()
    with practice_scope(world.practice):
        assert not WaitlistEntry.objects.exists()


def test_service_refuses_another_practices_patient(world, world_b):
    from practice.errors import DomainError

    with practice_scope(world.practice), pytest.raises(DomainError):
        wl.waitlist_entry_create(by=world.front_desk, patient=world_b.patient(), appointment_type=world.type45)
