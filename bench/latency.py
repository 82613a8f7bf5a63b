"""One question answered in-process (retrieval + decision) on a 1,000-entry knowledge base.

The base is the 120 dev-KB entries plus 880 LCQMC questions as extra entries
(read at run time from ../shared/eval; nothing is copied into the repo).
Queries: the 320 dev queries and 200 LCQMC queries, each asked once after a
warm-up. Wall time and CPU time (all threads of the process) are both
reported: on a shared machine the wall time includes waiting for a core, the
CPU time is what one question costs. Run it once per thread setting, in a fresh process each time (the
encoders read their thread count at load):

    python bench/latency.py --threads 1
    python bench/latency.py --threads 2
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import cache_dir, eval_dir  # noqa: E402
from knowledge.evaluate import read_jsonl  # noqa: E402
from knowledge.runtime import KnowledgeRuntime  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--entries", type=int, default=1000)
    a = ap.parse_args()
    ev = eval_dir()
    kb = read_jsonl(ev / "kb.jsonl")
    kb += read_jsonl(ev / "public" / "lcqmc" / "kb.jsonl")[: a.entries - len(kb)]
    queries = [q["query"] for q in read_jsonl(ev / "queries_dev.jsonl")]
    queries += [q["query"] for q in read_jsonl(ev / "public" / "lcqmc" / "queries.jsonl")[:200]]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kb.jsonl"
        path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in kb), encoding="utf-8")
        t0 = time.perf_counter()
        rt = KnowledgeRuntime(path, cache_dir(), threads=a.threads)
        build = time.perf_counter() - t0
        for q in queries[:20]:
            rt.ask(q)
        times, cpu = [], []
        for q in queries:
            t, c = time.perf_counter(), time.process_time()
            rt.ask(q)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        # the decision layer alone: features of the top five and the verifier model, on a ranking made aside
        layer = []
        snap = rt._snap
        if rt.verifier is not None:
            for q in queries:
                r = snap.index.rank(q, 5)
                t = time.perf_counter()
                rt.verifier.score(snap.index, snap.profiles, r)
                layer.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    cms = np.array(cpu) * 1000
    lms = np.array(layer or [0.0]) * 1000
    print(json.dumps({"entries": len(rt.entries), "threads": a.threads, "queries": len(ms),
                      "p50_ms": round(float(np.median(ms)), 1), "p90_ms": round(float(np.percentile(ms, 90)), 1),
                      "p99_ms": round(float(np.percentile(ms, 99)), 1),
                      "cpu_p50_ms": round(float(np.median(cms)), 1), "cpu_p99_ms": round(float(np.percentile(cms, 99)), 1),
                      "verifier_p50_ms": round(float(np.median(lms)), 2),
                      "verifier_p99_ms": round(float(np.percentile(lms, 99)), 2),
                      "load_avg_1m": round(os.getloadavg()[0], 2), "build_seconds": round(build, 1),
                      "classifier": rt._snap.index.clf is not None,
                      "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


if __name__ == "__main__":
    main()
