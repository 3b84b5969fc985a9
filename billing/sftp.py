"""The SFTP client the clearinghouse sync uses: asyncssh behind a small synchronous wrapper.

- The server must present the host key saved on the connection (`ClearinghouseConnection.host_key`,
  an OpenSSH public key or a known_hosts line). No key, or another key, and we refuse to connect:
  there is no "trust on first use".
- Password or private-key (PEM/OpenSSH) authentication.
- Every network step has a timeout; errors come back as `SftpError` subclasses whose message says
  in words what went wrong. `SftpNetworkError` is the retryable kind (Celery retries with backoff);
  a refused host key or a refused login needs the admin, so it is not retried.
- Uploads are written to `<name>.part` and renamed once complete, so the clearinghouse never picks
  up half a file.

`SftpClient` owns a private event loop and drives it with `run_until_complete`, so the ORM can be
used between calls (no loop runs while our code does).
"""

from __future__ import annotations

import asyncio
import posixpath
import re
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncssh

T = TypeVar("T")

CONNECT_TIMEOUT = 20  # seconds to open the TCP connection and finish the SSH handshake + login
OPERATION_TIMEOUT = 120  # seconds for one SFTP operation (list, one file up or down)
# Names we download: no path separators or leading dot, so a hostile listing cannot reach outside
# the download directory or hide a file.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$")


class SftpError(Exception):
    """A transfer failed; `str(exc)` is a sentence for the admin (never contains the secret)."""


class SftpNetworkError(SftpError):
    """Network trouble (refused, unreachable, timed out, dropped): worth retrying later."""


class HostKeyRefused(SftpError):
    """The server's host key is not the one saved (or none was saved)."""


class LoginRefused(SftpError):
    """The server refused the username with this password or key."""


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int


@dataclass(frozen=True)
class SftpSettings:
    host: str
    port: int
    username: str
    host_key: str
    password: str = field(default="", repr=False)
    private_key: str = field(default="", repr=False)
    connect_timeout: float = CONNECT_TIMEOUT
    operation_timeout: float = OPERATION_TIMEOUT


def parse_host_key(text: str) -> asyncssh.SSHKey:
    """The public key in an OpenSSH key line (`ssh-ed25519 AAAA... comment`) or a known_hosts line
    (`host ssh-ed25519 AAAA...`). Raises HostKeyRefused with a readable message otherwise."""
    words = (text or "").split()
    for i, word in enumerate(words):
        if (word.startswith(("ssh-", "ecdsa-", "sk-")) or word == "rsa-sha2-256") and i + 1 < len(words):
            try:
                return asyncssh.import_public_key(f"{word} {words[i + 1]}")
            except (asyncssh.KeyImportError, ValueError):
                break
    raise HostKeyRefused(
        "The saved host key is not an SSH public key. Paste the server's key as one line, "
        "e.g. 'ssh-ed25519 AAAAC3Nza...' (ask the clearinghouse, or use Fetch host key and compare)."
    )


def fingerprint(key: asyncssh.SSHKey) -> str:
    """SHA256 fingerprint as `ssh-keygen -l` prints it."""
    return key.get_fingerprint("sha256")


def key_line(key: asyncssh.SSHKey) -> str:
    return key.export_public_key("openssh").decode().strip()


def _words(exc: BaseException) -> str:
    if isinstance(exc, SftpError):
        return str(exc)
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return (
            "The server's host key does not match the saved host key, so we did not connect. If the "
            "clearinghouse changed its key, confirm the new one with them and save it."
        )
    if isinstance(exc, asyncssh.PermissionDenied):
        return "The server refused the login: check the username and the password or private key."
    if isinstance(exc, asyncssh.SFTPNoSuchFile):
        return f"The server has no such file or folder ({exc.reason})."
    if isinstance(exc, asyncssh.SFTPPermissionDenied):
        return f"The server does not allow this in that folder ({exc.reason})."
    if isinstance(exc, asyncssh.SFTPError):
        return f"The server refused the file operation ({exc.reason})."
    if isinstance(exc, TimeoutError):
        return "The server did not answer in time."
    if isinstance(exc, ConnectionRefusedError):
        return "The server refused the connection (nothing listening on that host and port)."
    if isinstance(exc, asyncssh.DisconnectError):
        return f"The server closed the connection ({exc.reason})."
    if isinstance(exc, OSError):
        return f"Could not reach the server ({exc.strerror or exc.__class__.__name__})."
    return f"SFTP failed ({exc.__class__.__name__})."


def _translate(exc: BaseException) -> SftpError:
    message = _words(exc)
    if isinstance(exc, SftpError):
        return exc
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return HostKeyRefused(message)
    if isinstance(exc, asyncssh.PermissionDenied):
        return LoginRefused(message)
    if isinstance(exc, asyncssh.SFTPError):
        return SftpError(message)
    if isinstance(exc, OSError | asyncssh.Error | TimeoutError):
        return SftpNetworkError(message)
    return SftpError(message)


class SftpClient:
    """`with SftpClient(settings) as sftp: sftp.listdir(...)` - one connection, blocking calls."""

    def __init__(self, settings: SftpSettings) -> None:
        self.settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None

    # -- plumbing ---------------------------------------------------------------------------------
    def _run(self, awaitable: Awaitable[T], timeout: float | None = None) -> T:
        if self._loop is None:
            raise SftpError("Not connected.")
        try:
            return self._loop.run_until_complete(
                asyncio.wait_for(awaitable, timeout or self.settings.operation_timeout)
            )
        except Exception as exc:
            raise _translate(exc) from exc

    async def _open(self) -> None:
        s = self.settings
        trusted = parse_host_key(s.host_key)
        options: dict[str, Any] = {
            # Only the saved key is trusted (trusted host keys, trusted CA keys, revoked keys).
            "known_hosts": ([trusted], [], []),
            "username": s.username,
            "connect_timeout": s.connect_timeout,
            "agent_path": None,  # never the worker's own ssh agent or ~/.ssh keys
            "config": None,
            "preferred_auth": "publickey,password,keyboard-interactive",
        }
        if s.private_key:
            try:
                options["client_keys"] = [asyncssh.import_private_key(s.private_key)]
            except (asyncssh.KeyImportError, ValueError) as exc:
                raise LoginRefused(
                    "The saved private key cannot be read (it must be an unencrypted PEM or OpenSSH key)."
                ) from exc
        else:
            options["client_keys"] = None
        if s.password:
            options["password"] = s.password
        self._conn = await asyncssh.connect(s.host, s.port, **options)
        self._sftp = await self._conn.start_sftp_client()

    def __enter__(self) -> SftpClient:
        return self.open()

    def open(self) -> SftpClient:
        """Connect and log in (the caller then owns `close()`)."""
        self._loop = asyncio.new_event_loop()
        try:
            self._run(self._open(), timeout=self.settings.connect_timeout + 5)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._loop is None:
            return
        try:
            if self._conn is not None:
                self._conn.close()
                self._loop.run_until_complete(asyncio.wait_for(self._conn.wait_closed(), 5))
        except (OSError, asyncssh.Error, TimeoutError):
            pass  # closing a broken connection: nothing left to do
        finally:
            self._loop.close()
            self._loop, self._conn, self._sftp = None, None, None

    def _session(self) -> asyncssh.SFTPClient:
        if self._sftp is None:
            raise SftpError("Not connected.")
        return self._sftp

    # -- operations -------------------------------------------------------------------------------
    def listdir(self, path: str) -> list[RemoteFile]:
        """Regular files in `path` with safe names, sorted by name (`.part` files excluded)."""
        entries = self._run(self._session().readdir(path))
        out = []
        for entry in entries:
            name = entry.filename if isinstance(entry.filename, str) else entry.filename.decode(errors="replace")
            if entry.attrs.type != asyncssh.FILEXFER_TYPE_REGULAR or not SAFE_NAME.match(name):
                continue
            if name.endswith(".part"):
                continue
            out.append(RemoteFile(name=name, size=entry.attrs.size or 0))
        return sorted(out, key=lambda f: f.name)

    def size(self, path: str) -> int | None:
        """The size of a remote file, or None when there is none."""
        try:
            attrs = self._run(self._session().stat(path))
        except SftpError as exc:
            if isinstance(exc.__cause__, asyncssh.SFTPNoSuchFile):
                return None
            raise
        return attrs.size

    def read(self, path: str) -> bytes:
        sftp = self._session()

        async def go() -> bytes:
            async with sftp.open(path, "rb") as f:
                return await f.read()

        return self._run(go())

    def put(self, directory: str, name: str, data: bytes) -> None:
        """Write `data` to `directory/name.part`, then rename it to `directory/name`."""
        if not SAFE_NAME.match(name):
            raise SftpError(f"Refusing to upload a file named {name!r}.")
        final = posixpath.join(directory, name)
        part = final + ".part"
        sftp = self._session()

        async def go() -> None:
            async with sftp.open(part, "wb") as f:
                await f.write(data)
            # POSIX rename replaces atomically where the server supports it (OpenSSH does); plain
            # SFTP v3 rename is the fallback (it refuses an existing target; our names are unique).
            try:
                await sftp.posix_rename(part, final)
            except asyncssh.SFTPOpUnsupported:
                await sftp.rename(part, final)

        self._run(go())


def fetch_host_key(host: str, port: int, *, timeout: float = CONNECT_TIMEOUT) -> asyncssh.SSHKey:
    """Ask the server for its host key (no login). Only to show its fingerprint to the admin, who
    confirms it with the clearinghouse before saving it."""
    loop = asyncio.new_event_loop()
    try:
        key = loop.run_until_complete(asyncio.wait_for(asyncssh.get_server_host_key(host, port, config=None), timeout))
    except Exception as exc:
        raise _translate(exc) from exc
    finally:
        loop.close()
    if key is None:
        raise SftpError("The server did not present a host key.")
    return key
