"""A webhook receiver on 127.0.0.1 for the tests: the documented one (docs/examples), which
checks signatures, plus a switch to fail on purpose and a log of what it answered 2xx."""
from __future__ import annotations

import importlib.util
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "webhook_receiver.py"
_spec = importlib.util.spec_from_file_location("webhook_receiver_example", EXAMPLE)
assert _spec and _spec.loader
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

SECRET = "test-secret-0123456789"


@dataclass
class Log:
    """What the receiver saw: every event handled (in arrival order), refusals, forced failures."""

    events: list[dict[str, Any]] = field(default_factory=list)
    answered_2xx: Counter[str] = field(default_factory=Counter)
    bad_signatures: int = 0
    refused: int = 0
    down: bool = False
    fail_ids: Counter[str] = field(default_factory=Counter)  # event id -> failures still to answer


@contextmanager
def receiver() -> Iterator[tuple[str, Log]]:
    """Serve the example receiver on a free port; yield its URL and its log."""
    log = Log()

    class Handler(example.WebhookHandler):
        secret = SECRET
        handled: ClassVar[set[str]] = set()

        def do_POST(self) -> None:
            if log.down:
                log.refused += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(503)
                self.end_headers()
                return
            super().do_POST()

        def send_response(self, code: int, message: str | None = None) -> None:
            if code == 401:
                log.bad_signatures += 1
            super().send_response(code, message)

        def handle_event(self, event: dict[str, Any]) -> None:
            if log.fail_ids[event["id"]] > 0:
                log.fail_ids[event["id"]] -= 1
                log.refused += 1
                raise RuntimeError("failing on purpose")
            log.events.append(event)
            log.answered_2xx[event["id"]] += 1

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks", log
    finally:
        server.shutdown()
        server.server_close()
