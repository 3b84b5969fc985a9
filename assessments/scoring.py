"""Pure scoring of the instrument library (no Django, no I/O). Every path that scores calls this.

    from assessments.scoring import score_answers, InvalidAnswers
    score = score_answers("PHQ-9", [0, 1, 2, 3, 0, 1, 2, 0, 1], difficulty=1)

``answers`` is the list of the chosen options' scored values in item order:

- EPDS: the keyed value after reverse keying (take ``Option.value`` from ``assessments.library``);
- C-SSRS screener: seven 0/1 values, items 1-6 then 6b; items hidden by the skip logic are 0
  (``None`` is also accepted for a hidden item and treated as 0, never as missing);
- PHQ-9: nine values; the unscored difficulty question goes in ``difficulty=`` (0-3) and never
  changes the total.

Validation. A wrong answer count, an unknown code, a non-integer value (``bool``, ``float`` and
``str`` included) or an out-of-range value raises ``InvalidAnswers`` (a ``ValueError``) whose
message names the item ("Item 4: 5 is out of range 0-3", with an en dash). AUDIT-C needs ``sex`` ("male" or
"female") because its cut-offs are sex-specific.

Missing items (reference §11; docs/instruments.md). ``None`` in the list means unanswered.
- Default: the total is refused. ``total``, ``severity`` and ``positive_screen`` are None,
  ``is_complete`` is False and ``missing_items`` lists the 1-based item positions. Interpretive
  flags (PHQ-9 diagnostic syndromes, PCL-5 provisional PTSD, AUDIT-C review flags) are not raised.
- Risk flags are ALWAYS raised from the risk items that were answered: PHQ-9 item 9 > 0 and
  EPDS item 10 > 0 (``suicide_risk``; EPDS also ``self_harm_risk``), a C-SSRS screen that is high
  risk on its answered items (``suicide_risk``), C-SSRS ``lifetime_behavior`` / ``recent_behavior``.
- ``prorate=True`` (opt in, PHQ-9 and GAD-7 only): PHQ-9 with at most 2 of 9 missing and GAD-7
  with at most 1 of 7 missing are scored by replacing each missing item with the mean of the
  answered items (Arrieta et al. 2017, as documented by the qscorer R package [S]), rounded half
  up. The GAD-7 limit keeps the PHQ-9's proportion (2/9 = 22 %) without exceeding it (1/7 = 14 %;
  2/7 = 29 % would). The score then has ``is_prorated`` True and ``is_complete`` False. EPDS is
  never prorated ("All the items must be completed"); no other instrument has a prorating rule.

C-SSRS screener (no total). Triage tiers: ``high`` = item 4 or 5 yes, or 6b (behaviour in the past
3 months) yes [V Columbia]; ``moderate`` = item 3 yes, or item 6 yes (lifetime behaviour) [S];
``low`` = item 1 or 2 yes only [S]; ``none`` otherwise. ``positive_screen`` is True for moderate and
high. On an incomplete screener the tier is None unless the answered items already make it high
(no higher tier exists, so the result is determined and the flag must fire). Answers that contradict the skip logic (item 4 yes after item 2 no) are scored as given: a
risk answer is never suppressed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assessments.library import (
    AUDITC_UK_POSITIVE_AT,
    PCL5_PROBABLE_PTSD_AT,
    Instrument,
    Item,
    get_instrument,
)

__all__ = ["InvalidAnswers", "Score", "score_answers"]

SEXES = ("male", "female")

# Most missing items that ``prorate=True`` will fill in (qscorer / Arrieta 2017 for the PHQ-9; the GAD-7
# analogue is Tend's choice, see the module docstring).
PRORATE_MAX_MISSING = {"PHQ-9": 2, "GAD-7": 1}

RISK_FLAGS = frozenset({"suicide_risk", "self_harm_risk", "recent_behavior", "lifetime_behavior"})


class InvalidAnswers(ValueError):
    """The answers cannot be scored: wrong count, bad value, unknown instrument, missing sex."""


@dataclass(frozen=True)
class Score:
    code: str
    instrument_version: str
    total: int | None
    severity: str | None
    severity_label: str
    flags: frozenset[str]
    positive_screen: bool | None
    is_complete: bool
    missing_items: tuple[int, ...] = ()
    subscores: dict[str, int] = field(default_factory=dict, hash=False)
    difficulty: int | None = None
    is_prorated: bool = False


def _label(item: Item) -> str:
    return f"Item {item.key}"


def _check_value(item: Item, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAnswers(f"{_label(item)}: {value!r} is not an integer")
    if not item.min_value <= value <= item.max_value:
        raise InvalidAnswers(f"{_label(item)}: {value} is out of range {item.min_value}–{item.max_value}")


def _validate(instrument: Instrument, answers: Any, sex: str | None, difficulty: Any) -> list[int | None]:
    if isinstance(answers, (str, bytes, dict)) or not hasattr(answers, "__len__"):
        raise InvalidAnswers(f"{instrument.code} answers must be a list of {instrument.item_count} values")
    answers = list(answers)
    if len(answers) != instrument.item_count:
        raise InvalidAnswers(f"{instrument.code} needs {instrument.item_count} answers, got {len(answers)}")
    for item, value in zip(instrument.items, answers, strict=True):
        if value is not None:
            _check_value(item, value)
    if instrument.requires_sex and sex not in SEXES:
        raise InvalidAnswers(f"{instrument.code} needs sex 'male' or 'female' for its cut-off, got {sex!r}")
    if difficulty is not None:
        if instrument.difficulty_item is None:
            raise InvalidAnswers(f"{instrument.code} has no difficulty question")
        item = instrument.difficulty_item
        if isinstance(difficulty, bool) or not isinstance(difficulty, int):
            raise InvalidAnswers(f"Difficulty item: {difficulty!r} is not an integer")
        if not item.min_value <= difficulty <= item.max_value:
            raise InvalidAnswers(f"Difficulty item: {difficulty} is out of range {item.min_value}–{item.max_value}")
    return answers


def _round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def score_answers(
    code: str,
    answers: list[int | None],
    *,
    sex: str | None = None,
    difficulty: int | None = None,
    prorate: bool = False,
) -> Score:
    """Score one completed (or partly completed) instrument. See the module docstring."""
    try:
        instrument = get_instrument(code)
    except KeyError:
        raise InvalidAnswers(f"Unknown instrument code {code!r}") from None
    values = _validate(instrument, answers, sex, difficulty)
    if instrument.code == "C-SSRS-SCREEN":
        return _score_cssrs(instrument, values)

    missing = tuple(item.number for item, v in zip(instrument.items, values, strict=True) if v is None)
    answered = [v for v in values if v is not None]
    flags = set(_risk_flags(instrument, values))

    total: int | None
    is_prorated = False
    if not missing:
        total = sum(answered)
    elif prorate and len(missing) <= PRORATE_MAX_MISSING.get(instrument.code, -1):
        total = _round_half_up(sum(answered) * instrument.item_count, len(answered))
        is_prorated = True
    else:
        total = None

    subscores = {
        name: sum(values[n - 1] for n in numbers)  # type: ignore[misc]
        for name, numbers in instrument.subscales
        if all(values[n - 1] is not None for n in numbers)
    }
    base = {
        "code": instrument.code,
        "instrument_version": instrument.version,
        "is_complete": not missing,
        "missing_items": missing,
        "subscores": subscores,
        "difficulty": difficulty,
        "is_prorated": is_prorated,
    }
    if total is None:
        return Score(total=None, severity=None, severity_label="", flags=frozenset(flags), positive_screen=None, **base)

    band = instrument.band_for(total)
    cutoff = instrument.positive_cutoff(sex)
    positive = None if cutoff is None else total >= cutoff
    if not missing:  # interpretive flags need every item
        flags |= _interpretive_flags(instrument, values, total, positive)  # type: ignore[arg-type]
    return Score(
        total=total,
        severity=band.key if band else None,
        severity_label=band.label if band else "",
        flags=frozenset(flags),
        positive_screen=positive,
        **base,
    )


def _risk_flags(instrument: Instrument, values: list[int | None]) -> set[str]:
    flags: set[str] = set()
    if instrument.code == "PHQ-9" and (values[8] or 0) > 0:  # item 9 [S] ref §1
        flags.add("suicide_risk")
    if instrument.code == "EPDS" and (values[9] or 0) > 0:  # item 10 [S] ref §7 (NSW guidance)
        flags |= {"suicide_risk", "self_harm_risk"}
    return flags


def _interpretive_flags(instrument: Instrument, v: list[int], total: int, positive: bool | None) -> set[str]:
    flags: set[str] = set()
    if instrument.code == "PHQ-9":
        # Diagnostic algorithm [V] (PHQ instructions, Kroenke 2001, CamCOPS; ref §1): items rated >= 2
        # count as symptoms, item 9 counts at >= 1; one of items 1-2 must be among them.
        symptoms = sum(1 for n, value in enumerate(v, start=1) if value >= (1 if n == 9 else 2))
        cardinal = v[0] >= 2 or v[1] >= 2
        if cardinal and symptoms >= 5:
            flags.add("major_depressive_syndrome")
        elif cardinal and 2 <= symptoms <= 4:
            flags.add("other_depressive_syndrome")
    elif instrument.code == "AUDIT-C":
        if total >= AUDITC_UK_POSITIVE_AT:  # UK 5+ [S] ref §6
            flags.add("positive_screen_uk_ge5")
        # LOINC 75626-2: points all from question 1 with 2 and 3 at 0 -> likely below limits. Raised on a
        # positive screen only, where it changes the reading of the result.
        if positive and v[0] > 0 and v[1] == 0 and v[2] == 0:
            flags.add("points_from_q1_only")
    elif instrument.code == "PCL-5":
        if total >= PCL5_PROBABLE_PTSD_AT:  # method 1 [S] ref §5; 33 chosen from 31-33
            flags.add("probable_ptsd")
        endorsed = {n for n, value in enumerate(v, start=1) if value >= 2}  # method 2 [S] ref §5
        needed = {"B": 1, "C": 1, "D": 2, "E": 2}
        if all(len(endorsed & set(numbers)) >= needed[name] for name, numbers in instrument.subscales):
            flags.add("dsm5_provisional_ptsd")
    return flags


def _score_cssrs(instrument: Instrument, values: list[int | None]) -> Score:
    answered = {item.key: value for item, value in zip(instrument.items, values, strict=True)}
    # Items hidden by the skip logic are 0 by the interface, whether given as 0 or None.
    missing = tuple(
        item.number
        for item in instrument.items
        if answered[item.key] is None
        and (item.show_if is None or answered.get(item.show_if.item) == item.show_if.equals)
    )

    def yes(key: str) -> bool:
        return answered[key] == 1

    flags: set[str] = set()
    if yes("6"):
        flags.add("lifetime_behavior")
    if yes("6b"):
        flags.add("recent_behavior")
    high = yes("4") or yes("5") or yes("6b")  # [V] Columbia triage page (ref §8)
    if high:
        flags.add("suicide_risk")
        severity: str | None = "high"
    elif missing:
        severity = None  # cannot rule out a higher tier
    elif yes("3") or yes("6"):
        severity = "moderate"  # [S] SAFE-T convention
    elif yes("1") or yes("2"):
        severity = "low"  # [S]
    else:
        severity = "none"
    labels = dict(instrument.risk_levels)
    return Score(
        code=instrument.code,
        instrument_version=instrument.version,
        total=None,
        severity=severity,
        severity_label=labels[severity] if severity else "",
        flags=frozenset(flags),
        positive_screen=None if severity is None else severity in ("moderate", "high"),
        is_complete=not missing,
        missing_items=missing,
    )
