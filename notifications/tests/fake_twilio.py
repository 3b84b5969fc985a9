"""A fake Twilio REST API on 127.0.0.1 for tests and the benchmark (http.server in a thread).

It accepts POST /2010-04-01/Accounts/<sid>/Messages.json, records each request (to, from, body,
the idempotency hint header, arrival time) and answers 201 with a unique message sid, as Twilio
does. Point the client at it with TWILIO_API_BASE = server.url.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages\.json$")


class FakeTwilio:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.last_request_at = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like the real API
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def do_POST(self) -> None:
                match = _PATH.match(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                if not match:
                    self._reply(404, {"code": 20404, "message": "not found", "status": 404})
                    return
                with fake.lock:
                    sid = f"SM{next(fake._ids):032x}"
                    fake.requests.append(
                        {
                            "sid": sid,
                            "account": match["sid"],
                            "to": form.get("To", [""])[0],
                            "from": form.get("From", [""])[0],
                            "body": form.get("Body", [""])[0],
                            "hint": self.headers.get("I-Twilio-Idempotency-Token", ""),
                        }
                    )
                    fake.last_request_at = time.monotonic()
                self._reply(
                    201,
                    {
                        "sid": sid,
                        "account_sid": match["sid"],
                        "to": form.get("To", [""])[0],
                        "from": form.get("From", [""])[0],
                        "body": form.get("Body", [""])[0],
                        "status": "queued",
                        "num_segments": "1",
                        "direction": "outbound-api",
                        "api_version": "2010-04-01",
                        "uri": f"/2010-04-01/Accounts/{match['sid']}/Messages/{sid}.json",
                    },
                )

            def _reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-twilio", daemon=True)

    def __enter__(self) -> FakeTwilio:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.requests)

    def hints(self) -> list[str]:
        with self.lock:
            return [r["hint"] for r in self.requests]
