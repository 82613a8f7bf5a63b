"""Speech for the voice tests: espeak-ng (Debian's package) speaks a sentence, PyAV encodes it as a
platform sends it (Telegram's OGG/Opus, WeCom's AMR, a browser's WebM/Opus, plain WAV)."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from pathlib import Path

import av
import pytest

#: espeak-ng's voices for the desk's languages.
VOICES = {"en": "en-us", "zh": "cmn"}
#: container, codec, sample rate of each format.
FORMATS = {
    "ogg": ("ogg", "libopus", 48_000),
    "amr": ("amr", "libopencore_amrnb", 8_000),
    "webm": ("webm", "libopus", 48_000),
    "wav": ("wav", "pcm_s16le", 16_000),
}

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is missing: `make test` installs it (apt-get install espeak-ng)",
)


def speak(text: str, lang: str, folder: Path) -> Path:
    """``text`` spoken by espeak-ng into a WAV file in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"speech-{abs(hash((text, lang)))}.wav"
    subprocess.run(["espeak-ng", "-v", VOICES[lang], "-s", "150", "-w", str(path), text], check=True, timeout=30)
    return path


def silence(folder: Path, seconds: float = 1.0) -> Path:
    """A WAV file of ``seconds`` of silence in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"silence-{seconds}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(b"\x00\x00" * int(16_000 * seconds))
    return path


def encode(wav: Path, fmt: str) -> bytes:
    """The WAV file's sound in format ``fmt`` (a key of FORMATS)."""
    container, codec, rate = FORMATS[fmt]
    out = io.BytesIO()
    with av.open(str(wav)) as source, av.open(out, mode="w", format=container) as target:
        stream = target.add_stream(codec, rate=rate, layout="mono")
        resampler = av.AudioResampler(format=stream.format, layout="mono", rate=rate)
        for frame in source.decode(audio=0):
            for resampled in resampler.resample(frame):
                for packet in stream.encode(resampled):
                    target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    return out.getvalue()


def voice_bytes(text: str, lang: str, folder: Path, fmt: str = "ogg") -> bytes:
    return encode(speak(text, lang, folder), fmt)
