"""Train the answer verifier (knowledge/verifier.json) and report entry-grouped cross-validation on dev.

Training rows (one per question and top-5 candidate, numbers only, see knowledge/features.py):

- dev: every query of ../shared/eval/queries_dev.jsonl against the eval knowledge; the gold
  candidate is 1, the others 0 (gold null: all 0);
- knowledge near misses: the eval knowledge is split into six parts; for each part the index is
  rebuilt without it and each left-out entry's question and alternates are asked: every hit is
  a "should decline" (0);
- out of domain: questions of the public LCQMC and BQ sets asked of the eval knowledge (0).

Cross-validation is grouped by entry: a dev query, and the near misses made from an entry, fall in
the fold of their (gold / source) entry, so no entry's questions are in both training and scoring
folds; null-gold and public questions go to folds at random. Thresholds are chosen for the desk's
utility (knowledge/verifier.py `Utility`, a wrong answer costs BOT_ANSWER_WRONG_COST = 2 missed
answers) on the out-of-fold scores. Three models are measured: gradient-boosted trees and a
logistic model (each candidate on its own), and a listwise linear model (a softmax over each
question's candidates and "none", the shipped default); `--model` picks the one shipped. The old
2-feature layer is measured the same way.

    python bench/train_verifier.py [--model listwise|logistic|gbt] [--folds 5] [--seeds 3] [--dry-run] [--force]
    python bench/train_verifier.py --cv-only        # print the CV figures of the shipped feature set

No query text is written anywhere: the model file holds coefficients or trees and out-of-fold
scores; knowledge/verifier_rows.npz holds the training rows as numeric feature vectors. A new model
is written only if its CV selective accuracy is at least the shipped model's (within half a point).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import cache_dir, eval_dir  # noqa: E402
from knowledge.evaluate import read_jsonl  # noqa: E402
from knowledge.features import FEATURES, Profiles  # noqa: E402
from knowledge.index import KnowledgeIndex  # noqa: E402
from knowledge.runtime import KnowledgeRuntime  # noqa: E402
from knowledge.training import MODEL_KINDS, ROWS_FILE, candidate_rows, export, fit_any  # noqa: E402
from knowledge.verifier import SUGGEST_MAX, K, Utility, choose_thresholds, save_verifier  # noqa: E402

SOURCES = ("dev", "kb_near_miss", "public", "kb_alternate")
KINDS = ("paraphrase", "colloquial", "typo", "mixed", "near_miss", "out_of_scope", "-")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Rows:
    def __init__(self):
        self.X, self.y, self.qid, self.group, self.source, self.kind, self.cand, self.gold = ([] for _ in range(8))
        self.ret_dense, self.n = [], 0

    def add(self, index, profiles, text, gold, group, source, kind):
        X, ids, r = candidate_rows(index, profiles, text, K)
        self.X.append(X)
        self.y += [int(gold is not None and i == gold) for i in ids]
        self.qid += [self.n] * len(X)
        self.group += [group] * len(X)
        self.source += [SOURCES.index(source)] * len(X)
        self.kind += [KINDS.index(kind)] * len(X)
        self.cand += ids
        self.gold += [gold] * len(X)
        self.ret_dense.append((float(r.dense[0]), float(r.dense[0] - r.dense[1]) if len(r.dense) > 1 else 0.0,
                               [float(d) for d in r.dense[: len(X)]]))
        self.n += 1

    def arrays(self):
        return (np.concatenate(self.X), np.array(self.y), np.array(self.qid), np.array(self.group),
                np.array(self.source), np.array(self.kind))


def build_rows(rt: KnowledgeRuntime, ev: Path, folds: int, seed: int, n_public: int):
    rng = np.random.RandomState(seed)
    index = rt._snap.index
    entries = list(index.entries)
    entry_fold = {e.id: int(f) for e, f in zip(entries, rng.permutation(np.arange(len(entries)) % folds))}
    profiles = Profiles(index)
    rows = Rows()
    queries = read_jsonl(ev / "queries_dev.jsonl")
    for q in queries:
        g = entry_fold[q["gold"]] if q["gold"] else int(rng.randint(folds))
        rows.add(index, profiles, q["query"], q["gold"], g, "dev", q["kind"])
    log(f"dev rows: {rows.n} queries")
    # near misses made from the knowledge itself: six parts, each left out in turn
    part = rng.permutation(np.arange(len(entries)) % 6)
    for p in range(6):
        keep = [e for e, pp in zip(entries, part) if pp != p]
        sub = KnowledgeIndex(keep, rt._enc, rt.params)
        sub_prof = Profiles(sub)
        for e, pp in zip(entries, part):
            if pp == p:
                for text in dict.fromkeys(e.phrasings):
                    rows.add(sub, sub_prof, text, None, entry_fold[e.id], "kb_near_miss", "-")
        log(f"knowledge near misses: part {p + 1}/6, {rows.n} questions so far")
    # paraphrases made from the knowledge: each entry of a part loses one alternate, which is then asked
    # (its entry is the gold); entries with a single phrasing are skipped
    from dataclasses import replace

    for p in range(6):
        held, kept = [], []
        for e, pp in zip(entries, part):
            if pp == p and e.alternates:
                j = int(rng.randint(len(e.alternates)))
                held.append((e, e.alternates[j]))
                kept.append(replace(e, alternates=e.alternates[:j] + e.alternates[j + 1:]))
            else:
                kept.append(e)
        sub = KnowledgeIndex(kept, rt._enc, rt.params)
        sub_prof = Profiles(sub)
        for e, text in held:
            rows.add(sub, sub_prof, text, e.id, entry_fold[e.id], "kb_alternate", "-")
    log(f"knowledge paraphrases: {rows.n} questions so far")
    for name in ("lcqmc", "bq_corpus"):
        pub = read_jsonl(ev / "public" / name / "queries.jsonl")
        for i in rng.permutation(len(pub))[:n_public]:
            rows.add(index, profiles, pub[int(i)]["query"], None, int(rng.randint(folds)), "public", "-")
    log(f"all rows: {rows.n} questions, {sum(len(x) for x in rows.X)} candidate rows")
    return rows, queries


# -- evaluation ------------------------------------------------------------------------------
def per_query(rows: Rows, p: np.ndarray, qids):
    """For each dev question: (confidence, top1 id, correct, offered ids) from candidate probabilities."""
    out = {}
    qid = np.array(rows.qid)
    for q in qids:
        idx = np.where(qid == q)[0]
        pr = p[idx]
        o = np.argsort(-pr, kind="stable")
        ids = [rows.cand[idx[j]] for j in o]
        out[q] = (float(pr[o[0]]), ids[0], ids[:SUGGEST_MAX], ids, float(min(1.0, pr[o[:SUGGEST_MAX]].sum())))
    return out


def outcomes(queries, dev_qids, pq, ta, ts):
    """Per-query decisions and the kb-eval figures plus one-click reach and cross-lingual answered-correct."""
    tot = defaultdict(float)
    kinds = defaultdict(lambda: defaultdict(float))
    for q, n in zip(queries, dev_qids):
        conf, top1, sugg, ids, s3 = pq[n]
        gold = q["gold"]
        dec = "answer" if conf >= ta else ("suggest" if s3 >= ts else "decline")
        ok = gold is not None and top1 == gold
        ans = dec == "answer"
        right = (ans and ok) or (gold is None and not ans)
        reach = gold is not None and ((ans and ok) or (dec == "suggest" and gold in sugg))
        for b in (tot, kinds[q["kind"]]):
            b["n"] += 1
            b["right"] += right
            b["answered"] += ans
            b["answered_ok"] += ans and ok
            if gold is not None:
                b["n_in"] += 1
                b["top1"] += ok
                b["top5"] += gold in ids
                b["cov"] += ans
                b["reach"] += reach
            else:
                b["n_oos"] += 1
                b["rej"] += not ans

    def summ(b):
        r = lambda a, c: (b[a] / b[c]) if b[c] else None
        return {"n": int(b["n"]), "selective_accuracy": r("right", "n"), "answered_precision": r("answered_ok", "answered"),
                "coverage": r("cov", "n_in"), "top1": r("top1", "n_in"), "recall5": r("top5", "n_in"),
                "oos_rejection": r("rej", "n_oos"), "one_click_reach": r("reach", "n_in"),
                "answered_correct": r("answered_ok", "n_in") if b["n_in"] else None}

    m = summ(tot)
    m["by_kind"] = {k: summ(v) for k, v in sorted(kinds.items())}
    m["near_miss_rejection"] = m["by_kind"].get("near_miss", {}).get("oos_rejection")
    m["mixed_answered_correct"] = m["by_kind"].get("mixed", {}).get("answered_correct")
    return m


def cv(rows: Rows, queries, kind, cols, folds, utility, fold_of=None):
    """Out-of-fold candidate probabilities for every dev row (models trained on the other folds, all sources)."""
    X, y, qid, group, source, _ = rows.arrays()
    X = X[:, cols]
    p = np.zeros(len(y))
    for f in range(folds):
        test = group == f
        _, pred = fit_any(kind, X[~test], y[~test], qid[~test])
        sel = test & (source == 0)
        p[sel] = pred(X[sel], qid[sel])
    return p


def score_oof(rows, queries, p, utility, folds):
    _, _, qid, group, _, _ = rows.arrays()
    dev_qids = list(range(len(queries)))  # dev questions were added first
    pq = per_query(rows, p, dev_qids)
    conf = np.array([pq[n][0] for n in dev_qids])
    s3 = np.array([pq[n][4] for n in dev_qids])
    correct = np.array([q["gold"] is not None and pq[n][1] == q["gold"] for q, n in zip(queries, dev_qids)])
    offered = np.array([q["gold"] is not None and q["gold"] in pq[n][2] for q, n in zip(queries, dev_qids)])
    in_scope = np.array([q["gold"] is not None for q in queries])
    ta, ts, cost = choose_thresholds(conf, s3, correct, offered, in_scope, utility)
    m = outcomes(queries, dev_qids, pq, ta, ts)
    # nested: thresholds for each fold's questions chosen on the other folds' out-of-fold scores
    qgroup = np.array([group[np.where(qid == n)[0][0]] for n in dev_qids])
    dec_ta, dec_ts = np.zeros(len(queries)), np.zeros(len(queries))
    for f in range(folds):
        t = qgroup == f
        a, s, _ = choose_thresholds(conf[~t], s3[~t], correct[~t], offered[~t], in_scope[~t], utility)
        dec_ta[t], dec_ts[t] = a, s
    nested = outcomes_nested(queries, dev_qids, pq, dec_ta, dec_ts)
    return {"thresholds": (ta, ts), "mean_cost": cost, "metrics": m, "nested": nested,
            "oof": {"p": conf, "s3": s3, "correct": correct, "offered": offered, "in_scope": in_scope}}


def outcomes_nested(queries, dev_qids, pq, tas, tss):
    """`outcomes` with each question's own thresholds (mapped onto fixed ones through its decision)."""
    shifted = {}
    for i, n in enumerate(dev_qids):
        conf, top1, sugg, ids, s3 = pq[n]
        c = 0.75 if conf >= tas[i] else (0.3 if s3 >= tss[i] else 0.0)
        shifted[n] = (c, top1, sugg, ids, c)
    return outcomes(queries, dev_qids, shifted, 0.5, 0.25)


# -- the old 2-feature layer under the same CV -----------------------------------------------
def old_layer_cv(rows: Rows, queries, folds):
    from sklearn.linear_model import LogisticRegression

    _, _, qid, group, _, _ = rows.arrays()
    dev_qids = list(range(len(queries)))
    F = np.array([rows.ret_dense[n][:2] for n in dev_qids])
    first = {n: np.where(qid == n)[0] for n in dev_qids}
    top1 = [rows.cand[first[n][0]] for n in dev_qids]
    correct = np.array([q["gold"] is not None and t == q["gold"] for q, t in zip(queries, top1)])
    oos = np.array([q["gold"] is None for q in queries])
    qgroup = np.array([group[first[n][0]] for n in dev_qids])
    pq = {}
    for f in range(folds):
        te = qgroup == f
        m = LogisticRegression(C=1.0).fit(F[~te], correct[~te].astype(int))
        ptr = m.predict_proba(F[~te])[:, 1]
        grid = np.unique(np.round(ptr, 3))

        def sel(t, ptr=ptr, te=te):
            ans = ptr >= t
            return float(np.where(oos[~te], ~ans, ans & correct[~te]).mean())

        ta = float(max(grid, key=lambda t: (sel(t), t)))
        ts = ta
        for t in np.arange(0.0, ta, 0.01):
            if ((ptr >= t) & (ptr < ta))[oos[~te]].mean() <= 0.25:
                ts = float(t)
                break
        pte = m.predict_proba(F[te])[:, 1]
        for n, c in zip(np.array(dev_qids)[te], pte):
            idx = first[n]
            ids = [rows.cand[i] for i in idx]
            dens = rows.ret_dense[n][2]
            sugg = [i for i, d in zip(ids, dens) if d >= dens[0] - 0.05][:3]
            if len(sugg) < 2:
                sugg = ids[:2]
            dec_conf = 0.75 if c >= ta else (0.3 if c >= ts else 0.0)
            pq[n] = (dec_conf, ids[0], sugg, ids, dec_conf)
    return outcomes(queries, dev_qids, pq, 0.5, 0.25)


def fmt(m):
    pct = lambda x: "    -" if x is None else f"{100 * x:5.1f}%"
    lines = [(f"  selective accuracy {pct(m['selective_accuracy'])}  answered precision {pct(m['answered_precision'])}  "
              f"coverage {pct(m['coverage'])}  top-1 {pct(m['top1'])}  recall@5 {pct(m['recall5'])}"),
             (f"  OOS rejection {pct(m['oos_rejection'])}  near-miss rejection {pct(m['near_miss_rejection'])}  "
              f"cross-lingual answered-correct {pct(m['mixed_answered_correct'])}  one-click reach {pct(m['one_click_reach'])}"),
             f"  {'kind':<13}{'n':>4}{'top1':>8}{'prec':>8}{'cover':>8}{'reject':>8}{'select':>8}{'reach':>8}"]
    for k, b in m["by_kind"].items():
        lines.append(f"  {k:<13}{b['n']:>4}{pct(b['top1']):>8}{pct(b['answered_precision']):>8}{pct(b['coverage']):>8}"
                     f"{pct(b['oos_rejection']):>8}{pct(b['selective_accuracy']):>8}{pct(b['one_click_reach']):>8}")
    return "\n".join(lines)


def rounded(m):
    out = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items() if k != "by_kind"}
    out["by_kind"] = {k: {kk: (round(vv, 4) if isinstance(vv, float) else vv) for kk, vv in b.items()}
                      for k, b in m["by_kind"].items()}
    return out


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=MODEL_KINDS, default="listwise", help="the model to ship")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=3, help="repeat the CV with this many fold assignments")
    ap.add_argument("--public", type=int, default=150, help="questions from each public set as declines")
    ap.add_argument("--wrong-cost", type=float, default=2.0)
    ap.add_argument("--drop", default="", help="comma-separated feature name prefixes to leave out (ablation)")
    ap.add_argument("--cv-only", action="store_true", help="print the CV figures, write nothing")
    ap.add_argument("--dry-run", action="store_true", help="train and print, do not write the model")
    ap.add_argument("--force", action="store_true", help="write even if the CV figures are worse than the shipped model's")
    ap.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    return ap.parse_args()


SUMMARY_KEYS = ("selective_accuracy", "answered_precision", "near_miss_rejection", "mixed_answered_correct",
                "one_click_reach", "top1", "coverage", "oos_rejection", "recall5")


def run_cv(a, rt, ev, utility):
    """Rows and CV results per fold assignment, the feature columns used, and the mean figures."""
    drop = [d for d in a.drop.split(",") if d]
    cols, results, t0 = None, {}, time.perf_counter()
    for seed in range(a.seeds):
        rows, queries = build_rows(rt, ev, a.folds, seed, a.public)
        if cols is None:  # signals this profile does not compute (views not indexed) are left out
            X0 = rows.arrays()[0]
            cols = [i for i, f in enumerate(FEATURES)
                    if np.isfinite(X0[:, i]).any() and not any(f.startswith(d) for d in drop)]
            log("features: " + " ".join(FEATURES[i] for i in cols))
        res = {"old": old_layer_cv(rows, queries, a.folds)}
        for kind in MODEL_KINDS:
            p = cv(rows, queries, kind, cols, a.folds, utility)
            res[kind] = score_oof(rows, queries, p, utility, a.folds)
        results[seed] = (res, rows, queries)
        log(f"seed {seed}: done in {time.perf_counter() - t0:.0f}s")
    summary = {}
    for name in ("old", *MODEL_KINDS):
        for variant in (("metrics", "nested") if name != "old" else ("metrics",)):
            ms = [results[s][0][name] if name == "old" else results[s][0][name][variant] for s in results]
            summary[f"{name}/{variant}"] = {k: round(float(np.mean([m[k] for m in ms])), 4) for k in SUMMARY_KEYS}
    return results, cols, summary


def report(a, results, summary):
    print(f"entry-grouped {a.folds}-fold CV on dev, {a.seeds} fold assignments (wrong answer costs {a.wrong_cost})")
    for name in ("old", *MODEL_KINDS):
        res = results[0][0][name]
        if name == "old":
            print(f"\n[old 2-feature layer] (thresholds fitted on the training folds)\n{fmt(res)}")
        else:
            print(f"\n[{name}] thresholds {res['thresholds']} (on all out-of-fold scores), mean cost {res['mean_cost']:.3f}")
            print(fmt(res["metrics"]))
            print(f"  nested thresholds (each fold's from the other folds):\n{fmt(res['nested'])}")
    print("\nmean over fold assignments:")
    for k, v in summary.items():
        print(f"  {k:<22}" + "  ".join(f"{kk}={100 * vv:.1f}" for kk, vv in v.items()))
    if a.json:
        print(json.dumps(summary))


def shipped_selective(profile):
    """The shipped model's CV selective accuracy for a profile (None: no model shipped)."""
    from knowledge.verifier import VERIFIER_FILE

    try:
        old = json.loads(VERIFIER_FILE.read_text(encoding="utf-8")).get(profile, {})
        return old["notes"]["cv"][f"{old['notes']['chosen']}/metrics"]["selective_accuracy"]
    except (OSError, ValueError, KeyError):
        return None


def ship(a, rt, results, cols, summary):
    """Fit the chosen model on every row and write it, unless its CV figures are worse than the shipped one's."""
    res, rows, queries = results[0]
    X, y, qid, group, source, kind = rows.arrays()
    model, pred = fit_any(a.model, X[:, cols], y, qid)
    spec = {"model": export(a.model, model, cols), "k": K,
            "oof": {k: [round(float(x), 5) for x in v] for k, v in res[a.model]["oof"].items()},
            "notes": {"trained_on": {"dev_questions": len(queries),
                                     "knowledge_near_miss_questions": len(set(qid[source == 1])),
                                     "public_questions": len(set(qid[source == 2])), "candidate_rows": len(y)},
                      "cv": summary, "thresholds_at_wrong_cost_2": res[a.model]["thresholds"],
                      "chosen": a.model}}
    # the shipped model and the numpy evaluator must agree (on whole questions: a listwise model needs them)
    from knowledge.verifier import Model

    head = qid < 40
    ours = np.concatenate([Model(spec["model"]).proba(X[qid == q][:, cols]) for q in range(40)])
    diff = float(np.abs(ours - pred(X[head][:, cols], qid[head])).max())
    log(f"numpy evaluator vs the fitted model: max difference {diff:.2e}")
    assert diff < 1e-6, diff
    if a.dry_run:
        return
    # a new model replaces the shipped one only when it scores at least as well on labels it did not see
    old_sel, new_sel = shipped_selective(rt.profile), summary[f"{a.model}/metrics"]["selective_accuracy"]
    if old_sel is not None and new_sel < old_sel - 0.005 and not a.force:
        log(f"not written: CV selective accuracy {new_sel:.3f} < the shipped model's {old_sel:.3f} (--force to replace)")
        return
    save_verifier(rt.profile, spec)
    np.savez_compressed(ROWS_FILE, X=X.astype(np.float32), y=y.astype(np.int8), question=qid.astype(np.int32),
                        fold=group.astype(np.int8), source=source.astype(np.int8), kind=kind.astype(np.int8),
                        features=np.array(FEATURES))
    log(f"wrote knowledge/verifier.json ({rt.profile}, {a.model}) and {ROWS_FILE.name}")


def main():
    a = parse_args()
    ev = eval_dir()
    rt = KnowledgeRuntime(ev / "kb.jsonl", cache_dir(), verifier=False)
    utility = Utility(wrong_cost=a.wrong_cost)
    results, cols, summary = run_cv(a, rt, ev, utility)
    report(a, results, summary)
    if not a.cv_only:
        ship(a, rt, results, cols, summary)


if __name__ == "__main__":
    main()
