"""Intake reads: the practice's packet, a patient's submissions, the staff review queue."""

from __future__ import annotations

from django.db.models import QuerySet

from portal.models import ConsentDocument, IntakePacket, IntakeSubmission
from practice.models import Membership


def packet_for_practice(practice) -> IntakePacket | None:
    """The packet the practice asks patients to complete (its setting), else its first active one."""
    from portal.access import portal_settings_for

    chosen = portal_settings_for(practice).intake_packet
    if chosen is not None and chosen.is_active:
        return chosen
    return IntakePacket.objects.filter(is_active=True).order_by("name", "id").first()


def latest_submission(*, patient, packet: IntakePacket) -> IntakeSubmission | None:
    return IntakeSubmission.objects.filter(patient=patient, packet=packet).order_by("-created_at", "-id").first()


def submission_for_patient(*, patient, submission_id) -> IntakeSubmission:
    """Raises DoesNotExist for another patient's submission (looked up through the patient)."""
    return IntakeSubmission.objects.select_related("packet", "patient").get(patient=patient, public_id=submission_id)


def review_queue(membership: Membership) -> QuerySet[IntakeSubmission]:
    """Submitted intake waiting for review, oldest first, limited to the member's patients (caseload)."""
    from clinical.access import patients_visible_to

    return (
        IntakeSubmission.objects.filter(
            status=IntakeSubmission.Status.SUBMITTED, patient__in=patients_visible_to(membership)
        )
        .select_related("patient", "packet")
        .order_by("submitted_at", "id")
    )


def submission_for_review(*, membership: Membership, submission_id) -> IntakeSubmission:
    """Raises DoesNotExist outside the member's caseload or practice."""
    from clinical.access import patients_visible_to

    return (
        IntakeSubmission.objects.select_related("patient", "packet", "reviewed_by__user", "started_by")
        .prefetch_related("packet__steps__consent", "signatures__consent", "signatures__signer", "uploads")
        .get(public_id=submission_id, patient__in=patients_visible_to(membership))
    )


def packets() -> QuerySet[IntakePacket]:
    return IntakePacket.objects.prefetch_related("steps__consent").order_by("-is_active", "name", "id")


def consents() -> QuerySet[ConsentDocument]:
    return ConsentDocument.objects.order_by("key", "-version")
