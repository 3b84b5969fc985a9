"""Reminders benchmark: 10,000 due SMS reminders dispatched by ONE Celery worker (prefork) to a fake
Twilio server on loopback, through the same code as production (beat task -> per-practice dispatch
batches claimed pending -> sending -> message_send -> delivery task -> official Twilio client).

Run against PostgreSQL and Redis (not part of the test suite):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tend_bench REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python benchmarks/bench_reminders.py [--count 10000] [--concurrency N]

It migrates the database, seeds a fresh practice, prints messages/second (first dispatch to the
last message marked sent) and asserts that exactly --count requests reached the fake Twilio.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._result import emit  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
ACCOUNT = "ACbench000000000000000000000000000"


def _check_env() -> tuple[str, str]:
    db, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not db.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database (it is migrated and written to)")
    if not redis_url:
        sys.exit("set REDIS_URL, e.g. redis://127.0.0.1:6379/13")
    return db, redis_url


def seed(count: int):
    """A practice with `count` due SMS reminders: one appointment, patient and consent each."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from clinical.models import CommunicationConsent, Patient
    from notifications.models import NotificationSettings, Reminder, ReminderRule
    from practice.models import Membership, Practice, User
    from practice.permissions import Role
    from scheduling.models import Appointment, AppointmentType, Attendee

    tag = uuid.uuid4().hex[:8]
    now = timezone.now()
    practice = Practice.objects.create(name=f"Bench {tag}", slug=f"bench-{tag}", timezone="America/New_York")
    NotificationSettings.all_objects.create(practice=practice, sms_from_number="+15035550100")
    rule = ReminderRule.all_objects.create(practice=practice, channel="sms", minutes_before=24 * 60)
    appointment_type = AppointmentType.all_objects.create(practice=practice, name="Therapy", duration_minutes=45)
    per_clinician = 100
    clinicians = -(-count // per_clinician)
    password = make_password(None)
    users = User.objects.bulk_create(
        [User(email=f"c{i}-{tag}@bench.test", full_name=f"Clinician {i}", password=password) for i in range(clinicians)]
    )
    members = Membership.all_objects.bulk_create(
        [Membership(practice=practice, user=u, role=Role.CLINICIAN) for u in users]
    )
    patients = Patient.all_objects.bulk_create(
        [
            Patient(
                practice=practice,
                mrn=f"B{i:07d}",
                legal_first_name=f"Pat{i}",
                legal_last_name="Bench",
                date_of_birth=date(1990, 1, 1),
                phone=f"+1503{i:07d}",
                phone_digits=f"503{i:07d}",
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    appointments = []
    for i in range(count):
        starts = now + timedelta(hours=2 + i // clinicians)  # hourly per clinician: no overlap
        appointments.append(
            Appointment(
                practice=practice,
                clinician=members[i % clinicians],
                appointment_type=appointment_type,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=45),
                created_by=members[i % clinicians],
            )
        )
    appointments = Appointment.all_objects.bulk_create(appointments, batch_size=2000)
    attendees = Attendee.all_objects.bulk_create(
        [
            Attendee(practice=practice, appointment=a, patient=p, starts_at=a.starts_at, ends_at=a.ends_at)
            for a, p in zip(appointments, patients, strict=True)
        ],
        batch_size=2000,
    )
    CommunicationConsent.all_objects.bulk_create(
        [CommunicationConsent(practice=practice, patient=p, channel="sms", is_granted=True) for p in patients],
        batch_size=2000,
    )
    Reminder.all_objects.bulk_create(
        [
            Reminder(
                practice=practice,
                appointment=att.appointment,
                attendee=att,
                rule=rule,
                channel="sms",
                due_at=now - timedelta(minutes=1),
            )
            for att in attendees
        ],
        batch_size=2000,
    )
    # Templates: the practice's defaults (as the setup hook installs them).
    from notifications.services import notifications_install_defaults

    notifications_install_defaults(practice=practice)
    return practice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 4, help="prefork pool size")
    args = parser.parse_args()
    db_url, redis_url = _check_env()
    # Stopped from outside (run_all's timeout, kill): exit through `finally` so the worker goes too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from config.celery import app
    from notifications.models import Message, Reminder
    from notifications.tests.fake_twilio import FakeTwilio

    app.conf.update(task_always_eager=False, broker_url=redis_url, result_backend=redis_url)
    app.control.purge()
    # The beat dispatches every practice's due reminders: leftovers of an aborted run would be sent
    # too and muddle the count. Refuse to start (use a fresh database, or let them drain first).
    leftovers = Reminder.all_objects.filter(status__in=("pending", "sending")).count()
    leftovers += Message.all_objects.filter(status__in=("queued", "sending")).count()
    if leftovers:
        sys.exit(f"{leftovers} reminders/messages of earlier runs are still pending in this database")

    t0 = time.perf_counter()
    practice = seed(args.count)
    print(f"seeded {args.count} due reminders in {time.perf_counter() - t0:.1f}s (practice {practice.pk})")

    with FakeTwilio() as fake:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "CELERY_RESULT_BACKEND": redis_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "TEND_SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": "bench-token",
            "TWILIO_API_BASE": fake.url,
        }
        worker = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "config",
                "worker",
                "--pool=prefork",
                "-c",
                str(args.concurrency),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not app.control.ping(timeout=0.5):  # wait until the worker consumes
                if time.monotonic() > deadline or worker.poll() is not None:
                    sys.exit("the worker did not start")
            from notifications.tasks import reminders_dispatch_due_task

            start = time.perf_counter()
            reminders_dispatch_due_task.delay()
            last_beat = time.monotonic()
            deadline = time.monotonic() + 1800
            sent = 0
            while time.monotonic() < deadline:
                sent = Message.all_objects.filter(practice=practice, status="sent").count()
                if sent >= args.count:
                    break
                if time.monotonic() - last_beat >= 60:  # the beat, as in production
                    reminders_dispatch_due_task.delay()
                    last_beat = time.monotonic()
                time.sleep(0.2)
            elapsed = time.perf_counter() - start
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        mine = {str(u) for u in Message.all_objects.filter(practice=practice).values_list("public_id", flat=True)}
        all_hints = fake.hints()
        requests = sum(1 for h in all_hints if h in mine)  # requests carrying this run's messages
        hints = len(set(all_hints) & mine)
        if len(all_hints) != requests:
            print(f"note: {len(all_hints) - requests} requests for messages of other practices in this database")

    reminders_sent = Reminder.all_objects.filter(practice=practice, status="sent").count()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    print(
        f"messages sent: {sent}, requests at fake Twilio: {requests} ({hints} distinct), reminders sent: {reminders_sent}"
    )
    print(f"elapsed: {elapsed:.1f}s  ->  {args.count / elapsed:.0f} messages/second")
    print(
        f"machine: nproc={os.cpu_count()}, RAM={_ram_gb():.1f} GB, Python {platform.python_version()}, "
        f"PostgreSQL {pg_version}, pool concurrency {args.concurrency}"
    )
    assert requests == args.count, f"expected exactly {args.count} requests, got {requests}"
    assert hints == args.count and reminders_sent == args.count
    emit("reminders", unit="SMS reminder", units=args.count, elapsed_s=elapsed)


def _ram_gb() -> float:
    try:
        with open("/proc/meminfo") as fh:
            kb = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
        return kb / 1024 / 1024
    except (OSError, StopIteration, ValueError):
        return 0.0


if __name__ == "__main__":
    main()
