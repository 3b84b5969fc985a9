"""Reads for treatment plans, medications, documents, and the printed chart and export."""

from __future__ import annotations

from datetime import date

from django.db.models import Prefetch, QuerySet

from clinical.models import (
    CommunicationConsent,
    Diagnosis,
    Document,
    Medication,
    NoteAddendum,
    Patient,
    Prescription,
    ProgressNote,
    TreatmentPlan,
    TreatmentProblem,
)
from practice.models import Location


def plan_with_tree(plan_qs: QuerySet[TreatmentPlan]) -> QuerySet[TreatmentPlan]:
    return plan_qs.select_related("patient", "author__user", "practice").prefetch_related(
        Prefetch("problems", queryset=TreatmentProblem.objects.prefetch_related("goals__objectives"))
    )


def plan_versions(patient: Patient) -> QuerySet[TreatmentPlan]:
    """Every version of the patient's plan, newest first (no tree)."""
    return TreatmentPlan.objects.filter(patient=patient).select_related("author__user").order_by("-version")


def plans_with_trees(patient: Patient) -> QuerySet[TreatmentPlan]:
    return plan_with_tree(TreatmentPlan.objects.filter(patient=patient)).order_by("-version")


def medication_list(patient: Patient) -> QuerySet[Medication]:
    return (
        Medication.objects.filter(patient=patient)
        .select_related("prescribed_by__user", "recorded_by__user")
        .prefetch_related(Prefetch("prescriptions", queryset=Prescription.objects.select_related("prescriber__user")))
    )


def document_list(patient: Patient) -> QuerySet[Document]:
    return Document.objects.filter(patient=patient).select_related("uploaded_by__user")


def diagnosis_list(patient: Patient) -> QuerySet[Diagnosis]:
    return Diagnosis.objects.filter(patient=patient).select_related("code", "added_by__user")


def consent_list(patient: Patient) -> QuerySet[CommunicationConsent]:
    return CommunicationConsent.objects.filter(patient=patient).select_related("recorded_by__user")


def chart_notes(patient: Patient, *, start: date | None = None, end: date | None = None) -> QuerySet[ProgressNote]:
    """Notes of the legal record (signed or awaiting co-signature; never drafts, never psychotherapy
    notes, which live in another table) in a session-date range, oldest first, with their addenda."""
    qs = ProgressNote.objects.filter(patient=patient).exclude(status=ProgressNote.Status.DRAFT)
    if start:
        qs = qs.filter(session_on__gte=start)
    if end:
        qs = qs.filter(session_on__lte=end)
    return (
        qs.select_related("author__user", "cosigner__user", "template", "location")
        .prefetch_related(Prefetch("addenda", queryset=NoteAddendum.objects.select_related("author__user")))
        .order_by("session_on", "start_time", "id")
    )


def letterhead_location(practice_id: int) -> Location | None:
    """The address printed on letterhead: the practice's first active location."""
    return Location.objects.filter(practice_id=practice_id, is_active=True).order_by("name", "id").first()
