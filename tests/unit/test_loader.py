"""Validation reports every problem with file and line; no models needed."""
from __future__ import annotations

from pathlib import Path

from knowledge.loader import load

GOOD = """\
lang: zh
entries:
  - id: hours
    question: 几点开门？
    alternates: [营业时间]
    answer:
      zh: 九点开门。
      en: We open at nine.
    followups: [fees]
  - id: fees
    question: 收费吗？
    answer: 不收费。
    followups:
      - {action: "application:start", label: {zh: 办理, en: Apply}}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def messages(problems, level="error"):
    return [(Path(p.file).name, p.line, p.message) for p in problems if p.level == level]


def test_good_file_loads_with_both_answer_languages(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    entries, problems = load(tmp_path)
    assert problems == []
    hours = entries[0]
    assert hours.id == "hours" and hours.alternates == ("营业时间",)
    assert hours.answer_in("en") == "We open at nine." and hours.answer_in("zh") == "九点开门。"
    assert entries[1].answer_in("en") == "不收费。"  # no English answer: the entry's language
    assert entries[1].followups[0].action == "application:start"


def test_bad_yaml_reports_its_line(tmp_path):
    write(tmp_path, "bad.yaml", "entries:\n  - id: x\n    question: [unclosed\n    answer: y\n")
    _, problems = load(tmp_path)
    errs = messages(problems)
    assert len(errs) == 1 and errs[0][0] == "bad.yaml" and errs[0][1] in (3, 4, 5)
    assert "bad YAML" in errs[0][2]


def test_missing_fields_empty_answer_and_bad_followup_name_their_lines(tmp_path):
    write(tmp_path, "t.yaml", """\
entries:
  - id: ok
    question: 问题一
    answer: 答案
    followups: [nowhere]
  - question: 没有编号
    answer: 答案
  - id: empty-answer
    question: 问题三
    answer: "  "
  - id: no-question
    answer: 答案
""")
    _, problems = load(tmp_path)
    errs = messages(problems)
    assert ("t.yaml", 6, "missing field 'id'") in errs
    assert ("t.yaml", 10, "empty-answer: empty answer") in errs
    assert ("t.yaml", 11, "no-question: missing or empty 'question'") in errs
    assert any(f == "t.yaml" and line == 2 and "follow-up 'nowhere'" in m for f, line, m in errs)


def test_duplicate_ids_across_files_and_same_phrasing_warning(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", "entries:\n  - id: hours\n    question: 别的问题\n    answer: 重复\n"
                              "  - id: opening\n    question: 几点开门?\n    answer: 同一个问法\n")
    _, problems = load(tmp_path)
    errs = messages(problems)
    assert any(f == "b.yaml" and line == 2 and "duplicate id 'hours'" in m and "a.yaml:3" in m for f, line, m in errs)
    warns = messages(problems, "warning")
    assert any(f == "b.yaml" and line == 5 and "opening" in m and "also in hours" in m for f, line, m in warns)


def test_jsonl_in_eval_schema_with_line_numbers(tmp_path):
    write(tmp_path, "kb.jsonl",
          '{"id": "a", "question": "q", "alternates": [], "answer": "x", "lang": "en", "tags": []}\n'
          '{"id": "b", "question": "q2", "answer": ""}\n'
          'not json\n')
    entries, problems = load(tmp_path / "kb.jsonl")
    assert [e.id for e in entries] == ["a"] and entries[0].lang == "en"
    assert [(line, m.split(":")[0]) for _f, line, m in messages(problems)] == [(2, "b"), (3, "bad JSON")]


def test_faq_and_console_subfolders_are_read_and_services_are_not(tmp_path):
    for sub in ("faq", "services", "console"):
        (tmp_path / sub).mkdir()
    write(tmp_path / "faq", "a.yaml", GOOD)
    write(tmp_path / "services", "s.yaml", "not: an faq file\n")
    write(tmp_path / "console", "parking.yaml", "entries:\n- id: parking\n  question: 停车\n  answer: 有\n")
    entries, problems = load(tmp_path)
    assert sorted(e.id for e in entries) == ["fees", "hours", "parking"] and problems == []


def test_shipped_sample_knowledge_is_valid():
    entries, problems = load(Path(__file__).resolve().parents[2] / "knowledge" / "data")
    assert [p for p in problems if p.level == "error"] == []
    assert len(entries) >= 40
    assert {e.lang for e in entries} == {"zh", "en"}
