"""Sweep entries for the portal's account routes (see tests/test_portal_sweep.py and tests/sweep_registry.py).

PATIENT_ROUTES: patient-side route name -> make(patient) returning an object of that patient that the
route's last id kwarg names (earlier id kwargs are filled from it, as in the tenant sweep).
STAFF_ROUTES: staff-side route name (under /p/<practice_slug>/) -> model label of its object; the
model's maker is tests/sweep_registry.SWEPT_MODELS.

The patient-side account routes take no object id (choose names the access in the POST body and is
checked against the user's own accesses), so PATIENT_ROUTES is empty.
"""

from collections.abc import Callable

PATIENT_ROUTES: dict[str, Callable] = {}
STAFF_ROUTES: dict[str, str] = {
    "patient_portal": "clinical.Patient",
    "portal_invitation_resend": "portal.PortalInvitation",
    "portal_invitation_revoke": "portal.PortalInvitation",
    "portal_access_revoke": "portal.PortalAccess",
}
