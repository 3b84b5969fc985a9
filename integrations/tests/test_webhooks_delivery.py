"""Webhook signing, emitting on commit, delivery with backoff against a real receiver on
127.0.0.1, claims, SSRF refusals, and switching an endpoint off after repeated failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django_scopes import scopes_disabled

from integrations import webhooks
from integrations.models import WebhookDelivery, WebhookEndpoint
from integrations.tasks_webhooks import webhook_deliver_task, webhooks_send_due_task
from integrations.tests.factories import WebhookDeliveryFactory, WebhookEndpointFactory
from integrations.tests.webhook_receiver import LoopbackReceiver
from integrations.webhooks import webhook_emit
from practice.errors import DomainError
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DATA = {"object": "appointment", "id": "8d1f0c1e-0000-4000-8000-000000000001", "status": "scheduled"}
S = WebhookDelivery.Status


@pytest.fixture
def receiver():
    r = LoopbackReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def admin_a(make_member, practice_a):
    return make_member(practice_a, Role.ADMIN, email="admin@riverside.test")


@pytest.fixture
def owner_a(make_member, practice_a):
    return make_member(practice_a, Role.OWNER, email="owner@riverside.test")


def _endpoint(admin, url, events=("appointment.created",)):
    with practice_scope(admin.practice):
        return webhooks.webhook_endpoint_create(by=admin, url=url, events=list(events))


def _get(delivery_id) -> WebhookDelivery:
    with scopes_disabled():
        return WebhookDelivery.all_objects.select_related("endpoint").get(pk=delivery_id)


def _emit(practice, capture, event="appointment.created", data=DATA):
    with capture(execute=True), practice_scope(practice):
        return webhook_emit(practice.pk, event, data)


# --- signing -------------------------------------------------------------------------------------


def test_signature_matches_a_known_vector():
    body = b'{"id":"evt_1"}'
    expected = "c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925"
    assert webhooks.signature_compute(secret="whsec_test", timestamp=1700000000, body=body) == expected
    header = webhooks.signature_header(secret="whsec_test", timestamp=1700000000, body=body)
    assert header == f"t=1700000000,v1={expected}"
    assert webhooks.signature_verify(secret="whsec_test", header=header, body=body, now=1700000100)


def test_signature_check_refuses_another_body_secret_or_an_old_timestamp():
    body = b'{"id":"evt_1"}'
    header = webhooks.signature_header(secret="whsec_test", timestamp=1700000000, body=body)
    assert not webhooks.signature_verify(secret="whsec_test", header=header, body=b'{"id":"evt_2"}', now=1700000000)
    assert not webhooks.signature_verify(secret="whsec_other", header=header, body=body, now=1700000000)
    assert not webhooks.signature_verify(secret="whsec_test", header=header, body=body, now=1700000000 + 301)
    assert not webhooks.signature_verify(secret="whsec_test", header="v1=abc", body=body, now=1700000000)


def test_new_endpoint_secret_is_returned_once_and_stored_encrypted(admin_a):
    endpoint, secret = _endpoint(admin_a, "https://93.184.215.14/hooks")
    assert secret.startswith("whsec_") and len(secret) > 30
    assert secret not in endpoint.secret_encrypted
    from billing.crypto import decrypt

    assert decrypt(endpoint.secret_encrypted) == secret


# --- emitting --------------------------------------------------------------------------------------


def test_emit_records_one_delivery_per_active_subscribed_endpoint_of_the_practice(practice_a, practice_b):
    with scopes_disabled():
        wanted = WebhookEndpointFactory(practice=practice_a, events=["appointment.created", "claim.status_changed"])
        WebhookEndpointFactory(practice=practice_a, events=["claim.status_changed"])  # not subscribed
        WebhookEndpointFactory(practice=practice_a, events=["appointment.created"], is_active=False)
        WebhookEndpointFactory(practice=practice_b, events=["appointment.created"])  # other practice
    with practice_scope(practice_a):
        ids = webhook_emit(practice_a.pk, "appointment.created", DATA)
    assert len(ids) == 1
    delivery = _get(ids[0])
    assert delivery.endpoint_id == wanted.pk and delivery.status == S.PENDING and delivery.attempts == 0
    payload = delivery.payload
    assert set(payload) == {"id", "type", "created", "practice", "data"}
    assert payload["id"] == str(delivery.event_id)
    assert payload["type"] == "appointment.created"
    assert payload["practice"] == str(practice_a.public_id)
    assert payload["data"] == DATA
    datetime.fromisoformat(payload["created"])


def test_emit_with_no_subscribed_endpoint_records_nothing(practice_a):
    with practice_scope(practice_a):
        assert webhook_emit(practice_a.pk, "risk_alert.created", {"object": "risk_alert", "id": "x"}) == []
    with scopes_disabled():
        assert WebhookDelivery.all_objects.count() == 0


def test_emit_refuses_an_unknown_event(practice_a):
    with pytest.raises(ValueError):
        webhook_emit(practice_a.pk, "patient.deleted", {})


def test_delivery_is_queued_on_commit_only(practice_a, receiver, django_capture_on_commit_callbacks):
    with scopes_disabled():
        WebhookEndpointFactory(practice=practice_a, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=False) as callbacks, practice_scope(practice_a):
        webhook_emit(practice_a.pk, "appointment.created", DATA)
        assert receiver.received == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    assert len(receiver.received) == 1


def test_rolled_back_change_sends_nothing(practice_a, receiver, django_capture_on_commit_callbacks):
    with scopes_disabled():
        WebhookEndpointFactory(practice=practice_a, url=receiver.url)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        practice_scope(practice_a),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        webhook_emit(practice_a.pk, "appointment.created", DATA)
        raise RuntimeError("the change failed")
    assert callbacks == []
    assert receiver.received == []
    with scopes_disabled():
        assert WebhookDelivery.all_objects.count() == 0


# --- delivering ------------------------------------------------------------------------------------


def test_receiver_failing_twice_then_succeeding_gets_three_signed_attempts_with_backoff(
    admin_a, receiver, django_capture_on_commit_callbacks
):
    practice = admin_a.practice
    _endpoint_row, secret = _endpoint(admin_a, receiver.url)
    receiver.secret, receiver.statuses = secret, [500, 500]

    with time_machine.travel(START, tick=False):
        (delivery_id,) = _emit(practice, django_capture_on_commit_callbacks)  # first attempt at once
    first = _get(delivery_id)
    assert (first.status, first.attempts, first.response_status) == (S.RETRYING, 1, 500)
    assert first.last_attempted_at == START
    assert timedelta(seconds=54) <= first.next_attempt_at - START <= timedelta(seconds=66)
    assert first.error == "HTTP 500"

    with time_machine.travel(START + timedelta(seconds=50), tick=False):
        assert webhooks_send_due_task() == 0  # not due yet: nothing sent
    assert len(receiver.received) == 1

    second_at = first.next_attempt_at + timedelta(seconds=1)
    with time_machine.travel(second_at, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert webhooks_send_due_task() == 1
    second = _get(delivery_id)
    assert (second.status, second.attempts, second.last_attempted_at) == (S.RETRYING, 2, second_at)
    assert timedelta(seconds=270) <= second.next_attempt_at - second_at <= timedelta(seconds=330)

    third_at = second.next_attempt_at + timedelta(seconds=1)
    with time_machine.travel(third_at, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert webhooks_send_due_task() == 1
    done = _get(delivery_id)
    assert (done.status, done.attempts, done.response_status, done.error) == (S.SUCCEEDED, 3, 200, "")
    assert done.delivered_at is not None and done.response_body == '{"ok": true}'
    assert done.endpoint.consecutive_failures == 0 and done.endpoint.is_active

    assert [r.signature_ok for r in receiver.received] == [True, True, True]
    assert {r.headers["Tend-Event-Id"] for r in receiver.received} == {str(done.event_id)}
    assert [r.headers["Tend-Delivery-Attempt"] for r in receiver.received] == ["1", "2", "3"]
    assert {r.headers["Tend-Event-Type"] for r in receiver.received} == {"appointment.created"}
    assert len({r.body for r in receiver.received}) == 1  # the same bytes every time
    assert json.loads(receiver.received[0].body)["data"] == DATA
    with time_machine.travel(third_at + timedelta(days=2), tick=False):
        assert webhooks_send_due_task() == 0  # a succeeded delivery is never sent again


def test_an_attempt_is_claimed_once(admin_a, receiver):
    endpoint, _secret = _endpoint(admin_a, receiver.url)
    with scopes_disabled():
        delivery = WebhookDeliveryFactory(practice=admin_a.practice, endpoint=endpoint)
    with practice_scope(admin_a.practice):
        assert webhooks.webhook_delivery_send(delivery_id=delivery.pk) == "succeeded"
        assert webhooks.webhook_delivery_send(delivery_id=delivery.pk) == "skipped"
        # a worker that read the row before the first claim loses the conditional UPDATE
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=S.RETRYING, attempts=0)
        stale = WebhookDelivery.objects.get(pk=delivery.pk)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=1)
        assert (
            WebhookDelivery.objects.filter(pk=stale.pk, status=stale.status, attempts=stale.attempts).update(
                attempts=stale.attempts + 1
            )
            == 0
        )
    assert len(receiver.received) == 1


def test_an_attempt_in_flight_is_not_due_again_until_its_lease_ends(admin_a, receiver):
    endpoint, _secret = _endpoint(admin_a, receiver.url)
    with scopes_disabled():
        delivery = WebhookDeliveryFactory(practice=admin_a.practice, endpoint=endpoint, next_attempt_at=START)
        # claimed by a worker that then died before recording the outcome
        WebhookDelivery.all_objects.filter(pk=delivery.pk).update(attempts=1, next_attempt_at=START + webhooks.LEASE)
    with time_machine.travel(START + timedelta(seconds=30), tick=False):
        assert webhooks_send_due_task() == 0
    with time_machine.travel(START + webhooks.LEASE + timedelta(seconds=1), tick=False):
        assert webhooks_send_due_task() == 1
    assert _get(delivery.pk).status == S.SUCCEEDED and _get(delivery.pk).attempts == 2


def test_redirects_are_not_followed(admin_a, receiver):
    receiver.statuses = [302]
    endpoint, _secret = _endpoint(admin_a, receiver.url)
    with scopes_disabled():
        delivery = WebhookDeliveryFactory(practice=admin_a.practice, endpoint=endpoint)
    webhook_deliver_task(practice_id=admin_a.practice_id, delivery_id=delivery.pk)
    row = _get(delivery.pk)
    assert row.status == S.RETRYING and row.response_status == 302
    assert "redirects are not followed" in row.error
    assert len(receiver.received) == 1


def test_a_closed_port_is_recorded_as_a_connection_failure(admin_a):
    endpoint, _secret = _endpoint(admin_a, "http://127.0.0.1:9/hooks")
    with scopes_disabled():
        delivery = WebhookDeliveryFactory(practice=admin_a.practice, endpoint=endpoint)
    webhook_deliver_task(practice_id=admin_a.practice_id, delivery_id=delivery.pk)
    row = _get(delivery.pk)
    assert row.status == S.RETRYING and row.response_status is None and row.error.startswith("Connection failed")


def test_a_task_given_another_practice_touches_nothing(admin_a, practice_b, receiver):
    endpoint, _secret = _endpoint(admin_a, receiver.url)
    with scopes_disabled():
        delivery = WebhookDeliveryFactory(practice=admin_a.practice, endpoint=endpoint)
    assert webhook_deliver_task(practice_id=practice_b.pk, delivery_id=delivery.pk) == "skipped"
    assert _get(delivery.pk).attempts == 0 and receiver.received == []


def test_exhausted_delivery_fails_and_switches_the_endpoint_off_with_one_email_to_owners_and_admins(
    admin_a, owner_a, make_member, practice_b, receiver, django_capture_on_commit_callbacks
):
    make_member(admin_a.practice, Role.CLINICIAN, email="clinician@riverside.test")
    make_member(practice_b, Role.ADMIN, email="admin@harbor.test")
    receiver.statuses = [503] * webhooks.MAX_ATTEMPTS
    endpoint, _secret = _endpoint(admin_a, receiver.url)
    mail.outbox.clear()
    when = START
    with time_machine.travel(when, tick=False):
        (delivery_id,) = _emit(admin_a.practice, django_capture_on_commit_callbacks)
    for _ in range(webhooks.MAX_ATTEMPTS - 1):
        when = _get(delivery_id).next_attempt_at + timedelta(seconds=1)
        with time_machine.travel(when, tick=False), django_capture_on_commit_callbacks(execute=True):
            assert webhooks_send_due_task() == 1
    row = _get(delivery_id)
    assert (row.status, row.attempts) == (S.FAILED, webhooks.MAX_ATTEMPTS)
    assert len(receiver.received) == webhooks.MAX_ATTEMPTS
    with scopes_disabled():
        endpoint = WebhookEndpoint.all_objects.get(pk=endpoint.pk)
    assert not endpoint.is_active and endpoint.disabled_at is not None
    assert f"failed {webhooks.MAX_ATTEMPTS} times" in endpoint.disabled_reason
    assert [sorted(m.to) for m in mail.outbox] == [["admin@riverside.test", "owner@riverside.test"]]
    assert endpoint.url in mail.outbox[0].body and str(endpoint.public_id) in mail.outbox[0].body
    with time_machine.travel(when + timedelta(days=3), tick=False):
        assert webhooks_send_due_task() == 0


def test_ten_failures_in_a_row_switch_the_endpoint_off_once(
    admin_a, receiver, django_capture_on_commit_callbacks, practice_a
):
    receiver.statuses = [500] * 20
    endpoint, _secret = _endpoint(admin_a, receiver.url)
    mail.outbox.clear()
    for _ in range(webhooks.DISABLE_AFTER_FAILURES + 2):
        _emit(practice_a, django_capture_on_commit_callbacks)
    with scopes_disabled():
        endpoint = WebhookEndpoint.all_objects.get(pk=endpoint.pk)
        statuses = list(WebhookDelivery.all_objects.values_list("status", "attempts"))
    assert not endpoint.is_active
    assert endpoint.consecutive_failures == webhooks.DISABLE_AFTER_FAILURES
    assert "10 deliveries in a row failed" in endpoint.disabled_reason
    assert len(receiver.received) == webhooks.DISABLE_AFTER_FAILURES  # nothing sent once it was off
    assert statuses.count((S.RETRYING, 1)) == webhooks.DISABLE_AFTER_FAILURES
    assert len(mail.outbox) == 1 and mail.outbox[0].subject == "A webhook endpoint was switched off"
    with practice_scope(practice_a):  # the notice is sent once per switch-off, however often it is queued
        assert webhooks.webhook_endpoint_disabled_notify(endpoint_id=endpoint.pk) == 0


def test_a_success_resets_the_failure_count(admin_a, receiver, django_capture_on_commit_callbacks):
    receiver.statuses = [500, 500, 500]
    endpoint, _secret = _endpoint(admin_a, receiver.url)
    for _ in range(4):
        _emit(admin_a.practice, django_capture_on_commit_callbacks)
    with scopes_disabled():
        endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.is_active


def test_switching_on_again_resets_the_count_and_waiting_deliveries_resume(admin_a, receiver):
    endpoint, _secret = _endpoint(admin_a, receiver.url)
    with scopes_disabled():
        delivery = WebhookDeliveryFactory(practice=admin_a.practice, endpoint=endpoint, status=S.RETRYING)
        WebhookEndpoint.all_objects.filter(pk=endpoint.pk).update(is_active=False, consecutive_failures=10)
    assert webhooks_send_due_task() == 0
    with practice_scope(admin_a.practice):
        endpoint = webhooks.webhook_endpoint_set_active(endpoint=endpoint, by=admin_a, is_active=True)
    assert endpoint.consecutive_failures == 0 and endpoint.disabled_at is None
    assert webhooks_send_due_task() == 1
    assert _get(delivery.pk).status == S.SUCCEEDED


def test_resend_tries_a_failed_delivery_once_more(admin_a, receiver, django_capture_on_commit_callbacks):
    endpoint, _secret = _endpoint(admin_a, receiver.url)
    with scopes_disabled():
        delivery = WebhookDeliveryFactory(
            practice=admin_a.practice, endpoint=endpoint, status=S.FAILED, attempts=webhooks.MAX_ATTEMPTS
        )
    with practice_scope(admin_a.practice), django_capture_on_commit_callbacks(execute=True):
        webhooks.webhook_delivery_resend(delivery=delivery, by=admin_a)
    row = _get(delivery.pk)
    assert (row.status, row.attempts) == (S.SUCCEEDED, webhooks.MAX_ATTEMPTS + 1)
    with practice_scope(admin_a.practice), pytest.raises(DomainError):
        webhooks.webhook_delivery_resend(delivery=row, by=admin_a)  # only failed ones


def test_ping_goes_to_that_endpoint_only(admin_a, receiver, django_capture_on_commit_callbacks):
    endpoint, secret = _endpoint(admin_a, receiver.url, events=["claim.status_changed"])
    receiver.secret = secret
    with practice_scope(admin_a.practice), django_capture_on_commit_callbacks(execute=True):
        delivery = webhooks.webhook_endpoint_send_test(endpoint=endpoint, by=admin_a)
    assert _get(delivery.pk).status == S.SUCCEEDED
    (request,) = receiver.received
    assert request.signature_ok and request.headers["Tend-Event-Type"] == "ping"
    assert json.loads(request.body)["data"] == {"object": "webhook_endpoint", "id": str(endpoint.public_id)}


def test_a_clinician_cannot_manage_endpoints(make_member, practice_a):
    clinician = make_member(practice_a, Role.CLINICIAN)
    with practice_scope(practice_a), pytest.raises(DomainError):
        webhooks.webhook_endpoint_create(by=clinician, url="https://93.184.215.14/", events=["ping"])


def test_unknown_or_no_events_are_refused(admin_a):
    with practice_scope(admin_a.practice):
        for events in ([], ["patient.created"]):
            with pytest.raises(DomainError) as exc:
                webhooks.webhook_endpoint_create(by=admin_a, url="https://93.184.215.14/", events=events)
            assert exc.value.field == "events"


# --- SSRF and scheme -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.215.14/hooks",  # plain http
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://172.16.0.1/hooks",
        "https://169.254.169.254/latest/meta-data",  # cloud metadata (link-local)
        "https://[::1]/hooks",
        "https://[fd00::1]/hooks",
        "https://[::ffff:10.0.0.1]/hooks",
        "https://user:pw@93.184.215.14/hooks",
        "ftp://93.184.215.14/hooks",
    ],
)
def test_private_addresses_and_plain_http_are_refused_in_production(settings, url):
    settings.TEND_WEBHOOKS_ALLOW_PRIVATE = False
    settings.TEND_WEBHOOKS_ALLOW_HTTP = False
    settings.DEBUG = False
    with pytest.raises(DomainError) as exc:
        webhooks.url_check(url)
    assert exc.value.field == "url"


def test_a_public_https_address_is_accepted_in_production(settings):
    settings.TEND_WEBHOOKS_ALLOW_PRIVATE = False
    settings.TEND_WEBHOOKS_ALLOW_HTTP = False
    webhooks.url_check("https://93.184.215.14/hooks")


def test_a_host_resolving_to_a_private_address_is_refused(settings, monkeypatch):
    settings.TEND_WEBHOOKS_ALLOW_PRIVATE = False
    monkeypatch.setattr(webhooks, "_resolve", lambda host, port: ["10.0.0.7"])
    with pytest.raises(DomainError):
        webhooks.url_check("https://hooks.internal.example/tend")


def test_send_time_check_refuses_a_host_that_now_resolves_privately(admin_a, receiver, settings):
    endpoint, _secret = _endpoint(admin_a, receiver.url)
    settings.TEND_WEBHOOKS_ALLOW_PRIVATE = False
    with scopes_disabled():
        delivery = WebhookDeliveryFactory(practice=admin_a.practice, endpoint=endpoint)
    webhook_deliver_task(practice_id=admin_a.practice_id, delivery_id=delivery.pk)
    row = _get(delivery.pk)
    assert row.status == S.RETRYING and "private address" in row.error
    assert receiver.received == []
