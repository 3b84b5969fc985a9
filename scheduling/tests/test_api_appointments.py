"""Scheduling API, appointments beyond test_api.py: location filter and ordering, the calendar's
visibility rules, every booking rule as a 400/409 that changes nothing, check-in (one attendee of
a group), attendee status, who may write, and a query count that does not grow with the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from practice.models import AccessEvent
from practice.permissions import Role
from practice.tests.factories import LocationFactory
from scheduling.models import Appointment, AppointmentType, Attendee, StatusChange
from scheduling.tests import test_services as base
from scheduling.tests.factories import AppointmentTypeFactory, RoomFactory, appointment_with_patient
from scheduling.tests.test_api import _booking, _client
from scheduling.tests.test_services import SLOT

world = base.world  # "now" is 2026-06-01 12:00 UTC; SLOT is 2026-06-10 15:00 UTC

LIST = "api_appointment_list"


@pytest.fixture
def api(world):
    return _client(world.desk)


def _book(api, world, **overrides):
    response = api.post(reverse(LIST), _booking(world, **overrides), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _snapshot():
    with scopes_disabled():
        return sorted(
            Appointment.all_objects.values_list("public_id", "starts_at", "status", "clinician_id", "room_id")
        ), sorted(Attendee.all_objects.values_list("public_id", "status"))


# --- lists ------------------------------------------------------------------------------------


def test_list_filters_by_location_and_status_and_orders_either_way(world, api):
    with scopes_disabled():
        elsewhere = LocationFactory(practice=world.practice, timezone="America/New_York")
    first = _book(api, world)
    second = _book(api, world, starts_at=(SLOT + timedelta(days=1)).isoformat(), location=str(elsewhere.public_id))
    third = _book(api, world, starts_at=(SLOT + timedelta(days=2)).isoformat())
    api.post(reverse("api_appointment_status", kwargs={"public_id": third["id"]}), {"status": "confirmed"})
    url = reverse(LIST)

    def ids(**params):
        response = api.get(url, params)
        assert response.status_code == 200, response.content
        return [a["id"] for a in response.json()["results"]]

    assert ids() == [first["id"], second["id"], third["id"]]
    assert ids(ordering="-starts_at") == [third["id"], second["id"], first["id"]]
    assert ids(location=str(world.location.public_id)) == [first["id"], third["id"]]
    assert ids(location=str(elsewhere.public_id)) == [second["id"]]
    assert ids(status="confirmed") == [third["id"]]
    assert ids(status="confirmed", location=str(elsewhere.public_id)) == []
    bad = api.get(url, {"ordering": "patient"})
    assert bad.status_code == 400 and "ordering" in bad.json()["error"]["fields"]
    with scopes_disabled():
        theirs = LocationFactory(practice=world.other)
    assert api.get(url, {"location": str(theirs.public_id)}).status_code == 404


def test_a_clinician_sees_the_whole_calendar_but_filters_only_by_their_own_patients(world):
    """The calendar shows every clinician's appointments to anyone who may view the schedule; a
    patient filter (like the chart) only reaches patients on the caller's caseload."""
    with scopes_disabled():
        colleagues = appointment_with_patient(world.practice, clinician=world.clinician)  # their patient
    other = _client(world.clinician2)
    body = other.get(reverse(LIST)).json()
    assert [a["id"] for a in body["results"]] == [str(colleagues.public_id)]
    with scopes_disabled():
        patient = colleagues.attendees.get().patient
    response = other.get(reverse(LIST), {"patient": str(patient.public_id)})
    assert response.status_code == 404
    own = _client(world.clinician).get(reverse(LIST), {"patient": str(patient.public_id)})
    assert [a["id"] for a in own.json()["results"]] == [str(colleagues.public_id)]


def test_list_query_count_is_the_same_for_3_and_30_rows(world, api, django_assert_max_num_queries):
    def add(start: int, stop: int) -> None:
        with scopes_disabled():
            for n in range(start, stop):
                starts_at = SLOT + timedelta(hours=n)
                appointment_with_patient(
                    world.practice,
                    clinician=world.clinician,
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=45),
                )

    def count_queries(rows: int) -> int:
        with django_assert_max_num_queries(12), CaptureQueriesContext(connection) as captured:
            body = api.get(reverse(LIST)).json()
        assert body["count"] == rows and len(body["results"]) == rows
        return len(captured)

    add(0, 3)
    api.get(reverse(LIST))  # warm-up: the token's last-used touch happens once a while
    small = count_queries(3)
    add(3, 30)
    assert count_queries(30) == small


# --- booking rules: 400 with the field or 409, nothing written ---------------------------------


def _refused(api, world, expected_status, field=None, **overrides):
    before = _snapshot()
    response = api.post(reverse(LIST), _booking(world, **overrides), format="json")
    assert response.status_code == expected_status, response.content
    error = response.json()["error"]
    if field:
        assert field in error["fields"], error
    assert _snapshot() == before
    return error


def test_each_booking_rule_is_a_400_naming_the_field(world, api):
    with scopes_disabled():
        retired = AppointmentTypeFactory(practice=world.practice, is_active=False)
        video = AppointmentTypeFactory(practice=world.practice, modality=AppointmentType.Modality.TELEHEALTH)
        elsewhere = LocationFactory(practice=world.practice)
        room_elsewhere = RoomFactory(practice=world.practice, location=elsewhere)
    _refused(api, world, 400, "appointment_type", appointment_type=str(retired.public_id))
    _refused(api, world, 400, "is_telehealth", appointment_type=str(video.public_id))
    _refused(api, world, 400, "room", room=str(room_elsewhere.public_id))
    _refused(api, world, 400, "clinician", clinician=str(world.desk.public_id))  # not a clinician
    _refused(api, world, 400, "telehealth_url", is_telehealth=True, telehealth_url="http://meet.example.org/x")
    too_many = [str(p.public_id) for p in (world.patient, world.patient2, world.patient3)]
    with scopes_disabled():
        world.group_type.max_attendees = 2
        world.group_type.save()
    _refused(api, world, 400, "patients", appointment_type=str(world.group_type.public_id), patients=too_many)
    _refused(api, world, 400, "starts_at", starts_at="next tuesday")
    _refused(api, world, 400, "patients", patients=[])


def test_double_bookings_are_409_and_write_nothing(world, api):
    with scopes_disabled():
        room = RoomFactory(practice=world.practice, location=world.location)
    first = _book(api, world, room=str(room.public_id))
    # the clinician is busy
    error = _refused(api, world, 409, patients=[str(world.patient2.public_id)])
    assert error["conflicting_appointment"] == first["id"]
    # the patient is busy with another clinician
    error = _refused(api, world, 409, clinician=str(world.clinician2.public_id))
    assert error["conflicting_appointment"] == first["id"]
    # the room is busy
    error = _refused(
        api,
        world,
        409,
        clinician=str(world.clinician2.public_id),
        patients=[str(world.patient2.public_id)],
        room=str(room.public_id),
    )
    assert error["conflicting_appointment"] == first["id"]


def test_moves_and_status_changes_that_break_a_rule_change_nothing(world, api):
    appointment = _book(api, world)
    kwargs = {"public_id": appointment["id"]}
    before = _snapshot()
    backwards = api.post(
        reverse("api_appointment_reschedule", kwargs=kwargs),
        {"starts_at": (SLOT + timedelta(hours=2)).isoformat(), "ends_at": (SLOT + timedelta(hours=1)).isoformat()},
        format="json",
    )
    assert backwards.status_code == 400 and "ends_at" in backwards.json()["error"]["fields"]
    bad_scope = api.post(reverse("api_appointment_cancel", kwargs=kwargs), {"scope": "everything"}, format="json")
    assert bad_scope.status_code == 400 and "scope" in bad_scope.json()["error"]["fields"]
    assert _snapshot() == before
    api.post(reverse("api_appointment_cancel", kwargs=kwargs), {"reason": "Moved away"}, format="json")
    before = _snapshot()
    again = api.post(reverse("api_appointment_cancel", kwargs=kwargs), {}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
    move = api.post(
        reverse("api_appointment_reschedule", kwargs=kwargs), {"starts_at": SLOT.isoformat()}, format="json"
    )
    assert move.status_code == 409
    check_in = api.post(reverse("api_appointment_check_in", kwargs=kwargs), {}, format="json")
    assert check_in.status_code == 409
    assert _snapshot() == before


def test_cancel_inside_the_window_is_late(world, api):
    appointment = _book(api, world, starts_at=(base.NOW + timedelta(hours=5)).isoformat())
    response = api.post(
        reverse("api_appointment_cancel", kwargs={"public_id": appointment["id"]}), {"reason": "Sick"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "late_cancelled"


# --- check-in and attendees ------------------------------------------------------------------


def test_group_check_in_of_one_attendee_and_another_cancels(world, api):
    group = _book(
        api,
        world,
        appointment_type=str(world.group_type.public_id),
        patients=[str(world.patient.public_id), str(world.patient2.public_id)],
    )
    first, second = group["attendees"]
    url = reverse("api_appointment_check_in", kwargs={"public_id": group["id"]})
    response = api.post(url, {"attendee": first["id"]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "arrived"
    statuses = {a["id"]: (a["status"], bool(a["checked_in_at"])) for a in body["attendees"]}
    assert statuses == {first["id"]: ("arrived", True), second["id"]: ("expected", False)}

    status_url = reverse("api_attendee_status", kwargs={"appointment_id": group["id"], "attendee_id": second["id"]})
    response = api.post(status_url, {"status": "no_show"}, format="json")
    assert response.status_code == 200, response.content
    assert {a["id"]: a["status"] for a in response.json()["attendees"]}[second["id"]] == "no_show"
    assert StatusChange.objects.filter(attendee__public_id=second["id"], to_status="no_show").exists()
    # a no-show cannot arrive; an attendee of another appointment is not found here
    assert api.post(status_url, {"status": "arrived"}, format="json").status_code == 409
    other = _book(
        api, world, starts_at=(SLOT + timedelta(days=1)).isoformat(), patients=[str(world.patient3.public_id)]
    )
    stranger = other["attendees"][0]["id"]
    assert api.post(url, {"attendee": stranger}, format="json").status_code == 404
    wrong = reverse("api_attendee_status", kwargs={"appointment_id": group["id"], "attendee_id": stranger})
    assert api.post(wrong, {"status": "confirmed"}, format="json").status_code == 404
    with scopes_disabled():
        assert Attendee.all_objects.get(public_id=stranger).status == "expected"


def test_check_in_of_an_individual_appointment(world, api):
    appointment = _book(api, world)
    response = api.post(reverse("api_appointment_check_in", kwargs={"public_id": appointment["id"]}), {}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "arrived"
    assert response.json()["attendees"][0]["checked_in_at"]


# --- who may ---------------------------------------------------------------------------------


def test_a_biller_reads_but_every_write_is_403_and_changes_nothing(world, api, make_member):
    appointment = _book(api, world)
    biller = _client(make_member(world.practice, Role.BILLER))
    kwargs = {"public_id": appointment["id"]}
    assert biller.get(reverse("api_appointment_detail", kwargs=kwargs)).status_code == 200
    before = _snapshot()
    attempts = [
        (reverse(LIST), _booking(world, starts_at=(SLOT + timedelta(days=3)).isoformat())),
        (reverse("api_appointment_reschedule", kwargs=kwargs), {"starts_at": (SLOT + timedelta(hours=4)).isoformat()}),
        (reverse("api_appointment_cancel", kwargs=kwargs), {"reason": "x"}),
        (reverse("api_appointment_status", kwargs=kwargs), {"status": "confirmed"}),
        (reverse("api_appointment_check_in", kwargs=kwargs), {}),
        (
            reverse(
                "api_attendee_status",
                kwargs={"appointment_id": appointment["id"], "attendee_id": appointment["attendees"][0]["id"]},
            ),
            {"status": "confirmed"},
        ),
    ]
    for url, body in attempts:
        response = biller.post(url, body, format="json")
        assert response.status_code == 403, url
        assert response.json()["error"]["code"] == "permission_denied"
    assert _snapshot() == before


def test_another_practices_appointment_is_404_on_every_action(world, api):
    with scopes_disabled():
        theirs = appointment_with_patient(world.other)
        attendee = theirs.attendees.get()
    before = _snapshot()
    kwargs = {"public_id": theirs.public_id}
    for name in (
        "api_appointment_reschedule",
        "api_appointment_cancel",
        "api_appointment_status",
        "api_appointment_check_in",
    ):
        body = {"starts_at": SLOT.isoformat(), "status": "confirmed"}
        assert api.post(reverse(name, kwargs=kwargs), body, format="json").status_code == 404, name
    url = reverse("api_attendee_status", kwargs={"appointment_id": theirs.public_id, "attendee_id": attendee.public_id})
    assert api.post(url, {"status": "confirmed"}, format="json").status_code == 404
    assert _snapshot() == before
    with scopes_disabled():
        assert not AccessEvent.objects.filter(object_id=str(theirs.public_id)).exists()


def test_an_api_key_needs_the_scheduling_scopes(world, make_member):
    from integrations.api_keys import api_key_create

    admin = make_member(world.practice, Role.ADMIN)
    _key, raw = api_key_create(by=admin, name="Calendar sync", scopes=["scheduling:read", "clinical:write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(reverse(LIST)).status_code == 200
    assert client.get(reverse("api_waitlist_list")).status_code == 200
    before = _snapshot()
    refused = client.post(reverse(LIST), _booking(world), format="json")
    assert refused.status_code == 403 and "scheduling:write" in refused.json()["error"]["message"]
    assert _snapshot() == before
    _key, raw = api_key_create(by=admin, name="Booking bot", scopes=["scheduling:write"])
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.post(reverse(LIST), _booking(world), format="json").status_code == 201
