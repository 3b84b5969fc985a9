"""classify_change / classify_paired at every threshold boundary (reference §10)."""

import pytest

from assessments.outcomes import NHS_TT_REFERENCE, Change, classify_change, classify_paired

# --- reliable change -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "baseline", "followup", "improved", "deteriorated"),
    [
        ("PHQ-9", 15, 10, False, False),  # -5
        ("PHQ-9", 15, 9, True, False),  # -6
        ("PHQ-9", 10, 15, False, False),  # +5
        ("PHQ-9", 10, 16, False, True),  # +6
        ("PHQ-9", 27, 0, True, False),
        ("PHQ-9", 12, 12, False, False),
        ("GAD-7", 12, 9, False, False),  # -3
        ("GAD-7", 12, 8, True, False),  # -4
        ("GAD-7", 8, 11, False, False),  # +3
        ("GAD-7", 8, 12, False, True),  # +4
        ("PCL-5", 50, 41, False, False),  # -9
        ("PCL-5", 50, 40, True, False),  # -10
        ("PCL-5", 30, 39, False, False),  # +9
        ("PCL-5", 30, 40, False, True),  # +10
        ("EPDS", 15, 12, False, False),  # -3
        ("EPDS", 15, 11, True, False),  # -4
        ("EPDS", 10, 14, False, True),  # +4
    ],
)
def test_reliable_change_thresholds(code, baseline, followup, improved, deteriorated):
    change = classify_change(code, baseline, followup)
    assert change.change == followup - baseline
    assert change.reliable_improvement is improved
    assert change.reliable_deterioration is deteriorated


@pytest.mark.parametrize(("code", "threshold"), [("PHQ-9", 6), ("GAD-7", 4), ("PCL-5", 10), ("EPDS", 4)])
def test_threshold_is_reported(code, threshold):
    assert classify_change(code, 5, 5).threshold == threshold


@pytest.mark.parametrize(("code", "baseline", "followup"), [("PHQ-2", 6, 0), ("GAD-2", 6, 0), ("AUDIT-C", 12, 0)])
def test_no_published_rci_gives_none(code, baseline, followup):
    change = classify_change(code, baseline, followup)
    assert change.threshold is None
    assert change.reliable_improvement is None and change.reliable_deterioration is None
    assert change.recovery is None and change.reliable_recovery is None and change.remission is None
    assert change.response is True


# --- response ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "followup", "response"),
    [
        (20, 10, True),  # exactly 50 %
        (20, 11, False),
        (21, 10, True),
        (21, 11, False),  # 47.6 %
        (15, 7, True),  # 7.5 would be 50 %; 7 is below
        (15, 8, False),
        (0, 0, False),  # no reduction possible from 0
        (1, 0, True),
    ],
)
def test_response_is_at_least_half(baseline, followup, response):
    assert classify_change("PHQ-9", baseline, followup).response is response


# --- remission -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "followup", "remission"),
    [("PHQ-9", 4, True), ("PHQ-9", 5, False), ("GAD-7", 4, True), ("GAD-7", 5, False)],
)
def test_remission_below_five(code, followup, remission):
    assert classify_change(code, 15, followup).remission is remission


@pytest.mark.parametrize("code", ["PCL-5", "EPDS"])
def test_no_remission_cutoff_gives_none(code):
    assert classify_change(code, 20, 0).remission is None


# --- recovery ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "baseline", "followup", "recovery", "reliable_recovery"),
    [
        ("PHQ-9", 10, 9, True, False),  # recovered, change -1 not reliable
        ("PHQ-9", 10, 10, False, False),
        ("PHQ-9", 9, 4, False, False),  # baseline below caseness
        ("PHQ-9", 15, 9, True, True),  # -6 and below caseness
        ("PHQ-9", 14, 9, True, False),  # -5 only
        ("PHQ-9", 20, 10, False, False),  # reliable improvement but still at caseness
        ("GAD-7", 8, 7, True, False),
        ("GAD-7", 7, 0, False, False),
        ("GAD-7", 11, 7, True, True),  # -4
        ("GAD-7", 10, 7, True, False),  # -3
    ],
)
def test_recovery_and_reliable_recovery(code, baseline, followup, recovery, reliable_recovery):
    change = classify_change(code, baseline, followup)
    assert change.recovery is recovery
    assert change.reliable_recovery is reliable_recovery


@pytest.mark.parametrize("code", ["PCL-5", "EPDS"])
def test_no_caseness_gives_no_recovery(code):
    change = classify_change(code, 30, 0)
    assert change.recovery is None and change.reliable_recovery is None
    assert change.reliable_improvement is True


def test_change_is_a_frozen_dataclass():
    change = classify_change("PHQ-9", 16, 8)
    assert isinstance(change, Change)
    assert (change.code, change.baseline, change.followup, change.change) == ("PHQ-9", 16, 8, -8)
    with pytest.raises(AttributeError):
        change.change = 0  # type: ignore[misc]


# --- invalid input -------------------------------------------------------------------------------


def test_cssrs_has_no_change():
    with pytest.raises(ValueError, match="no total"):
        classify_change("C-SSRS-SCREEN", 0, 1)


@pytest.mark.parametrize(
    ("code", "baseline", "followup", "message"),
    [
        ("PHQ-9", 28, 0, "out of range 0–27"),
        ("PHQ-9", 0, -1, "out of range"),
        ("GAD-7", 22, 0, "out of range 0–21"),
        ("PHQ-9", 10.0, 5, "not an integer"),
        ("PHQ-9", True, 5, "not an integer"),
        ("PHQ-9", 10, None, "not an integer"),
        ("PHQ-9", "10", 5, "not an integer"),
        ("PHQ-10", 10, 5, "Unknown instrument code"),
    ],
)
def test_invalid_totals(code, baseline, followup, message):
    with pytest.raises(ValueError, match=message):
        classify_change(code, baseline, followup)


# --- paired NHS Talking Therapies rule -----------------------------------------------------------


@pytest.mark.parametrize(
    ("phq", "gad", "expected"),
    [
        # (caseness_at_start, recovery, reliable_improvement, reliable_deterioration, reliable_recovery)
        ((15, 4), (12, 3), (True, True, True, False, True)),  # both improve, both below caseness
        ((15, 4), (5, 5), (True, True, True, False, True)),  # anxiety never at caseness; depression carries it
        ((15, 9), (5, 5), (True, True, True, False, True)),  # PHQ 9 < 10 at end
        ((15, 10), (5, 5), (True, False, False, False, False)),  # still at caseness on PHQ-9; -5 not reliable
        ((15, 8), (5, 8), (True, False, True, False, False)),  # GAD-7 8 at end = caseness -> not recovered
        ((9, 3), (7, 2), (False, False, True, False, False)),  # not at caseness at start: outside denominator
        ((15, 4), (3, 7), (True, True, False, True, False)),  # depression improved, anxiety deteriorated (+4)
        ((15, 4), (3, 6), (True, True, True, False, True)),  # anxiety +3 is not reliable
        ((5, 11), (5, 5), (False, False, False, True, False)),  # deterioration from below caseness
        ((12, 8), (10, 7), (True, True, False, False, False)),  # recovered without reliable change
    ],
)
def test_classify_paired(phq, gad, expected):
    paired = classify_paired(phq[0], phq[1], "GAD-7", gad[0], gad[1])
    assert (
        paired.caseness_at_start,
        paired.recovery,
        paired.reliable_improvement,
        paired.reliable_deterioration,
        paired.reliable_recovery,
    ) == expected
    assert paired.depression.code == "PHQ-9" and paired.anxiety.code == "GAD-7"


def test_paired_recovery_without_reliable_change():
    paired = classify_paired(12, 8, "GAD-7", 10, 7)
    assert paired.caseness_at_start and not paired.caseness_at_end
    assert paired.recovery is True and paired.reliable_recovery is False


@pytest.mark.parametrize("anx_code", ["PHQ-9", "PHQ-2", "GAD-2", "PCL-5", "C-SSRS-SCREEN", "nope"])
def test_paired_needs_an_anxiety_measure_with_caseness(anx_code):
    with pytest.raises(ValueError):
        classify_paired(12, 8, anx_code, 5, 5)


def test_nhs_tt_reference_is_cited_and_marked():
    ref = NHS_TT_REFERENCE
    assert ref.year == "2022-23"
    assert 0 < ref.reliable_recovery_rate < ref.recovery_rate < ref.reliable_improvement_rate < 1
    assert ref.confidence == "[U]" and "Annual report" in ref.source
