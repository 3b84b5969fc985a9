"""Scheduling API: booking (201 / 409 with the conflicting appointment's id), reschedule, cancel,
status, lists with filters and access events, open slots, availability rules, waitlist."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from clinical.tests.factories import PatientFactory
from practice import services as practice_services
from practice.models import AccessEvent
from practice.permissions import Role
from scheduling.models import Appointment, AvailabilityRule, WaitlistEntry
from scheduling.tests import test_services as base
from scheduling.tests.factories import AvailabilityRuleFactory, appointment_with_patient
from scheduling.tests.test_services import SLOT

world = base.world  # the shared fixture; "now" is 2026-06-01 12:00 UTC


def _client(membership) -> APIClient:
    _token, raw = practice_services.api_token_issue(membership=membership)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api(world):
    return _client(world.desk)


def _booking(world, **overrides):
    body = {
        "clinician": str(world.clinician.public_id),
        "appointment_type": str(world.type.public_id),
        "starts_at": SLOT.isoformat(),
        "patients": [str(world.patient.public_id)],
        "location": str(world.location.public_id),
    }
    return body | overrides


def _events(action):
    with scopes_disabled():
        return AccessEvent.objects.filter(action=action, object_type="scheduling.appointment")


def test_create_books_and_answers_201(world, api):
    response = api.post(reverse("api_appointment_list"), _booking(world), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "scheduled"
    assert body["clinician"] == str(world.clinician.public_id)
    assert [a["patient"] for a in body["attendees"]] == [str(world.patient.public_id)]
    assert body["ends_at"].startswith("2026-06-10T15:45")


def test_create_conflict_is_409_with_the_conflicting_id(world, api):
    first = api.post(reverse("api_appointment_list"), _booking(world), format="json").json()
    response = api.post(
        reverse("api_appointment_list"),
        _booking(world, patients=[str(world.patient2.public_id)], starts_at=(SLOT + timedelta(minutes=15)).isoformat()),
        format="json",
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert error["conflicting_appointment"] == first["id"]


def test_recurring_create_and_its_conflicts(world, api):
    blocker = api.post(
        reverse("api_appointment_list"),
        _booking(world, starts_at=(SLOT + timedelta(weeks=2)).isoformat(), patients=[str(world.patient2.public_id)]),
        format="json",
    ).json()
    response = api.post(reverse("api_appointment_list"), _booking(world, rrule="FREQ=WEEKLY;COUNT=4"), format="json")
    assert response.status_code == 409
    assert [c["appointment"] for c in response.json()["error"]["conflicts"]] == [blocker["id"]]
    ok = api.post(
        reverse("api_appointment_list"),
        _booking(world, rrule="FREQ=WEEKLY;INTERVAL=3;COUNT=4"),
        format="json",
    )
    assert ok.status_code == 201
    assert ok.json()["series"] is not None
    bad = api.post(reverse("api_appointment_list"), _booking(world, rrule="FREQ=YEARLY;COUNT=2"), format="json")
    assert bad.status_code == 400
    assert "rrule" in bad.json()["error"]["fields"]


def test_create_with_another_practices_patient_is_404(world, api):
    response = api.post(
        reverse("api_appointment_list"), _booking(world, patients=[str(world.other_patient.public_id)]), format="json"
    )
    assert response.status_code == 404
    assert Appointment.objects.count() == 0


def test_invalid_booking_is_400_with_the_field(world, api):
    response = api.post(
        reverse("api_appointment_list"),
        _booking(world, patients=[str(world.patient.public_id), str(world.patient2.public_id)]),
        format="json",
    )
    assert response.status_code == 400
    assert "patients" in response.json()["error"]["fields"]


def test_list_filters_and_writes_an_access_event(world, api, django_assert_max_num_queries):
    with scopes_disabled():
        mine = [
            appointment_with_patient(
                world.practice,
                clinician=world.clinician,
                starts_at=SLOT + timedelta(days=d),
                ends_at=SLOT + timedelta(days=d, minutes=45),
            )
            for d in range(5)
        ]
        other = appointment_with_patient(world.practice, clinician=world.clinician2, patient=world.patient)
    url = reverse("api_appointment_list")
    with django_assert_max_num_queries(15):
        body = api.get(url).json()
    assert body["count"] == 6
    in_range = api.get(
        url, {"start": (SLOT + timedelta(days=1)).isoformat(), "end": (SLOT + timedelta(days=3)).isoformat()}
    ).json()
    assert [a["id"] for a in in_range["results"]] == [str(a.public_id) for a in mine[1:3]]
    by_clinician = api.get(url, {"clinician": str(world.clinician2.public_id)}).json()
    assert [a["id"] for a in by_clinician["results"]] == [str(other.public_id)]
    by_patient = api.get(url, {"patient": str(world.patient.public_id)}).json()
    assert [a["id"] for a in by_patient["results"]] == [str(other.public_id)]
    assert _events("list").count() == 4
    assert _events("list").filter(patient_id=world.patient.public_id).count() == 1


def test_retrieve_writes_a_view_event_and_other_practice_is_404(world, api):
    with scopes_disabled():
        appt = appointment_with_patient(world.practice, clinician=world.clinician, patient=world.patient)
        theirs = appointment_with_patient(world.other)
    response = api.get(reverse("api_appointment_detail", kwargs={"public_id": appt.public_id}))
    assert response.status_code == 200
    event = _events("view").get()
    assert (event.object_id, event.patient_id) == (str(appt.public_id), world.patient.public_id)
    assert api.get(reverse("api_appointment_detail", kwargs={"public_id": theirs.public_id})).status_code == 404
    assert (
        api.post(
            reverse("api_appointment_cancel", kwargs={"public_id": theirs.public_id}), {}, format="json"
        ).status_code
        == 404
    )


def test_reschedule_cancel_and_status(world, api):
    created = api.post(reverse("api_appointment_list"), _booking(world), format="json").json()
    blocker = api.post(
        reverse("api_appointment_list"),
        _booking(world, starts_at=(SLOT + timedelta(hours=3)).isoformat(), patients=[str(world.patient2.public_id)]),
        format="json",
    ).json()
    kwargs = {"public_id": created["id"]}
    moved = api.post(
        reverse("api_appointment_reschedule", kwargs=kwargs),
        {"starts_at": (SLOT + timedelta(hours=1)).isoformat()},
        format="json",
    )
    assert moved.status_code == 200
    assert moved.json()["starts_at"].startswith("2026-06-10T16:00") and moved.json()["ical_sequence"] == 1
    clash = api.post(
        reverse("api_appointment_reschedule", kwargs=kwargs),
        {"starts_at": (SLOT + timedelta(hours=3)).isoformat()},
        format="json",
    )
    assert clash.status_code == 409 and clash.json()["error"]["conflicting_appointment"] == blocker["id"]
    confirmed = api.post(reverse("api_appointment_status", kwargs=kwargs), {"status": "confirmed"}, format="json")
    assert confirmed.json()["status"] == "confirmed"
    bad = api.post(reverse("api_appointment_status", kwargs=kwargs), {"status": "completed"}, format="json")
    assert bad.status_code == 409 and bad.json()["error"]["code"] == "invalid_transition"
    cancelled = api.post(reverse("api_appointment_cancel", kwargs=kwargs), {"reason": "Unwell"}, format="json")
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["cancel_reason"]) == ("cancelled", "Unwell")
    arrived = api.post(
        reverse("api_appointment_status", kwargs={"public_id": blocker["id"]}), {"status": "arrived"}, format="json"
    )
    assert arrived.json()["status"] == "arrived" and arrived.json()["attendees"][0]["checked_in_at"]


def test_billers_may_read_but_not_book(world, make_member):
    biller = _client(make_member(world.practice, Role.BILLER))
    assert biller.get(reverse("api_appointment_list")).status_code == 200
    assert biller.post(reverse("api_appointment_list"), _booking(world), format="json").status_code == 403


def test_open_slots(world, api):
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
    body = api.get(reverse("api_open_slots"), params).json()
    assert [s["starts_at"][11:16] for s in body] == ["13:00", "13:15"]  # 9:00 and 9:15 New York
    assert {s["clinician"] for s in body} == {str(world.clinician.public_id)}
    one = api.get(reverse("api_open_slots"), params | {"clinician": str(world.clinician2.public_id)}).json()
    assert one == []
    too_long = api.get(reverse("api_open_slots"), params | {"end": "2026-08-10"})
    assert too_long.status_code == 400


def test_availability_rules_list_and_create(world, api, make_member):
    url = reverse("api_availability_rule_list")
    body = {
        "clinician": str(world.clinician.public_id),
        "location": str(world.location.public_id),
        "weekday": 1,
        "start_time": "09:00",
        "end_time": "12:00",
    }
    assert api.post(url, body, format="json").status_code == 201
    overlap = api.post(url, body | {"start_time": "11:00", "end_time": "13:00"}, format="json")
    assert overlap.status_code == 400 and "start_time" in overlap.json()["error"]["fields"]
    listed = api.get(url, {"clinician": str(world.clinician.public_id)}).json()
    assert [r["start_time"] for r in listed["results"]] == ["09:00:00"]
    biller = _client(make_member(world.practice, Role.BILLER))
    assert biller.post(url, body | {"weekday": 3}, format="json").status_code == 403
    assert AvailabilityRule.objects.count() == 1


def test_waitlist_list_and_create(world, api):
    url = reverse("api_waitlist_list")
    response = api.post(
        url,
        {
            "patient": str(world.patient.public_id),
            "appointment_type": str(world.type.public_id),
            "clinicians": [str(world.clinician.public_id)],
            "weekdays": [0, 2],
            "priority": 2,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["clinicians"] == [str(world.clinician.public_id)]
    with scopes_disabled():
        PatientFactory(practice=world.other)
    listed = api.get(url).json()
    assert [e["patient"] for e in listed["results"]] == [str(world.patient.public_id)]
    assert WaitlistEntry.objects.get().added_by == world.desk
    missing = api.post(
        url,
        {"patient": str(world.other_patient.public_id), "appointment_type": str(world.type.public_id)},
        format="json",
    )
    assert missing.status_code == 404
