"""Change over time between two totals of the same instrument. Pure: no Django, no I/O.

    from assessments.outcomes import classify_change, classify_paired
    classify_change("PHQ-9", 16, 8)  # -> Change(reliable_improvement=True, response=True, ...)

Definitions (reference §10; one constant per instrument lives on the library's ``Instrument``):

- reliable improvement / deterioration: follow-up - baseline <= -threshold / >= +threshold, with
  ``Instrument.reliable_change`` as the threshold: PHQ-9 6 and GAD-7 4 (NHS Talking Therapies,
  NHS Digital 2016 via PMC8411661 Table 1 [S]); PCL-5 10 (NCPTSD: 5-10 points is reliable change;
  the conservative end [S]); EPDS 4 (Matthey 2004 [U], not in the reference). PHQ-2, GAD-2 and
  AUDIT-C have no published reliable change index in the reference, so both are None.
- response: follow-up <= 0.5 x baseline, so exactly 50 % counts (Coley 2020 [V]); False when the
  baseline is 0 (no reduction is possible).
- remission: follow-up < ``remission_below`` (PHQ-9 5 [V] Coley 2020 / CMS159; GAD-7 5 by analogy
  [U]); None where the instrument has no remission cut-off.
- recovery: baseline >= caseness and follow-up < caseness (PHQ-9 10, GAD-7 8 [S] NHS TT); False
  when the baseline was below caseness (such courses are outside the recovery denominator); None
  where the instrument has no caseness cut-off.
- reliable recovery: recovery and reliable improvement.

``classify_paired`` applies the NHS Talking Therapies paired rule (depression + anxiety measure).
The combination of reliable change across the two measures is [U] in the reference (§10.3).
"""

from __future__ import annotations

from dataclasses import dataclass

from assessments.library import Instrument, get_instrument

__all__ = ["NHS_TT_REFERENCE", "Change", "NationalBenchmark", "PairedChange", "classify_change", "classify_paired"]


@dataclass(frozen=True)
class Change:
    code: str
    baseline: int
    followup: int
    change: int  # follow-up - baseline (negative = fewer symptoms)
    threshold: int | None  # reliable-change points used; None if the instrument has none
    reliable_improvement: bool | None
    reliable_deterioration: bool | None
    response: bool
    remission: bool | None
    recovery: bool | None
    reliable_recovery: bool | None


@dataclass(frozen=True)
class PairedChange:
    depression: Change
    anxiety: Change
    caseness_at_start: bool  # in the recovery denominator
    caseness_at_end: bool
    recovery: bool
    reliable_improvement: bool
    reliable_deterioration: bool
    reliable_recovery: bool


def _instrument_with_total(code: str) -> Instrument:
    try:
        instrument = get_instrument(code)
    except KeyError:
        raise ValueError(f"Unknown instrument code {code!r}") from None
    if instrument.total_range is None:
        raise ValueError(f"{code} has no total score, so change over time is not defined")
    return instrument


def _check_total(instrument: Instrument, name: str, value: object) -> int:
    low, high = instrument.total_range  # type: ignore[misc]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{instrument.code} {name} total {value!r} is not an integer")
    if not low <= value <= high:
        raise ValueError(f"{instrument.code} {name} total {value} is out of range {low}–{high}")
    return value


def classify_change(code: str, baseline_total: int, followup_total: int) -> Change:
    """Classify the change from ``baseline_total`` to ``followup_total``. ValueError for C-SSRS."""
    instrument = _instrument_with_total(code)
    baseline = _check_total(instrument, "baseline", baseline_total)
    followup = _check_total(instrument, "follow-up", followup_total)
    delta = followup - baseline
    threshold = instrument.reliable_change
    improved = None if threshold is None else delta <= -threshold
    deteriorated = None if threshold is None else delta >= threshold
    caseness = instrument.caseness
    recovery = None if caseness is None else baseline >= caseness and followup < caseness
    reliable_recovery = None if recovery is None or improved is None else recovery and improved
    return Change(
        code=instrument.code,
        baseline=baseline,
        followup=followup,
        change=delta,
        threshold=threshold,
        reliable_improvement=improved,
        reliable_deterioration=deteriorated,
        response=baseline > 0 and 2 * followup <= baseline,
        remission=None if instrument.remission_below is None else followup < instrument.remission_below,
        recovery=recovery,
        reliable_recovery=reliable_recovery,
    )


def classify_paired(
    phq9_baseline: int, phq9_followup: int, anx_code: str, anx_baseline: int, anx_followup: int
) -> PairedChange:
    """NHS Talking Therapies paired outcome for one finished course (reference §10.3).

    - caseness at start: PHQ-9 >= 10 or the anxiety measure at or above its caseness [S];
    - recovery: at caseness at start and at caseness on neither measure at the end [S];
    - reliable improvement: at least one measure reliably improved and neither reliably
      deteriorated [U]; reliable deterioration: either measure reliably deteriorated [U];
    - reliable recovery: recovery and reliable improvement [S] (Gyani 2013).

    ``anx_code`` must be an anxiety measure with a caseness cut-off and a reliable change threshold;
    in the library that is the GAD-7 (ADSMs are not in the library yet).
    """
    anx_instrument = _instrument_with_total(anx_code)
    if anx_instrument.code == "PHQ-9" or anx_instrument.caseness is None or anx_instrument.reliable_change is None:
        raise ValueError(f"{anx_code} cannot be the anxiety measure of an NHS Talking Therapies pair")
    dep = classify_change("PHQ-9", phq9_baseline, phq9_followup)
    anx = classify_change(anx_instrument.code, anx_baseline, anx_followup)
    dep_case, anx_case = get_instrument("PHQ-9").caseness, anx_instrument.caseness
    at_start = dep.baseline >= dep_case or anx.baseline >= anx_case  # type: ignore[operator]
    at_end = dep.followup >= dep_case or anx.followup >= anx_case  # type: ignore[operator]
    deteriorated = bool(dep.reliable_deterioration or anx.reliable_deterioration)
    improved = bool(dep.reliable_improvement or anx.reliable_improvement) and not deteriorated
    recovery = at_start and not at_end
    return PairedChange(
        depression=dep,
        anxiety=anx,
        caseness_at_start=at_start,
        caseness_at_end=at_end,
        recovery=recovery,
        reliable_improvement=improved,
        reliable_deterioration=deteriorated,
        reliable_recovery=recovery and improved,
    )


@dataclass(frozen=True)
class NationalBenchmark:
    """Published national rates to show beside a practice's own (fractions of finished courses)."""

    programme: str
    year: str
    recovery_rate: float
    reliable_improvement_rate: float
    reliable_recovery_rate: float
    recovery_target: float
    confidence: str
    source: str
    note: str


# NHS Talking Therapies, for anxiety and depression, Annual report 2022-23 (NHS England / NHS Digital).
# Confidence [U]: the rates below are the headline figures as recalled (recovery about 50 %, reliable
# improvement about 67 %, reliable recovery about 47 %); the primary report could not be read when this was
# written. Checked so far: the 50 % recovery target (RCPsych Mental Health Watch, NHS TT recovery indicator)
# and a 2021-22 national recovery rate of 50.2 % (NHS Digital annual report 2021-22, as reported by HTN) [S].
NHS_TT_REFERENCE = NationalBenchmark(
    programme="NHS Talking Therapies, for anxiety and depression (England)",
    year="2022-23",
    recovery_rate=0.50,
    reliable_improvement_rate=0.67,
    reliable_recovery_rate=0.47,
    recovery_target=0.50,
    confidence="[U]",
    source="NHS Talking Therapies, for anxiety and depression, Annual report 2022-23 (NHS England)",
    note=(
        "Headline national rates, not yet checked against the published report; verify before "
        "showing them to payers. Recovery counts only courses at caseness at the start."
    ),
)
