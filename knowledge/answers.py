"""What asking the knowledge base gives back: ranked hits and a decision (no model needed to read them)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .schema import Entry


@dataclass(frozen=True)
class Hit:
    entry_id: str
    score: float
    question: str


@dataclass(frozen=True)
class Answer:
    decision: str  # "answer" | "suggest" | "decline"
    confidence: float
    hits: list[Hit] = field(default_factory=list)
    suggestions: list[Hit] = field(default_factory=list)  # what "did you mean" offers
    reason: str | None = None  # "no_question": content-free text (emoji, markup, a long paste), not asked

    @property
    def top(self) -> Hit | None:
        return self.hits[0] if self.hits else None


def answer_text(entry: Entry, lang: str | None) -> str:
    """The answer in the customer's language where the entry has it, else in the entry's language."""
    return entry.answer_in(lang)
