"""The knowledge entry as the rest of the bot sees it."""
from __future__ import annotations

from dataclasses import dataclass, field

LANGS = ("zh", "en")


@dataclass(frozen=True)
class FollowUp:
    """A button under an answer: another entry, or an action another handler owns."""

    entry: str | None = None
    action: str | None = None
    label: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    id: str
    question: str
    answer: dict[str, str]
    lang: str = "zh"
    alternates: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    followups: tuple[FollowUp, ...] = ()
    source: str = ""
    line: int = 0

    @property
    def phrasings(self) -> tuple[str, ...]:
        return (self.question, *self.alternates)

    def answer_in(self, lang: str | None) -> str:
        return self.answer.get(lang or self.lang) or self.answer.get(self.lang) or next(iter(self.answer.values()))

    def text_fingerprint(self) -> tuple:
        """What retrieval depends on; equal fingerprints need no re-embedding."""
        return (self.question, self.alternates, tuple(sorted(self.answer.items())))


@dataclass(frozen=True)
class Problem:
    level: str  # "error" | "warning"
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.level}: {self.message}"
