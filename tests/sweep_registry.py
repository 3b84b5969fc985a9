"""What the cross-tenant sweep covers. Every later issue adds its models and routes here.

The sweep fails when a model with a `practice` field, a page route taking an object id, or an
API endpoint exposing a model is missing from this file, so nothing new escapes it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Model
from django.utils.timezone import now

from clinical.tests import factories as cf
from practice.models import Practice
from practice.permissions import Role
from practice.tests import factories as f

# model label -> how to make one row of it in a practice
SWEPT_MODELS: dict[str, Callable[[Practice], Model]] = {
    "practice.Location": lambda p: f.LocationFactory(practice=p),
    "practice.Membership": lambda p: f.MembershipFactory(practice=p, role=Role.CLINICIAN),
    "practice.Invitation": lambda p: f.InvitationFactory(practice=p),
    "practice.ApiToken": lambda p: f.ApiTokenFactory(practice=p),
    "clinical.Patient": lambda p: cf.PatientFactory(practice=p),
    "clinical.CommunicationConsent": lambda p: cf.CommunicationConsentFactory(patient=cf.PatientFactory(practice=p)),
    "clinical.Diagnosis": lambda p: cf.DiagnosisFactory(patient=cf.PatientFactory(practice=p)),
    "clinical.NoteTemplate": lambda p: cf.NoteTemplateFactory(practice=p, name=f"Custom {p.slug}"),
    "clinical.ProgressNote": lambda p: cf.ProgressNoteFactory(patient=cf.PatientFactory(practice=p)),
    "clinical.NoteAddendum": lambda p: cf.NoteAddendumFactory(
        note=cf.ProgressNoteFactory(patient=cf.PatientFactory(practice=p), status="signed", signed_at=now())
    ),
    "clinical.PsychotherapyNote": lambda p: cf.PsychotherapyNoteFactory(patient=cf.PatientFactory(practice=p)),
    "clinical.TreatmentPlan": lambda p: cf.TreatmentPlanFactory(patient=cf.PatientFactory(practice=p)),
    "clinical.TreatmentProblem": lambda p: cf.TreatmentProblemFactory(
        plan=cf.TreatmentPlanFactory(patient=cf.PatientFactory(practice=p))
    ),
    "clinical.TreatmentGoal": lambda p: cf.TreatmentGoalFactory(
        problem=cf.TreatmentProblemFactory(plan=cf.TreatmentPlanFactory(patient=cf.PatientFactory(practice=p)))
    ),
    "clinical.TreatmentObjective": lambda p: cf.TreatmentObjectiveFactory(
        goal=cf.TreatmentGoalFactory(
            problem=cf.TreatmentProblemFactory(plan=cf.TreatmentPlanFactory(patient=cf.PatientFactory(practice=p)))
        )
    ),
    "clinical.Medication": lambda p: cf.MedicationFactory(patient=cf.PatientFactory(practice=p)),
    "clinical.Prescription": lambda p: cf.PrescriptionFactory(
        medication=cf.MedicationFactory(patient=cf.PatientFactory(practice=p))
    ),
    "clinical.Document": lambda p: cf.DocumentFactory(patient=cf.PatientFactory(practice=p)),
    "clinical.EmergencyAccess": lambda p: cf.EmergencyAccessFactory(patient=cf.PatientFactory(practice=p)),
}

# Models with a practice field that no route exposes by id, and why.
NOT_EXPOSED_BY_ID: dict[str, str] = {
    "practice.AuditLogEntry": "append-only; shown only in the practice's own audit list and CSV",
    "practice.AccessEvent": "append-only; shown only in the practice's own audit list and CSV",
    "clinical.MrnCounter": "internal sequence row of the practice; never shown",
}

# UI route name -> model label of the object id in its URL.
UI_ROUTES: dict[str, str] = {
    "location_detail": "practice.Location",
    "staff_detail": "practice.Membership",
    "staff_deactivate": "practice.Membership",
    "staff_reactivate": "practice.Membership",
    "invitation_revoke": "practice.Invitation",
    "invitation_resend": "practice.Invitation",
    # not under /p/<slug>/: the caller's own tokens only
    "account_token_revoke": "practice.ApiToken",
}
