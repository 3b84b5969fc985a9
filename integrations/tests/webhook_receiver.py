"""A real HTTP receiver on 127.0.0.1 for the webhook tests: answers with scripted status codes
(then 200), records every request, and checks each signature with the endpoint's secret."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from integrations.webhooks import signature_verify


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None = None


@dataclass
class LoopbackReceiver:
    statuses: list[int] = field(default_factory=list)  # answered in order; 200 once used up
    secret: str = ""  # when set, every request's signature is verified (tolerance: any time)
    received: list[Received] = field(default_factory=list)

    def start(self) -> LoopbackReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                item = Received(path=self.path, headers={k: v for k, v in self.headers.items()}, body=body)
                if receiver.secret:
                    item.signature_ok = signature_verify(
                        secret=receiver.secret,
                        header=self.headers.get("Tend-Signature", ""),
                        body=body,
                        tolerance=10**9,  # time-machine moves the sender's clock, not this one
                    )
                with receiver._lock:
                    receiver.received.append(item)
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                answer = b'{"ok": true}' if status < 300 else b"receiver error"
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/tend"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
