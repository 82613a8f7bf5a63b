"""Pure helpers of the Telegram channel: splitting, rendering, reading updates. No database."""
from __future__ import annotations

import pytest
from fake_bot_api import EntityError, visible_text

from bot.channels.telegram import button_rows, chat_of, language_of, render_text, split_text, utf16_len
from handlers.messages import Button, FileRef, Reply


def test_short_text_is_one_message_and_empty_text_none():
    assert split_text("你好") == ["你好"]
    assert split_text("") == [] and split_text(" \n\n ") == []


def test_split_prefers_paragraphs_then_lines_then_words():
    text = "aaaa\n\nbbbb\ncccc dddd eeee"
    assert split_text(text, limit=10) == ["aaaa", "bbbb", "cccc dddd", "eeee"]


def test_split_counts_utf16_like_telegram():
    emoji = "😀" * 3000  # 6000 UTF-16 units in 3000 characters
    parts = split_text(emoji)
    assert len(parts) == 2 and all(utf16_len(p) <= 4096 for p in parts) and "".join(parts) == emoji


def test_split_cuts_a_text_without_any_break():
    parts = split_text("字" * 9000)
    assert [len(p) for p in parts] == [4096, 4096, 808]


def test_split_keeps_every_character():
    text = "\n\n".join(f"段落{i} " + "词 " * (i * 300) for i in range(12))
    parts = split_text(text)
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert "".join(parts).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")


@pytest.mark.parametrize("text", ["<b>x", "a & b", "</i>", "<a href='x'>", "&amp;lt;", "1 < 2 > 0", "&#0;"])
def test_rendered_text_shows_exactly_what_was_written(text):
    [html_text] = render_text(Reply(text))
    assert visible_text(html_text) == text


def test_the_fake_refuses_broken_html_as_telegram_does():
    for broken in ("<b>x", "a & b", "<script>", "</i>"):
        with pytest.raises(EntityError):
            visible_text(broken)


def test_url_files_become_links_and_stored_files_do_not():
    reply = Reply("Forms:", files=[FileRef("form A.pdf", url="https://x.example/a?b=1&c=2"),
                                   FileRef("scan.pdf", attachment_id=3)])
    [text] = render_text(reply)
    assert text == 'Forms:\n\n📎 <a href="https://x.example/a?b=1&amp;c=2">form A.pdf</a>'
    [only_link] = render_text(Reply("", files=[FileRef("a.pdf", url="https://x.example/a")]))
    assert visible_text(only_link) == "📎 a.pdf"


def test_chat_of_reads_each_update_kind():
    assert chat_of({"update_id": 1, "message": {"chat": {"id": 5}}}) == "5"
    assert chat_of({"update_id": 1, "edited_message": {"chat": {"id": 6}}}) == "6"
    assert chat_of({"update_id": 1, "callback_query": {"from": {"id": 7}, "message": {"chat": {"id": 8}}}}) == "8"
    assert chat_of({"update_id": 1, "callback_query": {"from": {"id": 7}}}) == "7"
    assert chat_of({"update_id": 1, "poll": {"id": "p"}}) is None
    assert chat_of({"update_id": 1, "message": "garbage"}) is None


def test_language_hint_from_the_client():
    assert [language_of(c) for c in ("zh-hans", "zh-hant", "en", "en-GB", "ru", None, "")] == \
        ["zh", "zh", "en", "en", None, None, None]


def test_short_labels_pair_up_and_long_ones_stand_alone():
    labels = ["咨询问题", "办理业务", "Submit an application", "评价", "投诉", "转人工"]
    rows = button_rows([Button(label, f"x:{i}") for i, label in enumerate(labels)])
    assert [[b.label for b in row] for row in rows] == [
        ["咨询问题", "办理业务"], ["Submit an application"], ["评价", "投诉"], ["转人工"]]
