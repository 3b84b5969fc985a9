"""An admin creates an API key, sees it once, uses it, and revokes it; the API docs page renders
its operations under the Content-Security-Policy with no violation in the console."""

import re

import pytest
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from integrations.models import ApiKey
from practice.permissions import Role
from practice.tests.factories import (
    MembershipFactory,
    PracticeFactory,
    UserFactory,
    totp_device_for,
)
from tests.browser.staff import sign_in_with_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, user):
    device = totp_device_for(user)
    sign_in_with_totp(page, user, device, lands_on="**/p/riverside/")


def _me(raw: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client.get("/api/v1/me/").status_code


def test_admin_creates_a_key_sees_it_once_and_revokes_it(page):
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside")
    user = UserFactory(email="ada@riverside.test", full_name="Ada Admin")
    with scopes_disabled():
        MembershipFactory(practice=riverside, user=user, role=Role.ADMIN)
    _sign_in(page, user)

    page.goto("/p/riverside/integrations/api-keys/")
    assert "No API keys yet." in page.content()
    page.get_by_label("Name").fill("Outcomes warehouse")
    page.get_by_label("Practice (locations, staff): read").check()
    page.get_by_label("Assessments: read").check()
    page.get_by_role("button", name="Create key").click()

    secret = page.locator("#new-api-key")
    raw = secret.inner_text().strip()
    assert re.fullmatch(r"tendk_[A-Za-z0-9_-]{40,}", raw)
    assert "shown only this once" in page.content()
    assert _me(raw) == 200

    page.get_by_role("link", name="Done").click()
    table = page.locator("[data-test=api-keys]")
    assert "Outcomes warehouse" in table.inner_text()
    assert "practice:read" in table.inner_text() and "assessments:read" in table.inner_text()
    assert raw not in page.content()  # never shown again

    page.on("dialog", lambda dialog: dialog.accept())  # the confirm() before revoking
    table.get_by_role("button", name="Revoke").click()
    page.wait_for_selector("text=revoked. Requests with it are now refused.")
    assert "Revoked" in page.locator("[data-test=api-keys]").inner_text()
    with scopes_disabled():
        assert ApiKey.all_objects.get().revoked_at is not None
    assert _me(raw) == 401


def test_the_api_docs_page_renders_operations_without_csp_violations(page, live_server):
    problems, elsewhere = [], []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("request", lambda req: None if req.url.startswith(live_server.url) else elsewhere.append(req.url))
    with page.expect_response(lambda r: "/api/schema/" in r.url) as schema_response:
        page.goto("/api/docs/")
    page.wait_for_selector(".opblock-summary", timeout=20_000)
    # Swagger UI virtualises long lists (only what is on screen is in the DOM), so the tags are
    # read from the schema the page loaded; the first tag's operations are on screen.
    tags = {
        operation["tags"][0] for path in schema_response.value.json()["paths"].values() for operation in path.values()
    }
    assert {
        "clinical",
        "scheduling",
        "assessments",
        "billing",
        "notifications",
        "integrations",
        "practice",
        "auth",
    } <= tags
    assert page.locator(".opblock-summary-path", has_text="/api/v1/administrations/").count() >= 1
    page.locator(".btn.authorize").first.click()  # both credentials are described
    dialog = page.locator(".modal-ux").inner_text()
    assert "tokenAuth" in dialog and "apiKeyAuth" in dialog
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
    assert problems == []
    assert [u for u in elsewhere if not u.startswith(("data:", "blob:"))] == []
