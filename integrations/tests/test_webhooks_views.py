"""Settings → Webhooks pages: add an endpoint (secret shown once), edit events, rotate, switch
off and on, send a test event, read the paginated delivery log and re-send a failed delivery."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from billing.crypto import decrypt
from integrations.models import WebhookDelivery, WebhookEndpoint
from integrations.tests.factories import WebhookDeliveryFactory, WebhookEndpointFactory
from integrations.tests.webhook_receiver import LoopbackReceiver
from practice.permissions import Role

pytestmark = pytest.mark.django_db
S = WebhookDelivery.Status


@pytest.fixture
def receiver():
    r = LoopbackReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def admin_a(make_member, practice_a):
    return make_member(practice_a, Role.ADMIN, email="admin@riverside.test")


def _url(name, **kwargs):
    return reverse(name, kwargs={"practice_slug": "riverside", **kwargs})


def _secret_in(html: str) -> str:
    found = re.findall(r"whsec_[A-Za-z0-9_\-]+", html)
    assert len(set(found)) == 1, found
    return found[0]


def _endpoint_row() -> WebhookEndpoint:
    with scopes_disabled():
        return WebhookEndpoint.all_objects.get()


def test_adding_an_endpoint_shows_its_secret_once(client, login, admin_a, receiver):
    login(admin_a)
    page = client.get(_url("webhook_list"))
    assert page.status_code == 200 and "No endpoints" in page.content.decode()
    answer = client.post(
        _url("webhook_list"),
        {"url": receiver.url, "description": "Reporting", "events": ["appointment.created", "claim.status_changed"]},
    )
    assert answer.status_code == 200
    html = answer.content.decode()
    secret = _secret_in(html)
    endpoint = _endpoint_row()
    assert decrypt(endpoint.secret_encrypted) == secret
    assert endpoint.events == ["appointment.created", "claim.status_changed"]
    assert endpoint.created_by == admin_a and endpoint.url == receiver.url
    again = client.get(_url("webhook_detail", endpoint_id=endpoint.public_id)).content.decode()
    assert secret not in again and "whsec_" not in again
    listing = client.get(_url("webhook_list")).content.decode()
    assert receiver.url in listing and secret not in listing


def test_the_form_shows_field_errors(client, login, admin_a, settings):
    settings.TEND_WEBHOOKS_ALLOW_PRIVATE = False
    login(admin_a)
    answer = client.post(_url("webhook_list"), {"url": "https://10.0.0.5/hooks", "events": []})
    html = answer.content.decode()
    assert answer.status_code == 200
    assert "Choose at least one event." in html
    answer = client.post(_url("webhook_list"), {"url": "https://10.0.0.5/hooks", "events": ["appointment.created"]})
    assert "private network" in answer.content.decode()
    with scopes_disabled():
        assert not WebhookEndpoint.all_objects.exists()


def test_editing_events_and_rotating_the_secret(client, login, admin_a):
    with scopes_disabled():
        endpoint = WebhookEndpointFactory(practice=admin_a.practice, url="https://93.184.215.14/a")
    old = decrypt(endpoint.secret_encrypted)
    login(admin_a)
    answer = client.post(
        _url("webhook_detail", endpoint_id=endpoint.public_id),
        {"url": "https://93.184.215.14/b", "description": "", "events": ["risk_alert.created"]},
    )
    assert answer.status_code == 302
    endpoint = _endpoint_row()
    assert endpoint.events == ["risk_alert.created"] and endpoint.url == "https://93.184.215.14/b"
    answer = client.post(_url("webhook_rotate", endpoint_id=endpoint.public_id))
    secret = _secret_in(answer.content.decode())
    assert secret != old and decrypt(_endpoint_row().secret_encrypted) == secret


def test_switching_off_and_on(client, login, admin_a):
    with scopes_disabled():
        endpoint = WebhookEndpointFactory(practice=admin_a.practice, consecutive_failures=4)
    login(admin_a)
    client.post(_url("webhook_toggle", endpoint_id=endpoint.public_id))
    assert not _endpoint_row().is_active
    page = client.get(_url("webhook_detail", endpoint_id=endpoint.public_id)).content.decode()
    assert "Switched off by staff." in page and "Switch on" in page
    client.post(_url("webhook_toggle", endpoint_id=endpoint.public_id))
    row = _endpoint_row()
    assert row.is_active and row.consecutive_failures == 0


def test_test_event_is_delivered_and_logged(client, login, admin_a, receiver, django_capture_on_commit_callbacks):
    with scopes_disabled():
        endpoint = WebhookEndpointFactory(practice=admin_a.practice, url=receiver.url)
    login(admin_a)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(_url("webhook_test", endpoint_id=endpoint.public_id))
    assert answer.status_code == 302
    html = client.get(answer.url).content.decode()
    assert "Test event (ping) sent" in html
    assert 'data-delivery="succeeded"' in html and ">ping<" in html
    assert len(receiver.received) == 1


def test_delivery_log_is_paginated_filtered_and_query_bounded(
    client, login, admin_a, django_assert_max_num_queries, practice_b
):
    with scopes_disabled():
        endpoint = WebhookEndpointFactory(practice=admin_a.practice)
        for _ in range(27):
            WebhookDeliveryFactory(practice=admin_a.practice, endpoint=endpoint, status=S.SUCCEEDED, attempts=1)
        WebhookDeliveryFactory(
            practice=admin_a.practice, endpoint=endpoint, status=S.FAILED, attempts=8, error="HTTP 503"
        )
        WebhookDeliveryFactory(practice=practice_b)
    login(admin_a)
    url = _url("webhook_detail", endpoint_id=endpoint.public_id)
    with django_assert_max_num_queries(20):
        html = client.get(url).content.decode()
    assert html.count("data-delivery=") == 25 and "Page 1 of 2" in html
    assert client.get(url + "?page=2").content.decode().count("data-delivery=") == 3
    failed = client.get(url + "?status=failed").content.decode()
    assert failed.count("data-delivery=") == 1 and "HTTP 503" in failed and "Re-send" in failed


def test_resending_a_failed_delivery(client, login, admin_a, receiver, django_capture_on_commit_callbacks):
    with scopes_disabled():
        endpoint = WebhookEndpointFactory(practice=admin_a.practice, url=receiver.url)
        delivery = WebhookDeliveryFactory(practice=admin_a.practice, endpoint=endpoint, status=S.FAILED, attempts=8)
    login(admin_a)
    detail = client.get(_url("webhook_delivery", endpoint_id=endpoint.public_id, delivery_id=delivery.public_id))
    assert detail.status_code == 200 and str(delivery.event_id) in detail.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            _url("webhook_delivery_resend", endpoint_id=endpoint.public_id, delivery_id=delivery.public_id),
            follow=True,
        )
    assert "Delivery sent again." in answer.content.decode()
    with scopes_disabled():
        delivery.refresh_from_db()
    assert delivery.status == S.SUCCEEDED and delivery.attempts == 9
    assert len(receiver.received) == 1


def test_a_delivery_of_another_endpoint_is_404(client, login, admin_a):
    with scopes_disabled():
        mine = WebhookEndpointFactory(practice=admin_a.practice)
        other = WebhookDeliveryFactory(practice=admin_a.practice)  # same practice, another endpoint
    login(admin_a)
    url = _url("webhook_delivery", endpoint_id=mine.public_id, delivery_id=other.public_id)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.FRONT_DESK, Role.BILLER])
def test_other_roles_cannot_open_the_page(client, login, make_member, practice_a, role):
    login(make_member(practice_a, role))
    assert client.get(_url("webhook_list")).status_code == 403


def test_the_page_documents_signature_verification(client, login, admin_a):
    login(admin_a)
    html = client.get(_url("webhook_list")).content.decode()
    assert "Tend-Signature" in html and "hmac.compare_digest" in html
