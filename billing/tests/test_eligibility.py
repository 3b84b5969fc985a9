"""Eligibility: the 270 we write (005010X279A1) and the 271 we read back (billing/eligibility.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from billing.eligibility import (
    benefit_rows,
    eligibility_request,
    eligibility_response_import,
    parse_271,
    split_segments,
)
from billing.models import Coverage, EligibilityCheck
from billing.tests import factories as bf
from clinical.tests.factories import PatientFactory
from practice.errors import DomainError
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"
SAMPLE_271 = (DATA / "eligibility_271_active.txt").read_text()


@pytest.fixture
def world(practice_a):
    with practice_scope(practice_a):
        bf.BillingProfileFactory(practice=practice_a)
        payer = bf.PayerFactory(practice=practice_a, name="Acme Commercial", payer_id="60054")
        patient = PatientFactory(
            practice=practice_a,
            legal_first_name="Avery",
            legal_last_name="Quinlan",
            date_of_birth=date(1990, 4, 12),
            sex_assigned_at_birth="female",
        )
        coverage = bf.CoverageFactory(practice=practice_a, patient=patient, payer=payer, member_id="XYZ000000001")
        yield {"practice": practice_a, "coverage": coverage, "patient": patient}


def _segments(text):
    segments, _ = split_segments(text)
    return segments


def test_270_for_a_subscriber_patient(world):
    with practice_scope(world["practice"]):
        check = eligibility_request(coverage=world["coverage"])
    assert check.trace_number == "TEND000000001"
    segs = _segments(check.request_x12)
    ids = [s[0] for s in segs]
    assert ids[:3] == ["ISA", "GS", "ST"]
    assert ids[-3:] == ["SE", "GE", "IEA"]
    assert segs[1][1] == "HS" and segs[1][8] == "005010X279A1"
    assert segs[2] == ["ST", "270", "0001", "005010X279A1"]
    assert segs[3][:3] == ["BHT", "0022", "13"]
    hls = [s for s in segs if s[0] == "HL"]
    assert hls == [["HL", "1", "", "20", "1"], ["HL", "2", "1", "21", "1"], ["HL", "3", "2", "22", "0"]]
    text = check.request_x12
    assert "NM1*PR*2*ACME COMMERCIAL*****PI*60054~" in text
    assert "NM1*1P*2*RIVERSIDE BEHAVIORAL HEALTH LLC*****XX*1234567893~" in text
    assert "TRN*1*TEND000000001*1371234567~" in text
    assert "NM1*IL*1*QUINLAN*AVERY****MI*XYZ000000001~" in text
    assert "DMG*D8*19900412*F~" in text
    assert "EQ*30~" in text and "EQ*MH~" in text
    assert "DTP*291*D8*" in text
    # SE01 counts ST..SE inclusive; ISA13 = IEA02; GS06 = GE02 (billing.md §2.1)
    st = ids.index("ST")
    se = ids.index("SE")
    assert int(segs[se][1]) == se - st + 1 and segs[se][2] == segs[st][2]
    assert segs[0][13] == segs[-1][2] and segs[1][6] == segs[-2][2]
    assert len(text.split("~")[0]) + 1 == 106  # fixed-width ISA


def test_270_for_a_dependent_carries_the_2000d_loop(world):
    with practice_scope(world["practice"]):
        coverage = world["coverage"]
        coverage.relationship = Coverage.Relationship.CHILD
        coverage.subscriber_first_name = "Jordan"
        coverage.subscriber_last_name = "Quinlan"
        coverage.subscriber_date_of_birth = date(1965, 1, 2)
        coverage.subscriber_sex = "M"
        coverage.save()
        check = eligibility_request(coverage=coverage)
    segs = _segments(check.request_x12)
    hls = [s for s in segs if s[0] == "HL"]
    assert hls[2] == ["HL", "3", "2", "22", "1"] and hls[3] == ["HL", "4", "3", "23", "0"]
    text = check.request_x12
    assert "NM1*IL*1*QUINLAN*JORDAN****MI*XYZ000000001~" in text
    assert "DMG*D8*19650102*M~" in text
    assert "NM1*03*1*QUINLAN*AVERY~" in text
    # the trace and the question sit in the dependent's loop, after HL*4
    ids = [s[0] for s in segs]
    assert ids.index("TRN") > ids.index("HL") + 3 and ids.index("EQ") > ids.index("TRN")


def test_control_numbers_advance_between_requests(world):
    with practice_scope(world["practice"]):
        first = eligibility_request(coverage=world["coverage"])
        second = eligibility_request(coverage=world["coverage"])
    a, b = _segments(first.request_x12), _segments(second.request_x12)
    assert int(b[0][13]) == int(a[0][13]) + 1
    assert second.trace_number != first.trace_number


def test_request_needs_a_billing_profile(practice_b):
    with practice_scope(practice_b):
        coverage = bf.CoverageFactory(practice=practice_b)
        with pytest.raises(DomainError, match="billing identity"):
            eligibility_request(coverage=coverage)


def test_271_is_matched_by_trace_and_parsed(world):
    with practice_scope(world["practice"]):
        check = eligibility_request(coverage=world["coverage"])
        answered = eligibility_response_import(practice_id=world["practice"].id, content=SAMPLE_271)
    assert answered.pk == check.pk
    assert answered.status == EligibilityCheck.Status.ANSWERED and answered.answered_at
    assert answered.is_active_coverage is True
    by = {(b["code"], b["network"], b["time_period"]): b for b in answered.benefits}
    assert by[("B", "Y", "visit")]["amount_cents"] == 3000
    assert by[("B", "N", "visit")]["amount_cents"] == 6000
    assert by[("A", "Y", "visit")]["percent"] == 20 and by[("A", "N", "visit")]["percent"] == 40
    assert by[("C", "Y", "calendar year")]["amount_cents"] == 150000
    assert by[("C", "Y", "remaining")]["amount_cents"] == 85050
    assert all(b["code"] != "F" for b in answered.benefits)  # not a benefit we interpret
    assert by[("A", "Y", "visit")]["service_types"] == ["A6"]
    rows = benefit_rows(answered)
    assert rows[0]["kind"] == "Co-payment" and rows[0]["value"] == "$30.00" and rows[0]["services"] == "Mental health"


def test_inactive_271(world):
    inactive = SAMPLE_271.replace("EB*1*IND*30^MH*C1*ACME PPO GOLD~", "EB*6*IND*30~").replace("EB*1*IND*UC*C1~", "")
    with practice_scope(world["practice"]):
        eligibility_request(coverage=world["coverage"])
        check = eligibility_response_import(practice_id=world["practice"].id, content=inactive)
    assert check.is_active_coverage is False


def test_271_with_a_rejection_keeps_the_reason(world):
    rejected = SAMPLE_271.replace("DMG*D8*19900412*F~", "AAA*N**72*C~")
    with practice_scope(world["practice"]):
        eligibility_request(coverage=world["coverage"])
        check = eligibility_response_import(practice_id=world["practice"].id, content=rejected)
    assert "AAA reason 72" in check.error


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("hello", "must start with a 106-character ISA segment"),
        (SAMPLE_271.replace("ST*271*", "ST*835*"), "ST01 is 835"),
        (SAMPLE_271.replace("TRN*2*", "TRN*3*"), "No TRN*2 segment"),
        (SAMPLE_271.replace("EB*B*IND*MH*C1**27*30*", "EB*B*IND*MH*C1**27*3O*"), "(EB) EB07: '3O' is not an amount"),
        (SAMPLE_271.replace("*.2*", "*.2X*"), "EB08: '.2X' is not a percentage"),
    ],
)
def test_unreadable_files_name_the_problem(content, message):
    with pytest.raises(DomainError) as exc:
        parse_271(content)
    assert message in exc.value.message


def test_unknown_trace_is_refused_and_other_practices_are_never_matched(world, practice_b):
    with practice_scope(world["practice"]):
        eligibility_request(coverage=world["coverage"])
    with practice_scope(practice_b), pytest.raises(DomainError, match="No eligibility request with trace number"):
        eligibility_response_import(practice_id=practice_b.id, content=SAMPLE_271)
    with practice_scope(world["practice"]):
        assert EligibilityCheck.objects.get().status == EligibilityCheck.Status.GENERATED
