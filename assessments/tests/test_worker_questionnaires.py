"""Questionnaire dispatch through a REAL Celery worker (a subprocess: `celery -A config worker
--pool=prefork`) on Redis and PostgreSQL: due questionnaires are sent exactly once (one message
each, one token each), a second beat sends nothing, and an expired link is marked expired.

Needs PostgreSQL (the worker shares the test database) and REDIS_URL; skipped otherwise, with the
reason. Correctness never waits on a sleep: the test polls the database with a deadline.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from assessments.models import Administration
from clinical.tests.factories import CommunicationConsentFactory, PatientFactory
from notifications.models import Message
from notifications.tests.test_worker_reminders import Worker, broker, fake_twilio  # noqa: F401 - fixtures

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

DEADLINE = 90  # seconds; normally a few


def _seed(practice, n: int) -> list[int]:
    ids = []
    with scopes_disabled():
        for _ in range(n):
            patient = PatientFactory(practice=practice)
            CommunicationConsentFactory(patient=patient, channel="email", is_granted=True)
            ids.append(
                Administration.all_objects.create(
                    practice=practice,
                    patient=patient,
                    instrument_code="PHQ-9",
                    channel="email",
                    status=Administration.Status.SCHEDULED,
                    due_at=timezone.now() - timedelta(minutes=1),
                ).pk
            )
    return ids


def _wait(condition, *, what: str, worker: Worker) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.proc.poll() is not None:
            raise AssertionError(f"worker exited: {worker.proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)  # polling interval only; the condition decides
    raise AssertionError(f"timed out waiting for {what}")


def _sent(ids) -> int:
    with scopes_disabled():
        return Administration.all_objects.filter(pk__in=ids, status="sent", message__isnull=False).count()


def test_due_questionnaires_are_sent_once_by_a_real_worker(broker, fake_twilio, practice_a, practice_b):  # noqa: F811
    from assessments.tasks_delivery import administrations_dispatch_due_task, administrations_expire_task

    ids = _seed(practice_a, 12) + _seed(practice_b, 3)
    worker = Worker(redis_url=broker, fake=fake_twilio)
    try:
        administrations_dispatch_due_task.delay()
        administrations_dispatch_due_task.delay()  # a redelivered / overlapping beat
        _wait(lambda: _sent(ids) == 15, what="15 questionnaires sent", worker=worker)
        with scopes_disabled():
            keys = list(
                Message.all_objects.filter(idempotency_key__startswith="questionnaire:").values_list(
                    "idempotency_key", flat=True
                )
            )
            assert sorted(keys) == sorted(f"questionnaire:{pk}" for pk in ids)  # one message each
            hashes = set(Administration.all_objects.filter(pk__in=ids).values_list("token_hash", flat=True))
            assert len(hashes) == 15 and None not in hashes
            Administration.all_objects.filter(pk__in=ids[:2]).update(expires_at=timezone.now() - timedelta(seconds=1))
        administrations_expire_task.delay()
        _wait(
            lambda: Administration.all_objects.filter(pk__in=ids, status="expired").count() == 2,
            what="two links expired",
            worker=worker,
        )
        with scopes_disabled():
            assert Message.all_objects.filter(idempotency_key__startswith="questionnaire:").count() == 15
    finally:
        worker.stop()
