"""Rendering limits and the wiring from settings: no database needed beyond one SQLite file."""
from __future__ import annotations

import pytest

from bot.app import build_channels, build_services
from bot.channels.wecom import build_wecom_channels
from bot.channels.wecom.channel import TEXT_LIMIT_BYTES, WeComKfChannel, render, split_text
from bot.config import SettingsError, load_settings
from handlers.messages import Button, FileRef, Reply
from tests.integration.wecom.wecom_sim import AES_KEY, CORP_ID, SECRET, TOKEN


def test_split_keeps_every_piece_within_2048_bytes_and_loses_nothing():
    text = ("办理须知第一条。" * 50 + "\n") * 6 + "x" * 3000
    parts = split_text(text)
    assert len(parts) > 1 and all(len(p.encode()) <= TEXT_LIMIT_BYTES for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")
    assert parts[0].endswith("。")  # cut at a line break, not inside a line
    assert split_text("短消息") == ["短消息"] and split_text("") == [""]


def test_render_numbers_buttons_and_names_files():
    reply = Reply("请选择：", [Button("咨询问题", "menu:ask"), Button("办理业务", "application:start")],
                  [FileRef("表格.pdf", "https://example.com/f.pdf")])
    assert render(reply, "zh") == "请选择：\n📎 表格.pdf https://example.com/f.pdf\n\n1. 咨询问题\n2. 办理业务\n请回复序号进行选择。"
    assert render(Reply(buttons=[Button("Ask", "menu:ask")]), "en") == "1. Ask\nReply with a number to choose."


def test_kf_renders_buttons_as_a_menu_or_numbers_when_payloads_are_too_long():
    reply = Reply("请选择：", [Button("咨询问题", "menu:ask")])
    (menu,), numbered = WeComKfChannel.messages(reply, "zh")
    assert not numbered and menu == {"msgtype": "msgmenu", "msgmenu": {
        "head_content": "请选择：", "list": [{"type": "click", "click": {"id": "menu:ask", "content": "咨询问题"}}]}}
    long = Reply("请选择：", [Button("选这个", "x:" + "y" * 200)])
    (text,), numbered = WeComKfChannel.messages(long, "zh")
    assert numbered and text == {"msgtype": "text", "text": {"content": "请选择：\n\n1. 选这个\n请回复序号进行选择。"}}
    head = WeComKfChannel.messages(Reply("长" * 1000, [Button("好", "menu:ask")]), "zh")[0]
    assert [m["msgtype"] for m in head] == ["text", "text", "msgmenu"]
    sizes = [len((m["text"]["content"] if m["msgtype"] == "text" else m["msgmenu"]["head_content"]).encode())
             for m in head]
    assert max(sizes) <= 1024 and sum(sizes) == 3000


def settings(tmp_path, **overrides):  # noqa: ANN001, ANN201
    values = dict(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'w.sqlite3'}", _env_file=None,
                  wecom_corp_id=CORP_ID, wecom_token=TOKEN, wecom_aes_key=AES_KEY, wecom_secret=SECRET,
                  wecom_agent_id=1000002)
    values.update(overrides)
    return load_settings(**values)


@pytest.mark.slow  # builds the full runtime: the real embedding models
def test_modes_choose_the_channels(tmp_path):
    s = settings(tmp_path)
    services = build_services(s)
    assert list(build_channels(s, services)) == ["wecom"]
    assert list(build_channels(settings(tmp_path, wecom_mode="kf"), services)) == ["wecom_kf"]
    both = build_channels(settings(tmp_path, wecom_mode="both"), services)
    assert list(both) == ["wecom", "wecom_kf"]
    assert both["wecom"].router is not None and both["wecom_kf"].router is None  # one shared URL
    assert services.platform_transfers["wecom_kf"].channel is both["wecom_kf"]  # where the handoff finds it
    assert build_channels(settings(tmp_path, wecom_mode="off"), services) == {}
    assert build_channels(settings(tmp_path, wecom_corp_id=None), services) == {}
    services.db.dispose()


@pytest.mark.slow  # builds the full runtime: the real embedding models
def test_missing_or_wrong_settings_are_named(tmp_path):
    s = settings(tmp_path, wecom_agent_id=None, wecom_token=None)
    services = build_services(s)
    with pytest.raises(SettingsError) as missing:
        build_wecom_channels(s, services)
    assert "BOT_WECOM_TOKEN" in str(missing.value) and "BOT_WECOM_AGENT_ID" in str(missing.value)
    with pytest.raises(SettingsError) as bad_key:
        build_wecom_channels(settings(tmp_path, wecom_aes_key="tooshort"), services)
    assert "BOT_WECOM_AES_KEY" in str(bad_key.value)
    services.db.dispose()
