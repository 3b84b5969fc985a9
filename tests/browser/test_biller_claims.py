"""A biller builds claims from the charges of signed notes, scrubs them, sees a flagged claim
(90837 billed for a 45-minute session) with its fix, corrects the code, re-scrubs clean, marks it
ready, exports it and downloads the 837P file the export wrote."""

from datetime import time

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from billing import services_charges
from billing.models import Claim, ClaimExportRequest
from billing.tests.claims_world import make_world, signed_note
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import (
    MembershipFactory,
    PracticeFactory,
    UserFactory,
    totp_device_for,
)
from tests.browser.staff import sign_in_with_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_biller_scrubs_fixes_a_flagged_claim_and_downloads_the_837(page):
    pytest.importorskip("billing.services_scrub")
    pytest.importorskip("billing.services_export")
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside")
    user = UserFactory(email="bea@riverside.test", full_name="Bea Biller")
    with scopes_disabled():
        MembershipFactory(practice=riverside, user=user, role=Role.BILLER)
    with practice_scope(riverside):
        world = make_world(riverside)
        patient = world.patients[0]
        patient.legal_first_name, patient.legal_last_name, patient.preferred_name = "Dana", "Reyes", ""
        patient.save()
        note = signed_note(patient, world.clinician, service_code="90837", start_time=time(10), end_time=time(10, 45))
        services_charges.charges_for_note(note_id=note.pk)
    device = totp_device_for(user)

    sign_in_with_totp(page, user, device)

    # The queue: build the claim from the unbilled charge
    page.goto(reverse("claim_queue", kwargs={"practice_slug": "riverside"}))
    page.locator("[data-build-claims]").click()
    row = page.locator("tr[data-claim]")
    row.wait_for()
    assert "Dana Reyes" in row.inner_text() and "90837" in row.inner_text()

    # Scrub it (the batch task runs eagerly here): the time rule flags it, with its fix
    page.get_by_label("Select claim").first.check()
    page.get_by_label("Action for the selected claims").select_option("scrub")
    page.locator("[data-bulk-apply]").click()
    page.wait_for_url("**/billing/claims/**")
    finding = page.locator("tr[data-claim] .claim-finding")
    finding.wait_for()
    assert "P1" in finding.inner_text() and "45" in finding.inner_text()
    assert page.locator("tr[data-claim] [data-fix-link]").count() == 1
    assert page.locator("[data-scrub=errors]").inner_text() == "1 error"

    # Open the claim, edit the line to the code the minutes support
    page.get_by_role("link", name="Dana Reyes").click()
    page.wait_for_url("**/billing/claims/*/")
    assert "P1" in page.locator("[data-findings]").inner_text()
    page.locator("[data-action=edit]").click()
    page.wait_for_url("**/edit/")
    page.get_by_label("CPT, line 1").select_option("90834")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url("**/billing/claims/*/")
    assert "Not scrubbed since the last change" in page.content()

    # Re-scrub clean, mark ready
    page.locator("[data-action=scrub]").click()
    page.wait_for_url("**/billing/claims/*/")
    assert page.locator("[data-scrub=errors]").count() == 0
    page.locator("[data-action=ready]").click()
    page.wait_for_url("**/billing/claims/*/")
    assert "Ready to submit" in page.locator(".page-header__sub").inner_text()

    # Export from the queue: a worker writes the 837 (eagerly here, once the request commits); the
    # EDI files page lists the finished export with its file
    page.goto(reverse("claim_queue", kwargs={"practice_slug": "riverside"}))
    page.get_by_label("Select claim").first.check()
    page.get_by_label("Action for the selected claims").select_option("export")
    page.locator("[data-bulk-apply]").click()
    page.wait_for_url("**/billing/files/")
    finished = page.locator("[data-recent-exports] [data-export-status=done]")
    finished.wait_for()
    assert "1 837 file released with 1 claim;" in finished.inner_text()
    with page.expect_download() as download_info:
        finished.locator("[data-export-file]").click()
    path = download_info.value.path()
    with open(path, encoding="ascii") as fh:
        content = fh.read()
    assert content.startswith("ISA*") and "SV1*HC:90834" in content
    with practice_scope(riverside):
        claim = Claim.objects.get()
        export = ClaimExportRequest.objects.get()
        assert export.status == "done" and list(export.files.all()) == [claim.claim_file]
    assert claim.status == Claim.Status.SUBMITTED and claim.claim_file is not None
