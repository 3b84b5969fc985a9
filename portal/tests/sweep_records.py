"""Sweep entries for the portal's questionnaires and billing routes (see tests/test_portal_sweep.py).

PATIENT_ROUTES: patient-side route name -> make(patient) returning an object of that patient that the
route's last id kwarg names. STAFF_ROUTES: none (staff pages for these live in assessments and billing).
"""

from collections.abc import Callable


def _administration(patient):
    from assessments.tests.factories import AdministrationFactory

    return AdministrationFactory(practice=patient.practice, patient=patient)


def _statement(patient):
    from billing.tests.factories import StatementFactory

    return StatementFactory(practice=patient.practice, patient=patient)


PATIENT_ROUTES: dict[str, Callable] = {
    "portal_questionnaire": _administration,
    "portal_statement_pdf": _statement,
}
STAFF_ROUTES: dict[str, str] = {}
