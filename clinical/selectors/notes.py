"""Reads of clinical notes: the chart's note list, one note with its addenda, the co-sign queue
and a clinician's outstanding work. Every queryset names its joins; list pages stay bounded.

Psychotherapy notes are never returned here except to their author (psychotherapy_notes_of).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from clinical.models import NoteAddendum, NoteTemplate, Patient, ProgressNote, PsychotherapyNote, TreatmentPlan
from practice.models import Membership

PLAN_REVIEW_WINDOW_DAYS = 14

_NOTE_JOINS = ("patient", "author__user", "template", "cosigner__user", "location")


def note_list(*, patient: Patient) -> QuerySet[ProgressNote]:
    """The patient's notes for the chart, newest session first (content included)."""
    return (
        ProgressNote.objects.filter(patient=patient)
        .select_related("author__user", "template", "cosigner__user")
        .order_by("-session_on", "-start_time", "-id")
    )


def note_get(*, note_id: Any) -> ProgressNote:
    """One note by public_id with everything its page shows (addenda prefetched). 404s via DoesNotExist."""
    addenda = NoteAddendum.objects.select_related("author__user").order_by("created_at", "id")
    return (
        ProgressNote.objects.select_related(*_NOTE_JOINS)
        .prefetch_related(Prefetch("addenda", queryset=addenda))
        .get(public_id=note_id)
    )


def cosign_queue(membership: Membership) -> QuerySet[ProgressNote]:
    """Notes waiting for this member's co-signature, oldest signature first."""
    return (
        ProgressNote.objects.filter(status=ProgressNote.Status.AWAITING_COSIGN, cosigner=membership)
        .select_related("patient", "author__user", "template")
        .order_by("signed_at", "id")
    )


def _with_age(notes: QuerySet[ProgressNote]) -> list[ProgressNote]:
    today = timezone.localdate()
    rows = list(notes)
    for note in rows:
        note.age_days = (today - note.session_on).days
    return rows


def outstanding_work(membership: Membership) -> dict[str, list]:
    """What a clinician still owes: open risk alerts to act on, unsigned drafts, notes waiting on
    a supervisor, notes to co-sign, and active treatment plans due for review within 14 days (or
    overdue).

    Four queries, whatever the sizes. Plans count when the member is the patient's primary
    clinician or wrote the plan: the plans they are responsible for reviewing.
    """
    # The member's drafts and their notes awaiting a co-signature in one query, split here.
    mine = _with_age(
        ProgressNote.objects.filter(
            author=membership, status__in=(ProgressNote.Status.DRAFT, ProgressNote.Status.AWAITING_COSIGN)
        ).select_related("patient", "template", "cosigner__user")
    )
    drafts = sorted(
        (n for n in mine if n.status == ProgressNote.Status.DRAFT), key=lambda n: (n.session_on, n.created_at, n.pk)
    )
    awaiting = sorted(
        (n for n in mine if n.status == ProgressNote.Status.AWAITING_COSIGN), key=lambda n: (n.signed_at, n.pk)
    )
    to_cosign = _with_age(cosign_queue(membership))
    due_by = timezone.localdate() + timedelta(days=PLAN_REVIEW_WINDOW_DAYS)
    plans = list(
        TreatmentPlan.objects.filter(status=TreatmentPlan.Status.ACTIVE, review_on__lte=due_by)
        .filter(Q(patient__primary_clinician=membership) | Q(author=membership))
        .select_related("patient")
        .order_by("review_on", "id")
    )
    today = timezone.localdate()
    for plan in plans:
        plan.days_left = (plan.review_on - today).days
        plan.is_overdue = plan.review_on < today
    from assessments.selectors_alerts import open_alerts_for

    return {
        # open risk alerts come first: the safety loop (assessments.selectors_alerts)
        "risk_alerts": open_alerts_for(membership),
        "drafts": drafts,
        "awaiting_cosign_mine": awaiting,
        "to_cosign": to_cosign,
        "plans_due": plans,
    }


def outstanding_counts(membership: Membership) -> dict[str, int]:
    """Counts only, for the dashboard card (five COUNT queries)."""
    from assessments.selectors_alerts import open_alert_count

    due_by = timezone.localdate() + timedelta(days=PLAN_REVIEW_WINDOW_DAYS)
    mine = ProgressNote.objects.filter(author=membership)
    return {
        "risk_alerts": open_alert_count(membership),
        "drafts": mine.filter(status=ProgressNote.Status.DRAFT).count(),
        "awaiting_cosign_mine": mine.filter(status=ProgressNote.Status.AWAITING_COSIGN).count(),
        "to_cosign": cosign_queue(membership).count(),
        "plans_due": TreatmentPlan.objects.filter(status=TreatmentPlan.Status.ACTIVE, review_on__lte=due_by)
        .filter(Q(patient__primary_clinician=membership) | Q(author=membership))
        .count(),
    }


def psychotherapy_notes_of(*, author: Membership, patient: Patient | None = None) -> QuerySet[PsychotherapyNote]:
    """The author's own psychotherapy notes (of one patient). Nobody else's, ever."""
    qs = PsychotherapyNote.objects.filter(author=author).select_related("patient")
    if patient is not None:
        qs = qs.filter(patient=patient)
    return qs.order_by("-session_on", "-id")


def psychotherapy_note_get(*, author: Membership, psychnote_id: Any) -> PsychotherapyNote:
    return PsychotherapyNote.objects.select_related("patient").get(public_id=psychnote_id, author=author)


def note_template_list() -> QuerySet[NoteTemplate]:
    return NoteTemplate.objects.select_related("based_on").order_by("-is_active", "kind", "name")


def active_note_templates() -> QuerySet[NoteTemplate]:
    return NoteTemplate.objects.filter(is_active=True).order_by("kind", "name")


def practice_documentation_backlog() -> dict[str, int]:
    """Practice-wide counts for admins (no names, no content): unsigned drafts, drafts older than a
    week, notes waiting for a co-signature, and completed sessions of the last 30 days whose
    progress note is missing or unsigned."""
    from scheduling.models import Attendee

    today = timezone.localdate()
    drafts = ProgressNote.objects.filter(status=ProgressNote.Status.DRAFT)
    return {
        "drafts": drafts.count(),
        "stale_drafts": drafts.filter(session_on__lt=today - timedelta(days=7)).count(),
        "awaiting_cosign": ProgressNote.objects.filter(status=ProgressNote.Status.AWAITING_COSIGN).count(),
        "sessions_without_signed_note": Attendee.objects.filter(
            status=Attendee.Status.ATTENDED,
            starts_at__gte=timezone.now() - timedelta(days=30),
        )
        .exclude(progress_note__status=ProgressNote.Status.SIGNED)
        .count(),
    }
