"""The official ``standardwebhooks`` package verifies what leadroute sends.

The main job (``cargo run --example pipeline``) delivers the vendored sample corpus to a
real loopback receiver written with Python's ``http.server``. The receiver verifies every
request with ``standardwebhooks.Webhook(secret).verify(body, headers)``, using the
workspace's secret from ``workspaces.json``, and answers 401 to anything that fails.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "data" / "corpus"


def test_every_delivered_request_verifies_with_standardwebhooks(tmp_path: pathlib.Path) -> None:
    secrets = {w["id"]: w["webhook_secret"] for w in json.loads((CORPUS / "workspaces.json").read_text())}
    verified: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            workspace = self.path.removeprefix("/hooks/")
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                payload = Webhook(secrets[workspace]).verify(body, headers)
                assert payload["workspace_id"] == workspace
                with lock:
                    verified.append(headers["webhook-id"])
                self.send_response(200)
            except Exception as e:  # noqa: BLE001 (any failure is a finding)
                with lock:
                    failures.append(f"{workspace}: {e!r}")
                self.send_response(401)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        run = subprocess.run(
            ["cargo", "run", "--quiet", "--example", "pipeline", "--",
             "--db", str(tmp_path / "leadroute.db"), "--webhook-base", base],
            cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
        )
    finally:
        server.shutdown()
    assert run.returncode == 0, run.stderr
    found = re.search(r"deliveries attempted\s+(\d+)\s+\(delivered (\d+), retrying (\d+), failed (\d+)\)", run.stdout)
    assert found, run.stdout
    attempted, delivered, retrying, failed = map(int, found.groups())
    assert failures == []
    assert delivered > 1000
    assert (attempted, retrying, failed) == (delivered, 0, 0)
    assert len(verified) == delivered
    assert len(set(verified)) == delivered, "one webhook-id per delivery"
