"""A receiver of the desk's outgoing webhooks, standard library only (docs/integration.md).

    DESK_WEBHOOK_SECRET=... python docs/examples/webhook_receiver.py 8080

It refuses a request whose signature does not match or whose ``t`` is more than five minutes
old (a replayed capture), answers 2xx only once the event is handled, and handles an event id
once: the desk delivers at least once, so a repeat after a lost answer is possible.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

TOLERANCE_SECONDS = 300


def verify(secret: str, header: str, body: bytes, now: float | None = None) -> bool:
    """True if ``header`` (``t=UNIX_SECONDS,v1=HEX``) signs ``body`` with ``secret`` and is fresh."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


class WebhookHandler(BaseHTTPRequestHandler):
    """POST handler: check, parse, handle once, answer 204."""

    secret: str = os.environ.get("DESK_WEBHOOK_SECRET", "")
    handled: ClassVar[set[str]] = set()  # event ids already handled (keep these in your database)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not verify(self.secret, self.headers.get("X-Desk-Signature", ""), body):
            self.send_response(401)
            self.end_headers()
            return
        event = json.loads(body)
        if event["id"] not in self.handled:
            try:
                self.handle_event(event)
            except Exception:  # noqa: BLE001 - any failure: not handled, the desk tries again
                self.send_response(500)
                self.end_headers()
                return
            self.handled.add(event["id"])
        self.send_response(204)
        self.end_headers()

    def handle_event(self, event: dict[str, Any]) -> None:
        """Your code: ``event["type"]`` says what happened, ``event["data"]`` is the case as
        ``/api/v1`` shows it. Raise to answer 500: the desk tries again later."""
        print(event["time"], event["type"], json.dumps(event["data"], ensure_ascii=False)[:200], flush=True)

    def log_message(self, format: str, *args: Any) -> None:
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    ThreadingHTTPServer(("127.0.0.1", port), WebhookHandler).serve_forever()
