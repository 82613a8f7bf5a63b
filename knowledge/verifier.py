"""The decision layer: a learned reranker + verifier over the top candidates, and cost-based thresholds.

For each of the top five candidates of a question, `knowledge.features`
computes knowledge-agnostic signals; a model trained by
bench/train_verifier.py (shipped in knowledge/verifier.json, per encoder
profile) gives each candidate the probability that it is the right answer.
The most probable candidate is the answer and its probability the
confidence. Thresholds come from the desk's costs (`Utility`), chosen on the
model's out-of-fold scores that ship with it, so a deployment can change the
weight of a wrong answer (BOT_ANSWER_WRONG_COST) without retraining.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .features import FEATURES, Profiles, candidate_features
from .index import KnowledgeIndex

log = logging.getLogger(__name__)

VERIFIER_FILE = Path(__file__).with_name("verifier.json")
K = 5  # candidates the verifier looks at
SUGGEST_MAX = 3


@dataclass(frozen=True)
class Utility:
    """What each outcome costs a desk, in units of one missed answer.

    answered right 0; answered wrong (wrong entry, or an out-of-scope question
    answered) `wrong_cost`; declined an in-scope question 1; declined an
    out-of-scope one 0; "did you mean" with the right entry among the offers
    `suggest_hit_cost` (one more click); "did you mean" without it: the decline's cost
    plus `suggest_miss_extra` (a wasted click).
    """

    wrong_cost: float = 2.0
    suggest_hit_cost: float = 0.5
    suggest_miss_extra: float = 0.5

    def costs(self, correct, offered, in_scope):
        correct, offered, in_scope = (np.asarray(x, bool) for x in (correct, offered, in_scope))
        answer = np.where(correct, 0.0, self.wrong_cost)
        decline = np.where(in_scope, 1.0, 0.0)
        suggest = np.where(offered & in_scope, self.suggest_hit_cost, decline + self.suggest_miss_extra)
        return answer, suggest, decline


def choose_thresholds(p, s3, correct, offered, in_scope, utility: Utility) -> tuple[float, float, float]:
    """(answer threshold, suggest threshold, mean cost) minimising the utility's cost on scored questions.

    `p`: probability of the most probable candidate; `s3`: summed probability of the offered
    candidates (the top SUGGEST_MAX, capped at 1). Answer at p >= t_answer; otherwise "did you
    mean" at s3 >= t_suggest; otherwise decline. Grid of 0.01 steps; ties go to the higher
    (more careful) thresholds.
    """
    p, s3 = np.asarray(p, float), np.asarray(s3, float)
    ca, cs, cd = utility.costs(correct, offered, in_scope)
    grid = np.round(np.arange(0.0, 1.0001, 0.01), 2)
    best = (math.inf, 1.01, 1.01)
    for ta in grid[::-1]:
        ans = p >= ta
        for ts in grid[::-1]:
            sug = (~ans) & (s3 >= ts)
            cost = float(np.where(ans, ca, np.where(sug, cs, cd)).mean())
            if cost < best[0] - 1e-12:
                best = (cost, float(ta), float(ts))
    return best[1], best[2], best[0]


class Model:
    """A linear model (imputed, standardised) or gradient-boosted trees, evaluated with numpy.

    "logistic" and "gbt" score each candidate on its own (a sigmoid each); "listwise" is the same
    linear score turned into a softmax over one question's candidates plus "none of them" (score 0),
    so `proba` must be given the rows of one question, and its probabilities sum to at most 1.
    """

    def __init__(self, spec: dict):
        self.kind = spec["type"]
        self.features = tuple(spec["features"])
        if self.kind in ("logistic", "listwise"):
            self.fill = np.asarray(spec["fill"], np.float64)
            self.mean = np.asarray(spec["mean"], np.float64)
            self.scale = np.asarray(spec["scale"], np.float64)
            self.coef = np.asarray(spec["coef"], np.float64)
            self.bias = float(spec["bias"])
        elif self.kind == "gbt":
            self.baseline = float(spec["baseline"])
            t = spec["trees"]
            self.feat = np.asarray(t["feature"], np.int64)  # (trees, nodes)
            self.thr = np.asarray(t["threshold"], np.float64)
            self.left = np.asarray(t["left"], np.int64)
            self.right = np.asarray(t["right"], np.int64)
            self.leaf = np.asarray(t["leaf"], bool)
            self.value = np.asarray(t["value"], np.float64)
            self.nan_left = np.asarray(t["nan_left"], bool)
            self.depth = int(t["depth"])
        else:
            raise ValueError(f"unknown verifier model type {self.kind!r}")

    def raw(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, np.float64)
        if self.kind in ("logistic", "listwise"):
            X = np.where(np.isnan(X), self.fill, X)
            return ((X - self.mean) / self.scale) @ self.coef + self.bias
        n_trees = self.feat.shape[0]
        rows = np.arange(X.shape[0])
        tree = np.arange(n_trees)[:, None]
        node = np.zeros((n_trees, X.shape[0]), np.int64)
        for _ in range(self.depth):
            f = self.feat[tree, node]
            x = X[rows[None, :], f]
            go_left = np.where(np.isnan(x), self.nan_left[tree, node], x <= self.thr[tree, node])
            nxt = np.where(go_left, self.left[tree, node], self.right[tree, node])
            node = np.where(self.leaf[tree, node], node, nxt)
        return self.baseline + self.value[tree, node].sum(axis=0)

    def proba(self, X: np.ndarray) -> np.ndarray:
        z = self.raw(X)
        if self.kind == "listwise":  # shifted by the largest score (or none's 0): never overflows
            top = float(z.max(initial=0.0))
            e = np.exp(z - top)
            return e / (e.sum() + math.exp(-top))
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def export_logistic(scaler_fill, scaler, lr, features, kind: str = "logistic") -> dict:
    """A linear model (`kind` "logistic" or "listwise") over standardised features with missing values filled."""
    return {"type": kind, "features": list(features), "fill": [float(x) for x in scaler_fill],
            "mean": [float(x) for x in scaler.mean_], "scale": [float(x) for x in scaler.scale_],
            "coef": [float(x) for x in lr.coef_[0]], "bias": float(lr.intercept_[0])}


def export_gbt(clf, features) -> dict:
    """A fitted sklearn HistGradientBoostingClassifier (binary) as padded node arrays."""
    preds = [p[0] for p in clf._predictors]
    width = max(len(p.nodes) for p in preds)
    keys = ("feature", "threshold", "left", "right", "leaf", "value", "nan_left")
    out = {k: [] for k in keys}
    depth = 0
    for p in preds:
        nd = p.nodes
        pad = width - len(nd)
        out["feature"].append([int(x) for x in nd["feature_idx"]] + [0] * pad)
        out["threshold"].append([float(x) for x in nd["num_threshold"]] + [0.0] * pad)
        out["left"].append([int(x) for x in nd["left"]] + [0] * pad)
        out["right"].append([int(x) for x in nd["right"]] + [0] * pad)
        out["leaf"].append([bool(x) for x in nd["is_leaf"]] + [True] * pad)
        out["value"].append([float(x) for x in nd["value"]] + [0.0] * pad)
        out["nan_left"].append([bool(x) for x in nd["missing_go_to_left"]] + [True] * pad)
        depth = max(depth, int(nd["depth"].max()))
    out["depth"] = depth
    return {"type": "gbt", "features": list(features), "baseline": float(np.ravel(clf._baseline_prediction)[0]),
            "trees": out}


class Verifier:
    """A trained verifier for one encoder profile, plus the out-of-fold scores its thresholds come from."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.model = Model(spec["model"])
        if tuple(self.model.features) != FEATURES:
            missing = set(self.model.features) - set(FEATURES)
            if missing:
                raise ValueError(f"verifier needs features this code does not compute: {sorted(missing)}")
        self._cols = np.array([FEATURES.index(f) for f in self.model.features])
        self.oof = {k: np.asarray(v) for k, v in spec.get("oof", {}).items()}

    def score(self, index: KnowledgeIndex, profiles: Profiles, ranked) -> tuple[np.ndarray, np.ndarray]:
        """(entry indices of the verified candidates, their probabilities), in retrieval order."""
        X = candidate_features(ranked, index, profiles, K)
        return ranked.order[: len(X)], self.model.proba(X[:, self._cols])

    def thresholds(self, utility: Utility) -> tuple[float, float]:
        if not len(self.oof.get("p", ())):
            return 0.5, 0.3
        ta, ts, _ = choose_thresholds(self.oof["p"], self.oof["s3"], self.oof["correct"], self.oof["offered"],
                                      self.oof["in_scope"], utility)
        return ta, ts


def deployment_verifier_file(data_dir: Path) -> Path:
    """Where `kb learn` keeps a deployment's own verifier: beside its data, never in the installed package."""
    return Path(data_dir) / "verifier.json"


def load_verifier(profile: str, path: Path = VERIFIER_FILE) -> Verifier | None:
    """The shipped verifier for an encoder profile, or None (the runtime then uses the 2-feature calibration)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    spec = data.get(profile)
    if not spec:
        return None
    try:
        return Verifier(spec)
    except (KeyError, ValueError) as e:
        log.warning("verifier for %s unusable (%s); using the 2-feature calibration", profile, e)
        return None


def preferred_verifier(profile: str, deployment_file: Path | None) -> Verifier | None:
    """A deployment's own verifier for the profile (`kb learn`'s, under BOT_DATA_DIR) if it has one,
    else the shipped one."""
    return (load_verifier(profile, Path(deployment_file)) if deployment_file else None) or load_verifier(profile)


def save_verifier(profile: str, spec: dict, path: Path = VERIFIER_FILE) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data[profile] = spec
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
