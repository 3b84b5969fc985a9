"""Sign-in with email + password, then TOTP (required for owner, admin and biller roles)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from practice import services
from practice.errors import DomainError
from practice.forms import AcceptInvitationForm, CodeForm, LoginForm
from practice.middleware import SESSION_LAST_ACTIVITY, SESSION_LOGIN_AT
from practice.models import User
from practice.selectors import memberships_of_user

PENDING_USER = "tend_pending_user"
PENDING_ATTEMPTS = "tend_pending_attempts"
PENDING_NEXT = "tend_pending_next"
ENROL_DEVICE = "tend_enrol_device"
RECOVERY_CODES = "tend_recovery_codes"
MAX_CODE_ATTEMPTS = 5


def _safe_next(request: HttpRequest, fallback: str = "") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or request.session.get(PENDING_NEXT) or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return fallback or reverse("home")


def _pending_user(request: HttpRequest) -> User | None:
    """The user who passed the password step but not yet MFA (or a signed-in, unverified user)."""
    if request.user.is_authenticated:
        return request.user
    user_id = request.session.get(PENDING_USER)
    return User.objects.filter(pk=user_id, is_active=True).first() if user_id else None


def _complete_login(request: HttpRequest, user: User, device=None) -> HttpResponse:
    next_url = _safe_next(request)
    if not request.user.is_authenticated:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if device is not None:
        otp_login(request, device)
    for key in (PENDING_USER, PENDING_ATTEMPTS, PENDING_NEXT, ENROL_DEVICE):
        request.session.pop(key, None)
    now = timezone.now().isoformat()
    request.session[SESSION_LOGIN_AT] = request.session.get(SESSION_LOGIN_AT, now)
    request.session[SESSION_LAST_ACTIVITY] = now
    services.user_session_register(request=request)
    return HttpResponseRedirect(next_url)


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The lockout page (also AXES_LOCKOUT_CALLABLE), with the configured limit and cool-off."""
    if request.path.startswith("/portal/"):
        from portal.views_account import portal_lockout_response

        return portal_lockout_response(request)
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "lockout_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
    return render(request, "practice/auth/locked_out.html", context, status=429)


@dataclass(frozen=True)
class PasswordStep:
    """How one sign-in page (staff or portal) continues after a correct password."""

    pending_user: str
    pending_attempts: str
    pending_next: str
    lockout: Callable[[HttpRequest], HttpResponse]
    code_step: Callable[[User], str | None]  # the URL name of the next step, or None to sign in now
    complete: Callable[[HttpRequest, User], HttpResponse]
    safe_next: Callable[[HttpRequest], str]


def password_step(request: HttpRequest, form: LoginForm, step: PasswordStep) -> HttpResponse | None:
    """Check a posted, valid email + password form (django-axes counts failures). Returns the next
    response, or None after adding the form error (the caller re-renders the form)."""
    # `email=` (the USERNAME_FIELD) so django-axes counts failures under this email
    user = authenticate(request, email=form.cleaned_data["email"].lower(), password=form.cleaned_data["password"])
    if getattr(request, "axes_locked_out", False):
        return step.lockout(request)
    if user is None:
        form.add_error(None, "That email and password do not match an active account.")
        return None
    request.session.cycle_key()
    target = step.code_step(user)
    if target is not None:
        request.session[step.pending_user] = user.pk
        request.session[step.pending_attempts] = 0
        request.session[step.pending_next] = step.safe_next(request)
        return redirect(target)
    request.session[SESSION_LOGIN_AT] = timezone.now().isoformat()
    return step.complete(request, user)


def _staff_code_step(user: User) -> str | None:
    if not services.user_requires_mfa(user):
        return None
    return "login_verify" if services.user_has_mfa(user) else "mfa_setup"


STAFF_PASSWORD_STEP = PasswordStep(
    pending_user=PENDING_USER,
    pending_attempts=PENDING_ATTEMPTS,
    pending_next=PENDING_NEXT,
    lockout=lambda request: lockout_response(request),
    code_step=_staff_code_step,
    complete=lambda request, user: _complete_login(request, user),
    safe_next=lambda request: _safe_next(request),
)


def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.user.is_verified():
        return redirect(_safe_next(request))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        response = password_step(request, form, STAFF_PASSWORD_STEP)
        if response is not None:
            return response
    return render(request, "practice/auth/login.html", {"form": form, "next": request.GET.get("next", "")})


def login_verify_view(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        return redirect("login")
    if not services.user_has_mfa(user):
        return redirect("mfa_setup")
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
            return redirect("login")
        form.add_error("code", "That code is not right, or it was already used.")
    return render(request, "practice/auth/verify.html", {"form": form})


def mfa_setup_view(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: scan, confirm a first code, save recovery codes."""
    user = _pending_user(request)
    if user is None:
        return redirect("login")
    if services.user_has_mfa(user) and not request.user.is_authenticated:
        return redirect("login_verify")
    if services.user_has_mfa(user) and not request.user.is_verified():
        return redirect(reverse("login_verify") + ("?next=" + request.GET["next"] if "next" in request.GET else ""))
    device = TOTPDevice.objects.filter(pk=request.session.get(ENROL_DEVICE), user=user, confirmed=False).first()
    if device is None:
        device = services.mfa_totp_start(user=user)
        request.session[ENROL_DEVICE] = device.pk
    form = CodeForm(request.POST or None)
    form.fields["code"].help_text = "The 6-digit code your app shows now."
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.mfa_totp_confirm(device=device, code=form.cleaned_data["code"])
        except DomainError as exc:
            form.add_error("code", exc.message)
        else:
            request.session[RECOVERY_CODES] = codes
            response = _complete_login(request, user, device)
            request.session[PENDING_NEXT] = response["Location"]
            return redirect("mfa_recovery_codes")
    import segno

    qr_svg = segno.make(device.config_url, error="m").svg_inline(scale=4, border=2, dark="#0f172a")
    secret = device.config_url.split("secret=")[1].split("&")[0]
    return render(
        request,
        "practice/auth/mfa_setup.html",
        {"form": form, "qr_svg": qr_svg, "secret": secret, "required": services.user_requires_mfa(user)},
    )


@login_required
def mfa_recovery_codes_view(request: HttpRequest) -> HttpResponse:
    codes = request.session.pop(RECOVERY_CODES, None)
    if not codes:
        return redirect("account")
    next_url = request.session.pop(PENDING_NEXT, None) or reverse("home")
    return render(request, "practice/auth/recovery_codes.html", {"codes": codes, "next": next_url})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.success(request, "You are signed out.")
    return redirect("login")


@login_required
def home_view(request: HttpRequest) -> HttpResponse:
    """Send the user to the practice they last used, or let them choose."""
    memberships = memberships_of_user(user=request.user)
    if not memberships:
        from portal.access import accesses_of_user

        if accesses_of_user(request.user):  # a patient who signed in on the staff page
            return redirect("portal_home")
    last = request.session.get("tend_active_practice")
    for membership in memberships:
        if membership.practice.slug == last:
            return redirect("practice_dashboard", practice_slug=last)
    if len(memberships) == 1:
        return redirect("practice_dashboard", practice_slug=memberships[0].practice.slug)
    return render(request, "practice/auth/choose_practice.html", {"memberships": memberships})


def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_find(token)
    if invitation is None:
        return render(request, "practice/auth/invitation_invalid.html", status=404)
    existing = User.objects.filter(email=invitation.email).first()
    form = AcceptInvitationForm(request.POST or None) if existing is None else None
    if request.method == "POST":
        try:
            if request.user.is_authenticated:
                services.invitation_accept(invitation=invitation, user=request.user)
                messages.success(request, f"You joined {invitation.practice.name}.")
                return redirect("practice_dashboard", practice_slug=invitation.practice.slug)
            if form is not None and form.is_valid():
                services.invitation_accept(
                    invitation=invitation,
                    full_name=form.cleaned_data["full_name"],
                    password=form.cleaned_data["password1"],
                )
                messages.success(request, "Your account is ready. Sign in to continue.")
                return redirect(reverse("login") + f"?next=/p/{invitation.practice.slug}/")
        except DomainError as exc:
            messages.error(request, exc.message)
    return render(
        request,
        "practice/auth/invitation_accept.html",
        {"invitation": invitation, "form": form, "existing": existing, "token": token},
    )
