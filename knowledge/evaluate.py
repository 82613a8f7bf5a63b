"""Run a query file through the knowledge base and score it like ../shared/eval/score.py."""
from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

from .runtime import KnowledgeRuntime


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def predict(rt: KnowledgeRuntime, queries: list[dict], progress=None,
            offers: list | None = None) -> tuple[list[dict], list[float]]:
    """One prediction per query in the DESIGN.md format, and the seconds each took.

    `offers`, when given, gets per query the entry ids "did you mean" offered (empty unless suggested)."""
    preds, times = [], []
    for n, q in enumerate(queries, 1):
        t0 = time.perf_counter()
        a = rt.ask(q["query"])
        times.append(time.perf_counter() - t0)
        preds.append({"query": q["query"], "top1": a.hits[0].entry_id if a.hits else None,
                      "top5": [h.entry_id for h in a.hits[:5]], "confidence": round(a.confidence, 6),
                      "answered": a.decision == "answer"})
        if offers is not None:
            offers.append([h.entry_id for h in a.suggestions] if a.decision == "suggest" else [])
        if progress and (n % 100 == 0 or n == len(queries)):
            progress(f"answered {n}/{len(queries)} queries", n == len(queries))
    return preds, times


def _ratio(a, b):
    return a / b if b else None


def metrics(queries: list[dict], preds: list[dict], offers: list | None = None) -> dict:
    """The score.py figures overall and by kind, plus recall@5; with `offers` (see `predict`) also
    one-click reach: in-scope questions answered right, or with the gold entry among the offers."""
    by_q = {p["query"]: p for p in preds}
    offered = {p["query"]: o for p, o in zip(preds, offers)} if offers is not None else {}
    tot = defaultdict(int)
    kinds: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for q in queries:
        p = by_q.get(q["query"], {})
        gold, top1 = q.get("gold"), p.get("top1")
        answered = bool(p.get("answered")) and top1 is not None
        ok = gold is not None and top1 == gold
        right = (answered and ok) or (gold is None and not answered)
        for bucket in (tot, kinds[q.get("kind", "?")]):
            bucket["n"] += 1
            bucket["right"] += right
            if answered:
                bucket["answered"] += 1
                bucket["answered_ok"] += ok
            if gold is not None:
                bucket["n_in"] += 1
                bucket["top1_ok"] += ok
                bucket["top5_ok"] += gold in (p.get("top5") or [])
                bucket["answered_in"] += answered
                bucket["reach"] += (answered and ok) or (not answered and gold in offered.get(q["query"], ()))
            else:
                bucket["n_oos"] += 1
                bucket["oos_declined"] += not answered

    def summary(b):
        return {"n": b["n"], "n_in_scope": b["n_in"], "n_out_of_scope": b["n_oos"],
                "top1_accuracy_in_scope": _ratio(b["top1_ok"], b["n_in"]),
                "recall_at_5_in_scope": _ratio(b["top5_ok"], b["n_in"]),
                "answered": b["answered"],
                "answered_precision": _ratio(b["answered_ok"], b["answered"]),
                "coverage_in_scope": _ratio(b["answered_in"], b["n_in"]),
                "oos_rejection_rate": _ratio(b["oos_declined"], b["n_oos"]),
                "selective_accuracy": _ratio(b["right"], b["n"]),
                "answered_correct_in_scope": _ratio(b["answered_ok"], b["n_in"]),
                "one_click_reach": _ratio(b["reach"], b["n_in"]) if offers is not None else None}

    m = summary(tot)
    m["by_kind"] = {k: summary(v) for k, v in sorted(kinds.items())}
    return m


def _pct(x):
    return "    -" if x is None else f"{100 * x:5.1f}%"


def format_metrics(m: dict) -> str:
    lines = [
        f"queries: {m['n']} (in-scope {m['n_in_scope']}, out-of-scope {m['n_out_of_scope']})",
        f"top-1 accuracy (in-scope):       {_pct(m['top1_accuracy_in_scope'])}",
        f"recall@5 (in-scope):             {_pct(m['recall_at_5_in_scope'])}",
        f"answered precision:              {_pct(m['answered_precision'])}  [{m['answered']} answered]",
        f"coverage (in-scope answered):    {_pct(m['coverage_in_scope'])}",
        f"out-of-scope rejection:          {_pct(m['oos_rejection_rate'])}",
        f"selective accuracy:              {_pct(m['selective_accuracy'])}",
        f"one-click reach (in-scope):      {_pct(m['one_click_reach'])}  [answered right, or gold offered by \"did you mean\"]",
        "",
        f"{'kind':<14}{'n':>5}{'top1':>8}{'recall5':>9}{'precision':>11}{'coverage':>10}{'reject':>9}{'selective':>11}"
        f"{'ans-right':>11}{'reach':>8}",
    ]
    for k, b in m["by_kind"].items():
        lines.append(f"{k:<14}{b['n']:>5}{_pct(b['top1_accuracy_in_scope']):>8}{_pct(b['recall_at_5_in_scope']):>9}"
                     f"{_pct(b['answered_precision']):>11}{_pct(b['coverage_in_scope']):>10}"
                     f"{_pct(b['oos_rejection_rate']):>9}{_pct(b['selective_accuracy']):>11}"
                     f"{_pct(b['answered_correct_in_scope']):>11}{_pct(b['one_click_reach']):>8}")
    return "\n".join(lines)
