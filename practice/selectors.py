"""Reads for practices, staff and the audit log."""

from __future__ import annotations

from datetime import date, datetime, time

from django.db.models import Q, QuerySet
from django.utils import timezone

from practice.models import (
    AccessEvent,
    ApiToken,
    AuditLogEntry,
    Invitation,
    Location,
    Membership,
    Practice,
    User,
)


def membership_for_user(*, user: User, practice_slug: str) -> Membership | None:
    """The active membership of a user in an active practice (crosses practices by design)."""
    if not user.is_authenticated:
        return None
    return (
        Membership.all_objects.select_related("practice", "user")
        .filter(user=user, practice__slug=practice_slug, is_active=True, practice__is_active=True)
        .first()
    )


def memberships_of_user(*, user: User) -> list[Membership]:
    return list(
        Membership.all_objects.select_related("practice")
        .filter(user=user, is_active=True, practice__is_active=True, user__is_active=True)
        .order_by("practice__name")
    )


def location_list(*, include_inactive: bool = True) -> QuerySet[Location]:
    qs = Location.objects.all()
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return qs.order_by("-is_active", "name")


def member_list(*, include_inactive: bool = True) -> QuerySet[Membership]:
    qs = Membership.objects.select_related("user", "supervisor__user")
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return qs.order_by("-is_active", "user__full_name")


def invitation_pending_list() -> QuerySet[Invitation]:
    return Invitation.objects.select_related("invited_by__user").filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    return (
        ApiToken.all_objects.select_related("membership__practice")
        .filter(membership__user=user)
        .order_by("-created_at")
    )


def practice_summary(*, practice: Practice) -> dict[str, int]:
    return {
        "active_members": Membership.objects.filter(is_active=True).count(),
        "locations": Location.objects.filter(is_active=True).count(),
        "pending_invitations": invitation_pending_list().count(),
    }


def _day_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    tz = timezone.get_current_timezone()
    lo = datetime.combine(start, time.min, tzinfo=tz) if start else None
    hi = datetime.combine(end, time.max, tzinfo=tz) if end else None
    return lo, hi


def access_event_search(
    *,
    user: User | None = None,
    patient_id: str | None = None,
    action: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> QuerySet[AccessEvent]:
    qs = AccessEvent.objects.select_related("user")
    if user is not None:
        qs = qs.filter(user=user)
    if patient_id:
        qs = qs.filter(patient_id=patient_id)
    if action:
        qs = qs.filter(action=action)
    lo, hi = _day_bounds(start, end)
    if lo:
        qs = qs.filter(occurred_at__gte=lo)
    if hi:
        qs = qs.filter(occurred_at__lte=hi)
    return qs.order_by("-occurred_at", "-id")


def change_event_search(
    *,
    user: User | None = None,
    patient_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> QuerySet[AuditLogEntry]:
    qs = AuditLogEntry.objects.select_related("actor", "content_type")
    if user is not None:
        qs = qs.filter(actor=user)
    if patient_id:
        qs = qs.filter(Q(additional_data__patient_id=str(patient_id)))
    lo, hi = _day_bounds(start, end)
    if lo:
        qs = qs.filter(timestamp__gte=lo)
    if hi:
        qs = qs.filter(timestamp__lte=hi)
    return qs.order_by("-timestamp", "-id")
