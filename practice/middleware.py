"""Request plumbing: the practice scope, session time-outs and no-store caching of pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django_scopes import scope

from practice.selectors import membership_for_user

SESSION_LAST_ACTIVITY = "tend_last_activity"
SESSION_LOGIN_AT = "tend_login_at"
SESSION_IDLE_MINUTES = "tend_idle_minutes"
SESSION_ACTIVE_PRACTICE = "tend_active_practice"


class PracticeScopeMiddleware:
    """Resolve ``/p/<practice_slug>/...`` to the user's active membership and run the whole
    request, template rendering included, inside that practice's scope.

    No membership (or another practice's slug) is a 404: the practice's existence is not revealed.
    A role that requires MFA without a verified session goes to MFA set-up or verification.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.practice = None
        request.membership = None
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        slug = match.kwargs.get("practice_slug")
        if not slug or not request.user.is_authenticated:
            return self.get_response(request)
        membership = membership_for_user(user=request.user, practice_slug=slug)
        if membership is None:
            raise Http404("No such practice.")
        if membership.requires_mfa and not request.user.is_verified():
            return HttpResponseRedirect(reverse("mfa_setup") + "?" + urlencode({"next": request.get_full_path()}))
        request.practice, request.membership = membership.practice, membership
        if request.session.get(SESSION_ACTIVE_PRACTICE) != slug:
            request.session[SESSION_ACTIVE_PRACTICE] = slug
        request.session[SESSION_IDLE_MINUTES] = membership.practice.idle_timeout_minutes
        with scope(practice=membership.practice), timezone.override(membership.practice.timezone):
            response = self.get_response(request)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
            return response


class SessionTimeoutMiddleware:
    """Idle time-out (practice setting, default 15 min) and an absolute 12-hour session age.

    ONC 170.315(d)(5) automatic access time-out; ASVS 5.0 V7.3.1/V7.3.2.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = timezone.now()
            session = request.session
            idle = timedelta(minutes=session.get(SESSION_IDLE_MINUTES, settings.DEFAULT_IDLE_TIMEOUT_MINUTES))
            last = _parse(session.get(SESSION_LAST_ACTIVITY))
            login_at = _parse(session.get(SESSION_LOGIN_AT))
            expired_reason = None
            if last and now - last > idle:
                expired_reason = (
                    f"You were signed out after {int(idle.total_seconds() // 60)} minutes without activity."
                )
            elif login_at and now - login_at > settings.SESSION_ABSOLUTE_AGE:
                expired_reason = "Your session reached its 12-hour limit. Please sign in again."
            if expired_reason:
                logout(request)
                if request.path.startswith("/api/"):
                    return self.get_response(request)  # now anonymous: the API answers 401
                messages.info(request, expired_reason)
                # Patients time out back to the portal's sign-in, staff to theirs.
                login_page = "portal_login" if request.path.startswith("/portal/") else settings.LOGIN_URL
                login_url = resolve_url(login_page) + "?" + urlencode({"next": request.get_full_path()})
                if request.headers.get("HX-Request"):
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = login_url
                    return response
                return HttpResponseRedirect(login_url)
            if last is None or now - last > timedelta(seconds=10):
                session[SESSION_LAST_ACTIVITY] = now.isoformat()
        return self.get_response(request)


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class NoStoreMiddleware:
    """Pages with patient data must not linger in browser caches (ONC 170.315(d)(7))."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(settings.STATIC_URL):
            response.setdefault("Cache-Control", "no-store, private")
        return response
