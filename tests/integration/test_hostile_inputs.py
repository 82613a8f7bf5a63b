"""Hostile requests to every endpoint, on SQLite and PostgreSQL: the web chat, the Telegram webhook,
the WeCom callback, the REST API, the console's forms and uploads. Each answers 4xx or 2xx, never 5xx;
our code logs no traceback; and what a request accepted from a customer is recorded (the web chat's
message in the transcript, a platform delivery in the inbox, handled or kept as unparseable).

The app is built once per database; each case is one request (``CASES``, at least 150)."""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import Runtime
from bot.channels.telegram import TelegramChannel
from bot.config import load_settings
from bot.web.app import create_app
from domain.staff import add_staff, create_api_token
from storage.db import Database
from storage.models import Conversation, InboxItem, Message
from tests.console_helpers import console_login, csrf_of
from tests.integration.telegram.fake_bot_api import SECRET as TG_SECRET
from tests.integration.telegram.fake_bot_api import TOKEN as TG_TOKEN
from tests.integration.telegram.fake_bot_api import FakeBotApi, FakeRequest
from tests.integration.wecom import wecom_sim
from tests.testbot import StandInKnowledge

OUR_CODE = ("bot", "handlers", "domain", "storage", "knowledge")
UPLOAD_LIMIT = 64 * 1024
HUGE = str(2**63)

#: Strings an attacker tries in every text field. The lone surrogate only travels inside JSON
#: (as the escape \ud800); a URL, a form or XML cannot carry it.
NASTY = {
    "nul": "before\x00after",
    "controls": "".join(chr(c) for c in range(1, 32)) + "\x7f\x9b",
    "long": "长" * 30_000,
    "traversal": "../../../../etc/passwd",
    "xss": "<script>alert(1)</script><img src=x onerror=alert(1)>\"'",
    "sql": "1' OR '1'='1'; DROP TABLE messages; --",
    "bidi": "\u202eevil\u202c\u200b\ufeff\u2028",
    "crlf": "a\r\nSet-Cookie: session=stolen\r\n\r\n",
    "format": "%s%n%x{0}{__class__}${jndi:ldap://x/a}{{7*7}}",
    "emoji": "👩‍👩‍👧‍👦" * 400,
    "percent": "%00%2e%2e%2f%25",
    "surrogate": "lone \ud800 half",
}
TEXTUAL = {name: value for name, value in NASTY.items() if name != "surrogate"}


@dataclass(frozen=True)
class Case:
    """One hostile request: who sends it (``as_``), and what must be recorded when it is accepted."""

    id: str
    method: str
    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    as_: str = "anonymous"  # anonymous | admin | agent | console | telegram
    records: str = ""  # webchat: a customer message in that session | inbox: one more recorded delivery


def _json(body: Any) -> dict[str, Any]:
    """A JSON body sent as bytes, so a lone surrogate goes as its escape (as a hostile client can)."""
    return {"content": json.dumps(body), "headers": {"content-type": "application/json"}}


def _session() -> str:
    return secrets.token_hex(16)


_update_ids = itertools.count(10_000)


def _tg_message(**extra: Any) -> dict[str, Any]:
    chat = {"id": 4242, "type": "private", "first_name": "Li"}
    return {"message_id": next(_update_ids), "date": 1767225600, "chat": chat,
            "from": {"id": 4242, "is_bot": False, "first_name": "Li"}, **extra}


def _tg(case_id: str, update: Any, records: str = "inbox", **kwargs: Any) -> Case:
    if isinstance(update, dict) and "update_id" not in update:
        update = {"update_id": next(_update_ids), **update}
    body = update if isinstance(update, bytes) else json.dumps(update).encode()
    return Case(case_id, "POST", "/telegram/webhook", {"content": body, **kwargs}, "telegram", records)


def _wecom(case_id: str, xml: str, records: str = "", **overrides: Any) -> Case:
    query, body = wecom_sim.callback(xml, **overrides)
    return Case(case_id, "POST", f"/wecom/callback?{query}", {"content": body}, records=records)


def _wecom_raw(case_id: str, encrypted: str, body: bytes | None = None) -> Case:
    """A callback whose Encrypt field is ``encrypted`` exactly, correctly signed."""
    signature = wecom_sim.wecom_sign(encrypted, "1700000000", "4242")
    xml = body if body is not None else f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    return Case(case_id, "POST", f"/wecom/callback?msg_signature={signature}&timestamp=1700000000&nonce=4242",
                {"content": xml})


def _wecom_text(user: str, content: str) -> str:
    return wecom_sim.text_xml(user, content, str(next(_update_ids)))


def webchat_cases() -> list[Case]:
    cases = [Case(f"chat-text-{n}", "POST", "/api/chat", _json({"session_id": _session(), "text": v}),
                  records="webchat") for n, v in NASTY.items()]
    cases += [Case(f"chat-button-{n}", "POST", "/api/chat", _json({"session_id": _session(), "button": v}),
                   records="webchat") for n, v in NASTY.items()]
    cases += [Case(f"chat-session-{n}", "POST", "/api/chat", _json({"session_id": v, "text": "hi"}))
              for n, v in NASTY.items()]
    cases += [Case(f"chat-poll-session-{n}", "GET", "/api/chat/messages", {"params": {"session_id": v[:2000]}})
              for n, v in TEXTUAL.items()]
    cases += [Case(f"chat-upload-name-{n}", "POST", "/api/chat/upload",
                   {"data": {"session_id": _session()}, "files": {"file": (v[:300], b"%PDF-1.4 x", "application/pdf")}},
                   records="webchat") for n, v in TEXTUAL.items() if n not in ("crlf", "controls", "nul")]
    buttons = ["application:fix:" + "9" * 40, "application:fix:-1", "application:fix:1e30", "handoff:", ":", "menu:",
               "progress:show:" + HUGE, "feedback:rate:99999", "complaint:start:../../x", "#" + "f" * 64, "share:phone"]
    cases += [Case(f"chat-button-payload-{i}", "POST", "/api/chat", _json({"session_id": _session(), "button": b}),
                   records="webchat") for i, b in enumerate(buttons)]
    structural: list[tuple[str, dict[str, Any]]] = [
        ("not-json", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
        ("array", _json([{"session_id": _session(), "text": "hi"}])),
        ("string", _json("hello")),
        ("text-int", _json({"session_id": _session(), "text": 12345})),
        ("text-object", _json({"session_id": _session(), "text": {"$ne": None}})),
        ("session-null", _json({"session_id": None, "text": "hi"})),
        ("session-int", _json({"session_id": 2**70, "text": "hi"})),
        ("neither", _json({"session_id": _session()})),
        ("both-empty", _json({"session_id": _session(), "text": "", "button": ""})),
        ("extra-fields", _json({"session_id": _session(), "text": "hi", "__proto__": {"admin": True}})),
        ("not-utf8", {"content": b'{"session_id": "\xff\xfe", "text": "\xc3"}',
                      "headers": {"content-type": "application/json"}}),
        ("form-encoded", {"data": {"session_id": _session(), "text": "hi"}}),
    ]
    cases += [Case(f"chat-{name}", "POST", "/api/chat", kwargs) for name, kwargs in structural]
    cases += [Case(f"chat-lang-{n}", "POST", "/api/chat", {**_json({"session_id": _session(), "text": "hi"}),
                                                            "params": {"lang": v}}, records="webchat")
              for n, v in (("xss", NASTY["xss"]), ("long", "x" * 5000), ("nul", "z\x00h"))]
    cases += [Case(f"chat-poll-after-{v}", "GET", "/api/chat/messages", {"params": {"session_id": _session(), "after": v}})
              for v in ("-1", "abc", HUGE, "1e30", "0x10", "")]
    uploads: list[tuple[str, dict[str, Any]]] = [
        ("no-file", {"data": {"session_id": _session()}}),
        ("empty-file", {"data": {"session_id": _session()}, "files": {"file": ("a.pdf", b"", "application/pdf")}}),
        ("too-large", {"data": {"session_id": _session()},
                       "files": {"file": ("big.pdf", b"x" * (UPLOAD_LIMIT + 1), "application/pdf")}}),
        ("exe", {"data": {"session_id": _session()},
                 "files": {"file": ("setup.exe", b"MZ\x90\x00" + b"\x00" * 60, "application/x-msdownload")}}),
        ("mime-lie", {"data": {"session_id": _session()},
                      "files": {"file": ("photo.png", b"<html><script>alert(1)</script>", "image/png")}}),
        ("svg-script", {"data": {"session_id": _session()},
                        "files": {"file": ("x.svg", b"<svg onload=alert(1)/>", "image/svg+xml")}}),
        ("no-session", {"files": {"file": ("a.pdf", b"%PDF", "application/pdf")}}),
        ("bad-session", {"data": {"session_id": "short"}, "files": {"file": ("a.pdf", b"%PDF", "application/pdf")}}),
        ("text-long", {"data": {"session_id": _session(), "text": "长" * 30_000},
                       "files": {"file": ("a.pdf", b"%PDF-1.4", "application/pdf")}}),
        ("not-multipart", _json({"session_id": _session(), "file": "AAAA"})),
    ]
    cases += [Case(f"upload-{name}", "POST", "/api/chat/upload", kwargs,
                   records="webchat" if name in ("exe", "mime-lie", "svg-script", "empty-file", "text-long") else "")
              for name, kwargs in uploads]
    return cases


def telegram_cases() -> list[Case]:
    cases = [_tg(f"tg-text-{n}", {"message": _tg_message(text=v)}) for n, v in NASTY.items()]
    cases += [_tg(f"tg-button-{n}", {"callback_query": {"id": f"q{n}", "from": {"id": 4242, "is_bot": False,
                                                                                   "first_name": "Li"},
                                                        "chat_instance": "c", "data": v,
                                                        "message": _tg_message(text="menu")}})
              for n, v in NASTY.items()]
    malformed: list[tuple[str, Any]] = [
        ("no-date", {"message": {k: v for k, v in _tg_message(text="hi").items() if k != "date"}}),
        ("no-chat", {"message": {k: v for k, v in _tg_message(text="hi").items() if k != "chat"}}),
        ("text-object", {"message": _tg_message(text={"evil": True})}),
        ("text-list", {"message": _tg_message(text=["a", "b"])}),
        ("chat-id-string", {"message": {**_tg_message(text="hi"), "chat": {"id": "x'; DROP", "type": "private"}}}),
        ("chat-id-huge", {"message": {**_tg_message(text="hi"), "chat": {"id": 2**80, "type": "private"}}}),
        ("chat-type-unknown", {"message": {**_tg_message(text="hi"), "chat": {"id": 4242, "type": "spaceship"}}}),
        ("poll-unknown-type", {"message": _tg_message(poll={"id": "1", "question": "q", "options": [],
                                                            "type": "no-such-type"})}),
        ("edited", {"edited_message": _tg_message(text="changed", edit_date=1767225700)}),
        ("channel-post", {"channel_post": {**_tg_message(text="hi"), "chat": {"id": -100, "type": "channel"}}}),
        ("unknown-kind", {"spaceship": {"id": 1}}),
        ("document-huge", {"message": _tg_message(document={"file_id": "F", "file_unique_id": "U",
                                                            "file_name": "../../x.pdf", "file_size": 2**40})}),
        ("document-bogus-id", {"message": _tg_message(document={"file_id": "no-such-file", "file_unique_id": "U2",
                                                                "file_name": "a.pdf", "file_size": 10})}),
        ("photo-empty", {"message": _tg_message(photo=[])}),
        ("sticker", {"message": _tg_message(sticker={"file_id": "S", "file_unique_id": "S", "width": 1, "height": 1,
                                                      "is_animated": False, "is_video": False, "type": "regular"})}),
        ("contact-junk", {"message": _tg_message(contact={"phone_number": NASTY["sql"], "first_name": "x",
                                                          "user_id": 4242})}),
        ("entities-bogus", {"message": _tg_message(text="hi", entities=[{"type": "bold", "offset": -5,
                                                                         "length": 10**9}])}),
        ("nested-200", {"message": _tg_message(text="hi", reply_markup=json.loads("[" * 200 + "]" * 200))}),
        ("callback-no-message", {"callback_query": {"id": "q-none", "from": {"id": 4242, "is_bot": False,
                                                                            "first_name": "Li"},
                                                    "chat_instance": "c", "data": "menu:ask"}}),
    ]
    cases += [_tg(f"tg-{name}", update) for name, update in malformed]
    refused: list[tuple[str, Any, dict[str, Any]]] = [
        ("no-secret", {"message": _tg_message(text="hi")}, {"headers": {}}),
        ("wrong-secret", {"message": _tg_message(text="hi")}, {"headers": {"X-Telegram-Bot-Api-Secret-Token": "x"}}),
        ("not-json", b"{not json", {}),
        ("array", [{"update_id": 1}], {}),
        ("string", "update", {}),
        ("empty-object", {"update_id": "1"}, {}),
        ("update-id-float", {"update_id": 1.5}, {}),
        ("update-id-null", {"update_id": None}, {}),
        ("not-utf8", b'{"update_id": 1, "message": {"text": "\xff"}}', {}),
    ]
    for name, update, kwargs in refused:
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        cases.append(Case(f"tg-{name}", "POST", "/telegram/webhook", {"content": body, **kwargs}, "telegram"))
    cases += [_tg("tg-update-id-huge", {"update_id": 2**70, "message": _tg_message(text="hi")}),
              _tg("tg-update-id-negative", {"update_id": -5, "message": _tg_message(text="hi")})]
    return cases


def wecom_cases() -> list[Case]:
    cases = [_wecom(f"wecom-text-{n}", _wecom_text("zhangsan", v), records="inbox")
             for n, v in TEXTUAL.items() if n not in ("nul", "controls")]
    cases += [_wecom(f"wecom-xml-invalid-{n}", _wecom_text("zhangsan", NASTY[n])) for n in ("nul", "controls")]
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><xml><Encrypt>&c;</Encrypt></xml>')
    xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>'
    cases += [
        _wecom("wecom-cdata-break", _wecom_text("zhangsan", "a]]><MsgType>event</MsgType><![CDATA[b")),
        _wecom("wecom-user-traversal", _wecom_text("../../etc/passwd", "hi"), records="inbox"),
        _wecom("wecom-no-user", wecom_sim.text_xml("", "hi", "77001")),
        _wecom("wecom-unknown-type", wecom_sim.media_xml("zhangsan", "hologram", "M1", "77002"), records="inbox"),
        _wecom("wecom-unknown-event", wecom_sim.event_xml("zhangsan", "self_destruct")),
        _wecom("wecom-click-nasty-key", wecom_sim.event_xml("zhangsan", "click", NASTY["sql"], 1700000123),
               records="inbox"),
        _wecom("wecom-kf-junk-token", wecom_sim.kf_event_xml("junk-token", "../kf")),
        _wecom("wecom-not-xml-inside", "this is not xml at all"),
        _wecom("wecom-wrong-corp", _wecom_text("zhangsan", "hi"), corp_id="ww-someone-else"),
        _wecom("wecom-wrong-token", _wecom_text("zhangsan", "hi"), token="not-the-token"),
        _wecom("wecom-bomb-inside", bomb),
        _wecom_raw("wecom-encrypt-not-base64", "!!!not base64!!!"),
        _wecom_raw("wecom-encrypt-short", "QUJD"),
        _wecom_raw("wecom-encrypt-wrong-key", wecom_sim.wecom_encrypt("<xml/>", "B" * 43)),
        _wecom_raw("wecom-bomb", "x", body=bomb.encode()),
        _wecom_raw("wecom-xxe", "x", body=xxe.encode()),
        _wecom_raw("wecom-no-encrypt", "x", body=b"<xml><ToUserName>a</ToUserName></xml>"),
        _wecom_raw("wecom-body-not-xml", "x", body=b"\x00\xff\xfe garbage"),
        _wecom_raw("wecom-empty-body", "x", body=b""),
        Case("wecom-no-signature", "POST", "/wecom/callback", {"content": b"<xml/>"}),
        Case("wecom-bad-signature", "POST", "/wecom/callback?msg_signature=00&timestamp=1&nonce=2",
             {"content": b"<xml><Encrypt>abc</Encrypt></xml>"}),
        Case("wecom-verify-no-params", "GET", "/wecom/callback"),
        Case("wecom-verify-bad-signature", "GET", "/wecom/callback",
             {"params": {"msg_signature": "0", "timestamp": "1", "nonce": "2", "echostr": "abc"}}),
        Case("wecom-verify-garbage-echo", "GET", "/wecom/callback?"
             + wecom_sim.verification_query("x").replace("echostr=", "echostr=AAAA")),
    ]
    return cases


def rest_cases() -> list[Case]:
    cases = [Case(f"api-category-{n}", "GET", "/api/v1/complaints", {"params": {"category": v[:200]}}, "admin")
             for n, v in TEXTUAL.items()]
    cases += [Case(f"api-reference-{n}", "GET", "/api/v1/applications/" + quote(v[:100], safe=""), as_="admin")
              for n, v in TEXTUAL.items()]
    cases += [Case(f"api-outbox-retry-{v}", "POST", f"/api/v1/outbox/{v}/retry", as_="admin")
              for v in ("abc", "-1", "0", HUGE, "1e30", "1.5", "%00")]
    cases += [
        Case("api-no-token", "GET", "/api/v1/applications"),
        Case("api-bad-token", "GET", "/api/v1/applications", {"headers": {"authorization": "Bearer nope"}}),
        Case("api-basic-auth", "GET", "/api/v1/applications", {"headers": {"authorization": "Basic YTpi"}}),
        Case("api-token-nul", "GET", "/api/v1/applications", {"headers": {"authorization": "Bearer a%00b"}}),
        Case("api-agent-on-webhooks", "GET", "/api/v1/webhooks", as_="agent"),
        Case("api-agent-on-export", "GET", "/api/v1/customers/web:abc/export", as_="agent"),
        Case("api-offset-huge", "GET", "/api/v1/applications", {"params": {"offset": HUGE}}, "admin"),
        Case("api-limit-zero", "GET", "/api/v1/applications", {"params": {"limit": "0"}}, "admin"),
        Case("api-stage-bogus", "GET", "/api/v1/applications", {"params": {"stage": "true"}}, "admin"),
        Case("api-since-garbage", "GET", "/api/v1/complaints/stats", {"params": {"since": "yesterday'"}}, "admin"),
        Case("api-until-number", "GET", "/api/v1/ratings/stats", {"params": {"until": "0.5"}}, "admin"),
        Case("api-since-year-0", "GET", "/api/v1/ratings", {"params": {"since": "0000-01-01T00:00:00Z"}}, "admin"),
        Case("api-since-year-9999", "GET", "/api/v1/complaints",
             {"params": {"since": "9999-12-31T23:59:59+14:00"}}, "admin"),
        Case("api-assigned-huge", "GET", "/api/v1/complaints", {"params": {"assigned_to": HUGE}}, "admin"),
        Case("api-assign-wrong-type", "POST", "/api/v1/complaints/TS261201-ABCD/assign",
             _json({"staff_id": "boss"}), "admin"),
        Case("api-assign-huge", "POST", "/api/v1/complaints/TS261201-ABCD/assign", _json({"staff_id": 2**70}), "admin"),
        Case("api-transition-not-json", "POST", "/api/v1/applications/SB-20261201-ABCD/transitions",
             {"content": b"to=approved", "headers": {"content-type": "application/json"}}, "admin"),
        Case("api-transition-array", "POST", "/api/v1/applications/SB-20261201-ABCD/transitions",
             _json([{"to": "approved"}]), "admin"),
        Case("api-correction-empty-material", "POST", "/api/v1/applications/SB-20261201-ABCD/correction",
             _json({"items": [{"material": ""}]}), "admin"),
        Case("api-extension-days-huge", "POST", "/api/v1/applications/SB-20261201-ABCD/extensions",
             _json({"days": 2**70, "reason": "x"}), "admin"),
        Case("api-export-traversal", "GET", "/api/v1/customers/" + quote("web:../../etc/passwd", safe="") + "/export",
             as_="admin"),
        Case("api-export-unknown", "GET", "/api/v1/customers/telegram:999/export", as_="admin"),
        Case("api-webhook-ipv6-unclosed", "POST", "/api/v1/webhooks",
             _json({"url": "http://[", "secret": "s" * 20}), "admin"),
        Case("api-webhook-javascript", "POST", "/api/v1/webhooks",
             _json({"url": "javascript:alert(1)", "secret": "s" * 20}), "admin"),
        Case("api-webhook-short-secret", "POST", "/api/v1/webhooks",
             _json({"url": "https://x.example/h", "secret": "s"}), "admin"),
        Case("api-webhook-bogus-event", "POST", "/api/v1/webhooks",
             _json({"url": "https://x.example/h", "secret": "s" * 20, "events": ["../x"]}), "admin"),
        Case("api-webhook-delete-huge", "DELETE", f"/api/v1/webhooks/{HUGE}", as_="admin"),
        Case("api-webhook-replay-missing", "POST", "/api/v1/webhooks/deliveries/77/replay", as_="admin"),
        Case("api-download-huge", "GET", f"/api/v1/applications/SB-20261201-ABCD/files/{HUGE}", as_="admin"),
        Case("api-unknown-path", "GET", "/api/v1/../../etc/passwd", as_="admin"),
        Case("api-method", "PATCH", "/api/v1/applications", as_="admin"),
    ]
    return cases


def console_cases() -> list[Case]:
    cases = [Case(f"console-search-{n}", "GET", "/console/search", {"params": {"text": v[:2000], "name": v[:50]}},
                  "console")
             for n, v in TEXTUAL.items()]
    cases += [Case(f"console-try-{n}", "GET", "/console/knowledge/try", {"params": {"q": v[:2000]}}, "console")
              for n, v in TEXTUAL.items()]
    cases += [Case(f"console-login-{n}", "POST", "/console/login",
                   {"data": {"username": v[:5000], "password": v[:5000], "next": "/console"}}, "console-anonymous")
              for n, v in TEXTUAL.items() if n in ("nul", "long", "xss")]  # each costs an argon2 hash
    cases += [
        Case("console-login-no-csrf", "POST", "/console/login", {"data": {"username": "a", "password": "b"}}),
        Case("console-login-next-offsite", "POST", "/console/login",
             {"data": {"username": "admin", "password": "wrong", "next": "//evil.example/"}}, "console-anonymous"),
        Case("console-login-page-next-js", "GET", "/console/login", {"params": {"next": "javascript:alert(1)"}}),
        Case("console-lang-traversal", "GET", "/console/lang/" + quote("../../etc", safe=""),
             {"headers": {"referer": "https://evil.example/"}}),
        Case("console-conversation-huge", "GET", f"/console/conversations/{HUGE}", as_="console"),
        Case("console-conversation-int-max", "GET", "/console/conversations/2147483648", as_="console"),
        Case("console-conversation-abc", "GET", "/console/conversations/abc", as_="console"),
        Case("console-messages-after-huge", "GET", "/console/api/conversations/1/messages",
             {"params": {"after": HUGE}}, "console"),
        Case("console-attachment-huge", "GET", f"/console/conversations/1/attachments/{HUGE}", as_="console"),
        Case("console-outbox-retry-huge", "POST", f"/console/outbox/{HUGE}/retry", {"data": {}}, "console"),
        Case("console-handoff-bogus-action", "POST", "/console/handoffs/1/explode", {"data": {}}, "console"),
        Case("console-handoff-huge", "POST", f"/console/handoffs/{HUGE}/claim", {"data": {}}, "console"),
        Case("console-staff-bad-role", "POST", "/console/staff",
             {"data": {"username": "eve", "password": "pw-long-enough-1", "role": "god"}}, "console"),
        Case("console-staff-nul-name", "POST", "/console/staff",
             {"data": {"username": "ev\x00e", "password": "pw-long-enough-1", "role": "agent"}}, "console"),
        Case("console-staff-role-huge", "POST", f"/console/staff/{HUGE}/role", {"data": {"role": "agent"}}, "console"),
        Case("console-webhook-ipv6-unclosed", "POST", "/console/webhooks",
             {"data": {"url": "http://[", "secret": "s" * 20}}, "console"),
        Case("console-webhook-remove-huge", "POST", f"/console/webhooks/{HUGE}/remove", {"data": {}}, "console"),
        Case("console-dashboard-csv-traversal", "GET", "/console/dashboard/" + quote("..", safe="") + "/passwd.csv",
             as_="console"),
        Case("console-unanswered-days-huge", "GET", "/console/knowledge/unanswered", {"params": {"days": HUGE}},
             "console"),
        Case("console-entry-traversal", "GET", "/console/knowledge/entries/" + quote("../../etc/passwd", safe=""),
             as_="console"),
        Case("console-knowledge-new-nasty", "POST", "/console/knowledge/new",
             {"data": {"id": "../../evil", "question": NASTY["xss"], "answer": NASTY["nul"]}}, "console"),
        Case("console-canned-delete-huge", "POST", f"/console/canned/{HUGE}/delete", {"data": {}}, "console"),
        Case("console-complaint-action-bogus", "POST", "/console/complaints/TS261201-ABCD/action",
             {"data": {"action": "explode"}}, "console"),
    ]
    return cases


CASES = webchat_cases() + telegram_cases() + wecom_cases() + rest_cases() + console_cases()


@dataclass
class Desk:
    runtime: Runtime
    client: TestClient
    console: TestClient
    tokens: dict[str, str]

    @property
    def db(self) -> Database:
        return self.runtime.services.db

    def settle(self) -> None:
        """Handle every recorded delivery now (what the inbox worker does in the background)."""
        async def run() -> None:
            assert self.runtime.inbox
            while await self.runtime.inbox.process_once():
                pass
        asyncio.run(run())


@pytest.fixture(scope="module")
def desk(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    fake_wecom = wecom_sim.FakeWeCom().start()
    folder = tmp_path_factory.mktemp("hostile")
    settings = load_settings(
        data_dir=folder / "data", database_url=module_database_url, _env_file=None,
        rate_limit_per_minute=100_000, max_upload_bytes=UPLOAD_LIMIT,
        telegram_token=SecretStr(TG_TOKEN), telegram_mode="webhook", telegram_webhook_secret=SecretStr(TG_SECRET),
        telegram_base_url="http://bot-api.test/bot",
        wecom_mode="both", wecom_corp_id=wecom_sim.CORP_ID, wecom_agent_id=wecom_sim.AGENT_ID,
        wecom_secret=wecom_sim.SECRET, wecom_kf_secret=wecom_sim.KF_SECRET, wecom_token=wecom_sim.TOKEN,
        wecom_aes_key=wecom_sim.AES_KEY, wecom_base_url=fake_wecom.base_url)
    runtime = Runtime.build(settings, knowledge=StandInKnowledge.from_folder(settings.knowledge_dir))
    telegram_api = FakeBotApi()
    runtime.channels["telegram"] = TelegramChannel(settings, runtime.services, request=FakeRequest(telegram_api),
                                                   get_updates_request=FakeRequest(telegram_api))
    with runtime.services.db.session() as s:
        add_staff(s, "admin", "hostile-admin-pw-1", "admin", "Admin")
        tokens = {"admin": create_api_token(s, "hostile-admin", "admin"),
                  "agent": create_api_token(s, "hostile-agent", "agent")}
    app = create_app(runtime, start_workers=False)
    with TestClient(app) as client, TestClient(app) as console:
        assert console_login(console, "admin", "hostile-admin-pw-1").status_code == 303
        yield Desk(runtime, client, console, tokens)
    asyncio.run(runtime.channels["telegram"].stop())
    runtime.services.db.dispose()
    fake_wecom.stop()


def _send(desk: Desk, case: Case) -> httpx2.Response:
    kwargs = {**case.kwargs, "headers": dict(case.kwargs.get("headers", {}))}
    client = desk.console if case.as_ == "console" else desk.client
    if case.as_ in desk.tokens:
        kwargs["headers"].setdefault("authorization", f"Bearer {desk.tokens[case.as_]}")
    if case.as_ == "telegram" and "headers" not in case.kwargs:
        kwargs["headers"]["X-Telegram-Bot-Api-Secret-Token"] = TG_SECRET
    if case.as_ in ("console", "console-anonymous") and case.method == "POST":
        page = desk.console if case.as_ == "console" else desk.client
        csrf = csrf_of(page.get("/console/password" if case.as_ == "console" else "/console/login").text)
        kwargs["data"] = {**kwargs.get("data", {}), "csrf_token": csrf}
    return client.request(case.method, case.path, follow_redirects=False, **kwargs)


def _inbox_count(desk: Desk) -> int:
    with desk.db.session() as s:
        return s.scalar(select(func.count()).select_from(InboxItem)) or 0


def _customer_messages(desk: Desk, session_id: str) -> int:
    with desk.db.session() as s:
        return s.scalar(select(func.count()).select_from(Message).join(Conversation).where(
            Conversation.channel == "web", Conversation.chat_id == session_id, Message.sender == "customer")) or 0


def _session_of(case: Case) -> str:
    if "content" in case.kwargs:
        return json.loads(case.kwargs["content"])["session_id"]
    return case.kwargs["data"]["session_id"]


def _tracebacks(records: list[logging.LogRecord]) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in records
            if r.levelno >= logging.ERROR and r.exc_info and r.name.split(".")[0] in OUR_CODE]


def test_the_suite_is_big_enough():
    assert len(CASES) >= 150 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hostile_request(desk: Desk, case: Case, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    inbox_before = _inbox_count(desk)
    answer = _send(desk, case)
    assert answer.status_code < 500, (case.id, answer.status_code, answer.text[:500])
    if case.as_ == "telegram" or case.path.startswith("/wecom"):
        desk.settle()
        with desk.db.session() as s:
            stuck = s.scalars(select(InboxItem).where(InboxItem.status.not_in(("done", "unparseable")))).all()
        assert not stuck, [(i.delivery_key, i.status, i.last_error) for i in stuck]
    if answer.status_code == 200 and case.records == "inbox":
        assert _inbox_count(desk) == inbox_before + 1, "accepted, but not recorded"
    if answer.status_code == 200 and case.records == "webchat":
        assert _customer_messages(desk, _session_of(case)) >= 1, "accepted, but not in the transcript"
    assert not _tracebacks(caplog.records)

