"""An admin adds a webhook endpoint pointing at a real receiver on 127.0.0.1, copies the secret
(shown once), sends a test event and sees it delivered, signed, in the log."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from integrations.tests.webhook_receiver import LoopbackReceiver
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
def receiver():
    r = LoopbackReceiver().start()
    yield r
    r.stop()


def test_admin_adds_an_endpoint_and_sends_a_test_event(page, receiver):
    PracticeFactory(name="Riverside Counseling", slug="riverside")
    user = UserFactory(email="ada@riverside.test", full_name="Ada Admin")
    with scopes_disabled():
        from practice.models import Practice

        MembershipFactory(practice=Practice.objects.get(slug="riverside"), user=user, role=Role.ADMIN)
    device = totp_device_for(user)
    sign_in_with_totp(page, user, device)

    page.goto(reverse("webhook_list", kwargs={"practice_slug": "riverside"}))
    page.get_by_label("Endpoint URL").fill(receiver.url)
    page.get_by_label("Description").fill("Reporting")
    page.get_by_label("appointment.created", exact=False).check()
    page.get_by_label("claim.status_changed", exact=False).check()
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("[data-secret]").inner_text().strip()
    assert secret.startswith("whsec_")
    receiver.secret = secret

    page.get_by_role("button", name="Send test event").click()
    page.get_by_text("Test event (ping) sent").wait_for()
    page.locator('tr[data-delivery="succeeded"]').wait_for()
    assert secret not in page.content()  # shown once only
    (request,) = receiver.received
    assert request.signature_ok is True and request.headers["Tend-Event-Type"] == "ping"
