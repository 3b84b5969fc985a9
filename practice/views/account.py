"""The signed-in user's own account: profile, password, MFA, sessions and API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from practice import selectors, services
from practice.forms import ApiTokenCreateForm, CodeForm, PasswordChangeForm, ProfileForm
from practice.models import ApiToken, UserSession
from practice.views.auth import RECOVERY_CODES


@login_required
def account_view(request: HttpRequest) -> HttpResponse:
    profile_form = ProfileForm(request.POST or None, initial={"full_name": request.user.full_name})
    if request.method == "POST" and profile_form.is_valid():
        request.user.full_name = profile_form.cleaned_data["full_name"]
        request.user.save(update_fields=["full_name"])
        messages.success(request, "Profile saved.")
        return redirect("account")
    context = {
        "profile_form": profile_form,
        "password_form": PasswordChangeForm(request.user),
        "code_form": CodeForm(),
        "has_mfa": services.user_has_mfa(request.user),
        "mfa_required": services.user_requires_mfa(request.user),
        "recovery_codes_left": sum(d.token_set.count() for d in StaticDevice.objects.filter(user=request.user)),
        "sessions": UserSession.objects.filter(user=request.user).order_by("-created_at"),
        "current_session_key": request.session.session_key,
        "tokens": selectors.api_token_list(user=request.user),
        "token_form": ApiTokenCreateForm(memberships=selectors.memberships_of_user(user=request.user)),
        "new_token": request.session.pop(NEW_TOKEN, None),
        "memberships": selectors.memberships_of_user(user=request.user),
    }
    return render(request, "practice/account/account.html", context)


@login_required
def password_change_view(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.user_password_change(request=request, user=request.user, new_password=form.cleaned_data["password1"])
        messages.success(
            request, "Password changed. You were signed out everywhere else, and your API tokens were revoked."
        )
        return redirect("account")
    return render(request, "practice/account/password_change.html", {"form": form})


def _check_code(request: HttpRequest) -> CodeForm:
    form = CodeForm(request.POST)
    if form.is_valid() and services.mfa_verify(user=request.user, code=form.cleaned_data["code"]) is None:
        form.add_error("code", "That code is not right, or it was already used.")
    return form


@login_required
@require_POST
def recovery_codes_regenerate_view(request: HttpRequest) -> HttpResponse:
    form = _check_code(request)
    if not form.is_valid():
        messages.error(request, "Enter a current code from your authenticator app to make new recovery codes.")
        return redirect("account")
    request.session[RECOVERY_CODES] = services.mfa_recovery_codes_regenerate(user=request.user)
    return redirect("mfa_recovery_codes")


@login_required
@require_POST
def mfa_replace_view(request: HttpRequest) -> HttpResponse:
    """Move to a new phone: prove the old factor, then enrol a new one."""
    form = _check_code(request)
    if not form.is_valid():
        messages.error(request, "Enter a current code (or a recovery code) to replace your authenticator.")
        return redirect("account")
    TOTPDevice.objects.filter(user=request.user).delete()
    return redirect("mfa_setup")


@login_required
@require_POST
def sessions_end_others_view(request: HttpRequest) -> HttpResponse:
    ended = services.user_sessions_end(user=request.user, keep_session_key=request.session.session_key)
    messages.success(request, f"Signed out of {ended} other session{'s' if ended != 1 else ''}.")
    return redirect("account")


NEW_TOKEN = "tend_new_api_token"  # noqa: S105 (a session key name)


@login_required
@require_POST
def api_token_create_view(request: HttpRequest) -> HttpResponse:
    """Issue a token for one of the user's memberships; the key is shown once, on the next page."""
    memberships = selectors.memberships_of_user(user=request.user)
    form = ApiTokenCreateForm(request.POST, memberships=memberships)
    if not form.is_valid():
        messages.error(request, "Choose a practice and a name for the token.")
        return redirect("account")
    membership = next(m for m in memberships if m.practice.slug == form.cleaned_data["practice"])
    if services.user_requires_mfa(request.user) and not request.user.is_verified():
        messages.error(request, "Verify with your authenticator app before creating API tokens.")
        return redirect("login_verify")
    token, raw = services.api_token_issue(membership=membership, name=form.cleaned_data["name"])
    request.session[NEW_TOKEN] = {"key": raw, "name": token.name, "practice": membership.practice.name}
    return redirect("account")


@login_required
@require_POST
def api_token_revoke_view(request: HttpRequest, token_id) -> HttpResponse:
    token = ApiToken.all_objects.filter(public_id=token_id, membership__user=request.user).first()
    if token is None:
        raise Http404
    services.api_token_revoke(token=token, by=request.user)
    messages.success(request, f"Token {token.key_prefix}… revoked.")
    return redirect("account")


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    """A reset changes the password only; MFA is still asked at the next sign-in (ASVS 6.4.3)."""

    success_url = reverse_lazy("password_reset_complete")
    post_reset_login = False

    def form_valid(self, form):
        response = super().form_valid(form)
        services.user_sessions_end(user=form.user)
        ApiToken.all_objects.filter(membership__user=form.user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        return response
