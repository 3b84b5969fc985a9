"""The per patient-measure outcome summary (`MeasureSummary`), rewritten whenever a response of
that measure is recorded or corrected. Baseline = the first complete, uncorrected response; latest =
the newest. Change status comes from `assessments.outcomes.classify_change`."""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.utils import timezone

from assessments.library import instrument_or_none
from assessments.models import MeasureSummary, Response


def current_responses(**filters):
    """Complete responses with a total that no correction has replaced."""
    corrected = Response.objects.filter(corrects=OuterRef("pk"))
    return Response.objects.filter(is_complete=True, total__isnull=False, **filters).exclude(Exists(corrected))


def measure_summary_refresh(*, patient_id: int, instrument_code: str) -> MeasureSummary | None:
    """Recompute one patient's summary row for one measure (three small queries and a write)."""
    from assessments.outcomes import classify_change
    from clinical.models import Diagnosis, Patient
    from scheduling.models import Appointment

    instrument = instrument_or_none(instrument_code)
    if instrument is None or not instrument.has_total:
        return None
    rows = list(
        current_responses(patient_id=patient_id, instrument_code=instrument_code)
        .order_by("completed_at", "id")
        .values_list("total", "completed_at", "severity", "severity_label")
    )
    patient = Patient.objects.only("id", "practice_id", "primary_clinician_id").get(pk=patient_id)
    summary = MeasureSummary.objects.filter(patient_id=patient_id, instrument_code=instrument_code).first()
    if not rows:
        if summary is not None:
            summary.delete()
        return None
    if summary is None:
        summary = MeasureSummary(
            practice_id=patient.practice_id, patient_id=patient_id, instrument_code=instrument_code
        )
    (baseline_total, baseline_at, _, _), (latest_total, latest_at, severity, severity_label) = rows[0], rows[-1]
    summary.clinician_id = patient.primary_clinician_id
    summary.location_id = (
        Appointment.objects.filter(attendees__patient_id=patient_id, starts_at__lte=timezone.now())
        .exclude(location__isnull=True)
        .order_by("-starts_at")
        .values_list("location_id", flat=True)
        .first()
    )
    summary.primary_diagnosis = (
        Diagnosis.objects.filter(patient_id=patient_id, is_primary=True, resolved_on__isnull=True)
        .values_list("code__code", flat=True)
        .first()
        or ""
    )
    summary.response_count = len(rows)
    summary.baseline_total, summary.baseline_at = baseline_total, baseline_at
    summary.latest_total, summary.latest_at = latest_total, latest_at
    summary.latest_severity, summary.latest_severity_label = severity, severity_label
    caseness = instrument.caseness
    summary.at_caseness_at_baseline = None if caseness is None else baseline_total >= caseness
    change = classify_change(instrument_code, baseline_total, latest_total) if len(rows) > 1 else None
    for name in (
        "reliable_improvement",
        "reliable_deterioration",
        "response",
        "remission",
        "recovery",
        "reliable_recovery",
    ):
        setattr(summary, name, getattr(change, name) if change is not None else None)
    summary.save()
    return summary
