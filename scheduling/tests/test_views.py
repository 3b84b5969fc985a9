"""The front desk's scheduling pages through the views, per role: the calendar (day/week, bounded
queries), booking (slot prefill, patient search, series, conflicts), the appointment page
(reschedule, cancel, status, check-in, start a progress note), availability, types and rooms."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinical.models import ProgressNote
from clinical.tests import factories as cf
from practice.models import AccessEvent, Membership
from practice.permissions import Role
from practice.scoping import scopes_disabled
from practice.tests.factories import LocationFactory, MembershipFactory, sign_in
from scheduling.forms import CLINICIAN_ROLES
from scheduling.models import Appointment, AppointmentType, AvailabilityRule, Room
from scheduling.tests import factories as sf

pytestmark = pytest.mark.django_db

SLUG = "riverside"
NY = ZoneInfo("America/New_York")
# A Tuesday morning in New York, well clear of DST changes.
NOW = datetime(2026, 3, 17, 14, 0, tzinfo=UTC)  # 10:00 EDT


def url(name, **kwargs):
    return reverse(name, kwargs={"practice_slug": SLUG, **kwargs})


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NY)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(practice_a, practice_b, make_member):
    with scopes_disabled():
        practice_a.timezone = "America/New_York"
        practice_a.save(update_fields=["timezone"])
        w = type("World", (), {})()
        w.practice = practice_a
        w.front_desk = make_member(practice_a, Role.FRONT_DESK, email="desk@riverside.test")
        w.clinician = make_member(practice_a, Role.CLINICIAN, email="clin@riverside.test", full_name="Dana Reyes")
        w.other_clinician = make_member(practice_a, Role.CLINICIAN, email="clin2@riverside.test")
        w.biller = make_member(practice_a, Role.BILLER, email="biller@riverside.test")
        w.admin = make_member(practice_a, Role.ADMIN, email="admin@riverside.test")
        w.location = LocationFactory(practice=practice_a, name="Main office", timezone="America/New_York")
        w.type = sf.AppointmentTypeFactory(
            practice=practice_a,
            name="Psychotherapy 45",
            duration_minutes=45,
            default_service_code="90834",
            color="#2563eb",
        )
        w.patient = cf.PatientFactory(
            practice=practice_a, legal_first_name="Avery", legal_last_name="Quinlan", primary_clinician=w.clinician
        )
        w.other_b = make_member(practice_b, Role.CLINICIAN, email="clin@harbor.test")
        w.appt_b = sf.appointment_with_patient(practice_b, clinician=w.other_b)
    return w


def book(w, day: date, hour: int, *, clinician=None, patient=None, **kwargs) -> Appointment:
    with scopes_disabled():
        starts = local(day, hour)
        return sf.appointment_with_patient(
            w.practice,
            clinician=clinician or w.clinician,
            patient=patient or w.patient,
            appointment_type=w.type,
            location=w.location,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=45),
            created_by=w.front_desk,
            **kwargs,
        )


def booking_post(w, day: date, at: str = "11:00", **overrides):
    data = {
        "patient": str(w.patient.public_id),
        "appointment_type": w.type.pk,
        "clinician": w.clinician.pk,
        "location": w.location.pk,
        "room": "",
        "day": day.isoformat(),
        "start_time": at,
        "telehealth_url": "",
        "repeat": "none",
        "repeat_end": "count",
        "count": "6",
        "until": "",
        "admin_note": "",
    }
    data.update(overrides)
    return data


TODAY = date(2026, 3, 17)
NEXT_WEEK = date(2026, 3, 24)


# --- Calendar --------------------------------------------------------------------------------


def test_front_desk_sees_week_with_names_types_and_slot_links(world, client):
    appt = book(world, NEXT_WEEK, 9)
    sign_in(client, world.front_desk)
    response = client.get(url("calendar"), {"view": "week", "date": NEXT_WEEK.isoformat()})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Quinlan" in html and "Psychotherapy 45" in html
    assert str(appt.public_id) in html
    assert "appt-c1" in html  # #2563eb -> palette blue
    assert 'style="' not in html.split("<main", 1)[1]  # the CSP forbids inline styles
    assert "schedule/new/?start=2026-03-23T07%3A00" in html  # Monday 07:00 slot link
    with scopes_disabled():
        assert AccessEvent.objects.filter(
            action=AccessEvent.Action.LIST, object_type="scheduling.appointment", practice=world.practice
        ).exists()


def test_day_view_has_a_column_per_clinician_and_shows_local_times(world, client):
    book(world, NEXT_WEEK, 9)
    book(world, NEXT_WEEK, 9, clinician=world.other_clinician, patient=cf.PatientFactory(practice=world.practice))
    sign_in(client, world.clinician)
    response = client.get(url("calendar"), {"view": "day", "date": NEXT_WEEK.isoformat()})
    html = response.content.decode()
    assert response.status_code == 200
    with scopes_disabled():
        clinicians = Membership.objects.filter(practice=world.practice, role__in=CLINICIAN_ROLES).count()
    assert html.count('class="cal__colhead-label"') == clinicians >= 2  # a column per clinician
    assert "9:00–9:45 AM" in html  # 13:00 UTC shown in New York time
    assert f"clinician={world.clinician.public_id}" in html  # day-view slots carry the clinician


def test_filters_by_clinician_and_location(world, client):
    book(world, NEXT_WEEK, 9)
    other_location = LocationFactory(practice=world.practice, name="Annex", timezone="America/New_York")
    with scopes_disabled():
        sf.appointment_with_patient(
            world.practice,
            clinician=world.other_clinician,
            appointment_type=world.type,
            location=other_location,
            starts_at=local(NEXT_WEEK, 13),
            ends_at=local(NEXT_WEEK, 14),
        )
    sign_in(client, world.front_desk)
    only = client.get(
        url("calendar"), {"view": "week", "date": NEXT_WEEK.isoformat(), "clinician": [world.other_clinician.public_id]}
    )
    assert only.content.decode().count('class="appt ') == 1
    at_main = client.get(url("calendar"), {"date": NEXT_WEEK.isoformat(), "location": world.location.public_id})
    assert at_main.content.decode().count('class="appt ') == 1


def test_cancelled_block_is_struck_through_and_today_has_check_in(world, client):
    book(world, TODAY, 15)
    book(world, TODAY, 16, status="cancelled")
    sign_in(client, world.front_desk)
    html = client.get(url("calendar"), {"view": "day"}).content.decode()
    assert "appt--cancelled" in html
    assert html.count(">Check in</button>") == 1


def test_telehealth_marker(world, client):
    book(world, NEXT_WEEK, 10, is_telehealth=True, telehealth_url="https://meet.example/x")
    sign_in(client, world.front_desk)
    html = client.get(url("calendar"), {"date": NEXT_WEEK.isoformat()}).content.decode()
    assert 'title="Telehealth"' in html


@pytest.mark.parametrize("per_clinician", [3, 30])
def test_week_view_for_ten_clinicians_has_bounded_queries(world, client, per_clinician, django_assert_max_num_queries):
    with scopes_disabled():
        clinicians = [MembershipFactory(practice=world.practice, role=Role.CLINICIAN) for _ in range(10)]
        for c in clinicians:
            for i in range(per_clinician):
                day = NEXT_WEEK + timedelta(days=i % 5)
                starts = local(day, 7) + timedelta(minutes=50 * (i // 5))
                sf.appointment_with_patient(
                    world.practice,
                    clinician=c,
                    appointment_type=world.type,
                    location=world.location,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=45),
                )
    sign_in(client, world.front_desk)
    params = {"view": "week", "date": NEXT_WEEK.isoformat(), "clinician": [c.public_id for c in clinicians]}
    client.get(url("calendar"), params)  # warm caches (sessions, content types)
    with django_assert_max_num_queries(18):
        response = client.get(url("calendar"), params)
    assert response.content.decode().count('class="appt ') == 10 * per_clinician


def test_week_view_query_count_does_not_grow_with_appointments(world, client):
    with scopes_disabled():
        clinicians = [MembershipFactory(practice=world.practice, role=Role.CLINICIAN) for _ in range(10)]
    sign_in(client, world.front_desk)
    params = {"view": "week", "date": NEXT_WEEK.isoformat()}

    def count() -> int:
        client.get(url("calendar"), params)
        with CaptureQueriesContext(connection) as ctx:
            client.get(url("calendar"), params)
        return len(ctx.captured_queries)

    def add(first, last):
        with scopes_disabled():
            for c in clinicians:
                for i in range(first, last):
                    starts = local(NEXT_WEEK + timedelta(days=i % 5), 8) + timedelta(hours=i // 5)
                    sf.appointment_with_patient(
                        world.practice,
                        clinician=c,
                        appointment_type=world.type,
                        starts_at=starts,
                        ends_at=starts + timedelta(minutes=45),
                    )

    add(0, 3)
    few = count()
    add(3, 30)
    assert count() == few


def test_biller_sees_schedule_but_cannot_book(world, client):
    appt = book(world, NEXT_WEEK, 9)
    sign_in(client, world.biller)
    html = client.get(url("calendar"), {"date": NEXT_WEEK.isoformat()}).content.decode()
    assert "Quinlan" in html and "data-slot" not in html
    assert client.get(url("appointment_detail", appointment_id=appt.public_id)).status_code == 200
    assert client.get(url("appointment_new")).status_code == 403
    assert client.post(url("appointment_cancel", appointment_id=appt.public_id), {"reason": "x"}).status_code == 403
    assert client.post(url("appointment_check_in", appointment_id=appt.public_id)).status_code == 403
    with scopes_disabled():
        assert Appointment.objects.get(pk=appt.pk).status == "scheduled"


def test_another_practices_appointment_is_404(world, client):
    sign_in(client, world.front_desk)
    appt_id = world.appt_b.public_id
    assert client.get(url("appointment_detail", appointment_id=appt_id)).status_code == 404
    assert client.post(url("appointment_cancel", appointment_id=appt_id), {"reason": "x"}).status_code == 404
    assert client.post(url("appointment_status", appointment_id=appt_id), {"status": "confirmed"}).status_code == 404
    with scopes_disabled():
        assert Appointment.objects.get(pk=world.appt_b.pk).status == "scheduled"


# --- Booking ---------------------------------------------------------------------------------


def test_empty_slot_link_prefills_the_booking_form(world, client):
    sign_in(client, world.front_desk)
    response = client.get(url("appointment_new"), {"start": "2026-03-24T10:30", "clinician": world.clinician.public_id})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="2026-03-24"' in html and 'value="10:30"' in html
    assert f'<option value="{world.clinician.pk}" selected>' in html


def test_patient_search_offers_choices_the_member_may_see(world, client):
    with scopes_disabled():
        cf.PatientFactory(practice=world.other_b.practice, legal_last_name="Quinlan")
    sign_in(client, world.front_desk)
    response = client.get(url("appointment_patient_search"), {"q": "Quinl"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('name="patient"') == 1 and str(world.patient.public_id) in html


def test_front_desk_books_an_appointment_in_the_locations_zone(world, client):
    sign_in(client, world.front_desk)
    response = client.post(url("appointment_new"), booking_post(world, NEXT_WEEK, "11:00"))
    assert response.status_code == 302
    with scopes_disabled():
        appt = Appointment.objects.get(clinician=world.clinician)
        assert appt.starts_at == datetime(2026, 3, 24, 15, 0, tzinfo=UTC)
        assert appt.ends_at - appt.starts_at == timedelta(minutes=45)
        assert list(appt.attendees.values_list("patient_id", flat=True)) == [world.patient.pk]
    assert response["Location"] == url("appointment_detail", appointment_id=appt.public_id)


def test_booking_a_weekly_series_by_count(world, client):
    sign_in(client, world.front_desk)
    response = client.post(url("appointment_new"), booking_post(world, NEXT_WEEK, "11:00", repeat="weekly", count="4"))
    assert response.status_code == 302
    with scopes_disabled():
        rows = list(Appointment.objects.filter(clinician=world.clinician).order_by("starts_at"))
        assert len(rows) == 4 and len({r.series_id for r in rows}) == 1
        assert rows[0].series.rrule.startswith("FREQ=WEEKLY")
        assert [r.starts_at.astimezone(NY).time() for r in rows] == [time(11, 0)] * 4


def test_every_other_week_until_a_date(world, client):
    sign_in(client, world.front_desk)
    client.post(
        url("appointment_new"),
        booking_post(world, NEXT_WEEK, "11:00", repeat="biweekly", repeat_end="until", until="2026-05-05"),
    )
    with scopes_disabled():
        days = [
            a.starts_at.astimezone(NY).date()
            for a in Appointment.objects.order_by("starts_at")
            if a.clinician_id == world.clinician.pk
        ]
    assert days == [date(2026, 3, 24), date(2026, 4, 7), date(2026, 4, 21), date(2026, 5, 5)]


def test_conflict_shows_a_friendly_form_error_naming_the_time(world, client):
    book(world, NEXT_WEEK, 11, patient=cf.PatientFactory(practice=world.practice))
    sign_in(client, world.front_desk)
    response = client.post(url("appointment_new"), booking_post(world, NEXT_WEEK, "11:15"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "alert--error" in html and "11:00" in html
    with scopes_disabled():
        assert Appointment.objects.filter(clinician=world.clinician).count() == 1


def test_booking_needs_a_patient(world, client):
    sign_in(client, world.front_desk)
    data = booking_post(world, NEXT_WEEK)
    del data["patient"]  # nothing ticked
    response = client.post(url("appointment_new"), data)
    assert response.status_code == 200
    assert "Search for the patient and choose them." in response.content.decode()


def test_open_slots_are_listed_for_the_clinician_and_type(world, client):
    with scopes_disabled():
        sf.AvailabilityRuleFactory(
            practice=world.practice,
            clinician=world.clinician,
            location=world.location,
            weekday=1,
            start_time=time(9, 0),
            end_time=time(12, 0),
            valid_from=date(2026, 1, 1),
        )
    sign_in(client, world.front_desk)
    response = client.get(
        url("appointment_open_slots"),
        {"clinician": world.clinician.pk, "appointment_type": world.type.pk, "day": NEXT_WEEK.isoformat()},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-day="2026-03-24"' in html and 'data-time="09:00"' in html


# --- The appointment page --------------------------------------------------------------------


def test_detail_shows_patient_type_times_and_logs_access(world, client):
    appt = book(world, NEXT_WEEK, 9)
    sign_in(client, world.front_desk)
    response = client.get(url("appointment_detail", appointment_id=appt.public_id))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Quinlan" in html and "9:00 AM" in html and "90834" in html
    assert url("patient_chart", patient_id=world.patient.public_id) in html
    assert "Start progress note" not in html  # front desk: no notes
    with scopes_disabled():
        assert AccessEvent.objects.filter(object_id=str(appt.public_id), action=AccessEvent.Action.VIEW).exists()


def test_front_desk_reschedules(world, client):
    appt = book(world, NEXT_WEEK, 9)
    sign_in(client, world.front_desk)
    response = client.post(
        url("appointment_reschedule", appointment_id=appt.public_id),
        {"day": "2026-03-26", "start_time": "14:00", "clinician": "", "room": ""},
    )
    assert response.status_code == 302
    with scopes_disabled():
        appt.refresh_from_db()
    assert appt.starts_at == local(date(2026, 3, 26), 14)
    assert appt.ends_at - appt.starts_at == timedelta(minutes=45)


def test_reschedule_conflict_is_a_form_error(world, client):
    appt = book(world, NEXT_WEEK, 9)
    book(world, NEXT_WEEK, 14, patient=cf.PatientFactory(practice=world.practice))
    sign_in(client, world.front_desk)
    response = client.post(
        url("appointment_reschedule", appointment_id=appt.public_id),
        {"day": NEXT_WEEK.isoformat(), "start_time": "14:30"},
    )
    assert response.status_code == 400
    assert "data-open-on-load" in response.content.decode()


def test_front_desk_cancels_one_of_a_series(world, client):
    sign_in(client, world.front_desk)
    client.post(url("appointment_new"), booking_post(world, NEXT_WEEK, "11:00", repeat="weekly", count="4"))
    with scopes_disabled():
        rows = list(Appointment.objects.filter(clinician=world.clinician).order_by("starts_at"))
    response = client.post(
        url("appointment_cancel", appointment_id=rows[1].public_id), {"reason": "Patient travelling", "scope": "this"}
    )
    assert response.status_code == 302
    with scopes_disabled():
        statuses = [a.status for a in Appointment.objects.filter(clinician=world.clinician).order_by("starts_at")]
    assert statuses == ["scheduled", "cancelled", "scheduled", "scheduled"]


def test_late_cancellation_is_shown_in_the_dialog(world, client):
    soon = book(world, TODAY, 15)
    later = book(world, NEXT_WEEK, 15)
    sign_in(client, world.front_desk)
    assert "late cancellation" in client.get(url("appointment_detail", appointment_id=soon.public_id)).content.decode()
    assert (
        "On-time cancellation" in client.get(url("appointment_detail", appointment_id=later.public_id)).content.decode()
    )


def test_front_desk_checks_in_from_the_calendar(world, client):
    appt = book(world, TODAY, 10)
    sign_in(client, world.front_desk)
    back = url("calendar") + "?view=day"
    response = client.post(url("appointment_check_in", appointment_id=appt.public_id), {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    with scopes_disabled():
        appt.refresh_from_db()
        assert appt.status == "arrived"
        assert appt.attendees.get().checked_in_at is not None


def test_status_buttons_follow_the_allowed_transitions(world, client):
    appt = book(world, TODAY, 10)
    sign_in(client, world.front_desk)
    html = client.get(url("appointment_detail", appointment_id=appt.public_id)).content.decode()
    assert 'value="confirmed"' in html and 'value="completed"' not in html
    client.post(url("appointment_status", appointment_id=appt.public_id), {"status": "confirmed"})
    client.post(url("appointment_status", appointment_id=appt.public_id), {"status": "completed"})  # refused
    with scopes_disabled():
        appt.refresh_from_db()
        assert appt.status == "confirmed"
        assert list(appt.status_changes.filter(attendee=None).values_list("to_status", flat=True)) == ["confirmed"]


def test_start_note_prefills_and_links_the_attendee(world, client):
    appt = book(world, TODAY, 9)
    with scopes_disabled():
        cf.NoteTemplateFactory(practice=world.practice, kind="soap", name="SOAP (practice)")
        attendee = appt.attendees.get()
    sign_in(client, world.clinician)
    start_url = url("appointment_start_note", appointment_id=appt.public_id, attendee_id=attendee.public_id)
    response = client.post(start_url)
    with scopes_disabled():
        note = ProgressNote.objects.get(patient=world.patient)
        attendee.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == url("note_edit", note_id=note.public_id)
    assert attendee.progress_note_id == note.pk
    assert note.session_on == TODAY and note.start_time == time(9, 0) and note.end_time == time(9, 45)
    assert note.service_code == "90834" and note.author_id == world.clinician.pk
    again = client.post(start_url)
    assert again["Location"] == url("note_edit", note_id=note.public_id)
    with scopes_disabled():
        assert ProgressNote.objects.filter(patient=world.patient).count() == 1


def test_front_desk_and_biller_cannot_start_a_note(world, client):
    appt = book(world, TODAY, 9)
    with scopes_disabled():
        attendee = appt.attendees.get()
    for member in (world.front_desk, world.biller):
        sign_in(client, member)
        start_url = url("appointment_start_note", appointment_id=appt.public_id, attendee_id=attendee.public_id)
        assert client.post(start_url).status_code == 403


def test_clinician_outside_the_caseload_gets_404_starting_a_note(world, client):
    appt = book(world, TODAY, 9)
    with scopes_disabled():
        attendee = appt.attendees.get()
    sign_in(client, world.other_clinician)
    start_url = url("appointment_start_note", appointment_id=appt.public_id, attendee_id=attendee.public_id)
    assert client.post(start_url).status_code == 404


# --- Availability, types, rooms --------------------------------------------------------------


def test_front_desk_adds_edits_and_removes_weekly_hours(world, client):
    sign_in(client, world.front_desk)
    response = client.post(
        url("availability"),
        {
            "form": "rule",
            "rule-clinician": world.clinician.pk,
            "rule-location": world.location.pk,
            "rule-weekday": "1",
            "rule-start_time": "09:00",
            "rule-end_time": "17:00",
            "rule-valid_from": "2026-03-17",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        rule = AvailabilityRule.objects.get(clinician=world.clinician)
    page = client.get(url("availability")).content.decode()
    assert "Tuesday" in page and "9:00 AM" in page
    client.post(
        url("availability_rule_edit", rule_id=rule.public_id),
        {
            "clinician": world.clinician.pk,
            "location": world.location.pk,
            "weekday": "1",
            "start_time": "10:00",
            "end_time": "16:00",
            "valid_from": "2026-03-17",
        },
    )
    with scopes_disabled():
        rule.refresh_from_db()
        assert rule.start_time == time(10, 0)
    client.post(url("availability_rule_edit", rule_id=rule.public_id), {"action": "delete"})
    with scopes_disabled():
        assert not AvailabilityRule.objects.filter(pk=rule.pk).exists()


def test_time_off_is_entered_in_the_locations_zone(world, client):
    sign_in(client, world.front_desk)
    response = client.post(
        url("availability"),
        {
            "form": "exception",
            "exc-clinician": world.clinician.pk,
            "exc-kind": "time_off",
            "exc-location": world.location.pk,
            "exc-starts_at": "2026-03-30T09:00",
            "exc-ends_at": "2026-03-30T17:00",
            "exc-reason": "Conference",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        exc = world.clinician.availability_exceptions.get()
    assert exc.starts_at == local(date(2026, 3, 30), 9)


def test_biller_views_availability_but_cannot_change_it(world, client):
    sign_in(client, world.biller)
    assert client.get(url("availability")).status_code == 200
    response = client.post(url("availability"), {"form": "rule", "rule-clinician": world.clinician.pk})
    assert response.status_code == 403


def test_admin_manages_types_and_rooms(world, client):
    sign_in(client, world.admin)
    response = client.post(
        url("appointment_type_list"),
        {
            "name": "Intake 60",
            "duration_minutes": "60",
            "default_service_code": "90791",
            "modality": "either",
            "color": "#7c3aed",
            "max_attendees": "1",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        intake = AppointmentType.objects.get(name="Intake 60")
    assert "appt-c2" in client.get(url("appointment_type_list")).content.decode()
    client.post(
        url("appointment_type_edit", type_id=intake.public_id),
        {
            "name": "Intake 60",
            "duration_minutes": "55",
            "default_service_code": "90791",
            "modality": "either",
            "color": "#7c3aed",
            "max_attendees": "1",
        },
    )
    with scopes_disabled():
        intake.refresh_from_db()
        assert intake.duration_minutes == 55 and not intake.is_active
    client.post(url("room_list"), {"location": world.location.pk, "name": "Room A", "capacity": "3", "is_active": "on"})
    with scopes_disabled():
        room = Room.objects.get(name="Room A")
    client.post(
        url("room_edit", room_id=room.public_id),
        {"location": world.location.pk, "name": "Room B", "capacity": "3", "is_active": "on"},
    )
    with scopes_disabled():
        room.refresh_from_db()
        assert room.name == "Room B"


def test_front_desk_cannot_manage_types_or_rooms(world, client):
    sign_in(client, world.front_desk)
    assert client.get(url("appointment_type_list")).status_code == 403
    assert client.get(url("room_list")).status_code == 403


def test_sidebar_links_by_role(world, client):
    sign_in(client, world.biller)
    html = client.get(url("calendar")).content.decode()
    assert f'href="{url("calendar")}"' in html and f'href="{url("availability")}"' in html


# --- Dashboard and chart ---------------------------------------------------------------------


def test_dashboard_shows_todays_load_for_the_front_desk(world, client):
    book(world, TODAY, 11)
    book(world, TODAY, 12, patient=cf.PatientFactory(practice=world.practice), status="confirmed")
    book(world, TODAY, 8, patient=cf.PatientFactory(practice=world.practice), status="cancelled")
    sign_in(client, world.front_desk)
    html = client.get(reverse("practice_dashboard", kwargs={"practice_slug": SLUG})).content.decode()
    assert "Today&#x27;s schedule" in html or "Today's schedule" in html
    assert "3 appointments" in html and "Quinlan" in html
    assert url("calendar") + "?view=day" in html


def test_dashboard_shows_a_clinician_their_own_day(world, client):
    book(world, TODAY, 11)
    other = cf.PatientFactory(practice=world.practice, legal_last_name="Zephyrine")
    book(world, TODAY, 12, clinician=world.other_clinician, patient=other)
    sign_in(client, world.clinician)
    html = client.get(reverse("practice_dashboard", kwargs={"practice_slug": SLUG})).content.decode()
    assert "Quinlan" in html and "Zephyrine" not in html and "(yours)" in html


def test_chart_shows_next_appointment_and_a_short_list(world, client):
    past = book(world, TODAY - timedelta(days=7), 9)
    upcoming = book(world, NEXT_WEEK, 9)
    sign_in(client, world.front_desk)
    response = client.get(url("patient_chart", patient_id=world.patient.public_id))
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["chart"].appointments["next"] == upcoming
    assert url("appointment_detail", appointment_id=upcoming.public_id) in html
    assert url("appointment_detail", appointment_id=past.public_id) in html
    assert 'id="appointments"' in html


def test_front_desk_books_a_group_session_with_several_patients(world, client):
    with scopes_disabled():
        group = sf.AppointmentTypeFactory(
            practice=world.practice, name="DBT skills group", duration_minutes=90, is_group=True, max_attendees=8
        )
        second = cf.PatientFactory(practice=world.practice, legal_last_name="Okonkwo")
    sign_in(client, world.front_desk)
    data = booking_post(world, NEXT_WEEK, "13:00", appointment_type=group.pk)
    data["patient"] = [str(world.patient.public_id), str(second.public_id)]
    response = client.post(url("appointment_new"), data)
    assert response.status_code == 302
    with scopes_disabled():
        appt = Appointment.objects.get(appointment_type=group)
        assert set(appt.attendees.values_list("patient_id", flat=True)) == {world.patient.pk, second.pk}


def test_two_patients_for_an_individual_type_is_a_form_error(world, client):
    with scopes_disabled():
        second = cf.PatientFactory(practice=world.practice)
    sign_in(client, world.front_desk)
    data = booking_post(world, NEXT_WEEK, "13:00")
    data["patient"] = [str(world.patient.public_id), str(second.public_id)]
    response = client.post(url("appointment_new"), data)
    assert response.status_code == 200
    assert "exactly one patient" in response.content.decode()


def test_large_group_calendar_starts_from_own_or_the_first_few_clinicians(world, client):
    from scheduling.views import CALENDAR_DEFAULT_MAX_CLINICIANS

    with scopes_disabled():
        extra = [
            MembershipFactory(practice=world.practice, role=Role.CLINICIAN)
            for _ in range(CALENDAR_DEFAULT_MAX_CLINICIANS)
        ]
        total = Membership.objects.filter(practice=world.practice, role__in=CLINICIAN_ROLES, is_active=True).count()
        for i, clinician in enumerate([world.clinician, *extra]):
            book(world, NEXT_WEEK + timedelta(days=i % 5), 8 + i // 5, clinician=clinician)
    params = {"view": "week", "date": NEXT_WEEK.isoformat()}

    sign_in(client, world.clinician)
    own = client.get(url("calendar"), params)
    assert own.context["shown_clinicians"] == [world.clinician]
    assert own.content.decode().count('class="appt ') == 1
    assert "Showing your calendar." in own.content.decode()

    client.logout()
    sign_in(client, world.front_desk)
    desk = client.get(url("calendar"), params)
    assert len(desk.context["shown_clinicians"]) == CALENDAR_DEFAULT_MAX_CLINICIANS
    assert f"Showing {CALENDAR_DEFAULT_MAX_CLINICIANS} of {total} clinicians." in desk.content.decode()

    everyone = [c.public_id for c in desk.context["clinicians"]]
    chosen = client.get(url("calendar"), {**params, "clinician": everyone})
    assert chosen.context["shown_clinicians"] is None
    assert chosen.content.decode().count('class="appt ') == 1 + len(extra)
