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


def location_search(*, is_active: bool | None = None) -> QuerySet[Location]:
    """Locations of the current practice, optionally only active (True) or inactive (False) ones."""
    qs = location_list()
    if is_active is not None:
        qs = qs.filter(is_active=is_active)
    return qs


def member_search(*, role: str | None = None, is_active: bool | None = None) -> QuerySet[Membership]:
    """Memberships of the current practice, filtered by role and active state when given."""
    qs = member_list()
    if role:
        qs = qs.filter(role=role)
    if is_active is not None:
        qs = qs.filter(is_active=is_active)
    return qs


def membership_api_token_list(*, membership: Membership) -> QuerySet[ApiToken]:
    """The tokens issued for one membership (its user in its practice), newest first."""
    return ApiToken.objects.filter(membership=membership).order_by("-created_at", "-id")


# --- Practice admin pages --------------------------------------------------------------------


def staff_directory() -> QuerySet[Membership]:
    """Every membership of the practice for the staff page, with ``has_mfa`` annotated (one query)."""
    from django.db.models import Exists, OuterRef
    from django_otp.plugins.otp_totp.models import TOTPDevice

    confirmed = TOTPDevice.objects.filter(user=OuterRef("user"), confirmed=True)
    return member_list().annotate(has_mfa=Exists(confirmed))


def supervisor_choices(*, exclude: Membership | None = None) -> QuerySet[Membership]:
    """Active members whose role can co-sign notes: who may supervise a pre-licensed clinician."""
    from practice.permissions import Perm, Role, role_has_perm

    roles = [role for role in Role.values if role_has_perm(role, Perm.NOTE_COSIGN)]
    qs = Membership.objects.select_related("user").filter(is_active=True, role__in=roles)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs.order_by("user__full_name")


def objects_granted_to(*, membership: Membership, queryset: QuerySet, codename: str = "") -> QuerySet:
    """Rows of a scoped queryset explicitly shared with this member (django-guardian grants)."""
    from guardian.shortcuts import get_objects_for_user

    codename = codename or f"view_{queryset.model._meta.model_name}"
    return get_objects_for_user(
        membership.user, f"{queryset.model._meta.app_label}.{codename}", klass=queryset, accept_global_perms=False
    )
