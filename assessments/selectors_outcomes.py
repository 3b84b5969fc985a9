"""Reads for the outcome dashboard, its CSV export and the practice home's Outcomes card.

Everything aggregates `MeasureSummary` (one row per patient-measure) and `Administration` in SQL:
COUNT / AVG with a filter (FILTER on PostgreSQL, CASE WHEN on SQLite) and GROUP BY. No per-row
Python over responses, so the number of queries and the Python work do not grow with the number of
responses. The one exception is the NHS Talking Therapies paired (PHQ-9 + GAD-7) rate: that runs
`classify_paired` in one pass over the filtered summary rows fetched with `values_list` (two rows per
patient, so at most a few tens of thousands of tuples), because the paired rule combines two rows.

Cohort rules:
- a summary counts as *measured* when its latest response falls in the date range;
- it has an *outcome* (is "paired") when its baseline precedes that latest response (two or more
  responses); the means and the improvement / deterioration rates use these;
- recovery and reliable recovery use, as NHS Talking Therapies does, only the paired summaries that
  were at caseness at baseline as the denominator.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Avg, Case, CharField, Count, F, Q, QuerySet, Value, When
from django.db.models.functions import Substr
from django.utils import timezone

from assessments.library import get_instrument
from assessments.models import Administration, MeasureSummary
from assessments.outcomes import NHS_TT_REFERENCE, classify_paired

DASHBOARD_INSTRUMENTS = ("PHQ-9", "GAD-7")
SMALL_N = 10  # below this many patients a clinician's comparison is flagged as unreliable
CARD_DAYS = 90

PAIRED = Q(baseline_at__lt=F("latest_at"))


@dataclass(frozen=True)
class OutcomeFilters:
    start: date
    end: date
    instrument: str = "PHQ-9"
    location_id: int | None = None
    clinician_id: int | None = None
    diagnosis_prefix: str = ""

    @property
    def start_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def end_before(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    def as_query(self) -> dict[str, str]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "instrument": self.instrument,
            "location": str(self.location_id or ""),
            "clinician": str(self.clinician_id or ""),
            "diagnosis": self.diagnosis_prefix,
        }


def default_filters(**overrides) -> OutcomeFilters:
    today = timezone.localdate()
    values = {"start": today - timedelta(days=364), "end": today}
    values.update(overrides)
    return OutcomeFilters(**values)


@dataclass
class Rates:
    """One row of figures (the practice, or one clinician / location / diagnosis)."""

    key: object = None
    label: str = ""
    measured: int = 0
    paired: int = 0
    mean_baseline: float | None = None
    mean_latest: float | None = None
    improved: int = 0
    deteriorated: int = 0
    at_caseness: int = 0
    recovered: int = 0
    reliably_recovered: int = 0

    @staticmethod
    def _pct(n: int, d: int) -> float | None:
        return None if not d else 100.0 * n / d

    @property
    def improvement_pct(self) -> float | None:
        return self._pct(self.improved, self.paired)

    @property
    def deterioration_pct(self) -> float | None:
        return self._pct(self.deteriorated, self.paired)

    @property
    def recovery_pct(self) -> float | None:
        return self._pct(self.recovered, self.at_caseness)

    @property
    def reliable_recovery_pct(self) -> float | None:
        return self._pct(self.reliably_recovered, self.at_caseness)

    @property
    def mean_change(self) -> float | None:
        if self.mean_baseline is None or self.mean_latest is None:
            return None
        return self.mean_latest - self.mean_baseline


@dataclass
class Adjusted:
    """A clinician's reliable-improvement rate against the rate expected from their case mix."""

    clinician_id: int | None
    label: str
    patients: int
    observed: int
    expected: float

    @property
    def observed_pct(self) -> float | None:
        return None if not self.patients else 100.0 * self.observed / self.patients

    @property
    def expected_pct(self) -> float | None:
        return None if not self.patients else 100.0 * self.expected / self.patients

    @property
    def difference_pct(self) -> float | None:
        if self.observed_pct is None or self.expected_pct is None:
            return None
        return self.observed_pct - self.expected_pct

    @property
    def is_small(self) -> bool:
        return self.patients < SMALL_N


@dataclass
class Completion:
    due: int = 0
    completed: int = 0

    @property
    def pct(self) -> float | None:
        return None if not self.due else 100.0 * self.completed / self.due


@dataclass
class Paired:
    """NHS Talking Therapies paired depression (PHQ-9) + anxiety (GAD-7) outcome."""

    patients: int = 0
    at_caseness: int = 0
    recovered: int = 0
    improved: int = 0
    deteriorated: int = 0
    reliably_recovered: int = 0

    @property
    def recovery_pct(self) -> float | None:
        return None if not self.at_caseness else 100.0 * self.recovered / self.at_caseness

    @property
    def reliable_recovery_pct(self) -> float | None:
        return None if not self.at_caseness else 100.0 * self.reliably_recovered / self.at_caseness

    @property
    def improvement_pct(self) -> float | None:
        return None if not self.patients else 100.0 * self.improved / self.patients

    @property
    def deterioration_pct(self) -> float | None:
        return None if not self.patients else 100.0 * self.deteriorated / self.patients


@dataclass
class Dashboard:
    filters: OutcomeFilters
    overall: Rates
    completion: Completion
    paired: Paired
    by_clinician: list[Rates] = field(default_factory=list)
    by_location: list[Rates] = field(default_factory=list)
    by_diagnosis: list[Rates] = field(default_factory=list)
    adjusted: list[Adjusted] = field(default_factory=list)
    band_rates: list[tuple[str, int, float | None]] = field(default_factory=list)
    benchmark: object = NHS_TT_REFERENCE


def _aggregates() -> dict:
    return {
        "measured": Count("id"),
        "paired": Count("id", filter=PAIRED),
        "mean_baseline": Avg("baseline_total", filter=PAIRED),
        "mean_latest": Avg("latest_total", filter=PAIRED),
        "improved": Count("id", filter=PAIRED & Q(reliable_improvement=True)),
        "deteriorated": Count("id", filter=PAIRED & Q(reliable_deterioration=True)),
        "at_caseness": Count("id", filter=PAIRED & Q(at_caseness_at_baseline=True)),
        "recovered": Count("id", filter=PAIRED & Q(at_caseness_at_baseline=True, recovery=True)),
        "reliably_recovered": Count("id", filter=PAIRED & Q(at_caseness_at_baseline=True, reliable_recovery=True)),
    }


def summaries_in_range(filters: OutcomeFilters, *, instrument: str | None = None) -> QuerySet[MeasureSummary]:
    """The filtered summary rows: latest response in the range, of the chosen measure."""
    qs = MeasureSummary.objects.filter(
        instrument_code=instrument or filters.instrument,
        latest_at__gte=filters.start_at,
        latest_at__lt=filters.end_before,
        latest_total__isnull=False,
    )
    return _apply_filters(qs, filters)


def _apply_filters(qs: QuerySet[MeasureSummary], filters: OutcomeFilters) -> QuerySet[MeasureSummary]:
    if filters.location_id:
        qs = qs.filter(location_id=filters.location_id)
    if filters.clinician_id:
        qs = qs.filter(clinician_id=filters.clinician_id)
    if filters.diagnosis_prefix:
        qs = qs.filter(primary_diagnosis__istartswith=filters.diagnosis_prefix)
    return qs


def _rates(row: dict, key=None, label: str = "") -> Rates:
    return Rates(
        key=key,
        label=label,
        **{k: row.get(k) or (None if k.startswith("mean") else 0) for k in _aggregates()},
    )


def completion_rate(filters: OutcomeFilters) -> Completion:
    """Administrations of the measure due in the range (cancelled ones excluded) and how many were
    completed. The clinician filter applies to the patient's primary clinician, the location filter
    to the appointment's location; the diagnosis filter does not apply (administrations carry none)."""
    qs = Administration.objects.filter(
        instrument_code=filters.instrument, due_at__gte=filters.start_at, due_at__lt=filters.end_before
    ).exclude(status=Administration.Status.CANCELLED)
    if filters.clinician_id:
        qs = qs.filter(patient__primary_clinician_id=filters.clinician_id)
    if filters.location_id:
        qs = qs.filter(appointment__location_id=filters.location_id)
    row = qs.aggregate(due=Count("id"), completed=Count("id", filter=Q(status=Administration.Status.COMPLETED)))
    return Completion(due=row["due"] or 0, completed=row["completed"] or 0)


def paired_recovery(filters: OutcomeFilters) -> Paired:
    """NHS TT paired rule over patients with both a PHQ-9 and a GAD-7 outcome in the range: one
    query (`values_list`, two short rows per patient) and one pass through `classify_paired`."""
    qs = _apply_filters(
        MeasureSummary.objects.filter(
            PAIRED,
            instrument_code__in=DASHBOARD_INSTRUMENTS,
            latest_at__gte=filters.start_at,
            latest_at__lt=filters.end_before,
            latest_total__isnull=False,
        ).order_by(),
        filters,
    )
    by_patient: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for patient_id, code, baseline, latest in qs.values_list(
        "patient_id", "instrument_code", "baseline_total", "latest_total"
    ).iterator(chunk_size=5000):
        by_patient[patient_id][code] = (baseline, latest)
    result = Paired()
    for measures in by_patient.values():
        if len(measures) < 2:
            continue
        (dep_b, dep_l), (anx_b, anx_l) = measures["PHQ-9"], measures["GAD-7"]
        outcome = classify_paired(dep_b, dep_l, "GAD-7", anx_b, anx_l)
        result.patients += 1
        result.improved += outcome.reliable_improvement
        result.deteriorated += outcome.reliable_deterioration
        if outcome.caseness_at_start:
            result.at_caseness += 1
            result.recovered += outcome.recovery
            result.reliably_recovered += outcome.reliable_recovery
    return result


def _band_case(instrument_code: str) -> Case:
    instrument = get_instrument(instrument_code)
    return Case(
        *[When(baseline_total__gte=b.lower, baseline_total__lte=b.upper, then=Value(b.key)) for b in instrument.bands],
        default=Value(""),
        output_field=CharField(),
    )


def adjusted_comparison(
    filters: OutcomeFilters, labels: dict[int | None, str]
) -> tuple[list[Adjusted], list[tuple[str, int, float | None]]]:
    """Indirect standardisation of the reliable-improvement rate for baseline severity.

    One GROUP BY (clinician, baseline band) query. The practice-wide rate of each baseline band is
    the sum over clinicians; a clinician's expected count is the sum, over their patients, of the
    practice-wide rate of the patient's baseline band.
    """
    rows = list(
        summaries_in_range(filters)
        .filter(PAIRED)
        .annotate(band=_band_case(filters.instrument))
        .values("clinician_id", "band")
        .annotate(n=Count("id"), improved=Count("id", filter=Q(reliable_improvement=True)))
        .order_by()
    )
    band_n: dict[str, int] = defaultdict(int)
    band_improved: dict[str, int] = defaultdict(int)
    for r in rows:
        band_n[r["band"]] += r["n"]
        band_improved[r["band"]] += r["improved"]
    band_rate = {b: band_improved[b] / band_n[b] for b in band_n if band_n[b]}
    per: dict[int | None, Adjusted] = {}
    for r in rows:
        a = per.setdefault(
            r["clinician_id"],
            Adjusted(r["clinician_id"], labels.get(r["clinician_id"], "No clinician"), 0, 0, 0.0),
        )
        a.patients += r["n"]
        a.observed += r["improved"]
        a.expected += r["n"] * band_rate.get(r["band"], 0.0)
    bands = [
        (b.label, band_n.get(b.key, 0), (100.0 * band_rate[b.key]) if b.key in band_rate else None)
        for b in get_instrument(filters.instrument).bands
    ]
    return sorted(per.values(), key=lambda a: (a.label.lower(), a.clinician_id or 0)), bands


def _grouped(filters: OutcomeFilters, key_expr, labels: dict) -> list[Rates]:
    rows = summaries_in_range(filters).annotate(group_key=key_expr).values("group_key").annotate(**_aggregates())
    out = [_rates(r, key=r["group_key"], label=labels.get(r["group_key"]) or "") for r in rows.order_by()]
    return sorted(out, key=lambda r: (-r.measured, r.label.lower()))


def outcome_dashboard(filters: OutcomeFilters) -> Dashboard:
    """Everything the dashboard shows, in a fixed number of queries (nine) whatever the data size."""
    from practice.models import Location, Membership

    clinician_labels: dict[int | None, str] = {
        m.id: m.user.display_name for m in Membership.objects.select_related("user").order_by()
    }
    clinician_labels[None] = "No clinician"
    location_labels: dict[int | None, str] = dict(Location.objects.values_list("id", "name").order_by())
    location_labels[None] = "No location"
    overall = _rates(summaries_in_range(filters).aggregate(**_aggregates()), label="Practice")
    by_clinician = _grouped(filters, F("clinician_id"), clinician_labels)
    by_location = _grouped(filters, F("location_id"), location_labels)
    by_diagnosis = _grouped(filters, Substr("primary_diagnosis", 1, 3), {})
    for r in by_diagnosis:
        r.label = r.key or "No diagnosis"
    adjusted, band_rates = adjusted_comparison(filters, clinician_labels)
    return Dashboard(
        filters=filters,
        overall=overall,
        completion=completion_rate(filters),
        paired=paired_recovery(filters),
        by_clinician=by_clinician,
        by_location=by_location,
        by_diagnosis=by_diagnosis,
        adjusted=adjusted,
        band_rates=band_rates,
    )


@dataclass
class OutcomeCard:
    overall: Rates
    completion: Completion
    days: int = CARD_DAYS


def outcome_card() -> OutcomeCard:
    """The practice home's Outcomes card: PHQ-9, last 90 days (two queries)."""
    filters = default_filters(start=timezone.localdate() - timedelta(days=CARD_DAYS - 1))
    return OutcomeCard(
        overall=_rates(summaries_in_range(filters).aggregate(**_aggregates())),
        completion=completion_rate(filters),
    )
