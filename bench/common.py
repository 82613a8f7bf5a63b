"""Where the shared evaluation data lives (read at run time, never copied into the repo)."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def eval_dir() -> Path:
    for cand in (os.environ.get("BOT_EVAL_DIR"), REPO.parent / "shared" / "eval", Path("/work/shared/eval")):
        if cand and Path(cand, "kb.jsonl").exists():
            return Path(cand)
    raise SystemExit("evaluation data not found: set BOT_EVAL_DIR to the folder with kb.jsonl")


def cache_dir() -> Path:
    return Path(os.environ.get("BOT_DATA_DIR", REPO / "data")) / "embeddings"
