"""Any audio a platform sends (Telegram's OGG/Opus, WeCom's AMR, a browser's WebM/Opus or WAV)
as 16 kHz mono samples, decoded with PyAV (ffmpeg's libraries, shipped in its wheel)."""

from __future__ import annotations

import io

import av
import numpy as np

SAMPLE_RATE = 16_000


class UndecodableAudio(ValueError):
    """The bytes are not audio ffmpeg can read."""


def decode(data: bytes, max_seconds: float) -> np.ndarray:
    """The first ``max_seconds`` of the audio as float32 samples in [-1, 1] at 16 kHz mono."""
    limit = int(max_seconds * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    taken = 0
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise UndecodableAudio("no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    taken += chunk.size
                if taken >= limit:
                    break
    except (av.FFmpegError, EOFError, IndexError) as exc:
        raise UndecodableAudio(f"not readable audio: {exc}") from exc
    if not chunks:
        raise UndecodableAudio("no audio in the file")
    return np.concatenate(chunks)[:limit].astype(np.float32) / 32768.0
