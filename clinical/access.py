"""Who may see which patient, and how much of the chart (SPEC 2: caseloads).

- Demographics: members with PATIENT_VIEW_ALL_PATIENTS (owner, admin, front desk, biller) see every
  patient of the practice; clinicians and supervisors see their caseload.
- Caseload: primary clinician; a supervisor's supervisees' patients; patients explicitly shared
  with the member (django-guardian `view_patient` grant); patients whose notes the member wrote;
  patients opened through an active break-the-glass access.
- Clinical content (notes, plans, diagnoses, medications, documents): CHART_VIEW_CLINICAL and
  the patient in the caseload (the owner's caseload is every patient), or an active
  break-the-glass access. Front desk and billers never see note content.
- Psychotherapy notes: their author only, whatever else is true.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from clinical.models import EmergencyAccess, Patient, ProgressNote
from practice.models import Membership
from practice.permissions import Perm

BREAK_GLASS_HOURS = 4


def caseload_q(membership: Membership) -> Q:
    """The patients on this member's caseload (not counting break-the-glass)."""
    from guardian.models import UserObjectPermission

    content_type = ContentType.objects.get_for_model(Patient)
    granted_pks = [
        int(pk)
        for pk in UserObjectPermission.objects.filter(
            user_id=membership.user_id, content_type=content_type, permission__codename="view_patient"
        ).values_list("object_pk", flat=True)
    ]
    wrote_a_note = Exists(ProgressNote.objects.filter(patient=OuterRef("pk"), author=membership))
    q = (
        Q(primary_clinician=membership)
        | Q(primary_clinician__supervisor=membership)
        | Q(pk__in=granted_pks)
        | Q(wrote_a_note)
    )
    return q


def _break_glass_q(membership: Membership) -> Q:
    active = EmergencyAccess.objects.filter(
        patient=OuterRef("pk"), membership=membership, expires_at__gt=timezone.now()
    )
    return Q(Exists(active))


def patients_visible_to(membership: Membership) -> QuerySet[Patient]:
    """Every patient whose demographics this member may see."""
    qs = Patient.objects.all()
    if membership.has_perm(Perm.PATIENT_VIEW_ALL_PATIENTS):
        return qs
    if not membership.has_perm(Perm.PATIENT_VIEW_DEMOGRAPHICS):
        return qs.none()
    return qs.filter(caseload_q(membership) | _break_glass_q(membership))


def patients_with_clinical_access(membership: Membership) -> QuerySet[Patient]:
    """Patients whose clinical content this member may read right now."""
    qs = Patient.objects.all()
    if membership.has_perm(Perm.CHART_VIEW_CLINICAL):
        if membership.has_perm(Perm.PATIENT_VIEW_ALL_PATIENTS):
            return qs
        return qs.filter(caseload_q(membership) | _break_glass_q(membership))
    return qs.filter(_break_glass_q(membership))


def can_view_demographics(membership: Membership, patient: Patient) -> bool:
    return patients_visible_to(membership).filter(pk=patient.pk).exists()


def can_view_clinical(membership: Membership, patient: Patient) -> bool:
    return patients_with_clinical_access(membership).filter(pk=patient.pk).exists()


def can_break_glass(membership: Membership, patient: Patient) -> bool:
    """May ask for emergency access: has the permission and does not already have clinical access."""
    return membership.has_perm(Perm.CHART_BREAK_GLASS) and not can_view_clinical(membership, patient)


def active_emergency_access(membership: Membership, patient: Patient) -> EmergencyAccess | None:
    return (
        EmergencyAccess.objects.filter(patient=patient, membership=membership, expires_at__gt=timezone.now())
        .order_by("-expires_at")
        .first()
    )
