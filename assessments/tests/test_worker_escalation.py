"""Risk-alert escalation through REAL Celery workers (subprocesses: `celery -A config worker
--pool=prefork -c 2`) on Redis and PostgreSQL, emailing through Django's file backend so the test
can count what was sent.

- overdue alerts go to the clinician's supervisor exactly once, with one PHI-free email each,
  even when several escalation runs for the practice race on two pool processes;
- another period later they go to the owners and admins, again once;
- alerts of another practice and acknowledged alerts are left alone.

Correctness never waits on a sleep: the tests poll the database and the mail directory with a
deadline. Skipped without PostgreSQL and REDIS_URL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

from assessments.models import RiskAlert
from assessments.tests.factories import AssessmentSettingsFactory, RiskAlertFactory
from clinical.tests.factories import PatientFactory
from practice.permissions import Role

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
    app.control.purge()  # stale messages of an earlier, aborted run must not run here
    import redis

    redis.Redis.from_url(url).flushdb()  # the notify claims live in this cache database
    try:
        yield url
    finally:
        app.control.purge()
        app.conf.update(saved)


class Worker:
    """`celery -A config worker --pool=prefork -c 2` in its own process group, mailing to files."""

    def __init__(self, *, redis_url: str, mail_dir: Path) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DATABASE_URL": _database_url(),
            "CONN_MAX_AGE": "0",
            "REDIS_URL": redis_url,
            "CELERY_RESULT_BACKEND": redis_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            # django-environ drops one leading slash of the path: four slashes for an absolute one
            "EMAIL_URL": f"filemail:///{mail_dir}",
            "DEBUG": "1",
            "PYTHONPATH": str(ROOT),  # this checkout's code, whatever the venv's editable install points at
        }
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
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

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)


def _emails(mail_dir: Path) -> list[str]:
    """Every message the workers wrote (the file backend appends messages separated by dashes)."""
    out = []
    for path in sorted(mail_dir.glob("*.log")):
        for chunk in path.read_text().split("-" * 79):
            if "Subject:" in chunk:
                out.append(chunk)
    return out


def _wait(condition, *, what: str, worker: Worker) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.proc.poll() is not None:
            raise AssertionError(f"worker exited: {worker.proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)  # polling interval only; the condition decides
    worker.stop()
    raise AssertionError(f"timed out waiting for {what}: {worker.proc.stderr.read().decode()[-3000:]}")


def _quiet(worker: Worker, seconds: float = 2.0) -> None:
    """Let any stray duplicate run finish (polled, bounded), so a double send would show."""
    until = time.monotonic() + seconds
    _wait(lambda: time.monotonic() > until, what="a quiet period", worker=worker)


def _levels(ids) -> list[int]:
    with scopes_disabled():
        return sorted(RiskAlert.all_objects.filter(pk__in=ids).values_list("escalation_level", flat=True))


@pytest.fixture
def world(practice_a, practice_b, make_member):
    sup = make_member(practice_a, Role.SUPERVISOR, email="sam@riverside.test")
    admin = make_member(practice_a, Role.ADMIN, email="ada@riverside.test")
    owner = make_member(practice_a, Role.OWNER, email="olive@riverside.test")
    clinicians = [
        make_member(practice_a, Role.CLINICIAN, email=f"c{i}@riverside.test", supervisor=sup) for i in range(3)
    ]
    with scopes_disabled():
        AssessmentSettingsFactory(practice=practice_a, escalate_after_minutes=30)
        alerts = []
        for i in range(9):
            patient = PatientFactory(
                practice=practice_a, primary_clinician=clinicians[i % 3], legal_last_name=f"Vance{i}"
            )
            alerts.append(RiskAlertFactory(practice=practice_a, patient=patient))
        done = RiskAlertFactory(practice=practice_a, patient=PatientFactory(practice=practice_a))
        RiskAlert.all_objects.filter(pk=done.pk).update(status="acknowledged", action="contacted")
        other = RiskAlertFactory(practice=practice_b, patient=PatientFactory(practice=practice_b))
        old = timezone.now() - timedelta(minutes=45)
        RiskAlert.all_objects.filter(pk__in=[a.pk for a in [*alerts, done, other]]).update(created_at=old)
    return {"sup": sup, "admin": admin, "owner": owner, "alerts": alerts, "done": done, "other": other}


def test_racing_escalation_runs_move_each_alert_once_and_email_once(broker, world, tmp_path, practice_a):
    from assessments.tasks_alerts import risk_alerts_escalate_practice_task, risk_alerts_escalate_task

    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    ids = [a.pk for a in world["alerts"]]
    worker = Worker(redis_url=broker, mail_dir=mail_dir)
    try:
        # three runs for the same practice at once on two pool processes, plus the beat's fan-out
        for _ in range(3):
            risk_alerts_escalate_practice_task.delay(practice_id=practice_a.pk)
        risk_alerts_escalate_task.delay()
        _wait(lambda: _levels(ids) == [1] * 9, what="9 alerts at level 1", worker=worker)
        _wait(lambda: len(_emails(mail_dir)) >= 9, what="9 supervisor emails", worker=worker)
        risk_alerts_escalate_task.delay()  # the next beat: nothing new is due
        _quiet(worker)
        level1 = _emails(mail_dir)
        assert len(level1) == 9
        assert all("To: sam@riverside.test" in m for m in level1)
        for message in level1:
            assert "A questionnaire response needs your review in Tend" in message
            assert "escalated" in message
            assert "Vance" not in message and "PHQ" not in message

        # another period later: the owners and admins
        with scopes_disabled():
            RiskAlert.all_objects.filter(pk__in=ids).update(escalated_at=timezone.now() - timedelta(minutes=31))
        risk_alerts_escalate_task.delay()
        risk_alerts_escalate_practice_task.delay(practice_id=practice_a.pk)
        _wait(lambda: _levels(ids) == [2] * 9, what="9 alerts at level 2", worker=worker)
        _wait(lambda: len(_emails(mail_dir)) >= 18, what="9 admin emails", worker=worker)
        _quiet(worker)
    finally:
        worker.stop()
    emails = _emails(mail_dir)
    assert len(emails) == 18
    to_admins = [m for m in emails if "ada@riverside.test" in m]
    assert len(to_admins) == 9 and all("olive@riverside.test" in m for m in to_admins)
    with scopes_disabled():
        done = RiskAlert.all_objects.get(pk=world["done"].pk)
        other = RiskAlert.all_objects.get(pk=world["other"].pk)
        supervisor_targets = set(RiskAlert.all_objects.filter(pk__in=ids).values_list("escalated_to_id", flat=True))
    assert done.escalation_level == 0
    assert other.escalation_level == 0  # practice_b's limit (default 240 min) is not reached
    assert supervisor_targets == {world["sup"].pk}
