"""WeCom's side of the wire, for tests: callbacks encrypted as WeCom encrypts them, and a
fake WeCom API server on 127.0.0.1 answering in WeCom's JSON shapes.

The encryption here is written from WeCom's documentation with ``cryptography`` alone,
independently of the code under test, so a mistake on either side shows.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CORP_ID = "ww1234567890abcdef"
TOKEN = "callbackToken42"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SECRET = "app-secret-0123456789"
KF_SECRET = "kf-secret-9876543210"
AGENT_ID = 1000002


def wecom_encrypt(plaintext: str, aes_key: str = AES_KEY, corp_id: str = CORP_ID) -> str:
    key = base64.b64decode(aes_key + "=")
    message = plaintext.encode()
    raw = os.urandom(16) + struct.pack(">I", len(message)) + message + corp_id.encode()
    pad = 32 - len(raw) % 32
    raw += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode()


def wecom_sign(encrypted: str, timestamp: str, nonce: str, token: str = TOKEN) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def callback(xml: str, *, token: str = TOKEN, aes_key: str = AES_KEY, corp_id: str = CORP_ID,
             timestamp: str = "1700000000", nonce: str = "4242") -> tuple[str, bytes]:
    """(query string, body) of a POSTed callback as WeCom sends it."""
    encrypted = wecom_encrypt(xml, aes_key, corp_id)
    body = (f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>").encode()
    query = urlencode({"msg_signature": wecom_sign(encrypted, timestamp, nonce, token),
                       "timestamp": timestamp, "nonce": nonce})
    return query, body


def verification_query(echo: str, token: str = TOKEN) -> str:
    encrypted = wecom_encrypt(echo)
    return urlencode({"msg_signature": wecom_sign(encrypted, "1700000000", "77", token), "timestamp": "1700000000",
                      "nonce": "77", "echostr": encrypted})


def text_xml(user: str, content: str, msg_id: str, create_time: int = 1700000000) -> str:
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>")


def media_xml(user: str, kind: str, media_id: str, msg_id: str) -> str:
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>1700000000</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>"
            f"<MediaId><![CDATA[{media_id}]]></MediaId><MsgId>{msg_id}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>")


def voice_xml(user: str, media_id: str, msg_id: str, recognition: str | None = None) -> str:
    """A voice message; ``recognition`` is WeCom's own transcript (sent when the admin turned it on)."""
    heard = f"<Recognition><![CDATA[{recognition}]]></Recognition>" if recognition is not None else ""
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>1700000000</CreateTime><MsgType><![CDATA[voice]]></MsgType>"
            f"<MediaId><![CDATA[{media_id}]]></MediaId><Format><![CDATA[amr]]></Format>{heard}"
            f"<MsgId>{msg_id}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>")


def event_xml(user: str, event: str, key: str = "", create_time: int = 1700000000) -> str:
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey>"
            f"<AgentID>{AGENT_ID}</AgentID></xml>")


def kf_event_xml(token: str, open_kfid: str) -> str:
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><CreateTime>1700000000</CreateTime>"
            f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
            f"<Token><![CDATA[{token}]]></Token><OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>")


class FakeWeCom:
    """The WeCom API endpoints the bot uses, with the error behaviour tests need to provoke."""

    def __init__(self) -> None:
        self.secrets = {SECRET, KF_SECRET}
        self.lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.token_count = 0
        self.valid_tokens: set[str] = set()
        self.always_expired = False
        #: endpoint -> the n-th call to it (counting from 1) that answers -1 "system busy".
        self.busy_at: dict[str, int] = {}
        self.down = False
        self.media: dict[str, tuple[bytes, str, str]] = {}
        self.kf_messages: list[dict[str, Any]] = []
        self.kf_page_size = 1000
        self.kf_fail_cursors: set[str] = set()
        self.kf_expired_tokens: set[str] = set()
        self.kf_quota: dict[str, int] = {}
        self.on_duty: set[str] = set()
        self.session_states: dict[str, int] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/"

    def start(self) -> "FakeWeCom":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- what the tests look at ---------------------------------------------------------------

    def calls_to(self, endpoint: str) -> list[dict[str, Any]]:
        return [body for path, _params, body in self.calls if path == endpoint]

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (42001), as after two hours."""
        self.valid_tokens.clear()

    def add_kf_message(self, external_userid: str, msgid: str, content: str, open_kfid: str = "wkKF1",
                       send_time: int | None = None, **extra: Any) -> None:
        """A customer's message waiting for kf/sync_msg; it opens five replies, as in WeCom."""
        msg = {"msgid": msgid, "open_kfid": open_kfid, "external_userid": external_userid,
               "send_time": send_time or int(time.time()),
               "origin": 3, "msgtype": "text", "text": {"content": content}}
        msg.update(extra)
        self.kf_messages.append(msg)
        self.kf_quota[external_userid] = 5

    # -- the server ---------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._serve(b"")

            def do_POST(self) -> None:
                self._serve(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _serve(self, raw: bytes) -> None:
                url = urlparse(self.path)
                endpoint = url.path.removeprefix("/cgi-bin/")
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                body = json.loads(raw) if raw else {}
                with fake.lock:
                    fake.calls.append((endpoint, params, body))
                    if fake.down:
                        self._reply(503, b"unavailable", "text/plain")
                        return
                    result = fake.answer(endpoint, params, body)
                if isinstance(result, tuple):
                    data, name, mime = result
                    # WeCom sends the file name as raw UTF-8 bytes in the header.
                    disposition = f'attachment; filename="{name}"'.encode().decode("latin-1")
                    self._reply(200, data, mime, {"Content-Disposition": disposition})
                else:
                    self._reply(200, json.dumps(result, ensure_ascii=False).encode(), "application/json")

            def _reply(self, status: int, data: bytes, mime: str, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", mime)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def answer(self, endpoint: str, params: dict[str, str], body: dict[str, Any]) -> Any:
        if endpoint == "gettoken":
            if params.get("corpid") != CORP_ID or params.get("corpsecret") not in self.secrets:
                return {"errcode": 40001, "errmsg": "invalid credential"}
            self.token_count += 1
            token = f"token-{self.token_count}"
            self.valid_tokens.add(token)
            return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}
        token = params.get("access_token")
        if not token:
            return {"errcode": 41001, "errmsg": "access_token missing"}
        if self.always_expired or token not in self.valid_tokens:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        if self.busy_at.get(endpoint) == len(self.calls_to(endpoint)):
            return {"errcode": -1, "errmsg": "system busy"}
        handler = getattr(self, "_" + endpoint.replace("/", "_"), None)
        if handler is None:
            return {"errcode": 404, "errmsg": f"no such endpoint {endpoint}"}
        return handler(params, body)

    def _message_send(self, _params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if len(body["text"]["content"].encode()) > 2048:
            return {"errcode": 44004, "errmsg": "text content too long"}
        return {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": f"msg-{len(self.calls)}"}

    def _media_get(self, params: dict[str, str], _body: dict[str, Any]) -> Any:
        if params.get("media_id") not in self.media:
            return {"errcode": 40007, "errmsg": "invalid media_id"}
        return self.media[params["media_id"]]

    def _kf_sync_msg(self, _params: dict[str, str], body: dict[str, Any]) -> Any:
        if body.get("token") in self.kf_expired_tokens:
            return {"errcode": 95007, "errmsg": "invalid msg token"}
        cursor = body.get("cursor") or "0"
        if cursor in self.kf_fail_cursors:
            self.kf_fail_cursors.discard(cursor)
            return {"errcode": -1, "errmsg": "system busy"}
        mine = [m for m in self.kf_messages if m["open_kfid"] == body.get("open_kfid")]
        start = int(cursor)
        page = mine[start:start + min(self.kf_page_size, body.get("limit", 1000))]
        end = start + len(page)
        return {"errcode": 0, "errmsg": "ok", "next_cursor": str(end), "has_more": int(end < len(mine)),
                "msg_list": page}

    def _kf_send_msg(self, _params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        user = body["touser"]
        if self.session_states.get(user, 0) not in (0, 1):
            return {"errcode": 95018, "errmsg": "send msg not allowed in this service state"}
        if self.kf_quota.get(user, 0) <= 0:
            return {"errcode": 95001, "errmsg": "send msg count limit"}
        self.kf_quota[user] -= 1
        return {"errcode": 0, "errmsg": "ok", "msgid": f"kfmsg-{len(self.calls)}"}

    def _kf_send_msg_on_event(self, _params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        return {"errcode": 0, "errmsg": "ok", "msgid": f"welcome-{body['code']}"}

    def _kf_service_state_trans(self, _params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        state = body["service_state"]
        if state == 3 and body.get("servicer_userid") not in self.on_duty:
            return {"errcode": 95014, "errmsg": "user is not servicer or not on duty"}
        self.session_states[body["external_userid"]] = state
        return {"errcode": 0, "errmsg": "ok", "msg_code": f"code-{state}"}
