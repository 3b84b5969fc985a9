"""Claim shapes for the 837P tests and the benchmark (helper B4). Create inside a practice scope."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from billing import models as m
from billing.tests.factories import (
    BillingProfileFactory,
    ChargeFactory,
    ClaimFactory,
    CoverageFactory,
    PayerFactory,
    RenderingProviderFactory,
)
from clinical.tests.factories import PatientFactory

ADDRESS = {"address_line1": "200 Oak Avenue", "city": "Portland", "state": "OR", "postal_code": "97204"}


def profile(practice, **fields) -> m.BillingProfile:
    existing = m.BillingProfile.objects.filter(practice=practice).first()
    return existing or BillingProfileFactory(practice=practice, **fields)


def patient(practice, **fields):
    return PatientFactory(practice=practice, sex_assigned_at_birth="female", **{**ADDRESS, **fields})


def rendering(practice, **fields):
    return RenderingProviderFactory(practice=practice, **fields).membership


def add_line(claim, *, cpt="90834", cents=15000, modifiers=(), units=1, pointers=(1,), pos="", minutes=45):
    number = claim.lines.count() + 1
    charge = ChargeFactory(
        practice=claim.practice,
        coverage=claim.coverage,
        patient=claim.patient,
        rendering=claim.rendering,
        service_date=claim.service_date,
        cpt=cpt,
        modifiers=list(modifiers),
        units=units,
        fee_cents=cents,
        status=m.Charge.Status.ON_CLAIM,
    )
    line = m.ClaimLine.objects.create(
        practice=claim.practice,
        claim=claim,
        charge=charge,
        line_number=number,
        service_date=claim.service_date,
        cpt=cpt,
        modifiers=list(modifiers),
        units=units,
        charge_cents=cents,
        place_of_service=pos,
        diagnosis_pointers=list(pointers),
        minutes=minutes,
    )
    claim.total_cents = sum(claim.lines.values_list("charge_cents", flat=True))
    claim.save(update_fields=["total_cents"])
    return line


def make_claim(practice, *, coverage=None, lines=(("90834", 15000),), status=m.Claim.Status.READY, **fields):
    coverage = coverage or CoverageFactory(practice=practice, patient=patient(practice))
    claim = ClaimFactory(
        practice=practice,
        coverage=coverage,
        patient=coverage.patient,
        payer=coverage.payer,
        status=status,
        rendering=fields.pop("rendering", None) or rendering(practice),
        diagnosis_codes=fields.pop("diagnosis_codes", ["F33.1", "F41.1"]),
        total_cents=0,
        **fields,
    )
    for cpt, cents, *rest in lines:
        extra = rest[0] if rest else {}
        add_line(claim, cpt=cpt, cents=cents, **extra)
    claim.refresh_from_db()
    return claim


def shape_single(practice):
    return [make_claim(practice)]


def shape_multi_line(practice):
    return [
        make_claim(
            practice,
            lines=[
                ("90837", 25000, {"pointers": (1, 2), "minutes": 55}),
                ("90785", 2550),
                ("96127", 3000, {"units": 2}),
            ],
            prior_authorization_number="AUTH778899",
        )
    ]


def shape_em_addon(practice):
    prescriber = RenderingProviderFactory(practice=practice, taxonomy="363LP0808X", is_prescriber=True)
    return [
        make_claim(
            practice,
            rendering=prescriber.membership,
            lines=[("99214", 18000, {"pointers": (1, 2), "minutes": None}), ("90833", 13000, {"minutes": 20})],
        )
    ]


def shape_group(practice, patients=4):
    clinician = rendering(practice)
    payer = PayerFactory(practice=practice)
    day = timezone.localdate() - timedelta(days=2)
    return [
        make_claim(
            practice,
            coverage=CoverageFactory(practice=practice, payer=payer, patient=patient(practice)),
            rendering=clinician,
            service_date=day,
            lines=[("90853", 6000, {"minutes": 60})],
        )
        for _ in range(patients)
    ]


def dependent_coverage(practice, payer=None, **fields):
    child = patient(practice, date_of_birth=date(2012, 5, 4))
    return CoverageFactory(
        practice=practice,
        patient=child,
        payer=payer or PayerFactory(practice=practice),
        relationship=m.Coverage.Relationship.CHILD,
        subscriber_first_name="Richard",
        subscriber_last_name="Roe",
        subscriber_date_of_birth=date(1978, 7, 20),
        subscriber_sex="M",
        subscriber_address_line1="300 Elm Street",
        subscriber_city="Portland",
        subscriber_state="OR",
        subscriber_zip_code="972020000",
        **fields,
    )


def shape_dependent(practice):
    return [make_claim(practice, coverage=dependent_coverage(practice))]


def shape_secondary(practice):
    person = patient(practice)
    CoverageFactory(practice=practice, patient=person, priority=m.Coverage.Priority.PRIMARY)
    secondary = CoverageFactory(practice=practice, patient=person, priority=m.Coverage.Priority.SECONDARY)
    return [make_claim(practice, coverage=secondary)]


def shape_corrected(practice):
    original = make_claim(practice, status=m.Claim.Status.DENIED, payer_claim_number="ICN2025000777")
    return [
        make_claim(
            practice,
            coverage=original.coverage,
            frequency=m.Claim.Frequency.REPLACEMENT,
            original=original,
            payer_claim_number="ICN2025000777",
        )
    ]


def shape_void(practice):
    original = make_claim(practice, status=m.Claim.Status.ACCEPTED, payer_claim_number="ICN2025000888")
    return [
        make_claim(
            practice,
            coverage=original.coverage,
            frequency=m.Claim.Frequency.VOID,
            original=original,
            payer_claim_number="ICN2025000888",
        )
    ]


def shape_telehealth(practice):
    return [
        make_claim(
            practice,
            coverage=dependent_coverage(practice),
            place_of_service="10",
            lines=[("90834", 16000, {"modifiers": ("95",)}), ("96127", 3000, {"modifiers": ("95",), "units": 2})],
        )
    ]


SHAPES = {
    "single_line": shape_single,
    "multi_line": shape_multi_line,
    "em_addon": shape_em_addon,
    "group": shape_group,
    "dependent": shape_dependent,
    "secondary": shape_secondary,
    "corrected": shape_corrected,
    "void": shape_void,
    "telehealth": shape_telehealth,
}
