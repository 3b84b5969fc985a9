"""Billing set-up pages: billing identity, rendering providers, payers with their rules, fee
schedules with inline entries, sliding scale; permissions and bounded queries."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from billing.models import (
    BillingProfile,
    FeeSchedule,
    FeeScheduleEntry,
    PatientBillingSettings,
    Payer,
    RenderingProvider,
    ScrubRuleSetting,
    SlidingScaleTier,
)
from billing.selectors_setup import scrub_rules
from billing.tests import factories as bf
from clinical.tests.factories import PatientFactory
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db

PROFILE = {
    "legal_name": "Riverside Behavioral Health LLC",
    "entity_type": "2",
    "npi": "1234567893",
    "tin": "37-1234567",
    "taxonomy": "261QM0801X",
    "address_line1": "100 Main Street",
    "address_line2": "",
    "city": "Portland",
    "state": "or",
    "zip_code": "972051234",
    "pay_to_address_line1": "PO Box 42",
    "pay_to_address_line2": "",
    "pay_to_city": "Portland",
    "pay_to_state": "OR",
    "pay_to_zip_code": "97207",
    "submitter_id": "RIVERSIDEBH",
    "contact_name": "Billing Office",
    "contact_phone": "(503) 555-0100",
}


def url(practice, name, **kw):
    return reverse(name, kwargs={"practice_slug": practice.slug, **kw})


@pytest.fixture
def biller(practice_a, make_member, login):
    member = make_member(practice_a, Role.BILLER, email="biller@riverside.test")
    login(member)
    return member


def test_billing_identity_is_saved_and_normalised(practice_a, biller, client):
    response = client.post(url(practice_a, "billing_setup"), PROFILE)
    assert response.status_code == 302
    with practice_scope(practice_a):
        profile = BillingProfile.objects.get()
    assert (profile.tin, profile.zip_code, profile.state, profile.contact_phone) == (
        "371234567",
        "972051234",
        "OR",
        "5035550100",
    )
    assert profile.pay_to_address_line1 == "PO Box 42"
    page = client.get(url(practice_a, "billing_setup")).content.decode()
    assert "Riverside Behavioral Health LLC" in page and "Payers" in page and "Fee schedules" in page


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("npi", "1234567890", "This NPI fails the check digit"),
        ("address_line1", "P.O. Box 12", "a PO box goes in the pay-to address"),
        ("zip_code", "97205", "9-digit ZIP+4"),
        ("taxonomy", "103T0000", "A taxonomy code is 10 characters"),
    ],
)
def test_billing_identity_errors_are_shown_on_the_form(practice_a, biller, client, field, value, error):
    response = client.post(url(practice_a, "billing_setup"), {**PROFILE, field: value})
    assert response.status_code == 400
    assert error in response.content.decode()
    with practice_scope(practice_a):
        assert not BillingProfile.objects.exists()


def test_clinician_cannot_open_billing_setup(practice_a, clinician_a, login, client):
    login(clinician_a)
    assert client.get(url(practice_a, "billing_setup")).status_code == 403


def test_rendering_provider_for_a_pre_licensed_clinician_shows_the_supervisor(practice_a, biller, make_member, client):
    supervisor = make_member(practice_a, Role.SUPERVISOR, email="sup@riverside.test", full_name="Sam Supervisor")
    intern = make_member(
        practice_a,
        Role.CLINICIAN,
        email="intern@riverside.test",
        full_name="Ira Intern",
        is_licensed=False,
        supervisor=supervisor,
    )
    page = client.get(url(practice_a, "rendering_provider_list")).content.decode()
    assert "Ira Intern" in page and "Supervisor: Sam Supervisor" in page
    edit = url(practice_a, "rendering_provider_edit", member_id=intern.public_id)
    page = client.get(edit).content.decode()
    assert "Sam Supervisor" in page and "Pre-licensed" in page
    data = {
        "first_name": "Ira",
        "last_name": "Intern",
        "npi": "1234567890",
        "taxonomy": "101yp2500x",
        "credential": "LPC-A",
    }
    response = client.post(edit, data)
    assert response.status_code == 400 and "This NPI fails the check digit" in response.content.decode()
    response = client.post(edit, {**data, "npi": "1234567893"})
    assert response.status_code == 302
    with practice_scope(practice_a):
        provider = RenderingProvider.objects.get(membership=intern)
    assert provider.taxonomy == "101YP2500X" and not provider.is_prescriber


PAYER = {
    "name": "Acme Commercial",
    "payer_id": "60054",
    "filing_indicator": "CI",
    "timely_filing_days": "90",
    "telehealth": "office_95",
    "auth_required_cpts": "90837, 90791",
    "accepted_frequency_codes": "1 7",
    "excluded_credentials": "lmft",
    "requires_supervising_provider": "on",
    "address_line1": "",
    "city": "",
    "state": "",
    "zip_code": "",
    "phone": "",
    "is_active": "on",
}


def test_payer_create_edit_and_rules(practice_a, biller, client):
    response = client.post(url(practice_a, "payer_new"), PAYER)
    assert response.status_code == 302
    with practice_scope(practice_a):
        payer = Payer.objects.get()
    assert payer.auth_required_cpts == ["90837", "90791"]
    assert payer.accepted_frequency_codes == ["1", "7"] and payer.excluded_credentials == ["LMFT"]
    assert payer.requires_supervising_provider and payer.telehealth == "office_95"
    edit = url(practice_a, "payer_edit", payer_id=payer.public_id)
    page = client.get(edit).content.decode()
    assert "90837, 90791" in page and "SBR09" in page
    response = client.post(edit, {**PAYER, "section": "payer", "auth_required_cpts": "90837, 12345"})
    assert response.status_code == 400 and "Not a code Tend bills: 12345" in response.content.decode()
    rules = scrub_rules()
    if not rules:
        assert "not available yet" in page
        return
    code = rules[0].code
    data = {"section": "rules"}
    for r in rules:
        if r.code != code:
            data[f"rules-enabled_{r.code}"] = "on"
    data[f"rules-severity_{rules[-1].code}"] = "warning"
    assert client.post(edit, data).status_code == 302
    with practice_scope(practice_a):
        settings = {s.rule_code: s for s in ScrubRuleSetting.objects.filter(payer=payer)}
    assert settings[code].is_enabled is False
    assert settings[rules[-1].code].severity == "warning"
    assert len(settings) == (1 if rules[-1].code == code else 2)  # defaults store nothing


def test_practice_wide_rule_settings(practice_a, biller, client):
    rules = scrub_rules()
    page = client.get(url(practice_a, "scrub_rule_settings"))
    assert page.status_code == 200
    if not rules:
        pytest.skip("billing.scrubbing.RULES is not available in this checkout")
    data = {f"rules-enabled_{r.code}": "on" for r in rules[1:]}
    assert client.post(url(practice_a, "scrub_rule_settings"), data).status_code == 302
    with practice_scope(practice_a):
        setting = ScrubRuleSetting.objects.get()
    assert setting.payer_id is None and setting.rule_code == rules[0].code and not setting.is_enabled
    # switching it back on removes the setting
    data[f"rules-enabled_{rules[0].code}"] = "on"
    client.post(url(practice_a, "scrub_rule_settings"), data)
    with practice_scope(practice_a):
        assert not ScrubRuleSetting.objects.exists()


def test_fee_schedule_with_inline_entries(practice_a, biller, client):
    with practice_scope(practice_a):
        payer = bf.PayerFactory(practice=practice_a)
    response = client.post(
        url(practice_a, "fee_schedule_new"),
        {"name": "Acme 2026", "kind": "payer", "payer": payer.pk, "effective_from": "2026-01-01", "is_active": "on"},
    )
    assert response.status_code == 302
    with practice_scope(practice_a):
        schedule = FeeSchedule.objects.get()
    edit = url(practice_a, "fee_schedule_edit", schedule_id=schedule.public_id)
    assert (
        client.post(
            edit, {"action": "add_entry", "new-cpt": "90834", "new-modifier": "", "new-amount": "150.00"}
        ).status_code
        == 302
    )
    assert (
        client.post(
            edit, {"action": "add_entry", "new-cpt": "90834", "new-modifier": "95", "new-amount": "140.5"}
        ).status_code
        == 302
    )
    dup = client.post(edit, {"action": "add_entry", "new-cpt": "90834", "new-modifier": "", "new-amount": "1"})
    assert dup.status_code == 400 and "already has a fee" in dup.content.decode()
    with practice_scope(practice_a):
        plain = FeeScheduleEntry.objects.get(modifier="")
        tele = FeeScheduleEntry.objects.get(modifier="95")
    assert (plain.amount_cents, tele.amount_cents) == (15000, 14050)
    page = client.get(edit).content.decode()
    assert "Psychotherapy, about 45 minutes" in page and "150.00" in page
    prefix = f"e{plain.pk}"
    data = {
        "action": "update_entry",
        "entry": plain.public_id,
        f"{prefix}-cpt": "90834",
        f"{prefix}-modifier": "",
        f"{prefix}-amount": "155",
    }
    assert client.post(edit, data).status_code == 302
    assert client.post(edit, {"action": "remove_entry", "entry": tele.public_id}).status_code == 302
    with practice_scope(practice_a):
        assert list(FeeScheduleEntry.objects.values_list("cpt", "modifier", "amount_cents")) == [("90834", "", 15500)]


def test_only_one_active_self_pay_schedule(practice_a, biller, client):
    data = {"name": "Self-pay", "kind": "self_pay", "payer": "", "effective_from": "2026-01-01", "is_active": "on"}
    assert client.post(url(practice_a, "fee_schedule_new"), data).status_code == 302
    response = client.post(url(practice_a, "fee_schedule_new"), {**data, "name": "Another"})
    assert response.status_code == 400 and "already an active self-pay fee schedule" in response.content.decode()
    response = client.post(url(practice_a, "fee_schedule_new"), {**data, "kind": "payer", "name": "No payer"})
    assert response.status_code == 400 and "Choose the payer" in response.content.decode()


def test_sliding_scale_tiers(practice_a, biller, client):
    page = url(practice_a, "sliding_scale_tiers")
    assert "No active self-pay fee schedule" in client.get(page).content.decode()
    data = {
        "action": "add",
        "new-name": "Tier B",
        "new-discount_percent": "40",
        "new-description": "Income under 200% FPL",
    }
    assert client.post(page, data).status_code == 302
    assert client.post(page, {**data, "new-discount_percent": "140"}).status_code == 400
    with practice_scope(practice_a):
        tier = SlidingScaleTier.objects.get()
        PatientBillingSettings.objects.create(
            practice=practice_a, patient=PatientFactory(practice=practice_a), sliding_scale_tier=tier
        )
    response = client.post(page, {"action": "delete", "tier": tier.public_id})
    assert response.status_code == 400 and "1 patient use this tier" in response.content.decode()
    prefix = f"t{tier.pk}"
    data = {
        "action": "update",
        "tier": tier.public_id,
        f"{prefix}-name": "Tier B2",
        f"{prefix}-discount_percent": "50",
        f"{prefix}-description": "",
    }
    assert client.post(page, data).status_code == 302
    with practice_scope(practice_a):
        tier.refresh_from_db()
    assert (tier.name, tier.discount_percent) == ("Tier B2", 50)


@pytest.mark.parametrize("size", [2, 8])
def test_list_pages_have_bounded_queries(practice_a, biller, client, django_assert_max_num_queries, size):
    with practice_scope(practice_a):
        for _ in range(size):
            payer = bf.PayerFactory(practice=practice_a)
            schedule = bf.FeeScheduleFactory(practice=practice_a, payer=payer, effective_from=date(2026, 1, 1))
            bf.FeeScheduleEntryFactory(practice=practice_a, schedule=schedule)
            bf.RenderingProviderFactory(practice=practice_a)
            bf.SlidingScaleTierFactory(practice=practice_a)
    for name in ("payer_list", "fee_schedule_list", "rendering_provider_list", "sliding_scale_tiers", "billing_setup"):
        with django_assert_max_num_queries(16):
            assert client.get(url(practice_a, name)).status_code == 200
    with django_assert_max_num_queries(18):
        assert client.get(url(practice_a, "fee_schedule_edit", schedule_id=schedule.public_id)).status_code == 200


def test_other_practices_payer_is_a_404(practice_a, practice_b, biller, client):
    with practice_scope(practice_b):
        other = bf.PayerFactory(practice=practice_b)
    assert client.get(url(practice_a, "payer_edit", payer_id=other.public_id)).status_code == 404
