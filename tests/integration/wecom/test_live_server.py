"""The whole path on a real uvicorn server with its background workers running: WeCom's
encrypted callback over HTTP -> 200 at once -> inbox worker woken -> engine -> outbox -> message/send."""
from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import uvicorn

from bot.app import Runtime
from bot.web.app import create_app
from tests.integration.wecom.conftest import wecom_settings
from tests.integration.wecom.wecom_sim import callback, kf_event_xml, text_xml, verification_query


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, seconds: float = 15.0) -> bool:  # noqa: ANN001
    """Poll until the background workers did their part (a deadline, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow  # builds the full runtime: the real embedding models
def test_live_server_answers_app_and_kf_messages(tmp_path, database_url, fake):
    runtime = Runtime.build(wecom_settings(tmp_path, database_url, fake))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: server.started)
        base = f"http://127.0.0.1:{port}/wecom/callback"
        assert httpx.get(f"{base}?{verification_query('live-echo')}").text == "live-echo"
        query, body = callback(text_xml("zhangsan", "你好", "live-1"))
        answer = httpx.post(f"{base}?{query}", content=body)
        assert answer.status_code == 200 and answer.text == ""
        fake.add_kf_message("wmLive", "live-kf-1", "你好")
        query, body = callback(kf_event_xml("tok-live", "wkKF1"))
        assert httpx.post(f"{base}?{query}", content=body).status_code == 200
        assert wait_for(lambda: len(fake.calls_to("message/send")) == 1 and len(fake.calls_to("kf/send_msg")) == 1)
        assert fake.calls_to("message/send")[0]["touser"] == "zhangsan"
        assert fake.calls_to("kf/send_msg")[0]["touser"] == "wmLive"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        runtime.services.db.dispose()
