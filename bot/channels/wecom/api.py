"""The WeCom HTTP API through wechatpy's client, with the access token shared in the ``kv`` table.

wechatpy's client is synchronous: callers run these methods in a thread. Its own retry
on token errors is off (with it on, a token that keeps failing made it call gettoken
without end); instead ``call`` refreshes once and tries once more. wechatpy hard-codes
the gettoken and media/get addresses, so those two are done here against the base URL.
"""
from __future__ import annotations

import hashlib
import logging
import re
import time
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import requests
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage
from wechatpy.work import WeChatClient

from bot.channels import kv
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)

#: What WeCom's errcodes mean (from its global error code list), for the log.
MEANINGS = {
    -1: "system busy, try again later",
    40001: "invalid secret",
    40013: "invalid corp id",
    40014: "invalid access_token",
    40007: "invalid media_id",
    41001: "access_token missing",
    42001: "access_token expired",
    45009: "API call frequency limit reached",
    45033: "too many concurrent calls",
    48002: "API not allowed for this app (check its permissions)",
    60020: "server IP not in the app's trusted IP list",
    81013: "user, department and tag all invalid (user outside the app's visible range?)",
    95000: "invalid open_kfid",
    95001: "kf: message limit for this customer reached (5 within 48 h of the customer's message)",
    95007: "kf: invalid or expired msg token",
    95014: "kf: the user is not a servicer on duty for this account",
    95016: "kf: this service state change is not allowed",
}
#: Errors that go away by themselves: try again later.
RETRYABLE = {-1, 45009, 45033}
TOKEN_ERRORS = {40014, 42001}


def describe(errcode: int | None) -> str:
    if errcode is None:
        return "no answer from WeCom"
    return f"{errcode} ({MEANINGS.get(errcode, 'see WeCom global error codes')})"


class NoServicerOnDuty(Exception):
    """kf/service_state/trans answered 95014: the servicer is not a receptionist on duty."""


class WeComError(Exception):
    """A failed WeCom call. ``errcode`` is None when WeCom could not be reached or answered HTTP errors."""

    def __init__(self, errcode: int | None, detail: str = "") -> None:
        super().__init__(f"WeCom error {describe(errcode)}" + (f": {detail}" if detail else ""))
        self.errcode = errcode

    @property
    def retryable(self) -> bool:
        return self.errcode is None or self.errcode in RETRYABLE or self.errcode in TOKEN_ERRORS


class _KvStorage(SessionStorage):
    """wechatpy's token cache, kept in the database so every worker shares one token."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str, default: Any = None) -> Any:
        value = kv.get(self.db, key)
        return value["v"] if value else default

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        expires = utcnow() + timedelta(seconds=ttl) if ttl else None
        kv.put(self.db, key, {"v": value}, expires)

    def delete(self, key: str) -> None:
        kv.remove(self.db, key)


class _Client(WeChatClient):
    def __init__(self, corp_id: str, secret: str, base_url: str, db: Database, timeout: float) -> None:
        super().__init__(corp_id, secret, session=_KvStorage(db), timeout=timeout, auto_retry=False)
        self.API_BASE_URL = base_url
        # The cache key names the secret by a hash, never by its characters.
        self._token_key = f"wecom:token:{corp_id}:{hashlib.sha256(secret.encode()).hexdigest()[:16]}"

    @property
    def access_token_key(self) -> str:
        return self._token_key

    @property
    def access_token_expires_at_key(self) -> str:
        return self._token_key + ":expires_at"

    def fetch_access_token(self) -> dict[str, Any]:
        log.info("fetching a WeCom access token")
        res = self._http.get(self.API_BASE_URL + "gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret},
                             timeout=self.timeout)
        if res.status_code >= 400:
            raise WeChatClientException(None, f"HTTP {res.status_code}")
        result = self._handle_result(res)
        expires_in = int(result.get("expires_in", 7200))
        self.session.set(self.access_token_key, result["access_token"], expires_in)
        self.expires_at = int(time.time()) + expires_in
        return result


_FILENAME = re.compile(r"""filename(\*?)=(?:UTF-8'')?"?([^";]+)"?""", re.IGNORECASE)


def _file_name(disposition: str) -> str | None:
    """The file name of a Content-Disposition header: RFC 5987 percent-encoded, or raw UTF-8 as WeCom sends it."""
    match = _FILENAME.search(disposition)
    if match is None:
        return None
    if match.group(1):
        return unquote(match.group(2))
    try:
        return match.group(2).encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return match.group(2)


class WeComApi:
    """One app's credentials (corp id + secret): JSON calls and media downloads."""

    def __init__(self, corp_id: str, secret: str, base_url: str, db: Database, timeout: float = 10.0) -> None:
        self.client = _Client(corp_id, secret, base_url, db, timeout)
        self.timeout = timeout

    def call(self, method: str, endpoint: str, data: dict[str, Any] | None = None,
             params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One API call; on 40014/42001 the token is fetched anew once and the call tried once more."""
        for attempt in (1, 2):
            try:
                if method == "get":
                    return self.client.get(endpoint, params=dict(params or {}))
                return self.client.post(endpoint, data=data or {}, params=dict(params or {}))
            except WeChatClientException as exc:
                if exc.errcode in TOKEN_ERRORS and attempt == 1:
                    log.info("WeCom refused the access token with %s; fetching a new one", describe(exc.errcode))
                    self._refresh()
                    continue
                log.warning("WeCom %s failed: %s", endpoint, describe(exc.errcode))
                raise WeComError(exc.errcode, str(exc.errmsg or "")[:200]) from None
            except requests.RequestException as exc:
                log.warning("WeCom %s unreachable: %s", endpoint, type(exc).__name__)
                raise WeComError(None, type(exc).__name__) from None
        raise AssertionError("unreachable")

    def _refresh(self) -> None:
        try:
            self.client.fetch_access_token()
        except WeChatClientException as exc:
            raise WeComError(exc.errcode, "gettoken failed") from None
        except requests.RequestException as exc:
            raise WeComError(None, type(exc).__name__) from None

    def download(self, media_id: str, max_bytes: int) -> tuple[bytes, str | None, str | None]:
        """A temporary media file (media/get): (bytes, file name, content type).

        Reads at most ``max_bytes + 1`` bytes, so an oversized file is recognised as such
        by the attachment store without being held in memory whole.
        """
        for attempt in (1, 2):
            try:
                token = self.client.access_token
                res = self.client._http.get(self.client.API_BASE_URL + "media/get",
                                            params={"access_token": token, "media_id": media_id},
                                            timeout=self.timeout, stream=True)
                with res:
                    if res.status_code >= 400:
                        raise WeComError(None, f"media/get HTTP {res.status_code}")
                    disposition = res.headers.get("Content-Disposition")
                    if disposition is None:  # an error answers JSON instead of the file
                        errcode = int(res.json().get("errcode", -1))
                        if errcode in TOKEN_ERRORS and attempt == 1:
                            self._refresh()
                            continue
                        raise WeComError(errcode, "media/get")
                    data = bytearray()
                    for chunk in res.iter_content(64 * 1024):
                        data += chunk
                        if len(data) > max_bytes:
                            break
                    return bytes(data), _file_name(disposition), res.headers.get("Content-Type")
            except WeChatClientException as exc:
                raise WeComError(exc.errcode, "gettoken failed") from None
            except (requests.RequestException, ValueError) as exc:
                raise WeComError(None, type(exc).__name__) from None
        raise AssertionError("unreachable")
