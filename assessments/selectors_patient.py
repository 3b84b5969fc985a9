"""Reads of one patient's assessment results: the longitudinal page, the chart section and the
calendar's severity labels. Each runs a fixed number of queries whatever the history's length."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Exists, OuterRef

from assessments.charts import LineChart, Sparkline, band_level, line_chart, sparkline
from assessments.library import INSTRUMENTS, Instrument, instrument_or_none
from assessments.models import Response
from assessments.outcomes import Change, classify_change

HEADLINE = ("PHQ-9", "GAD-7")
CHANGE_WORDS = (
    ("reliable_recovery", "reliable recovery"),
    ("reliable_improvement", "reliable improvement"),
    ("reliable_deterioration", "reliable deterioration"),
    ("recovery", "recovery"),
    ("response", "response"),
    ("remission", "remission"),
)


def change_words(change: Change | None) -> list[str]:
    """The change statuses that hold, in words ("reliable improvement", "remission" …)."""
    if change is None:
        return []
    words = [label for name, label in CHANGE_WORDS if getattr(change, name)]
    if "reliable recovery" in words:  # implies both; say it once
        words = [w for w in words if w not in ("recovery", "reliable improvement")]
    return words


def change_phrase(change: Change | None) -> str:
    """e.g. "-7 (minus sign) since baseline (reliable improvement, response)"."""
    if change is None:
        return ""
    sign = "−" if change.change < 0 else "+" if change.change > 0 else "±"
    words = change_words(change)
    status = ", ".join(words) if words else "no reliable change" if change.threshold else ""
    return f"{sign}{abs(change.change)} since baseline" + (f" ({status})" if status else "")


@dataclass
class ItemAnswer:
    key: str
    text: str
    value: int | None
    label: str


@dataclass
class Measure:
    instrument: Instrument
    responses: list[Response]  # every response of the measure, newest first (corrected ones too)
    series: list[Response] = field(default_factory=list)  # current ones with a total, oldest first
    chart: LineChart | None = None
    change: Change | None = None
    latest: Response | None = None
    latest_items: list[ItemAnswer] = field(default_factory=list)

    @property
    def baseline(self) -> Response | None:
        return self.series[0] if self.series else None

    @property
    def change_words(self) -> list[str]:
        return change_words(self.change)

    @property
    def change_phrase(self) -> str:
        return change_phrase(self.change)

    @property
    def latest_level(self) -> int | None:
        return severity_level(self.instrument, self.latest.severity if self.latest else "")


def severity_level(instrument: Instrument | None, severity: str) -> int | None:
    """Colour level 0..4 of a severity key (bands, or C-SSRS risk levels)."""
    if instrument is None or not severity:
        return None
    keys = [b.key for b in instrument.bands] or [k for k, _ in instrument.risk_levels]
    if severity not in keys:
        return None
    return band_level(keys.index(severity), len(keys))


def _items(instrument: Instrument, response: Response) -> list[ItemAnswer]:
    answers = response.answers or []
    out = []
    for item in instrument.items:
        value = answers[item.number - 1] if item.number - 1 < len(answers) else None
        label = next((o.label for o in item.options if o.value == value), "Not answered" if value is None else "")
        out.append(ItemAnswer(item.key, item.text, value, label))
    if instrument.difficulty_item is not None and response.difficulty is not None:
        d = instrument.difficulty_item
        label = next((o.label for o in d.options if o.value == response.difficulty), "")
        out.append(ItemAnswer(d.key, d.text, response.difficulty, label))
    return out


def _with_corrected(qs):
    return qs.annotate(is_corrected=Exists(Response.objects.filter(corrects=OuterRef("pk"))))


@dataclass
class PatientAssessments:
    measures: list[Measure]  # instruments with totals (PHQ-9, GAD-7 first)
    screens: list[Measure]  # instruments without totals (C-SSRS screener): triage levels
    upcoming: list = field(default_factory=list)
    response_count: int = 0


def _upcoming(patient) -> list:
    try:
        from assessments.selectors_delivery import administrations_for_patient
    except ImportError:
        from assessments.models import Administration

        return list(
            Administration.objects.filter(
                patient=patient, status__in=(Administration.Status.SCHEDULED, Administration.Status.SENT)
            ).order_by("due_at", "id")[:10]
        )
    return administrations_for_patient(patient, limit=10, include_closed=False)


def patient_assessments(*, patient) -> PatientAssessments:
    """The longitudinal page: one query for every response, one for upcoming questionnaires."""
    responses = list(
        _with_corrected(Response.objects.filter(patient=patient))
        .select_related("administered_by__user")
        .order_by("-completed_at", "-id")
    )
    grouped: dict[str, list[Response]] = defaultdict(list)
    for r in responses:
        grouped[r.instrument_code].append(r)
    order = {code: i for i, code in enumerate((*HEADLINE, *INSTRUMENTS))}
    measures, screens = [], []
    for code in sorted(grouped, key=lambda c: (order.get(c, 99), c)):
        instrument = instrument_or_none(code)
        if instrument is None:
            continue
        rows = grouped[code]
        measure = Measure(instrument=instrument, responses=rows)
        current = [r for r in rows if r.is_complete and not r.is_corrected]
        measure.latest = current[0] if current else rows[0]
        measure.latest_items = _items(instrument, measure.latest)
        if instrument.has_total:
            measure.series = [r for r in reversed(current) if r.total is not None]
            measure.chart = line_chart(
                instrument, [(r.completed_at, r.total, r.severity_label, r.public_id) for r in measure.series]
            )
            if len(measure.series) > 1:
                measure.change = classify_change(code, measure.series[0].total, measure.series[-1].total)
            measures.append(measure)
        else:
            screens.append(measure)
    return PatientAssessments(
        measures=measures, screens=screens, upcoming=_upcoming(patient), response_count=len(responses)
    )


@dataclass
class Headline:
    """Latest PHQ-9 / GAD-7 for the chart section and header chip."""

    instrument: Instrument
    latest_total: int
    latest_at: datetime
    severity: str
    severity_label: str
    change: Change | None
    spark: Sparkline | None

    @property
    def level(self) -> int | None:
        return severity_level(self.instrument, self.severity)

    @property
    def change_phrase(self) -> str:
        return change_phrase(self.change)


def chart_headlines(*, patient) -> list[Headline]:
    """Latest PHQ-9 and GAD-7 with change since baseline and a sparkline (one query)."""
    from assessments.summary import current_responses

    rows = (
        current_responses(patient=patient, instrument_code__in=HEADLINE)
        .order_by("completed_at", "id")
        .values_list("instrument_code", "total", "completed_at", "severity", "severity_label")
    )
    grouped: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        grouped[row[0]].append(row)
    out = []
    for code in HEADLINE:
        series = grouped.get(code)
        if not series:
            continue
        instrument = INSTRUMENTS[code]
        first, last = series[0], series[-1]
        change = classify_change(code, first[1], last[1]) if len(series) > 1 else None
        high = instrument.total_range[1] if instrument.total_range else 1
        out.append(
            Headline(
                instrument=instrument,
                latest_total=last[1],
                latest_at=last[2],
                severity=last[3],
                severity_label=last[4],
                change=change,
                spark=sparkline([r[1] for r in series[-12:]], maximum=high),
            )
        )
    return out


@dataclass(frozen=True)
class SeverityTag:
    code: str
    total: int
    severity_label: str
    level: int | None


def latest_severity_by_patient(patient_ids: Iterable[int]) -> dict[int, list[SeverityTag]]:
    """For the calendar: each patient's latest PHQ-9 and GAD-7 severity (one query, from the
    MeasureSummary rows, one per patient-measure)."""
    from assessments.models import MeasureSummary

    ids = list(set(patient_ids))
    out: dict[int, list[SeverityTag]] = defaultdict(list)
    if not ids:
        return out
    rows = (
        MeasureSummary.objects.filter(patient_id__in=ids, instrument_code__in=HEADLINE, latest_total__isnull=False)
        .order_by("patient_id", "instrument_code")
        .values_list("patient_id", "instrument_code", "latest_total", "latest_severity", "latest_severity_label")
    )
    for pid, code, total, severity, label in rows:
        out[pid].append(SeverityTag(code, total, label, severity_level(INSTRUMENTS.get(code), severity)))
    return out
