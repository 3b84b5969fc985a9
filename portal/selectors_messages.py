"""Reads for portal messaging: the patient's threads, a thread's messages, the staff inbox."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet

from clinical.access import patients_visible_to
from clinical.models import Patient
from portal.models import MessageThread, ThreadAttachment, ThreadMessage, ThreadMessageRead
from practice.models import Membership
from practice.permissions import Perm

INBOX_LIMIT = 200

INBOX_FILTERS = {
    "all": "All open",
    "mine": "Assigned to me",
    "unassigned": "Unassigned",
    "closed": "Closed",
}


def threads_for_patient(patient: Patient) -> QuerySet[MessageThread]:
    """Every thread of a patient, newest first, with the count of staff messages the patient has not read."""
    return (
        MessageThread.objects.filter(patient=patient)
        .select_related("assigned_to__user")
        .annotate(
            unread_count=Count(
                "messages", filter=Q(messages__sender_member__isnull=False, messages__read_by_patient_at__isnull=True)
            ),
            message_count=Count("messages"),
        )
        .order_by("-last_message_at", "-id")
    )


def thread_messages(thread: MessageThread) -> list[ThreadMessage]:
    """A thread's messages, oldest first, with senders, attachments and staff read receipts."""
    return list(
        ThreadMessage.objects.filter(thread=thread)
        .select_related("sender_user", "sender_member__user")
        .prefetch_related(
            Prefetch("attachments", queryset=ThreadAttachment.objects.order_by("created_at", "id")),
            Prefetch("reads", queryset=ThreadMessageRead.objects.select_related("member__user").order_by("read_at")),
        )
        .order_by("sent_at", "id")
    )


def attachment_for_patient(*, patient: Patient, attachment_id) -> ThreadAttachment | None:
    return (
        ThreadAttachment.objects.filter(public_id=attachment_id, message__thread__patient=patient)
        .select_related("message__thread")
        .first()
    )


def visible_threads(member: Membership) -> QuerySet[MessageThread]:
    """Threads of patients this member may see (clinicians: their caseload)."""
    qs = MessageThread.objects.all()
    if not member.has_perm(Perm.MESSAGES_VIEW):
        return qs.none()
    if member.has_perm(Perm.PATIENT_VIEW_ALL_PATIENTS):
        return qs
    return qs.filter(patient__in=patients_visible_to(member))


@dataclass
class Inbox:
    threads: list[MessageThread]
    filter: str
    counts: dict[str, int]
    truncated: bool


def message_inbox(*, member: Membership, filter: str = "all") -> Inbox:
    """Open threads needing a reply first, then by last message; three queries whatever the size."""
    if filter not in INBOX_FILTERS:
        filter = "all"
    base = visible_threads(member)
    open_threads = base.filter(status=MessageThread.Status.OPEN)
    counts = open_threads.aggregate(
        mine=Count("pk", filter=Q(assigned_to=member)),
        unassigned=Count("pk", filter=Q(assigned_to__isnull=True)),
        all=Count("pk"),
        needs_reply=Count("pk", filter=Q(needs_reply=True)),
    )
    qs = {
        "mine": open_threads.filter(assigned_to=member),
        "unassigned": open_threads.filter(assigned_to__isnull=True),
        "all": open_threads,
        "closed": base.filter(status=MessageThread.Status.CLOSED),
    }[filter]
    rows = list(
        qs.select_related("patient", "assigned_to__user").order_by("-needs_reply", "-last_message_at", "-id")[
            : INBOX_LIMIT + 1
        ]
    )
    return Inbox(threads=rows[:INBOX_LIMIT], filter=filter, counts=counts, truncated=len(rows) > INBOX_LIMIT)


def thread_for_member(*, member: Membership, thread_id) -> MessageThread | None:
    return (
        visible_threads(member)
        .filter(public_id=thread_id)
        .select_related("patient", "patient__primary_clinician__user", "assigned_to__user")
        .first()
    )


def attachment_for_member(*, member: Membership, attachment_id) -> ThreadAttachment | None:
    return (
        ThreadAttachment.objects.filter(
            public_id=attachment_id, message__thread__in=visible_threads(member).values("pk")
        )
        .select_related("message__thread")
        .first()
    )


def assignable_members(*, patient: Patient) -> list[Membership]:
    """Active members with the inbox permission who surely see the patient: those who see every
    patient, the primary clinician and their supervisor (one query; the service checks the rest)."""
    members = Membership.objects.filter(is_active=True).select_related("user").order_by("user__full_name", "pk")
    clinician = patient.primary_clinician
    caseload = {clinician.pk, clinician.supervisor_id} if clinician else set()
    return [
        m
        for m in members
        if m.has_perm(Perm.MESSAGES_VIEW) and (m.has_perm(Perm.PATIENT_VIEW_ALL_PATIENTS) or m.pk in caseload)
    ]
