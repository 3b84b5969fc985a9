"""Scheduling API: appointment types and rooms (settings right to write), availability rules and
exceptions (read with the schedule, write with SCHEDULE_MANAGE), waitlist retrieve, filters and
updates — each rule violation a 400/409 that changes nothing, another practice's row a 404."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse
from django_scopes import scopes_disabled

from practice.models import AccessEvent
from practice.permissions import Role
from practice.tests.factories import LocationFactory
from scheduling.models import AppointmentType, AvailabilityException, AvailabilityRule, Room, WaitlistEntry
from scheduling.tests import test_services as base
from scheduling.tests.factories import (
    AppointmentTypeFactory,
    AvailabilityExceptionFactory,
    AvailabilityRuleFactory,
    RoomFactory,
    WaitlistEntryFactory,
)
from scheduling.tests.test_api import _client
from scheduling.tests.test_services import SLOT

world = base.world


@pytest.fixture
def desk(world):
    return _client(world.desk)


@pytest.fixture
def admin(world, make_member):
    return _client(make_member(world.practice, Role.ADMIN))


def _row(obj):
    with scopes_disabled():
        fresh = type(obj).all_objects.get(pk=obj.pk)
        return model_to_dict(fresh)


# --- appointment types -----------------------------------------------------------------------


def test_appointment_types_read_with_the_schedule_written_with_the_settings_right(world, desk, admin):
    url = reverse("api_appointment_type_list")
    body = {"name": "Couples 60", "duration_minutes": 60, "modality": "in_person", "is_group": True, "max_attendees": 2}
    assert desk.post(url, body, format="json").status_code == 403
    created = admin.post(url, body, format="json")
    assert created.status_code == 201, created.content
    detail = reverse("api_appointment_type_detail", kwargs={"public_id": created.json()["id"]})
    assert desk.get(detail).json()["name"] == "Couples 60"
    assert desk.patch(detail, {"duration_minutes": 50}, format="json").status_code == 403
    changed = admin.patch(detail, {"duration_minutes": 50, "is_active": False}, format="json")
    assert changed.status_code == 200 and changed.json()["duration_minutes"] == 50
    active = desk.get(url, {"is_active": "true"}).json()["results"]
    assert created.json()["id"] not in [t["id"] for t in active]
    assert len(active) == 2  # the world's two types


def test_appointment_type_rules_are_400_and_change_nothing(world, admin):
    url = reverse("api_appointment_type_list")
    taken = admin.post(url, {"name": world.type.name, "duration_minutes": 45}, format="json")
    assert taken.status_code == 400 and "name" in taken.json()["error"]["fields"]
    short = admin.post(url, {"name": "Tiny", "duration_minutes": 2}, format="json")
    assert short.status_code == 400 and "duration_minutes" in short.json()["error"]["fields"]
    before = _row(world.group_type)
    detail = reverse("api_appointment_type_detail", kwargs={"public_id": world.group_type.public_id})
    bad = admin.patch(detail, {"max_attendees": 1}, format="json")
    assert bad.status_code == 400 and "max_attendees" in bad.json()["error"]["fields"]
    colour = admin.patch(detail, {"color": "red"}, format="json")
    assert colour.status_code == 400 and "color" in colour.json()["error"]["fields"]
    assert _row(world.group_type) == before
    assert AppointmentType.objects.count() == 2


def test_another_practices_type_and_room_are_404(world, admin):
    with scopes_disabled():
        theirs = AppointmentTypeFactory(practice=world.other)
        their_room = RoomFactory(practice=world.other)
    before = (_row(theirs), _row(their_room))
    for name, obj in (("api_appointment_type_detail", theirs), ("api_room_detail", their_room)):
        url = reverse(name, kwargs={"public_id": obj.public_id})
        assert admin.get(url).status_code == 404
        assert admin.patch(url, {"name": "Mine now"}, format="json").status_code == 404
    assert (_row(theirs), _row(their_room)) == before


# --- rooms -----------------------------------------------------------------------------------


def test_rooms_list_by_location_create_and_update(world, desk, admin):
    with scopes_disabled():
        elsewhere = LocationFactory(practice=world.practice)
        RoomFactory(practice=world.practice, location=elsewhere, name="Annex")
        their_location = LocationFactory(practice=world.other)
    url = reverse("api_room_list")
    body = {"location": str(world.location.public_id), "name": "Blue room", "capacity": 6}
    assert desk.post(url, body, format="json").status_code == 403
    created = admin.post(url, body, format="json")
    assert created.status_code == 201, created.content
    twice = admin.post(url, body, format="json")
    assert twice.status_code == 400 and "name" in twice.json()["error"]["fields"]
    assert admin.post(url, body | {"location": str(their_location.public_id)}, format="json").status_code == 404
    listed = desk.get(url, {"location": str(world.location.public_id)}).json()["results"]
    assert [r["name"] for r in listed] == ["Blue room"]
    assert len(desk.get(url).json()["results"]) == 2
    detail = reverse("api_room_detail", kwargs={"public_id": created.json()["id"]})
    closed = admin.patch(detail, {"is_active": False}, format="json")
    assert closed.status_code == 200 and closed.json()["is_active"] is False
    assert Room.objects.count() == 2


# --- availability ----------------------------------------------------------------------------


def _rule_body(world, **overrides):
    return {
        "clinician": str(world.clinician.public_id),
        "location": str(world.location.public_id),
        "weekday": 1,
        "start_time": "09:00",
        "end_time": "12:00",
        "valid_from": "2026-06-01",
    } | overrides


def test_availability_rule_retrieve_update_and_delete(world, desk, make_member):
    created = desk.post(reverse("api_availability_rule_list"), _rule_body(world), format="json").json()
    other = desk.post(
        reverse("api_availability_rule_list"), _rule_body(world, start_time="13:00", end_time="17:00"), format="json"
    ).json()
    detail = reverse("api_availability_rule_detail", kwargs={"public_id": created["id"]})
    assert desk.get(detail).json()["end_time"] == "12:00:00"
    moved = desk.patch(detail, {"end_time": "12:30"}, format="json")
    assert moved.status_code == 200 and moved.json()["end_time"] == "12:30:00"
    before = _row(AvailabilityRule.objects.get(public_id=created["id"]))
    overlap = desk.patch(detail, {"end_time": "14:00"}, format="json")
    assert overlap.status_code == 400 and "start_time" in overlap.json()["error"]["fields"]
    backwards = desk.patch(detail, {"start_time": "13:00"}, format="json")
    assert backwards.status_code == 400 and "end_time" in backwards.json()["error"]["fields"]
    assert _row(AvailabilityRule.objects.get(public_id=created["id"])) == before
    biller = _client(make_member(world.practice, Role.BILLER))
    assert biller.get(detail).status_code == 200
    assert biller.patch(detail, {"end_time": "11:00"}, format="json").status_code == 403
    assert biller.delete(detail).status_code == 403
    assert desk.delete(detail).status_code == 204
    assert [str(pk) for pk in AvailabilityRule.objects.values_list("public_id", flat=True)] == [other["id"]]
    assert desk.get(detail).status_code == 404


def test_availability_rule_filters_and_another_practices_rule(world, desk):
    with scopes_disabled():
        elsewhere = LocationFactory(practice=world.practice)
        mine = AvailabilityRuleFactory(
            practice=world.practice, clinician=world.clinician2, location=elsewhere, valid_from=date(2026, 1, 1)
        )
        theirs = AvailabilityRuleFactory(practice=world.other)
    desk.post(reverse("api_availability_rule_list"), _rule_body(world), format="json")
    url = reverse("api_availability_rule_list")
    by_location = desk.get(url, {"location": str(elsewhere.public_id)}).json()["results"]
    assert [r["id"] for r in by_location] == [str(mine.public_id)]
    before = _row(theirs)
    detail = reverse("api_availability_rule_detail", kwargs={"public_id": theirs.public_id})
    assert desk.get(detail).status_code == 404
    assert desk.patch(detail, {"end_time": "10:00"}, format="json").status_code == 404
    assert desk.delete(detail).status_code == 404
    assert _row(theirs) == before


def test_availability_exceptions_crud_and_rules(world, desk, make_member):
    url = reverse("api_availability_exception_list")
    time_off = {
        "clinician": str(world.clinician.public_id),
        "kind": "time_off",
        "starts_at": SLOT.isoformat(),
        "ends_at": (SLOT + timedelta(hours=8)).isoformat(),
        "reason": "Conference",
    }
    created = desk.post(url, time_off, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["location"] is None
    extra_without_place = desk.post(url, time_off | {"kind": "extra_hours"}, format="json")
    assert extra_without_place.status_code == 400 and "location" in extra_without_place.json()["error"]["fields"]
    backwards = desk.post(url, time_off | {"ends_at": (SLOT - timedelta(hours=1)).isoformat()}, format="json")
    assert backwards.status_code == 400 and "ends_at" in backwards.json()["error"]["fields"]
    assert AvailabilityException.objects.count() == 1

    detail = reverse("api_availability_exception_detail", kwargs={"public_id": created.json()["id"]})
    extra = desk.patch(detail, {"kind": "extra_hours", "location": str(world.location.public_id)}, format="json")
    assert extra.status_code == 200 and extra.json()["kind"] == "extra_hours"
    with scopes_disabled():
        later = AvailabilityExceptionFactory(
            practice=world.practice, clinician=world.clinician2, starts_at=SLOT + timedelta(days=30)
        )
    window = {"start": (SLOT + timedelta(days=1)).isoformat(), "end": (SLOT + timedelta(days=60)).isoformat()}
    assert [e["id"] for e in desk.get(url, window).json()["results"]] == [str(later.public_id)]
    by_clinician = desk.get(url, {"clinician": str(world.clinician.public_id)}).json()["results"]
    assert [e["id"] for e in by_clinician] == [created.json()["id"]]
    biller = _client(make_member(world.practice, Role.BILLER))
    assert biller.get(detail).status_code == 200
    assert biller.post(url, time_off, format="json").status_code == 403
    assert biller.delete(detail).status_code == 403
    assert desk.delete(detail).status_code == 204
    assert list(AvailabilityException.objects.all()) == [later]


def test_time_off_removes_open_slots_through_the_api(world, desk):
    with scopes_disabled():
        AvailabilityRuleFactory(
            practice=world.practice,
            clinician=world.clinician,
            location=world.location,
            weekday=2,
            start_time=time(9),
            end_time=time(10),
            valid_from=date(2026, 1, 1),
        )
    params = {"appointment_type": str(world.type.public_id), "start": "2026-06-10", "end": "2026-06-10"}
    assert len(desk.get(reverse("api_open_slots"), params).json()) == 2
    desk.post(
        reverse("api_availability_exception_list"),
        {
            "clinician": str(world.clinician.public_id),
            "kind": "time_off",
            "starts_at": "2026-06-10T12:00:00Z",
            "ends_at": "2026-06-10T15:00:00Z",
        },
        format="json",
    )
    assert desk.get(reverse("api_open_slots"), params).json() == []


# --- waitlist --------------------------------------------------------------------------------


def _entry(world, **kwargs):
    with scopes_disabled():
        return WaitlistEntryFactory(practice=world.practice, appointment_type=world.type, added_by=world.desk, **kwargs)


def test_waitlist_retrieve_writes_a_view_event_and_respects_the_caseload(world, desk, make_member):
    entry = _entry(world, patient=world.patient)
    detail = reverse("api_waitlist_detail", kwargs={"public_id": entry.public_id})
    response = desk.get(detail)
    assert response.status_code == 200 and response.json()["patient"] == str(world.patient.public_id)
    with scopes_disabled():
        assert AccessEvent.objects.filter(action="view", object_id=str(entry.public_id)).count() == 1
    # a clinician whose caseload does not hold the patient does not see the entry
    assert _client(world.clinician2).get(detail).status_code == 404
    assert _client(world.clinician).get(detail).status_code == 200


def test_waitlist_filters(world, desk):
    with scopes_disabled():
        other_type = AppointmentTypeFactory(practice=world.practice)
        urgent = _entry(world, patient=world.patient, priority=1)
        removed = _entry(world, patient=world.patient2, status=WaitlistEntry.Status.REMOVED)
        typed = WaitlistEntryFactory(
            practice=world.practice, patient=world.patient3, appointment_type=other_type, added_by=world.desk
        )
        typed.clinicians.set([world.clinician2])
    url = reverse("api_waitlist_list")

    def ids(params):
        response = desk.get(url, params)
        assert response.status_code == 200, response.content
        return [e["id"] for e in response.json()["results"]]

    assert ids({}) == [str(urgent.public_id), str(typed.public_id)]
    assert ids({"status": "removed"}) == [str(removed.public_id)]
    assert set(ids([("status", "removed"), ("status", "waiting")])) == {
        str(urgent.public_id),
        str(typed.public_id),
        str(removed.public_id),
    }
    assert ids({"priority": 1}) == [str(urgent.public_id)]
    assert ids({"appointment_type": str(other_type.public_id)}) == [str(typed.public_id)]
    # entries accepting this clinician, including "any clinician"
    assert ids({"clinician": str(world.clinician.public_id)}) == [str(urgent.public_id)]
    assert desk.get(url, {"status": "lost"}).status_code == 400


def test_waitlist_update_and_remove_through_the_service(world, desk, make_member):
    entry = _entry(world, patient=world.patient)
    detail = reverse("api_waitlist_detail", kwargs={"public_id": entry.public_id})
    changed = desk.patch(
        detail,
        {"priority": 1, "clinicians": [str(world.clinician.public_id)], "weekdays": [4, 0], "notes": "Mornings"},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert (body["priority"], body["clinicians"], body["weekdays"], body["notes"]) == (
        1,
        [str(world.clinician.public_id)],
        [0, 4],
        "Mornings",
    )
    assert body["appointment_type"] == str(world.type.public_id)  # untouched fields kept
    before = _row(entry)
    window = desk.patch(detail, {"earliest_time": "15:00", "latest_time": "09:00"}, format="json")
    assert window.status_code == 400 and "latest_time" in window.json()["error"]["fields"]
    booked_status = desk.patch(detail, {"status": "booked"}, format="json")
    assert booked_status.status_code == 400 and "status" in booked_status.json()["error"]["fields"]
    biller = _client(make_member(world.practice, Role.BILLER))
    assert biller.patch(detail, {"priority": 5}, format="json").status_code == 403
    assert _row(entry) == before
    removed = desk.patch(detail, {"status": "removed"}, format="json")
    assert removed.status_code == 200 and removed.json()["status"] == "removed"
    back = desk.patch(detail, {"status": "waiting"}, format="json")
    assert back.json()["status"] == "waiting"


def test_a_booked_waitlist_entry_cannot_be_edited(world, desk):
    entry = _entry(world, patient=world.patient, status=WaitlistEntry.Status.BOOKED)
    before = _row(entry)
    response = desk.patch(
        reverse("api_waitlist_detail", kwargs={"public_id": entry.public_id}), {"priority": 1}, format="json"
    )
    assert response.status_code == 409
    assert _row(entry) == before


def test_another_practices_waitlist_entry_is_404(world, desk):
    with scopes_disabled():
        theirs = WaitlistEntryFactory(practice=world.other)
    before = _row(theirs)
    detail = reverse("api_waitlist_detail", kwargs={"public_id": theirs.public_id})
    assert desk.get(detail).status_code == 404
    assert desk.patch(detail, {"status": "removed"}, format="json").status_code == 404
    assert _row(theirs) == before
