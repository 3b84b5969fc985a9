"""Sweep entries for the portal's messages routes (see tests/test_portal_sweep.py and tests/sweep_registry.py).

PATIENT_ROUTES: patient-side route name -> make(patient) returning an object of that patient that the
route's last id kwarg names (earlier id kwargs are filled from it, as in the tenant sweep).
STAFF_ROUTES: staff-side route name (under /p/<practice_slug>/) -> model label of its object; the
model's maker is tests/sweep_registry.SWEPT_MODELS.
"""

from collections.abc import Callable

PATIENT_ROUTES: dict[str, Callable] = {}
STAFF_ROUTES: dict[str, str] = {}
