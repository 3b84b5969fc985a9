"""Risk alerts: opened from a flagged response, acknowledged with a chosen action, escalated
when they wait too long."""

from __future__ import annotations

from assessments.library import get_instrument
from assessments.models import Response, RiskAlert

# Flags that open a risk alert (scoring.py defines them from the published sources).
ALERT_FLAGS = frozenset({"suicide_risk", "self_harm_risk"})


def _summary(response: Response, flags: list[str]) -> str:
    instrument = get_instrument(response.instrument_code)
    return f"{instrument.code}: {', '.join(f.replace('_', ' ') for f in flags)}"[:200]


def risk_alert_open_for_response(*, response: Response) -> RiskAlert | None:
    """Open one alert for a response carrying a risk flag (at most one per response)."""
    flags = sorted(set(response.flags or []) & ALERT_FLAGS)
    if not flags:
        return None
    patient = response.patient
    clinician_id = patient.primary_clinician_id or response.administered_by_id
    alert, _ = RiskAlert.objects.get_or_create(
        response=response,
        defaults={
            "practice_id": response.practice_id,
            "patient_id": response.patient_id,
            "clinician_id": clinician_id,
            "flags": flags,
            "summary": _summary(response, flags),
            # nobody's patient: straight to the practice's admins, never dropped
            "escalation_level": 0 if clinician_id else 2,
        },
    )
    return alert
