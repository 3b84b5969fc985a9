"""Value-based quality measures, payer-ready, with the patient list behind every number.

In the spirit of (not certified implementations of):
- HEDIS DSF-E  "Depression Screening and Follow-Up for Adolescents and Adults" (NCQA, ECDS);
- HEDIS DMS-E  "Utilization of the PHQ-9 to Monitor Depression Symptoms" (NCQA, ECDS);
- HEDIS DRR-E  "Depression Remission or Response for Adolescents and Adults" (NCQA, ECDS);
- CMS159       "Depression Remission at Twelve Months" (eCQM; its follow-up window is the index
               date + 12 months +/- 60 days, the closest PHQ-9 in that window counts).

Definitions used here (documented on the page too):
- *visit*: a signed (or awaiting co-signature) progress note with a session date in the period, or
  an attendance marked arrived / attended at an appointment starting in the period;
- **depression_screening** (DSF-E): patients aged 12 or over at the period start with a visit in the
  period; numerator: screened with a PHQ-2, PHQ-9 or EPDS in the period;
- **screening_follow_up** (DSF-E): patients with a positive screen in the period; numerator: a
  follow-up within 30 days on or after the positive screen = a signed progress note, or a later
  PHQ-9;
- **phq9_utilization** (DMS-E): patients with an active F32/F33 diagnosis and a visit in the period;
  numerator: at least one PHQ-9 in the period;
- **response_6m / remission_6m / response_12m / remission_12m** (DRR-E, CMS159): index = the first
  PHQ-9 above 9 of a patient with a depression diagnosis (F32/F33), with the index date such that
  index + 6 (or 12) months falls in the period; follow-up = the PHQ-9 closest to index + 6 (12)
  months within +/- 60 days; response = follow-up <= 50 % of the index total; remission =
  follow-up < 5. A patient with no follow-up in the window stays in the denominator (not met).

Payers: billing has not landed, so there is no coverage model yet; every patient is reported under
"All payers" through `payer_for_patient`, the seam billing will fill in.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone

from assessments.summary import current_responses

ALL_PAYERS = "All payers"
DEPRESSION_PREFIXES = ("F32", "F33")
SCREENING_CODES = ("PHQ-2", "PHQ-9", "EPDS")
FOLLOW_UP_DAYS = 30
WINDOW_DAYS = 60  # CMS159: +/- 60 days around the target date
MIN_AGE = 12
MONTHS = {6: 182, 12: 365}


def payer_for_patient(patient_id: int) -> str:
    """The payer a patient's numbers are reported under. Seam for billing's coverage model (issue 6):
    until it lands every patient is under "All payers"."""
    return ALL_PAYERS


@dataclass
class PatientRow:
    patient_id: int
    public_id: object = None
    mrn: str = ""
    name: str = ""
    payer: str = ALL_PAYERS
    met: bool = False
    detail: str = ""


@dataclass
class MeasureResult:
    key: str
    title: str
    standard: str
    description: str
    patients: list[PatientRow] = field(default_factory=list)

    @property
    def denominator(self) -> int:
        return len(self.patients)

    @property
    def numerator(self) -> int:
        return sum(1 for p in self.patients if p.met)

    @property
    def rate(self) -> float | None:
        return None if not self.patients else 100.0 * self.numerator / self.denominator

    def by_payer(self) -> list[tuple[str, int, int, float | None]]:
        groups: dict[str, list[PatientRow]] = defaultdict(list)
        for p in self.patients:
            groups[p.payer].append(p)
        if not groups:
            groups[ALL_PAYERS] = []
        out = []
        for payer, rows in sorted(groups.items()):
            num = sum(1 for r in rows if r.met)
            out.append((payer, num, len(rows), (100.0 * num / len(rows)) if rows else None))
        return out


MEASURES: dict[str, tuple[str, str, str]] = {
    "depression_screening": (
        "Depression screening",
        "HEDIS DSF-E (screening)",
        "Patients aged 12+ with a visit in the period who completed a PHQ-2, PHQ-9 or EPDS in the period.",
    ),
    "screening_follow_up": (
        "Follow-up after a positive screen",
        "HEDIS DSF-E (follow-up)",
        "Patients with a positive PHQ-2 / PHQ-9 / EPDS screen in the period who had a follow-up within 30 days: "
        "a signed progress note or a later PHQ-9.",
    ),
    "phq9_utilization": (
        "PHQ-9 utilization",
        "HEDIS DMS-E",
        "Patients with an active depression diagnosis (F32/F33) and a visit in the period who completed "
        "at least one PHQ-9 in the period.",
    ),
    "response_6m": (
        "Response at 6 months",
        "HEDIS DRR-E",
        "Index PHQ-9 above 9 with a depression diagnosis; the PHQ-9 closest to 6 months later (±60 days) "
        "is at most half the index total.",
    ),
    "remission_6m": (
        "Remission at 6 months",
        "HEDIS DRR-E",
        "Index PHQ-9 above 9 with a depression diagnosis; the PHQ-9 closest to 6 months later (±60 days) is below 5.",
    ),
    "response_12m": (
        "Response at 12 months",
        "HEDIS DRR-E",
        "As response at 6 months, with the follow-up closest to 12 months (±60 days).",
    ),
    "remission_12m": (
        "Remission at 12 months",
        "CMS159 / HEDIS DRR-E",
        "Index PHQ-9 above 9 with a depression diagnosis; the PHQ-9 closest to 12 months later (±60 days, "
        "the CMS159 window) is below 5.",
    ),
}
MEASURE_KEYS = tuple(MEASURES)


@dataclass
class QualityReport:
    start: date
    end: date
    measures: list[MeasureResult]

    def measure(self, key: str) -> MeasureResult:
        return next(m for m in self.measures if m.key == key)


def parse_period(value: str) -> tuple[date, date] | None:
    """'2026' -> the calendar year; '2026-Q3' -> the quarter. Inclusive dates."""
    try:
        if "-Q" in value:
            year_s, q_s = value.split("-Q")
            year, q = int(year_s), int(q_s)
            if not 1 <= q <= 4:
                return None
            start = date(year, 3 * q - 2, 1)
            end = date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1) - timedelta(days=1)
            return start, end
        year = int(value)
        return date(year, 1, 1), date(year, 12, 31)
    except (ValueError, TypeError):
        return None


def period_choices(today: date) -> list[str]:
    out = []
    for year in (today.year, today.year - 1):
        out.append(str(year))
        out += [f"{year}-Q{q}" for q in range(4, 0, -1) if date(year, 3 * q - 2, 1) <= today]
    return out


def _aware(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _day(at: datetime) -> date:
    return timezone.localtime(at).date()


def _result(key: str) -> MeasureResult:
    title, standard, description = MEASURES[key]
    return MeasureResult(key=key, title=title, standard=standard, description=description)


def quality_report(*, start: date, end: date, only: str | None = None) -> QualityReport:
    """All the measures for a period, in a fixed number of queries (seven) whatever the data size."""
    from clinical.models import Diagnosis, Patient, ProgressNote
    from scheduling.models import Attendee

    start_at, end_before = _aware(start), _aware(end + timedelta(days=1))
    note_statuses = (ProgressNote.Status.SIGNED, ProgressNote.Status.AWAITING_COSIGN)
    visited = set(
        ProgressNote.objects.filter(status__in=note_statuses, session_on__gte=start, session_on__lte=end)
        .values_list("patient_id", flat=True)
        .distinct()
    ) | set(
        Attendee.objects.filter(
            status__in=(Attendee.Status.ARRIVED, Attendee.Status.ATTENDED),
            starts_at__gte=start_at,
            starts_at__lt=end_before,
        )
        .values_list("patient_id", flat=True)
        .distinct()
    )
    depression_q = Q()
    for prefix in DEPRESSION_PREFIXES:
        depression_q |= Q(code__code__startswith=prefix)
    # (patient_id, onset, resolved_on) of depression diagnoses
    dep_dx: dict[int, list[tuple[date | None, date | None]]] = defaultdict(list)
    for pid, onset, resolved in Diagnosis.objects.filter(depression_q).values_list(
        "patient_id", "onset_on", "resolved_on"
    ):
        dep_dx[pid].append((onset, resolved))

    # Every current screening response from a year and two months before the period (index dates for
    # 12-month follow-ups) to 60 days after it: one query.
    earliest = start_at - timedelta(days=MONTHS[12] + WINDOW_DAYS + 1)
    latest = end_before + timedelta(days=FOLLOW_UP_DAYS + WINDOW_DAYS)
    responses: dict[int, list[tuple[datetime, str, int, bool | None]]] = defaultdict(list)
    for pid, at, code, total, positive in (
        current_responses(instrument_code__in=SCREENING_CODES, completed_at__gte=earliest, completed_at__lt=latest)
        .order_by("patient_id", "completed_at", "id")
        .values_list("patient_id", "completed_at", "instrument_code", "total", "positive_screen")
    ):
        responses[pid].append((at, code, total, positive))

    def in_period(at: datetime) -> bool:
        return start_at <= at < end_before

    results: dict[str, MeasureResult] = {k: _result(k) for k in MEASURE_KEYS}

    # Depression screening (DSF-E), age >= 12 at the period start.
    ages = dict(Patient.objects.filter(id__in=visited).values_list("id", "date_of_birth"))
    for pid in visited:
        dob = ages.get(pid)
        if dob is None or _age(dob, start) < MIN_AGE:
            continue
        screens = [r for r in responses.get(pid, ()) if in_period(r[0])]
        results["depression_screening"].patients.append(
            PatientRow(
                pid,
                met=bool(screens),
                detail=f"{screens[0][1]} on {_day(screens[0][0]).isoformat()}" if screens else "not screened",
            )
        )

    # Follow-up after a positive screen: signed notes within 30 days (one query for those patients).
    positives = {
        pid: next(r for r in rows if in_period(r[0]) and r[3])
        for pid, rows in responses.items()
        if any(in_period(r[0]) and r[3] for r in rows)
    }
    note_days: dict[int, list[date]] = defaultdict(list)
    if positives:
        for pid, day in ProgressNote.objects.filter(
            patient_id__in=list(positives),
            status=ProgressNote.Status.SIGNED,
            session_on__gte=start,
            session_on__lte=end + timedelta(days=FOLLOW_UP_DAYS),
        ).values_list("patient_id", "session_on"):
            note_days[pid].append(day)
    for pid, (at, code, _total, _pos) in positives.items():
        first_day, limit = _day(at), _day(at) + timedelta(days=FOLLOW_UP_DAYS)
        note = min((d for d in note_days.get(pid, ()) if first_day <= d <= limit), default=None)
        later_phq9 = next(
            (r for r in responses[pid] if r[1] == "PHQ-9" and at < r[0] <= at + timedelta(days=FOLLOW_UP_DAYS)),
            None,
        )
        if note is not None:
            detail = f"positive {code} {first_day.isoformat()}; signed note {note.isoformat()}"
        elif later_phq9 is not None:
            detail = f"positive {code} {first_day.isoformat()}; PHQ-9 {_day(later_phq9[0]).isoformat()}"
        else:
            detail = f"positive {code} {first_day.isoformat()}; no follow-up within {FOLLOW_UP_DAYS} days"
        results["screening_follow_up"].patients.append(
            PatientRow(pid, met=note is not None or later_phq9 is not None, detail=detail)
        )

    # PHQ-9 utilization (DMS-E): active depression diagnosis and a visit in the period.
    for pid in visited:
        if not any(resolved is None or resolved >= start for _onset, resolved in dep_dx.get(pid, ())):
            continue
        phq9 = [r for r in responses.get(pid, ()) if r[1] == "PHQ-9" and in_period(r[0])]
        results["phq9_utilization"].patients.append(
            PatientRow(pid, met=bool(phq9), detail=f"{len(phq9)} PHQ-9 in the period" if phq9 else "no PHQ-9")
        )

    # Response / remission at 6 and 12 months (DRR-E, CMS159).
    for months, days in MONTHS.items():
        index_from, index_to = start_at - timedelta(days=days), end_before - timedelta(days=days)
        for pid, rows in responses.items():
            if pid not in dep_dx:
                continue
            phq9 = [r for r in rows if r[1] == "PHQ-9"]
            index = next((r for r in phq9 if r[2] > 9), None)
            if index is None or not index_from <= index[0] < index_to:
                continue
            target = index[0] + timedelta(days=days)
            window = [r for r in phq9 if abs((r[0] - target).days) <= WINDOW_DAYS and r[0] > index[0]]
            follow = min(window, key=lambda r: abs((r[0] - target).total_seconds()), default=None)
            base = f"index {index[2]} on {_day(index[0]).isoformat()}"
            if follow is None:
                detail = base + f"; no PHQ-9 within ±{WINDOW_DAYS} days of {_day(target).isoformat()}"
            else:
                detail = base + f"; follow-up {follow[2]} on {_day(follow[0]).isoformat()}"
            results[f"response_{months}m"].patients.append(
                PatientRow(pid, met=follow is not None and 2 * follow[2] <= index[2], detail=detail)
            )
            results[f"remission_{months}m"].patients.append(
                PatientRow(pid, met=follow is not None and follow[2] < 5, detail=detail)
            )

    keys = [only] if only else list(MEASURE_KEYS)
    measures = [results[k] for k in keys]
    ids = {p.patient_id for m in measures for p in m.patients}
    if ids:
        people = {
            p.id: p
            for p in Patient.objects.filter(id__in=ids).only(
                "id", "public_id", "mrn", "legal_first_name", "legal_last_name", "preferred_name"
            )
        }
        for m in measures:
            for row in m.patients:
                person = people[row.patient_id]
                row.public_id, row.mrn, row.name = person.public_id, person.mrn, person.display_name
                row.payer = payer_for_patient(row.patient_id)
            m.patients.sort(key=lambda r: (not r.met, r.name.lower(), r.mrn))
    return QualityReport(start=start, end=end, measures=measures)


def _age(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def csv_rows(measure: MeasureResult, period: str) -> list[list[object]]:
    rows: list[list[object]] = [
        ["measure", measure.key, measure.standard, "period", period],
        ["payer", "numerator", "denominator", "rate_pct"],
    ]
    for payer, num, den, rate in measure.by_payer():
        rows.append([payer, num, den, "" if rate is None else f"{rate:.1f}"])
    rows.append(["payer", "mrn", "patient", "met", "detail"])
    for p in measure.patients:
        rows.append([p.payer, p.mrn, p.name, "yes" if p.met else "no", p.detail])
    return rows
