"""Practice administration pages (settings, locations, staff, invitations, audit log).

Thin views: parse the form, call one service or selector, render. Objects are looked up through
the scoped managers, so another practice's object is a 404. Services refuse with DomainError,
shown on the form field it names (or as a message).
"""

from __future__ import annotations

import copy
import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from uuid import UUID

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from practice import selectors, services
from practice.audit import access_record
from practice.errors import DomainError
from practice.forms import AuditSearchForm, InviteForm, LocationForm, MembershipForm, PracticeSettingsForm
from practice.models import AccessEvent, AuditLogEntry, Invitation, Location, Membership
from practice.permissions import ASSIGNABLE_ROLES, Perm, Role
from practice.views.base import practice_view

AUDIT_PAGE_SIZE = 50
AUDIT_TABS = ("access", "changes")


def _post_data(request: HttpRequest):
    return request.POST if request.method == "POST" else None


def _show_error(form: forms.Form, exc: DomainError | ValidationError) -> None:
    """Put a service's refusal on the form: on the field it names when the form has it, else on top."""
    if isinstance(exc, DomainError):
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- Settings --------------------------------------------------------------------------------


@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
def settings_view(request: HttpRequest) -> HttpResponse:
    # The form validates a copy, so a refused change never shows up in the page chrome.
    form = PracticeSettingsForm(_post_data(request), instance=copy.copy(request.practice))
    if request.method == "POST" and form.is_valid():
        try:
            services.practice_update_settings(practice=request.practice, by=request.membership, **form.cleaned_data)
        except (DomainError, ValidationError) as exc:
            _show_error(form, exc)
        else:
            messages.success(request, "Practice settings saved.")
            return redirect("practice_settings", practice_slug=request.practice.slug)
    return render(request, "practice/admin/settings.html", {"form": form})


# --- Locations -------------------------------------------------------------------------------


@practice_view(Perm.LOCATION_VIEW)
def location_list_view(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "practice/admin/location_list.html",
        {
            "locations": selectors.location_list(),
            "can_manage": request.membership.has_perm(Perm.PRACTICE_MANAGE_LOCATIONS),
        },
    )


@practice_view(Perm.PRACTICE_MANAGE_LOCATIONS)
def location_create_view(request: HttpRequest) -> HttpResponse:
    form = LocationForm(_post_data(request), initial={"timezone": request.practice.timezone})
    if request.method == "POST" and form.is_valid():
        try:
            location = services.location_save(by=request.membership, **form.cleaned_data)
        except (DomainError, ValidationError) as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"Location “{location.name}” added.")
            return redirect("location_detail", practice_slug=request.practice.slug, public_id=location.public_id)
    return render(request, "practice/admin/location_form.html", {"form": form})


@practice_view(Perm.LOCATION_VIEW)
def location_detail_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    location = get_object_or_404(Location.objects, public_id=public_id)
    can_manage = request.membership.has_perm(Perm.PRACTICE_MANAGE_LOCATIONS)
    if request.method == "POST" and not can_manage:
        raise PermissionDenied
    form = None
    if can_manage:
        form = LocationForm(_post_data(request), instance=copy.copy(location))
        if request.method == "POST" and form.is_valid():
            try:
                location = services.location_save(by=request.membership, location=location, **form.cleaned_data)
            except (DomainError, ValidationError) as exc:
                _show_error(form, exc)
            else:
                messages.success(request, f"Location “{location.name}” saved.")
                return redirect("location_detail", practice_slug=request.practice.slug, public_id=location.public_id)
    if request.method == "GET":
        access_record(request=request, action=AccessEvent.Action.VIEW, target=location)
    return render(
        request, "practice/admin/location_detail.html", {"location": location, "form": form, "can_manage": can_manage}
    )


# --- Staff -----------------------------------------------------------------------------------


@practice_view(Perm.STAFF_VIEW)
def staff_list_view(request: HttpRequest) -> HttpResponse:
    can_manage = request.membership.has_perm(Perm.STAFF_MANAGE)
    return render(
        request,
        "practice/admin/staff_list.html",
        {
            "members": selectors.staff_directory(),
            "invitations": selectors.invitation_pending_list() if can_manage else None,
            "can_manage": can_manage,
        },
    )


@practice_view(Perm.STAFF_MANAGE)
def staff_invite_view(request: HttpRequest) -> HttpResponse:
    form = InviteForm(_post_data(request), assignable_roles=ASSIGNABLE_ROLES.get(request.membership.role, frozenset()))
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.invitation_create(
                by=request.membership,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                is_licensed=form.cleaned_data["is_licensed"],
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}. It is valid for 7 days.")
            return redirect("staff_list", practice_slug=request.practice.slug)
    return render(request, "practice/admin/staff_invite.html", {"form": form})


def _can_edit_member(by: Membership, member: Membership) -> bool:
    """Staff managers edit anyone but an owner; only an owner edits an owner."""
    return by.has_perm(Perm.STAFF_MANAGE) and (member.role != Role.OWNER or by.role == Role.OWNER)


@practice_view(Perm.STAFF_VIEW)
def staff_detail_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    member = get_object_or_404(Membership.objects.select_related("user", "supervisor__user"), public_id=public_id)
    by = request.membership
    can_edit = _can_edit_member(by, member)
    if request.method == "POST" and not can_edit:
        raise PermissionDenied
    form = None
    if can_edit:
        form = MembershipForm(
            _post_data(request),
            initial={
                "role": member.role,
                "title": member.title,
                "is_licensed": member.is_licensed,
                "supervisor": member.supervisor,
            },
            assignable_roles=ASSIGNABLE_ROLES.get(by.role, frozenset()),
            supervisors=selectors.supervisor_choices(exclude=member),
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                services.membership_update(
                    membership=member,
                    by=by,
                    role=data["role"],
                    is_licensed=data["is_licensed"],
                    supervisor=data["supervisor"],
                    title=data["title"],
                )
            except (DomainError, ValidationError) as exc:
                _show_error(form, exc)
            else:
                messages.success(request, f"Changes to {member.user.display_name} saved.")
                return redirect("staff_detail", practice_slug=request.practice.slug, public_id=member.public_id)
    context = {
        "member": member,
        "form": form,
        "can_edit": can_edit,
        "can_change_status": can_edit and member.pk != by.pk,
        "has_mfa": services.user_has_mfa(member.user),
        "supervisees": member.supervisees.select_related("user").filter(is_active=True).order_by("user__full_name"),
    }
    return render(request, "practice/admin/staff_detail.html", context)


@practice_view(Perm.STAFF_MANAGE)
@require_POST
def staff_deactivate_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    member = get_object_or_404(Membership.objects.select_related("user"), public_id=public_id)
    try:
        services.membership_deactivate(membership=member, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"{member.user.display_name} was deactivated. Their sessions and API tokens have ended."
        )
    return redirect("staff_detail", practice_slug=request.practice.slug, public_id=member.public_id)


@practice_view(Perm.STAFF_MANAGE)
@require_POST
def staff_reactivate_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    member = get_object_or_404(Membership.objects.select_related("user"), public_id=public_id)
    try:
        services.membership_reactivate(membership=member, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{member.user.display_name} can use this practice again.")
    return redirect("staff_detail", practice_slug=request.practice.slug, public_id=member.public_id)


# --- Invitations -----------------------------------------------------------------------------


def _invitations_url(request: HttpRequest) -> str:
    return reverse("staff_list", kwargs={"practice_slug": request.practice.slug}) + "#invitations"


@practice_view(Perm.STAFF_MANAGE)
@require_POST
def invitation_revoke_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    invitation = get_object_or_404(Invitation.objects, public_id=public_id)
    try:
        services.invitation_revoke(invitation=invitation, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Invitation to {invitation.email} revoked. Its link no longer works.")
    return redirect(_invitations_url(request))


@practice_view(Perm.STAFF_MANAGE)
@require_POST
def invitation_resend_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    invitation = get_object_or_404(Invitation.objects, public_id=public_id)
    try:
        services.invitation_resend(invitation=invitation, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Invitation sent again to {invitation.email}, with a new 7-day link.")
    return redirect(_invitations_url(request))


# --- Audit log -------------------------------------------------------------------------------


def _audit_search(request: HttpRequest) -> tuple[AuditSearchForm, dict | None, str | None]:
    """The filter form, and the selector filters it gives (None when the filters are invalid)."""
    form = AuditSearchForm(request.GET, members=selectors.member_list())
    if not form.is_valid():
        return form, None, None
    data = form.cleaned_data
    filters = {
        "user": data["member"].user if data["member"] else None,
        "patient_id": data["patient_id"],
        "start": data["start"],
        "end": data["end"],
    }
    return form, filters, data["action"] or None


def _query_without(request: HttpRequest, *names: str) -> str:
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


@practice_view(Perm.AUDIT_VIEW)
def audit_log_view(request: HttpRequest) -> HttpResponse:
    form, filters, action = _audit_search(request)
    tab = request.GET.get("tab") if request.GET.get("tab") in AUDIT_TABS else "access"
    if filters is None:
        access_events, change_events = AccessEvent.objects.none(), AuditLogEntry.objects.none()
    else:
        access_events = selectors.access_event_search(action=action, **filters)
        change_events = selectors.change_event_search(**filters)
    shown = access_events if tab == "access" else change_events
    page_obj = Paginator(shown, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "tab": tab,
        "page_obj": page_obj,
        "access_count": page_obj.paginator.count if tab == "access" else access_events.count(),
        "change_count": page_obj.paginator.count if tab == "changes" else change_events.count(),
        "querystring": _query_without(request, "page"),
        "filter_querystring": _query_without(request, "page", "tab"),
        "can_export": request.membership.has_perm(Perm.AUDIT_EXPORT),
        "is_filtered": any(request.GET.get(name) for name in form.fields),
    }
    return render(request, "practice/admin/audit_log.html", context)


class _Echo:
    """A file-like object whose write() returns the line, for csv.writer over a stream."""

    def write(self, value: str) -> str:
        return value


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A CSV cell that spreadsheet software will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def _when(value: datetime, tz) -> str:
    return timezone.localtime(value, tz).isoformat()


AUDIT_CSV_HEADER = [
    "log",
    "occurred_at",
    "user_email",
    "user_name",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "ip_address",
    "detail",
    "chain_seq",
    "entry_hash",
]


def _audit_rows(access_events: Iterable[AccessEvent], change_events: Iterable[AuditLogEntry], tz) -> Iterator[list]:
    yield AUDIT_CSV_HEADER
    for e in access_events:
        user = e.user
        detail = e.path + (f" | reason: {e.reason}" if e.reason else "")
        yield [
            "access",
            _when(e.occurred_at, tz),
            user.email if user else "",
            user.display_name if user else ("API token" if e.api_token_id else ""),
            e.action,
            e.object_type,
            e.object_id,
            e.patient_id or "",
            e.ip_address or "",
            detail,
            e.seq,
            e.entry_hash,
        ]
    for c in change_events:
        actor = c.actor
        content_type = c.content_type
        yield [
            "change",
            _when(c.timestamp, tz),
            actor.email if actor else "",
            actor.display_name if actor else "",
            c.get_action_display().lower(),
            f"{content_type.app_label}.{content_type.model}" if content_type else "",
            c.object_pk,
            (c.additional_data or {}).get("patient_id", "") if isinstance(c.additional_data, dict) else "",
            c.remote_addr or "",
            json.dumps(c.changes_dict, sort_keys=True, default=str) if c.changes else "",
            c.seq,
            c.entry_hash,
        ]


@practice_view(Perm.AUDIT_EXPORT)
def audit_log_export_view(request: HttpRequest) -> HttpResponse:
    _form, filters, action = _audit_search(request)
    if filters is None:
        messages.error(request, "Fix the audit log filters before exporting.")
        return redirect(
            reverse("audit_log", kwargs={"practice_slug": request.practice.slug}) + "?" + request.GET.urlencode()
        )
    query = _query_without(request, "page", "tab")
    access_record(
        request=request,
        action=AccessEvent.Action.EXPORT,
        object_type="practice.accessevent",
        reason=f"Audit log export. Filters: {query or 'none'}",
    )
    # The querysets carry the practice filter from here; they are read while the response streams,
    # after the request's scope has ended, and never re-enter a scoped manager.
    access_events = selectors.access_event_search(action=action, **filters).iterator(chunk_size=2000)
    change_events = selectors.change_event_search(**filters).iterator(chunk_size=2000)
    writer = csv.writer(_Echo())
    rows = _audit_rows(access_events, change_events, timezone.get_current_timezone())
    response = StreamingHttpResponse(
        (writer.writerow([_cell(v) for v in row]) for row in rows), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="audit-{request.practice.slug}-{stamp}.csv"'
    return response
