"""The 837P writer: every claim shape validates with pyx12; the envelope, hierarchy and elements are
what billing.md §2 prescribes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from billing import models as m
from billing.services_export import claims_for_837
from billing.tests import x12_shapes
from billing.tests.factories import CoverageFactory, PayerFactory
from billing.x12 import amount, clean, parse
from billing.x12_837 import build_837
from billing.x12_validate import validate_x12
from practice.models import Location
from practice.scoping import practice_scope

DATA = Path(__file__).parent / "data"
CREATED = datetime(2026, 1, 15, 10, 30)


def render(practice, claims, **overrides) -> str:
    profile = x12_shapes.profile(practice)
    loaded = claims_for_837([claim.id for claim in claims])
    kwargs = {
        "claims": loaded,
        "profile": profile,
        "receiver_id": "CLEARINGHOUSE",
        "receiver_name": "Example Clearinghouse",
        "usage_indicator": "T",
        "isa13": 101,
        "gs06": 101,
        "st02": 1,
        "created_at": CREATED,
    }
    kwargs.update(overrides)
    return build_837(**kwargs)


def segments(text: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip()]


def assert_valid(text: str) -> None:
    ok, errors, ack = validate_x12(text)
    assert ok, f"pyx12 rejected the file: {errors}\n{text}"
    assert errors == []
    assert "IK5*A" in ack


@pytest.mark.parametrize("shape", sorted(x12_shapes.SHAPES))
def test_every_claim_shape_validates_with_pyx12(practice_a, shape):
    with practice_scope(practice_a):
        claims = x12_shapes.SHAPES[shape](practice_a)
        text = render(practice_a, claims)
    assert_valid(text)
    assert sum(1 for s in segments(text) if s.startswith("CLM*")) == len(claims)


def test_all_shapes_in_one_interchange_validate(practice_a):
    with practice_scope(practice_a):
        claims = [claim for make in x12_shapes.SHAPES.values() for claim in make(practice_a)]
        text = render(practice_a, claims)
    assert_valid(text)


def test_envelope_and_control_numbers(practice_a):
    with practice_scope(practice_a):
        text = render(practice_a, x12_shapes.shape_single(practice_a), isa13=42, gs06=43, st02=44)
    segs = segments(text)
    isa = segs[0]
    assert len(isa) == 105  # fixed-width ISA without its terminator
    assert isa.split("*")[13] == "000000042"
    assert isa.split("*")[11] == "^" and isa.endswith("*:")
    assert segs[1].startswith("GS*HC*RIVERSIDEBH*CLEARINGHOUSE*20260115*1030*43*X*005010X222A1")
    assert segs[2] == "ST*837*0044*005010X222A1"
    assert segs[3].startswith("BHT*0019*00*")
    assert segs[3].endswith("*CH")
    se = next(s for s in segs if s.startswith("SE*"))
    st_index, se_index = segs.index(segs[2]), segs.index(se)
    assert se == f"SE*{se_index - st_index + 1}*0044"
    assert segs[-2] == "GE*1*43"
    assert segs[-1] == "IEA*1*000000042"


def test_billing_provider_loops(practice_a):
    with practice_scope(practice_a):
        x12_shapes.profile(
            practice_a,
            pay_to_address_line1="PO Box 77",
            pay_to_city="Portland",
            pay_to_state="OR",
            pay_to_zip_code="97208",
        )
        text = render(practice_a, x12_shapes.shape_single(practice_a))
    segs = segments(text)
    assert "HL*1**20*1" in segs
    assert "PRV*BI*PXC*261QM0801X" in segs
    assert "NM1*85*2*RIVERSIDE BEHAVIORAL HEALTH LLC*****XX*1234567893" in segs
    assert "N4*PORTLAND*OR*972051234" in segs
    assert "REF*EI*371234567" in segs
    assert "NM1*87*2" in segs and "N3*PO BOX 77" in segs
    assert_valid(text)


def test_self_subscriber_claim_elements(practice_a):
    with practice_scope(practice_a):
        claim = x12_shapes.shape_multi_line(practice_a)[0]
        line_ids = list(claim.lines.order_by("line_number").values_list("id", flat=True))
        text = render(practice_a, [claim])
        coverage, patient = claim.coverage, claim.patient
    segs = segments(text)
    assert "HL*2*1*22*0" in segs
    assert f"SBR*P*18*GRP1001******{claim.payer.filing_indicator}" in segs
    assert any(
        s.startswith(f"NM1*IL*1*{clean(patient.legal_last_name)}*") and s.endswith(f"MI*{coverage.member_id}")
        for s in segs
    )
    assert f"NM1*PR*2*{clean(claim.payer.name)}*****PI*{claim.payer.payer_id}" in segs
    assert f"CLM*{claim.control_number}*305.5***11:B:1*Y*A*Y*Y" in segs
    assert "REF*G1*AUTH778899" in segs
    assert f"REF*EA*{patient.mrn}" in segs
    assert "HI*ABK:F331*ABF:F411" in segs  # no decimal point on the wire (billing.md D1)
    assert any(s.startswith("NM1*82*1*") for s in segs) and any(s.startswith("PRV*PE*PXC*") for s in segs)
    assert "SV1*HC:90837*250*UN*1***1:2" in segs
    assert "SV1*HC:90785*25.5*UN*1***1" in segs
    assert "SV1*HC:96127*30*UN*2***1" in segs
    assert [s for s in segs if s.startswith("LX*")] == ["LX*1", "LX*2", "LX*3"]
    assert [s for s in segs if s.startswith("REF*6R*")] == [f"REF*6R*{pk}" for pk in line_ids]
    assert f"DTP*472*D8*{claim.service_date:%Y%m%d}" in segs
    assert not any(s.startswith("HL*3") for s in segs)


def test_dependent_gets_patient_loop(practice_a):
    with practice_scope(practice_a):
        claim = x12_shapes.shape_dependent(practice_a)[0]
        text = render(practice_a, [claim])
    segs = segments(text)
    assert "HL*2*1*22*1" in segs
    sbr = next(s for s in segs if s.startswith("SBR*"))
    assert sbr.startswith("SBR*P**GRP1001")  # SBR02 empty when the patient is not the subscriber
    assert "NM1*IL*1*ROE*RICHARD****MI*" + claim.coverage.member_id in segs
    assert "HL*3*2*23*0" in segs and "PAT*19" in segs
    assert any(s.startswith("NM1*QC*1*") for s in segs)
    assert "DMG*D8*20120504*F" in segs


def test_siblings_share_one_subscriber_loop(practice_a):
    with practice_scope(practice_a):
        payer = PayerFactory(practice=practice_a)
        first = x12_shapes.dependent_coverage(practice_a, payer=payer, member_id="FAM0001")
        second = x12_shapes.dependent_coverage(practice_a, payer=payer, member_id="FAM0001")
        claims = [x12_shapes.make_claim(practice_a, coverage=first), x12_shapes.make_claim(practice_a, coverage=second)]
        text = render(practice_a, claims)
    segs = segments(text)
    assert [s for s in segs if s.startswith("HL*")] == ["HL*1**20*1", "HL*2*1*22*1", "HL*3*2*23*0", "HL*4*2*23*0"]
    assert_valid(text)


def test_same_subscriber_claims_share_2000b_and_split_at_100(practice_a):
    with practice_scope(practice_a):
        coverage = CoverageFactory(practice=practice_a, patient=x12_shapes.patient(practice_a))
        claims = [x12_shapes.make_claim(practice_a, coverage=coverage) for _ in range(3)]
        text = render(practice_a, claims)
    assert sum(1 for s in segments(text) if s.startswith("HL*")) == 2
    from billing.x12_837 import group_subscribers

    with practice_scope(practice_a):
        many = claims_for_837([c.id for c in claims]) * 70  # 210 claims of one subscriber
    assert [len(g.claims) for g in group_subscribers(many)] == [100, 100, 10]


def test_secondary_has_other_subscriber_loops(practice_a):
    with practice_scope(practice_a):
        claim = x12_shapes.shape_secondary(practice_a)[0]
        primary = claim.patient.coverages.get(priority="P")
        text = render(practice_a, [claim], primary_paid_cents={claim.id: 9050})
    segs = segments(text)
    sbrs = [s for s in segs if s.startswith("SBR*")]
    assert sbrs[0].startswith("SBR*S*18*")
    assert sbrs[1].startswith("SBR*P*18*")
    assert "AMT*D*90.5" in segs
    assert "OI***Y***Y" in segs
    assert f"NM1*PR*2*{clean(primary.payer.name)}*****PI*{primary.payer.payer_id}" in segs
    assert_valid(text)


def test_secondary_primary_paid_unknown_is_zero(practice_a):
    with practice_scope(practice_a):
        text = render(practice_a, x12_shapes.shape_secondary(practice_a))
    assert "AMT*D*0" in segments(text)


@pytest.mark.parametrize(
    ("shape", "frequency", "icn"), [("corrected", "7", "ICN2025000777"), ("void", "8", "ICN2025000888")]
)
def test_corrected_and_void_carry_frequency_and_f8(practice_a, shape, frequency, icn):
    with practice_scope(practice_a):
        claim = x12_shapes.SHAPES[shape](practice_a)[0]
        text = render(practice_a, [claim])
    segs = segments(text)
    assert any(s.startswith(f"CLM*{claim.control_number}*") and f"*11:B:{frequency}*" in s for s in segs)
    assert f"REF*F8*{icn}" in segs


def test_telehealth_has_pos_10_modifier_95_and_no_facility(practice_a):
    with practice_scope(practice_a):
        location = Location.objects.create(
            practice=practice_a,
            name="Eastside office",
            address_line1="9 Far Road",
            city="Portland",
            state="OR",
            postal_code="97201",
        )
        claim = x12_shapes.shape_telehealth(practice_a)[0]
        claim.location = location
        claim.save(update_fields=["location"])
        text = render(practice_a, [claim])
    segs = segments(text)
    assert any("*10:B:1*" in s for s in segs if s.startswith("CLM*"))
    assert "SV1*HC:90834:95*160*UN*1***1" in segs
    assert not any(s.startswith("NM1*77") for s in segs)


def test_service_facility_when_location_differs_and_supervising(practice_a):
    with practice_scope(practice_a):
        location = Location.objects.create(
            practice=practice_a,
            name="Eastside office",
            address_line1="9 Far Road",
            city="Portland",
            state="OR",
            postal_code="97201-4444",
        )
        supervisor = x12_shapes.rendering(practice_a, last_name="Boss", first_name="Pat")
        claim = x12_shapes.make_claim(practice_a, location=location, supervising=supervisor)
        same = Location.objects.create(
            practice=practice_a,
            name="Main",
            address_line1="100 Main Street",
            city="Portland",
            state="OR",
            postal_code="97205",
        )
        other = x12_shapes.make_claim(practice_a, location=same)
        text = render(practice_a, [claim])
        text_same = render(practice_a, [other])
    segs = segments(text)
    assert "NM1*77*2*EASTSIDE OFFICE" in segs and "N4*PORTLAND*OR*972014444" in segs
    assert any(s.startswith("NM1*DQ*1*BOSS*PAT****XX*") for s in segs)
    assert_valid(text)
    assert not any(s.startswith("NM1*77") for s in segments(text_same))


def test_no_rendering_loop_when_rendering_is_the_billing_npi(practice_a):
    with practice_scope(practice_a):
        solo = x12_shapes.RenderingProviderFactory(practice=practice_a, npi="1234567893")
        claim = x12_shapes.make_claim(practice_a, rendering=solo.membership)
        text = render(practice_a, [claim])
    assert not any(s.startswith("NM1*82") for s in segments(text))
    assert_valid(text)


def test_text_is_sanitised(practice_a):
    with practice_scope(practice_a):
        claim = x12_shapes.make_claim(practice_a)
        claim.patient.legal_last_name = "Ñúñez*O'Brien~:^"
        claim.patient.save(update_fields=["legal_last_name"])
        text = render(practice_a, [claim])
    assert "NUNEZO'BRIEN" in text
    assert_valid(text)
    assert clean("a" * 80, 60) == "A" * 60
    assert clean("  two   spaces ") == "TWO SPACES"


@pytest.mark.parametrize(
    ("cents", "text"), [(15000, "150"), (15050, "150.5"), (15005, "150.05"), (0, "0"), (-125, "-1.25")]
)
def test_amounts_are_x12_decimals(cents, text):
    assert amount(cents) == text


def test_reference_sample_validates_and_a_mutation_fails():
    sample = (DATA / "synthetic_bh_837p.txt").read_text()
    ok, errors, ack = validate_x12(sample)
    assert ok and errors == [] and "IK5*A" in ack
    broken = sample.replace("SE*63*0001", "SE*60*0001")
    ok, errors, ack = validate_x12(broken)
    assert not ok
    assert any("SE count" in e["message"] for e in errors)
    assert "IK5*R" in ack


def test_unreadable_text_fails_cleanly():
    ok, errors, _ack = validate_x12("not x12 at all")
    assert not ok and errors


def test_generated_file_reads_back(practice_a):
    with practice_scope(practice_a):
        text = render(practice_a, x12_shapes.shape_group(practice_a, patients=3))
    parsed = parse(text)
    assert [s.id for s in parsed.segments][:3] == ["ISA", "GS", "ST"]
    assert sum(1 for s in parsed.segments if s.id == "CLM") == 3
    assert all(s.get(1).startswith("HC:90853") for s in parsed.segments if s.id == "SV1")
    assert m.Claim.Frequency.ORIGINAL == "1"
