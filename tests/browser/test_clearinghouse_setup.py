"""A biller connects the practice to its clearinghouse (a real SFTP server on 127.0.0.1): fetches
the host key and sees its fingerprint, saves the password (never shown again), tests the
connection, runs a sync and reads the transmission log."""

import os

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from billing.tests.factories import ClaimFileFactory
from billing.tests.sftp_server import PASSWORD, LoopbackSftpServer
from practice.permissions import Role
from practice.tests.factories import (
    MembershipFactory,
    PracticeFactory,
    UserFactory,
    totp_device_for,
)
from tests.browser.staff import sign_in_with_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(tmp_path):
    srv = LoopbackSftpServer(tmp_path / "sftp").start()
    yield srv
    srv.stop()


def test_biller_connects_the_clearinghouse_and_sends_a_file(page, server):
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside")
    user = UserFactory(email="bea@riverside.test", full_name="Bea Biller")
    with scopes_disabled():
        MembershipFactory(practice=riverside, user=user, role=Role.BILLER)
    claim_file = ClaimFileFactory(practice=riverside)
    (server.root / "outbound" / "ack-1.999").write_text("ISA*")
    device = totp_device_for(user)
    sign_in_with_totp(page, user, device)

    page.goto(reverse("clearinghouse_settings", kwargs={"practice_slug": "riverside"}))
    page.get_by_label("Clearinghouse name").fill("Example Clearinghouse")
    page.get_by_label("Host", exact=True).fill("127.0.0.1")
    page.get_by_label("Port").fill(str(server.port))
    page.get_by_role("button", name="Fetch host key").click()
    page.locator('[data-fetch-result="ok"]').wait_for()
    assert server.host_key.get_fingerprint("sha256") in page.locator('[data-fetch-result="ok"]').inner_text()
    assert page.get_by_label("Server host key").input_value() == server.host_key_line
    assert page.get_by_label("Host", exact=True).input_value() == "127.0.0.1"  # what was typed is kept
    page.get_by_label("Username").fill("riverside")
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_label("Receiver id").fill("CLEARINGHOUSE")
    page.get_by_label("Receiver name").fill("EXAMPLE CLEARINGHOUSE")
    page.get_by_role("button", name="Save connection").click()
    page.get_by_text("Clearinghouse connection saved.").wait_for()
    assert page.locator("#id_password").input_value() == ""
    assert PASSWORD not in page.content()
    page.get_by_text("A password is saved").wait_for()

    page.get_by_role("button", name="Test connection").click()
    result = page.locator('[data-test-result="ok"]')
    result.wait_for()
    assert "ack-1.999" in result.inner_text()
    if os.environ.get("TEND_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["TEND_SCREENSHOTS"], "clearinghouse-settings.png"), full_page=True)

    page.goto(reverse("transmission_log", kwargs={"practice_slug": "riverside"}))
    page.get_by_role("button", name="Sync now").click()
    page.get_by_text("Sync queued").wait_for()
    page.reload()  # tasks ran inline (eager) after the request committed
    rows = page.locator("tr[data-transmission]")
    assert rows.count() == 3  # the 837 sent, the 999 collected, the folder check
    assert claim_file.filename in page.locator("[data-transmissions]").inner_text()
    assert (server.root / "inbound" / claim_file.filename).exists()
    if os.environ.get("TEND_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["TEND_SCREENSHOTS"], "transmission-log.png"), full_page=True)
