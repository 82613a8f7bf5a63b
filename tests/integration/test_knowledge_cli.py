"""`python -m bot kb ...`: eval output format, check exit codes, import/export round trips."""
from __future__ import annotations

import json

import pytest

from bot.cli import main

KB = [
    {"id": "hours", "question": "办事大厅几点开门？", "alternates": ["营业时间"], "answer": "九点。", "lang": "zh", "tags": ["hours"]},
    {"id": "fees", "question": "办理业务收费吗？", "alternates": [], "answer": "免费。", "lang": "zh", "tags": ["fees"]},
    {"id": "en-card", "question": "Can I pay with a foreign card?", "alternates": ["Visa accepted?"],
     "answer": "Yes.", "lang": "en", "tags": ["fees"]},
]
QUERIES = [
    {"query": "大厅 几点 开门呀", "gold": "hours", "kind": "colloquial"},
    {"query": "要钱吗", "gold": "fees", "kind": "paraphrase"},
    {"query": "给我讲个笑话", "gold": None, "kind": "out_of_scope"},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


@pytest.mark.slow
def test_eval_writes_one_line_per_query_in_the_agreed_format(tmp_path, capsys, embedding_cache):
    write_jsonl(tmp_path / "kb.jsonl", KB)
    write_jsonl(tmp_path / "q.jsonl", QUERIES)
    out = tmp_path / "pred.jsonl"
    code = main(["kb", "eval", "--kb", str(tmp_path / "kb.jsonl"), "--queries", str(tmp_path / "q.jsonl"),
                 "--predictions", str(out), "--cache", str(embedding_cache)])
    assert code == 0
    preds = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [p["query"] for p in preds] == [q["query"] for q in QUERIES]
    for p in preds:
        assert set(p) == {"query", "top1", "top5", "confidence", "answered"}
        assert p["top1"] in {"hours", "fees", "en-card"} and p["top5"][0] == p["top1"] and len(p["top5"]) == 3
        assert 0.0 <= p["confidence"] <= 1.0 and isinstance(p["answered"], bool)
    assert preds[0]["top1"] == "hours"
    printed = capsys.readouterr().out
    for figure in ("top-1 accuracy", "answered precision", "coverage", "out-of-scope rejection", "selective accuracy"):
        assert figure in printed
    assert "colloquial" in printed and "out_of_scope" in printed


def test_check_reports_errors_with_file_and_line_and_fails(tmp_path, capsys):
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "a.yaml").write_text("entries:\n  - id: a\n    question: q\n    answer: ''\n", encoding="utf-8")
    assert main(["kb", "check", str(tmp_path / "kb"), "--no-embed"]) == 1
    out = capsys.readouterr().out
    assert "a.yaml:4: error: a: empty answer" in out and "1 errors" in out


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_import_then_export_round_trips(tmp_path, capsys, fmt):
    write_jsonl(tmp_path / "kb.jsonl", KB)
    assert main(["kb", "import", str(tmp_path / "kb.jsonl"), "--to", str(tmp_path / "kb")]) == 0
    assert sorted(p.name for p in (tmp_path / "kb").iterdir()) == ["fees.yaml", "hours.yaml"]
    assert main(["kb", "export", "--kb", str(tmp_path / "kb"), "--to", str(tmp_path / f"out.{fmt}")]) == 0
    back = tmp_path / "back"
    assert main(["kb", "import", str(tmp_path / f"out.{fmt}"), "--to", str(back)]) == 0
    assert main(["kb", "check", str(back), "--no-embed"]) == 0
    from knowledge.loader import load

    entries, _ = load(back)
    by_id = {e.id: e for e in entries}
    assert set(by_id) == {"hours", "fees", "en-card"}
    assert by_id["hours"].alternates == ("营业时间",) and by_id["en-card"].lang == "en"
    assert by_id["en-card"].answer_in("en") == "Yes." and by_id["fees"].tags == ("fees",)


def test_check_also_validates_the_service_files(tmp_path, capsys):
    from pathlib import Path

    kb = tmp_path / "kb"
    (kb / "faq").mkdir(parents=True)
    (kb / "faq" / "a.yaml").write_text("entries:\n  - id: a\n    question: q\n    answer: ok\n", encoding="utf-8")
    (kb / "services").mkdir()
    shipped = Path(__file__).resolve().parents[2] / "knowledge" / "data" / "services"
    for f in shipped.glob("*.yaml"):
        (kb / "services" / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["kb", "check", str(kb), "--no-embed"]) == 0
    (kb / "services" / "broken.yaml").write_text("id: broken\nname: [unclosed\n", encoding="utf-8")
    assert main(["kb", "check", str(kb), "--no-embed"]) == 1
    assert "broken.yaml:" in capsys.readouterr().out
