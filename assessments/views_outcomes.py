"""Outcome pages: a patient's longitudinal view, the practice outcome dashboard (+ CSV), and the
value-based quality reports (+ CSV). Thin views: parse the filters, call one selector, render."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, timedelta

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from assessments import quality
from assessments.charts import hbar_chart
from assessments.selectors_outcomes import DASHBOARD_INSTRUMENTS, OutcomeFilters, default_filters, outcome_dashboard
from assessments.selectors_patient import patient_assessments
from clinical.models import Patient
from clinical.views.base import patient_view
from practice.audit import access_record
from practice.permissions import Perm
from practice.views.base import practice_view

DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cache-Control": "private, no-store",
}
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A CSV cell that spreadsheet software will not run as a formula (as the audit-log export)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def csv_response(rows: Iterable[Iterable[object]], filename: str) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    for key, value in DOWNLOAD_HEADERS.items():
        response[key] = value
    return response


# --- Patient longitudinal view ---------------------------------------------------------------------


@patient_view(Perm.ASSESSMENT_VIEW_RESULTS, clinical=True)
def patient_assessments_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    data = patient_assessments(patient=patient)
    access_record(request=request, action="view", target=patient, reason="Assessment results")
    return render(request, "assessments/patient/assessments.html", {"patient": patient, "data": data})


# --- Outcome dashboard -----------------------------------------------------------------------------


class OutcomeFilterForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    instrument = forms.ChoiceField(label="Measure", choices=[(c, c) for c in DASHBOARD_INSTRUMENTS])
    location = forms.ModelChoiceField(label="Location", queryset=None, required=False, to_field_name="public_id")
    clinician = forms.ModelChoiceField(label="Clinician", queryset=None, required=False, to_field_name="public_id")
    diagnosis = forms.CharField(
        label="Primary diagnosis starts with", required=False, max_length=8, help_text="ICD-10-CM, e.g. F32"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from practice.models import Location, Membership

        self.fields["location"].queryset = Location.objects.order_by("name")
        self.fields["clinician"].queryset = (
            Membership.objects.filter(is_active=True).select_related("user").order_by("user__full_name", "id")
        )
        self.fields["clinician"].label_from_instance = lambda m: m.user.display_name

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("The start date must be on or before the end date.")
        if data.get("start") and data.get("end") and (data["end"] - data["start"]).days > 366 * 5:
            raise forms.ValidationError("Choose a range of five years or less.")
        return data

    def filters(self) -> OutcomeFilters:
        d = self.cleaned_data
        return OutcomeFilters(
            start=d["start"],
            end=d["end"],
            instrument=d["instrument"],
            location_id=d["location"].id if d.get("location") else None,
            clinician_id=d["clinician"].id if d.get("clinician") else None,
            diagnosis_prefix=(d.get("diagnosis") or "").strip().upper(),
        )


def _outcome_form(request: HttpRequest) -> tuple[OutcomeFilterForm, OutcomeFilters]:
    defaults = default_filters()
    data = {"start": defaults.start.isoformat(), "end": defaults.end.isoformat(), "instrument": defaults.instrument}
    data.update({k: v for k, v in request.GET.items() if v != ""})
    form = OutcomeFilterForm(data)
    return form, (form.filters() if form.is_valid() else defaults)


def _pct_bars(rows, attr: str, reference: float | None = None, label: str = ""):
    return hbar_chart(
        [(r.label, getattr(r, attr), r.paired < 10) for r in rows][:15],
        reference=reference,
        reference_label=label,
    )


@practice_view(Perm.OUTCOMES_VIEW_DASHBOARD)
def outcome_dashboard_view(request: HttpRequest) -> HttpResponse:
    form, filters = _outcome_form(request)
    dashboard = outcome_dashboard(filters)
    bench = dashboard.benchmark
    context = {
        "form": form,
        "d": dashboard,
        "query": request.GET.urlencode(),
        "bench_improvement": bench.reliable_improvement_rate * 100,
        "bench_recovery": bench.recovery_rate * 100,
        "bench_reliable_recovery": bench.reliable_recovery_rate * 100,
        "clinician_chart": _pct_bars(dashboard.by_clinician, "improvement_pct", bench.reliable_improvement_rate * 100),
        "location_chart": _pct_bars(dashboard.by_location, "improvement_pct", bench.reliable_improvement_rate * 100),
        "diagnosis_chart": _pct_bars(dashboard.by_diagnosis, "improvement_pct", bench.reliable_improvement_rate * 100),
        "small_n": 10,
    }
    return render(request, "assessments/outcomes/dashboard.html", context)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def dashboard_csv_rows(dashboard) -> list[list[object]]:
    f = dashboard.filters
    rows: list[list[object]] = [
        ["measure", f.instrument, "from", f.start.isoformat(), "to", f.end.isoformat()],
        [
            "completion",
            "administrations due",
            dashboard.completion.due,
            "completed",
            dashboard.completion.completed,
            "rate %",
            _fmt(dashboard.completion.pct),
        ],
        [
            "group_type",
            "group",
            "patients_measured",
            "patients_with_outcome",
            "mean_baseline",
            "mean_latest",
            "reliable_improvement_pct",
            "reliable_deterioration_pct",
            "at_caseness_at_baseline",
            "recovery_pct",
            "reliable_recovery_pct",
        ],
    ]
    groups = [("practice", [dashboard.overall])]
    groups += [("clinician", dashboard.by_clinician), ("location", dashboard.by_location)]
    groups += [("primary_diagnosis", dashboard.by_diagnosis)]
    for group_type, items in groups:
        for r in items:
            rows.append(
                [
                    group_type,
                    r.label,
                    r.measured,
                    r.paired,
                    _fmt(r.mean_baseline),
                    _fmt(r.mean_latest),
                    _fmt(r.improvement_pct),
                    _fmt(r.deterioration_pct),
                    r.at_caseness,
                    _fmt(r.recovery_pct),
                    _fmt(r.reliable_recovery_pct),
                ]
            )
    p = dashboard.paired
    rows.append(
        [
            "nhs_tt_paired_phq9_gad7",
            "practice",
            p.patients,
            p.patients,
            "",
            "",
            _fmt(p.improvement_pct),
            _fmt(p.deterioration_pct),
            p.at_caseness,
            _fmt(p.recovery_pct),
            _fmt(p.reliable_recovery_pct),
        ]
    )
    rows.append(["clinician_adjusted", "clinician", "patients", "observed_pct", "expected_pct", "difference_pct"])
    for a in dashboard.adjusted:
        rows.append(
            [
                "clinician_adjusted",
                a.label,
                a.patients,
                _fmt(a.observed_pct),
                _fmt(a.expected_pct),
                _fmt(a.difference_pct),
            ]
        )
    return rows


@practice_view(Perm.OUTCOMES_VIEW_DASHBOARD)
def outcome_dashboard_csv_view(request: HttpRequest) -> HttpResponse:
    _form, filters = _outcome_form(request)
    dashboard = outcome_dashboard(filters)
    stamp = timezone.localdate().isoformat()
    return csv_response(dashboard_csv_rows(dashboard), f"outcomes-{filters.instrument}-{stamp}.csv")


# --- Quality reports -------------------------------------------------------------------------------


def _period(request: HttpRequest) -> tuple[str, date, date]:
    today = timezone.localdate()
    default = f"{today.year}"
    choice = request.GET.get("period", default)
    parsed = quality.parse_period(choice)
    if parsed is None:
        choice, parsed = default, quality.parse_period(default)
    return choice, *parsed  # type: ignore[misc]


@practice_view(Perm.OUTCOMES_VIEW_DASHBOARD)
def quality_reports_view(request: HttpRequest) -> HttpResponse:
    period, start, end = _period(request)
    report = quality.quality_report(start=start, end=end)
    if any(m.patients for m in report.measures):
        access_record(
            request=request, action="view", object_type="assessments.qualityreport", reason=f"Quality report {period}"
        )
    return render(
        request,
        "assessments/outcomes/quality.html",
        {
            "report": report,
            "period": period,
            "periods": quality.period_choices(timezone.localdate()),
            "start": start,
            "end": end - timedelta(days=0),
        },
    )


@practice_view(Perm.OUTCOMES_VIEW_DASHBOARD)
def quality_report_csv_view(request: HttpRequest) -> HttpResponse:
    measure_key = request.GET.get("measure", "depression_screening")
    if measure_key not in quality.MEASURE_KEYS:
        raise Http404("No such measure.")
    period, start, end = _period(request)
    report = quality.quality_report(start=start, end=end, only=measure_key)
    measure = report.measure(measure_key)
    access_record(
        request=request,
        action="export",
        object_type="assessments.qualityreport",
        reason=f"Quality report {measure_key} {period}",
    )
    return csv_response(quality.csv_rows(measure, period), f"quality-{measure_key}-{period}.csv")
