"""Questionnaire-delivery benchmark (issue 10): 10,000 due PHQ-9/GAD-7 administrations sent by ONE
Celery worker (prefork) through the production path to a fake SMTP server and a fake Twilio, both
on loopback.

Run against PostgreSQL and Redis (not part of the test suite):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tend_bench_deliveries REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python benchmarks/bench_deliveries.py [--count 10000] [--concurrency N]

It migrates the database and seeds a throwaway practice with bulk_create: one clinician, two active
protocols (PHQ-9 + GAD-7 every 4 weeks, one by email link, one by SMS link), count/2 patients with
granted email and SMS consent, each with an active assignment of one of the protocols (alternately)
and its two administrations due a minute ago — `--count` deliveries in all, half email, half SMS.
The practice's zone is one where it is daytime now, so no SMS waits for the end of quiet hours.

Then it queues the beat task once (`administrations_dispatch_due_task`, re-queued every 60 s as the
beat does) and times until every message is marked sent. The path is production's: beat task ->
per-practice dispatch batch (100 due rows claimed with a conditional UPDATE, SKIP LOCKED; a full
batch queues the next) -> `administration_send` (row locked, link token, `message_send`: consent,
template, Message row with idempotency key, audit rows) -> `message_deliver_task` on commit ->
Django's SMTP backend or the official Twilio client -> the fakes, which count requests by the
Message public id each carries (X-Tend-Message header / idempotency hint). It asserts exactly once:
every message id arrived once, none twice, every administration is sent with its own message.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socketserver
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._result import emit  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
ACCOUNT = "ACbench000000000000000000000000000"
SMTP_PORTS = range(8121, 8131)  # this benchmark's loopback ports
INSTRUMENTS = ("PHQ-9", "GAD-7")
# Candidate practice zones: the one whose local time is nearest mid-afternoon is used, so the run
# (up to an hour) stays clear of the default SMS quiet hours (21:00-08:00).
ZONES = (
    "Pacific/Honolulu",
    "America/Los_Angeles",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)


class FakeSMTP:
    """A minimal SMTP server on 127.0.0.1 (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) that
    accepts every message and records its X-Tend-Message header (the Message public id)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")
                self.wfile.flush()

            def handle(self) -> None:
                self.reply("220 fake-smtp ESMTP")
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    verb = raw.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        self.wfile.write(b"250-fake-smtp\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                        self.wfile.flush()
                    elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        message_id, in_headers = "", True
                        while True:
                            line = self.rfile.readline()
                            if not line or line in (b".\r\n", b".\n"):
                                break
                            if in_headers:
                                if line in (b"\r\n", b"\n"):
                                    in_headers = False
                                elif line.lower().startswith(b"x-tend-message:"):
                                    message_id = line.split(b":", 1)[1].strip().decode()
                        with fake.lock:
                            fake.ids.append(message_id)
                        self.reply("250 OK queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        for port in SMTP_PORTS:
            try:
                self.server = Server(("127.0.0.1", port), Handler)
                break
            except OSError:
                continue
        else:
            sys.exit(f"no free port for the fake SMTP server in {SMTP_PORTS.start}-{SMTP_PORTS.stop - 1}")
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-smtp", daemon=True)

    def __enter__(self) -> FakeSMTP:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def received(self) -> list[str]:
        with self.lock:
            return list(self.ids)


def _check_env() -> tuple[str, str]:
    db, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not db.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database (it is migrated and written to)")
    if not redis_url:
        sys.exit("set REDIS_URL, e.g. redis://127.0.0.1:6379/14")
    return db, redis_url


def _daytime_zone(now: datetime) -> str:
    import zoneinfo

    def distance(name: str) -> float:
        local = now.astimezone(zoneinfo.ZoneInfo(name))
        return abs(local.hour + local.minute / 60 - 14)

    return min(ZONES, key=distance)


def seed(count: int):
    """A practice with `count` due administrations: count/2 patients, each PHQ-9 + GAD-7."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from assessments.models import Administration, AssessmentSettings, Protocol, ProtocolAssignment
    from clinical.models import CommunicationConsent, Patient
    from notifications.models import NotificationSettings
    from notifications.services import notifications_install_defaults
    from practice.models import Membership, Practice, User
    from practice.permissions import Role

    tag = uuid.uuid4().hex[:8]
    now = timezone.now()
    practice = Practice.objects.create(name=f"Bench {tag}", slug=f"bench-{tag}", timezone=_daytime_zone(now))
    NotificationSettings.all_objects.create(practice=practice, sms_from_number="+15035550100")
    notifications_install_defaults(practice=practice)  # the questionnaire templates, email and SMS
    AssessmentSettings.all_objects.create(practice=practice)
    user = User.objects.create(email=f"c-{tag}@bench.test", full_name="Clinician", password=make_password(None))
    clinician = Membership.all_objects.create(practice=practice, user=user, role=Role.CLINICIAN)
    protocols = [
        Protocol.all_objects.create(
            practice=practice,
            name=f"PHQ-9 + GAD-7 every 4 weeks by {channel}",
            instrument_codes=list(INSTRUMENTS),
            at_intake=False,
            every_n_weeks=4,
            channel=channel,
            auto_assign=False,
            created_by=clinician,
        )
        for channel in ("email", "sms")
    ]
    patient_count = -(-count // 2)
    patients = Patient.all_objects.bulk_create(
        [
            Patient(
                practice=practice,
                mrn=f"Q{i:07d}",
                legal_first_name=f"Pat{i}",
                legal_last_name="Bench",
                date_of_birth=date(1990, 1, 1),
                email=f"p{i}-{tag}@bench.test",
                phone=f"+1503{i:07d}",
                phone_digits=f"503{i:07d}",
                primary_clinician=clinician,
            )
            for i in range(patient_count)
        ],
        batch_size=2000,
    )
    CommunicationConsent.all_objects.bulk_create(
        [
            CommunicationConsent(practice=practice, patient=p, channel=channel, is_granted=True)
            for p in patients
            for channel in ("email", "sms")
        ],
        batch_size=4000,
    )
    assignments = ProtocolAssignment.all_objects.bulk_create(
        [
            ProtocolAssignment(practice=practice, protocol=protocols[i % 2], patient=p, started_on=now.date())
            for i, p in enumerate(patients)
        ],
        batch_size=2000,
    )
    rows = []
    for i, assignment in enumerate(assignments):
        for code in INSTRUMENTS:
            if len(rows) < count:
                rows.append(
                    Administration(
                        practice=practice,
                        patient=patients[i],
                        instrument_code=code,
                        assignment=assignment,
                        reason="every 4 weeks",
                        channel=protocols[i % 2].channel,
                        status=Administration.Status.SCHEDULED,
                        due_at=now - timedelta(minutes=1),
                    )
                )
    Administration.all_objects.bulk_create(rows, batch_size=4000)
    return practice


def _start_worker(*, env: dict[str, str], concurrency: int) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - fixed argv
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "config",
            "worker",
            "--pool=prefork",
            "-c",
            str(concurrency),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="deliveries (administrations); patients = count/2")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2, help="prefork pool size")
    parser.add_argument("--timeout", type=int, default=3600, help="give up after this many seconds")
    args = parser.parse_args()
    db_url, redis_url = _check_env()
    # Stopped from outside (run_all's timeout, kill): exit through `finally` so the worker goes too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from assessments.models import Administration
    from assessments.tasks_delivery import administrations_dispatch_due_task
    from config.celery import app
    from notifications.models import Message
    from notifications.tests.fake_twilio import FakeTwilio

    app.conf.update(task_always_eager=False, broker_url=redis_url, result_backend=redis_url)
    app.control.purge()
    # The beat task dispatches every practice's due rows: leftovers of an aborted run would be sent
    # too and muddle the count. Refuse to start (use a fresh database, or let them drain first).
    leftovers = Administration.all_objects.filter(status="scheduled", due_at__lte=timezone.now()).count()
    leftovers += Message.all_objects.filter(status__in=("queued", "sending")).count()
    if leftovers:
        sys.exit(f"{leftovers} administrations/messages of earlier runs are still pending in this database")

    t0 = time.perf_counter()
    practice = seed(args.count)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"seeded {args.count} due questionnaires in {time.perf_counter() - t0:.1f}s "
        f"(practice {practice.pk}, zone {practice.timezone})",
        flush=True,
    )

    with FakeTwilio() as twilio, FakeSMTP() as smtp:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "CELERY_RESULT_BACKEND": redis_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
            "TEND_EMAIL_BACKEND_KIND": "django",
            "TEND_SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": "bench-token",
            "TWILIO_API_BASE": twilio.url,
        }
        worker = _start_worker(env=env, concurrency=args.concurrency)
        mine = Message.all_objects.filter(practice=practice)
        try:
            deadline = time.monotonic() + 60
            while not app.control.ping(timeout=0.5):  # wait until the worker consumes
                if time.monotonic() > deadline or worker.poll() is not None:
                    sys.exit("the worker did not start")
            start = time.perf_counter()
            administrations_dispatch_due_task.delay()
            last_beat = time.monotonic()
            deadline = time.monotonic() + args.timeout
            sent = 0
            while time.monotonic() < deadline and worker.poll() is None:
                sent = mine.filter(status="sent").count()
                if sent >= args.count:
                    break
                if time.monotonic() - last_beat >= 60:  # the beat, as in production
                    administrations_dispatch_due_task.delay()
                    last_beat = time.monotonic()
                time.sleep(0.5)
            elapsed = time.perf_counter() - start
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        ids = {str(u) for u in mine.values_list("public_id", flat=True)}
        arrived = [h for h in twilio.hints() + smtp.received() if h in ids]
        foreign = len(twilio.hints()) + len(smtp.received()) - len(arrived)

    repeats = {k: v for k, v in Counter(arrived).items() if v > 1}
    by_status = dict(mine.values_list("status").annotate(n=Count("id")).order_by())
    admins = Administration.all_objects.filter(practice=practice)
    admin_sent = admins.filter(status="sent", message__status="sent", token_hash__isnull=False).count()
    distinct_messages = admins.exclude(message=None).values("message").distinct().count()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    print(
        f"messages {by_status}; requests at the fakes: {len(arrived)} ({len(set(arrived))} distinct message ids; "
        f"SMS {len(twilio.hints())}, email {len(smtp.received())}); administrations sent: {admin_sent}"
    )
    if foreign:
        print(f"note: {foreign} requests for messages of other practices in this database")
    print(f"elapsed: {elapsed:.1f}s  ->  {args.count / elapsed:.1f} questionnaire deliveries/second")
    print(
        f"machine: nproc={os.cpu_count()}, Python {platform.python_version()}, PostgreSQL {pg_version}, "
        f"pool concurrency {args.concurrency}, load average {os.getloadavg()[0]:.2f}"
    )
    assert not repeats, f"{len(repeats)} messages reached a provider more than once"
    assert len(arrived) == args.count, f"expected exactly {args.count} deliveries at the fakes, got {len(arrived)}"
    assert admin_sent == args.count and distinct_messages == args.count, (admin_sent, distinct_messages)
    emit("deliveries", unit="questionnaire delivery", units=args.count, elapsed_s=elapsed)


if __name__ == "__main__":
    main()
