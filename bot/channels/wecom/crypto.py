"""WeCom callback security: signature check, AES decryption, and strict parsing of the XML.

WeCom signs every callback with SHA1(sort(token, timestamp, nonce, ciphertext)) and
encrypts the body with AES-256-CBC (key = EncodingAESKey, IV = its first 16 bytes) over
``random(16) | length(4, big endian) | message | corp id``. wechatpy does the cipher; the
checks around it are ours, because its decrypt neither validates the padding nor compares
the signature in constant time, and a callback that fails any check must do nothing.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import xml.etree.ElementTree as ET

from wechatpy.crypto.base import WeChatCipher

#: WeCom callbacks are small; anything larger is refused before decryption.
MAX_CALLBACK_BYTES = 64 * 1024


class CallbackRejected(Exception):
    """A callback that must not be processed. ``status`` is the HTTP answer, ``reason`` is safe to log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def parse_xml(data: str | bytes) -> dict[str, str]:
    """The top-level elements of a WeCom XML document as a flat dict; DTDs and entities are refused."""
    raw = data.encode() if isinstance(data, str) else data
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise CallbackRejected(400, "xml with a DTD")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        raise CallbackRejected(400, "malformed xml") from None
    return {child.tag: (child.text or "").strip() for child in root}


class CallbackCrypto:
    """Verifies and decrypts the callbacks of one WeCom corp (token, EncodingAESKey, corp id)."""

    def __init__(self, token: str, encoding_aes_key: str, corp_id: str) -> None:
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error:
            key = b""
        if len(key) != 32:
            raise ValueError("the EncodingAESKey must be 43 base64 characters (32 bytes)")
        self.token = token
        self.key = key
        self.corp_id = corp_id

    def _check(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode(), msg_signature.lower().encode()):
            raise CallbackRejected(403, "bad signature")

    def decrypt(self, encrypted: str) -> str:
        """The plaintext of one ciphertext, after checking padding, length and corp id."""
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise CallbackRejected(400, "ciphertext is not base64") from None
        if not raw or len(raw) % 16:
            raise CallbackRejected(400, "ciphertext length is not a whole number of blocks")
        plain = WeChatCipher(self.key).decrypt(raw)
        pad = plain[-1]
        if not 1 <= pad <= 32 or plain[-pad:] != bytes([pad]) * pad:
            raise CallbackRejected(400, "bad padding (wrong EncodingAESKey?)")
        content = plain[16:-pad]
        if len(content) < 4:
            raise CallbackRejected(400, "decrypted message too short")
        (length,) = struct.unpack(">I", content[:4])
        message, receiver = content[4:4 + length], content[4 + length:]
        if len(message) != length or receiver.decode("utf-8", "replace") != self.corp_id:
            raise CallbackRejected(400, "decrypted message is not for this corp id")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            raise CallbackRejected(400, "decrypted message is not UTF-8") from None

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """URL verification (GET): the decrypted echostr to answer with."""
        self._check(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def decrypt_callback(self, body: bytes, msg_signature: str, timestamp: str, nonce: str) -> dict[str, str]:
        """A POSTed callback body -> the decrypted message as a flat dict."""
        if len(body) > MAX_CALLBACK_BYTES:
            raise CallbackRejected(413, "callback body too large")
        encrypted = parse_xml(body).get("Encrypt")
        if not encrypted:
            raise CallbackRejected(400, "no Encrypt element")
        self._check(msg_signature, timestamp, nonce, encrypted)
        return parse_xml(self.decrypt(encrypted))
