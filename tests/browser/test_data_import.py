"""An admin migrates patients from another system: uploads a CSV, checks the suggested column
mapping, sees the dry run's row errors, then uploads the clean sample, imports it and finds the
patients in the patient list."""

import os
from pathlib import Path

import pytest
from django_scopes import scopes_disabled

from clinical.models import Patient
from integrations.models import ImportJob
from practice.permissions import Role
from practice.tests.factories import (
    MembershipFactory,
    PracticeFactory,
    UserFactory,
    totp_device_for,
)
from tests.browser.staff import sign_in_with_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SAMPLES = Path(__file__).resolve().parents[2] / "integrations" / "sample_csv"
SHOTS = os.environ.get("H6_SCREENSHOTS")


def _shot(page, name):
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def _upload(page, sample: str) -> None:
    page.goto("/p/riverside/integrations/import/")
    page.get_by_label("What the file contains", exact=True).select_option(label="Patients")
    page.get_by_label("CSV file", exact=True).set_input_files(str(SAMPLES / sample))
    page.get_by_role("button", name="Upload and map columns").click()
    page.wait_for_selector("[data-import-mapping]")


def test_admin_imports_patients_after_fixing_dry_run_errors(page):
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside")
    admin = UserFactory(email="marcus@riverside.test", full_name="Marcus Admin")
    with scopes_disabled():
        MembershipFactory(practice=riverside, user=admin, role=Role.ADMIN)
        for email in ("elena.petrova@cedarbh.example", "david.kim@cedarbh.example"):
            MembershipFactory(practice=riverside, user=UserFactory(email=email), role=Role.CLINICIAN)
    device = totp_device_for(admin)

    sign_in_with_totp(page, admin, device)

    # 1. The file with mistakes: the mapping is suggested from the headers; the dry run lists errors.
    _upload(page, "patients_with_errors.csv")
    assert page.get_by_label("Date of birth").input_value() == "date_of_birth"
    assert page.get_by_label("Legal first name").input_value() == "first_name"
    _shot(page, "import-mapping")
    page.get_by_role("button", name="Check the file (dry run)").click()
    errors = page.locator("[data-import-errors]")
    errors.wait_for()
    text = errors.inner_text()
    assert "31/02/1980 is not a date" in text
    assert "OLD-2001 is also on row 2" in text
    assert page.locator("[data-import-run]").count() == 0
    _shot(page, "import-dry-run-errors")
    with scopes_disabled():
        assert not Patient.objects.exists()

    # 2. The clean sample: checked, then imported all at once.
    _upload(page, "patients.csv")
    page.get_by_role("button", name="Check the file (dry run)").click()
    page.locator("[data-import-run]").wait_for()
    assert page.locator("[data-count-new]").inner_text() == "8"
    page.get_by_role("button", name="Import 8 rows").click()
    page.locator("[data-import-done]").wait_for()
    _shot(page, "import-done")
    page.get_by_role("link", name="See the patients").click()
    page.wait_for_url("**/patients/**")
    listing = page.locator("main").inner_text()
    assert "Quintero" in listing and "Banks" in listing
    with scopes_disabled():
        assert Patient.objects.filter(practice=riverside).count() == 8


def test_the_job_page_polls_progress_and_reloads_when_the_job_finishes(page):
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside")
    admin = UserFactory(email="marcus@riverside.test", full_name="Marcus Admin")
    with scopes_disabled():
        membership = MembershipFactory(practice=riverside, user=admin, role=Role.ADMIN)
        job = ImportJob.objects.create(
            practice=riverside,
            kind="patients",
            filename="big.csv",
            content="external_id\n",
            headers=["external_id"],
            status=ImportJob.Status.IMPORTING,
            total_rows=8,
            processed_rows=3,
            created_by=membership,
        )
    device = totp_device_for(admin)
    sign_in_with_totp(page, admin, device)

    page.goto(f"/p/riverside/integrations/import/{job.public_id}/")
    assert "3 of 8 rows" in page.locator("[data-import-progress]").inner_text()
    with scopes_disabled():
        ImportJob.objects.filter(pk=job.pk).update(processed_rows=6)
    page.get_by_text("6 of 8 rows").wait_for()  # the htmx poll swapped the bar in
    with scopes_disabled():
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.IMPORTED,
            processed_rows=8,
            report={
                "mode": "import",
                "counts": {"new": 8, "updated": 0, "unchanged": 0},
                "errors": [],
                "error_count": 0,
            },
        )
    page.locator("[data-import-done]").wait_for()  # HX-Refresh reloaded the page
    assert page.locator("[data-import-progress]").count() == 0
