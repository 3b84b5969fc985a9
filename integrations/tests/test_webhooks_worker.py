"""A real Celery worker (celery's embedded test worker, Redis broker, PostgreSQL) delivers an
emitted event to the loopback receiver: the id crosses the broker as JSON, the worker re-enters
the practice's scope, signs and posts. Skipped without PostgreSQL and REDIS_URL."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from django.db import connection, transaction
from django_scopes import scopes_disabled

from integrations.models import WebhookDelivery
from integrations.tests.webhook_receiver import LoopbackReceiver
from integrations.webhooks import webhook_emit, webhook_endpoint_create
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

DEADLINE = 30  # seconds; normally well under one


def _redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("needs Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379/25) to run the real worker")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"needs Redis: {url} is unreachable ({exc.__class__.__name__})")
    return url


@pytest.fixture
def worker(settings) -> Iterator[object]:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the worker thread needs a shared database")
    url = _redis_url()
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url", "result_backend")}
    app.conf.update(task_always_eager=False, broker_url=url, result_backend=url)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    try:
        app.control.purge()
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=20):
            yield app
    finally:
        app.control.purge()
        app.conf.update(saved)


@pytest.fixture
def receiver():
    r = LoopbackReceiver().start()
    yield r
    r.stop()


def test_the_worker_delivers_an_emitted_event_to_the_receiver(worker, receiver, practice_a, make_member):
    admin = make_member(practice_a, Role.ADMIN, email="admin@riverside.test")
    with practice_scope(practice_a):
        _endpoint, secret = webhook_endpoint_create(by=admin, url=receiver.url, events=["appointment.created"])
    receiver.secret = secret
    data = {"object": "appointment", "id": "0b5e8f44-1d9a-4b8e-9d55-3f1f0f7c2a10", "status": "scheduled"}
    with practice_scope(practice_a), transaction.atomic():
        (delivery_id,) = webhook_emit(practice_a.pk, "appointment.created", data)  # queued on commit

    deadline = time.monotonic() + DEADLINE
    status = None
    while time.monotonic() < deadline:
        with scopes_disabled():
            status = WebhookDelivery.all_objects.values_list("status", flat=True).get(pk=delivery_id)
        if status == WebhookDelivery.Status.SUCCEEDED:
            break
        time.sleep(0.05)  # polling a real worker with a deadline, not waiting for correctness
    assert status == WebhookDelivery.Status.SUCCEEDED
    (request,) = receiver.received
    assert request.signature_ok is True
    assert request.headers["Tend-Event-Type"] == "appointment.created"
    with scopes_disabled():
        delivery = WebhookDelivery.all_objects.get(pk=delivery_id)
    assert delivery.attempts == 1 and request.headers["Tend-Event-Id"] == str(delivery.event_id)
