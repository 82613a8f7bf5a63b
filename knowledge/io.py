"""Import knowledge from CSV, XLSX or JSONL into YAML topic files, and export it back."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import yaml

from .loader import load
from .schema import Entry

COLUMNS = ["id", "question", "alternates", "answer", "answer_en", "lang", "tags", "followups"]
_SPLIT = re.compile(r"\s*(?:\n|\|)\s*")


def _list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v for v in _SPLIT.split(str(value).strip()) if v]


def _tags(value) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [t for t in re.split(r"[,，\s|]+", str(value or "")) if t]


def read_rows(path: Path) -> list[tuple[int, dict]]:
    """(line or row number, raw record) for every record of a CSV, XLSX or JSONL file."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with open(path, encoding="utf-8") as f:
            return [(n, json.loads(line)) for n, line in enumerate(f, 1) if line.strip()]
    if suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as f:
            return [(n, row) for n, row in enumerate(csv.DictReader(f), 2)]
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        ws = load_workbook(path, read_only=True).active
        rows = ws.iter_rows(values_only=True)
        header = [str(h or "").strip() for h in next(rows, [])]
        return [(n, {h: v for h, v in zip(header, row) if h}) for n, row in enumerate(rows, 2)
                if any(v not in (None, "") for v in row)]
    raise ValueError(f"{path}: import reads .csv, .xlsx or .jsonl")


def to_yaml_entry(raw: dict) -> dict:
    """A record from any import format as a YAML entry mapping (validation happens on load)."""
    lang = str(raw.get("lang") or "zh").strip()
    answer = raw.get("answer")
    if not isinstance(answer, dict):
        answer = {lang: str(answer or "").strip()}
        if raw.get("answer_en"):
            answer["en"] = str(raw["answer_en"]).strip()
        if raw.get("answer_zh"):
            answer["zh"] = str(raw["answer_zh"]).strip()
    out = {"id": str(raw.get("id") or "").strip(), "question": str(raw.get("question") or "").strip(),
           "alternates": _list(raw.get("alternates")), "answer": answer if len(answer) > 1 else answer.get(lang, ""),
           "lang": lang, "tags": _tags(raw.get("tags"))}
    if raw.get("followups"):
        out["followups"] = _list(raw["followups"])
    return out


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, s):
    return dumper.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None)


_Dumper.add_representer(str, _str)


def write_topic(path: Path, entries: list[dict]) -> None:
    """Write (or merge into) a topic file: entries with an existing id replace it, others are appended."""
    existing: list[dict] = []
    if path.exists():
        existing = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("entries", [])
    by_id = {e.get("id"): i for i, e in enumerate(existing)}
    for e in entries:
        if e["id"] in by_id:
            existing[by_id[e["id"]]] = e
        else:
            by_id[e["id"]] = len(existing)
            existing.append(e)
    path.write_text(yaml.dump({"entries": existing}, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000),
                    encoding="utf-8")


def import_file(src: Path, dest: Path) -> dict[str, int]:
    """Import every record of `src` into topic files under `dest`, one file per first tag."""
    dest.mkdir(parents=True, exist_ok=True)
    topics: dict[str, list[dict]] = {}
    for _n, raw in read_rows(src):
        e = to_yaml_entry(raw)
        topic = re.sub(r"[^a-z0-9_-]+", "-", (e["tags"][0] if e["tags"] else "imported").lower()).strip("-") or "imported"
        topics.setdefault(topic, []).append(e)
    for topic, entries in topics.items():
        write_topic(dest / f"{topic}.yaml", entries)
    return {t: len(v) for t, v in topics.items()}


def entry_record(e: Entry) -> dict:
    answer_en = e.answer.get("en") if e.lang != "en" else None
    return {"id": e.id, "question": e.question, "alternates": list(e.alternates), "answer": e.answer_in(e.lang),
            "answer_en": answer_en, "lang": e.lang, "tags": list(e.tags),
            "followups": [f.entry for f in e.followups if f.entry]}


def export(kb: Path, dest: Path) -> int:
    """Write the knowledge at `kb` to CSV, XLSX or JSONL (by the suffix of `dest`)."""
    entries, problems = load(kb)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        raise ValueError("knowledge has errors:\n" + "\n".join(map(str, errors)))
    records = [entry_record(e) for e in entries]
    suffix = dest.suffix.lower()
    if suffix == ".jsonl":
        with open(dest, "w", encoding="utf-8") as f:
            for r in records:
                r = {k: v for k, v in r.items() if v not in (None, [])  or k in ("alternates", "tags")}
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        return len(records)
    flat = [{**r, "alternates": "\n".join(r["alternates"]), "tags": ",".join(r["tags"]),
             "followups": "\n".join(r["followups"]), "answer_en": r["answer_en"] or ""} for r in records]
    if suffix == ".csv":
        with open(dest, "w", encoding="utf-8-sig", newline="") as f:
            w = csv.DictWriter(f, COLUMNS)
            w.writeheader()
            w.writerows(flat)
    elif suffix == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "knowledge"
        ws.append(COLUMNS)
        for r in flat:
            ws.append([r[c] for c in COLUMNS])
        wb.save(dest)
    else:
        raise ValueError(f"{dest}: export writes .csv, .xlsx or .jsonl")
    return len(records)
