"""Every scrubbing rule, with a passing and a failing case (billing.md §3).

Each case starts from a clean factory claim (valid identifiers, one 90834 line of 45 minutes on an
F33.1 diagnosis, three days ago) and changes exactly one thing: the failing case must raise that
rule (and only the rules named), the passing case is a near miss the rule must accept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from assessments.tests.factories import ResponseFactory
from billing import models as bm
from billing.scrubbing import RULES, build_context, scrub
from billing.tests.factories import (
    BillingProfileFactory,
    ChargeFactory,
    CoverageFactory,
    PriorAuthorizationFactory,
    RenderingProviderFactory,
    claim_with_lines,
)
from billing.validators import make_npi
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def scoped(practice_a):
    with practice_scope(practice_a):
        yield practice_a


@pytest.fixture
def claim(scoped):
    BillingProfileFactory(practice=scoped)
    return claim_with_lines(scoped)


def findings(claim, today=None):
    return scrub(build_context(claim, today=today or TODAY))


def codes(claim, today=None) -> set[str]:
    return {f.rule_code for f in findings(claim, today)}


def first_line(claim) -> bm.ClaimLine:
    return bm.ClaimLine.objects.filter(claim=claim).order_by("line_number").first()


def set_line(claim, **fields) -> bm.ClaimLine:
    line = first_line(claim)
    for k, v in fields.items():
        setattr(line, k, v)
    line.save()
    return line


def add_line(claim, cpt: str, *, units: int = 1, minutes=None, modifiers=None, cents: int = 5000, **kw):
    number = bm.ClaimLine.objects.filter(claim=claim).count() + 1
    charge = ChargeFactory(
        practice=claim.practice,
        coverage=claim.coverage,
        patient=claim.patient,
        rendering=claim.rendering,
        service_date=kw.get("service_date", claim.service_date),
        cpt=cpt,
        minutes=minutes,
        status=bm.Charge.Status.ON_CLAIM,
        fee_cents=cents,
    )
    line = bm.ClaimLine.all_objects.create(
        practice=claim.practice,
        claim=claim,
        charge=charge,
        line_number=number,
        service_date=kw.get("service_date", claim.service_date),
        cpt=cpt,
        units=units,
        charge_cents=cents,
        modifiers=modifiers or [],
        diagnosis_pointers=[1],
        minutes=minutes,
    )
    claim.total_cents += cents
    claim.save(update_fields=["total_cents"])
    return line


def save(obj, **fields):
    for k, v in fields.items():
        setattr(obj, k, v)
    obj.save()
    return obj


def provider(claim) -> bm.RenderingProvider:
    return bm.RenderingProvider.objects.get(membership=claim.rendering)


def profile() -> bm.BillingProfile:
    return bm.BillingProfile.objects.get()


def make_prescriber(claim):
    save(provider(claim), is_prescriber=True, credential="PMHNP", taxonomy="363LP0808X")


def as_only(claim, cpt, **kw):
    """Replace the 90834 line by `cpt`."""
    set_line(claim, cpt=cpt, **kw)


def other_claim(claim, **fields):
    """Another claim of the same patient, same coverage, rendering and DOS."""
    return claim_with_lines(
        claim.practice,
        coverage=fields.pop("coverage", claim.coverage),
        rendering=claim.rendering,
        service_date=claim.service_date,
        **fields,
    )


def responses(claim, instruments):
    for code in instruments:
        ResponseFactory(
            practice=claim.practice,
            patient=claim.patient,
            instrument_code=code,
            completed_at=timezone.make_aware(
                timezone.datetime.combine(claim.service_date, timezone.datetime.min.time()).replace(hour=12)
            ),
        )


def medicare(claim, member_id="1EG4TE5MK73"):
    save(claim.payer, name="Medicare Part B", filing_indicator="MB", timely_filing_days=365)
    save(claim.coverage, member_id=member_id)


# --------------------------------------------------------------------------------------------
# Failing cases: (rule, breaker, expected codes)

Breaker = Callable[[bm.Claim], None]

FAILING: list[tuple[str, str, Breaker, set[str]]] = [
    ("R1", "billing NPI", lambda c: save(profile(), npi="1234567890"), {"R1"}),
    ("R1", "rendering NPI", lambda c: save(provider(c), npi=make_npi("198765432")[:9] + "0"), {"R1"}),
    ("R1", "no billing identity", lambda c: profile().delete(), {"R1"}),
    ("R2", "billing taxonomy", lambda c: save(profile(), taxonomy="103T0000"), {"R2"}),
    ("R2", "rendering taxonomy", lambda c: save(provider(c), taxonomy="101YP2500"), {"R2"}),
    ("R3", "no rendering", lambda c: save(c, rendering=None), {"R3"}),
    ("R3", "rendering without NPI", lambda c: provider(c).delete(), {"R3"}),
    ("R4", "prescriber-only code", lambda c: as_only(c, "99213", minutes=None), {"R4"}),
    ("R4", "excluded credential", lambda c: save(c.payer, excluded_credentials=["lpc"]), {"R4"}),
    (
        "R4",
        "pre-licensed without supervisor",
        lambda c: (save(c.payer, requires_supervising_provider=True), save(c.rendering, is_licensed=False)),
        {"R4"},
    ),
    ("R5", "PO box", lambda c: save(profile(), address_line1="PO Box 4411"), {"R5"}),
    ("R5", "5-digit ZIP", lambda c: save(profile(), zip_code="97205"), {"R5"}),
    ("R6", "TIN with dash", lambda c: save(profile(), tin="37-123456"), {"R6"}),
    ("R7", "no member id", lambda c: save(c.coverage, member_id=""), {"R7"}),
    ("R7", "not an MBI", lambda c: medicare(c, member_id="1EG4-TE5-MK73"), {"R7"}),
    ("R8", "dependent without subscriber", lambda c: save(c.coverage, relationship="19"), {"R8"}),
    ("R9", "coverage not started", lambda c: save(c.coverage, starts_on=c.service_date + timedelta(days=1)), {"R9"}),
    ("R9", "coverage ended", lambda c: save(c.coverage, ends_on=c.service_date - timedelta(days=1)), {"R9"}),
    ("R9", "born after DOS", lambda c: save(c.patient, date_of_birth=c.service_date + timedelta(days=1)), {"R9"}),
    ("R10", "Medicaid filed as CI", lambda c: save(c.payer, name="Oregon Medicaid"), {"R10"}),
    ("D1", "dx without dot", lambda c: save(c, diagnosis_codes=["F331"]), {"D1"}),
    ("D1", "lower case dx", lambda c: save(c, diagnosis_codes=["f33.1"]), {"D1"}),
    ("D2", "category code", lambda c: save(c, diagnosis_codes=["F33"]), {"D2"}),
    ("D2", "unknown code", lambda c: save(c, diagnosis_codes=["F33.7"]), {"D2"}),
    ("D3", "no diagnosis", lambda c: save(c, diagnosis_codes=[]), {"D3", "D6"}),
    (
        "D4",
        "13 diagnoses",
        lambda c: save(
            c,
            diagnosis_codes=["F33.1"] + [f"R45.{i}" for i in range(7)] + ["F41.1", "F43.10", "F32.A", "F99", "F01.50"],
        ),
        {"D4"},
    ),
    ("D4", "repeated diagnosis", lambda c: save(c, diagnosis_codes=["F33.1", "F33.1"]), {"D4"}),
    ("D5", "primary not F", lambda c: save(c, diagnosis_codes=["R45.1"]), {"D5"}),
    ("D5", "only Z codes", lambda c: save(c, diagnosis_codes=["Z04.6"]), {"D5"}),
    ("D6", "dangling pointer", lambda c: set_line(c, diagnosis_pointers=[2]), {"D6"}),
    ("D6", "repeated pointer", lambda c: set_line(c, diagnosis_pointers=[1, 1]), {"D6"}),
    (
        "D6",
        "five pointers",
        lambda c: (
            save(c, diagnosis_codes=["F33.1", "F41.1", "F43.10", "F32.A", "F99"]),
            set_line(c, diagnosis_pointers=[1, 2, 3, 4, 5]),
        ),
        {"D6"},
    ),
    ("D6", "no pointer", lambda c: set_line(c, diagnosis_pointers=[]), {"D6"}),
    ("C1", "total off", lambda c: save(c, total_cents=c.total_cents + 1), {"C1"}),
    ("C2", "bad POS", lambda c: save(c, place_of_service="99"), {"C2"}),
    ("C2", "corrected without ICN", lambda c: save(c, frequency="7"), {"C2"}),
    (
        "C2",
        "frequency the payer refuses",
        lambda c: (save(c, frequency="7", payer_claim_number="ICN1"), save(c.payer, accepted_frequency_codes=["1"])),
        {"C2"},
    ),
    ("C3", "bad CLM01", lambda c: save(c, control_number="AB*12"), {"C3"}),
    ("C4", "future line", lambda c: set_line(c, service_date=TODAY + timedelta(days=2)), {"C4"}),
    ("C5", "zero units", lambda c: set_line(c, units=0), {"C5"}),
    ("C5", "repeated modifier", lambda c: set_line(c, modifiers=["59", "59"]), {"C5"}),
    ("C5", "unknown modifier", lambda c: set_line(c, modifiers=["Q9"]), {"C5"}),
    ("C5", "five modifiers", lambda c: set_line(c, modifiers=["59", "XE", "HO", "AH", "AJ"]), {"C5"}),
    ("C6", "line numbering", lambda c: set_line(c, line_number=3), {"C6"}),
    ("C7", "duplicate claim", lambda c: other_claim(c), {"C7", "P1"}),
    ("C8", "past the limit", lambda c: None, {"C8"}),  # today moved by TODAY_FOR below
    ("C8", "near the limit", lambda c: None, {"C8"}),
    ("C9", "no authorization", lambda c: save(c.payer, auth_required_cpts=["90834"]), {"C9"}),
    (
        "C9",
        "authorization expired",
        lambda c: (
            save(c.payer, auth_required_cpts=["90834"]),
            PriorAuthorizationFactory(
                practice=c.practice,
                coverage=c.coverage,
                starts_on=c.service_date - timedelta(days=90),
                ends_on=c.service_date - timedelta(days=1),
            ),
            save(c, prior_authorization_number="X"),
        ),
        {"C9"},
    ),
    ("C9", "authorization exhausted", lambda c: exhausted_auth(c), {"C9"}),
    (
        "C9",
        "authorization not on the claim",
        lambda c: (
            save(c.payer, auth_required_cpts=["90834"]),
            PriorAuthorizationFactory(practice=c.practice, coverage=c.coverage),
        ),
        {"C9"},
    ),
    ("P0", "unknown CPT", lambda c: as_only(c, "90999"), {"P0"}),
    ("P1", "minutes too few for 90834", lambda c: set_line(c, minutes=30), {"P1"}),
    ("P1", "90837 with 45 minutes", lambda c: set_line(c, cpt="90837"), {"P1"}),
    (
        "P1",
        "no minutes documented",
        lambda c: (set_line(c, minutes=None), save(first_line(c).charge, minutes=None)),
        {"P1"},
    ),
    ("P2", "add-on without E/M", lambda c: (make_prescriber(c), as_only(c, "90836")), {"P2"}),
    (
        "P2",
        "add-on with stand-alone psychotherapy",
        lambda c: (make_prescriber(c), add_line(c, "99213"), add_line(c, "90836", minutes=45)),
        {"P2"},
    ),
    ("P3", "90785 alone", lambda c: as_only(c, "90785", minutes=None), {"P3"}),
    ("P3", "90785 with crisis", lambda c: (as_only(c, "90839", minutes=60), add_line(c, "90785")), {"P3", "P4"}),
    ("P4", "90840 without 90839", lambda c: as_only(c, "90840", minutes=None), {"P4"}),
    ("P4", "90839 with 90834", lambda c: add_line(c, "90839", minutes=60), {"P4"}),
    ("P4", "90839 twice", lambda c: as_only(c, "90839", minutes=60, units=2), {"P4"}),
    (
        "P5",
        "90791 with E/M",
        lambda c: (make_prescriber(c), as_only(c, "90791", minutes=None), add_line(c, "99213")),
        {"P5"},
    ),
    ("P5", "90792 by non-prescriber", lambda c: as_only(c, "90792", minutes=None), {"P5"}),
    ("P6", "90847 of 20 minutes", lambda c: as_only(c, "90847", minutes=20), {"P6"}),
    (
        "P7",
        "more units than instruments",
        lambda c: (as_only(c, "96127", minutes=None, units=2), responses(c, ["PHQ-9"])),
        {"P7"},
    ),
    (
        "P7",
        "over the MUE",
        lambda c: (as_only(c, "96127", minutes=None, units=4), responses(c, ["PHQ-9", "GAD-7", "PCL-5", "AUDIT-C"])),
        {"P7"},
    ),
    ("P8", "POS 10 without 95", lambda c: save(c, place_of_service="10"), {"P8"}),
    ("P8", "95 in the office (cms)", lambda c: set_line(c, modifiers=["95"]), {"P8"}),
    (
        "P8",
        "GT on Medicare",
        lambda c: (medicare(c), save(c, place_of_service="02"), set_line(c, modifiers=["GT"])),
        {"P8"},
    ),
    (
        "P8",
        "office_95 payer sent POS 10",
        lambda c: (
            save(c.payer, telehealth="office_95"),
            save(c, place_of_service="10"),
            set_line(c, modifiers=["95"]),
        ),
        {"P8"},
    ),
    ("S1", "secondary without primary", lambda c: save(c.coverage, priority="S"), {"S1"}),
    (
        "S1",
        "secondary while primary is submitted",
        lambda c: secondary_after_primary(c, bm.Claim.Status.SUBMITTED),
        {"S1"},
    ),
]

PASSING: list[tuple[str, str, Breaker]] = [
    ("R1", "clean NPIs with a supervisor", lambda c: with_supervisor(c)),
    ("R2", "clean taxonomies", lambda c: None),
    ("R3", "rendering with identity", lambda c: None),
    ("R4", "prescriber bills E/M", lambda c: (make_prescriber(c), as_only(c, "99213", minutes=None))),
    (
        "R4",
        "pre-licensed with supervisor",
        lambda c: (
            save(c.payer, requires_supervising_provider=True),
            save(c.rendering, is_licensed=False),
            with_supervisor(c),
        ),
    ),
    ("R5", "street with 'Box' in the name", lambda c: save(profile(), address_line1="12 Boxwood Lane")),
    ("R6", "9-digit TIN", lambda c: None),
    ("R7", "valid MBI", lambda c: medicare(c)),
    (
        "R8",
        "dependent with subscriber details",
        lambda c: save(
            c.coverage,
            relationship="19",
            subscriber_first_name="Sam",
            subscriber_last_name="Doe",
            subscriber_date_of_birth=TODAY.replace(year=TODAY.year - 40),
            subscriber_sex="F",
            subscriber_address_line1="1 Elm St",
            subscriber_city="Portland",
            subscriber_state="OR",
            subscriber_zip_code="97205",
        ),
    ),
    ("R9", "coverage window covers DOS", lambda c: save(c.coverage, ends_on=c.service_date)),
    ("R10", "Medicaid filed as MC", lambda c: save(c.payer, name="Oregon Medicaid", filing_indicator="MC")),
    (
        "R10",
        "Medicare Advantage filed as HM",
        lambda c: save(c.payer, name="Acme Medicare Advantage", filing_indicator="HM"),
    ),
    ("D1", "well-formed codes", lambda c: save(c, diagnosis_codes=["F33.1", "F41.1", "F43.10", "F32.A"])),
    ("D2", "billable three-character code", lambda c: save(c, diagnosis_codes=["F99"])),
    ("D3", "one diagnosis", lambda c: None),
    (
        "D4",
        "12 diagnoses",
        lambda c: save(
            c, diagnosis_codes=["F33.1"] + [f"R45.{i}" for i in range(7)] + ["F41.1", "F43.10", "F32.A", "F99"]
        ),
    ),
    (
        "D5",
        "F code first, Z second",
        lambda c: (save(c, diagnosis_codes=["F33.1", "Z04.6"]), set_line(c, diagnosis_pointers=[1, 2])),
    ),
    (
        "D6",
        "four distinct pointers",
        lambda c: (
            save(c, diagnosis_codes=["F33.1", "F41.1", "F43.10", "F32.A"]),
            set_line(c, diagnosis_pointers=[4, 3, 2, 1]),
        ),
    ),
    ("C1", "two lines totalled", lambda c: add_line(c, "90785")),
    (
        "C2",
        "corrected with ICN accepted",
        lambda c: (
            save(c, frequency="7", payer_claim_number="ICN1"),
            save(c.payer, accepted_frequency_codes=["1", "7", "8"]),
        ),
    ),
    ("C3", "20-character CLM01", lambda c: save(c, control_number="T1-000000000000000AB")),
    ("C4", "service today", lambda c: (save(c, service_date=TODAY), set_line(c, service_date=TODAY))),
    ("C5", "four distinct known modifiers", lambda c: set_line(c, modifiers=["59", "XE", "HO", "AJ"])),
    ("C6", "three lines numbered", lambda c: (add_line(c, "90785"), add_line(c, "96127"), responses(c, ["PHQ-9"]))),
    ("C7", "same service on a void claim", lambda c: other_claim(c, status=bm.Claim.Status.VOID)),
    (
        "C7",
        "corrected claim repeats the original",
        lambda c: save(c, frequency="7", payer_claim_number="ICN9", original=other_claim(c)),
    ),
    ("C8", "well inside the limit", lambda c: None),
    ("C9", "authorized visit", lambda c: authorized(c)),
    ("P0", "HCPCS in the catalog", lambda c: as_only(c, "H0031", minutes=None)),
    ("P1", "90832 at 16 minutes", lambda c: set_line(c, cpt="90832", minutes=16)),
    ("P1", "90837 at 53 minutes", lambda c: set_line(c, cpt="90837", minutes=53)),
    (
        "P2",
        "E/M + 90836",
        lambda c: (make_prescriber(c), as_only(c, "99214", minutes=None), add_line(c, "90836", minutes=40)),
    ),
    ("P3", "90785 with 90834", lambda c: add_line(c, "90785")),
    ("P4", "90839 + 90840", lambda c: (as_only(c, "90839", minutes=80), add_line(c, "90840"))),
    ("P5", "90792 by prescriber", lambda c: (make_prescriber(c), as_only(c, "90792", minutes=None))),
    ("P6", "90847 of 50 minutes", lambda c: as_only(c, "90847", minutes=50)),
    (
        "P7",
        "two units for two instruments",
        lambda c: (add_line(c, "96127", units=2), responses(c, ["PHQ-9", "GAD-7"])),
    ),
    ("P7", "MUE raised for the payer", lambda c: mue_raised(c)),
    ("P8", "POS 10 with 95 (cms)", lambda c: (save(c, place_of_service="10"), set_line(c, modifiers=["95"]))),
    (
        "P8",
        "POS 10 with 93 audio-only on Medicare",
        lambda c: (medicare(c), save(c, place_of_service="10"), set_line(c, modifiers=["93"])),
    ),
    (
        "P8",
        "office_95 payer, POS 11 + 95",
        lambda c: (save(c.payer, telehealth="office_95"), set_line(c, modifiers=["95"])),
    ),
    (
        "P8",
        "gt payer, POS 02 + GT",
        lambda c: (save(c.payer, telehealth="gt"), save(c, place_of_service="02"), set_line(c, modifiers=["GT"])),
    ),
    ("S1", "secondary after a paid primary", lambda c: secondary_after_primary(c, bm.Claim.Status.PAID)),
    ("S1", "secondary after a denied primary", lambda c: secondary_after_primary(c, bm.Claim.Status.DENIED)),
]


def with_supervisor(c):
    sup = RenderingProviderFactory(practice=c.practice, credential="LCSW", taxonomy="1041C0700X")
    save(c, supervising=sup.membership)


def exhausted_auth(c):
    save(c.payer, auth_required_cpts=["90834"])
    auth = PriorAuthorizationFactory(practice=c.practice, coverage=c.coverage, visits_authorized=1)
    ChargeFactory(
        practice=c.practice,
        coverage=c.coverage,
        patient=c.patient,
        service_date=c.service_date - timedelta(days=7),
        prior_authorization=auth,
    )
    save(c, prior_authorization_number=auth.number)


def authorized(c):
    save(c.payer, auth_required_cpts=["90834"])
    auth = PriorAuthorizationFactory(practice=c.practice, coverage=c.coverage, visits_authorized=2)
    ChargeFactory(
        practice=c.practice,
        coverage=c.coverage,
        patient=c.patient,
        service_date=c.service_date - timedelta(days=7),
        prior_authorization=auth,
    )
    line = first_line(c)
    save(line.charge, prior_authorization=auth)
    save(c, prior_authorization_number=auth.number)


def mue_raised(c):
    as_only(c, "96127", minutes=None, units=4)
    responses(c, ["PHQ-9", "GAD-7", "PCL-5", "AUDIT-C"])
    bm.ScrubRuleSetting.all_objects.create(practice=c.practice, payer=c.payer, rule_code="P7", config={"max_units": 4})


def secondary_after_primary(c, status):
    primary_coverage = CoverageFactory(practice=c.practice, patient=c.patient, priority="P")
    other_claim(c, coverage=primary_coverage, status=status)
    save(c.coverage, priority="S")


# Timely filing moves "today" rather than the claim (the claim stays three days old).
TODAY_FOR = {("C8", "past the limit"): 200 - 3, ("C8", "near the limit"): 150 - 3}


def _ids(cases):
    return [f"{case[0]}-{case[1].replace(' ', '_')}" for case in cases]


@pytest.mark.parametrize(("code", "what", "breaker", "expected"), FAILING, ids=_ids(FAILING))
def test_rule_fails_when_one_thing_is_broken(claim, code, what, breaker, expected):
    assert codes(claim) == set(), [f.message for f in findings(claim)]
    breaker(claim)
    claim.refresh_from_db()
    shift = TODAY_FOR.get((code, what), 0)
    result = findings(claim, today=TODAY + timedelta(days=shift))
    assert {f.rule_code for f in result} == expected, [(f.rule_code, f.message) for f in result]
    hit = next(f for f in result if f.rule_code == code)
    assert hit.message and hit.fix and hit.fix[0].isupper()


@pytest.mark.parametrize(("code", "what", "maker"), PASSING, ids=_ids(PASSING))
def test_rule_passes_its_near_miss(claim, code, what, maker):
    maker(claim)
    claim.refresh_from_db()
    result = findings(claim)
    assert {f.rule_code for f in result} == set(), [(f.rule_code, f.message) for f in result]


def test_every_rule_has_a_failing_and_a_passing_case():
    assert {c[0] for c in FAILING} == set(RULES)
    assert {c[0] for c in PASSING} == set(RULES)


def test_every_rule_declares_code_title_severity_and_source():
    for code, r in RULES.items():
        assert r.code == code and r.title and r.source.startswith(("billing.md", "issue"))
        assert r.severity in ("error", "warning")


# --------------------------------------------------------------------------------------------
# Messages carry the real values and a fix


def test_rendering_npi_message_names_the_npi_the_clinician_and_the_fix(claim):
    rp = save(provider(claim), npi="1234567890", first_name="Alex", last_name="Smith")
    hit = next(f for f in findings(claim) if f.rule_code == "R1")
    assert hit.message == "NPI 1234567890 on the rendering provider (Alex Smith) fails the check digit."
    assert hit.fix == "Correct the NPI on Billing setup → Rendering providers."
    assert rp.membership_id == claim.rendering_id


def test_time_mismatch_names_minutes_and_the_right_code(claim):
    set_line(claim, cpt="90837")
    hit = next(f for f in findings(claim) if f.rule_code == "P1")
    assert "needs 53 or more minutes" in hit.message and "documents 45" in hit.message and "90834" in hit.message
    assert hit.fix == "Change the code to 90834 on the claim"
    assert hit.line is not None and hit.line.cpt == "90837"


def test_timely_filing_turns_from_warning_to_error(claim):
    near = [f for f in findings(claim, today=TODAY + timedelta(days=147)) if f.rule_code == "C8"]
    past = [f for f in findings(claim, today=TODAY + timedelta(days=197)) if f.rule_code == "C8"]
    assert [f.severity for f in near] == ["warning"] and "submit by" in near[0].message
    assert [f.severity for f in past] == ["error"] and "180 days" in past[0].message


def test_medicare_timely_filing_is_one_year_whatever_the_payer_row_says(claim):
    medicare(claim)
    save(claim.payer, timely_filing_days=90)
    assert "C8" not in codes(claim, today=TODAY + timedelta(days=100))
    assert "C8" in codes(claim, today=TODAY + timedelta(days=363))


def test_missing_minutes_and_multiple_psychotherapy_are_warnings(claim):
    set_line(claim, minutes=None)
    save(first_line(claim).charge, minutes=None)
    other_claim(claim, status=bm.Claim.Status.DENIED)  # a denied claim counts neither as duplicate nor per day
    result = findings(claim)
    assert {(f.rule_code, f.severity) for f in result} == {("P1", "warning")}


def test_gt_on_medicare_says_it_is_retired(claim):
    medicare(claim)
    save(claim, place_of_service="02")
    set_line(claim, modifiers=["GT"])
    hit = next(f for f in findings(claim) if f.rule_code == "P8")
    assert "GT is retired for Medicare professional claims" in hit.message


def test_fix_links_point_at_pages_or_are_empty(claim):
    save(profile(), zip_code="97205")
    set_line(claim, diagnosis_pointers=[3])
    for f in findings(claim):
        assert f.fix_url == "" or f.fix_url.startswith(f"/p/{claim.practice.slug}/")


def test_corrected_responses_do_not_count_for_96127(claim):
    as_only(claim, "96127", minutes=None, units=2)
    responses(claim, ["PHQ-9", "GAD-7"])
    from assessments.models import Response

    gad = Response.objects.get(instrument_code="GAD-7")
    ResponseFactory(
        practice=claim.practice,
        patient=claim.patient,
        instrument_code="GAD-7",
        corrects=gad,
        completed_at=gad.completed_at,
    )
    assert "P7" not in codes(claim)  # the correction replaces the original: still two instruments
    set_line(claim, units=3)
    assert "P7" in codes(claim)


def test_docs_catalogue_matches_the_registry():
    from pathlib import Path

    from billing.scrubbing import catalogue

    doc = Path(__file__).resolve().parents[2] / "docs" / "scrubbing.md"
    assert doc.read_text() == catalogue(), "regenerate it: see the command at the top of docs/scrubbing.md"
