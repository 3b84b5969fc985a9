"""Sweep entries for the portal's appointments routes (see tests/test_portal_sweep.py and tests/sweep_registry.py).

PATIENT_ROUTES: patient-side route name -> make(patient) returning an object of that patient that the
route's last id kwarg names (earlier id kwargs are filled from it, as in the tenant sweep).
STAFF_ROUTES: staff-side route name (under /p/<practice_slug>/) -> model label of its object; the
model's maker is tests/sweep_registry.SWEPT_MODELS.
"""

from collections.abc import Callable


def _future_appointment(patient):
    """A future individual appointment with `patient` as its attendee (a week ahead, outside any
    late-cancel window), telehealth so the join-link branch renders too."""
    from scheduling.tests.factories import appointment_with_patient

    return appointment_with_patient(
        patient.practice, patient=patient, is_telehealth=True, telehealth_url="https://video.example/room/sweep"
    )


PATIENT_ROUTES: dict[str, Callable] = {
    "portal_appointment_detail": _future_appointment,
    "portal_appointment_cancel": _future_appointment,
    "portal_appointment_reschedule": _future_appointment,
}
STAFF_ROUTES: dict[str, str] = {}
