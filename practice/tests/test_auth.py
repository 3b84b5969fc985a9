"""Sign-in, MFA, lockout, time-outs and session ending: the staff access rules of SPEC 2."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled

from practice import services
from practice.models import Membership, User, UserSession
from practice.permissions import Role
from practice.tests.factories import DEFAULT_PASSWORD, totp_device_for, totp_now

pytestmark = pytest.mark.django_db


def _password_step(client: Client, email: str, password: str = DEFAULT_PASSWORD, **extra):
    return client.post(reverse("login"), {"email": email, "password": password}, **extra)


def test_clinician_signs_in_with_password_only(client, clinician_a):
    response = _password_step(client, clinician_a.user.email)
    assert response.status_code == 302
    assert client.get("/p/riverside/").status_code == 200
    assert UserSession.objects.filter(user=clinician_a.user).count() == 1


def test_wrong_password_is_a_form_error_and_signs_nobody_in(client, clinician_a):
    response = _password_step(client, clinician_a.user.email, "not the password")
    assert response.status_code == 200
    assert b"do not match" in response.content
    assert "_auth_user_id" not in client.session


def test_admin_without_a_device_must_enrol_before_anything_else(client, make_member, practice_a):
    admin = make_member(practice_a, Role.ADMIN, email="admin@riverside.test")
    response = _password_step(client, admin.user.email)
    assert response.url == reverse("mfa_setup")
    assert "_auth_user_id" not in client.session  # not signed in until the second factor
    assert client.get("/p/riverside/").status_code == 302

    page = client.get(reverse("mfa_setup"))
    assert page.status_code == 200 and b"<svg" in page.content
    device = TOTPDevice.objects.get(user=admin.user, confirmed=False)
    wrong = client.post(reverse("mfa_setup"), {"code": "000000"})
    assert wrong.status_code == 200 and not TOTPDevice.objects.filter(user=admin.user, confirmed=True).exists()

    done = client.post(reverse("mfa_setup"), {"code": totp_now(device)})
    assert done.url == reverse("mfa_recovery_codes")
    codes_page = client.get(reverse("mfa_recovery_codes"))
    assert codes_page.status_code == 200
    assert StaticToken.objects.filter(device__user=admin.user).count() == services.RECOVERY_CODE_COUNT
    assert client.get("/p/riverside/").status_code == 200


def test_admin_with_a_device_verifies_a_code(client, make_member, practice_a):
    admin = make_member(practice_a, Role.ADMIN)
    device = totp_device_for(admin.user)
    assert _password_step(client, admin.user.email).url == reverse("login_verify")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        bad = client.post(reverse("login_verify"), {"code": "123456"})
        assert bad.status_code == 200 and b"not right" in bad.content
        # django-otp throttles a device after a failure (1 s, doubling): an instant retry fails too
        assert client.post(reverse("login_verify"), {"code": totp_now(device)}).status_code == 200
        clock.shift(timedelta(seconds=5))
        good = client.post(reverse("login_verify"), {"code": totp_now(device)})
    assert good.status_code == 302
    assert client.get("/p/riverside/").status_code == 200


def test_a_recovery_code_works_once(client, make_member, practice_a):
    biller = make_member(practice_a, Role.BILLER)
    totp_device_for(biller.user)
    code = services.mfa_recovery_codes_regenerate(user=biller.user)[0]
    _password_step(client, biller.user.email)
    assert client.post(reverse("login_verify"), {"code": code}).status_code == 302
    client.post(reverse("logout"))
    _password_step(client, biller.user.email)
    again = client.post(reverse("login_verify"), {"code": code})
    assert again.status_code == 200 and "_auth_user_id" not in client.session


def test_five_wrong_codes_end_the_attempt(client, make_member, practice_a):
    admin = make_member(practice_a, Role.OWNER)
    totp_device_for(admin.user)
    _password_step(client, admin.user.email)
    for _ in range(5):
        response = client.post(reverse("login_verify"), {"code": "000000"})
    assert response.url == reverse("login")
    assert client.get(reverse("login_verify")).url == reverse("login")


def test_unverified_session_of_mfa_role_is_sent_to_verify(client, make_member, practice_a, login):
    admin = make_member(practice_a, Role.ADMIN)
    totp_device_for(admin.user)
    login(admin, verified=False)
    response = client.get("/p/riverside/")
    assert response.status_code == 302 and response.url.startswith(reverse("mfa_setup"))
    assert client.get(response.url).url.startswith(reverse("login_verify"))


def test_role_change_to_admin_demands_mfa_on_next_request(client, clinician_a, login, make_member, practice_a):
    login(clinician_a, verified=False)
    assert client.get("/p/riverside/").status_code == 200
    with scopes_disabled():
        Membership.objects.filter(pk=clinician_a.pk).update(role=Role.ADMIN)
    assert client.get("/p/riverside/").url.startswith(reverse("mfa_setup"))


def test_lockout_after_five_failures_even_with_the_right_password(client, clinician_a):
    for _ in range(5):
        _password_step(client, clinician_a.user.email, "wrong password")
    locked = _password_step(client, clinician_a.user.email)
    assert locked.status_code == 429
    assert b"locked for 30 minutes" in locked.content
    assert "_auth_user_id" not in client.session
    # another address is not locked out (no lockout DoS of a clinician from elsewhere)
    other = Client(REMOTE_ADDR="10.9.9.9")
    assert _password_step(other, clinician_a.user.email).status_code == 302


def test_idle_time_out_follows_the_practice_setting(client, clinician_a, login, practice_a):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        login(clinician_a)
        assert client.get("/p/riverside/").status_code == 200
        clock.shift(timedelta(minutes=14))
        assert client.get("/p/riverside/").status_code == 200
        clock.shift(timedelta(minutes=16))
        response = client.get("/p/riverside/")
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
        assert "_auth_user_id" not in client.session


def test_longer_idle_setting_is_respected(client, clinician_a, login, practice_a):
    practice_a.idle_timeout_minutes = 30
    practice_a.save()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        login(clinician_a)
        client.get("/p/riverside/")
        clock.shift(timedelta(minutes=25))
        assert client.get("/p/riverside/").status_code == 200


def test_htmx_request_after_time_out_gets_hx_redirect(client, clinician_a, login):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        login(clinician_a)
        client.get("/p/riverside/")
        clock.shift(timedelta(minutes=20))
        response = client.get("/p/riverside/", HTTP_HX_REQUEST="true")
        assert response.status_code == 204 and response["HX-Redirect"].startswith(reverse("login"))


def test_absolute_session_age_is_twelve_hours(client, clinician_a, login):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        login(clinician_a)
        for _ in range(12 * 6 + 1):  # active every 10 minutes for just over 12 hours
            clock.shift(timedelta(minutes=10))
            response = client.get("/p/riverside/")
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_deactivated_member_is_signed_out_at_once(client, clinician_a, make_member, practice_a):
    owner = make_member(practice_a, Role.OWNER)
    _password_step(client, clinician_a.user.email)
    assert client.get("/p/riverside/").status_code == 200
    with scopes_disabled():
        services.membership_deactivate(membership=clinician_a, by=owner)
    response = client.get("/p/riverside/")
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert not UserSession.objects.filter(user=clinician_a.user).exists()
    # signing in again does not bring the practice back
    _password_step(client, clinician_a.user.email)
    assert client.get("/p/riverside/").status_code == 404


def test_password_change_ends_every_other_session(clinician_a):
    laptop, phone = Client(), Client()
    _password_step(laptop, clinician_a.user.email)
    _password_step(phone, clinician_a.user.email)
    new = "a brand new passphrase 42"
    response = laptop.post(
        reverse("account_password"),
        {"current_password": DEFAULT_PASSWORD, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    assert laptop.get("/p/riverside/").status_code == 200
    assert phone.get("/p/riverside/").status_code == 302
    assert User.objects.get(pk=clinician_a.user.pk).check_password(new)


def test_switching_practice_needs_a_membership_in_each(client, make_member, practice_a, practice_b):
    both = make_member(practice_a, Role.CLINICIAN, email="both@example.test")
    make_member(practice_b, Role.CLINICIAN, user=both.user)
    _password_step(client, both.user.email)
    home = client.get(reverse("home"))
    assert home.status_code == 200  # two practices: a chooser
    assert client.get("/p/riverside/").status_code == 200
    assert client.get("/p/harbor/").status_code == 200
    assert client.get(reverse("home")).url == "/p/harbor/"  # remembers the last one


def test_another_practices_pages_are_404(client, clinician_a, practice_b, login):
    login(clinician_a)
    assert client.get("/p/harbor/").status_code == 404
    assert client.get("/p/no-such-practice/").status_code == 404


def test_pages_carry_security_headers(client, clinician_a, login):
    login(clinician_a)
    response = client.get("/p/riverside/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"


def test_invitation_email_then_acceptance_creates_the_membership(client, make_member, practice_a, login, settings):
    settings.SITE_URL = "http://testserver"
    owner = make_member(practice_a, Role.OWNER)
    with scopes_disabled():
        invitation = services.invitation_create(by=owner, email="New.Hire@Example.test", role=Role.FRONT_DESK)
    # on_commit fires only after the test transaction; run the task directly, twice: one email
    from practice.tasks import invitation_send_task

    invitation_send_task.delay(practice_id=practice_a.pk, invitation_id=invitation.pk)
    invitation_send_task.delay(practice_id=practice_a.pk, invitation_id=invitation.pk)
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/invite/" in line).strip()
    path = link.removeprefix("http://testserver")
    page = client.get(path)
    assert page.status_code == 200
    response = client.post(
        path, {"full_name": "Nia Hire", "password1": "a good long passphrase", "password2": "a good long passphrase"}
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.hire@example.test")
    with scopes_disabled():
        assert Membership.objects.get(user=user).role == Role.FRONT_DESK
    assert client.get(path).status_code == 404  # used once


def test_an_idle_web_session_no_longer_works_for_the_api(client, clinician_a, login):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        login(clinician_a)
        client.get("/p/riverside/")
        assert client.get("/api/v1/me/").status_code == 200
        clock.shift(timedelta(minutes=16))
        assert client.get("/api/v1/me/").status_code in (401, 403)
        assert "_auth_user_id" not in client.session


def test_a_token_created_on_the_account_page_is_shown_once_and_works(client, clinician_a, login):
    login(clinician_a)
    response = client.post(reverse("account_token_create"), {"name": "export script", "practice": "riverside"})
    assert response.status_code == 302
    page = client.get(reverse("account")).content.decode()
    key = page.split('id="new-token-key">')[1].split("<")[0]
    assert key.startswith("tend_")
    assert key not in client.get(reverse("account")).content.decode()  # shown once
    me = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert me.status_code == 200 and me.json()["practice"]["slug"] == "riverside"


def test_a_token_cannot_be_created_for_a_practice_one_is_not_in(client, clinician_a, practice_b, login):
    login(clinician_a)
    client.post(reverse("account_token_create"), {"name": "x", "practice": "harbor"})
    with scopes_disabled():
        from practice.models import ApiToken

        assert not ApiToken.objects.exists()
