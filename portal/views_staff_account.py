"""Staff side of portal accounts: a patient's portal page (accesses, invitations), invite, resend, revoke.

Every view is a chart page: `patient_view(Perm.PORTAL_INVITE)` applies the practice scope, the role
and the caseload rule (a clinician outside their caseload gets 404 or break-the-glass).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from clinical.models import Patient
from clinical.views.base import patient_view
from notifications.models import Message
from portal import services_accounts as services
from portal.forms_accounts import InviteForm
from portal.models import PortalAccess, PortalInvitation, Relationship
from practice.errors import DomainError
from practice.permissions import Perm

T = "portal/staff/account/"


def _back(request: HttpRequest, patient: Patient) -> HttpResponse:
    return redirect("patient_portal", practice_slug=request.practice.slug, patient_id=patient.public_id)


def _initial(patient: Patient, relationship: str) -> dict:
    if relationship == Relationship.GUARDIAN:
        return {
            "recipient_name": patient.guardian_name,
            "email": patient.guardian_email,
            "phone": patient.guardian_phone,
        }
    return {"recipient_name": patient.display_name, "email": patient.email, "phone": patient.phone}


@patient_view(Perm.PORTAL_INVITE)
def patient_portal_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    relationship = request.GET.get("for", Relationship.SELF)
    relationship = relationship if relationship in Relationship.values else Relationship.SELF
    initial = {"relationship": relationship, **_initial(patient, relationship)}
    form = InviteForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invitation, _token = services.portal_invitation_send(
                patient=patient,
                by=request.membership,
                relationship=data["relationship"],
                channel=data["channel"],
                email=data["email"],
                phone=data["phone"],
                recipient_name=data["recipient_name"],
                reason=data["reason"],
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Invitation sent to {invitation.recipient_name}.")
            return _back(request, patient)
    accesses = list(PortalAccess.objects.filter(patient=patient).select_related("user", "revoked_by__user"))
    invitations = list(
        PortalInvitation.objects.filter(patient=patient).select_related("invited_by__user").order_by("-created_at")[:20]
    )
    statuses = dict(
        Message.objects.filter(
            idempotency_key__in=[f"portal-invitation:{i.public_id}" for i in invitations]
        ).values_list("idempotency_key", "status")
    )
    for invitation in invitations:
        status = statuses.get(f"portal-invitation:{invitation.public_id}")
        invitation.message_status = Message.Status(status).label if status else ""
    context = {
        "patient": patient,
        "form": form,
        "accesses": accesses,
        "invitations": invitations,
        "guardian_prefill": _initial(patient, Relationship.GUARDIAN),
    }
    if request.membership.has_perm(Perm.MESSAGES_VIEW):
        # Portal messages are part of the record: the patient's threads, and whether messaging is on.
        from portal.models import PatientMessaging
        from portal.selectors_messages import threads_for_patient

        context["threads"] = list(threads_for_patient(patient)[:20])
        context["messaging"] = PatientMessaging.objects.filter(patient=patient).first()
        context["can_manage_messaging"] = request.membership.has_perm(Perm.MESSAGING_MANAGE)
    return render(request, T + "patient_portal.html", context)


@require_POST
@patient_view(Perm.PORTAL_INVITE)
def portal_invitation_resend_view(request: HttpRequest, patient: Patient, invitation_id) -> HttpResponse:
    invitation = get_object_or_404(PortalInvitation, public_id=invitation_id, patient=patient)
    try:
        services.portal_invitation_resend(invitation=invitation, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Invitation sent again with a new link. The old link no longer works.")
    return _back(request, patient)


@require_POST
@patient_view(Perm.PORTAL_INVITE)
def portal_invitation_revoke_view(request: HttpRequest, patient: Patient, invitation_id) -> HttpResponse:
    invitation = get_object_or_404(PortalInvitation, public_id=invitation_id, patient=patient)
    try:
        services.portal_invitation_revoke(invitation=invitation, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Invitation revoked. Its link no longer works.")
    return _back(request, patient)


@require_POST
@patient_view(Perm.PORTAL_INVITE)
def portal_access_revoke_view(request: HttpRequest, patient: Patient, access_id) -> HttpResponse:
    access = get_object_or_404(PortalAccess, public_id=access_id, patient=patient)
    try:
        services.portal_access_revoke(access=access, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Portal access revoked.")
    return _back(request, patient)
