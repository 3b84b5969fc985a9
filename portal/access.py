"""Who the signed-in portal user is acting for, and the decorator every patient-side view uses.

A portal user holds one or more `PortalAccess` rows (their own record, a minor's as guardian, in one
or more practices). The session names the access in use; every portal view runs inside that
access's practice scope with `request.patient` set, and looks objects up *through* that patient, so
another patient's object is a 404 whatever its id.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from practice.middleware import SESSION_IDLE_MINUTES
from practice.scoping import scopes_disabled
from practice.views.errors import not_found

SESSION_PORTAL_ACCESS = "tend_portal_access"


def accesses_of_user(user) -> list:
    """Every active portal access of a user, across practices (crosses practices by design)."""
    from portal.models import PortalAccess

    if not user.is_authenticated:
        return []
    with scopes_disabled():
        return list(
            PortalAccess.all_objects.select_related("practice", "patient")
            .filter(user=user, is_active=True, practice__is_active=True, user__is_active=True)
            .order_by("practice__name", "relationship", "patient__legal_first_name", "id")
        )


def active_access(request: HttpRequest):
    """The access named in the session, else the user's only one; None when a choice is needed."""
    accesses = accesses_of_user(request.user)
    request.portal_accesses = accesses
    chosen = request.session.get(SESSION_PORTAL_ACCESS)
    for access in accesses:
        if str(access.public_id) == chosen:
            return access
    if len(accesses) == 1:
        request.session[SESSION_PORTAL_ACCESS] = str(accesses[0].public_id)
        return accesses[0]
    return None


def portal_user_needs_mfa_code(request: HttpRequest) -> bool:
    """A patient who turned on TOTP must enter a code at sign-in (MFA is optional for patients)."""
    from django_otp import user_has_device

    return user_has_device(request.user, confirmed=True) and not request.user.is_verified()


def portal_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Require a signed-in portal user acting for a patient; run the view in that practice's scope.

    Sets `request.portal_access`, `request.patient` (the record being viewed) and `request.practice`.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=reverse("portal_login"))
        if portal_user_needs_mfa_code(request):
            return redirect_to_login(request.get_full_path(), login_url=reverse("portal_login_verify"))
        access = active_access(request)
        if access is None:
            if request.portal_accesses:
                return redirect(reverse("portal_choose") + "?next=" + request.get_full_path())
            return redirect("portal_no_access")
        practice = access.practice
        request.portal_access, request.patient, request.practice = access, access.patient, practice
        request.session[SESSION_IDLE_MINUTES] = practice.idle_timeout_minutes
        with scope(practice=practice), timezone.override(practice.timezone):
            try:
                response = view(request, *args, **kwargs)
            except Http404:  # render the 404 page while the scope (and the portal menu) still works
                response = not_found(request)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return wrapper


def portal_settings_for(practice):
    """The practice's PortalSettings, created with defaults on first use."""
    from portal.models import PortalSettings

    settings, _ = PortalSettings.all_objects.get_or_create(practice=practice)
    return settings
