"""From a ranking to a decision: calibrated confidence, then answer / suggest / decline.

Confidence is a logistic function of two features of the ranking: the dense
similarity of the best entry and its margin over the runner-up. Its three
coefficients and the two thresholds are global and fitted on the dev set by
bench/calibrate.py, which writes knowledge/calibration.json; the figures they
give are in docs/knowledge.md.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")


@dataclass
class Calibration:
    coef_top: float = 20.0
    coef_margin: float = 40.0
    bias: float = -14.0
    answer_threshold: float = 0.5
    suggest_threshold: float = 0.2
    suggest_max: int = 3
    suggest_window: float = 0.05  # a suggestion must be within this dense similarity of the best
    notes: dict = field(default_factory=dict)

    def confidence(self, top: float, margin: float) -> float:
        z = self.coef_top * top + self.coef_margin * margin + self.bias
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def decide(self, conf: float) -> str:
        if conf >= self.answer_threshold:
            return "answer"
        if conf >= self.suggest_threshold:
            return "suggest"
        return "decline"


def profile_name(backend_name: str, use: bool) -> str:
    return backend_name + ("+use-m3" if use else "")


def load_calibration(profile: str, path: Path = CALIBRATION_FILE) -> Calibration:
    """The fitted calibration for an encoder profile; the defaults (with a warning) if none was fitted."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if profile in data:
        return Calibration(**data[profile])
    log.warning("no calibration for %s in %s; using defaults (run bench/calibrate.py)", profile, path)
    return Calibration()


def save_calibration(profile: str, cal: Calibration, path: Path = CALIBRATION_FILE) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data[profile] = asdict(cal)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
