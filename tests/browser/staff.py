"""Staff sign-in for browser tests: email + password, then the TOTP step."""

from practice.tests.factories import DEFAULT_PASSWORD, totp_now


def sign_in_with_totp(page, user, device, *, lands_on: str = "**/p/riverside/**") -> None:
    page.goto("/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/login/verify/**")
    page.get_by_label("Code").fill(totp_now(device))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(lands_on)
