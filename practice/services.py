"""Writes for practices, locations, staff, invitations, tokens and sessions."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.text import slugify
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from practice.errors import DomainError
from practice.models import ApiToken, Invitation, Location, Membership, Practice, User, UserSession
from practice.permissions import ASSIGNABLE_ROLES, Perm, Role
from practice.scoping import practice_scope

INVITATION_VALID_FOR = timedelta(days=7)
API_TOKEN_VALID_FOR = timedelta(days=90)
RECOVERY_CODE_COUNT = 10


def _hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _require(membership: Membership, perm: Perm) -> None:
    if not membership.has_perm(perm):
        raise DomainError("Your role does not allow this.", code="forbidden")


# --- Practice and locations ------------------------------------------------------------------


@transaction.atomic
def practice_create(*, name: str, owner: User, slug: str = "", timezone_name: str = "America/New_York") -> Practice:
    """Create a practice with its owner's membership (the owner must enrol MFA at first sign-in)."""
    slug = slug or slugify(name)[:50]
    if Practice.objects.filter(slug=slug).exists():
        raise DomainError("A practice with this address already exists.", field="slug")
    practice = Practice.objects.create(name=name, slug=slug, timezone=timezone_name)
    with practice_scope(practice):
        Membership.objects.create(practice=practice, user=owner, role=Role.OWNER)
    for hook in settings.TEND_PRACTICE_SETUP_HOOKS:
        import_string(hook)(practice=practice)
    return practice


@transaction.atomic
def practice_update_settings(*, practice: Practice, by: Membership, **fields: Any) -> Practice:
    _require(by, Perm.PRACTICE_MANAGE_SETTINGS)
    practice = Practice.objects.select_for_update().get(pk=practice.pk)
    for name in ("name", "timezone", "idle_timeout_minutes", "phone", "email"):
        if name in fields:
            setattr(practice, name, fields[name])
    practice.full_clean()
    practice.save()
    return practice


@transaction.atomic
def location_save(*, by: Membership, location: Location | None = None, **fields: Any) -> Location:
    _require(by, Perm.PRACTICE_MANAGE_LOCATIONS)
    if location is None:
        location = Location(practice_id=by.practice_id)
    elif location.practice_id != by.practice_id:
        raise DomainError("Location not found.", code="not_found")
    for name, value in fields.items():
        setattr(location, name, value)
    if Location.objects.filter(name=location.name).exclude(pk=location.pk).exists():
        raise DomainError("Another location already has this name.", field="name")
    location.full_clean()
    location.save()
    return location


# --- Staff -----------------------------------------------------------------------------------


def _check_can_assign(by: Membership, role: str) -> None:
    _require(by, Perm.STAFF_MANAGE)
    if role not in ASSIGNABLE_ROLES.get(by.role, frozenset()):
        raise DomainError("You cannot give a role above your own.", field="role", code="forbidden")


def _active_owner_count(practice_id: int) -> int:
    return Membership.objects.filter(practice_id=practice_id, role=Role.OWNER, is_active=True).count()


@transaction.atomic
def membership_update(
    *,
    membership: Membership,
    by: Membership,
    role: str,
    is_licensed: bool,
    supervisor: Membership | None = None,
    title: str = "",
) -> Membership:
    _check_can_assign(by, role)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER and by.role != Role.OWNER:
        raise DomainError("Only an owner can change another owner.", code="forbidden")
    if membership.role == Role.OWNER and role != Role.OWNER and _active_owner_count(membership.practice_id) <= 1:
        raise DomainError("A practice needs at least one active owner.", field="role")
    if supervisor is not None:
        if supervisor.practice_id != membership.practice_id or supervisor.pk == membership.pk:
            raise DomainError("Choose a supervisor from this practice.", field="supervisor")
        if not supervisor.has_perm(Perm.NOTE_COSIGN):
            raise DomainError("The supervisor must have a role that can co-sign notes.", field="supervisor")
    if not is_licensed and supervisor is None and role in (Role.CLINICIAN, Role.SUPERVISOR):
        raise DomainError("A pre-licensed clinician needs a supervisor.", field="supervisor")
    membership.role, membership.is_licensed = role, is_licensed
    membership.supervisor, membership.title = supervisor, title
    membership.full_clean()
    membership.save()
    return membership


@transaction.atomic
def membership_deactivate(*, membership: Membership, by: Membership) -> Membership:
    """Take a member out of the practice. Their sessions and API tokens end at once."""
    _require(by, Perm.STAFF_MANAGE)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.pk == by.pk:
        raise DomainError("You cannot deactivate yourself.")
    if membership.role == Role.OWNER and by.role != Role.OWNER:
        raise DomainError("Only an owner can deactivate an owner.", code="forbidden")
    if membership.role == Role.OWNER and _active_owner_count(membership.practice_id) <= 1:
        raise DomainError("A practice needs at least one active owner.")
    membership.is_active = False
    membership.deactivated_at = timezone.now()
    membership.save(update_fields=["is_active", "deactivated_at", "updated_at"])
    ApiToken.objects.filter(membership=membership, revoked_at__isnull=True).update(revoked_at=timezone.now())
    user_sessions_end(user=membership.user)
    return membership


@transaction.atomic
def membership_reactivate(*, membership: Membership, by: Membership) -> Membership:
    _check_can_assign(by, membership.role)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    membership.is_active, membership.deactivated_at = True, None
    membership.save(update_fields=["is_active", "deactivated_at", "updated_at"])
    return membership


# --- Invitations -----------------------------------------------------------------------------


@transaction.atomic
def invitation_create(*, by: Membership, email: str, role: str, is_licensed: bool = True) -> Invitation:
    """Invite someone by email. The emailing task mints the token, so it never sits in the broker."""
    _check_can_assign(by, role)
    email = email.strip().lower()
    if Membership.objects.filter(user__email=email, is_active=True).exists():
        raise DomainError("This person is already a member of the practice.", field="email")
    pending = Invitation.objects.filter(email=email, accepted_at__isnull=True, revoked_at__isnull=True)
    pending.filter(expires_at__gt=timezone.now()).update(revoked_at=timezone.now())
    invitation = Invitation.objects.create(
        practice_id=by.practice_id,
        email=email,
        role=role,
        is_licensed=is_licensed,
        token_hash=_hash_secret(secrets.token_urlsafe(32)),  # replaced when the email is sent
        invited_by=by,
        expires_at=timezone.now() + INVITATION_VALID_FOR,
    )
    _queue_invitation_email(invitation)
    return invitation


@transaction.atomic
def invitation_resend(*, invitation: Invitation, by: Membership) -> Invitation:
    _require(by, Perm.STAFF_MANAGE)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != Invitation.Status.PENDING:
        raise DomainError("Only a pending invitation can be sent again.")
    invitation.sent_at = None
    invitation.expires_at = timezone.now() + INVITATION_VALID_FOR
    invitation.save(update_fields=["sent_at", "expires_at", "updated_at"])
    _queue_invitation_email(invitation)
    return invitation


def _queue_invitation_email(invitation: Invitation) -> None:
    from practice.tasks import invitation_send_task

    practice_id, invitation_id = invitation.practice_id, invitation.pk
    transaction.on_commit(lambda: invitation_send_task.delay(practice_id=practice_id, invitation_id=invitation_id))


def invitation_deliver(*, invitation_id: int) -> bool:
    """Claim the invitation (conditional UPDATE), mint its token and email the link.

    Safe to run twice: a second run finds it already claimed and sends nothing. On a send
    failure the claim is released so the retry sends it.
    """
    from django.core.mail import send_mail
    from django.template.loader import render_to_string

    token = secrets.token_urlsafe(32)
    claimed = Invitation.objects.filter(
        pk=invitation_id, sent_at__isnull=True, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(sent_at=timezone.now(), token_hash=_hash_secret(token))
    if claimed != 1:
        return False
    invitation = Invitation.objects.select_related("practice", "invited_by__user").get(pk=invitation_id)
    context = {"invitation": invitation, "url": f"{site_url()}/invite/{token}/"}
    try:
        send_mail(
            subject=f"You're invited to {invitation.practice.name} on Tend",
            message=render_to_string("practice/email/invitation.txt", context),
            from_email=None,
            recipient_list=[invitation.email],
        )
    except Exception:
        Invitation.objects.filter(pk=invitation_id).update(sent_at=None)
        raise
    return True


def invitation_find(token: str) -> Invitation | None:
    """The pending invitation for a raw token, across practices (the token is the credential)."""
    invitation = (
        Invitation.all_objects.select_related("practice", "invited_by__user")
        .filter(token_hash=_hash_secret(token))
        .first()
    )
    if invitation is None or invitation.status != Invitation.Status.PENDING:
        return None
    return invitation


@transaction.atomic
def invitation_accept(
    *, invitation: Invitation, user: User | None = None, full_name: str = "", password: str = ""
) -> Membership:
    """Accept an invitation: as the signed-in user, or by creating an account for its email."""
    invitation = Invitation.all_objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != Invitation.Status.PENDING:
        raise DomainError("This invitation is no longer valid.")
    if user is None:
        if User.objects.filter(email=invitation.email).exists():
            raise DomainError("An account with this email exists: sign in to accept.", field="email")
        user = User.objects.create_user(invitation.email, password, full_name=full_name)
    elif user.email != invitation.email:
        raise DomainError("This invitation was sent to a different email address.")
    with practice_scope(invitation.practice_id):
        membership = Membership.objects.filter(user=user).first()
        if membership is None:
            membership = Membership.objects.create(
                practice_id=invitation.practice_id, user=user, role=invitation.role, is_licensed=invitation.is_licensed
            )
        else:
            membership.role, membership.is_active, membership.deactivated_at = invitation.role, True, None
            membership.save(update_fields=["role", "is_active", "deactivated_at", "updated_at"])
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at", "updated_at"])
    return membership


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, by: Membership) -> Invitation:
    _require(by, Perm.STAFF_MANAGE)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != Invitation.Status.PENDING:
        raise DomainError("Only a pending invitation can be revoked.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at", "updated_at"])
    return invitation


# --- API tokens ------------------------------------------------------------------------------


@transaction.atomic
def api_token_issue(*, membership: Membership, name: str = "API token") -> tuple[ApiToken, str]:
    """Issue a token bound to this one membership. The raw key is shown once and never stored."""
    if not membership.is_active:
        raise DomainError("This membership is not active.")
    raw = "tend_" + secrets.token_urlsafe(32)
    token = ApiToken.all_objects.create(
        practice_id=membership.practice_id,
        membership=membership,
        name=name[:100] or "API token",
        key_prefix=raw[:12],
        key_hash=_hash_secret(raw),
        expires_at=timezone.now() + API_TOKEN_VALID_FOR,
    )
    return token, raw


def api_token_lookup(raw: str) -> ApiToken | None:
    token = (
        ApiToken.all_objects.select_related("membership__user", "membership__practice")
        .filter(key_hash=_hash_secret(raw))
        .first()
    )
    if token is None or not token.is_usable:
        return None
    membership = token.membership
    if not (membership.is_active and membership.user.is_active and membership.practice.is_active):
        return None
    return token


def api_token_touch(token: ApiToken) -> None:
    """Record use at most once a minute (a write per request would be wasteful)."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.all_objects.filter(pk=token.pk).update(last_used_at=now)


@transaction.atomic
def api_token_revoke(*, token: ApiToken, by: User) -> ApiToken:
    token = ApiToken.all_objects.select_for_update().select_related("membership").get(pk=token.pk)
    if token.membership.user_id != by.pk:
        raise DomainError("Token not found.", code="not_found")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
    return token


# --- Sessions, passwords, MFA ----------------------------------------------------------------


def user_session_register(*, request: HttpRequest) -> None:
    if not request.session.session_key:
        request.session.save()
    UserSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={
            "user": request.user,
            "ip_address": request.META.get("REMOTE_ADDR") or None,
            "user_agent": request.headers.get("User-Agent", "")[:300],
        },
    )


@transaction.atomic
def user_sessions_end(*, user: User, keep_session_key: str | None = None) -> int:
    """End every server-side session of a user (all devices), except optionally the current one."""
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    keys = [k for k in keys if k != keep_session_key]
    Session.objects.filter(session_key__in=keys).delete()
    UserSession.objects.filter(session_key__in=keys).delete()
    return len(keys)


@transaction.atomic
def user_password_change(*, request: HttpRequest, user: User, new_password: str) -> None:
    """Change the password; every other session and every API token of the user ends."""
    user.set_password(new_password)
    user.save(update_fields=["password"])
    update_session_auth_hash(request, user)
    user_session_register(request=request)
    user_sessions_end(user=user, keep_session_key=request.session.session_key)
    ApiToken.all_objects.filter(membership__user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


def user_requires_mfa(user: User) -> bool:
    """True when any active membership's role requires MFA, or the user opted in already."""
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return True
    return any(
        m.requires_mfa for m in Membership.all_objects.filter(user=user, is_active=True, practice__is_active=True)
    )


def user_has_mfa(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@transaction.atomic
def mfa_totp_start(*, user: User) -> TOTPDevice:
    """Start TOTP enrolment: an unconfirmed device whose secret the user scans."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


@transaction.atomic
def mfa_totp_confirm(*, device: TOTPDevice, code: str) -> list[str]:
    """Confirm enrolment with a first code; returns fresh recovery codes (shown once)."""
    if not device.verify_token(code.replace(" ", "")):
        raise DomainError("That code is not right. Check the time on your phone and try again.", field="code")
    TOTPDevice.objects.filter(user=device.user, confirmed=True).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return mfa_recovery_codes_regenerate(user=device.user)


@transaction.atomic
def mfa_recovery_codes_regenerate(*, user: User) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(user=user, name="Recovery codes")
    device.token_set.all().delete()
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def mfa_verify(*, user: User, code: str):
    """The device that accepts this code (TOTP, or a single-use recovery code), or None."""
    code = code.strip().replace(" ", "").lower()
    if not code:
        return None
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        if device.verify_is_allowed()[0] and device.verify_token(code):
            return device
    for device in StaticDevice.objects.filter(user=user, confirmed=True):
        if device.verify_token(code):
            return device
    return None


def site_url() -> str:
    return settings.SITE_URL.rstrip("/")


# --- Per-object grants (caseloads) -----------------------------------------------------------


@transaction.atomic
def object_access_grant(*, by: Membership, to: Membership, obj: Any, codename: str = "") -> None:
    """Share one object (e.g. a patient) with another member of the same practice.

    Grants are django-guardian object permissions on the member's user; they only ever take
    effect inside the object's own practice scope, so a grant cannot cross practices.
    """
    from guardian.shortcuts import assign_perm

    if not (by.practice_id == to.practice_id == obj.practice_id):
        raise DomainError("Not found.", code="not_found")
    if not to.is_active:
        raise DomainError("That member is not active.")
    assign_perm(codename or f"view_{obj._meta.model_name}", to.user, obj)


@transaction.atomic
def object_access_revoke(*, by: Membership, to: Membership, obj: Any, codename: str = "") -> None:
    from guardian.shortcuts import remove_perm

    if not (by.practice_id == to.practice_id == obj.practice_id):
        raise DomainError("Not found.", code="not_found")
    remove_perm(codename or f"view_{obj._meta.model_name}", to.user, obj)
