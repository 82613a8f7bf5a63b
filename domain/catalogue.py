"""Service definitions: one YAML file per service type under ``<knowledge>/services/``.

Content managers edit these files, so every mistake is reported with its file and
line, and a broken edit never takes the service desk down: the catalogue keeps
serving the last set that validated and reloads when a file changes.
``calendar.yaml`` in the same folder is the holiday calendar, not a service.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from knowledge.schema import Problem

log = logging.getLogger(__name__)

CALENDAR_FILE = "calendar.yaml"
LANGS = ("zh", "en")
#: What a material may be: uploaded kinds and the MIME types (as sniffed) each admits, or typed text.
FILE_KINDS: dict[str, frozenset[str]] = {
    "photo": frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/bmp",
                        "image/tiff"}),
    "pdf": frozenset({"application/pdf"}),
    "document": frozenset({
        "application/pdf", "application/msword", "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }),
}
KINDS = (*FILE_KINDS, "text")
#: Named format checks for typed values; ``mask`` says how lists show the value.
FORMATS: dict[str, str] = {
    "cn_id": r"[1-9]\d{5}(18|19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}[\dX]",
    "cn_mobile": r"1[3-9]\d{9}",
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+",
    "date": r"\d{4}-\d{2}-\d{2}",
}
MASKS = ("id", "phone", "none")
_DEFAULT_MASK = {"cn_id": "id", "cn_mobile": "phone"}
_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
_CODE = re.compile(r"^[A-Z]{2,4}$")


@dataclass(frozen=True)
class Material:
    id: str
    name: dict[str, str]
    required: bool
    accepts: tuple[str, ...]
    hint: dict[str, str]
    format: str | None = None
    pattern: str | None = None
    max_mb: float | None = None
    mask: str = "none"
    #: The typed value is where the customer wants e-mail notifications sent.
    notify_email: bool = False

    @property
    def takes_text(self) -> bool:
        return "text" in self.accepts

    @property
    def takes_files(self) -> bool:
        return any(k in FILE_KINDS for k in self.accepts)

    def mime_allowed(self, mime: str) -> bool:
        return any(mime in FILE_KINDS[k] for k in self.accepts if k in FILE_KINDS)

    def text_ok(self, value: str) -> bool:
        regex = self.pattern or (FORMATS[self.format] if self.format else None)
        if regex is None:
            return bool(value.strip())
        if re.fullmatch(regex, value) is None:
            return False
        return self.format != "cn_id" or cn_id_checksum_ok(value)

    def label(self, lang: str) -> str:
        return self.name.get(lang) or self.name["zh"]


@dataclass(frozen=True)
class Service:
    id: str
    code: str
    name: dict[str, str]
    description: dict[str, str]
    fee: dict[str, str]
    time_limit_text: dict[str, str]
    time_limit_days: int
    needs_secondary_review: bool
    keywords: dict[str, tuple[str, ...]]
    follow_up: dict[str, str]
    materials: tuple[Material, ...]
    source: str = ""

    def label(self, lang: str) -> str:
        return self.name.get(lang) or self.name["zh"]

    def text(self, field_name: str, lang: str) -> str:
        value: dict[str, str] = getattr(self, field_name)
        return value.get(lang) or value.get("zh", "")

    def material(self, material_id: str) -> Material | None:
        return next((m for m in self.materials if m.id == material_id), None)


@dataclass(frozen=True)
class Calendar:
    """Working-day calendar: weekends off, plus listed holidays, minus listed make-up workdays (调休)."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    timezone: str = "Asia/Shanghai"

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


@dataclass
class ServiceSet:
    services: dict[str, Service] = field(default_factory=dict)
    calendar: Calendar = field(default_factory=Calendar)


def cn_id_checksum_ok(value: str) -> bool:
    """The last character of an 18-digit resident ID is a checksum (GB 11643)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(value[:17], weights))
    return "10X98765432"[total % 11] == value[17].upper()


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
    max_mb = raw.get("max_mb")
    if max_mb is not None:
        if not isinstance(max_mb, (int, float)) or isinstance(max_mb, bool) or max_mb <= 0:
            c.error(path + ("max_mb",), "'max_mb' must be a positive number")
            max_mb = None
        elif not any(k in FILE_KINDS for k in accepts):
            c.error(path + ("max_mb",), "'max_mb' applies to files; this material accepts only text")
        elif max_upload_mb is not None and max_mb > max_upload_mb:
            c.warning(path + ("max_mb",), f"'max_mb' {max_mb} is above the upload limit of {max_upload_mb} MB")
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
    keywords: dict[str, tuple[str, ...]] = {}
    raw_kw = data.get("keywords", {})
    if not isinstance(raw_kw, dict):
        c.error(("keywords",), "'keywords' must be {zh: [...], en: [...]}")
    else:
        for lang, words in raw_kw.items():
            if lang not in LANGS or not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
                c.error(("keywords", lang), "'keywords' must be {zh: [words], en: [words]}")
                continue
            keywords[lang] = tuple(w.strip().lower() for w in words)
    materials: list[Material] = []
    raw_materials = data.get("materials")
    if not isinstance(raw_materials, list) or not raw_materials:
        c.error(("materials",), "'materials' must list at least one material")
    else:
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
    if any(p.level == "error" for p in c.problems) or sid is None or code is None or days is None:
        return None, c.problems
    return Service(id=sid, code=code, name=name, description=description, fee=fee, time_limit_text=limit_text,
                   time_limit_days=days, needs_secondary_review=secondary, keywords=keywords,
                   follow_up=follow_up, materials=tuple(materials), source=display), c.problems


def _calendar(path: Path, display: str) -> tuple[Calendar | None, list[Problem]]:
    data, c = _parse(path, display)
    if data is None and c.problems:
        return None, c.problems
    if data is None:
        data = {}
    if not isinstance(data, dict):
        c.error((), "the calendar must be a mapping: timezone, holidays, workdays")
        return None, c.problems
    for key in set(data) - {"timezone", "holidays", "workdays"}:
        c.error((key,), f"unknown calendar field {key!r} (known: timezone, holidays, workdays)")
    tz = data.get("timezone", "Asia/Shanghai")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(str(tz))
    except Exception:  # noqa: BLE001 - any failure means the name is unusable
        c.error(("timezone",), f"unknown time zone {tz!r} (e.g. Asia/Shanghai)")
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
    return Calendar(holidays=days["holidays"], workdays=days["workdays"], timezone=str(tz)), c.problems


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


class ServiceCatalog:
    """The services in force. Reloads when a file changes; a broken edit keeps the last good set."""

    def __init__(self, directory: Path, max_upload_mb: float | None = None) -> None:
        self.directory = directory
        self.max_upload_mb = max_upload_mb
        self._lock = threading.Lock()
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._current = ServiceSet()
        #: Problems of the last load that failed, for the console and health checks.
        self.problems: list[Problem] = []

    def _stat(self) -> tuple[tuple[str, int, int], ...]:
        if not self.directory.is_dir():
            return ()
        found = []
        for path in sorted(self.directory.glob("*.y*ml")):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            found.append((path.name, st.st_mtime_ns, st.st_size))
        return tuple(found)

    def current(self) -> ServiceSet:
        """The set in force, reloaded first if any file changed since the last look."""
        signature = self._stat()
        if signature != self._signature:
            with self._lock:
                if signature != self._signature:
                    self._reload(signature)
        return self._current

    def _reload(self, signature: tuple[tuple[str, int, int], ...]) -> None:
        try:
            fresh = load_services(self.directory, self.max_upload_mb)
        except ServiceError as exc:
            self.problems = exc.problems
            log.error("service definitions not reloaded (%d problems); keeping the last good set:\n%s",
                      len(exc.problems), exc)
        else:
            self.problems = []
            self._current = fresh
            log.info("service definitions loaded: %d services", len(fresh.services))
        self._signature = signature

    def services(self) -> dict[str, Service]:
        return self.current().services

    def get(self, service_id: str) -> Service | None:
        return self.current().services.get(service_id)

    @property
    def calendar(self) -> Calendar:
        return self.current().calendar
