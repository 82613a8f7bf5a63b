"""Callback crypto against WeCom's published sample and against an independent encryption."""
from __future__ import annotations

import pytest
from wechatpy.work.crypto import WeChatCrypto

from bot.channels.wecom.crypto import MAX_CALLBACK_BYTES, CallbackCrypto, CallbackRejected
from tests.integration.wecom.wecom_sim import AES_KEY, CORP_ID, TOKEN, callback, text_xml, wecom_encrypt, wecom_sign

# The sample of WeCom's encryption documentation (加解密方案说明, also in its WXBizMsgCrypt samples).
SAMPLE_TOKEN = "QDG6eK"
SAMPLE_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
SAMPLE_CORP_ID = "wx5823bf96d3bd56c7"
SAMPLE_POST = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo"
    "+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiS"
    "pGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZx"
    "Z3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22"
    "Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R"
    "07+qN+E7Q==]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
).encode()


@pytest.fixture
def sample() -> CallbackCrypto:
    return CallbackCrypto(SAMPLE_TOKEN, SAMPLE_AES_KEY, SAMPLE_CORP_ID)


def test_known_answer_message(sample):
    msg = sample.decrypt_callback(SAMPLE_POST, "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149")
    assert msg == {"ToUserName": "wx5823bf96d3bd56c7", "FromUserName": "mycreate", "CreateTime": "1409659813",
                   "MsgType": "text", "Content": "hello", "MsgId": "4561255354251345929", "AgentID": "218"}


def test_known_answer_url_verification(sample):
    echo = sample.verify_url("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780",
                             "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==")
    assert echo == "1616140317555161061"


def test_known_answer_refuses_a_changed_signature_or_timestamp(sample):
    with pytest.raises(CallbackRejected) as bad:
        sample.decrypt_callback(SAMPLE_POST, "477715d11cdb4164915debcba66cb864d751f3e7", "1409659813", "1372623149")
    assert bad.value.status == 403
    with pytest.raises(CallbackRejected):
        sample.decrypt_callback(SAMPLE_POST, "477715d11cdb4164915debcba66cb864d751f3e6", "1409659814", "1372623149")


def test_test_helper_agrees_with_wechatpy_and_us():
    """Our simulator, wechatpy and the adapter speak the same format (Chinese text included)."""
    xml = text_xml("zhangsan", "你好，世界", "1")
    query, body = callback(xml)
    params = dict(p.split("=") for p in query.split("&"))
    ours = CallbackCrypto(TOKEN, AES_KEY, CORP_ID).decrypt_callback(body, params["msg_signature"], params["timestamp"],
                                                                    params["nonce"])
    assert ours["Content"] == "你好，世界"
    theirs = WeChatCrypto(TOKEN, AES_KEY, CORP_ID).decrypt_message(body, params["msg_signature"], params["timestamp"],
                                                                    params["nonce"])
    assert theirs == xml


@pytest.mark.parametrize("case", ["wrong_key", "wrong_corp", "not_base64", "short", "malformed", "dtd", "too_big"])
def test_bad_callbacks_are_refused(case):
    crypto = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)
    other_key = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
    xml = text_xml("u", "hi", "1")
    encrypted = {
        "wrong_key": wecom_encrypt(xml, aes_key=other_key),
        "wrong_corp": wecom_encrypt(xml, corp_id="ww-someone-else"),
        "not_base64": "%%%not base64%%%",
        "short": "AAAA",
    }.get(case)
    if encrypted is not None:
        body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
        signature = wecom_sign(encrypted, "1", "2")
    else:
        body = {"malformed": b"<xml><Encrypt>abc</Encry",
                "dtd": b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>',
                "too_big": b"<xml>" + b" " * MAX_CALLBACK_BYTES + b"</xml>"}[case]
        signature = "0" * 40
    with pytest.raises(CallbackRejected) as refused:
        crypto.decrypt_callback(body, signature, "1", "2")
    assert refused.value.status == (413 if case == "too_big" else 400)
