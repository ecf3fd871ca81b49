"""A loopback webhook receiver for the tests: a real ``http.server`` in a thread that plays a
client workspace. Every request is verified with the official ``standardwebhooks`` package
(``Webhook(secret).verify(body, headers)``) under the secret of the workspace named by the
path (``/hooks/<workspace_id>``), and kept; the answer is 200 unless ``answer`` says
otherwise (a status per request, e.g. 503 for a first try, 400 to fail a delivery)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook

import leadroute

# The Standard Webhooks specification's example secret.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass(frozen=True)
class Request:
    """One request as the receiver saw it, after verification."""

    workspace_id: str
    webhook_id: str
    type: str
    data: dict[str, Any]
    answered: int


class Loopback:
    """The receiver; ``base`` is its origin (``http://127.0.0.1:<port>``)."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self.secrets = dict(secrets)
        self.requests: list[Request] = []
        self.failures: list[str] = []
        self.answer: Callable[[Request], int] = lambda r: 200
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                workspace = self.path.removeprefix("/hooks/")
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    payload = Webhook(outer.secrets[workspace]).verify(body, headers)
                except Exception as e:  # noqa: BLE001 (any failure is a finding)
                    with lock:
                        outer.failures.append(f"{workspace}: {e!r}")
                    status = 401
                else:
                    seen = Request(
                        workspace, headers["webhook-id"], payload["type"], payload["data"], 0
                    )
                    with lock:
                        status = outer.answer(seen)
                        outer.requests.append(
                            Request(seen.workspace_id, seen.webhook_id, seen.type, seen.data, status)
                        )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, workspace_id: str) -> str:
        """The webhook URL of a workspace."""
        return f"{self.base}/hooks/{workspace_id}"

    def delivered(self, appointment_id: int) -> list[Request]:
        """The requests about one appointment that were answered 2xx, in arrival order."""
        return [
            r
            for r in self.requests
            if r.data.get("appointment_id") == appointment_id and 200 <= r.answered < 300
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def deliver_until(
    engine: leadroute.Engine, done: Callable[[], bool], timeout: float = 20.0
) -> None:
    """Calls ``deliver_due`` until ``done()`` (retries fall due on the system clock)."""
    deadline = time.monotonic() + timeout
    while True:
        engine.deliver_due()
        if done():
            return
        if time.monotonic() > deadline:
            raise AssertionError("deliveries still pending after the timeout")
        time.sleep(0.25)
