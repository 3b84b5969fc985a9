"""Reminders through REAL Celery workers (subprocesses: `celery -A config worker --pool=prefork`)
on Redis and PostgreSQL, sending SMS with the official Twilio client to a fake Twilio HTTP server
on 127.0.0.1 that counts what reaches it.

- a batch of due reminders is sent exactly once;
- two dispatch runs at the same time still send each reminder once;
- a worker killed with SIGKILL in the middle of a batch, then another worker started: every
  reminder reaches Twilio exactly once (none lost, none duplicated).

Correctness never waits on a sleep: the tests poll the database and the fake server with a deadline.
The recovery beat job's 10-minute threshold is compressed to a few seconds here (the same code path).
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

from clinical.tests.factories import CommunicationConsentFactory
from notifications.models import Message, Reminder
from notifications.tests.factories import NotificationSettingsFactory, ReminderFactory, ReminderRuleFactory
from notifications.tests.fake_twilio import FakeTwilio
from scheduling.tests.factories import AppointmentFactory, AttendeeFactory

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 90  # seconds; normally a few
ACCOUNT = "ACfake0000000000000000000000000000"


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
    try:
        yield url
    finally:
        app.control.purge()
        app.conf.update(saved)


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


class Worker:
    """`celery -A config worker --pool=prefork -c 2` in its own process group."""

    def __init__(self, *, redis_url: str, fake: FakeTwilio, send_delay: float = 0.0) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DATABASE_URL": _database_url(),
            "CONN_MAX_AGE": "0",
            "REDIS_URL": redis_url,
            "CELERY_RESULT_BACKEND": redis_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "TEND_SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": "fake-token",
            "TWILIO_API_BASE": fake.url,
            "TEND_NOTIFICATIONS_TEST_SEND_DELAY": str(send_delay),
            "TEND_REMINDER_BATCH_SIZE": "10",
            "DEBUG": "1",
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
            start_new_session=True,  # its own process group: kill -9 reaches the pool children too
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def _seed(practice, n: int) -> list[int]:
    """n due SMS reminders (one appointment and patient each, SMS consent granted)."""
    now = timezone.now()
    ids = []
    with scopes_disabled():
        NotificationSettingsFactory(practice=practice, sms_from_number="+15035550100")
        rule = ReminderRuleFactory(practice=practice, channel="sms", minutes_before=24 * 60)
        for i in range(n):
            appointment = AppointmentFactory(
                practice=practice,
                starts_at=now + timedelta(hours=3, minutes=i),
                ends_at=now + timedelta(hours=4, minutes=i),
            )
            attendee = AttendeeFactory(appointment=appointment)
            CommunicationConsentFactory(patient=attendee.patient, channel="sms", is_granted=True)
            ids.append(ReminderFactory(attendee=attendee, rule=rule, due_at=now - timedelta(minutes=1)).pk)
    return ids


def _statuses(ids) -> dict[str, int]:
    with scopes_disabled():
        rows = Reminder.all_objects.filter(pk__in=ids).values_list("status", flat=True)
        out: dict[str, int] = {}
        for status in rows:
            out[status] = out.get(status, 0) + 1
        sent_messages = Message.all_objects.filter(reminder__pk__in=ids, status="sent").count()
    out["messages_sent"] = sent_messages
    return out


def _wait(condition, *, what: str, worker: Worker | None = None, tick=None) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return
        if worker is not None and worker.proc.poll() is not None:
            raise AssertionError(f"worker exited: {worker.proc.stderr.read().decode()[-2000:]}")
        if tick is not None:
            tick()
        time.sleep(0.05)  # polling interval only; the condition decides
    raise AssertionError(f"timed out waiting for {what}")


def _dispatch() -> None:
    from notifications.tasks import reminders_dispatch_due_task

    reminders_dispatch_due_task.delay()


def test_a_batch_of_due_reminders_is_sent_exactly_once(broker, fake_twilio, practice_a, practice_b):
    ids = _seed(practice_a, 25)
    worker = Worker(redis_url=broker, fake=fake_twilio)
    try:
        _dispatch()
        _wait(lambda: _statuses(ids).get("messages_sent") == 25, what="25 messages sent", worker=worker)
        _dispatch()  # the next beat: nothing is due any more
        time_limit = time.monotonic() + 2
        _wait(lambda: time.monotonic() > time_limit, what="a quiet second beat", worker=worker)
    finally:
        worker.stop()
    assert fake_twilio.count == 25
    assert len(set(fake_twilio.hints())) == 25
    assert _statuses(ids) == {"sent": 25, "messages_sent": 25}
    assert {r["account"] for r in fake_twilio.requests} == {ACCOUNT}


def test_two_dispatch_runs_at_once_still_send_each_reminder_once(broker, fake_twilio, practice_a):
    from notifications.tasks import reminders_dispatch_practice_task

    ids = _seed(practice_a, 40)
    worker = Worker(redis_url=broker, fake=fake_twilio, send_delay=0.01)
    try:
        # Two runs for the same practice at the same moment on two pool processes, plus the beat's.
        reminders_dispatch_practice_task.delay(practice_id=practice_a.pk)
        reminders_dispatch_practice_task.delay(practice_id=practice_a.pk)
        _dispatch()
        _wait(lambda: _statuses(ids).get("messages_sent") == 40, what="40 messages sent", worker=worker)
    finally:
        worker.stop()
    assert fake_twilio.count == 40
    assert sorted(fake_twilio.hints()) == sorted(set(fake_twilio.hints()))
    assert _statuses(ids) == {"sent": 40, "messages_sent": 40}


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(broker, fake_twilio, practice_a):
    from notifications.tasks import notifications_recover_stuck_task

    n = 60
    ids = _seed(practice_a, n)
    first = Worker(redis_url=broker, fake=fake_twilio, send_delay=0.2)  # slow sends: a batch takes seconds
    try:
        _dispatch()

        def mid_batch() -> bool:
            # Kill between sends, never in the instant a request is on the wire: at least a third of
            # the batch has reached Twilio and no request arrived in the last 50 ms.
            quiet = time.monotonic() - fake_twilio.last_request_at
            return n // 3 <= fake_twilio.count < n and 0.05 < quiet < 0.15

        _wait(mid_batch, what="the middle of the batch", worker=first)
    finally:
        first.kill()
    sent_before = fake_twilio.count
    assert sent_before < n, "the batch finished before the kill"
    assert _statuses(ids).get("sent", 0) + _statuses(ids).get("sending", 0) + _statuses(ids).get("pending", 0) == n

    second = Worker(redis_url=broker, fake=fake_twilio)
    last_beat = [0.0]

    def beat() -> None:
        # What celery beat does every minute, every second here, with the stuck threshold at 3 s.
        if time.monotonic() - last_beat[0] >= 1:
            last_beat[0] = time.monotonic()
            notifications_recover_stuck_task.delay(older_than_seconds=3)
            _dispatch()

    try:
        _wait(lambda: _statuses(ids).get("messages_sent") == n, what="every reminder sent", worker=second, tick=beat)
    finally:
        second.stop()
    assert fake_twilio.count == n, f"{fake_twilio.count - n} duplicate(s) reached Twilio"
    assert len(set(fake_twilio.hints())) == n
    assert _statuses(ids) == {"sent": n, "messages_sent": n}
