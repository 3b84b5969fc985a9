"""Claims (helper B2): building from charges, the lifecycle and its events, mark-ready through
the scrubber, corrected / void / secondary claims, and the biller's line edits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import services_charges as sc
from billing import services_claims as svc
from billing.models import Charge, Claim, ClaimEvent, Coverage, ScrubFinding
from billing.tests import factories as bf
from billing.tests.claims_world import FakeScrub, add_patient, make_world, signed_note
from practice.errors import DomainError
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db
S = Claim.Status


@pytest.fixture
def world(practice_a):
    with practice_scope(practice_a):
        yield make_world(practice_a, patients=2)


@pytest.fixture
def biller(world):
    return MembershipFactory(practice=world.practice, role=Role.BILLER)


def _charge(world, patient=None, *, days_ago=2, **fields):
    patient = patient or world.patients[0]
    note = signed_note(patient, world.clinician, days_ago=days_ago, **fields)
    return sc.charges_for_note(note_id=note.pk).created[0]


def _draft(world, **fields) -> Claim:
    _charge(world, **fields)
    (claim,) = svc.claims_build(practice_id=world.practice.pk)
    return claim


# --- build ----------------------------------------------------------------------------------


def test_build_groups_per_patient_coverage_and_date(world, biller):
    a1 = _charge(world, service_code="90791", days_ago=2)
    a2 = _charge(world, service_code="90834", days_ago=2)
    a3 = _charge(world, days_ago=5)
    b1 = _charge(world, world.patients[1], days_ago=2)
    claims = svc.claims_build(practice_id=world.practice.pk, by=biller)
    assert len(claims) == 3
    by_charges = {frozenset(c.lines.values_list("charge_id", flat=True)): c for c in claims}
    two = by_charges[frozenset({a1.pk, a2.pk})]
    assert list(two.lines.values_list("line_number", "cpt")) == [(1, "90791"), (2, "90834")]
    assert two.total_cents == 35000 and two.payer == world.payer and two.coverage == world.coverages[0]
    assert two.status == S.DRAFT and two.frequency == "1" and two.rendering == world.clinician
    assert frozenset({a3.pk}) in by_charges and frozenset({b1.pk}) in by_charges
    assert set(Charge.objects.values_list("status", flat=True)) == {Charge.Status.ON_CLAIM}
    event = ClaimEvent.objects.get(claim=two)
    assert (event.from_status, event.to_status, event.by, event.source) == ("", S.DRAFT, biller, "staff")


def test_build_twice_creates_nothing_new(world):
    _charge(world)
    assert len(svc.claims_build(practice_id=world.practice.pk)) == 1
    assert svc.claims_build(practice_id=world.practice.pk) == []
    assert Claim.objects.count() == 1


def test_control_number_is_unique_deterministic_and_at_most_20_characters(world):
    _charge(world)
    _charge(world, world.patients[1])
    claims = svc.claims_build(practice_id=world.practice.pk)
    numbers = [c.control_number for c in claims]
    assert len(set(numbers)) == 2
    for claim in claims:
        assert claim.control_number == f"T{world.practice.pk}C{claim.pk:08d}" and len(claim.control_number) <= 20


def test_patient_charges_and_other_clinicians_sessions_stay_apart(world):
    patient = add_patient(world, coverage=False)
    _charge(world, patient)  # self-pay: never on a claim
    _charge(world)
    note = signed_note(world.patients[0], world.supervisor, days_ago=2)
    sc.charges_for_note(note_id=note.pk)
    claims = svc.claims_build(practice_id=world.practice.pk)
    assert len(claims) == 2  # one per rendering clinician that day
    assert Charge.objects.get(patient=patient).status == Charge.Status.PATIENT


def test_diagnoses_merge_and_pointers_are_remapped(world):
    first = _charge(world)
    second = _charge(world, service_code="90791")
    second.diagnosis_codes = ["F41.1", "F43.10"]
    second.diagnosis_pointers = [2, 1]
    second.save()
    first.diagnosis_codes = ["F33.1"]
    first.diagnosis_pointers = [1]
    first.save()
    (claim,) = svc.claims_build(practice_id=world.practice.pk)
    assert claim.diagnosis_codes == ["F33.1", "F43.10", "F41.1"]
    lines = {line.charge_id: line.diagnosis_pointers for line in claim.lines.all()}
    assert lines[first.pk] == [1] and lines[second.pk] == [2, 3]


def test_96127_charges_of_a_day_merge_into_one_line_on_the_session_claim(world):
    from assessments.tests import factories as af

    patient = world.patients[0]
    responses = [
        af.ResponseFactory(practice=world.practice, patient=patient, instrument_code=c) for c in ("PHQ-9", "GAD-7")
    ]
    charges = [sc.charge_for_response(response_id=r.pk) for r in responses]
    day = charges[0].service_date
    note = signed_note(patient, world.clinician, session_on=day)
    sc.charges_for_note(note_id=note.pk)
    (claim,) = svc.claims_build(practice_id=world.practice.pk)
    lines = list(claim.lines.order_by("line_number"))
    assert [(line.cpt, line.units, line.charge_cents) for line in lines] == [("90834", 1, 15000), ("96127", 2, 2000)]
    assert claim.total_cents == 17000
    assert set(Charge.objects.values_list("status", flat=True)) == {Charge.Status.ON_CLAIM}


# --- lifecycle ------------------------------------------------------------------------------


def test_transitions_follow_the_table_and_are_recorded(world, biller):
    claim = _draft(world)
    with pytest.raises(DomainError) as exc:
        svc.claim_transition(claim=claim, to=S.SUBMITTED, by=biller)
    assert exc.value.code == "invalid_transition"
    with pytest.raises(DomainError):  # ready needs a clean scrub
        svc.claim_transition(claim=claim, to=S.READY, by=biller)
    Claim.objects.filter(pk=claim.pk).update(scrubbed_at=timezone.now())
    svc.claim_transition(claim=claim, to=S.READY, by=biller)
    svc.claim_transition(claim=claim, to=S.SUBMITTED, by=None, source="system", note="in an 837 file")
    svc.claim_transition(claim=claim, to=S.REJECTED, by=None, source="277CA", note="Subscriber ID not found")
    claim.refresh_from_db()
    assert claim.status == S.REJECTED and claim.rejection_reason == "Subscriber ID not found"
    assert claim.submitted_at is not None
    svc.claim_transition(claim=claim, to=S.DRAFT, by=biller, note="fixing the member id")
    events = list(ClaimEvent.objects.filter(claim=claim).values_list("from_status", "to_status", "source"))
    assert events == [
        ("", "draft", "system"),
        ("draft", "ready", "staff"),
        ("ready", "submitted", "system"),
        ("submitted", "rejected", "277CA"),
        ("rejected", "draft", "staff"),
    ]


def test_a_rejected_claim_back_to_draft_leaves_its_file_for_resubmission(world, biller):
    claim = _draft(world)
    claim_file = bf.ClaimFileFactory(practice=world.practice, filename="837P-000007.x12")
    Claim.objects.filter(pk=claim.pk).update(status=S.REJECTED, claim_file=claim_file, submitted_at=timezone.now())
    svc.claim_transition(claim=claim, to=S.DRAFT, by=biller, note="member id fixed")
    claim.refresh_from_db()
    assert claim.claim_file is None and claim.submitted_at is None
    assert ClaimEvent.objects.filter(claim=claim).last().note == "member id fixed (was in 837 file 837P-000007.x12)"


def test_a_void_claim_is_final(world, biller):
    claim = _draft(world)
    svc.claim_void(claim=claim, by=biller)
    with pytest.raises(DomainError):
        svc.claim_transition(claim=claim, to=S.DRAFT, by=biller)


def test_staff_without_billing_manage_cannot_move_claims(world):
    claim = _draft(world)
    with pytest.raises(DomainError) as exc:
        svc.claim_transition(claim=claim, to=S.VOID, by=world.clinician)
    assert exc.value.code == "forbidden"


def test_mark_ready_refuses_while_the_scrubber_finds_errors(world, biller, monkeypatch):
    claim = _draft(world)
    FakeScrub(errors=["P1"]).install(monkeypatch)
    with pytest.raises(DomainError) as exc:
        svc.claim_mark_ready(claim=claim, by=biller)
    assert "P1" in exc.value.message and exc.value.code == "scrub_errors"
    claim.refresh_from_db()
    assert claim.status == S.DRAFT and claim.error_count == 1
    assert ScrubFinding.objects.filter(claim=claim).count() == 1  # findings kept for the biller


def test_mark_ready_moves_a_clean_claim(world, biller, monkeypatch):
    claim = _draft(world)
    scrub = FakeScrub().install(monkeypatch)
    assert svc.claim_mark_ready(claim=claim, by=biller).status == S.READY
    assert scrub.calls == 1


def test_mark_ready_with_the_real_scrubber(world, biller):
    pytest.importorskip("billing.services_scrub")
    claim = _draft(world)
    ready = svc.claim_mark_ready(claim=claim, by=biller)
    assert ready.status == S.READY and ready.error_count == 0


def test_bulk_mark_ready_reports_each_claim(world, biller, monkeypatch):
    first = _draft(world)
    FakeScrub().install(monkeypatch)
    result = svc.claims_mark_ready(practice_id=world.practice.pk, claim_ids=[first.pk], by=biller)
    assert [c.pk for c in result.ready] == [first.pk] and result.blocked == {}


def _submitted(world, **fields) -> Claim:
    claim = _draft(world)
    Claim.objects.filter(pk=claim.pk).update(status=S.SUBMITTED, **fields)
    claim.refresh_from_db()
    return claim


def test_corrected_claim_needs_the_payers_claim_number(world, biller):
    claim = _submitted(world)
    with pytest.raises(DomainError) as exc:
        svc.claim_correct(claim=claim, by=biller)
    assert exc.value.message == svc.NO_ICN_MESSAGE
    copy = svc.claim_correct(claim=claim, by=biller, payer_claim_number="ICN123")
    assert (copy.frequency, copy.original, copy.payer_claim_number, copy.status) == ("7", claim, "ICN123", S.DRAFT)
    assert copy.lines.count() == claim.lines.count() and copy.total_cents == claim.total_cents
    assert copy.control_number != claim.control_number
    claim.refresh_from_db()
    assert claim.payer_claim_number == "ICN123"
    with pytest.raises(DomainError):
        svc.claim_correct(claim=claim, by=biller)  # one replacement in progress at a time


def test_draft_claims_are_fixed_not_corrected(world, biller):
    with pytest.raises(DomainError):
        svc.claim_correct(claim=_draft(world), by=biller, payer_claim_number="ICN1")


def test_void_at_the_payer_makes_a_frequency_8_claim_and_voids_the_original_when_accepted(world, biller):
    claim = _submitted(world, payer_claim_number="ICN9")
    void = svc.claim_void(claim=claim, by=biller)
    assert (void.frequency, void.original, void.payer_claim_number) == ("8", claim, "ICN9")
    claim.refresh_from_db()
    assert claim.status == S.SUBMITTED
    Claim.objects.filter(pk=void.pk).update(status=S.SUBMITTED)
    svc.claim_transition(claim=void, to=S.ACCEPTED, by=None, source="277CA")
    claim.refresh_from_db()
    assert claim.status == S.VOID
    assert ClaimEvent.objects.filter(claim=claim, to_status=S.VOID, source="system").exists()


def test_voiding_a_draft_voids_its_charges(world, biller):
    claim = _draft(world)
    svc.claim_void(claim=claim, by=biller)
    claim.refresh_from_db()
    assert claim.status == S.VOID
    assert set(Charge.objects.values_list("status", flat=True)) == {Charge.Status.VOID}


def test_secondary_claim_only_after_the_primary_adjudicated(world, biller):
    patient = world.patients[0]
    other = bf.PayerFactory(practice=world.practice, name="Second Plan")
    secondary = bf.CoverageFactory(
        practice=world.practice,
        patient=patient,
        payer=other,
        priority=Coverage.Priority.SECONDARY,
        starts_on=timezone.localdate() - timedelta(days=300),
    )
    claim = _submitted(world)
    with pytest.raises(DomainError) as exc:
        svc.claim_build_secondary(primary_claim=claim, by=biller)
    assert exc.value.code == "not_adjudicated"
    Claim.objects.filter(pk=claim.pk).update(status=S.PARTIALLY_PAID)
    claim.refresh_from_db()
    second = svc.claim_build_secondary(primary_claim=claim, by=biller)
    assert (second.coverage, second.payer, second.status) == (secondary, other, S.DRAFT)
    assert second.lines.count() == claim.lines.count()
    with pytest.raises(DomainError):
        svc.claim_build_secondary(primary_claim=claim, by=biller)


# --- edits ----------------------------------------------------------------------------------


def test_editing_a_line_reprices_retotals_and_invalidates_the_scrub(world, biller, monkeypatch):
    claim = _draft(world, service_code="90837")
    FakeScrub(errors=["P1"]).install(monkeypatch)
    with pytest.raises(DomainError):
        svc.claim_mark_ready(claim=claim, by=biller)
    line = claim.lines.get()
    svc.claim_edit_lines(claim=claim, by=biller, lines=[{"id": line.pk, "cpt": "90834", "modifiers": ["hO"]}])
    claim.refresh_from_db()
    line.refresh_from_db()
    assert (line.cpt, line.modifiers, line.charge_cents) == ("90834", ["HO"], 15000)
    assert claim.total_cents == 15000 and claim.scrubbed_at is None and claim.error_count == 0
    assert not ScrubFinding.objects.filter(claim=claim).exists()
    assert "line 1: 90834:HO" in ClaimEvent.objects.filter(claim=claim).last().note


def test_diagnosis_order_and_pointers_are_edited_together(world, biller):
    claim = _draft(world)
    line = claim.lines.get()
    svc.claim_edit_lines(
        claim=claim,
        by=biller,
        lines=[{"id": line.pk, "diagnosis_pointers": [1, 2]}],
        diagnosis_codes=["F41.1", "F33.1"],
    )
    claim.refresh_from_db()
    assert claim.diagnosis_codes == ["F41.1", "F33.1"] and claim.lines.get().diagnosis_pointers == [1, 2]


@pytest.mark.parametrize(
    ("change", "header", "message"),
    [
        ({"cpt": "99999"}, None, "not a CPT code"),
        ({"diagnosis_pointers": [3]}, None, "does not point"),
        ({"diagnosis_pointers": [1, 1]}, None, "different"),
        ({"modifiers": ["95", "95"]}, None, "twice"),
        ({"modifiers": ["95", "HO", "59", "XE", "25"]}, None, "At most 4"),
        ({"units": 0}, None, "between 1 and 99"),
        ({}, ["F33.1"] * 2, "twice"),
        ({}, ["33.1"], "not an ICD-10-CM"),
        ({"diagnosis_pointers": [2]}, ["F33.1"], "does not point"),
    ],
)
def test_bad_edits_are_refused_and_change_nothing(world, biller, change, header, message):
    claim = _draft(world)
    line = claim.lines.get()
    with pytest.raises(DomainError) as exc:
        svc.claim_edit_lines(claim=claim, by=biller, lines=[{"id": line.pk, **change}], diagnosis_codes=header)
    assert message in exc.value.message
    line.refresh_from_db()
    assert line.cpt == "90834" and line.diagnosis_pointers == [1, 2]


def test_only_drafts_are_edited(world, biller):
    claim = _submitted(world)
    with pytest.raises(DomainError):
        svc.claim_edit_lines(claim=claim, by=biller, lines=[])
