"""The runtime with the real default encoders: decisions, answer language, hot reload."""
from __future__ import annotations

import time

import pytest

from knowledge.decide import Calibration
from knowledge.runtime import KnowledgeRuntime

pytestmark = pytest.mark.slow


@pytest.fixture
def rt(kb_dir, embedding_cache):
    r = KnowledgeRuntime(kb_dir, embedding_cache)
    yield r
    r.stop()


def test_clear_question_is_answered_in_the_customers_language(rt):
    a = rt.ask("大厅营业时间", "en")
    assert a.decision == "answer" and a.hits[0].entry_id == "hours"
    assert 0.0 <= a.confidence <= 1.0
    entry = rt.entry("hours")
    assert rt.answer_text(entry, "en") == "Weekdays nine to five."
    assert rt.answer_text(rt.entry("fees"), "en") == "大部分业务免费。"  # only in Chinese


def test_off_topic_and_emoji_are_declined(rt):
    for text in ("推荐一部好看的电影", "🙂🙂🙂"):
        a = rt.ask(text)
        assert a.decision == "decline", text
        assert a.hits, "top1 is reported even when declining"


def test_thresholds_decide_between_answer_suggest_and_decline(kb_dir, embedding_cache):
    unsure = Calibration(answer_threshold=1.01, suggest_threshold=0.0, suggest_window=1.0)
    a = KnowledgeRuntime(kb_dir, embedding_cache, calibration=unsure).ask("大厅营业时间")
    assert a.decision == "suggest"
    assert 2 <= len(a.suggestions) <= 3 and a.suggestions[0].entry_id == "hours"
    assert Calibration(answer_threshold=0.6, suggest_threshold=0.3).decide(0.45) == "suggest"
    assert Calibration(answer_threshold=0.6, suggest_threshold=0.3).decide(0.2) == "decline"
    assert Calibration(answer_threshold=0.6, suggest_threshold=0.3).decide(0.6) == "answer"


def test_broken_change_keeps_last_good_knowledge_and_valid_change_applies(rt, kb_dir):
    f = kb_dir / "topic.yaml"
    good = f.read_text(encoding="utf-8")
    f.write_text(good + "  - id: broken\n    question: [oops\n", encoding="utf-8")
    problems = rt.reload()
    assert any(p.level == "error" and p.file.endswith("topic.yaml") and p.line > 0 for p in problems)
    assert {e.id for e in rt.entries} == {"hours", "fees", "complaint"}
    assert rt.ask("大厅营业时间").hits[0].entry_id == "hours"

    f.write_text(good.replace("工作日九点到五点。", "工作日八点半到五点半。"), encoding="utf-8")
    assert [p for p in rt.reload() if p.level == "error"] == []
    assert rt.answer_text(rt.entry("hours"), "zh") == "工作日八点半到五点半。"


def test_watcher_picks_up_a_new_entry_within_seconds(rt, kb_dir):
    rt.start_watching(debounce_ms=200)
    time.sleep(0.5)
    (kb_dir / "more.yaml").write_text(
        "entries:\n  - id: parking\n    question: 大厅有停车场吗？\n    answer: 地下车库免费两小时。\n", encoding="utf-8")
    deadline = time.monotonic() + 30
    while rt.entry("parking") is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rt.entry("parking") is not None
    assert rt.ask("附近能停车吗").hits[0].entry_id == "parking"


def test_entries_the_console_writes_later_are_picked_up(kb_dir, embedding_cache):
    root = kb_dir.parent / "knowledge"
    (root / "faq").mkdir(parents=True)
    (root / "services").mkdir()
    (root / "faq" / "topic.yaml").write_text((kb_dir / "topic.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    rt = KnowledgeRuntime(root, embedding_cache)
    try:
        rt.start_watching(debounce_ms=200)
        time.sleep(0.5)
        (root / "services" / "x.yaml").write_text("id: not-faq\n", encoding="utf-8")
        (root / "console").mkdir()
        (root / "console" / "parking.yaml").write_text(
            "entries:\n  - id: parking\n    question: 大厅有停车场吗？\n    answer: 有。\n", encoding="utf-8")
        deadline = time.monotonic() + 30
        while rt.entry("parking") is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert rt.entry("parking") is not None
        assert [p for p in rt.problems if p.level == "error"] == []
    finally:
        rt.stop()
