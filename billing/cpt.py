"""The CPT/HCPCS codes Tend bills, with OUR OWN plain-language labels.

Official CPT descriptors are copyrighted by the AMA and are not shipped here; the labels below are
written for this project. Time bands and pairing rules come from billing.md §3.4 (CMS LCD L34616,
BCBS-IL psychotherapy policy, and the other sources cited there).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CptCode:
    code: str
    label: str
    kind: str  # evaluation, psychotherapy, addon, em, crisis, family, group, assessment, testing, other
    is_add_on: bool = False
    min_minutes: int | None = None  # psychotherapy time bands (billing.md P1/P2/P6)
    max_minutes: int | None = None
    prescriber_only: bool = False  # billing.md R4
    primaries: frozenset[str] = field(default_factory=frozenset)  # add-ons: codes they may accompany


EM_OFFICE = frozenset({"99202", "99203", "99204", "99205", "99211", "99212", "99213", "99214", "99215"})
PSYCHOTHERAPY = frozenset({"90832", "90834", "90837"})
PSYCHOTHERAPY_WITH_EM = frozenset({"90833", "90836", "90838"})

_CODES = [
    CptCode("90791", "Psychiatric diagnostic evaluation", "evaluation"),
    CptCode("90792", "Psychiatric diagnostic evaluation with medical services", "evaluation", prescriber_only=True),
    CptCode("90832", "Psychotherapy, about 30 minutes", "psychotherapy", min_minutes=16, max_minutes=37),
    CptCode("90834", "Psychotherapy, about 45 minutes", "psychotherapy", min_minutes=38, max_minutes=52),
    CptCode("90837", "Psychotherapy, about 60 minutes", "psychotherapy", min_minutes=53),
    CptCode(
        "90833", "Psychotherapy add-on with a medical visit, about 30 minutes", "addon", True, 16, 37, True, EM_OFFICE
    ),
    CptCode(
        "90836", "Psychotherapy add-on with a medical visit, about 45 minutes", "addon", True, 38, 52, True, EM_OFFICE
    ),
    CptCode(
        "90838", "Psychotherapy add-on with a medical visit, about 60 minutes", "addon", True, 53, None, True, EM_OFFICE
    ),
    CptCode(
        "90785",
        "Interactive complexity add-on",
        "addon",
        True,
        primaries=frozenset({"90791", "90792", "90832", "90833", "90834", "90836", "90837", "90838", "90853"}),
    ),
    CptCode("90839", "Crisis psychotherapy, first 60 minutes", "crisis", min_minutes=30, max_minutes=74),
    CptCode(
        "90840", "Crisis psychotherapy, each additional 30 minutes", "crisis", True, primaries=frozenset({"90839"})
    ),
    CptCode("90846", "Family psychotherapy without the patient", "family", min_minutes=26),
    CptCode("90847", "Family psychotherapy with the patient", "family", min_minutes=26),
    CptCode("90853", "Group psychotherapy", "group"),
    CptCode("96127", "Brief emotional/behavioral assessment, per instrument", "assessment"),
    CptCode("96130", "Psychological testing evaluation, first hour", "testing"),
    CptCode(
        "96131",
        "Psychological testing evaluation, each additional hour",
        "testing",
        True,
        primaries=frozenset({"96130"}),
    ),
    CptCode("96136", "Test administration by professional, first 30 minutes", "testing"),
    CptCode(
        "96137",
        "Test administration by professional, each additional 30 minutes",
        "testing",
        True,
        primaries=frozenset({"96136"}),
    ),
    CptCode("99202", "New patient office visit, straightforward", "em", prescriber_only=True),
    CptCode("99203", "New patient office visit, low complexity", "em", prescriber_only=True),
    CptCode("99204", "New patient office visit, moderate complexity", "em", prescriber_only=True),
    CptCode("99205", "New patient office visit, high complexity", "em", prescriber_only=True),
    CptCode("99211", "Established patient office visit, minimal", "em", prescriber_only=True),
    CptCode("99212", "Established patient office visit, straightforward", "em", prescriber_only=True),
    CptCode("99213", "Established patient office visit, low complexity", "em", prescriber_only=True),
    CptCode("99214", "Established patient office visit, moderate complexity", "em", prescriber_only=True),
    CptCode("99215", "Established patient office visit, high complexity", "em", prescriber_only=True),
    CptCode("H0031", "Mental health assessment by a non-physician (HCPCS)", "other"),
    CptCode("H0004", "Behavioral health counseling, per 15 minutes (HCPCS)", "other"),
]

CPT_CODES: dict[str, CptCode] = {c.code: c for c in _CODES}

# Modifiers Tend applies or accepts (telehealth per billing.md P8; HO/HN/etc. are payer-specific).
MODIFIERS: dict[str, str] = {
    "95": "Synchronous telehealth (audio and video)",
    "93": "Audio-only telehealth",
    "GT": "Telehealth via interactive audio and video (retired for Medicare professional claims)",
    "HO": "Master's-level clinician",
    "HN": "Bachelor's-level clinician",
    "AH": "Clinical psychologist",
    "AJ": "Clinical social worker",
    "59": "Distinct procedural service",
    "XE": "Separate encounter",
    "25": "Significant, separately identifiable E/M",
}


def cpt_or_none(code: str) -> CptCode | None:
    return CPT_CODES.get((code or "").strip().upper())


def cpt_label(code: str) -> str:
    found = cpt_or_none(code)
    return found.label if found else ""


def psychotherapy_code_for_minutes(minutes: int) -> str | None:
    """90832 16-37, 90834 38-52, 90837 53+ (billing.md P1); None under 16 minutes."""
    if minutes >= 53:
        return "90837"
    if minutes >= 38:
        return "90834"
    if minutes >= 16:
        return "90832"
    return None
