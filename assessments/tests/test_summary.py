"""measure_summary_refresh: the per patient-measure row the outcome dashboard aggregates."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_scopes import scopes_disabled

from assessments.models import MeasureSummary
from assessments.summary import measure_summary_refresh
from assessments.tests import factories as af
from clinical.tests import factories as cf


def _response(practice, patient, total, days_ago, **kw):
    return af.ResponseFactory(
        practice=practice, patient=patient, total=total, completed_at=timezone.now() - timedelta(days=days_ago), **kw
    )


def test_baseline_latest_and_change_flags(practice_a):
    with scopes_disabled():
        patient = cf.PatientFactory(practice=practice_a)
        _response(practice_a, patient, 18, 90)
        _response(practice_a, patient, 12, 45)
        _response(practice_a, patient, 7, 1, severity="mild", severity_label="Mild")
        s = measure_summary_refresh(patient_id=patient.id, instrument_code="PHQ-9")
    assert (s.baseline_total, s.latest_total, s.response_count) == (18, 7, 3)
    assert s.at_caseness_at_baseline and s.reliable_improvement and s.recovery and s.reliable_recovery
    assert s.response and not s.remission and not s.reliable_deterioration
    assert s.latest_severity == "mild"


def test_a_single_response_has_no_change_status(practice_a):
    with scopes_disabled():
        patient = cf.PatientFactory(practice=practice_a)
        _response(practice_a, patient, 9, 3)
        s = measure_summary_refresh(patient_id=patient.id, instrument_code="PHQ-9")
    assert s.baseline_at == s.latest_at and s.reliable_improvement is None and s.recovery is None
    assert s.at_caseness_at_baseline is False


def test_a_corrected_response_no_longer_counts(practice_a):
    with scopes_disabled():
        patient = cf.PatientFactory(practice=practice_a)
        first = _response(practice_a, patient, 20, 60)
        _response(practice_a, patient, 10, 1)
        _response(practice_a, patient, 14, 59, corrects=first)
        s = measure_summary_refresh(patient_id=patient.id, instrument_code="PHQ-9")
    assert (s.baseline_total, s.latest_total, s.response_count) == (14, 10, 2)
    assert not s.reliable_improvement  # 14 -> 10 is 4 points, under the 6-point threshold


def test_no_summary_for_instruments_without_totals_and_none_left_when_responses_go(practice_a):
    with scopes_disabled():
        patient = cf.PatientFactory(practice=practice_a)
        assert measure_summary_refresh(patient_id=patient.id, instrument_code="C-SSRS-SCREEN") is None
        af.MeasureSummaryFactory(practice=practice_a, patient=patient)
        assert measure_summary_refresh(patient_id=patient.id, instrument_code="PHQ-9") is None
        assert not MeasureSummary.objects.filter(patient=patient).exists()
