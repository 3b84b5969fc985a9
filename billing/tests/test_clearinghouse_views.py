"""Clearinghouse pages: saving the connection (secrets encrypted, write-only, never rendered),
Test connection and Fetch host key against the loopback SFTP server, the transmission log
(bounded queries, another practice's rows invisible) and Sync now."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django_scopes import scopes_disabled

from billing import crypto
from billing.models import ClearinghouseConnection, Transmission
from billing.tests.factories import ClaimFileFactory, ClearinghouseConnectionFactory, TransmissionFactory
from billing.tests.sftp_server import PASSWORD, LoopbackSftpServer
from practice.permissions import Role
from practice.tests.factories import sign_in

pytestmark = pytest.mark.django_db

SECRET = "Tr0ub4dor&3-clearinghouse"


@pytest.fixture
def biller(practice_a, make_member):
    return make_member(practice_a, Role.BILLER, email="bea@riverside.test")


@pytest.fixture
def web(biller):
    return sign_in(Client(), biller)


@pytest.fixture
def server(tmp_path):
    srv = LoopbackSftpServer(tmp_path / "sftp").start()
    yield srv
    srv.stop()


def _url(practice, name):
    return reverse(name, kwargs={"practice_slug": practice.slug})


def _post_data(server=None, **overrides):
    data = {
        "name": "Example Clearinghouse",
        "host": "127.0.0.1",
        "port": str(server.port if server else 2222),
        "username": "riverside",
        "password": SECRET,
        "private_key": "",
        "host_key": server.host_key_line if server else "",
        "upload_dir": "/inbound",
        "download_dir": "/outbound",
        "receiver_id": "CLEARINGHOUSE",
        "receiver_name": "EXAMPLE CLEARINGHOUSE",
        "usage_indicator": "T",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def _connection(practice):
    with scopes_disabled():
        return ClearinghouseConnection.all_objects.get(practice=practice)


def test_saving_encrypts_the_password_and_the_page_never_shows_it(web, practice_a, server):
    response = web.post(_url(practice_a, "clearinghouse_settings"), _post_data(server))
    assert response.status_code == 302
    row = _connection(practice_a)
    assert SECRET not in row.password_encrypted and crypto.decrypt(row.password_encrypted) == SECRET
    assert row.host_key == server.host_key_line
    page = web.get(_url(practice_a, "clearinghouse_settings"))
    body = page.content.decode()
    assert page.status_code == 200
    assert SECRET not in body and row.password_encrypted not in body
    assert "A password is saved — enter a new one to replace it." in body


def test_empty_password_keeps_the_saved_one_and_a_new_one_replaces_it(web, practice_a, server):
    web.post(_url(practice_a, "clearinghouse_settings"), _post_data(server))
    web.post(_url(practice_a, "clearinghouse_settings"), _post_data(server, password="", name="Renamed"))
    row = _connection(practice_a)
    assert row.name == "Renamed" and crypto.decrypt(row.password_encrypted) == SECRET
    web.post(_url(practice_a, "clearinghouse_settings"), _post_data(server, password="new-one"))
    assert crypto.decrypt(_connection(practice_a).password_encrypted) == "new-one"


def test_rejected_form_does_not_echo_the_posted_secrets(web, practice_a):
    key_pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot really a key\n-----END OPENSSH PRIVATE KEY-----"
    response = web.post(_url(practice_a, "clearinghouse_settings"), _post_data(host_key="", private_key=key_pem))
    body = response.content.decode()
    assert response.status_code == 400
    assert "host key is required" in body
    assert SECRET not in body and "not really a key" not in body
    with scopes_disabled():
        assert not ClearinghouseConnection.all_objects.filter(practice=practice_a).exists()


def test_private_key_that_cannot_be_read_is_refused(web, practice_a, server):
    response = web.post(
        _url(practice_a, "clearinghouse_settings"), _post_data(server, password="", private_key="garbage")
    )
    assert response.status_code == 400
    assert "That private key cannot be read" in response.content.decode()


def test_a_password_or_key_is_required(web, practice_a, server):
    response = web.post(_url(practice_a, "clearinghouse_settings"), _post_data(server, password=""))
    assert response.status_code == 400
    assert "Enter the password or a private key" in response.content.decode()


def test_secrets_never_reach_the_change_log(web, practice_a, server):
    from practice.models import AuditLogEntry

    web.post(_url(practice_a, "clearinghouse_settings"), _post_data(server))
    web.post(_url(practice_a, "clearinghouse_settings"), _post_data(server, password="rotated-secret"))
    with scopes_disabled():
        entries = list(AuditLogEntry.all_objects.filter(content_type__model="clearinghouseconnection"))
    assert entries
    row = _connection(practice_a)
    for entry in entries:
        text = str(entry.changes)
        assert SECRET not in text and "rotated-secret" not in text and row.password_encrypted not in text


def test_test_connection_lists_the_download_folder(web, practice_a, server):
    web.post(_url(practice_a, "clearinghouse_settings"), _post_data(server, password=PASSWORD))
    (server.root / "outbound" / "ack-1.999").write_text("ISA*")
    response = web.post(_url(practice_a, "clearinghouse_test"))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-test-result="ok"' in body and "ack-1.999" in body


def test_test_connection_explains_a_wrong_password(web, practice_a, server):
    web.post(_url(practice_a, "clearinghouse_settings"), _post_data(server, password="wrong"))
    body = web.post(_url(practice_a, "clearinghouse_test")).content.decode()
    assert 'data-test-result="error"' in body
    assert "The server refused the login" in body and "wrong" not in body.split("refused the login")[1][:80]


def test_test_connection_without_a_connection_says_so(web, practice_a):
    response = web.post(_url(practice_a, "clearinghouse_test"))
    assert response.status_code == 400 and "Save the connection first" in response.content.decode()


def test_fetch_host_key_shows_fingerprint_and_fills_an_empty_field(web, practice_a, server):
    data = _post_data(server, host_key="")
    response = web.post(_url(practice_a, "clearinghouse_host_key"), data)
    body = response.content.decode()
    assert response.status_code == 200
    assert server.host_key.get_fingerprint("sha256") in body
    assert server.host_key_line.split()[1] in body  # prefilled in the host key field
    assert SECRET not in body  # the typed password is not carried over
    with scopes_disabled():
        assert not ClearinghouseConnection.all_objects.exists()  # nothing saved


def test_fetch_host_key_from_a_closed_port_is_explained(web, practice_a):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    body = web.post(_url(practice_a, "clearinghouse_host_key"), _post_data(port=str(port))).content.decode()
    assert 'data-fetch-result="error"' in body and "refused the connection" in body


def test_transmission_log_lists_rows_with_errors_and_is_bounded(
    web, practice_a, practice_b, django_assert_max_num_queries
):
    conn = ClearinghouseConnectionFactory(practice=practice_a)
    TransmissionFactory(
        practice=practice_a,
        connection=conn,
        status="failed",
        attempts=3,
        last_error="The server did not answer in time.",
    )
    theirs = TransmissionFactory(practice=practice_b, filename="theirs-837.x12")
    url = _url(practice_a, "transmission_log")
    with django_assert_max_num_queries(20) as small:
        web.get(url)
    for _ in range(30):
        TransmissionFactory(practice=practice_a, connection=conn, claim_file=ClaimFileFactory(practice=practice_a))
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = web.get(url)
    body = response.content.decode()
    assert response.status_code == 200
    assert "The server did not answer in time." in body and ">3<" in body
    assert theirs.filename not in body
    failed_only = web.get(url, {"status": "failed"}).content.decode()
    assert failed_only.count("data-transmission=") == 1


def test_log_page_is_readable_by_billing_view_but_settings_need_setup(practice_a, make_member):
    from practice.permissions import Perm, role_has_perm

    for role in Role.values:
        member = make_member(practice_a, role, email=f"{role}@riverside.test")
        client = sign_in(Client(), member)
        log_status = client.get(_url(practice_a, "transmission_log")).status_code
        settings_status = client.get(_url(practice_a, "clearinghouse_settings")).status_code
        assert (log_status == 200) == role_has_perm(role, Perm.BILLING_VIEW), role
        assert (settings_status == 200) == role_has_perm(role, Perm.BILLING_SETUP), role


def test_sync_now_uploads_and_collects(web, practice_a, server, django_capture_on_commit_callbacks):
    web.post(_url(practice_a, "clearinghouse_settings"), _post_data(server, password=PASSWORD))
    claim_file = ClaimFileFactory(practice=practice_a)
    (server.root / "outbound" / "ack.999").write_text("ISA*")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = web.post(_url(practice_a, "clearinghouse_sync_now"))
    assert response.status_code == 302 and len(callbacks) == 2
    assert (server.root / "inbound" / claim_file.filename).exists()
    with scopes_disabled():
        statuses = dict(Transmission.all_objects.filter(practice=practice_a).values_list("filename", "status"))
    assert statuses[claim_file.filename] == "done" and statuses["ack.999"] == "done"
