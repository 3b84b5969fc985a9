"""Patient side of portal accounts: accept an invitation, sign in (password, then TOTP if turned on),
password reset, choose whose record, account settings, and the home page.

Sign-in follows the staff rules (practice/views/auth.py): django-axes lockout, session keys for the
idle time-out and absolute age, the session registered so "sign out everywhere" ends it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal import services_accounts
from portal.access import (
    SESSION_PORTAL_ACCESS,
    accesses_of_user,
    portal_settings_for,
    portal_user_needs_mfa_code,
    portal_view,
)
from portal.forms_accounts import AcceptInvitationForm, MfaDisableForm
from portal.selectors_home import home_summary
from practice import services
from practice.audit import access_record
from practice.errors import DomainError
from practice.forms import CodeForm, LoginForm, PasswordChangeForm
from practice.middleware import SESSION_LAST_ACTIVITY, SESSION_LOGIN_AT
from practice.models import Membership, User
from practice.views.account import PasswordResetConfirm
from practice.views.auth import PasswordStep, password_step

T = "portal/account/"
PENDING_USER = "tend_portal_pending_user"
PENDING_ATTEMPTS = "tend_portal_pending_attempts"
PENDING_NEXT = "tend_portal_pending_next"
ENROL_DEVICE = "tend_portal_enrol_device"
MAX_CODE_ATTEMPTS = 5


def _safe_next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or request.session.get(PENDING_NEXT) or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return reverse("portal_home")


def portal_user(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in (and past the TOTP step if turned on), before an access is chosen."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=reverse("portal_login"))
        if portal_user_needs_mfa_code(request):
            return redirect_to_login(request.get_full_path(), login_url=reverse("portal_login_verify"))
        return view(request, *args, **kwargs)

    return wrapper


def _complete_login(request: HttpRequest, user: User, device=None) -> HttpResponse:
    next_url = _safe_next(request)
    if not request.user.is_authenticated:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if device is not None:
        otp_login(request, device)
    for key in (PENDING_USER, PENDING_ATTEMPTS, PENDING_NEXT, SESSION_PORTAL_ACCESS):
        request.session.pop(key, None)
    now = timezone.now().isoformat()
    request.session[SESSION_LOGIN_AT] = request.session.get(SESSION_LOGIN_AT, now)
    request.session[SESSION_LAST_ACTIVITY] = now
    services.user_session_register(request=request)
    return HttpResponseRedirect(next_url)


def portal_lockout_response(request: HttpRequest) -> HttpResponse:
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "lockout_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
    return render(request, T + "locked_out.html", context, status=429)


PORTAL_PASSWORD_STEP = PasswordStep(
    pending_user=PENDING_USER,
    pending_attempts=PENDING_ATTEMPTS,
    pending_next=PENDING_NEXT,
    lockout=lambda request: portal_lockout_response(request),
    code_step=lambda user: "portal_login_verify" if services.user_has_mfa(user) else None,
    complete=lambda request, user: _complete_login(request, user),
    safe_next=lambda request: _safe_next(request),
)


def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and not portal_user_needs_mfa_code(request):
        return redirect(_safe_next(request))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        response = password_step(request, form, PORTAL_PASSWORD_STEP)
        if response is not None:
            return response
    return render(request, T + "login.html", {"form": form, "next": request.GET.get("next", "")})


def login_verify_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        user = request.user
        if not portal_user_needs_mfa_code(request):
            return redirect(_safe_next(request))
    else:
        user_id = request.session.get(PENDING_USER)
        user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None:
        return redirect("portal_login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.mfa_verify(user=user, code=form.cleaned_data["code"])
        if device is not None:
            if not request.user.is_authenticated:
                request.session[SESSION_LOGIN_AT] = timezone.now().isoformat()
            return _complete_login(request, user, device)
        attempts = request.session.get(PENDING_ATTEMPTS, 0) + 1
        request.session[PENDING_ATTEMPTS] = attempts
        if attempts >= MAX_CODE_ATTEMPTS:
            logout(request)
            messages.error(request, "Too many wrong codes. Sign in again.")
            return redirect("portal_login")
        form.add_error("code", "That code is not right, or it was already used.")
    return render(request, T + "verify.html", {"form": form, "next": request.GET.get("next", "")})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.success(request, "You are signed out.")
    return redirect("portal_login")


def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services_accounts.portal_invitation_find(token)
    if invitation is None:
        return render(request, T + "invitation_invalid.html", status=404)
    signed_in = request.user.is_authenticated and not portal_user_needs_mfa_code(request)
    form = None
    if not signed_in:
        form = AcceptInvitationForm(request.POST or None, initial={"email": invitation.email})
    if request.method == "POST":
        try:
            if signed_in:
                access = services_accounts.portal_invitation_accept(token=token, user=request.user)
                request.session[SESSION_PORTAL_ACCESS] = str(access.public_id)
                messages.success(request, f"You can now use the {invitation.practice.name} portal.")
                return redirect("portal_home")
            if form is not None and form.is_valid():
                data = form.cleaned_data
                access = services_accounts.portal_invitation_accept(
                    token=token, password=data["password1"], full_name=data["full_name"], email=data["email"]
                )
                request.session.cycle_key()
                request.session[SESSION_LOGIN_AT] = timezone.now().isoformat()
                response = _complete_login(request, access.user)
                request.session[SESSION_PORTAL_ACCESS] = str(access.public_id)
                messages.success(request, "Your account is ready.")
                return response
        except DomainError as exc:
            if form is not None:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.error(request, exc.message)
    context = {"invitation": invitation, "form": form, "signed_in": signed_in, "token": token}
    return render(request, T + "invitation_accept.html", context)


@portal_user
def choose_view(request: HttpRequest) -> HttpResponse:
    accesses = accesses_of_user(request.user)
    if not accesses:
        return redirect("portal_no_access")
    if request.method == "POST":
        chosen = next((a for a in accesses if str(a.public_id) == request.POST.get("access", "")), None)
        if chosen is None:
            raise Http404("No such record.")
        request.session[SESSION_PORTAL_ACCESS] = str(chosen.public_id)
        return redirect(_safe_next(request))
    current = request.session.get(SESSION_PORTAL_ACCESS)
    return render(request, T + "choose.html", {"accesses": accesses, "current": current, "next": _safe_next(request)})


@portal_user
def no_access_view(request: HttpRequest) -> HttpResponse:
    if accesses_of_user(request.user):
        return redirect("portal_home")
    has_staff = Membership.all_objects.filter(user=request.user, is_active=True).exists()
    return render(request, T + "no_access.html", {"has_staff": has_staff}, status=403)


def _url_or_empty(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:  # that area is not built yet
        return ""


@portal_view
def home_view(request: HttpRequest) -> HttpResponse:
    patient = request.patient
    summary = home_summary(patient=patient, settings=portal_settings_for(request.practice))
    access_record(request=request, action="view", target=patient)
    links = {
        name: _url_or_empty(f"portal_{name}")
        for name in ("appointments", "intake", "questionnaires", "messages", "billing")
    }
    return render(request, "portal/home.html", {"summary": summary, "links": links, "patient": patient})


@portal_view
def account_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    action = request.POST.get("action", "") if request.method == "POST" else ""
    password_form = PasswordChangeForm(user, request.POST if action == "password" else None)
    code_form = CodeForm(request.POST if action == "mfa_confirm" else None)
    disable_form = MfaDisableForm(user, request.POST if action == "mfa_disable" else None)
    has_mfa = services.user_has_mfa(user)
    staff_requires_mfa = any(m.requires_mfa for m in Membership.all_objects.filter(user=user, is_active=True))
    enrol = None
    recovery_codes = None
    if action == "password" and password_form.is_valid():
        services.user_password_change(request=request, user=user, new_password=password_form.cleaned_data["password1"])
        messages.success(request, "Your password is changed. Other devices are signed out.")
        return redirect("portal_account")
    if action == "mfa_start" and not has_mfa:
        request.session[ENROL_DEVICE] = services.mfa_totp_start(user=user).pk
    if action == "mfa_confirm" and code_form.is_valid():
        device = TOTPDevice.objects.filter(pk=request.session.get(ENROL_DEVICE), user=user, confirmed=False).first()
        if device is None:
            messages.error(request, "Start again: choose Turn on.")
            return redirect("portal_account")
        try:
            recovery_codes = services.mfa_totp_confirm(device=device, code=code_form.cleaned_data["code"])
        except DomainError as exc:
            code_form.add_error("code", exc.message)
        else:
            request.session.pop(ENROL_DEVICE, None)
            otp_login(request, device)
            has_mfa = True
    if action == "mfa_disable" and disable_form.is_valid():
        if staff_requires_mfa:
            disable_form.add_error(None, "Your staff role needs the authenticator app, so it stays on.")
        else:
            TOTPDevice.objects.filter(user=user).delete()
            StaticDevice.objects.filter(user=user).delete()
            messages.success(request, "Sign-in codes are turned off.")
            return redirect("portal_account")
    if not has_mfa and request.session.get(ENROL_DEVICE):
        device = TOTPDevice.objects.filter(pk=request.session[ENROL_DEVICE], user=user, confirmed=False).first()
        if device is not None:
            import segno

            enrol = {
                "qr_svg": segno.make(device.config_url, error="m").svg_inline(scale=4, border=2, dark="#0f172a"),
                "secret": device.config_url.split("secret=")[1].split("&")[0],
            }
    context = {
        "password_form": password_form,
        "code_form": code_form,
        "disable_form": disable_form,
        "has_mfa": has_mfa,
        "staff_requires_mfa": staff_requires_mfa,
        "enrol": enrol,
        "recovery_codes": recovery_codes,
    }
    return render(request, T + "account.html", context)


class PortalPasswordResetView(auth_views.PasswordResetView):
    template_name = T + "password_reset_form.html"
    email_template_name = T + "password_reset_email.txt"
    subject_template_name = T + "password_reset_subject.txt"
    success_url = reverse_lazy("portal_password_reset_done")


class PortalPasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = T + "password_reset_done.html"


class PortalPasswordResetConfirmView(PasswordResetConfirm):
    """As for staff: the password only; the TOTP code is still asked at the next sign-in."""

    template_name = T + "password_reset_confirm.html"
    success_url = reverse_lazy("portal_password_reset_complete")


class PortalPasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = T + "password_reset_complete.html"
