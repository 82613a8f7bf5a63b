"""Read knowledge files (YAML topic files, or JSONL in the eval schema) and validate them.

Every problem carries file and line so a content manager can fix it without
guessing; errors make the whole load invalid (the runtime then keeps its last
good knowledge), warnings do not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .normalize import normalize
from .schema import LANGS, Entry, FollowUp, Problem

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
ENTRY_KEYS = {"id", "question", "alternates", "answer", "lang", "tags", "followups"}
KB_SUFFIXES = (".yaml", ".yml", ".jsonl")


class _Ctx:
    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def error(self, line: int, msg: str) -> None:
        self.problems.append(Problem("error", self.file, line, msg))

    def warn(self, line: int, msg: str) -> None:
        self.problems.append(Problem("warning", self.file, line, msg))


#: FAQ subfolders of a knowledge folder: the edited files, and the entries the console writes.
FAQ_FOLDERS = ("faq", "console")


def faq_paths(path: Path) -> list[Path]:
    """Where the FAQ files of a knowledge folder are: its `faq/` and `console/` subfolders when
    it has a `faq/` one (service definitions live beside them), else the folder or file itself."""
    path = Path(path)
    if path.is_dir() and (path / "faq").is_dir():
        return [path / f for f in FAQ_FOLDERS]
    return [path]


def knowledge_files(path: Path) -> list[Path]:
    """The FAQ files of a knowledge folder (sorted, so loads are deterministic; hidden files skipped)."""
    out = []
    for root in faq_paths(path):
        if root.is_file():
            out.append(root)
        elif root.is_dir():
            out += sorted(
                p
                for p in root.rglob("*")
                if p.is_file()
                and p.suffix in KB_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(root).parts)
            )
    return out


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 0


def _child(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return value.strip() if isinstance(value, str) else None


def _answer(raw: dict, lang: str, eid: str, where: int, ctx: _Ctx) -> dict[str, str]:
    """The answer as {language: text}: a plain string is in the entry's language."""
    answer_raw = raw.get("answer")
    answer: dict[str, str] = {}
    if isinstance(answer_raw, dict):
        for k, v in answer_raw.items():
            if k not in LANGS:
                ctx.error(where, f"{eid}: answer language {k!r} is not one of {', '.join(LANGS)}")
            elif _text(v):
                answer[k] = _text(v)
    elif _text(answer_raw):
        answer[lang] = _text(answer_raw)
    return answer


def _text_list(raw: dict, key: str, eid: str, where: int, ctx: _Ctx) -> list:
    """A list field (alternates, tags); anything else is an error and reads as empty."""
    value = raw.get(key) or []
    if not isinstance(value, list):
        ctx.error(where, f"{eid}: {key} must be a list")
        return []
    return value


def _alternates(raw: dict, eid: str, where: int, ctx: _Ctx) -> tuple[str, ...]:
    alternates = []
    for a in _text_list(raw, "alternates", eid, where, ctx):
        a = _text(a)
        if not a:
            ctx.error(where, f"{eid}: empty alternate")
        else:
            alternates.append(a)
    return tuple(alternates)


def _followups(raw: dict, eid: str, where: int, ctx: _Ctx) -> tuple[FollowUp, ...]:
    followups = []
    for f in raw.get("followups") or []:
        if isinstance(f, str) and f.strip():
            followups.append(FollowUp(entry=f.strip()))
        elif isinstance(f, dict) and _text(f.get("action")) and isinstance(f.get("label"), dict):
            followups.append(FollowUp(action=_text(f["action"]), label={k: str(v) for k, v in f["label"].items()}))
        else:
            ctx.error(where, f"{eid}: a follow-up is an entry id or {{action: ..., label: {{zh: ..., en: ...}}}}")
    return tuple(followups)


def _entry(raw: Any, line: int, ctx: _Ctx, default_lang: str, node: yaml.Node | None = None) -> Entry | None:
    def at(key: str) -> int:
        if isinstance(node, yaml.MappingNode):
            child = _child(node, key)
            if child is not None:
                return _line(child)
        return line

    if not isinstance(raw, dict):
        ctx.error(line, "an entry must be a mapping with id, question and answer")
        return None
    for key in raw:
        if key not in ENTRY_KEYS:
            ctx.warn(at(key), f"unknown field {key!r} ignored")
    eid = _text(raw.get("id"))
    if not eid:
        ctx.error(line, "missing field 'id'")
        return None
    if not ID_RE.match(eid):
        ctx.error(at("id"), f"id {eid!r} must be lower-case letters, digits, '-', '_' or '.'")
    question = _text(raw.get("question"))
    if not question:
        ctx.error(at("question") if "question" in raw else line, f"{eid}: missing or empty 'question'")
    lang = raw.get("lang", default_lang)
    if lang not in LANGS:
        ctx.error(at("lang"), f"{eid}: lang must be one of {', '.join(LANGS)}, not {lang!r}")
        lang = default_lang
    answer = _answer(raw, lang, eid, at("answer"), ctx)
    if not answer:
        ctx.error(at("answer") if "answer" in raw else line, f"{eid}: empty answer")
    alternates = _alternates(raw, eid, at("alternates"), ctx)
    tags = _text_list(raw, "tags", eid, at("tags"), ctx)
    followups = _followups(raw, eid, at("followups"), ctx)
    if not (question and answer):
        return None
    return Entry(
        id=eid,
        question=question,
        answer=answer,
        lang=lang,
        alternates=alternates,
        tags=tuple(str(t) for t in tags),
        followups=followups,
        source=ctx.file,
        line=line,
    )


def _load_yaml(path: Path, ctx: _Ctx) -> list[Entry]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        ctx.error(0, f"cannot read: {e}")
        return []
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        ctx.error(mark.line + 1 if mark else 0, f"bad YAML: {getattr(e, 'problem', None) or e}")
        return []
    if data is None:
        ctx.warn(1, "empty file")
        return []
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        ctx.error(1, "a topic file is a mapping with an 'entries' list")
        return []
    default_lang = data.get("lang", "zh")
    if default_lang not in LANGS:
        ctx.error(_line(_child(node, "lang")), f"lang must be one of {', '.join(LANGS)}")
        default_lang = "zh"
    seq = _child(node, "entries")
    out = []
    for raw, item in zip(data["entries"], seq.value):
        e = _entry(raw, _line(item), ctx, default_lang, item)
        if e:
            out.append(e)
    return out


def _load_jsonl(path: Path, ctx: _Ctx) -> list[Entry]:
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        ctx.error(0, f"cannot read: {e}")
        return []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as e:
            ctx.error(n, f"bad JSON: {e.msg}")
            continue
        e = _entry(raw, n, ctx, "zh")
        if e:
            out.append(e)
    return out


def load(path: Path) -> tuple[list[Entry], list[Problem]]:
    """Load every entry under `path` (a folder or one file) and all problems found."""
    path = Path(path)
    if not path.exists():
        return [], [Problem("error", str(path), 0, "knowledge path does not exist")]
    entries: list[Entry] = []
    problems: list[Problem] = []
    files = knowledge_files(path)
    if not files:
        problems.append(Problem("warning", str(path), 0, "no knowledge files (*.yaml, *.jsonl) found"))
    for f in files:
        ctx = _Ctx(str(f))
        entries += _load_jsonl(f, ctx) if f.suffix == ".jsonl" else _load_yaml(f, ctx)
        problems += ctx.problems
    problems += cross_check(entries)
    return entries, problems


def cross_check(entries: Iterable[Entry]) -> list[Problem]:
    """Problems between entries: duplicate ids, broken follow-ups, identical phrasings."""
    entries = list(entries)
    problems = []
    seen: dict[str, Entry] = {}
    for e in entries:
        if e.id in seen:
            first = seen[e.id]
            problems.append(
                Problem("error", e.source, e.line, f"duplicate id {e.id!r} (first at {first.source}:{first.line})")
            )
        else:
            seen[e.id] = e
    for e in entries:
        for f in e.followups:
            if f.entry and f.entry not in seen:
                problems.append(Problem("error", e.source, e.line, f"{e.id}: follow-up {f.entry!r} is not an entry id"))
    owner: dict[str, Entry] = {}
    for e in entries:
        for p in dict.fromkeys(normalize(x) for x in e.phrasings):
            other = owner.setdefault(p, e)
            if other is not e and other.id != e.id:
                problems.append(
                    Problem(
                        "warning",
                        e.source,
                        e.line,
                        f"{e.id}: phrasing {p!r} is also in {other.id} ({other.source}:{other.line})",
                    )
                )
    return problems
