"""Patient sign-in: lockout, TOTP when turned on, password reset, choose/switch, no-access, staff-page redirect."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from clinical.tests.factories import PatientFactory
from portal.access import SESSION_PORTAL_ACCESS
from portal.models import Relationship
from portal.tests.factories import PortalAccessFactory
from practice.middleware import SESSION_LOGIN_AT
from practice.models import UserSession
from practice.permissions import Role
from practice.tests.factories import DEFAULT_PASSWORD, totp_device_for, totp_now

pytestmark = pytest.mark.django_db


@pytest.fixture
def access(practice_a):
    with scopes_disabled():
        return PortalAccessFactory(practice=practice_a)


def _login(client, email, password=DEFAULT_PASSWORD):
    return client.post(reverse("portal_login"), {"email": email, "password": password})


def test_patient_signs_in_and_lands_on_home_with_session_keys(client, access):
    response = _login(client, access.user.email)
    assert response.status_code == 302 and response.url == reverse("portal_home")
    assert SESSION_LOGIN_AT in client.session
    assert UserSession.objects.filter(user=access.user).count() == 1
    assert client.get(reverse("portal_home")).status_code == 200


def test_lockout_after_the_failure_limit(client, access):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, access.user.email, "wrong password")
    locked = _login(client, access.user.email)
    assert locked.status_code == 429 and b"paused" in locked.content
    assert "_auth_user_id" not in client.session
    assert _login(Client(REMOTE_ADDR="10.9.9.9"), access.user.email).status_code == 302


def test_patient_with_totp_must_give_a_code(client, access):
    device = totp_device_for(access.user)
    response = _login(client, access.user.email)
    assert response.url == reverse("portal_login_verify")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("portal_home")).status_code == 302
    assert client.post(reverse("portal_login_verify"), {"code": "000000"}).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        good = client.post(reverse("portal_login_verify"), {"code": totp_now(device)})
        assert good.status_code == 302
        assert client.get(reverse("portal_home")).status_code == 200


def test_password_reset_sends_an_email_and_the_link_works(client, access):
    response = client.post(reverse("portal_password_reset"), {"email": access.user.email})
    assert response.url == reverse("portal_password_reset_done")
    assert len(mail.outbox) == 1 and "patient portal" in mail.outbox[0].body
    link = re.search(r"https?://[^/]+(/portal/reset/\S+)", mail.outbox[0].body).group(1)
    form_url = client.get(link).url  # Django swaps the token for a session marker
    new = "a brand new passphrase 77"
    done = client.post(form_url, {"new_password1": new, "new_password2": new})
    assert done.url == reverse("portal_password_reset_complete")
    assert _login(client, access.user.email, new).status_code == 302


def test_choose_and_switch_between_own_and_a_minors_record(client, access, practice_a, practice_b):
    with scopes_disabled():
        child = PortalAccessFactory(
            practice=practice_b,
            user=access.user,
            relationship=Relationship.GUARDIAN,
            patient=PatientFactory(practice=practice_b),
        )
    client.force_login(access.user)
    response = client.get(reverse("portal_home"))
    assert response.status_code == 302 and response.url.startswith(reverse("portal_choose"))
    page = client.get(reverse("portal_choose"))
    assert str(access.public_id).encode() in page.content and str(child.public_id).encode() in page.content
    client.post(reverse("portal_choose"), {"access": str(child.public_id)})
    assert client.session[SESSION_PORTAL_ACCESS] == str(child.public_id)
    home = client.get(reverse("portal_home"))
    assert home.status_code == 200 and child.patient.display_name.encode() in home.content


def test_choose_refuses_someone_elses_access(client, access, practice_a):
    with scopes_disabled():
        other = PortalAccessFactory(practice=practice_a)
    client.force_login(access.user)
    assert client.post(reverse("portal_choose"), {"access": str(other.public_id)}).status_code == 404
    assert client.session.get(SESSION_PORTAL_ACCESS) != str(other.public_id)


def test_staff_user_without_portal_access_sees_the_no_access_page(client, make_member, practice_a):
    member = make_member(practice_a, Role.FRONT_DESK)
    client.force_login(member.user)
    response = client.get(reverse("portal_home"), follow=True)
    assert response.status_code == 403 and b"no patient record" in response.content


def test_revoked_access_ends_portal_use(client, access, make_member, practice_a):
    client.force_login(access.user)
    assert client.get(reverse("portal_home")).status_code == 200
    with scopes_disabled():
        access.is_active = False
        access.save()
    assert client.get(reverse("portal_home")).url == reverse("portal_no_access")


def test_patient_on_the_staff_login_page_lands_on_the_portal(client, access):
    client.post(reverse("login"), {"email": access.user.email, "password": DEFAULT_PASSWORD})
    assert client.get(reverse("home")).url == reverse("portal_home")


def test_account_page_turns_totp_on_and_off(client, access):
    client.force_login(access.user)
    url = reverse("portal_account")
    assert client.get(url).status_code == 200
    client.post(url, {"action": "mfa_start"})
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=access.user, confirmed=False)
    on = client.post(url, {"action": "mfa_confirm", "code": totp_now(device)})
    assert on.status_code == 200 and b"recovery codes" in on.content
    assert TOTPDevice.objects.filter(user=access.user, confirmed=True).exists()
    assert client.get(reverse("portal_home")).status_code == 200  # this session is verified
    off = client.post(url, {"action": "mfa_disable", "password": DEFAULT_PASSWORD})
    assert off.status_code == 302 and not TOTPDevice.objects.filter(user=access.user).exists()


def test_logout_is_post_only(client, access):
    client.force_login(access.user)
    assert client.get(reverse("portal_logout")).status_code == 405
    assert client.post(reverse("portal_logout")).url == reverse("portal_login")
    assert "_auth_user_id" not in client.session
