"""50 bookings of one slot at the same instant (issue 10): exactly one appointment, 49 clear refusals,
and nothing else written — no orphan attendee, status change or portal event, no audit row of a
rolled-back write (the hash chains still verify), no reminder but the winner's.

Each path is the real one: the scheduling service the front desk's form calls, the portal's
self-scheduling service, and POST /api/v1/appointments/ through the full request stack. Every thread
has its own PostgreSQL connection and waits at a barrier so the 50 writes start together.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from clinical.tests.factories import PatientFactory
from integrations.models import WebhookDelivery
from integrations.tests.factories import WebhookEndpointFactory
from notifications.models import Reminder
from notifications.services import notification_settings_get
from portal import services_booking as portal_booking
from portal.models import PortalAppointmentEvent
from portal.tests.factories import PortalAccessFactory
from portal.tests.test_booking_rules import make_world
from practice import services as practice_services
from practice.audit import ChainBreak, verify_chains
from practice.errors import DomainError
from practice.models import AuditLogEntry
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import LocationFactory
from scheduling import services
from scheduling.models import Appointment, Attendee, StatusChange
from scheduling.services import AppointmentConflict
from scheduling.tests.factories import AppointmentTypeFactory, RoomFactory, next_weekday_at
from tests.failure.racing import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="SQLite serialises writers; the race needs PostgreSQL's row locks"
    ),
    pytest.mark.django_db(transaction=True),
]

THREADS = 50


def assert_one_booking_and_nothing_else(practice, winner: Appointment) -> None:
    """The winner and its own rows are the only writes the race left behind."""
    with scopes_disabled():
        assert list(Appointment.objects.filter(practice=practice).values_list("pk", flat=True)) == [winner.pk]
        assert Attendee.objects.filter(practice=practice).exclude(appointment=winner).count() == 0
        assert Attendee.objects.filter(appointment=winner).count() == 1
        changes = StatusChange.objects.filter(practice=practice)
        assert list(changes.values_list("appointment_id", "to_status")) == [(winner.pk, "scheduled")]
        # audit rows: one "create" for the winner, and none for the 49 rolled-back inserts (every
        # logged object exists)
        appointment_ct = ContentType.objects.get_for_model(Appointment)
        logged = AuditLogEntry.all_objects.filter(practice=practice, content_type=appointment_ct)
        assert list(logged.values_list("object_pk", "action")) == [(str(winner.pk), 0)]
        for entry in AuditLogEntry.all_objects.filter(practice=practice).select_related("content_type"):
            model = entry.content_type.model_class()
            assert model._base_manager.filter(pk=entry.object_pk).exists(), (model, entry.object_pk)
        # reminders were synced on commit for the winner only
        assert Reminder.objects.filter(practice=practice).exists()
        assert Reminder.objects.filter(practice=practice).exclude(appointment=winner).count() == 0
    breaks = [item for item in verify_chains() if isinstance(item, ChainBreak)]
    assert breaks == []


def split(results: list[object], winner_type: type) -> tuple[list, list, list]:
    won = [r for r in results if isinstance(r, winner_type)]
    refused = [r for r in results if isinstance(r, DomainError)]
    other = [r for r in results if not isinstance(r, winner_type | DomainError)]
    return won, refused, other


@pytest.fixture
def queued_webhooks(monkeypatch) -> list[int]:
    """Webhook deliveries queued on commit (recorded, not sent: the endpoint is not listening)."""
    from integrations import webhooks

    queued: list[int] = []

    def record_on_commit(practice_id: int, delivery_ids: list[int]) -> None:
        transaction.on_commit(lambda: queued.extend(delivery_ids))

    monkeypatch.setattr(webhooks, "_queue_on_commit", record_on_commit)
    return queued


@pytest.fixture
def desk_world(practice_a, practice_b, make_member, queued_webhooks):
    desk = make_member(practice_a, Role.FRONT_DESK)
    clinician = make_member(practice_a, Role.CLINICIAN)
    with scopes_disabled():
        location = LocationFactory(practice=practice_a, timezone="America/New_York")
        appointment_type = AppointmentTypeFactory(practice=practice_a, duration_minutes=45)
        patients = [PatientFactory(practice=practice_a, primary_clinician=clinician) for _ in range(THREADS)]
        # an endpoint subscribed to appointment events: a loser must not queue a delivery either
        WebhookEndpointFactory(practice=practice_a)
    with practice_scope(practice_a):
        notification_settings_get(practice_id=practice_a.pk)  # default reminder rules
    return {
        "practice": practice_a,
        "desk": desk,
        "clinician": clinician,
        "location": location,
        "type": appointment_type,
        "patients": patients,
        "slot": next_weekday_at(15, days_ahead=10),
        "queued_webhooks": queued_webhooks,
    }


def _desk_book(w, index: int, *, patient, clinician=None, room=None, minutes: int = 0) -> Appointment:
    with practice_scope(w["practice"].pk):
        return services.appointment_book(
            by=w["desk"],
            clinician=clinician or w["clinician"],
            appointment_type=w["type"],
            starts_at=w["slot"] + timedelta(minutes=minutes),
            patients=[patient],
            location=w["location"],
            room=room,
        )


def test_fifty_desk_bookings_of_one_patient_in_one_slot_make_one_appointment(desk_world):
    """Fifty clicks of "Book" for the same patient, clinician and time (a double-submitting form,
    several desks at once)."""
    w = desk_world
    patient = w["patients"][0]
    results = race(THREADS, lambda i: _desk_book(w, i, patient=patient))
    won, refused, other = split(results, Appointment)
    assert other == []
    assert len(won) == 1 and len(refused) == THREADS - 1
    assert all(isinstance(r, AppointmentConflict) and r.code == "conflict" for r in refused)
    # whether the loser saw the winner in its check or hit the exclusion constraint, it names it
    assert {r.conflicting.pk for r in refused} == {won[0].pk}
    assert_one_booking_and_nothing_else(w["practice"], won[0])
    _assert_one_webhook_delivery(w, won[0])


def test_fifty_patients_cannot_double_book_one_clinician(desk_world):
    """A different patient in each thread, starts staggered by a few minutes: only the clinician's
    calendar collides, and it still holds one appointment."""
    w = desk_world
    results = race(THREADS, lambda i: _desk_book(w, i, patient=w["patients"][i], minutes=i % 7))
    won, refused, other = split(results, Appointment)
    assert other == []
    assert len(won) == 1 and len(refused) == THREADS - 1
    assert all(isinstance(r, AppointmentConflict) for r in refused)
    assert {r.conflicting.pk for r in refused} == {won[0].pk}
    assert_one_booking_and_nothing_else(w["practice"], won[0])


def test_fifty_clinicians_cannot_double_book_one_room(desk_world, make_member):
    """Rooms are exclusive: fifty clinicians, fifty patients, one room, one hour."""
    w = desk_world
    clinicians = [make_member(w["practice"], Role.CLINICIAN) for _ in range(THREADS)]
    with scopes_disabled():
        room = RoomFactory(practice=w["practice"], location=w["location"])
    results = race(
        THREADS,
        lambda i: _desk_book(w, i, patient=w["patients"][i], clinician=clinicians[i], room=room, minutes=i % 5),
    )
    won, refused, other = split(results, Appointment)
    assert other == []
    assert len(won) == 1 and len(refused) == THREADS - 1
    assert {r.conflicting.pk for r in refused} == {won[0].pk}
    assert_one_booking_and_nothing_else(w["practice"], won[0])


def test_fifty_portal_patients_booking_one_open_slot_get_one_appointment(practice_a, practice_b, make_member):
    world = make_world(practice_a, make_member)
    with scopes_disabled():
        accesses = [world.access] + [
            PortalAccessFactory(practice=practice_a, patient__primary_clinician=world.clinician)
            for _ in range(THREADS - 1)
        ]
    with practice_scope(practice_a):
        notification_settings_get(practice_id=practice_a.pk)
    slot = world.slots()[0]

    def attempt(index: int) -> Appointment:
        with practice_scope(practice_a.pk), timezone.override(practice_a.timezone):
            return portal_booking.portal_appointment_book(
                access=accesses[index],
                appointment_type=world.atype,
                clinician=world.clinician,
                starts_at=slot.starts_at,
                location=slot.location,
            )

    results = race(THREADS, attempt)
    won, refused, other = split(results, Appointment)
    assert other == []
    assert len(won) == 1 and len(refused) == THREADS - 1
    # the patient is told the slot went, on the time field of the form
    assert {(r.message, r.field) for r in refused} == {(portal_booking.TAKEN, "starts_at")}
    assert_one_booking_and_nothing_else(practice_a, won[0])
    with scopes_disabled():
        assert list(
            PortalAppointmentEvent.objects.filter(practice=practice_a).values_list("appointment_id", flat=True)
        ) == [won[0].pk]


def test_fifty_api_bookings_of_one_slot_answer_one_201_and_49_409s(desk_world):
    w = desk_world
    # one API client (and token) per thread: fifty separate integrations hitting the endpoint
    clients = []
    for _ in range(THREADS):
        _token, raw = practice_services.api_token_issue(membership=w["desk"])
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        clients.append(client)
    url = reverse("api_appointment_list")

    def attempt(index: int):
        body = {
            "clinician": str(w["clinician"].public_id),
            "appointment_type": str(w["type"].public_id),
            "starts_at": (w["slot"] + timedelta(minutes=index % 7)).isoformat(),
            "patients": [str(w["patients"][index].public_id)],
            "location": str(w["location"].public_id),
        }
        return clients[index].post(url, body, format="json")

    responses = race(THREADS, attempt)
    assert [r for r in responses if isinstance(r, Exception)] == []
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * (THREADS - 1), [r.content for r in responses if r.status_code not in (201, 409)]
    created = next(r.json() for r in responses if r.status_code == 201)
    with scopes_disabled():
        winner = Appointment.objects.get(public_id=created["id"])
    for response in (r for r in responses if r.status_code == 409):
        error = response.json()["error"]
        assert error["code"] == "conflict" and error["message"]
        assert error["conflicting_appointment"] == created["id"]
    assert_one_booking_and_nothing_else(w["practice"], winner)


def _assert_one_webhook_delivery(w, winner: Appointment) -> None:
    """One appointment.created delivery, for the winner, and only it was queued on commit."""
    with scopes_disabled():
        delivery = WebhookDelivery.objects.get(practice=w["practice"])
    assert delivery.event_type == "appointment.created"
    assert delivery.payload["data"]["id"] == str(winner.public_id)
    assert w["queued_webhooks"] == [delivery.pk]
