"""A biller reads the A/R dashboard, posts an 835 (one claim paid with a contractual reduction and a
patient share, one denied CO-197), works the denial from the queue (assigns it to herself, adds a
note, checks the appeal letter is a PDF, writes it off) and sees the dashboard move by exactly the
posted amounts; the CSV export downloads the same figures."""

import csv
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from billing.era_writer import clp, era
from billing.ledger import trial_balance
from billing.models import Claim, DenialCase
from billing.tests.factories import claim_with_lines, ledger_charge
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


def _submitted_claim(practice, control_number: str, first: str, last: str) -> Claim:
    """A submitted one-line 90834 claim of $150 whose charge is posted to insurance A/R."""
    today = timezone.localdate()
    claim = claim_with_lines(
        practice,
        control_number=control_number,
        service_date=today - timedelta(days=14),
        status=Claim.Status.SUBMITTED,
        submitted_at=timezone.now() - timedelta(days=10),
    )
    claim.patient.legal_first_name, claim.patient.legal_last_name, claim.patient.preferred_name = first, last, ""
    claim.patient.save()
    ledger_charge(claim.lines.get().charge)
    return claim


def _kpi(page, name: str) -> tuple[str, str]:
    """A dashboard figure as shown: its value and the line under it."""
    stat = page.locator(f"[data-kpi={name}]")
    return stat.locator(".stat__value").inner_text(), stat.locator(".stat__meta").inner_text()


def test_biller_posts_an_835_writes_off_the_denial_and_sees_ar_move(page, tmp_path):
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside")
    user = UserFactory(email="bea@riverside.test", full_name="Bea Biller")
    with scopes_disabled():
        biller = MembershipFactory(practice=riverside, user=user, role=Role.BILLER)
    with practice_scope(riverside):
        paid = _submitted_claim(riverside, "RIV0000001", "Dana", "Reyes")
        denied = _submitted_claim(riverside, "RIV0000002", "Sam", "Ortiz")
    dos = paid.service_date
    # Paid: $150 billed, $100 paid, CO-45 $20 contractual, PR-2 $30 coinsurance (sums to the charge).
    # Denied: CO-197 (no authorization) for the whole $150, nothing paid; CLP02 4 = denied (835 TR3).
    remit = era(
        [
            clp(
                "RIV0000001",
                "1",
                "150.00",
                "100.00",
                "30.00",
                patient=("REYES", "DANA"),
                lines=[("90834", "150.00", "100.00", dos, [("CO", "45", "20.00"), ("PR", "2", "30.00")], [])],
            ),
            clp(
                "RIV0000002",
                "4",
                "150.00",
                "0.00",
                patient=("ORTIZ", "SAM"),
                lines=[("90834", "150.00", "0.00", dos, [("CO", "197", "150.00")], ["M62"])],
            ),
        ],
        "100.00",
        trace="EFTRIV0001",
        paid_on=timezone.localdate(),
    )
    era_path = tmp_path / "riverside.835"
    era_path.write_text(remit, encoding="ascii")
    device = totp_device_for(user)

    sign_in_with_totp(page, user, device)

    # 1. The dashboard before: two $150 charges open with the payer, no remittance yet
    page.get_by_role("link", name="Accounts receivable").first.click()
    page.wait_for_url("**/billing/ar/")
    assert _kpi(page, "total-ar") == ("$300.00", "insurance $300.00 · patient $0.00")
    assert _kpi(page, "days-in-ar")[0] == "90.0"  # 300 / (300 / 90 days), MGMA gross days in A/R
    assert _kpi(page, "denial-rate") == ("–", "0 of 0 first remits")

    # 2. Remittances: upload the 835 and see what was posted
    page.get_by_role("link", name="Remittances").first.click()
    page.wait_for_url("**/billing/remittances/")
    page.get_by_label("X12 file").set_input_files(era_path)
    page.locator("[data-remittance-upload]").click()
    page.wait_for_url("**/billing/remittances/*/")
    toast = page.locator(".toasts").inner_text()
    assert "Posted $100.00: 2 claims matched (1 paid, 0 partially paid, 1 denied, 0 reversed), 0 unmatched." in toast
    # the counts stay on the page after the toast fades
    totals = page.locator("[data-remittance-totals]").inner_text()
    assert "2 claims" in totals and "1 paid" in totals and "1 denied" in totals and "claim payments $100.00" in totals
    assert "EFTRIV0001" in page.locator("h1").inner_text()
    paid_card = page.locator("[data-remittance-claim=RIV0000001]")
    denied_card = page.locator("[data-remittance-claim=RIV0000002]")
    assert "Paid" in paid_card.locator(".badge").first.inner_text()
    assert "paid $100.00" in paid_card.inner_text() and "CO-45" in paid_card.inner_text()
    assert "Denied" in denied_card.locator(".card__header .badge").inner_text()
    assert "Denied CO-197" in denied_card.inner_text() and "M62" in denied_card.inner_text()

    # 3. The denial queue: open the denial, assign it to me, note it, check the appeal letter, write it off
    page.get_by_role("link", name="Denials").first.click()
    page.wait_for_url("**/billing/denials/")
    row = page.locator("tr[data-denial]")
    assert row.count() == 1
    assert "Sam Ortiz" in row.inner_text() and "RIV0000002" in row.inner_text() and "$150.00" in row.inner_text()
    row.get_by_role("link", name="CO-197").click()
    page.wait_for_url("**/billing/denials/*/")
    assert "Open" in page.locator("[data-case-status]").inner_text()
    assert page.locator("[data-denied-line]").count() == 1

    page.get_by_label("Assign to").select_option(label="Bea Biller")
    page.locator("[data-action=assign]").click()
    page.wait_for_url("**/billing/denials/*/")
    assert "Denial assigned." in page.locator(".toasts").inner_text()
    assert "Bea Biller" in page.locator("dl").inner_text()

    page.get_by_label("Note (also used as the appeal or resolution note)").fill("Called payer: no retro auth.")
    page.locator("[data-action=note]").click()
    page.wait_for_url("**/billing/denials/*/")
    assert "Called payer: no retro auth." in page.locator("[data-history]").inner_text()

    letter = page.get_by_role("link", name="Appeal letter (PDF)")
    response = page.context.request.get(letter.get_attribute("href"))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")

    page.get_by_label("Write-off reason").fill("No authorization on file; payer will not accept retro auth.")
    assert page.get_by_label("Amount").input_value() == "150.00"
    page.locator("[data-action=write_off]").click()
    page.wait_for_url("**/billing/denials/*/")
    assert "Written off." in page.locator(".toasts").inner_text()
    assert "Written off" in page.locator("[data-case-status]").inner_text()
    assert page.locator("[data-action=write_off]").count() == 0  # a closed denial has no actions

    # 4. The dashboard after: insurance A/R down $300 = $100 paid + $20 CO-45 + $150 written off
    #    + $30 moved to the patient; total A/R down $270 (paid + adjustments)
    page.get_by_role("link", name="Accounts receivable").first.click()
    page.wait_for_url("**/billing/ar/")
    assert _kpi(page, "total-ar") == ("$30.00", "insurance $0.00 · patient $30.00")
    assert _kpi(page, "days-in-ar")[0] == "9.0"  # 30 / (300 / 90 days)
    assert _kpi(page, "denial-rate") == ("50.0%", "1 of 2 first remits")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"ar-dashboard-{timezone.localdate().isoformat()}.csv"
    with open(download.path(), encoding="utf-8") as fh:
        summary = {r[1]: r[2] for r in csv.reader(fh) if r and r[0] == "summary"}
    assert summary["total_ar"] == "30.00" and summary["insurance_ar"] == "0.00" and summary["patient_ar"] == "30.00"
    assert summary["denial_rate_pct"] == "50.0"

    with practice_scope(riverside):
        assert sum(trial_balance().values(), Decimal("0")) == 0
        case = DenialCase.objects.get()
        assert case.claim_id == denied.pk and case.status == DenialCase.Status.WRITTEN_OFF
        assert case.assigned_to_id == biller.pk
        paid.refresh_from_db()
        assert paid.status == Claim.Status.PAID
