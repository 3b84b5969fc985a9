"""Querysets for FHIR resources, loading what ``integrations.fhir.resources`` reads (so a page
of N resources is a fixed number of queries).

``viewer`` applies the same caseload rules as the REST API (``clinical.access``); ``viewer=None``
means every row of the active practice scope (the owner's full export). Call inside a practice
scope: the scoped managers refuse otherwise.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from assessments.models import Response
from clinical import access
from clinical.models import Patient
from practice.models import Membership
from practice.permissions import Perm, Role, role_has_perm
from scheduling.models import Appointment, Attendee

from .resources import CLINICAL_ROLE_PERM


def fhir_patients(*, viewer: Membership | None = None) -> QuerySet[Patient]:
    """Patients (demographics) the viewer may see; for ``patient_resource``."""
    queryset = access.patients_visible_to(viewer) if viewer is not None else Patient.objects.all()
    return queryset.select_related("practice", "primary_clinician").order_by(
        "legal_last_name", "legal_first_name", "id"
    )


def practitioner_roles() -> list[str]:
    return [role for role in Role.values if role_has_perm(role, CLINICAL_ROLE_PERM)]


def fhir_practitioners() -> QuerySet[Membership]:
    """Memberships with a clinical role (active or not: they appear in past records); for
    ``practitioner_resource``. Staff are visible to every member (Perm.STAFF_VIEW)."""
    return (
        Membership.objects.filter(role__in=practitioner_roles())
        .select_related("user", "billing_identity")
        .order_by("user__full_name", "id")
    )


def fhir_appointments(*, viewer: Membership | None = None) -> QuerySet[Appointment]:
    """Appointments (the whole schedule, as in the scheduling API: Perm.SCHEDULE_VIEW is not
    caseload-limited); for ``appointment_resource``."""
    del viewer  # same rows for every viewer holding SCHEDULE_VIEW
    return (
        Appointment.objects.select_related("appointment_type", "clinician")
        .prefetch_related(Prefetch("attendees", queryset=Attendee.objects.select_related("patient").order_by("id")))
        .order_by("starts_at", "id")
    )


def fhir_responses(*, viewer: Membership | None = None) -> QuerySet[Response]:
    """Assessment responses of patients whose clinical record the viewer may read; for
    ``questionnaire_response_resource`` and ``observation_resources``."""
    queryset = Response.objects.all()
    if viewer is not None:
        if not viewer.has_perm(Perm.ASSESSMENT_VIEW_RESULTS):
            return queryset.none()
        queryset = queryset.filter(patient__in=access.patients_with_clinical_access(viewer).values("pk"))
    return queryset.select_related("patient", "administered_by", "corrected_by").order_by("completed_at", "id")
