"""What a service type is: its materials and their checks, its time limit, and the working-day
calendar its deadlines count in (``domain.workdays.Calendar``)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from domain.workdays import Calendar

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


@dataclass
class ServiceSet:
    services: dict[str, Service] = field(default_factory=dict)
    calendar: Calendar = field(default_factory=Calendar)


def cn_id_checksum_ok(value: str) -> bool:
    """The last character of an 18-digit resident ID is a checksum (GB 11643)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(value[:17], weights))
    return "10X98765432"[total % 11] == value[17].upper()
