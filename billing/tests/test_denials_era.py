"""Denials (helper R3) end to end with the real 835 posting (helper R1): a CO-197 zero-pay denial
lands in the queue with its CARC/RARC explained, is appealed, and its write-off keeps insurance A/R
from being credited twice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from billing import services_denials as svc
from billing.ledger import balance, trial_balance
from billing.models import Claim, DenialCase
from billing.selectors_denials import DenialFilters, denial_queue
from billing.services_remittance import remittance_import
from billing.tests import factories as bf
from billing.tests.era_files import clp, era
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


def _denied_claim(practice):
    claim = bf.claim_with_lines(practice, control_number="DENR3", status=Claim.Status.SUBMITTED)
    line = claim.lines.select_related("charge").get()
    bf.ledger_charge(line.charge)
    amount = Decimal(line.charge_cents) / 100
    text = era(
        [
            clp(
                "DENR3",
                "1",
                amount,
                0,
                lines=[(line.cpt, amount, 0, line.service_date, [("CO", "197", amount)], ["M62"])],
            )
        ],
        "0",
    )
    result = remittance_import(practice=practice, content=text)
    assert not result.rejected, result.error
    return claim, amount


def test_posted_denial_is_worked_from_queue_to_write_off(practice_a, make_member, client, login):
    biller = make_member(practice_a, Role.BILLER)
    with practice_scope(practice_a):
        claim, amount = _denied_claim(practice_a)
        case = DenialCase.objects.get(claim=claim)
        (row,) = denial_queue(DenialFilters(group="auth"))
        assert row.pk == case.pk and row.amount == amount and "authorization" in row.description.lower()
    login(biller)
    detail = client.get(reverse("denial_detail", kwargs={"practice_slug": practice_a.slug, "case_id": case.public_id}))
    html = detail.content.decode()
    assert "data-denied-line" in html and "Authorization number missing or invalid." in html
    with practice_scope(practice_a):
        svc.denial_appeal(case=case, by=biller)
        claim.refresh_from_db()
        assert claim.status == Claim.Status.APPEALED
        charge_ids = list(claim.lines.values_list("charge_id", flat=True))
        ar_before = balance("insurance_ar", claim=claim) + balance("insurance_ar", charge_id__in=charge_ids)
        svc.denial_write_off(case=case, by=biller, reason="Appeal denied; no retro auth.")
        ar_after = balance("insurance_ar", claim=claim) + balance("insurance_ar", charge_id__in=charge_ids)
        # the denial was held in insurance A/R until worked; the write-off takes it out
        assert ar_before == amount and ar_after == 0
        assert balance("write_off", claim=claim) == amount
        assert balance("contractual", claim=claim) == 0
        assert sum(trial_balance().values(), Decimal("0")) == 0
