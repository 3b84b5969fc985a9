"""Sweep entries for the portal's messages routes (see tests/test_portal_sweep.py and tests/sweep_registry.py).

PATIENT_ROUTES: patient-side route name -> make(patient) returning an object of that patient that the
route's last id kwarg names (earlier id kwargs are filled from it, as in the tenant sweep).
STAFF_ROUTES: staff-side route name (under /p/<practice_slug>/) -> model label of its object; the
model's maker is tests/sweep_registry.SWEPT_MODELS.
"""

from collections.abc import Callable

from portal.tests import factories as pf


def _thread(patient):
    return pf.MessageThreadFactory(practice=patient.practice, patient=patient)


def _attachment(patient):
    thread = _thread(patient)
    message = pf.ThreadMessageFactory(practice=patient.practice, thread=thread)
    return pf.ThreadAttachmentFactory(practice=patient.practice, message=message)


PATIENT_ROUTES: dict[str, Callable] = {
    "portal_thread": _thread,
    "portal_thread_reply": _thread,
    "portal_attachment": _attachment,
}
STAFF_ROUTES: dict[str, str] = {
    "message_thread": "portal.MessageThread",
    "message_thread_reply": "portal.MessageThread",
    "message_thread_assign": "portal.MessageThread",
    "message_thread_close": "portal.MessageThread",
    "message_attachment": "portal.ThreadAttachment",
    "patient_messaging": "clinical.Patient",
    "message_new_for_patient": "clinical.Patient",
}
