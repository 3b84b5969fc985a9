"""A real Celery worker (celery's embedded test worker) runs tenant-scoped tasks via Redis.

The other tests run tasks eagerly; this one proves the wiring: JSON-serialised ids cross the
broker, the worker re-enters the practice scope, and the task is safe to run twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

from practice.models import Invitation
from practice.permissions import Role

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

TASK_TIMEOUT = 20  # seconds; generous for a loaded CI machine, normally well under one


def _redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("needs Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379/15) to run the real worker")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"needs Redis: {url} is unreachable ({exc.__class__.__name__})")
    return url


@pytest.fixture(scope="module")
def _embedded_worker(django_db_setup, django_db_blocker) -> Iterator[object]:
    """config.celery.app pointed at Redis with eager mode off, and one embedded worker for the module."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the worker thread needs a shared database")
    url = _redis_url()
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url", "result_backend")}
    app.conf.task_always_eager = False
    app.conf.broker_url = url
    app.conf.result_backend = url
    try:
        app.control.purge()  # stale messages of an earlier, aborted run must not run here
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=20):
            yield app
    finally:
        app.conf.update(saved)


@pytest.fixture
def celery_worker_app(_embedded_worker, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    return _embedded_worker


def _invitation(practice, by, email: str) -> Invitation:
    with scopes_disabled():
        return Invitation.all_objects.create(
            practice=practice,
            email=email,
            role=Role.CLINICIAN,
            token_hash=f"unsent-{email}",
            invited_by=by,
            expires_at=timezone.now() + timedelta(days=7),
        )


def _sent_at(invitation: Invitation):
    with scopes_disabled():
        return Invitation.all_objects.get(pk=invitation.pk).sent_at


def test_worker_sends_an_invitation_inside_its_practice_scope_once(
    celery_worker_app, practice_a, practice_b, make_member
):
    from practice.tasks import invitation_send_task

    admin_a = make_member(practice_a, Role.ADMIN, email="admin@riverside.test")
    make_member(practice_b, Role.ADMIN, email="admin@harbor.test")
    invitation = _invitation(practice_a, admin_a, "new.clinician@riverside.test")
    mail.outbox.clear()

    first = invitation_send_task.delay(practice_id=practice_a.pk, invitation_id=invitation.pk)
    assert first.get(timeout=TASK_TIMEOUT) is True
    assert _sent_at(invitation) is not None
    assert [m.to for m in mail.outbox] == [["new.clinician@riverside.test"]]

    again = invitation_send_task.delay(practice_id=practice_a.pk, invitation_id=invitation.pk)
    assert again.get(timeout=TASK_TIMEOUT) is False
    assert len(mail.outbox) == 1


def test_worker_task_with_another_practices_id_touches_nothing(celery_worker_app, practice_a, practice_b, make_member):
    from practice.tasks import invitation_send_task

    admin_a = make_member(practice_a, Role.ADMIN, email="admin@riverside.test")
    invitation = _invitation(practice_a, admin_a, "someone@riverside.test")
    mail.outbox.clear()

    result = invitation_send_task.delay(practice_id=practice_b.pk, invitation_id=invitation.pk)
    assert result.get(timeout=TASK_TIMEOUT) is False
    assert _sent_at(invitation) is None
    with scopes_disabled():
        assert Invitation.all_objects.get(pk=invitation.pk).token_hash == "unsent-someone@riverside.test"
    assert mail.outbox == []
