"""The instrument library, stored as data.

Ground truth: ``shared/reference/instruments.md`` (cited below as "ref §N"). Confidence tags follow
that document: [V] verified in a primary/authoritative source, [S] secondary sources only,
[U] unverified convention. An empty LOINC string means "no verified code"; never guess one.

Everything here is immutable (frozen dataclasses, tuples) so the library can be shared freely
between requests and imported by pure code (``assessments.scoring``, ``assessments.outcomes``).
Human-readable notes for the team live in ``docs/instruments.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CPT_BRIEF_ASSESSMENT = "96127"  # brief emotional/behavioural assessment, per standardised instrument


@dataclass(frozen=True)
class Option:
    """One answer choice: the label shown, the scored value stored, the LOINC answer code."""

    label: str
    value: int
    loinc: str = ""


@dataclass(frozen=True)
class ShowIf:
    """Skip logic: the item is shown only when item ``item`` (a key) was answered ``equals``."""

    item: str
    equals: int


@dataclass(frozen=True)
class Item:
    """One question.

    ``number`` is the 1-based position in the answers list passed to ``score_answers`` (C-SSRS
    "6b" is number 7); ``key`` is the printed label ("1".."9", "6b", "difficulty").
    """

    key: str
    number: int
    text: str
    options: tuple[Option, ...]
    loinc: str = ""
    loinc_aliases: tuple[str, ...] = ()  # other codes seen for this item in incoming data
    reverse_keyed: bool = False
    is_risk_item: bool = False
    scored: bool = True
    show_if: ShowIf | None = None

    @property
    def min_value(self) -> int:
        return min(o.value for o in self.options)

    @property
    def max_value(self) -> int:
        return max(o.value for o in self.options)


@dataclass(frozen=True)
class Band:
    """A severity band, inclusive on both ends."""

    lower: int
    upper: int
    key: str
    label: str


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    version: str  # stored on every response; the edition of the published form we follow
    instructions: str
    recall_period: str
    items: tuple[Item, ...]
    total_range: tuple[int, int] | None  # None: no summed total (C-SSRS screener)
    licence: str
    sources: tuple[str, ...]
    loinc_panel: str = ""
    loinc_total: str = ""
    loinc_risk_level: str = ""  # C-SSRS only
    bands: tuple[Band, ...] = ()
    bands_are_derived: bool = False  # True for EPDS: labels derived from thresholds, not official
    risk_levels: tuple[tuple[str, str], ...] = ()  # C-SSRS triage tiers (key, label)
    positive_at: int | None = None  # positive screen when total >= this
    positive_at_by_sex: tuple[tuple[str, int], ...] = ()  # AUDIT-C
    requires_sex: bool = False
    difficulty_item: Item | None = None  # unscored functional-impairment question
    subscales: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (name, item numbers)
    caseness: int | None = None  # NHS Talking Therapies caseness: total >= this
    remission_below: int | None = None  # remission: total < this
    reliable_change: int | None = None  # points of change that count as reliable
    reliable_change_source: str = ""
    licence_note: str = ""
    billable_cpt: str = ""

    @property
    def item_count(self) -> int:
        return len(self.items)

    @property
    def has_total(self) -> bool:
        return self.total_range is not None

    def band_for(self, total: int) -> Band | None:
        for band in self.bands:
            if band.lower <= total <= band.upper:
                return band
        return None

    def positive_cutoff(self, sex: str | None = None) -> int | None:
        if self.positive_at_by_sex:
            return dict(self.positive_at_by_sex).get(sex or "")
        return self.positive_at


# --- shared option sets -------------------------------------------------------------------------

# PHQ/GAD frequency options, LOINC answer list LL358-3 [V] (ref §1, §9).
FREQUENCY_OPTIONS = (
    Option("Not at all", 0, "LA6568-5"),
    Option("Several days", 1, "LA6569-3"),
    Option("More than half the days", 2, "LA6570-1"),
    Option("Nearly every day", 3, "LA6571-9"),
)

# PHQ-9 difficulty options, LL359-1 [V] (ref §1): LA6575-0 "Very" and LA6574-3 "Extremely" are NOT in
# sequence. The values are ordinal positions for storage only; the item is never scored.
DIFFICULTY_OPTIONS = (
    Option("Not difficult at all", 0, "LA6572-7"),
    Option("Somewhat difficult", 1, "LA6573-5"),
    Option("Very difficult", 2, "LA6575-0"),
    Option("Extremely difficult", 3, "LA6574-3"),
)

# Answer codes seen in incoming data that map to a frequency score (ref §3): the LOINC-derived GAD-7
# Questionnaire gives item 68509-9 "More days than not" (LA18938-3) instead of "More than half the days".
LOINC_ANSWER_ALIASES: dict[str, int] = {"LA18938-3": 2}

# PCL-5 options [S] (ref §5).
PCL5_OPTIONS = (
    Option("Not at all", 0),
    Option("A little bit", 1),
    Option("Moderately", 2),
    Option("Quite a bit", 3),
    Option("Extremely", 4),
)

# C-SSRS yes/no, LL5384-4 [V] (ref §8).
YES_NO_OPTIONS = (Option("No", 0, "LA32-8"), Option("Yes", 1, "LA33-6"))

# EPDS: the RCPsych copyright (ref §7) keeps the per-item answer wording out of the product; options are
# generic positions, top to bottom. Items 1, 2, 4 score 0..3 top to bottom; items 3, 5-10 are reverse
# keyed, top = 3 .. bottom = 0 [S] (ref §7 scoring).
_EPDS_POSITIONS = ("First option (top)", "Second option", "Third option", "Fourth option (bottom)")
EPDS_OPTIONS = tuple(Option(label, value) for value, label in enumerate(_EPDS_POSITIONS))
EPDS_REVERSED_OPTIONS = tuple(Option(label, 3 - pos) for pos, label in enumerate(_EPDS_POSITIONS))

PFIZER_LICENCE = (
    "Free: no permission required to reproduce, translate, display or distribute. "
    "© Pfizer Inc; developed by Drs Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues."
)  # [V] ref §1, §3

SUICIDE_ITEM_NOTE = "Any non-zero answer raises a suicide-risk alert whatever the total [S] (ref §1)."


def _items(
    texts: list[tuple[str, str]],
    options: tuple[Option, ...],
    *,
    risk: tuple[int, ...] = (),
    reverse: tuple[int, ...] = (),
) -> tuple[Item, ...]:
    return tuple(
        Item(
            key=str(n),
            number=n,
            text=text,
            loinc=loinc,
            options=EPDS_REVERSED_OPTIONS if n in reverse else options,
            reverse_keyed=n in reverse,
            is_risk_item=n in risk,
        )
        for n, (text, loinc) in enumerate(texts, start=1)
    )


# --- PHQ-9 (ref §1) -----------------------------------------------------------------------------

_PHQ9_TEXTS = [  # form wording [S], item codes [V] (US Core PHQ-9 Questionnaire, ref §1)
    ("Little interest or pleasure in doing things", "44250-9"),
    ("Feeling down, depressed, or hopeless", "44255-8"),
    ("Trouble falling or staying asleep, or sleeping too much", "44259-0"),
    ("Feeling tired or having little energy", "44254-1"),
    ("Poor appetite or overeating", "44251-7"),
    (
        "Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
        "44258-2",
    ),
    ("Trouble concentrating on things, such as reading the newspaper or watching television", "44252-5"),
    (
        "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so "
        "fidgety or restless that you have been moving around a lot more than usual",
        "44253-3",
    ),
    ("Thoughts that you would be better off dead or of hurting yourself in some way", "44260-8"),
]
_PHQ_STEM = "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
_DIFFICULTY_TEXT = (
    "If you checked off any problems, how difficult have these problems made it for you to do your work, "
    "take care of things at home, or get along with other people?"
)

PHQ9 = Instrument(
    code="PHQ-9",
    name="Patient Health Questionnaire-9",
    version="2001",  # Kroenke, Spitzer & Williams 2001 (ref §14)
    instructions=_PHQ_STEM,
    recall_period="last 2 weeks",
    items=_items(_PHQ9_TEXTS, FREQUENCY_OPTIONS, risk=(9,)),
    difficulty_item=Item(
        key="difficulty",
        number=10,
        text=_DIFFICULTY_TEXT,
        options=DIFFICULTY_OPTIONS,
        loinc="69722-7",  # [V] ref §1
        scored=False,  # "the last question is not scored" [V] ref §1
    ),
    total_range=(0, 27),  # sum of items 1-9 [V] Kroenke 2001
    bands=(  # [V] Kroenke 2001 abstract; LOINC LL382-3; CamCOPS (ref §1). 0 belongs to the lowest band.
        Band(0, 4, "none_minimal", "None–minimal"),
        Band(5, 9, "mild", "Mild"),
        Band(10, 14, "moderate", "Moderate"),
        Band(15, 19, "moderately_severe", "Moderately severe"),
        Band(20, 27, "severe", "Severe"),
    ),
    positive_at=10,  # [V] Kroenke 2001 (88 % sens/spec); HEDIS DSF-E
    caseness=10,  # NHS Talking Therapies caseness [S] PMC8411661 Table 1 (ref §10.3)
    remission_below=5,  # [V] Coley 2020; CMS159 (ref §10.1)
    reliable_change=6,  # NHS TT reliable improvement/deterioration [S] PMC8411661; NCT05134103 (ref §10.3)
    reliable_change_source="NHS Talking Therapies (NHS Digital 2016, via PMC8411661 Table 1) [S]",
    loinc_panel="44249-1",  # [V]
    loinc_total="44261-6",  # [V]
    licence=PFIZER_LICENCE,
    sources=(
        "Kroenke K, Spitzer RL, Williams JBW. J Gen Intern Med 2001;16:606-613 (PMC1495268)",
        "HL7 US Core Questionnaire-phq-9-example (item and answer LOINC codes)",
        "CamCOPS phq9.py (scoring, bands, diagnostic algorithm)",
    ),
    billable_cpt=CPT_BRIEF_ASSESSMENT,
)

# --- PHQ-2 (ref §2) -----------------------------------------------------------------------------

PHQ2 = Instrument(
    code="PHQ-2",
    name="Patient Health Questionnaire-2",
    version="2003",  # Kroenke, Spitzer & Williams, Med Care 2003 (ref §2)
    instructions=_PHQ_STEM,
    recall_period="last 2 weeks",
    items=_items(_PHQ9_TEXTS[:2], FREQUENCY_OPTIONS),  # PHQ-9 items 1-2 [V]
    total_range=(0, 6),
    positive_at=3,  # [S] HEDIS DSF-E; VA study (ref §2). Arroll 2010's >=2 not used.
    loinc_panel="55757-9",  # [S]
    loinc_total="55758-7",  # [S]
    licence=PFIZER_LICENCE,
    sources=(
        "Kroenke K, Spitzer RL, Williams JBW. Med Care 2003;41:1284-1292 (not read; ref §2)",
        "NCQA HEDIS DSF-E positive-finding table",
    ),
    billable_cpt=CPT_BRIEF_ASSESSMENT,
)

# --- GAD-7 (ref §3) -----------------------------------------------------------------------------

_GAD7_TEXTS = [  # codes [V] HL7 PCO IG Questionnaire-69737-5; loinc.org 69729-2 (ref §3)
    ("Feeling nervous, anxious, or on edge", "69725-0"),
    ("Not being able to stop or control worrying", "68509-9"),
    ("Worrying too much about different things", "69733-4"),
    ("Trouble relaxing", "69734-2"),
    ("Being so restless that it is hard to sit still", "69735-9"),
    ("Becoming easily annoyed or irritable", "69689-8"),
    ("Feeling afraid as if something awful might happen", "69736-7"),
]
_GAD_STEM = "Over the last 2 weeks, how often have you been bothered by the following problems?"

GAD7 = Instrument(
    code="GAD-7",
    name="Generalized Anxiety Disorder-7",
    version="2006",  # Spitzer et al. 2006
    instructions=_GAD_STEM,
    recall_period="last 2 weeks",
    items=_items(_GAD7_TEXTS, FREQUENCY_OPTIONS),
    difficulty_item=Item(
        key="difficulty",
        number=8,
        text=_DIFFICULTY_TEXT,  # wording [U] (ref §3)
        options=DIFFICULTY_OPTIONS,
        loinc="",  # no verified code [U]
        scored=False,
    ),
    total_range=(0, 21),
    bands=(  # [V] Spitzer 2006; CamCOPS gad7.py (ref §3)
        Band(0, 4, "none_minimal", "None–minimal"),
        Band(5, 9, "mild", "Mild"),
        Band(10, 14, "moderate", "Moderate"),
        Band(15, 21, "severe", "Severe"),
    ),
    positive_at=10,  # [V] Spitzer 2006 optimal cut-point
    caseness=8,  # NHS TT caseness [S] PMC8411661 Table 1 (ref §10.3)
    remission_below=5,  # by analogy with PHQ-9 [U] (ref §10.1)
    reliable_change=4,  # NHS TT [S] PMC8411661; NCT05134103 (ref §10.3). Bischoff 2020's RCI is 6.
    reliable_change_source="NHS Talking Therapies (NHS Digital 2016, via PMC8411661 Table 1) [S]",
    loinc_panel="69737-5",  # [V]
    loinc_total="70274-6",  # [V]
    licence=PFIZER_LICENCE,
    sources=(
        "Spitzer RL, Kroenke K, Williams JBW, Löwe B. Arch Intern Med 2006;166:1092-1097",
        "HL7 PCO IG Questionnaire-69737-5 (item LOINC codes)",
        "CamCOPS gad7.py",
    ),
    billable_cpt=CPT_BRIEF_ASSESSMENT,
)

# --- GAD-2 (ref §4) -----------------------------------------------------------------------------

GAD2 = Instrument(
    code="GAD-2",
    name="Generalized Anxiety Disorder-2",
    version="2007",  # Kroenke et al. 2007
    instructions=_GAD_STEM,
    recall_period="last 2 weeks",
    items=_items(_GAD7_TEXTS[:2], FREQUENCY_OPTIONS),  # GAD-7 items 1-2; item codes [V] via GAD-7
    total_range=(0, 6),
    positive_at=3,  # [S] Kroenke 2007 body via secondary sources (ref §4)
    loinc_panel="",  # not verified [U]
    loinc_total="",  # 70272-0 seen once, not verified [U]: left empty on purpose
    licence=PFIZER_LICENCE,
    sources=("Kroenke K et al. Ann Intern Med 2007;146:317-325",),
    billable_cpt=CPT_BRIEF_ASSESSMENT,
)

# --- PCL-5 (ref §5) -----------------------------------------------------------------------------

_PCL5_TEXTS = [  # [S] NCPTSD form wording, several reproductions agree; item LOINC codes not verified
    "Repeated, disturbing, and unwanted memories of the stressful experience?",
    "Repeated, disturbing dreams of the stressful experience?",
    "Suddenly feeling or acting as if the stressful experience were actually happening again (as if you "
    "were actually back there reliving it)?",
    "Feeling very upset when something reminded you of the stressful experience?",
    "Having strong physical reactions when something reminded you of the stressful experience (for "
    "example, heart pounding, trouble breathing, sweating)?",
    "Avoiding memories, thoughts, or feelings related to the stressful experience?",
    "Avoiding external reminders of the stressful experience (for example, people, places, conversations, "
    "activities, objects, or situations)?",
    "Trouble remembering important parts of the stressful experience?",
    "Having strong negative beliefs about yourself, other people, or the world (for example, having "
    "thoughts such as: I am bad, there is something seriously wrong with me, no one can be trusted, the "
    "world is completely dangerous)?",
    "Blaming yourself or someone else for the stressful experience or what happened after it?",
    "Having strong negative feelings such as fear, horror, anger, guilt, or shame?",
    "Loss of interest in activities that you used to enjoy?",
    "Feeling distant or cut off from other people?",
    "Trouble experiencing positive feelings (for example, being unable to feel happiness or have loving "
    "feelings for people close to you)?",
    "Irritable behavior, angry outbursts, or acting aggressively?",
    "Taking too many risks or doing things that could cause you harm?",
    'Being "superalert" or watchful or on guard?',
    "Feeling jumpy or easily startled?",
    "Having difficulty concentrating?",
    "Trouble falling or staying asleep?",
]

# Provisional-diagnosis cut-point, method 1. The published range is 31-33 (Comorbidity Guidelines, ref §5)
# and older NCPTSD guidance said 38. Tend uses 33, the top of the range: fewest false positives while
# staying inside the current guidance.
PCL5_PROBABLE_PTSD_AT = 33

PCL5 = Instrument(
    code="PCL-5",
    name="PTSD Checklist for DSM-5",
    version="2013",  # Weathers et al. 2013
    instructions=(
        "Below is a list of problems that people sometimes have in response to a very stressful "
        "experience. Please read each problem carefully and then indicate how much you have been bothered "
        "by that problem in the past month. In the past month, how much were you bothered by:"
    ),
    recall_period="past month",
    items=_items([(t, "") for t in _PCL5_TEXTS], PCL5_OPTIONS),
    total_range=(0, 80),  # [S] ref §5
    subscales=(  # DSM-5 clusters [S] ref §5
        ("B", (1, 2, 3, 4, 5)),
        ("C", (6, 7)),
        ("D", (8, 9, 10, 11, 12, 13, 14)),
        ("E", (15, 16, 17, 18, 19, 20)),
    ),
    positive_at=PCL5_PROBABLE_PTSD_AT,
    # NCPTSD: 5-10 points is reliable change [S] (ref §5); Tend takes 10, the conservative end.
    reliable_change=10,
    reliable_change_source="NCPTSD guidance as reproduced by secondary sources (5-10 points; 10 chosen) [S]",
    loinc_panel="101697-1",  # [S] LOINC mirror
    loinc_total="101698-9",  # [S] LOINC mirror
    licence=(
        "National Center for PTSD (US Department of Veterans Affairs); widely described as public domain [S]. "
        "Weathers, Litz, Keane, Palmieri, Marx & Schnurr, 2013."
    ),
    sources=(
        "Weathers FW et al. The PTSD Checklist for DSM-5 (PCL-5). National Center for PTSD, 2013",
        "Comorbidity Guidelines (AU), Appendix S: PCL-5 scoring and interpretation",
    ),
    billable_cpt=CPT_BRIEF_ASSESSMENT,
)

# --- AUDIT-C (ref §6) ---------------------------------------------------------------------------

AUDITC = Instrument(
    code="AUDIT-C",
    name="Alcohol Use Disorders Identification Test – Consumption",
    version="1.0",  # WHO AUDIT items 1-3; Tend data version
    instructions="Please answer the following questions about your use of alcohol.",
    recall_period="past year",
    items=(  # option scores [S] WHO/VA reproductions; item codes [V]/[S] (ref §6)
        Item(
            key="1",
            number=1,
            text="How often do you have a drink containing alcohol?",
            loinc="68518-0",  # [S] as a member of 72109-2
            loinc_aliases=("68517-2",),  # US Core AUDIT-C example uses this code; accept on input
            options=(
                Option("Never", 0),
                Option("Monthly or less", 1),
                Option("2–4 times a month", 2),
                Option("2–3 times a week", 3),
                Option("4 or more times a week", 4),
            ),
        ),
        Item(
            key="2",
            number=2,
            text="How many drinks containing alcohol do you have on a typical day when you are drinking?",
            loinc="68519-8",  # [V]
            options=(
                Option("1 or 2", 0),
                Option("3 or 4", 1),
                Option("5 or 6", 2),
                Option("7, 8, or 9", 3),
                Option("10 or more", 4),
            ),
        ),
        Item(
            key="3",
            number=3,
            text="How often do you have six or more drinks on one occasion?",
            loinc="68520-6",  # [V]
            options=(
                Option("Never", 0),
                Option("Less than monthly", 1),
                Option("Monthly", 2),
                Option("Weekly", 3),
                Option("Daily or almost daily", 4),
            ),
        ),
    ),
    total_range=(0, 12),
    positive_at_by_sex=(("male", 4), ("female", 3)),  # [V] LOINC 75626-2 description (PMID 12695273)
    requires_sex=True,
    loinc_panel="72109-2",  # [V]
    loinc_total="75626-2",  # [V]
    licence="As a WHO-approved instrument, the AUDIT is in the public domain. [V] (US Core AUDIT-C copyright)",
    sources=(
        "WHO AUDIT, items 1-3",
        "LOINC 75626-2 term description (cut-offs; points-from-question-1 note)",
        "HL7 US Core AUDIT-C Questionnaire",
    ),
    billable_cpt=CPT_BRIEF_ASSESSMENT,
)

# UK (PHE/OHID) AUDIT-C: 5+ = positive / increasing risk [S] (ref §6). Reported as a flag only.
AUDITC_UK_POSITIVE_AT = 5

# --- EPDS (ref §7) ------------------------------------------------------------------------------

_EPDS_DESCRIPTORS = [  # short descriptors only (copyright, ref §7); item LOINC codes not verified [U]
    "Able to laugh/see funny side",
    "Looked forward with enjoyment",
    "Blamed myself unnecessarily",
    "Anxious or worried for no good reason",
    "Scared or panicky",
    "Things getting on top of me",
    "So unhappy, difficulty sleeping",
    "Sad or miserable",
    "So unhappy I have been crying",
    "The thought of harming myself has occurred to me",
]

EPDS = Instrument(
    code="EPDS",
    name="Edinburgh Postnatal Depression Scale",
    version="1987",  # Cox, Holden & Sagovsky 1987
    instructions="Please choose the answer that comes closest to how you have felt in the past 7 days.",
    recall_period="past 7 days",
    items=_items(
        [(t, "") for t in _EPDS_DESCRIPTORS],
        EPDS_OPTIONS,
        risk=(10,),  # item 10 > 0 -> immediate review [S] NSW guidance (ref §7)
        reverse=(3, 5, 6, 7, 8, 9, 10),  # [S] ref §7 scoring
    ),
    total_range=(0, 30),  # [S]
    bands=(  # DERIVED from the 10 and 13 thresholds [S]; not official bands (ref §7)
        Band(0, 9, "below_threshold", "Below threshold"),
        Band(10, 12, "possible_depression", "Possible depression"),
        Band(13, 30, "likely_depression", "Likely depression"),
    ),
    bands_are_derived=True,
    positive_at=10,  # "Possible depression: 10 or greater"; HEDIS positive finding [S] (ref §7)
    reliable_change=4,  # Matthey 2004 reliable change >= 4 [U]: not in the reference, from the brief
    reliable_change_source="Matthey S. 2004 (EPDS reliable change of 4 points) [U] — not verified",
    loinc_panel="71354-5",  # [S] LOINC mirror
    loinc_total="99046-5",  # [S] long name not confirmed
    licence="© 1987 The Royal College of Psychiatrists. NOT public domain.",
    licence_note=(
        "Only short item descriptors and generic answer positions are stored. Reproducing the full item and "
        "answer wording in a commercial product (print, online or any other medium) needs written permission "
        "from the Royal College of Psychiatrists; check with legal before displaying the form."
    ),
    sources=(
        "Cox JL, Holden JM, Sagovsky R. Br J Psychiatry 1987;150:782-786",
        "Stanford/Wisner scoring instructions (via Psych Congress, TherapyAppointment); CamCOPS epds.py",
        "NSW item-10 guidance",
    ),
    billable_cpt=CPT_BRIEF_ASSESSMENT,
)

# --- C-SSRS screener (ref §8) -------------------------------------------------------------------

_AFTER_ITEM_2_YES = ShowIf(item="2", equals=1)  # skip logic [S] ref §8

CSSRS_SCREEN = Instrument(
    code="C-SSRS-SCREEN",
    name="Columbia-Suicide Severity Rating Scale, screener (recent)",
    version="1.0",  # Tend data version; "past month" screener
    instructions="Ask questions 1 and 2. If YES to 2, ask questions 3, 4, 5 and 6. If NO to 2, go to question 6.",
    recall_period="past month (item 6b: past 3 months)",
    items=(  # wording [S] SAFE-T with C-SSRS; LOINC 93245-9 prompts agree. Item codes not verified.
        Item("1", 1, "Have you wished you were dead or wished you could go to sleep and not wake up?", YES_NO_OPTIONS),
        Item("2", 2, "Have you actually had any thoughts of killing yourself?", YES_NO_OPTIONS, is_risk_item=True),
        Item(
            "3",
            3,
            "Have you been thinking about how you might do this?",
            YES_NO_OPTIONS,
            is_risk_item=True,
            show_if=_AFTER_ITEM_2_YES,
        ),
        Item(
            "4",
            4,
            "Have you had these thoughts and had some intention of acting on them?",
            YES_NO_OPTIONS,
            is_risk_item=True,
            show_if=_AFTER_ITEM_2_YES,
        ),
        Item(
            "5",
            5,
            "Have you started to work out or worked out the details of how to kill yourself? "
            "Do you intend to carry out this plan?",
            YES_NO_OPTIONS,
            is_risk_item=True,
            show_if=_AFTER_ITEM_2_YES,
        ),
        Item(
            "6",
            6,
            "Have you ever done anything, started to do anything, or prepared to do anything to end your life?",
            YES_NO_OPTIONS,
            is_risk_item=True,
        ),
        Item(
            "6b",
            7,
            "Was this within the past 3 months?",
            YES_NO_OPTIONS,
            is_risk_item=True,
            show_if=ShowIf(item="6", equals=1),
        ),
    ),
    total_range=None,  # triage, no summed total; summing yes answers is NOT Columbia scoring (ref §8)
    risk_levels=(  # high [V] Columbia triage page; moderate/low [S] SAFE-T convention (ref §8, §13.4)
        ("none", "No risk identified"),
        ("low", "Low risk"),
        ("moderate", "Moderate risk"),
        ("high", "High risk"),
    ),
    loinc_panel="93373-9",  # screener - recent [S]; full scale 93245-9 [V]
    loinc_risk_level="93374-7",  # "Suicide risk level" [S]
    licence=(
        "Free for health and behavioral health care providers: no cost or licence required to put the "
        "Columbia Protocol tools into an EHR [V] (cssrs.columbia.edu). Research Foundation for Mental Hygiene, Inc."
    ),
    sources=(
        "Columbia Lighthouse Project, triage C-SSRS page (cssrs.columbia.edu)",
        "SAFE-T with C-SSRS (reproduction)",
        "LOINC 93245-9 panel (prompts; answer list LL5384-4)",
    ),
    billable_cpt="",  # no summed score; whether 96127 applies is a billing decision (docs/instruments.md)
)

# --- registry -----------------------------------------------------------------------------------

INSTRUMENTS: dict[str, Instrument] = {i.code: i for i in (PHQ9, PHQ2, GAD7, GAD2, PCL5, AUDITC, EPDS, CSSRS_SCREEN)}


def get_instrument(code: str) -> Instrument:
    """The instrument for ``code``; raises ``KeyError`` naming the code if unknown."""
    try:
        return INSTRUMENTS[code]
    except (KeyError, TypeError):
        raise KeyError(f"Unknown instrument code {code!r}") from None


def instrument_or_none(code: str) -> Instrument | None:
    try:
        return get_instrument(code)
    except KeyError:
        return None


def instrument_choices() -> list[tuple[str, str]]:
    """(code, "CODE — name") pairs for form ``choices``, in library order."""
    return [(i.code, f"{i.code} — {i.name}") for i in INSTRUMENTS.values()]


def visible_items(instrument: Instrument, answers_so_far: dict[str, int | None]) -> tuple[Item, ...]:
    """The items to show given the answers so far (keyed by item key), applying ``show_if``.

    An item whose controlling item is unanswered or answered differently is hidden. Only the C-SSRS
    screener has skip logic; for the others this returns every item.
    """
    return tuple(
        item
        for item in instrument.items
        if item.show_if is None or answers_so_far.get(item.show_if.item) == item.show_if.equals
    )


def _item_json(item: Item) -> dict[str, Any]:
    return {
        "key": item.key,
        "number": item.number,
        "text": item.text,
        "loinc": item.loinc,
        "loinc_aliases": list(item.loinc_aliases),
        "reverse_keyed": item.reverse_keyed,
        "is_risk_item": item.is_risk_item,
        "scored": item.scored,
        "show_if": {"item": item.show_if.item, "equals": item.show_if.equals} if item.show_if else None,
        "options": [{"label": o.label, "value": o.value, "loinc": o.loinc} for o in item.options],
    }


def to_json(instrument: Instrument) -> dict[str, Any]:
    """A plain, JSON-serialisable dict of the instrument (for the API and, later, FHIR)."""
    i = instrument
    return {
        "code": i.code,
        "name": i.name,
        "version": i.version,
        "instructions": i.instructions,
        "recall_period": i.recall_period,
        "items": [_item_json(item) for item in i.items],
        "difficulty_item": _item_json(i.difficulty_item) if i.difficulty_item else None,
        "total_range": list(i.total_range) if i.total_range else None,
        "bands": [{"lower": b.lower, "upper": b.upper, "key": b.key, "label": b.label} for b in i.bands],
        "bands_are_derived": i.bands_are_derived,
        "risk_levels": [{"key": k, "label": label} for k, label in i.risk_levels],
        "positive_at": i.positive_at,
        "positive_at_by_sex": dict(i.positive_at_by_sex),
        "requires_sex": i.requires_sex,
        "subscales": {name: list(numbers) for name, numbers in i.subscales},
        "caseness": i.caseness,
        "remission_below": i.remission_below,
        "reliable_change": i.reliable_change,
        "reliable_change_source": i.reliable_change_source,
        "loinc_panel": i.loinc_panel,
        "loinc_total": i.loinc_total,
        "loinc_risk_level": i.loinc_risk_level,
        "licence": i.licence,
        "licence_note": i.licence_note,
        "sources": list(i.sources),
        "billable_cpt": i.billable_cpt,
    }
