"""The default recognizer on speech espeak-ng makes: every format a platform sends is heard, a
language the model does not cover and audio without speech are answered None, and a wrong
configuration says what to fix. The model loads once for the run (the ``recognizer`` fixture)."""

from __future__ import annotations

import os
import shutil
import wave
from pathlib import Path

import pytest

from bot.config import SettingsError, load_settings
from speech import SpeechConfigError, UndecodableAudio, decode, from_settings
from speech.audio import SAMPLE_RATE
from speech.whisper import WhisperRecognizer, bundled_model
from tests.speech_audio import FORMATS, encode, needs_espeak, silence, speak, voice_bytes

pytestmark = pytest.mark.slow  # loads a speech model

QUESTION = "Can I pay fees with a foreign bank card?"


@needs_espeak
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_a_platform_sends_is_decoded(tmp_path, fmt):
    wav = speak(QUESTION, "en", tmp_path)
    with wave.open(str(wav)) as w:
        seconds = w.getnframes() / w.getframerate()
    samples = decode(encode(wav, fmt), max_seconds=60)
    assert abs(samples.size / SAMPLE_RATE - seconds) < 0.1 and 0.01 < abs(samples).max() <= 1.0
    assert decode(encode(wav, fmt), max_seconds=1.0).size == SAMPLE_RATE  # a long message is cut


@needs_espeak
def test_english_speech_is_heard(recognizer, tmp_path):
    heard = recognizer.transcribe(voice_bytes(QUESTION, "en", tmp_path, "wav"))
    assert heard is not None and heard.language == "en"
    words = set(heard.text.lower().replace(",", " ").replace("?", " ").replace(".", " ").split())
    assert {"pay", "foreign", "bank", "card"} <= words, heard.text


@needs_espeak
def test_chinese_is_not_misheard_by_the_english_model(recognizer, tmp_path):
    assert recognizer.languages == frozenset({"en"})
    assert recognizer.transcribe(voice_bytes("办事大厅在哪里", "zh", tmp_path, "amr"), language="zh") is None


def test_audio_without_speech_is_heard_as_nothing(recognizer, tmp_path):
    assert recognizer.transcribe(silence(tmp_path, 2.0).read_bytes()) is None


def test_bytes_that_are_no_audio_are_refused(recognizer):
    with pytest.raises(UndecodableAudio):
        recognizer.transcribe(b"%PDF-1.4 not a recording" * 20)


def test_a_model_folder_given_by_path_loads_without_any_download(tmp_path):
    folder = tmp_path / "my-whisper"
    shutil.copytree(bundled_model(), folder, copy_function=os.symlink)
    recognizer = from_settings("whisper", folder)
    assert isinstance(recognizer, WhisperRecognizer) and recognizer.path == folder
    assert recognizer.languages == frozenset({"en"})  # read from the model loaded from that folder


def test_a_wrong_model_path_or_backend_says_what_to_fix(tmp_path):
    with pytest.raises(SpeechConfigError, match="is not a folder"):
        from_settings("whisper", tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(SpeechConfigError, match="missing model.bin, tokenizer.json"):
        from_settings("whisper", tmp_path / "half")
    with pytest.raises(SpeechConfigError, match="unknown speech backend 'sherpa'"):
        from_settings("sherpa")
    with pytest.raises(SettingsError, match="BOT_SPEECH_MODEL_PATH.*missing model.bin"):
        load_settings(speech_model_path=tmp_path / "half", _env_file=None)
    assert load_settings(speech_model_path=bundled_model(), _env_file=None).speech_model_path == bundled_model()


def test_speech_off_hears_nothing(tmp_path):
    assert from_settings("off").transcribe(silence(tmp_path).read_bytes()) is None


def test_the_shipped_model_is_found_in_its_package():
    assert (Path(bundled_model()) / "model.bin").is_file()
