"""Top-1 and recall@5 on the public sets at full size, end to end through KnowledgeRuntime.

    python bench/public_sets.py [lcqmc] [bq_corpus]

Prints one JSON line per set (figures, build time, query latency, RSS).
The first run embeds every entry (LCQMC: 10,000; takes a while); later runs
use the embedding cache.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import cache_dir, eval_dir  # noqa: E402
from knowledge.evaluate import metrics, predict, read_jsonl  # noqa: E402
from knowledge.runtime import KnowledgeRuntime  # noqa: E402


def run(name: str) -> dict:
    d = eval_dir() / "public" / name
    t0 = time.perf_counter()
    rt = KnowledgeRuntime(d / "kb.jsonl", cache_dir(),
                          progress=lambda m, done=False: print(m, file=sys.stderr) if done else None)
    build = time.perf_counter() - t0
    queries = read_jsonl(d / "queries.jsonl")
    preds, times = predict(rt, queries)
    m = metrics(queries, preds)
    return {"set": name, "entries": len(rt.entries), "queries": len(queries),
            "top1": round(m["top1_accuracy_in_scope"], 4), "recall_at_5": round(m["recall_at_5_in_scope"], 4),
            "build_seconds": round(build, 1), "query_ms_p50": round(1000 * float(np.median(times)), 1),
            "query_ms_p99": round(1000 * float(np.percentile(times, 99)), 1),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


if __name__ == "__main__":
    for name in sys.argv[1:] or ["lcqmc", "bq_corpus"]:
        print(json.dumps(run(name)), flush=True)
