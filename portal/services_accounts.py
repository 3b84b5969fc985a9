"""Portal accounts: invitations (send, resend, revoke, accept) and access (revoke).

An invitation is a one-time, expiring link; only the token's sha256 is stored. Accepting it creates
a `practice.User` with no membership (or attaches the signed-in user) and a `PortalAccess` to the
patient's record, as the patient or as a parent/guardian.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from clinical.models import Patient
from notifications.models import Channel, MessageTemplate
from notifications.services import message_send
from portal.access import portal_settings_for
from portal.models import PortalAccess, PortalInvitation, Relationship
from practice.errors import DomainError
from practice.models import Membership, User
from practice.permissions import Perm


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_link(token: str) -> str:
    """The absolute accept link (SITE_URL, like the questionnaire links)."""
    return settings.SITE_URL.rstrip("/") + reverse("portal_invitation_accept", kwargs={"token": token})


def _require(by: Membership, patient: Patient | None = None) -> None:
    if not by.has_perm(Perm.PORTAL_INVITE):
        raise DomainError("Your role does not allow this.", code="forbidden")
    if patient is not None and patient.practice_id != by.practice_id:
        raise DomainError("Not found.", code="not_found")


def _first_name(full_name: str) -> str:
    return (full_name or "").strip().split(" ")[0]


@transaction.atomic
def portal_invitation_send(
    *,
    patient: Patient,
    by: Membership,
    relationship: str,
    channel: str,
    email: str = "",
    phone: str = "",
    recipient_name: str = "",
    reason: str = "",
) -> tuple[PortalInvitation, str]:
    """Invite the patient (or a parent/guardian) to the portal; returns (invitation, raw token).

    A guardian invitation needs a minor patient or an explicit `reason` (e.g. a court-appointed
    guardian of an adult). Earlier usable invitations for the same record and relationship die.
    The raw token leaves only in the message and in the return value (tests); it is not stored.
    """
    _require(by, patient)
    if relationship not in Relationship.values:
        raise DomainError("Choose who the invitation is for.", field="relationship")
    if channel not in PortalInvitation.Channel.values:
        raise DomainError("Choose email or text message.", field="channel")
    email, phone = (email or "").strip().lower(), (phone or "").strip()
    if channel == PortalInvitation.Channel.EMAIL and not email:
        raise DomainError("An email address is needed to send by email.", field="email")
    if channel == PortalInvitation.Channel.SMS and not phone:
        raise DomainError("A mobile number is needed to send a text message.", field="phone")
    if relationship == Relationship.GUARDIAN and not patient.is_minor and not reason.strip():
        raise DomainError("This patient is an adult: give the reason a guardian should see the record.", field="reason")
    if relationship == Relationship.SELF:
        recipient_name = recipient_name.strip() or patient.display_name
        if PortalAccess.objects.filter(patient=patient, relationship=Relationship.SELF, is_active=True).exists():
            raise DomainError("This patient already has portal access.")
    elif not recipient_name.strip():
        recipient_name = patient.guardian_name
    if not recipient_name.strip():
        raise DomainError("Give the name of the person invited.", field="recipient_name")
    return _invitation_create_and_send(
        patient=patient,
        by=by,
        relationship=relationship,
        channel=channel,
        email=email,
        phone=phone,
        recipient_name=recipient_name,
        reason=reason.strip()[:300],
    )


def _invitation_create_and_send(
    *,
    patient: Patient,
    by: Membership,
    relationship: str,
    channel: str,
    email: str,
    phone: str,
    recipient_name: str,
    reason: str = "",
) -> tuple[PortalInvitation, str]:
    now = timezone.now()
    PortalInvitation.objects.filter(
        patient=patient, relationship=relationship, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now, updated_at=now)
    token = secrets.token_urlsafe(32)
    invitation = PortalInvitation.objects.create(
        practice_id=patient.practice_id,
        patient=patient,
        relationship=relationship,
        recipient_name=recipient_name.strip()[:200],
        reason=reason,
        email=email,
        phone=phone,
        channel=channel,
        token_hash=token_hash(token),
        expires_at=now + timedelta(days=portal_settings_for(patient.practice).invitation_valid_days),
        invited_by=by,
    )
    context = {"link": invitation_link(token)}
    if relationship == Relationship.GUARDIAN:
        # The greeting names the person the message goes to, not the patient.
        context["patient_first_name"] = _first_name(recipient_name)
    message_send(
        practice=patient.practice,
        patient=patient,
        channel=Channel.EMAIL if channel == PortalInvitation.Channel.EMAIL else Channel.SMS,
        template_key=MessageTemplate.Key.PORTAL_INVITATION,
        context=context,
        to_address=email if channel == PortalInvitation.Channel.EMAIL else phone,
        idempotency_key=f"portal-invitation:{invitation.public_id}",
        requested_by_patient=True,
    )
    return invitation, token


@transaction.atomic
def portal_invitation_resend(*, invitation: PortalInvitation, by: Membership) -> tuple[PortalInvitation, str]:
    """Send again with a new token (a new invitation row); the old link stops working."""
    _require(by, invitation.patient)
    invitation = PortalInvitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise DomainError("This invitation was already accepted.")
    invitation.revoked_at = invitation.revoked_at or timezone.now()
    invitation.save(update_fields=["revoked_at", "updated_at"])
    return _invitation_create_and_send(
        patient=invitation.patient,
        by=by,
        relationship=invitation.relationship,
        channel=invitation.channel,
        email=invitation.email,
        phone=invitation.phone,
        recipient_name=invitation.recipient_name,
        reason=invitation.reason,
    )


@transaction.atomic
def portal_invitation_revoke(*, invitation: PortalInvitation, by: Membership) -> PortalInvitation:
    _require(by, invitation.patient)
    invitation = PortalInvitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise DomainError("Only a pending invitation can be revoked.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at", "updated_at"])
    return invitation


def portal_invitation_find(token: str) -> PortalInvitation | None:
    """The usable invitation for a raw token, across practices (the token is the credential)."""
    if not token:
        return None
    invitation = (
        PortalInvitation.all_objects.select_related("practice", "patient")
        .filter(token_hash=token_hash(token), practice__is_active=True)
        .first()
    )
    if invitation is None or not invitation.is_usable:
        return None
    return invitation


@transaction.atomic
def portal_invitation_accept(
    *, token: str, password: str = "", full_name: str = "", email: str = "", user: User | None = None
) -> PortalAccess:
    """Accept an invitation once: create the account (no membership) or attach `user`, then grant access."""
    found = portal_invitation_find(token)
    if found is None:
        raise DomainError("This invitation link is no longer valid.")
    with scope(practice=found.practice):
        invitation = PortalInvitation.all_objects.select_for_update().get(pk=found.pk)
        if not invitation.is_usable:  # accepted or revoked while we looked
            raise DomainError("This invitation link is no longer valid.")
        if user is None:
            email = (email or "").strip().lower()
            if not email:
                raise DomainError("Enter your email address.", field="email")
            if User.objects.filter(email__iexact=email).exists():
                raise DomainError(
                    "An account with this email exists: sign in first, then open the link.", field="email"
                )
            if not password:
                raise DomainError("Choose a password.", field="password1")
            user = User.objects.create_user(email, password, full_name=full_name.strip()[:200])
        access = PortalAccess.all_objects.filter(user=user, patient_id=invitation.patient_id).first()
        if access is None:
            access = PortalAccess.all_objects.create(
                practice_id=invitation.practice_id,
                user=user,
                patient_id=invitation.patient_id,
                relationship=invitation.relationship,
            )
        else:
            access.is_active, access.revoked_at, access.revoked_by = True, None, None
            access.relationship, access.granted_at = invitation.relationship, timezone.now()
            access.save(
                update_fields=["is_active", "revoked_at", "revoked_by", "relationship", "granted_at", "updated_at"]
            )
        invitation.accepted_at, invitation.accepted_by = timezone.now(), user
        invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    return access


@transaction.atomic
def portal_access_revoke(*, access: PortalAccess, by: Membership) -> PortalAccess:
    """End a user's portal access to this record (their account stays; other accesses are untouched)."""
    _require(by, access.patient)
    access = PortalAccess.objects.select_for_update().get(pk=access.pk)
    if not access.is_active:
        raise DomainError("This access is already revoked.")
    access.is_active, access.revoked_at, access.revoked_by = False, timezone.now(), by
    access.save(update_fields=["is_active", "revoked_at", "revoked_by", "updated_at"])
    return access
