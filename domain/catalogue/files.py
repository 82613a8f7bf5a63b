"""Reading and checking the service files: every mistake with its file and line.

Content managers edit these files, so a problem names the file, the line and what to write
instead; ``load_services`` refuses a set with any error, ``validate_services`` lists them all.
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from domain.catalogue.model import (
    _CODE,
    _DEFAULT_MASK,
    _ID,
    CALENDAR_FILE,
    FILE_KINDS,
    FORMATS,
    KINDS,
    LANGS,
    MASKS,
    Material,
    Service,
    ServiceSet,
)
from domain.workdays import DEFAULT_COUNTRY, Calendar, public_holidays
from knowledge.schema import Problem

# -- reading YAML with line numbers -------------------------------------------------------------

def _lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int], dupes: list[tuple[int, str]]) -> None:
    """Map every key path in the document to its 1-based line; collect duplicate keys."""
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                dupes.append((key_node.start_mark.line + 1, str(key)))
            seen.add(key)
            _lines(value_node, path + (key,), out, dupes)
            out[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, path + (index,), out, dupes)


class _Checker:
    """Collects problems for one file; ``line(path)`` finds the nearest known line."""

    def __init__(self, file: str, lines: dict[tuple[Any, ...], int]) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[Problem] = []

    def line(self, path: tuple[Any, ...]) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: tuple[Any, ...], message: str) -> None:
        self.problems.append(Problem("error", self.file, self.line(path), message))

    def warning(self, path: tuple[Any, ...], message: str) -> None:
        self.problems.append(Problem("warning", self.file, self.line(path), message))

    def texts(self, data: dict[str, Any], key: str, path: tuple[Any, ...], required: bool = True) -> dict[str, str]:
        """A ``{zh: ..., en: ...}`` field; both languages are needed."""
        value = data.get(key)
        if value is None:
            if required:
                self.error(path, f"'{key}' is missing (give it as {{zh: ..., en: ...}})")
            return {}
        if isinstance(value, str):
            self.error(path + (key,), f"'{key}' needs both languages: {{zh: ..., en: ...}}")
            return {"zh": value, "en": value}
        if not isinstance(value, dict):
            self.error(path + (key,), f"'{key}' must be {{zh: ..., en: ...}}")
            return {}
        out = {}
        for lang in LANGS:
            text = value.get(lang)
            if not isinstance(text, str) or not text.strip():
                self.error(path + (key,), f"'{key}' has no {lang} text")
            else:
                out[lang] = text.strip()
        for extra in set(value) - set(LANGS):
            self.warning(path + (key, extra), f"'{key}': unknown language {extra!r} ignored")
        return out


_SERVICE_KEYS = {"id", "code", "name", "description", "fee", "time_limit_text", "time_limit_days",
                 "needs_secondary_review", "keywords", "follow_up", "materials"}
_MATERIAL_KEYS = {"id", "name", "required", "accepts", "hint", "format", "pattern", "max_mb", "mask", "notify_email"}


def _parse(path: Path, display: str) -> tuple[Any, _Checker]:
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        checker = _Checker(display, {})
        line = mark.line + 1 if mark is not None else 1
        checker.problems.append(Problem("error", display, line, f"not valid YAML: {getattr(exc, 'problem', exc)}"))
        return None, checker
    lines: dict[tuple[Any, ...], int] = {}
    dupes: list[tuple[int, str]] = []
    if node is not None:
        _lines(node, (), lines, dupes)
    checker = _Checker(display, lines)
    for line, key in dupes:
        checker.problems.append(Problem("error", display, line, f"key {key!r} appears twice"))
    return data, checker


def _material(c: _Checker, raw: Any, path: tuple[Any, ...], max_upload_mb: float | None) -> Material | None:
    if not isinstance(raw, dict):
        c.error(path, "each material must be a mapping with id, name, accepts ...")
        return None
    for key in set(raw) - _MATERIAL_KEYS:
        c.error(path + (key,), f"unknown material field {key!r} (known: {', '.join(sorted(_MATERIAL_KEYS))})")
    mid = raw.get("id")
    if not isinstance(mid, str) or not _ID.match(mid):
        c.error(path + ("id",), "material 'id' must be lower-case letters, digits and _ (e.g. id_card_front)")
        mid = None
    name = c.texts(raw, "name", path)
    hint = c.texts(raw, "hint", path)
    required = raw.get("required", True)
    if not isinstance(required, bool):
        c.error(path + ("required",), "'required' must be true or false")
        required = True
    accepts = raw.get("accepts")
    if isinstance(accepts, str):
        accepts = [accepts]
    if not isinstance(accepts, list) or not accepts:
        c.error(path + ("accepts",), f"'accepts' must list one or more of: {', '.join(KINDS)}")
        accepts = []
    for index, kind in enumerate(accepts):
        if kind not in KINDS:
            c.error(path + ("accepts", index), f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    accepts = [k for k in accepts if k in KINDS]
    fmt, pattern = _text_check(c, raw, path, accepts)
    max_mb = _size_limit(c, raw, path, accepts, max_upload_mb)
    mask = raw.get("mask", _DEFAULT_MASK.get(fmt or "", "none"))
    if mask not in MASKS:
        c.error(path + ("mask",), f"'mask' must be one of {', '.join(MASKS)}")
        mask = "none"
    notify_email = raw.get("notify_email", False)
    if notify_email and fmt != "email":
        c.error(path + ("notify_email",), "'notify_email' needs 'format: email'")
    if mid is None or not name or not accepts:
        return None
    return Material(id=mid, name=name, required=required, accepts=tuple(accepts), hint=hint, format=fmt,
                    pattern=str(pattern) if pattern is not None else None,
                    max_mb=float(max_mb) if max_mb else None, mask=mask, notify_email=bool(notify_email))


def _text_check(c: _Checker, raw: dict[str, Any], path: tuple[Any, ...],
                accepts: list[str]) -> tuple[str | None, str | None]:
    """The material's named ``format`` or its own ``pattern`` for typed values, checked."""
    fmt, pattern = raw.get("format"), raw.get("pattern")
    if fmt is not None and fmt not in FORMATS:
        c.error(path + ("format",), f"unknown format {fmt!r}; choose from {', '.join(FORMATS)} or give 'pattern'")
        fmt = None
    if pattern is not None:
        try:
            re.compile(str(pattern))
        except re.error as exc:
            c.error(path + ("pattern",), f"'pattern' is not a valid regular expression: {exc}")
            pattern = None
    if (fmt or pattern) and "text" not in accepts:
        c.error(path + ("format" if fmt else "pattern",), "a format check needs 'text' in 'accepts'")
    if fmt and pattern:
        c.error(path + ("pattern",), "give either 'format' or 'pattern', not both")
    return fmt, pattern


def _size_limit(c: _Checker, raw: dict[str, Any], path: tuple[Any, ...], accepts: list[str],
                max_upload_mb: float | None) -> float | None:
    """The material's own file size limit, checked against what it accepts and the upload limit."""
    max_mb = raw.get("max_mb")
    if max_mb is not None:
        if not isinstance(max_mb, (int, float)) or isinstance(max_mb, bool) or max_mb <= 0:
            c.error(path + ("max_mb",), "'max_mb' must be a positive number")
            max_mb = None
        elif not any(k in FILE_KINDS for k in accepts):
            c.error(path + ("max_mb",), "'max_mb' applies to files; this material accepts only text")
        elif max_upload_mb is not None and max_mb > max_upload_mb:
            c.warning(path + ("max_mb",), f"'max_mb' {max_mb} is above the upload limit of {max_upload_mb} MB")
    return max_mb


def _service(path: Path, display: str, max_upload_mb: float | None) -> tuple[Service | None, list[Problem]]:
    data, c = _parse(path, display)
    if c.problems and data is None:
        return None, c.problems
    if not isinstance(data, dict):
        c.error((), "a service file must be a mapping (id: ..., name: ..., materials: ...)")
        return None, c.problems
    for key in set(data) - _SERVICE_KEYS:
        c.error((key,), f"unknown field {key!r} (known: {', '.join(sorted(_SERVICE_KEYS))})")
    sid = data.get("id")
    if not isinstance(sid, str) or not _ID.match(sid):
        c.error(("id",), "'id' must be lower-case letters, digits and _ (e.g. account_opening)")
        sid = None
    elif sid != path.stem:
        c.warning(("id",), f"'id' {sid!r} differs from the file name {path.stem!r}")
    code = data.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        c.error(("code",), "'code' must be 2-4 capital letters; it starts every reference number (e.g. KH)")
        code = None
    name = c.texts(data, "name", ())
    description = c.texts(data, "description", ())
    fee = c.texts(data, "fee", ())
    limit_text = c.texts(data, "time_limit_text", ())
    follow_up = c.texts(data, "follow_up", ())
    days = data.get("time_limit_days")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365:
        c.error(("time_limit_days",), "'time_limit_days' must be a whole number of working days, 1 to 365")
        days = None
    secondary = data.get("needs_secondary_review", False)
    if not isinstance(secondary, bool):
        c.error(("needs_secondary_review",), "'needs_secondary_review' must be true or false")
        secondary = False
    keywords = _keywords(c, data)
    materials = _materials(c, data, max_upload_mb)
    if any(p.level == "error" for p in c.problems) or sid is None or code is None or days is None:
        return None, c.problems
    return Service(id=sid, code=code, name=name, description=description, fee=fee, time_limit_text=limit_text,
                   time_limit_days=days, needs_secondary_review=secondary, keywords=keywords,
                   follow_up=follow_up, materials=tuple(materials), source=display), c.problems


def _keywords(c: _Checker, data: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """The words that name the service in each language (lower-cased)."""
    keywords: dict[str, tuple[str, ...]] = {}
    raw_kw = data.get("keywords", {})
    if not isinstance(raw_kw, dict):
        c.error(("keywords",), "'keywords' must be {zh: [...], en: [...]}")
        return keywords
    for lang, words in raw_kw.items():
        if lang not in LANGS or not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            c.error(("keywords", lang), "'keywords' must be {zh: [words], en: [words]}")
            continue
        keywords[lang] = tuple(w.strip().lower() for w in words)
    return keywords


def _materials(c: _Checker, data: dict[str, Any], max_upload_mb: float | None) -> list[Material]:
    """The service's materials that validated, each id once, at most one that gives the email."""
    materials: list[Material] = []
    raw_materials = data.get("materials")
    if not isinstance(raw_materials, list) or not raw_materials:
        c.error(("materials",), "'materials' must list at least one material")
        return materials
    seen: set[str] = set()
    for index, raw in enumerate(raw_materials):
        material = _material(c, raw, ("materials", index), max_upload_mb)
        if material is None:
            continue
        if material.id in seen:
            c.error(("materials", index, "id"), f"material id {material.id!r} appears twice")
            continue
        seen.add(material.id)
        materials.append(material)
    if sum(1 for m in materials if m.notify_email) > 1:
        c.error(("materials",), "only one material may have 'notify_email: true'")
    return materials


def _calendar(path: Path, display: str) -> tuple[Calendar | None, list[Problem]]:
    data, c = _parse(path, display)
    if data is None and c.problems:
        return None, c.problems
    if data is None:
        data = {}
    if not isinstance(data, dict):
        c.error((), "the calendar must be a mapping: timezone, country, holidays, workdays")
        return None, c.problems
    for key in set(data) - {"timezone", "country", "holidays", "workdays"}:
        c.error((key,), f"unknown calendar field {key!r} (known: timezone, country, holidays, workdays)")
    tz = data.get("timezone", "Asia/Shanghai")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(str(tz))
    except Exception:  # noqa: BLE001 - any failure means the name is unusable
        c.error(("timezone",), f"unknown time zone {tz!r} (e.g. Asia/Shanghai)")
    country = data.get("country", DEFAULT_COUNTRY)
    country = None if country in (None, "none") else str(country)
    public = None
    try:
        public = public_holidays(country)
    except ValueError as exc:
        c.error(("country",), f"{exc}, or 'none' for weekends only")
    days: dict[str, frozenset[date]] = {}
    for key in ("holidays", "workdays"):
        raw = data.get(key) or []
        if not isinstance(raw, list):
            c.error((key,), f"'{key}' must be a list of dates (YYYY-MM-DD)")
            raw = []
        good = set()
        for index, item in enumerate(raw):
            if isinstance(item, date):
                good.add(item)
            else:
                try:
                    good.add(date.fromisoformat(str(item)))
                except ValueError:
                    c.error((key, index), f"{item!r} is not a date (YYYY-MM-DD)")
        days[key] = frozenset(good)
    for day in sorted(days["holidays"] & days["workdays"]):
        c.error(("workdays",), f"{day} is listed both as a holiday and as a workday")
    if any(p.level == "error" for p in c.problems):
        return None, c.problems
    return Calendar(holidays=days["holidays"], workdays=days["workdays"], timezone=str(tz), country=country,
                    public=public), c.problems


def load_calendar(directory: Path) -> Calendar:
    """The calendar of a services folder: its ``calendar.yaml``, or the public one if it has none
    or it is broken (``validate_services`` reports why)."""
    path = directory / CALENDAR_FILE
    calendar = _calendar(path, str(path))[0] if path.is_file() else None
    return calendar or Calendar()


def _scan(directory: Path, max_upload_mb: float | None = None) -> tuple[ServiceSet, list[Problem]]:
    """Read every file; the set holds the services that validated."""
    problems: list[Problem] = []
    result = ServiceSet()
    if not directory.is_dir():
        problems.append(Problem("error", str(directory), 1, "the services folder does not exist"))
        return result, problems
    codes: dict[str, str] = {}
    for path in sorted(directory.glob("*.y*ml")):
        display = str(path)
        if path.name == CALENDAR_FILE:
            calendar, found = _calendar(path, display)
            problems += found
            if calendar is not None:
                result.calendar = calendar
            continue
        service, found = _service(path, display, max_upload_mb)
        problems += found
        if service is None:
            continue
        if service.id in result.services:
            problems.append(Problem("error", display, 1, f"service id {service.id!r} is defined already in "
                                                          f"{result.services[service.id].source}"))
            continue
        if service.code in codes:
            problems.append(Problem("error", display, 1, f"reference code {service.code!r} is used already by "
                                                          f"{codes[service.code]}"))
            continue
        codes[service.code] = service.id
        result.services[service.id] = service
    if not result.services and not any(p.level == "error" for p in problems):
        problems.append(Problem("warning", str(directory), 1, "no service definitions found"))
    return result, problems


def validate_services(directory: Path | str, max_upload_mb: float | None = None) -> list[Problem]:
    """Every problem in the service files (``python -m bot kb check`` prints them)."""
    return _scan(Path(directory), max_upload_mb)[1]


class ServiceError(Exception):
    """The service files do not validate; ``problems`` says where."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def load_services(directory: Path | str, max_upload_mb: float | None = None) -> ServiceSet:
    """The full set, or ``ServiceError`` if any file has an error (warnings are allowed)."""
    result, problems = _scan(Path(directory), max_upload_mb)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        raise ServiceError(errors)
    return result
