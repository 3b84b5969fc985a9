"""Clearinghouse sync through a REAL Celery worker (`celery -A config worker --pool=prefork -c 2`)
on Redis and PostgreSQL, against the loopback SFTP server of billing/tests/sftp_server.py:

- the beat fan-out plus two extra upload runs racing on two pool processes send each released
  837 file exactly once, and collect each acknowledgement file exactly once;
- a server that is down is recorded as a failed upload, retried by Celery with backoff, and the
  file goes up (once) when the server is back on a later sync.

Correctness never waits on a sleep: the tests poll the database with a deadline. Skipped without
PostgreSQL and REDIS_URL.
"""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from assessments.tests.test_worker_escalation import broker  # noqa: F401 - the Redis/PostgreSQL fixture
from billing import crypto
from billing.models import ClaimFile, InboundFile, Transmission
from billing.tests.factories import ClaimFileFactory, ClearinghouseConnectionFactory
from billing.tests.sftp_server import PASSWORD, LoopbackSftpServer

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_parts():
    # The helpers of the existing real-worker test (process group, deadlines, stderr on failure).
    from assessments.tests import test_worker_escalation

    return test_worker_escalation


@pytest.fixture
def redis_url(request) -> str:
    return request.getfixturevalue("broker")  # skips without PostgreSQL / Redis


@pytest.fixture
def server(tmp_path):
    srv = LoopbackSftpServer(tmp_path / "sftp").start()
    yield srv
    srv.stop()


def _done(practice, direction):
    with scopes_disabled():
        return sorted(
            Transmission.all_objects.filter(practice=practice, direction=direction, status="done")
            .exclude(filename="(folder listing)")
            .values_list("filename", flat=True)
        )


def test_racing_syncs_send_each_file_once_and_collect_each_ack_once(
    redis_url, worker_parts, server, tmp_path, practice_a, practice_b
):
    from billing.tasks_clearinghouse import clearinghouse_sync_task, clearinghouse_upload_task

    ClearinghouseConnectionFactory(
        practice=practice_a,
        port=server.port,
        password_encrypted=crypto.encrypt(PASSWORD),
        host_key=server.host_key_line,
    )
    files = [ClaimFileFactory(practice=practice_a, content=f"ISA*{i}~") for i in range(5)]
    theirs = ClaimFileFactory(practice=practice_b)
    for name in ("ack-1.999", "ack-2.999"):
        (server.root / "outbound" / name).write_text(f"ISA*{name}~")
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    worker = worker_parts.Worker(redis_url=redis_url, mail_dir=mail_dir)
    try:
        clearinghouse_sync_task.delay()
        clearinghouse_upload_task.delay(practice_id=practice_a.pk)
        clearinghouse_upload_task.delay(practice_id=practice_a.pk)
        expected = sorted(f.filename for f in files)
        worker_parts._wait(lambda: _done(practice_a, "upload") == expected, what="5 uploads", worker=worker)
        worker_parts._wait(
            lambda: _done(practice_a, "download") == ["ack-1.999", "ack-2.999"], what="2 downloads", worker=worker
        )
        clearinghouse_sync_task.delay()  # the next beat: nothing new
        worker_parts._quiet(worker)
    finally:
        worker.stop()
    assert sorted(server.writes) == sorted(f"/inbound/{f.filename}.part" for f in files)
    assert sorted(p.name for p in (server.root / "inbound").iterdir()) == expected
    with scopes_disabled():
        assert InboundFile.all_objects.filter(practice=practice_a).count() == 2
        assert ClaimFile.all_objects.get(pk=theirs.pk).uploaded_at is None
        assert not Transmission.all_objects.filter(practice=practice_b).exists()


def test_down_server_is_recorded_then_the_file_goes_up_once_when_it_is_back(
    redis_url, worker_parts, server, tmp_path, practice_a
):
    import socket

    from billing.tasks_clearinghouse import clearinghouse_upload_task

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    closed_port = sock.getsockname()[1]
    sock.close()
    connection = ClearinghouseConnectionFactory(
        practice=practice_a,
        port=closed_port,
        password_encrypted=crypto.encrypt(PASSWORD),
        host_key=server.host_key_line,
    )
    claim_file = ClaimFileFactory(practice=practice_a)
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()

    def row():
        with scopes_disabled():
            return Transmission.all_objects.filter(practice=practice_a, filename=claim_file.filename).first()

    worker = worker_parts.Worker(redis_url=redis_url, mail_dir=mail_dir)
    try:
        clearinghouse_upload_task.delay(practice_id=practice_a.pk)
        worker_parts._wait(
            lambda: row() is not None and row().status == "failed", what="a failed upload", worker=worker
        )
        assert "refused the connection" in row().last_error
        # the server comes back (the admin or DNS fixed it): the next run sends it once
        with scopes_disabled():
            type(connection).all_objects.filter(pk=connection.pk).update(port=server.port)
        clearinghouse_upload_task.delay(practice_id=practice_a.pk)
        worker_parts._wait(lambda: row().status == "done", what="the upload", worker=worker)
        worker_parts._quiet(worker)
    finally:
        worker.stop()
    assert server.writes == [f"/inbound/{claim_file.filename}.part"]
    assert row().attempts >= 2
