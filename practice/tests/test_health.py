"""/healthz: reports each dependency, 503 only when the database is down, never leaks config."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from practice.views import health


@pytest.fixture
def no_redis(settings):
    settings.REDIS_URL = ""
    settings.CELERY_TASK_ALWAYS_EAGER = True


def test_healthz_is_ok_without_auth(client, db, no_redis):
    r = client.get("/healthz")

    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert isinstance(body["checks"]["database"]["ms"], float)
    assert body["checks"]["redis"] == {"ok": True, "detail": "not configured"}
    assert body["checks"]["celery"] == {"ok": True, "detail": "eager mode, no worker needed"}


def test_healthz_answers_head_but_not_post(client, db, no_redis):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_database_down_is_503(client, db, no_redis, monkeypatch):
    class BrokenCursor:
        def __enter__(self):
            raise OperationalError("could not connect to server: password=hunter2")

        def __exit__(self, *exc):
            return False

    class BrokenConnection:
        def cursor(self):
            return BrokenCursor()

    monkeypatch.setattr(health, "connection", BrokenConnection())

    r = health.healthz(_get_request())

    assert r.status_code == 503
    assert b'"status": "down"' in r.content
    assert b"hunter2" not in r.content  # exception text (it may hold credentials) is never shown


def test_unreachable_redis_and_broker_are_degraded_with_200_and_no_url(client, db, settings, monkeypatch):
    settings.REDIS_URL = "redis://:s3cret@127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from config.celery import app

    class Unreachable:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def ensure_connection(self, **kwargs):
            raise ConnectionRefusedError

    monkeypatch.setattr(app, "connection_for_write", lambda: Unreachable())

    r = client.get("/healthz")

    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["celery"] == {"ok": False, "workers": 0, "detail": "broker unreachable"}
    assert b"s3cret" not in r.content and b"127.0.0.1" not in r.content


@pytest.mark.parametrize(
    ("replies", "ok"), [([{"celery@a": {"ok": "pong"}}, {"celery@b": {"ok": "pong"}}], True), ([], False)]
)
def test_celery_check_counts_workers_that_answer(settings, monkeypatch, replies, ok):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from config.celery import app

    class Connected:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def ensure_connection(self, **kwargs):
            return self

    monkeypatch.setattr(app, "connection_for_write", lambda: Connected())
    monkeypatch.setattr(app.control, "ping", lambda timeout, connection: replies)

    assert health.check_celery() == {"ok": ok, "workers": len(replies)}


def _get_request():
    from django.test import RequestFactory

    return RequestFactory().get("/healthz")
