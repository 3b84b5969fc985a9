"""Library integrity against shared/reference/instruments.md (§9 LOINC table, item counts, keying)."""

import json

import pytest

from assessments.library import (
    INSTRUMENTS,
    LOINC_ANSWER_ALIASES,
    get_instrument,
    instrument_choices,
    instrument_or_none,
    to_json,
    visible_items,
)

CODES = ["PHQ-9", "PHQ-2", "GAD-7", "GAD-2", "PCL-5", "AUDIT-C", "EPDS", "C-SSRS-SCREEN"]


def test_library_holds_exactly_the_eight_instruments():
    assert list(INSTRUMENTS) == CODES


@pytest.mark.parametrize(
    ("code", "count"),
    [
        ("PHQ-9", 9),
        ("PHQ-2", 2),
        ("GAD-7", 7),
        ("GAD-2", 2),
        ("PCL-5", 20),
        ("AUDIT-C", 3),
        ("EPDS", 10),
        ("C-SSRS-SCREEN", 7),
    ],
)
def test_item_counts(code, count):
    instrument = get_instrument(code)
    assert instrument.item_count == count
    assert [item.number for item in instrument.items] == list(range(1, count + 1))


@pytest.mark.parametrize(
    ("code", "panel", "total", "items"),
    [
        (
            "PHQ-9",
            "44249-1",
            "44261-6",
            ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"],
        ),
        ("PHQ-2", "55757-9", "55758-7", ["44250-9", "44255-8"]),
        ("GAD-7", "69737-5", "70274-6", ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]),
        ("GAD-2", "", "", ["69725-0", "68509-9"]),
        ("PCL-5", "101697-1", "101698-9", [""] * 20),
        ("AUDIT-C", "72109-2", "75626-2", ["68518-0", "68519-8", "68520-6"]),
        ("EPDS", "71354-5", "99046-5", [""] * 10),
        ("C-SSRS-SCREEN", "93373-9", "", [""] * 7),
    ],
)
def test_loinc_codes_match_reference_table(code, panel, total, items):
    instrument = get_instrument(code)
    assert instrument.loinc_panel == panel
    assert instrument.loinc_total == total
    assert [item.loinc for item in instrument.items] == items


def test_unverified_gad7_lookalike_codes_are_not_used():
    # ref §3: 69726-8..69731-8 circulate in public code but are wrong (69726-8 is discharge instructions).
    codes = {item.loinc for item in get_instrument("GAD-7").items}
    assert not codes & {f"6972{n}-{c}" for n, c in [(6, 8), (7, 6), (8, 4), (9, 2)]}
    assert get_instrument("GAD-2").loinc_total != "70272-0"


def test_phq9_difficulty_item_is_unscored_with_out_of_sequence_codes():
    item = get_instrument("PHQ-9").difficulty_item
    assert item is not None and item.scored is False and item.loinc == "69722-7"
    assert [(o.label, o.loinc) for o in item.options] == [
        ("Not difficult at all", "LA6572-7"),
        ("Somewhat difficult", "LA6573-5"),
        ("Very difficult", "LA6575-0"),
        ("Extremely difficult", "LA6574-3"),
    ]
    assert all(i.scored for i in get_instrument("PHQ-9").items)


@pytest.mark.parametrize("code", ["PHQ-9", "PHQ-2", "GAD-7", "GAD-2"])
def test_frequency_options_use_ll358_3(code):
    for item in get_instrument(code).items:
        assert [(o.value, o.loinc) for o in item.options] == [
            (0, "LA6568-5"),
            (1, "LA6569-3"),
            (2, "LA6570-1"),
            (3, "LA6571-9"),
        ]


def test_gad7_more_days_than_not_alias_scores_two():
    assert LOINC_ANSWER_ALIASES["LA18938-3"] == 2


def test_cssrs_yes_no_codes():
    for item in get_instrument("C-SSRS-SCREEN").items:
        assert [(o.label, o.value, o.loinc) for o in item.options] == [("No", 0, "LA32-8"), ("Yes", 1, "LA33-6")]


def test_audit_c_item_1_accepts_us_core_code():
    assert get_instrument("AUDIT-C").items[0].loinc_aliases == ("68517-2",)


@pytest.mark.parametrize("number", [3, 5, 6, 7, 8, 9, 10])
def test_epds_reverse_keyed_items_score_top_option_three(number):
    item = get_instrument("EPDS").items[number - 1]
    assert item.reverse_keyed
    assert [o.value for o in item.options] == [3, 2, 1, 0]
    assert item.options[0].label.startswith("First option")


@pytest.mark.parametrize("number", [1, 2, 4])
def test_epds_forward_items_score_top_option_zero(number):
    item = get_instrument("EPDS").items[number - 1]
    assert not item.reverse_keyed
    assert [o.value for o in item.options] == [0, 1, 2, 3]


def test_epds_stores_descriptors_and_licence_caveat():
    epds = get_instrument("EPDS")
    assert epds.items[9].text == "The thought of harming myself has occurred to me"
    assert epds.items[9].is_risk_item
    assert "permission" in epds.licence_note
    assert "Royal College of Psychiatrists" in epds.licence
    assert epds.bands_are_derived


@pytest.mark.parametrize(
    ("code", "risk_items"),
    [("PHQ-9", [9]), ("EPDS", [10]), ("GAD-7", []), ("PCL-5", []), ("C-SSRS-SCREEN", [2, 3, 4, 5, 6, 7])],
)
def test_risk_items(code, risk_items):
    assert [i.number for i in get_instrument(code).items if i.is_risk_item] == risk_items


@pytest.mark.parametrize(
    ("code", "total_range", "positive_at"),
    [
        ("PHQ-9", (0, 27), 10),
        ("PHQ-2", (0, 6), 3),
        ("GAD-7", (0, 21), 10),
        ("GAD-2", (0, 6), 3),
        ("PCL-5", (0, 80), 33),
        ("AUDIT-C", (0, 12), None),
        ("EPDS", (0, 30), 10),
        ("C-SSRS-SCREEN", None, None),
    ],
)
def test_total_ranges_and_cutoffs(code, total_range, positive_at):
    instrument = get_instrument(code)
    assert instrument.total_range == total_range
    assert instrument.positive_at == positive_at
    if total_range:
        assert total_range[1] == sum(item.max_value for item in instrument.items)


def test_audit_c_cutoffs_by_sex():
    audit = get_instrument("AUDIT-C")
    assert audit.requires_sex
    assert audit.positive_cutoff("male") == 4
    assert audit.positive_cutoff("female") == 3


@pytest.mark.parametrize("code", ["PHQ-9", "GAD-7", "EPDS"])
def test_bands_cover_the_whole_range_without_gaps(code):
    instrument = get_instrument(code)
    low, high = instrument.total_range
    assert instrument.bands[0].lower == low and instrument.bands[-1].upper == high
    for before, after in zip(instrument.bands, instrument.bands[1:], strict=False):
        assert after.lower == before.upper + 1


@pytest.mark.parametrize(
    ("code", "caseness", "remission", "reliable"),
    [
        ("PHQ-9", 10, 5, 6),
        ("GAD-7", 8, 5, 4),
        ("PHQ-2", None, None, None),
        ("GAD-2", None, None, None),
        ("PCL-5", None, None, 10),
        ("EPDS", None, None, 4),
        ("AUDIT-C", None, None, None),
    ],
)
def test_outcome_constants(code, caseness, remission, reliable):
    instrument = get_instrument(code)
    assert (instrument.caseness, instrument.remission_below, instrument.reliable_change) == (
        caseness,
        remission,
        reliable,
    )


@pytest.mark.parametrize("code", CODES)
def test_every_instrument_has_version_licence_and_sources(code):
    instrument = get_instrument(code)
    assert instrument.version and instrument.licence and instrument.sources
    assert instrument.billable_cpt == ("" if code == "C-SSRS-SCREEN" else "96127")


def test_get_instrument_unknown_code_raises_key_error_naming_it():
    with pytest.raises(KeyError, match="PHQ-10"):
        get_instrument("PHQ-10")
    assert instrument_or_none("PHQ-10") is None
    assert instrument_or_none("PHQ-9").code == "PHQ-9"


def test_instrument_choices_for_forms():
    choices = instrument_choices()
    assert [c for c, _ in choices] == CODES
    assert choices[0][1] == "PHQ-9 — Patient Health Questionnaire-9"


@pytest.mark.parametrize(
    ("answers", "shown"),
    [
        ({}, ["1", "2", "6"]),
        ({"1": 1, "2": 0}, ["1", "2", "6"]),
        ({"1": 1, "2": 1}, ["1", "2", "3", "4", "5", "6"]),
        ({"2": 1, "6": 1}, ["1", "2", "3", "4", "5", "6", "6b"]),
        ({"2": 0, "6": 1}, ["1", "2", "6", "6b"]),
        ({"2": 0, "6": 0}, ["1", "2", "6"]),
    ],
)
def test_cssrs_skip_logic(answers, shown):
    assert [i.key for i in visible_items(get_instrument("C-SSRS-SCREEN"), answers)] == shown


def test_instruments_without_skip_logic_show_every_item():
    assert len(visible_items(get_instrument("PHQ-9"), {})) == 9


@pytest.mark.parametrize("code", CODES)
def test_to_json_is_plain_serialisable(code):
    data = to_json(get_instrument(code))
    assert json.loads(json.dumps(data)) == data
    assert data["code"] == code
    assert len(data["items"]) == get_instrument(code).item_count


def test_to_json_keeps_skip_logic_and_difficulty():
    cssrs = to_json(get_instrument("C-SSRS-SCREEN"))
    assert cssrs["items"][6]["show_if"] == {"item": "6", "equals": 1}
    phq9 = to_json(get_instrument("PHQ-9"))
    assert phq9["difficulty_item"]["options"][2]["loinc"] == "LA6575-0"
