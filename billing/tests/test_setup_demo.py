"""The billing set-up demo (billing/demo.py `seed_billing_setup`) on top of the seed_demo world:
valid identifiers, four payers, fee schedules, coverage shapes, authorizations, an answered
eligibility check; a second run changes nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from billing.demo import seed_billing_setup
from billing.models import (
    BillingProfile,
    Coverage,
    EligibilityCheck,
    FeeSchedule,
    PatientBillingSettings,
    Payer,
    PriorAuthorization,
    RenderingProvider,
)
from billing.selectors_setup import fee_for
from billing.validators import npi_is_valid, taxonomy_is_valid
from practice.models import Practice
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
            first, second = {}, {}
            for practice in Practice.objects.order_by("slug"):
                with practice_scope(practice):
                    first[practice.slug] = seed_billing_setup(practice)
            for practice in Practice.objects.order_by("slug"):
                with practice_scope(practice):
                    second[practice.slug] = seed_billing_setup(practice)
            yield {"first": first, "second": second}
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def test_running_it_again_changes_nothing(seeded):
    # seed_demo has already run seed_billing_setup once: both later runs find everything in place
    assert all(r["changes"] == 0 for r in seeded["first"].values()), seeded["first"]
    assert all(r["changes"] == 0 for r in seeded["second"].values()), seeded["second"]


def test_cedar_billing_setup(seeded):
    cedar = Practice.objects.get(slug="cedar")
    with practice_scope(cedar):
        profile = BillingProfile.objects.get()
        assert npi_is_valid(profile.npi) and len(profile.zip_code) == 9 and len(profile.tin) == 9
        providers = {
            p.membership.user.email.split("@")[0]: p
            for p in RenderingProvider.objects.select_related("membership__user")
        }
        assert providers["renata.alvarez"].taxonomy == "103T00000X"
        assert providers["aisha.bello"].taxonomy == "1041C0700X"
        assert providers["elena.petrova"].taxonomy == "101YP2500X"
        assert providers["samuel.ortiz"].taxonomy == "363LP0808X" and providers["samuel.ortiz"].is_prescriber
        assert all(npi_is_valid(p.npi) and taxonomy_is_valid(p.taxonomy) for p in providers.values())
        assert "marcus.chen" not in providers  # the practice manager is not a clinician
        payers = {p.filing_indicator: p for p in Payer.objects.all()}
        assert set(payers) == {"BL", "CI", "MB", "MC"}
        assert payers["CI"].auth_required_cpts == ["90837"]
        assert payers["MB"].telehealth == "cms" and payers["MC"].requires_supervising_provider
        assert FeeSchedule.objects.filter(kind="payer").count() == 4
        assert FeeSchedule.objects.filter(kind="self_pay").count() == 1
        coverages = list(Coverage.objects.select_related("patient"))
        assert any(c.relationship == "19" and c.subscriber_last_name for c in coverages)
        assert any(c.priority == "S" for c in coverages)
        assert PatientBillingSettings.objects.filter(self_pay=True).exists()
        assert PriorAuthorization.objects.count() == 2
        check = EligibilityCheck.objects.get()
        assert check.status == "answered" and check.is_active_coverage is True
        assert any(b["code"] == "B" and b["amount_cents"] == 3000 for b in check.benefits)
        primary = next(c for c in coverages if c.priority == "P")
        assert fee_for(coverage=primary, cpt="90834", patient=primary.patient, on=primary.starts_on) > 0
