"""Speech recognition figures: word error rate (English) and character error rate (Chinese) of the
configured recognizer on questions from the shipped sample knowledge, spoken by espeak-ng.

    python bench/speech.py [--per-language 20] [--model-path DIR] [--threads 1]

Each sentence is spoken by espeak-ng, encoded as its platform sends it (English as Telegram's
OGG/Opus, Chinese as WeCom's AMR) and recognised without a language hint (the model decides, as for
a new chat). Prints one line per sentence and the totals; docs/voice.md keeps the results.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import SAMPLE_KNOWLEDGE_DIR  # noqa: E402
from knowledge.loader import load  # noqa: E402
from speech.whisper import WhisperRecognizer  # noqa: E402
from tests.speech_audio import encode, speak  # noqa: E402

HAN = re.compile(r"[\u4e00-\u9fff]")
ENGLISH = re.compile(r"[A-Za-z0-9 ,.?'-]+")
#: How each language's sentences are sent, as the platform where it is most spoken sends them.
FORMAT = {"en": "ogg", "zh": "amr"}


def sentences(per_language: int) -> dict[str, list[str]]:
    """The sample knowledge's questions (Chinese) and English phrasings of four words or more."""
    entries, _ = load(SAMPLE_KNOWLEDGE_DIR)
    english = [p for e in entries for p in e.phrasings if ENGLISH.fullmatch(p) and len(p.split()) >= 4]
    chinese = [e.question for e in entries if HAN.search(e.question)]
    return {"en": english[:per_language], "zh": chinese[:per_language]}


def units(text: str, lang: str) -> list[str]:
    """Words (English, lower case, no punctuation) or Han characters (Chinese)."""
    if lang == "zh":
        return HAN.findall(text)
    return re.sub(r"[^a-z0-9' ]", " ", text.lower().replace("-", " ")).split()


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def measure(recognizer: WhisperRecognizer, lang: str, texts: list[str], folder: Path) -> dict[str, float]:
    errors = total = exact = 0
    audio_seconds = spent = 0.0
    for text in texts:
        wav = speak(text, lang, folder)
        audio = encode(wav, FORMAT[lang])
        started = time.perf_counter()
        heard = recognizer.transcribe(audio)
        spent += time.perf_counter() - started
        audio_seconds += len(encode(wav, "wav")) / 32_000  # 16 kHz, 16-bit mono
        said = heard.text if heard else ""
        reference, hypothesis = units(text, lang), units(said, lang)
        distance = edit_distance(reference, hypothesis)
        errors, total, exact = errors + distance, total + len(reference), exact + (distance == 0)
        print(f"{lang}  {distance:2d}/{len(reference):<2d}  {text}  ->  {said or '(nothing)'}")
    return {
        "error_rate": errors / max(total, 1),
        "exact": exact / max(len(texts), 1),
        "seconds": spent / max(len(texts), 1),
        "rtf": spent / max(audio_seconds, 1e-9),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-language", type=int, default=20)
    parser.add_argument("--model-path", type=Path, default=None, help="a CTranslate2 Whisper folder (default: shipped)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    recognizer = WhisperRecognizer(args.model_path, threads=args.threads)
    started = time.perf_counter()
    recognizer.load()
    print(
        f"model {recognizer.path} loaded in {time.perf_counter() - started:.1f} s; "
        f"covers {', '.join(sorted(recognizer.languages))}"
    )
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for lang, texts in sentences(args.per_language).items():
            results[lang] = measure(recognizer, lang, texts, Path(folder))
    for lang, r in results.items():
        name = "WER" if lang == "en" else "CER"
        print(
            f"{lang}: {name} {r['error_rate']:.1%}, sentences exactly right {r['exact']:.0%}, "
            f"{r['seconds']:.2f} s a sentence (real-time factor {r['rtf']:.2f})"
        )


if __name__ == "__main__":
    main()
