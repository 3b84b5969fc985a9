"""Clearinghouse sync end to end against a real SFTP server on 127.0.0.1 (billing/tests/
sftp_server.py): released 837 files go up once, acknowledgement files come down once, and a wrong
host key, a wrong password or an unreachable server are recorded in words."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncssh
import pytest
from django_scopes import scopes_disabled

from billing import crypto
from billing.models import ClaimFile, InboundFile, Transmission
from billing.services_clearinghouse import (
    LISTING,
    clearinghouse_download_new,
    clearinghouse_test,
    clearinghouse_upload_released,
)
from billing.sftp import HostKeyRefused, SftpClient, SftpNetworkError, fetch_host_key, fingerprint
from billing.tests.factories import ClaimFileFactory, ClearinghouseConnectionFactory
from billing.tests.sftp_server import PASSWORD, LoopbackSftpServer
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parent / "data"  # B4's acknowledgement fixtures (see its README)


def ack_999(claim_file: ClaimFile | None = None) -> str:
    """B4's accepted 999, acknowledging `claim_file` (its GS06 / ST02) or nothing of ours."""
    text = (DATA / "ack_999_accepted.txt").read_text()
    gs06 = claim_file.group_control_number if claim_file else "999999"
    st02 = claim_file.transaction_control_number if claim_file else "9999"
    return text.replace("{GS06}", gs06).replace("{ST02}", st02)


@pytest.fixture
def server(tmp_path):
    srv = LoopbackSftpServer(tmp_path / "sftp").start()
    yield srv
    srv.stop()


@pytest.fixture
def connection(server, practice_a):
    return ClearinghouseConnectionFactory(
        practice=practice_a,
        port=server.port,
        password_encrypted=crypto.encrypt(PASSWORD),
        host_key=server.host_key_line,
    )


def _rows(practice, **filters):
    with scopes_disabled():
        return list(Transmission.all_objects.filter(practice=practice, **filters).order_by("pk"))


def test_released_file_is_uploaded_once_after_two_syncs(server, connection, practice_a):
    claim_file = ClaimFileFactory(practice=practice_a, content="ISA*00*837 body~IEA*1*000000001~")
    with practice_scope(practice_a):
        first = clearinghouse_upload_released(practice_id=practice_a.pk)
        second = clearinghouse_upload_released(practice_id=practice_a.pk)
    assert first.done == [claim_file.filename]
    assert second.done == [] and second.failed == []
    arrived = server.root / "inbound" / claim_file.filename
    assert arrived.read_text() == "ISA*00*837 body~IEA*1*000000001~"
    assert sorted(p.name for p in (server.root / "inbound").iterdir()) == [claim_file.filename]  # no .part left
    assert server.writes == [f"/inbound/{claim_file.filename}.part"]  # written once, then renamed
    (row,) = _rows(practice_a, direction="upload")
    assert (row.status, row.attempts, row.claim_file_id, row.last_error) == ("done", 1, claim_file.pk, "")
    with scopes_disabled():
        assert ClaimFile.all_objects.get(pk=claim_file.pk).uploaded_at is not None


def test_invalid_and_already_uploaded_files_are_not_sent(server, connection, practice_a):
    ClaimFileFactory(practice=practice_a, status=ClaimFile.Status.INVALID)
    ClaimFileFactory(practice=practice_a, status=ClaimFile.Status.ACCEPTED)
    from django.utils import timezone

    ClaimFileFactory(practice=practice_a, uploaded_at=timezone.now())  # sent by hand
    with practice_scope(practice_a):
        result = clearinghouse_upload_released(practice_id=practice_a.pk)
    assert result.done == [] and server.writes == [] and _rows(practice_a) == []


def test_upload_after_a_crash_past_the_rename_does_not_send_again(server, connection, practice_a):
    claim_file = ClaimFileFactory(practice=practice_a, content="ISA*already there~")
    (server.root / "inbound" / claim_file.filename).write_text("ISA*already there~")
    with scopes_disabled():
        Transmission.all_objects.create(
            practice=practice_a, connection=connection, direction="upload", filename=claim_file.filename,
            claim_file=claim_file, attempts=1,
        )  # fmt: skip
    with practice_scope(practice_a):
        result = clearinghouse_upload_released(practice_id=practice_a.pk)
    assert result.done == [claim_file.filename]
    assert server.writes == []
    assert _rows(practice_a)[0].status == "done"


def test_file_for_production_is_not_sent_over_a_test_connection(server, connection, practice_a):
    claim_file = ClaimFileFactory(practice=practice_a, usage_indicator="P")
    with practice_scope(practice_a):
        result = clearinghouse_upload_released(practice_id=practice_a.pk)
        clearinghouse_upload_released(practice_id=practice_a.pk)
    assert result.failed == [claim_file.filename] and server.writes == []
    (row,) = _rows(practice_a)
    assert row.status == "failed" and "ISA15 P" in row.last_error
    assert row.attempts == 1  # said once: retrying cannot change the file


def test_two_acknowledgement_files_are_collected_once_and_left_on_the_server(server, connection, practice_a):
    claim_file = ClaimFileFactory(practice=practice_a)
    with practice_scope(practice_a):
        clearinghouse_upload_released(practice_id=practice_a.pk)
    outbound = server.root / "outbound"
    # the clearinghouse answers: a 999 accepting our file, and an 835
    (outbound / "ack-000901.999").write_text(ack_999(claim_file))
    (outbound / "era-0001.835").write_bytes((DATA / "synthetic_bh_835.txt").read_bytes())
    (outbound / "half.999.part").write_text("ISA*")  # still being written by the clearinghouse
    (outbound / ".hidden").write_text("x")
    with practice_scope(practice_a):
        first = clearinghouse_download_new(practice_id=practice_a.pk)
        second = clearinghouse_download_new(practice_id=practice_a.pk)
    assert sorted(first.done) == ["ack-000901.999", "era-0001.835"]
    assert second.done == [] and second.failed == []
    with scopes_disabled():
        inbound = {f.filename: f for f in InboundFile.all_objects.filter(practice=practice_a)}
        connection.refresh_from_db()
        claim_file.refresh_from_db()
    assert sorted(inbound) == ["ack-000901.999", "era-0001.835"]
    assert inbound["ack-000901.999"].kind == "999" and inbound["ack-000901.999"].status == "processed"
    assert inbound["ack-000901.999"].content == ack_999(claim_file)
    assert inbound["era-0001.835"].kind == "835"
    assert claim_file.status == ClaimFile.Status.ACCEPTED  # the 999 reached the file we sent
    downloads = {r.filename: r for r in _rows(practice_a, direction="download")}
    assert downloads[LISTING].status == "done"
    assert downloads["ack-000901.999"].status == "done"
    assert downloads["ack-000901.999"].inbound_file_id == inbound["ack-000901.999"].pk
    assert "half.999.part" not in downloads and ".hidden" not in downloads
    assert sorted(p.name for p in outbound.iterdir()) == [".hidden", "ack-000901.999", "era-0001.835", "half.999.part"]
    assert connection.last_polled_at is not None


def test_a_file_already_imported_by_hand_is_linked_not_imported_again(server, connection, practice_a):
    from billing.services_acks import inbound_file_import

    data = (DATA / "synthetic_bh_835.txt").read_bytes()
    with practice_scope(practice_a):
        by_hand = inbound_file_import(practice=practice_a, filename="uploaded.835", content=data)
    (server.root / "outbound" / "era.835").write_bytes(data)
    with practice_scope(practice_a):
        assert clearinghouse_download_new(practice_id=practice_a.pk).done == ["era.835"]
    with scopes_disabled():
        assert InboundFile.all_objects.filter(practice=practice_a).count() == 1
    assert {r.filename: r.inbound_file_id for r in _rows(practice_a, direction="download")}["era.835"] == by_hand.pk


def test_unknown_host_key_is_refused_and_recorded(server, connection, practice_a):
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()
    with scopes_disabled():
        type(connection).all_objects.filter(pk=connection.pk).update(host_key=impostor)
        connection.refresh_from_db()
    claim_file = ClaimFileFactory(practice=practice_a)
    with practice_scope(practice_a):
        result = clearinghouse_upload_released(practice_id=practice_a.pk)  # not retried: no exception
        with pytest.raises(HostKeyRefused, match="does not match the saved host key"):
            clearinghouse_test(connection=connection)
    assert result.failed == [claim_file.filename]
    (row,) = _rows(practice_a)
    assert row.status == "failed" and "host key does not match" in row.last_error
    assert server.logins == [] and server.writes == []  # never sent the password to the impostor


def test_missing_host_key_is_refused_before_connecting(server, connection, practice_a):
    with scopes_disabled():
        type(connection).all_objects.filter(pk=connection.pk).update(host_key="")
        connection.refresh_from_db()
    with practice_scope(practice_a), pytest.raises(HostKeyRefused, match="not an SSH public key"):
        clearinghouse_test(connection=connection)
    assert server.logins == []


def test_wrong_password_is_a_failed_transmission_with_the_message(server, connection, practice_a):
    with scopes_disabled():
        type(connection).all_objects.filter(pk=connection.pk).update(password_encrypted=crypto.encrypt("wrong"))
    claim_file = ClaimFileFactory(practice=practice_a)
    with practice_scope(practice_a):
        clearinghouse_upload_released(practice_id=practice_a.pk)
        clearinghouse_upload_released(practice_id=practice_a.pk)
        clearinghouse_download_new(practice_id=practice_a.pk)
    (upload,) = _rows(practice_a, direction="upload")
    assert upload.status == "failed" and upload.attempts == 2
    assert upload.last_error == "The server refused the login: check the username and the password or private key."
    (listing,) = _rows(practice_a, direction="download")
    assert listing.filename == LISTING and listing.status == "failed" and "refused the login" in listing.last_error
    assert "wrong" not in upload.last_error and server.writes == []

    # the admin fixes the password: the next sync sends the file (once) and clears the error
    with scopes_disabled():
        type(connection).all_objects.filter(pk=connection.pk).update(password_encrypted=crypto.encrypt(PASSWORD))
    with practice_scope(practice_a):
        assert clearinghouse_upload_released(practice_id=practice_a.pk).done == [claim_file.filename]
    (upload,) = _rows(practice_a, direction="upload")
    assert (upload.status, upload.attempts, upload.last_error) == ("done", 3, "")
    assert server.writes == [f"/inbound/{claim_file.filename}.part"]


def test_private_key_login(server, connection, practice_a):
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    server.client_key = client_key
    pem = client_key.export_private_key("openssh").decode()
    with scopes_disabled():
        type(connection).all_objects.filter(pk=connection.pk).update(
            password_encrypted="", private_key_encrypted=crypto.encrypt(pem)
        )
        connection.refresh_from_db()
    (server.root / "outbound" / "a.999").write_text(ack_999())
    with practice_scope(practice_a):
        assert [f.name for f in clearinghouse_test(connection=connection)] == ["a.999"]
    assert server.logins and set(server.logins) == {"key:ok"}  # asyncssh asks twice: probe, then signature


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    return port


def test_unreachable_server_raises_the_retryable_error_after_recording_it(connection, practice_a):
    with scopes_disabled():
        type(connection).all_objects.filter(pk=connection.pk).update(port=_closed_port())
    ClaimFileFactory(practice=practice_a)
    with practice_scope(practice_a), pytest.raises(SftpNetworkError):
        clearinghouse_upload_released(practice_id=practice_a.pk)
    (row,) = _rows(practice_a)
    assert row.status == "failed" and row.attempts == 1
    assert "refused the connection" in row.last_error


def test_inactive_or_missing_connection_does_nothing(server, connection, practice_a, practice_b):
    ClaimFileFactory(practice=practice_b)
    with practice_scope(practice_b):
        assert clearinghouse_upload_released(practice_id=practice_b.pk).skipped == "no connection"
    with scopes_disabled():
        type(connection).all_objects.filter(pk=connection.pk).update(is_active=False)
    ClaimFileFactory(practice=practice_a)
    with practice_scope(practice_a):
        assert clearinghouse_upload_released(practice_id=practice_a.pk).skipped == "connection switched off"
    assert server.writes == [] and _rows(practice_a) == [] and _rows(practice_b) == []


def test_sync_for_one_practice_never_touches_another(server, connection, practice_a, practice_b):
    mine = ClaimFileFactory(practice=practice_a)
    theirs = ClaimFileFactory(practice=practice_b)
    with practice_scope(practice_a):
        clearinghouse_upload_released(practice_id=practice_a.pk)
    assert server.writes == [f"/inbound/{mine.filename}.part"]
    with scopes_disabled():
        assert ClaimFile.all_objects.get(pk=theirs.pk).uploaded_at is None
    assert _rows(practice_b) == []


def test_beat_fan_out_runs_upload_and_download_for_active_connections(server, connection, practice_a):
    from billing.tasks_clearinghouse import clearinghouse_sync_task

    claim_file = ClaimFileFactory(practice=practice_a)
    (server.root / "outbound" / "ack.999").write_text(ack_999())
    assert clearinghouse_sync_task.delay().get() == 1  # eager in tests: the fan-out runs inline
    assert server.writes == [f"/inbound/{claim_file.filename}.part"]
    with scopes_disabled():
        assert InboundFile.all_objects.filter(practice=practice_a, filename="ack.999").count() == 1


def test_fetch_host_key_shows_the_servers_fingerprint(server):
    key = fetch_host_key("127.0.0.1", server.port)
    assert fingerprint(key) == server.host_key.get_fingerprint("sha256")
    assert fingerprint(key).startswith("SHA256:")


def test_client_refuses_names_with_path_separators(server):
    from billing.sftp import SftpError, SftpSettings

    settings = SftpSettings(
        host="127.0.0.1", port=server.port, username="riverside", host_key=server.host_key_line, password=PASSWORD
    )
    with SftpClient(settings) as client, pytest.raises(SftpError, match="Refusing"):
        client.put("/inbound", "../escape", b"x")
    assert server.writes == []
