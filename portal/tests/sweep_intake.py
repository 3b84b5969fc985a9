"""Sweep entries for the portal's intake routes (see tests/test_portal_sweep.py and tests/sweep_registry.py).

PATIENT_ROUTES: patient-side route name -> make(patient) returning an object of that patient that the
route's last id kwarg names (earlier id kwargs are filled from it, as in the tenant sweep).
STAFF_ROUTES: staff-side route name (under /p/<practice_slug>/) -> model label of its object; the
model's maker is tests/sweep_registry.SWEPT_MODELS.
"""

from collections.abc import Callable

from portal.models import IntakeSubmission


def _submission(patient) -> IntakeSubmission:
    from portal.models import IntakePacket
    from portal.tests.factories import IntakeSubmissionFactory, intake_packet_with_steps
    from practice.tests.factories import UserFactory

    # One packet per practice (its consent key is unique in the practice).
    packet = IntakePacket.all_objects.filter(practice=patient.practice).first() or intake_packet_with_steps(
        patient.practice
    )
    return IntakeSubmissionFactory(practice=patient.practice, patient=patient, packet=packet, started_by=UserFactory())


PATIENT_ROUTES: dict[str, Callable] = {
    "portal_intake_step": _submission,
    "portal_intake_upload": _submission,
    "portal_intake_review_submit": _submission,
}
STAFF_ROUTES: dict[str, str] = {
    "intake_review": "portal.IntakeSubmission",
    "intake_accept": "portal.IntakeSubmission",
    "intake_return": "portal.IntakeSubmission",
    "intake_upload_file": "portal.IntakeUpload",
    "intake_consent_version": "portal.ConsentDocument",
}
