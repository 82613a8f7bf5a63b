"""What a recognizer answers, and the error for a wrong configuration."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Heard:
    """What was said, and in which language (as far as the model can tell)."""

    text: str
    language: str | None = None


class SpeechConfigError(ValueError):
    """The speech settings name a backend or model that cannot be used; says what to fix."""
