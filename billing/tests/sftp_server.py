"""A real SFTP server on 127.0.0.1 (asyncssh) for the clearinghouse tests: a free port, a freshly
generated host key, a temporary root with /inbound and /outbound, password or key login.

It runs its event loop on a thread of its own; starting waits on the listener's future (no
sleeps). `writes` lists every file opened for writing, so a test can prove a file went up once.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import asyncssh

USERNAME = "riverside"
PASSWORD = "correct horse battery staple"  # a test server's password


class LoopbackSftpServer:
    def __init__(self, root: Path, *, username: str = USERNAME, password: str = PASSWORD) -> None:
        self.root = root
        self.username, self.password = username, password
        self.client_key: asyncssh.SSHKey | None = None  # a public key allowed to log in, when set
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.writes: list[str] = []
        self.logins: list[str] = []
        (root / "inbound").mkdir(parents=True, exist_ok=True)
        (root / "outbound").mkdir(parents=True, exist_ok=True)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sftp-test-server", daemon=True)
        self._acceptor = None
        self.port = 0

    @property
    def host_key_line(self) -> str:
        return self.host_key.export_public_key("openssh").decode().strip()

    def start(self) -> LoopbackSftpServer:
        self._thread.start()
        self._acceptor = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=30)
        self.port = self._acceptor.get_port()
        return self

    def stop(self) -> None:
        async def close() -> None:
            self._acceptor.close()
            await self._acceptor.wait_closed()

        if self._acceptor is not None:
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    async def _listen(self):
        server = self

        class Auth(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                ok = username == server.username and password == server.password
                server.logins.append(f"password:{'ok' if ok else 'refused'}")
                return ok

            def public_key_auth_supported(self) -> bool:
                return server.client_key is not None

            def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
                ok = (
                    username == server.username
                    and server.client_key is not None
                    and key.public_data == server.client_key.public_data
                )
                server.logins.append(f"key:{'ok' if ok else 'refused'}")
                return ok

        class Files(asyncssh.SFTPServer):
            def __init__(self, chan) -> None:
                super().__init__(chan, chroot=os.fsencode(server.root))

            def open(self, path: bytes, pflags: int, attrs):
                if pflags & asyncssh.FXF_WRITE:
                    server.writes.append(os.fsdecode(path))
                return super().open(path, pflags, attrs)

        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[self.host_key],
            server_factory=Auth,
            sftp_factory=Files,
            allow_scp=False,
        )
