"""The front desk books a weekly series from the calendar in the browser: opens the week view,
clicks an empty slot, searches the patient, books 4 weekly sessions, sees the blocks, opens one
and cancels just that one, and sees it struck through on the calendar."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from clinical.tests.factories import PatientFactory
from practice.permissions import Role
from practice.tests.factories import DEFAULT_PASSWORD, LocationFactory, MembershipFactory, PracticeFactory, UserFactory
from scheduling.models import Appointment
from scheduling.tests.factories import AppointmentTypeFactory

NY = ZoneInfo("America/New_York")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_front_desk_books_a_weekly_series_and_cancels_one(page):
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside", timezone="America/New_York")
    desk_user = UserFactory(email="desk@riverside.test", full_name="Frankie Desk")
    with scopes_disabled():
        MembershipFactory(practice=riverside, user=desk_user, role=Role.FRONT_DESK)
        clinician = MembershipFactory(
            practice=riverside, role=Role.CLINICIAN, user=UserFactory(full_name="Cara Clinician")
        )
        LocationFactory(practice=riverside, name="Main office", timezone="America/New_York")
        AppointmentTypeFactory(practice=riverside, name="Psychotherapy 45", duration_minutes=45, color="#7c3aed")
        PatientFactory(practice=riverside, legal_first_name="Dana", legal_last_name="Reyesworth")

    page.goto("/login/")
    page.get_by_label("Email").fill(desk_user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/p/riverside/**")

    # The week view, next week, and an empty slot on its Tuesday at 10:00
    page.get_by_role("link", name="Schedule", exact=True).click()
    page.wait_for_url("**/schedule/")
    page.get_by_role("link", name="Next week").click()
    page.wait_for_load_state()
    page.locator("a[data-slot][title*='Tue'][title$='at 10:00 AM']").first.click()
    page.wait_for_url("**/schedule/new/**")
    assert page.get_by_label("Start time", exact=True).input_value() == "10:00"
    booked_day = page.get_by_label("Date", exact=True).input_value()

    # Inline patient search, then the rest of the form
    page.get_by_label("Search by name, date of birth, phone or MRN").fill("Reyeswo")
    page.get_by_label("Dana Reyesworth").check()
    page.get_by_label("Type", exact=True).select_option(label="Psychotherapy 45")
    page.get_by_label("Clinician", exact=True).select_option(label="Cara Clinician")
    page.locator("#id_location").select_option(label="Main office")
    page.get_by_label("Repeat", exact=True).select_option("weekly")
    page.get_by_label("Number of sessions").fill("4")
    page.get_by_role("button", name="Book").click()
    page.wait_for_url("**/appointments/**")
    assert "Series booked." in page.content()
    with scopes_disabled():
        rows = list(Appointment.all_objects.filter(clinician=clinician).order_by("starts_at"))
    assert len(rows) == 4
    local = [r.starts_at.astimezone(NY) for r in rows]
    assert [d.date() - local[0].date() for d in local] == [timedelta(days=7 * i) for i in range(4)]
    assert {d.strftime("%H:%M") for d in local} == {"10:00"}

    # The calendar shows the blocks (one per week)
    calendar = reverse("calendar", kwargs={"practice_slug": "riverside"})
    page.goto(f"{calendar}?view=week&date={booked_day}")
    block = page.locator(f"[data-appointment='{rows[0].public_id}']")
    assert "Reyesworth" in block.inner_text() and "Psychotherapy 45" in block.inner_text()
    second_day = rows[1].starts_at.astimezone(NY).date().isoformat()
    page.get_by_role("link", name="Next week").click()
    page.wait_for_load_state()
    second = page.locator(f"[data-appointment='{rows[1].public_id}']")
    assert second.count() == 1

    # Open the second one, cancel just this one
    second.get_by_role("link").click()
    page.wait_for_url(f"**/appointments/{rows[1].public_id}/")
    page.get_by_role("button", name="Cancel appointment").click()
    dialog = page.locator("#cancel-dialog")
    dialog.get_by_label("Reason").fill("Patient travelling")
    scope_this = dialog.locator("input[name=scope][value=this]")
    assert "This appointment only" in dialog.locator("label[for=id_scope_0]").inner_text()
    scope_this.check()
    dialog.get_by_role("button", name="Cancel appointment").click()
    page.wait_for_url(f"**/appointments/{rows[1].public_id}/")
    assert "Appointment cancelled." in page.content()

    page.goto(f"{calendar}?view=week&date={second_day}")
    cancelled = page.locator(f"[data-appointment='{rows[1].public_id}']")
    assert cancelled.get_attribute("data-status") in ("cancelled", "late_cancelled")
    decoration = cancelled.locator(".appt__link").evaluate("el => getComputedStyle(el).textDecorationLine")
    assert "line-through" in decoration
    with scopes_disabled():
        statuses = [a.status for a in Appointment.all_objects.filter(clinician=clinician).order_by("starts_at")]
    assert statuses == ["scheduled", "cancelled", "scheduled", "scheduled"]
