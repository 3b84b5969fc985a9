"""Claim scrubbing through a REAL Celery worker (`celery -A config worker --pool=prefork`) on Redis
and PostgreSQL: a batch queued by id is scrubbed, and running it a second time
changes no finding and no count. Skipped without PostgreSQL and REDIS_URL.

Correctness never waits on a sleep of its own: the test polls the database with a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django_scopes import scopes_disabled

from billing import models as bm
from billing.tests.factories import BillingProfileFactory, claim_with_lines

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 90  # seconds; normally a few


def _redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("needs Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379/15) to run real workers")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"needs Redis: {url} is unreachable ({exc.__class__.__name__})")
    return url


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def broker(settings) -> Iterator[str]:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: worker subprocesses share the test database")
    url = _redis_url()
    from config.celery import app

    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url", "result_backend")}
    app.conf.update(task_always_eager=False, broker_url=url, result_backend=url)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.control.purge()
    try:
        yield url
    finally:
        app.control.purge()
        app.conf.update(saved)


@pytest.fixture
def worker(broker) -> Iterator[subprocess.Popen]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": "0",
        "REDIS_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DEBUG": "1",
    }
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "config",
            "worker",
            "--pool=prefork",
            "-c",
            "2",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)


def _wait(predicate, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"worker exited ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)  # polling interval, not a correctness wait
    pytest.fail(f"timed out waiting for {what}")


def _state(ids):
    with scopes_disabled():
        findings = sorted(
            bm.ScrubFinding.all_objects.filter(claim_id__in=ids).values_list(
                "claim_id", "rule_code", "severity", "message"
            )
        )
        counts = sorted(bm.Claim.all_objects.filter(pk__in=ids).values_list("pk", "error_count", "warning_count"))
    return findings, counts


def _events(ids) -> int:
    with scopes_disabled():
        return bm.ClaimEvent.all_objects.filter(claim_id__in=ids).count()


def test_real_worker_scrubs_a_batch_and_a_second_run_changes_nothing(practice_a, practice_b, worker):
    from billing.tasks_scrub import claims_scrub_batch_task
    from clinical.models import DiagnosisCode

    # A transaction=True test before this one flushed the reference data its migration loaded.
    DiagnosisCode.objects.get_or_create(
        code="F33.1", defaults={"description": "Major depressive disorder, recurrent, moderate", "is_billable": True}
    )
    with scopes_disabled():
        BillingProfileFactory(practice=practice_a, tin="12345678")  # R6 on every claim
        claims = [claim_with_lines(practice_a) for _ in range(12)]
        broken = claims[0]
        line = bm.ClaimLine.all_objects.get(claim=broken)
        line.diagnosis_pointers = [3]
        line.save()
        BillingProfileFactory(practice=practice_b)
        theirs = claim_with_lines(practice_b)
    ids = [c.pk for c in claims]

    claims_scrub_batch_task.delay(practice_id=practice_a.pk, claim_ids=[*ids, theirs.pk])

    def scrubbed() -> bool:
        with scopes_disabled():
            return bm.Claim.all_objects.filter(pk__in=ids, scrubbed_at__isnull=False).count() == len(ids)

    _wait(scrubbed, "the first scrub", worker)
    _wait(lambda: _events(ids) == len(ids), "the scrub events", worker)
    first = _state(ids)
    findings, counts = first
    assert {(f[1], f[2]) for f in findings} == {("R6", "error"), ("D6", "error")}
    assert dict((pk, (e, w)) for pk, e, w in counts)[broken.pk] == (2, 0)
    assert all(e == 1 for pk, e, w in counts if pk != broken.pk)
    with scopes_disabled():
        theirs.refresh_from_db()
        assert theirs.scrubbed_at is None  # another practice's id in the list is ignored

    claims_scrub_batch_task.delay(practice_id=practice_a.pk, claim_ids=ids)
    _wait(lambda: _events(ids) == 2 * len(ids), "the second scrub", worker)
    assert _state(ids) == first
