"""score_answers: every band boundary both sides, every flag both ways, every invalid input."""

import pytest

from assessments.library import get_instrument
from assessments.scoring import InvalidAnswers, Score, score_answers


def spread(total: int, n: int, max_value: int) -> list[int]:
    """``n`` item values summing to ``total``, filled from item 1, none above ``max_value``."""
    values = []
    for _ in range(n):
        v = min(max_value, total)
        values.append(v)
        total -= v
    assert total == 0
    return values


def phq9(total: int) -> list[int]:
    """Nine answers summing to ``total`` with item 9 kept at 0 (so no risk flag)."""
    return [*spread(total, 8, 3), 0]


# --- PHQ-9 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "severity", "label"),
    [
        (0, "none_minimal", "None–minimal"),
        (4, "none_minimal", "None–minimal"),
        (5, "mild", "Mild"),
        (9, "mild", "Mild"),
        (10, "moderate", "Moderate"),
        (14, "moderate", "Moderate"),
        (15, "moderately_severe", "Moderately severe"),
        (19, "moderately_severe", "Moderately severe"),
        (20, "severe", "Severe"),
        (24, "severe", "Severe"),
    ],
)
def test_phq9_band_boundaries(total, severity, label):
    score = score_answers("PHQ-9", phq9(total))
    assert (score.total, score.severity, score.severity_label) == (total, severity, label)


def test_phq9_maximum_is_27_and_severe():
    score = score_answers("PHQ-9", [3] * 9)
    assert (score.total, score.severity) == (27, "severe")


@pytest.mark.parametrize(("total", "positive"), [(9, False), (10, True)])
def test_phq9_positive_screen_boundary(total, positive):
    assert score_answers("PHQ-9", phq9(total)).positive_screen is positive


@pytest.mark.parametrize("difficulty", [None, 0, 1, 2, 3])
def test_phq9_difficulty_never_changes_the_total(difficulty):
    score = score_answers("PHQ-9", phq9(12), difficulty=difficulty)
    assert score.total == 12 and score.severity == "moderate"
    assert score.difficulty == difficulty


@pytest.mark.parametrize(("item9", "flagged"), [(0, False), (1, True), (3, True)])
def test_phq9_item9_raises_suicide_risk_whatever_the_total(item9, flagged):
    score = score_answers("PHQ-9", [0] * 8 + [item9])
    assert ("suicide_risk" in score.flags) is flagged
    assert score.total == item9 and score.severity == "none_minimal"


@pytest.mark.parametrize(
    ("answers", "flags"),
    [
        # 5 symptoms (>=2) including item 1 -> major
        ([2, 0, 2, 2, 2, 2, 0, 0, 0], {"major_depressive_syndrome"}),
        # item 9 counts at 1: items 2,3,4,5 at 2 plus item 9 at 1 -> 5 symptoms -> major
        ([0, 2, 2, 2, 2, 0, 0, 0, 1], {"major_depressive_syndrome", "suicide_risk"}),
        # 5 symptoms but neither item 1 nor 2 -> nothing
        ([1, 1, 2, 2, 2, 2, 2, 0, 0], set()),
        # 4 symptoms including item 2 -> other
        ([0, 3, 2, 2, 2, 0, 0, 0, 0], {"other_depressive_syndrome"}),
        # 2 symptoms including item 1 -> other
        ([2, 0, 2, 1, 1, 1, 1, 1, 0], {"other_depressive_syndrome"}),
        # only item 1 -> 1 symptom -> nothing
        ([3, 1, 1, 1, 1, 1, 1, 1, 0], set()),
        # item 1 at 1 (not a symptom) -> nothing even with many others
        ([1, 1, 3, 3, 3, 3, 3, 3, 0], set()),
        ([0] * 9, set()),
    ],
)
def test_phq9_diagnostic_algorithm_flags(answers, flags):
    assert score_answers("PHQ-9", answers).flags == flags


def test_phq9_result_carries_version_and_is_complete():
    score = score_answers("PHQ-9", phq9(3))
    assert isinstance(score, Score)
    assert score.instrument_version == "2001"
    assert score.is_complete and score.missing_items == () and not score.is_prorated


# --- PHQ-2 / GAD-2 ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["PHQ-2", "GAD-2"])
@pytest.mark.parametrize(("answers", "positive"), [([0, 0], False), ([1, 1], False), ([2, 1], True), ([3, 3], True)])
def test_two_item_screens_positive_at_three(code, answers, positive):
    score = score_answers(code, answers)
    assert score.total == sum(answers)
    assert score.positive_screen is positive
    assert score.severity is None and score.severity_label == ""
    assert score.flags == set()


# --- GAD-7 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "severity"),
    [
        (0, "none_minimal"),
        (4, "none_minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_band_boundaries(total, severity):
    score = score_answers("GAD-7", spread(total, 7, 3))
    assert (score.total, score.severity) == (total, severity)


@pytest.mark.parametrize(("total", "positive"), [(9, False), (10, True)])
def test_gad7_positive_screen_boundary(total, positive):
    assert score_answers("GAD-7", spread(total, 7, 3)).positive_screen is positive


def test_gad7_has_no_flags():
    assert score_answers("GAD-7", [3] * 7).flags == set()


# --- EPDS ----------------------------------------------------------------------------------------


def epds(total: int) -> list[int]:
    """Ten keyed values summing to ``total`` with item 10 kept at 0."""
    return [*spread(total, 9, 3), 0]


@pytest.mark.parametrize(
    ("total", "severity", "positive"),
    [
        (0, "below_threshold", False),
        (9, "below_threshold", False),
        (10, "possible_depression", True),
        (12, "possible_depression", True),
        (13, "likely_depression", True),
        (27, "likely_depression", True),
    ],
)
def test_epds_derived_bands_and_positive_screen(total, severity, positive):
    score = score_answers("EPDS", epds(total))
    assert (score.total, score.severity, score.positive_screen) == (total, severity, positive)


@pytest.mark.parametrize(
    ("item10", "flags"), [(0, set()), (1, {"suicide_risk", "self_harm_risk"}), (3, {"suicide_risk", "self_harm_risk"})]
)
def test_epds_item10_flags(item10, flags):
    assert score_answers("EPDS", [0] * 9 + [item10]).flags == flags


def test_epds_reverse_keying_comes_from_library_options():
    epds_items = get_instrument("EPDS").items
    top = [item.options[0].value for item in epds_items]  # everyone picks the top option
    assert top == [0, 0, 3, 0, 3, 3, 3, 3, 3, 3]
    score = score_answers("EPDS", top)
    assert score.total == 21 and "suicide_risk" in score.flags


def test_epds_is_never_prorated():
    score = score_answers("EPDS", [0] * 8 + [None, 0], prorate=True)
    assert score.total is None and not score.is_prorated and score.missing_items == (9,)


# --- PCL-5 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("total", "positive"), [(0, False), (32, False), (33, True), (80, True)])
def test_pcl5_cutoff_33(total, positive):
    score = score_answers("PCL-5", spread(total, 20, 4))
    assert score.total == total and score.severity is None
    assert score.positive_screen is positive
    assert ("probable_ptsd" in score.flags) is positive


def test_pcl5_cluster_subscores():
    answers = [1] * 5 + [2] * 2 + [3] * 7 + [4] * 6
    score = score_answers("PCL-5", answers)
    assert score.subscores == {"B": 5, "C": 4, "D": 21, "E": 24}
    assert score.total == 54


# Exactly the DSM-5 minimum at "Moderately" (2): B item 1; C item 6; D items 8, 9; E items 15, 16.
DSM5_MINIMAL = [2, 0, 0, 0, 0, 2, 0, 2, 2, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0]


@pytest.mark.parametrize(
    ("answers", "provisional"),
    [
        (DSM5_MINIMAL, True),
        ([1, 0, 0, 0, 0, *DSM5_MINIMAL[5:]], False),  # no B item at >= 2
        ([*DSM5_MINIMAL[:5], 1, 1, *DSM5_MINIMAL[7:]], False),  # no C item
        ([*DSM5_MINIMAL[:7], 2, 1, 0, 0, 0, 0, 0, *DSM5_MINIMAL[14:]], False),  # one D item
        ([*DSM5_MINIMAL[:14], 2, 1, 0, 0, 0, 0], False),  # one E item
    ],
)
def test_pcl5_dsm5_method2(answers, provisional):
    score = score_answers("PCL-5", answers)
    assert ("dsm5_provisional_ptsd" in score.flags) is provisional
    assert "probable_ptsd" not in score.flags  # total 12 or less


# --- AUDIT-C -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sex", "answers", "positive"),
    [
        ("male", [1, 1, 1], False),
        ("male", [2, 1, 1], True),
        ("female", [1, 1, 0], False),
        ("female", [1, 1, 1], True),
        ("male", [0, 0, 0], False),
        ("female", [4, 4, 4], True),
    ],
)
def test_audit_c_sex_specific_cutoffs(sex, answers, positive):
    score = score_answers("AUDIT-C", answers, sex=sex)
    assert score.total == sum(answers)
    assert score.positive_screen is positive
    assert score.severity is None


@pytest.mark.parametrize(("answers", "flagged"), [([2, 1, 1], False), ([2, 2, 1], True), ([4, 4, 4], True)])
def test_audit_c_uk_positive_at_five(answers, flagged):
    score = score_answers("AUDIT-C", answers, sex="female")
    assert ("positive_screen_uk_ge5" in score.flags) is flagged


@pytest.mark.parametrize(
    ("sex", "answers", "flagged"),
    [
        ("female", [3, 0, 0], True),  # positive, all points from question 1
        ("male", [4, 0, 0], True),
        ("male", [3, 0, 0], False),  # not positive for men
        ("female", [2, 1, 0], False),  # points from question 2 too
        ("female", [3, 0, 1], False),
        ("female", [2, 0, 0], False),  # not positive
    ],
)
def test_audit_c_points_from_q1_only(sex, answers, flagged):
    score = score_answers("AUDIT-C", answers, sex=sex)
    assert ("points_from_q1_only" in score.flags) is flagged


@pytest.mark.parametrize("sex", [None, "", "Male", "other", "f"])
def test_audit_c_requires_sex(sex):
    with pytest.raises(InvalidAnswers, match="sex"):
        score_answers("AUDIT-C", [1, 1, 1], sex=sex)


def test_sex_is_ignored_by_other_instruments():
    assert score_answers("PHQ-2", [1, 1], sex="female").total == 2


# --- C-SSRS screener -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "severity", "label", "positive", "flags"),
    [
        ([0, 0, 0, 0, 0, 0, 0], "none", "No risk identified", False, set()),
        ([1, 0, 0, 0, 0, 0, 0], "low", "Low risk", False, set()),
        ([1, 1, 0, 0, 0, 0, 0], "low", "Low risk", False, set()),
        ([0, 1, 0, 0, 0, 0, 0], "low", "Low risk", False, set()),
        ([1, 1, 1, 0, 0, 0, 0], "moderate", "Moderate risk", True, set()),
        ([0, 0, 0, 0, 0, 1, 0], "moderate", "Moderate risk", True, {"lifetime_behavior"}),
        ([1, 1, 1, 1, 0, 0, 0], "high", "High risk", True, {"suicide_risk"}),
        ([1, 1, 0, 0, 1, 0, 0], "high", "High risk", True, {"suicide_risk"}),
        ([0, 0, 0, 0, 0, 1, 1], "high", "High risk", True, {"suicide_risk", "lifetime_behavior", "recent_behavior"}),
    ],
)
def test_cssrs_triage_tiers(answers, severity, label, positive, flags):
    score = score_answers("C-SSRS-SCREEN", answers)
    assert score.total is None
    assert (score.severity, score.severity_label, score.positive_screen) == (severity, label, positive)
    assert score.flags == flags
    assert score.is_complete


def test_cssrs_skipped_items_given_as_none_are_not_missing():
    score = score_answers("C-SSRS-SCREEN", [1, 0, None, None, None, 0, None])
    assert score.is_complete and score.missing_items == () and score.severity == "low"


def test_cssrs_contradictory_risk_answer_is_scored_as_given():
    score = score_answers("C-SSRS-SCREEN", [0, 0, 0, 1, 0, 0, 0])
    assert score.severity == "high" and "suicide_risk" in score.flags


def test_cssrs_incomplete_but_high_still_flags():
    score = score_answers("C-SSRS-SCREEN", [None, 1, None, 1, None, None, None])
    assert not score.is_complete and score.missing_items == (1, 3, 5, 6)
    assert score.severity == "high" and "suicide_risk" in score.flags


def test_cssrs_incomplete_without_high_answer_has_no_tier():
    score = score_answers("C-SSRS-SCREEN", [1, 1, 0, 0, 0, None, None])
    assert score.missing_items == (6,)
    assert score.severity is None and score.positive_screen is None and score.flags == set()


@pytest.mark.parametrize("value", [2, -1])
def test_cssrs_values_are_zero_or_one(value):
    with pytest.raises(InvalidAnswers, match=r"Item 6b: .* out of range 0–1"):
        score_answers("C-SSRS-SCREEN", [0, 0, 0, 0, 0, 1, value])


# --- missing items and prorating -----------------------------------------------------------------


def test_missing_item_refuses_the_total():
    score = score_answers("PHQ-9", [3, 3, 3, None, 3, 3, 3, 3, 0])
    assert score.total is None and score.severity is None and score.severity_label == ""
    assert score.positive_screen is None
    assert not score.is_complete and score.missing_items == (4,)
    assert score.flags == set()  # no diagnostic flags on an incomplete form


def test_missing_items_still_raise_phq9_risk_flag():
    score = score_answers("PHQ-9", [None] * 8 + [2])
    assert score.total is None and score.missing_items == tuple(range(1, 9))
    assert score.flags == {"suicide_risk"}


def test_missing_items_still_raise_epds_risk_flags():
    score = score_answers("EPDS", [None] * 9 + [1])
    assert score.total is None
    assert score.flags == {"suicide_risk", "self_harm_risk"}


def test_missing_risk_item_raises_nothing():
    assert score_answers("PHQ-9", [0] * 8 + [None]).flags == set()


def test_all_missing_is_allowed_and_empty():
    score = score_answers("GAD-7", [None] * 7)
    assert score.total is None and score.missing_items == tuple(range(1, 8))


@pytest.mark.parametrize(
    ("answers", "total"),
    [
        ([1, 1, 1, 1, 1, 1, 1, None, None], 9),  # mean 1 x 9
        ([3, 3, 3, 3, 3, 3, 2, None, 1], 24),  # 21 x 9 / 8 = 23.625
        ([0, 0, 0, 0, 0, 0, 0, None, None], 0),
    ],
)
def test_phq9_prorate_two_missing(answers, total):
    score = score_answers("PHQ-9", answers, prorate=True)
    assert score.total == total
    assert score.is_prorated and not score.is_complete
    assert score.missing_items == tuple(n for n, a in enumerate(answers, start=1) if a is None)
    assert score.severity == get_instrument("PHQ-9").band_for(total).key


def test_phq9_prorate_rounds_half_up():
    # 4 x 9 / 8 = 4.5 -> 5 (Python's round() would give 4); 14 x 9 / 8 = 15.75 -> 16
    assert score_answers("PHQ-9", [1, 1, 1, 1, 0, 0, 0, 0, None], prorate=True).total == 5
    assert score_answers("PHQ-9", [2, 2, 2, 2, 2, 2, 1, 1, None], prorate=True).total == 16


def test_phq9_prorate_refuses_three_missing():
    score = score_answers("PHQ-9", [1, 1, 1, 1, 1, 1, None, None, None], prorate=True)
    assert score.total is None and not score.is_prorated


def test_prorate_keeps_risk_flag_and_drops_diagnostic_flags():
    score = score_answers("PHQ-9", [3, 3, 3, 3, 3, 3, 3, None, 1], prorate=True)
    assert score.flags == {"suicide_risk"}
    assert score.total == 25  # 22 * 9 / 8 = 24.75 -> 25


def test_gad7_prorates_one_missing_not_two():
    one = score_answers("GAD-7", [2, 2, 2, 2, 2, 2, None], prorate=True)
    assert one.total == 14 and one.severity == "moderate" and one.is_prorated
    two = score_answers("GAD-7", [2, 2, 2, 2, 2, None, None], prorate=True)
    assert two.total is None


@pytest.mark.parametrize("code", ["PHQ-2", "GAD-2"])
def test_two_item_screens_are_not_prorated(code):
    assert score_answers(code, [3, None], prorate=True).total is None


def test_prorate_off_by_default():
    assert score_answers("PHQ-9", [1] * 8 + [None]).total is None


# --- invalid input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "answers", "message"),
    [
        ("PHQ-9", [0] * 8, "PHQ-9 needs 9 answers, got 8"),
        ("PHQ-9", [0] * 10, "PHQ-9 needs 9 answers, got 10"),
        ("GAD-7", [], "GAD-7 needs 7 answers, got 0"),
        ("C-SSRS-SCREEN", [0] * 6, "C-SSRS-SCREEN needs 7 answers, got 6"),
        ("PCL-5", [0] * 19, "PCL-5 needs 20 answers, got 19"),
    ],
)
def test_wrong_answer_count(code, answers, message):
    with pytest.raises(InvalidAnswers, match=message):
        score_answers(code, answers)


@pytest.mark.parametrize(
    ("code", "answers", "message"),
    [
        ("PHQ-9", [0, 0, 0, 5, 0, 0, 0, 0, 0], "Item 4: 5 is out of range 0–3"),
        ("PHQ-9", [0, 0, 0, 0, 0, 0, 0, 0, -1], "Item 9: -1 is out of range 0–3"),
        ("GAD-7", [0, 0, 0, 0, 0, 0, 4], "Item 7: 4 is out of range 0–3"),
        ("PCL-5", [0] * 19 + [5], "Item 20: 5 is out of range 0–4"),
        ("EPDS", [4] + [0] * 9, "Item 1: 4 is out of range 0–3"),
        ("AUDIT-C", [0, 5, 0], "Item 2: 5 is out of range 0–4"),
    ],
)
def test_out_of_range_names_the_item(code, answers, message):
    with pytest.raises(InvalidAnswers, match=message):
        score_answers(code, answers, sex="male")


@pytest.mark.parametrize("bad", [True, False, 1.0, 2.5, "2", b"2", [1], {}])
def test_non_integer_values_name_the_item(bad):
    answers = [0] * 9
    answers[2] = bad
    with pytest.raises(InvalidAnswers, match=r"^Item 3: .* is not an integer"):
        score_answers("PHQ-9", answers)


@pytest.mark.parametrize("answers", ["000000000", None, 9, {"1": 0}])
def test_answers_must_be_a_list(answers):
    with pytest.raises(InvalidAnswers):
        score_answers("PHQ-9", answers)


@pytest.mark.parametrize("code", ["PHQ-10", "phq-9", "", None, "CSSRS"])
def test_unknown_code(code):
    with pytest.raises(InvalidAnswers, match="Unknown instrument code"):
        score_answers(code, [0] * 9)


@pytest.mark.parametrize(
    ("difficulty", "message"),
    [(4, "out of range 0–3"), (-1, "out of range"), (True, "not an integer"), ("1", "not an integer")],
)
def test_invalid_difficulty(difficulty, message):
    with pytest.raises(InvalidAnswers, match=f"Difficulty item: .*{message}"):
        score_answers("PHQ-9", [0] * 9, difficulty=difficulty)


def test_difficulty_rejected_where_the_instrument_has_none():
    with pytest.raises(InvalidAnswers, match="no difficulty question"):
        score_answers("PHQ-2", [0, 0], difficulty=1)


def test_invalid_answers_is_a_value_error():
    assert issubclass(InvalidAnswers, ValueError)


def test_tuple_answers_are_accepted():
    assert score_answers("PHQ-2", (1, 2)).total == 3


def test_score_is_frozen_and_flags_compare_equal_to_a_set():
    score = score_answers("PHQ-9", [0] * 8 + [1])
    assert score.flags == {"suicide_risk"}
    with pytest.raises(AttributeError):
        score.total = 5  # type: ignore[misc]
