"""Failure tests: real Celery workers (subprocesses) on Redis and PostgreSQL, killed or cut off from
their broker in the middle of a batch.

Fixtures and helpers:
- `broker`: the shared Redis (REDIS_URL) for the app in this process; skips without PostgreSQL or Redis;
- `own_redis`: a private `redis-server` on a port of 6391-6395 that a test may stop and start again;
- `FakeSms` / `FakeSmtp`: a Twilio-shaped HTTP API and an SMTP server on 127.0.0.1 that record each
  message's id (the `I-Twilio-Idempotency-Token` / `X-Tend-Message` header) and can hold one
  request unanswered, so a worker is killed exactly while a provider request is on the wire;
- `Worker`: `celery -A config worker --pool=prefork -c 2` in its own process group (SIGKILL reaches
  the pool children too).

Correctness never waits on a sleep: `wait_for` polls a condition up to a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 90  # seconds; normally a few
ACCOUNT = "ACfail0000000000000000000000000000"
OWN_REDIS_PORTS = range(6391, 6396)


def require_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: worker subprocesses share the test database")


def _shared_redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("needs Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379/10) to run real workers")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"needs Redis: {url} is unreachable ({exc.__class__.__name__})")
    return url


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def app_on(url: str, settings) -> Iterator[None]:
    """Point this process's Celery app (the producer side) at `url`, eager mode off."""
    from config.celery import app

    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url", "result_backend")}
    # The tests read the database, never task results: no result backend in this process.
    app.conf.update(task_always_eager=False, broker_url=url, result_backend="cache+memory://")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    _forget_connections(app)
    app.control.purge()  # stale messages of an earlier, aborted run must not run here
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            app.control.purge()
        app.conf.update(saved)
        _forget_connections(app)


def _forget_connections(app) -> None:
    """The app caches its broker pool and result backend: drop them so the new URLs take effect."""
    app._pool = None
    app.amqp._producer_pool = None
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@pytest.fixture
def broker(settings) -> Iterator[str]:
    require_postgres()
    url = _shared_redis_url()
    with app_on(url, settings):
        yield url


class OwnRedis:
    """A private redis-server without persistence: a restart loses every queued message."""

    def __init__(self) -> None:
        self.port = next((p for p in OWN_REDIS_PORTS if _port_free(p)), None)
        if self.port is None:
            pytest.skip("ports 6391-6395 are all in use: no private Redis for this test")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                *(shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        wait_for(lambda: _pings(client), what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _pings(client) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.exceptions.RedisError:
        return False


@pytest.fixture
def own_redis(settings) -> Iterator[OwnRedis]:
    require_postgres()
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server binary to run a private Redis that the test can restart")
    server = OwnRedis()
    server.start()
    try:
        with app_on(server.url, settings):
            yield server
    finally:
        server.stop()


class _Recorder:
    """What reached a fake provider, keyed by Tend's message public id; can hold the n-th request."""

    def __init__(self, *, hold_nth: int | None = None) -> None:
        self.lock = threading.Lock()
        self.ids: list[str] = []
        self.hold_nth = hold_nth
        self.held_id = ""
        self.held = threading.Event()  # the held request has arrived
        self.release = threading.Event()  # let the held request finish (its client is dead by then)

    def record(self, message_id: str) -> None:
        with self.lock:
            self.ids.append(message_id)
            hold = self.hold_nth is not None and len(self.ids) == self.hold_nth
            if hold:
                self.held_id = message_id
        if hold:
            self.held.set()
            self.release.wait(timeout=DEADLINE)

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.ids)

    def received(self) -> list[str]:
        with self.lock:
            return list(self.ids)


_TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages\.json$")


class FakeSms(_Recorder):
    """Twilio's Messages API on 127.0.0.1 (201 with a fresh SID per request)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parse_qs(self.rfile.read(length).decode())
                match = _TWILIO_PATH.match(self.path)
                if not match:
                    self._reply(404, {"code": 20404, "message": "not found", "status": 404})
                    return
                fake.record(self.headers.get("I-Twilio-Idempotency-Token", ""))
                sid = f"SM{fake.count:032x}"
                self._reply(201, {"sid": sid, "account_sid": match["sid"], "status": "queued"})

            def _reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the held client was killed
                    self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="fake-sms", daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class FakeSmtp(_Recorder):
    """Just enough SMTP for Django's SMTP backend (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT). A
    message counts once its data is complete (as a relay accepts it); `headers` pairs each with its
    Message-ID."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.headers: list[tuple[str, str]] = []
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the held client was killed
                    self.wfile.write(f"{line}\r\n".encode())
                    self.wfile.flush()

            def handle(self) -> None:
                self.reply("220 fake-smtp ready")
                while line := self.rfile.readline():
                    verb = line.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        self.wfile.write(b"250-fake-smtp\r\n")
                        self.reply("250 8BITMIME")
                    elif verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        message_id, header_id = "", ""
                        while (data := self.rfile.readline()) not in (b".\r\n", b""):
                            if data.lower().startswith(b"x-tend-message:"):
                                message_id = data.split(b":", 1)[1].strip().decode()
                            elif data.lower().startswith(b"message-id:"):
                                header_id = data.split(b":", 1)[1].strip().decode()
                        with fake.lock:
                            fake.headers.append((message_id, header_id))
                        fake.record(message_id)
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:  # HELO, MAIL, RCPT, RSET, NOOP
                        self.reply("250 ok")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"smtp://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="fake-smtp", daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Worker:
    """`celery -A config worker --pool=prefork -c 2` in its own process group."""

    def __init__(
        self, *, redis_url: str, sms: FakeSms | None = None, smtp: FakeSmtp | None = None, send_delay: float = 0.0
    ) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DATABASE_URL": database_url(),
            "CONN_MAX_AGE": "0",
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "CELERY_RESULT_BACKEND": redis_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "TEND_SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": "fake-token",
            "TWILIO_API_BASE": sms.url if sms else "http://127.0.0.1:9",
            "EMAIL_URL": smtp.url if smtp else "consolemail://",
            "TEND_EMAIL_BACKEND_KIND": "django",
            "TEND_NOTIFICATIONS_TEST_SEND_DELAY": str(send_delay),
            "TEND_REMINDER_BATCH_SIZE": "10",
            "DEBUG": "1",
        }
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                *(str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "--pool=prefork", "-c", "2"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"),
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,  # its own process group: SIGKILL reaches the pool children too
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"worker exited: {self.proc.stderr.read().decode()[-2000:]}")

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


def wait_for(condition: Callable[[], bool], *, what: str, worker: Worker | None = None, tick=None) -> None:
    """Poll `condition` until it holds (fail after DEADLINE); `tick` runs between polls."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return
        if worker is not None:
            worker.alive()
        if tick is not None:
            tick()
        time.sleep(0.05)  # polling interval only; the condition decides
    raise AssertionError(f"timed out waiting for {what}")


class Beat:
    """What celery beat does every minute, every second here: the due dispatchers, and the recovery
    of rows a dead worker left behind with its 10-minute threshold compressed to `stuck_after` s."""

    def __init__(self, *, stuck_after: int = 2) -> None:
        self.stuck_after = stuck_after
        self.last = 0.0
        self.runs = 0

    def __call__(self) -> None:
        if time.monotonic() - self.last < 1:
            return
        from assessments.tasks_delivery import administrations_dispatch_due_task
        from notifications.tasks import notifications_recover_stuck_task, reminders_dispatch_due_task

        self.last = time.monotonic()
        self.runs += 1
        try:
            notifications_recover_stuck_task.delay(older_than_seconds=self.stuck_after)
            reminders_dispatch_due_task.delay()
            administrations_dispatch_due_task.delay()
        except Exception:  # noqa: S110 - the broker is down: beat tries again on its next tick
            pass
