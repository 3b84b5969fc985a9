"""The clearinghouse connection (settings, test) and the SFTP sync: released 837 files go up,
999 / 277CA / 835 files come down and are handed to the acknowledgement import.

Idempotency: a `Transmission` row is unique per connection + direction + filename, and a file is
moved only while its row is not done, so a re-run never uploads or imports a file twice. One run
at a time per practice and direction (an atomic cache add, as the alert notifications do); a
worker that dies mid-run leaves the lock to expire.

A crash between the remote rename and our "done" write is caught on the next run: an upload whose
final file is already on the server with the same size is marked done without sending it again
(if the clearinghouse has already collected it, it would be sent again: the remote side gives no
way to tell). Remote files are never deleted: clearinghouses differ (some remove collected files
themselves, some archive them, some forbid deletes), and the Transmission rows already remember
what was collected.

The sync functions are not one transaction (they wait on the network); each step that changes
rows (record a failure, mark a file sent, import a collected file) is its own short transaction.

Secrets: decrypted only to open a connection; never logged, never returned to a page.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from billing import crypto
from billing.models import ClaimFile, ClearinghouseConnection, InboundFile, Transmission
from billing.selectors_clearinghouse import clearinghouse_connection_get
from billing.services_acks import MAX_CONTENT_BYTES, inbound_file_import
from billing.sftp import (
    HostKeyRefused,
    LoginRefused,
    RemoteFile,
    SftpClient,
    SftpError,
    SftpNetworkError,
    SftpSettings,
    parse_host_key,
)
from practice.errors import DomainError
from practice.models import Membership, Practice

logger = logging.getLogger(__name__)

# The download-listing row of the transmission log: one per connection, holding the last poll's
# outcome (so a refused login is visible even when nothing is waiting to upload). Parentheses are
# outside sftp.SAFE_NAME, so no real remote file can have this name.
LISTING = "(folder listing)"
LOCK_SECONDS = 30 * 60
_MAX_ATTEMPTS_SHOWN = 32767  # PositiveSmallIntegerField


@dataclass
class SyncResult:
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: str = ""  # why nothing ran (no connection, inactive, another run holds the lock)

    def as_dict(self) -> dict:
        return {"done": len(self.done), "failed": len(self.failed), "skipped": self.skipped}


# --- Connection settings -----------------------------------------------------------------------


@transaction.atomic
def clearinghouse_connection_save(
    *,
    practice: Practice,
    by: Membership,
    name: str,
    host: str,
    port: int,
    username: str,
    host_key: str,
    upload_dir: str,
    download_dir: str,
    receiver_id: str,
    receiver_name: str,
    usage_indicator: str,
    is_active: bool,
    password: str = "",
    private_key: str = "",
    forget_password: bool = False,
    forget_private_key: bool = False,
) -> ClearinghouseConnection:
    """Create or update the practice's connection. An empty password / key keeps the saved one."""
    if by.practice_id != practice.pk:
        raise DomainError("Not a member of this practice.", code="forbidden")
    row = ClearinghouseConnection.objects.select_for_update().filter(practice=practice).first()
    if row is None:
        row = ClearinghouseConnection(practice=practice)
    try:
        host_key = _normalise_host_key(host_key)
    except HostKeyRefused as exc:
        raise DomainError(str(exc), field="host_key") from exc
    if private_key.strip():
        _check_private_key(private_key)
    for dir_field, value in (("upload_dir", upload_dir), ("download_dir", download_dir)):
        if not value.startswith("/") and value not in (".", ""):
            raise DomainError("Use a folder path from the server's root, e.g. /inbound.", field=dir_field)
    row.name, row.host, row.port, row.username = name.strip(), host.strip(), port, username.strip()
    row.host_key = host_key
    row.upload_dir, row.download_dir = upload_dir.strip() or ".", download_dir.strip() or "."
    row.receiver_id, row.receiver_name = receiver_id.strip(), receiver_name.strip()
    row.usage_indicator, row.is_active = usage_indicator, is_active
    if forget_password:
        row.password_encrypted = ""
    if forget_private_key:
        row.private_key_encrypted = ""
    if password:
        row.password_encrypted = crypto.encrypt(password)
    if private_key.strip():
        row.private_key_encrypted = crypto.encrypt(private_key.strip() + "\n")
    if not row.password_encrypted and not row.private_key_encrypted:
        raise DomainError("Enter the password or a private key the clearinghouse gave you.", field="password")
    row.full_clean()
    row.save()
    return row


def _normalise_host_key(text: str) -> str:
    if not text.strip():
        raise HostKeyRefused(
            "The server's host key is required: without it we cannot tell the clearinghouse from an impostor."
        )
    key = parse_host_key(text)
    return key.export_public_key("openssh").decode().strip()


def _check_private_key(text: str) -> None:
    import asyncssh

    try:
        asyncssh.import_private_key(text.strip())
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise DomainError(
            "That private key cannot be read: paste an unencrypted PEM or OpenSSH private key.", field="private_key"
        ) from exc


def sftp_settings(connection: ClearinghouseConnection) -> SftpSettings:
    """What the client needs, with the secrets decrypted (raises SftpError if they are unreadable)."""
    try:
        password = crypto.decrypt(connection.password_encrypted)
        private_key = crypto.decrypt(connection.private_key_encrypted)
    except crypto.SecretUnreadable as exc:
        raise LoginRefused(str(exc)) from exc
    return SftpSettings(
        host=connection.host,
        port=connection.port,
        username=connection.username,
        host_key=connection.host_key,
        password=password,
        private_key=private_key,
    )


def clearinghouse_test(*, connection: ClearinghouseConnection) -> list[RemoteFile]:
    """Connect and list the download folder. Raises SftpError with the reason in words."""
    with SftpClient(sftp_settings(connection)) as client:
        return client.listdir(connection.download_dir)


# --- Sync --------------------------------------------------------------------------------------


@contextmanager
def _run_lock(practice_id: int, direction: str) -> Iterator[bool]:
    key, token = f"billing:clearinghouse:{practice_id}:{direction}", uuid.uuid4().hex
    acquired = cache.add(key, token, timeout=LOCK_SECONDS)
    try:
        yield acquired
    finally:
        if acquired and cache.get(key) == token:
            cache.delete(key)


def _active_connection(result: SyncResult) -> ClearinghouseConnection | None:
    connection = clearinghouse_connection_get()
    if connection is None:
        result.skipped = "no connection"
    elif not connection.is_active:
        result.skipped = "connection switched off"
        return None
    return connection


def _record_failure(transmission_id: int, error: SftpError | str) -> None:
    with transaction.atomic():
        row = Transmission.objects.select_for_update().get(pk=transmission_id)
        row.status = Transmission.Status.FAILED
        row.attempts = min(row.attempts + 1, _MAX_ATTEMPTS_SHOWN)
        row.last_error = str(error)[:500]
        row.save(update_fields=["status", "attempts", "last_error", "updated_at"])
    logger.warning("clearinghouse transmission %s failed: %s", transmission_id, error.__class__.__name__)


def _transmission_for(
    connection: ClearinghouseConnection, direction: str, filename: str, **links: object
) -> Transmission:
    row, _ = Transmission.objects.get_or_create(
        practice_id=connection.practice_id,
        connection=connection,
        direction=direction,
        filename=filename,
        defaults=links,
    )
    return row


def files_to_upload() -> list[ClaimFile]:
    """Released 837 files not yet uploaded (by us or recorded by hand), oldest first."""
    uploaded = Transmission.objects.filter(
        claim_file=OuterRef("pk"), direction=Transmission.Direction.UPLOAD, status=Transmission.Status.DONE
    )
    return list(
        ClaimFile.objects.filter(status=ClaimFile.Status.RELEASED, uploaded_at__isnull=True)
        .exclude(Exists(uploaded))
        .order_by("created_at", "pk")
    )


def _upload_mismatch(connection: ClearinghouseConnection, claim_file: ClaimFile) -> str:
    """A reason this file must not go over this connection, or ""."""
    if claim_file.usage_indicator != connection.usage_indicator:
        return (
            f"The file is marked {'test' if claim_file.usage_indicator == 'T' else 'production'} (ISA15 "
            f"{claim_file.usage_indicator}) but the connection is set to "
            f"{connection.get_usage_indicator_display().lower()} ({connection.usage_indicator}). Regenerate it "
            "or change the connection's usage."
        )
    if claim_file.receiver_id.strip() != connection.receiver_id.strip():
        return (
            f"The file is addressed to receiver {claim_file.receiver_id} (ISA08) but the clearinghouse's id is "
            f"{connection.receiver_id}. Regenerate it after fixing the receiver id."
        )
    return ""


def clearinghouse_upload_released(*, practice_id: int) -> SyncResult:
    """Upload every released, not yet uploaded 837 file. Raises SftpNetworkError (after recording
    it on the files' rows) so the task retries with backoff; other failures are recorded only."""
    result = SyncResult()
    with _run_lock(practice_id, "upload") as acquired:
        if not acquired:
            result.skipped = "another upload run is in progress"
            return result
        connection = _active_connection(result)
        if connection is None:
            return result
        work = []
        for claim_file in files_to_upload():
            row = _transmission_for(
                connection, Transmission.Direction.UPLOAD, claim_file.filename, claim_file=claim_file
            )
            if row.claim_file_id != claim_file.pk:
                # Another file already went up under this name: the clearinghouse would take it as a
                # duplicate. 837 filenames carry the interchange number, so this means a mix-up.
                logger.error("claim file %s: filename already used by another upload", claim_file.pk)
                continue
            if row.status == Transmission.Status.DONE:
                continue
            if reason := _upload_mismatch(connection, claim_file):
                if row.last_error != reason:  # said once; a retry cannot change the file
                    _record_failure(row.pk, reason)
                result.failed.append(claim_file.filename)
                continue
            work.append((row, claim_file))
        if not work:
            return result
        try:
            client = SftpClient(sftp_settings(connection)).open()
        except SftpError as exc:
            for row, claim_file in work:
                _record_failure(row.pk, exc)
                result.failed.append(claim_file.filename)
            if isinstance(exc, SftpNetworkError):
                raise
            return result
        try:
            for index, (row, claim_file) in enumerate(work):
                try:
                    _upload_one(client, connection, row, claim_file)
                except SftpNetworkError as exc:
                    for later_row, later_file in work[index:]:
                        _record_failure(later_row.pk, exc)
                        result.failed.append(later_file.filename)
                    raise
                except SftpError as exc:
                    _record_failure(row.pk, exc)
                    result.failed.append(claim_file.filename)
                else:
                    result.done.append(claim_file.filename)
        finally:
            client.close()
    return result


def _upload_one(
    client: SftpClient, connection: ClearinghouseConnection, row: Transmission, claim_file: ClaimFile
) -> None:
    data = claim_file.content.encode("utf-8")
    remote = f"{connection.upload_dir.rstrip('/')}/{claim_file.filename}"
    # An earlier run that died after the rename left the whole file there: do not send it twice.
    if client.size(remote) != len(data):
        client.put(connection.upload_dir, claim_file.filename, data)
    _mark_uploaded(row.pk, claim_file.pk)


@transaction.atomic
def _mark_uploaded(transmission_id: int, claim_file_id: int) -> None:
    now = timezone.now()
    row = Transmission.objects.select_for_update().get(pk=transmission_id)
    row.status, row.finished_at, row.last_error = Transmission.Status.DONE, now, ""
    row.attempts = min(row.attempts + 1, _MAX_ATTEMPTS_SHOWN)
    row.save(update_fields=["status", "finished_at", "last_error", "attempts", "updated_at"])
    ClaimFile.objects.filter(pk=claim_file_id, uploaded_at__isnull=True).update(uploaded_at=now, updated_at=now)


def clearinghouse_download_new(*, practice_id: int) -> SyncResult:
    """Collect every file in the download folder not collected before and import it. Raises
    SftpNetworkError (after recording it) so the task retries with backoff."""
    result = SyncResult()
    with _run_lock(practice_id, "download") as acquired:
        if not acquired:
            result.skipped = "another download run is in progress"
            return result
        connection = _active_connection(result)
        if connection is None:
            return result
        listing = _transmission_for(connection, Transmission.Direction.DOWNLOAD, LISTING)
        try:
            client = SftpClient(sftp_settings(connection)).open()
        except SftpError as exc:
            _record_failure(listing.pk, exc)
            if isinstance(exc, SftpNetworkError):
                raise
            return result
        try:
            try:
                remote_files = client.listdir(connection.download_dir)
            except SftpError as exc:
                _record_failure(listing.pk, exc)
                if isinstance(exc, SftpNetworkError):
                    raise
                return result
            _listing_ok(listing.pk, connection.pk)
            done = set(
                Transmission.objects.filter(
                    connection=connection,
                    direction=Transmission.Direction.DOWNLOAD,
                    status=Transmission.Status.DONE,
                    filename__in=[f.name for f in remote_files],
                ).values_list("filename", flat=True)
            )
            for remote in remote_files:
                if remote.name in done:
                    continue
                row = _transmission_for(connection, Transmission.Direction.DOWNLOAD, remote.name)
                if remote.size > MAX_CONTENT_BYTES:
                    _record_failure(row.pk, f"The file is {remote.size} bytes; files over 20 MB are not collected.")
                    result.failed.append(remote.name)
                    continue
                try:
                    data = client.read(f"{connection.download_dir.rstrip('/')}/{remote.name}")
                except SftpNetworkError as exc:
                    _record_failure(row.pk, exc)
                    result.failed.append(remote.name)
                    raise
                except SftpError as exc:
                    _record_failure(row.pk, exc)
                    result.failed.append(remote.name)
                    continue
                try:
                    _import_downloaded(row.pk, remote.name, data)
                except DomainError as exc:
                    _record_failure(row.pk, exc.message)
                    result.failed.append(remote.name)
                else:
                    result.done.append(remote.name)
        finally:
            client.close()
    return result


@transaction.atomic
def _listing_ok(transmission_id: int, connection_id: int) -> None:
    now = timezone.now()
    Transmission.objects.filter(pk=transmission_id).update(
        status=Transmission.Status.DONE, attempts=0, last_error="", finished_at=now, updated_at=now
    )
    ClearinghouseConnection.objects.filter(pk=connection_id).update(last_polled_at=now, updated_at=now)


@transaction.atomic
def _import_downloaded(transmission_id: int, filename: str, data: bytes) -> InboundFile:
    """Hand the file to the acknowledgement import and mark the transmission done, in one
    transaction: a crash leaves the file to be collected again, and the import itself ignores
    content it has seen (sha256 per practice)."""
    row = Transmission.objects.select_for_update().get(pk=transmission_id)
    inbound = _inbound_import(practice_id=row.practice_id, filename=filename, data=data)
    row.inbound_file = inbound
    row.status, row.finished_at, row.last_error = Transmission.Status.DONE, timezone.now(), ""
    row.attempts = min(row.attempts + 1, _MAX_ATTEMPTS_SHOWN)
    row.save(update_fields=["inbound_file", "status", "finished_at", "last_error", "attempts", "updated_at"])
    return inbound


def _inbound_import(*, practice_id: int, filename: str, data: bytes) -> InboundFile:
    """The acknowledgement import stores the bytes once per practice (sha256, the same digest as a
    file uploaded by hand on the EDI files page) and applies it; an unreadable file is stored as
    rejected, so it is not collected again."""
    return inbound_file_import(practice=Practice.objects.get(pk=practice_id), filename=filename, content=data)
