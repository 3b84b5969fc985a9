"""CARC/RARC catalog (helper R3): our own descriptions, next steps and reason groups."""

from __future__ import annotations

from billing import carc


def test_known_codes_have_description_group_and_next_step():
    assert carc.split_reason("CO-197") == ("CO", "197")
    assert carc.split_reason(" 29 ") == ("", "29")
    assert carc.reason_group("CO-197") == carc.AUTH
    assert carc.reason_group("CO-29") == carc.TIMELY
    assert carc.reason_group("OA-18") == carc.DUPLICATE
    assert carc.reason_group("CO-27") == carc.ELIGIBILITY
    assert carc.reason_group("CO-4") == carc.CODING
    assert "authorization" in carc.describe("CO-197").lower()
    assert "retro" in carc.next_step("CO-197").lower()
    for code in ("1", "2", "3", "4", "11", "16", "18", "22", "27", "29", "45", "50", "96", "97", "109", "119"):
        entry = carc.CARCS[code]
        assert entry.description and entry.next_step and entry.group in carc.REASON_GROUPS


def test_unknown_codes_fall_back_to_other():
    assert carc.reason_group("CO-999") == carc.OTHER
    assert "not in our list" in carc.describe("CO-999")
    assert carc.next_step("PI-A9")


def test_adjustments_and_remarks_are_explained():
    rows = carc.explain_adjustments([{"group": "co", "reason": "197", "amount": "150.00"}])
    assert rows[0]["group"] == "CO" and "Contractual" in rows[0]["group_text"]
    assert "authorization" in rows[0]["reason_text"].lower()
    assert "Authorization" in carc.rarc_text("m62")
    assert carc.rarc_text("ZZZ") == ""


def test_groups_partition_the_catalog():
    every = [c for g in carc.REASON_GROUPS for c in carc.codes_in_group(g)]
    assert sorted(every) == sorted(carc.CARCS)
