"""An admin signs in with password + TOTP, lands on the practice dashboard and switches practice."""

import pytest
from django_scopes import scopes_disabled

from practice.permissions import Role
from practice.tests.factories import (
    DEFAULT_PASSWORD,
    MembershipFactory,
    PracticeFactory,
    UserFactory,
    totp_device_for,
    totp_now,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_signs_in_with_totp_and_switches_practice(page):
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside")
    harbor = PracticeFactory(name="Harbor Behavioral Health", slug="harbor")
    user = UserFactory(email="ada@riverside.test", full_name="Ada Admin")
    with scopes_disabled():
        MembershipFactory(practice=riverside, user=user, role=Role.ADMIN)
        MembershipFactory(practice=harbor, user=user, role=Role.CLINICIAN)
    device = totp_device_for(user)

    page.goto("/p/riverside/")
    assert "/login/" in page.url
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/login/verify/**")
    page.get_by_label("Code").fill(totp_now(device))
    page.get_by_role("button", name="Verify").click()

    page.wait_for_url("**/p/riverside/")
    assert page.get_by_role("heading", level=1).first.inner_text()
    assert "Riverside Counseling" in page.content()

    page.locator("[data-test=practice-switcher] summary").click()
    page.locator("[data-test=practice-switcher]").get_by_role("link", name="Harbor Behavioral Health").click()
    page.wait_for_url("**/p/harbor/")
    assert "Harbor Behavioral Health" in page.locator("[data-test=practice-switcher] summary").inner_text()
