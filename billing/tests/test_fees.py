"""fee_for: payer schedule (modifier entry first), self-pay with sliding-scale discount, errors."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from billing.models import FeeSchedule, PatientBillingSettings
from billing.selectors_setup import discounted, fee_for
from billing.tests import factories as bf
from clinical.tests.factories import PatientFactory
from practice.errors import DomainError
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db
ON = date(2026, 3, 2)


@pytest.fixture
def world(practice_a):
    with practice_scope(practice_a):
        coverage = bf.CoverageFactory(practice=practice_a)
        schedule = bf.FeeScheduleFactory(practice=practice_a, payer=coverage.payer, effective_from=date(2025, 1, 1))
        bf.FeeScheduleEntryFactory(practice=practice_a, schedule=schedule, cpt="90834", amount_cents=15000)
        bf.FeeScheduleEntryFactory(
            practice=practice_a, schedule=schedule, cpt="90834", modifier="95", amount_cents=14000
        )
        self_pay = bf.FeeScheduleFactory(
            practice=practice_a, kind=FeeSchedule.Kind.SELF_PAY, payer=None, effective_from=date(2025, 1, 1)
        )
        bf.FeeScheduleEntryFactory(practice=practice_a, schedule=self_pay, cpt="90834", amount_cents=12999)
        yield {"coverage": coverage, "schedule": schedule, "self_pay": self_pay, "practice": practice_a}


def test_payer_schedule_prefers_the_modifier_entry_then_the_plain_one(world):
    with practice_scope(world["practice"]):
        c = world["coverage"]
        assert fee_for(coverage=c, cpt="90834", modifiers=["95"], patient=c.patient, on=ON) == 14000
        assert fee_for(coverage=c, cpt="90834", modifiers=["HO"], patient=c.patient, on=ON) == 15000
        assert fee_for(coverage=c, cpt="90834", modifiers=[], patient=c.patient, on=ON) == 15000


def test_the_schedule_in_force_on_the_date_wins(world):
    with practice_scope(world["practice"]):
        c = world["coverage"]
        newer = bf.FeeScheduleFactory(practice=world["practice"], payer=c.payer, effective_from=date(2026, 3, 1))
        bf.FeeScheduleEntryFactory(practice=world["practice"], schedule=newer, cpt="90834", amount_cents=16000)
        assert fee_for(coverage=c, cpt="90834", patient=c.patient, on=date(2026, 2, 28)) == 15000
        assert fee_for(coverage=c, cpt="90834", patient=c.patient, on=ON) == 16000
        newer.is_active = False
        newer.save()
        assert fee_for(coverage=c, cpt="90834", patient=c.patient, on=ON) == 15000


def test_missing_payer_fee_names_the_code_and_the_payer(world):
    with practice_scope(world["practice"]):
        c = world["coverage"]
        with pytest.raises(DomainError) as exc:
            fee_for(coverage=c, cpt="90837", patient=c.patient, on=ON)
        assert "90837" in exc.value.message and c.payer.name in exc.value.message
        assert exc.value.code == "no_fee"


def test_no_schedule_in_force_is_an_error(world):
    with practice_scope(world["practice"]):
        c = world["coverage"]
        with pytest.raises(DomainError, match="no schedule in force"):
            fee_for(coverage=c, cpt="90834", patient=c.patient, on=date(2024, 6, 1))


def test_self_pay_uses_the_self_pay_schedule_less_the_sliding_discount(world):
    practice = world["practice"]
    with practice_scope(practice):
        patient = PatientFactory(practice=practice)
        assert fee_for(coverage=None, cpt="90834", patient=patient, on=ON) == 12999
        tier = bf.SlidingScaleTierFactory(practice=practice, discount_percent=40)
        PatientBillingSettings.objects.create(
            practice=practice, patient=patient, sliding_scale_tier=tier, self_pay=True
        )
        assert fee_for(coverage=None, cpt="90834", patient=patient, on=ON) == 7799  # 12999 * 0.6 = 7799.4
        with pytest.raises(DomainError, match="self-pay fee for CPT 90791"):
            fee_for(coverage=None, cpt="90791", patient=patient, on=ON)


def test_discount_rounds_half_up_to_the_cent():
    assert discounted(12345, 50) == 6173  # 6172.5
    assert discounted(10000, 0) == 10000
    assert discounted(10000, 100) == 0


def test_other_practices_schedules_never_price_a_claim(world, practice_b):
    with practice_scope(practice_b):
        other = bf.CoverageFactory(practice=practice_b)
        patient_b = other.patient
        with pytest.raises(DomainError):
            fee_for(coverage=None, cpt="90834", patient=patient_b, on=ON + timedelta(days=1))
