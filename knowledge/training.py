"""Training the verifier: candidate rows of a question, fitting and exporting a model, and
`learn`, the refit from a deployment's own labels behind a regression gate.

bench/train_verifier.py builds the shipped training rows (knowledge/verifier_rows.npz: the dev
queries, near misses made from the knowledge, public out-of-domain questions, as numeric feature
vectors) and the shipped model from them. `learn` adds what a desk's traffic taught (labels:
"this question is answered by that entry", "by none", or "not by that entry"), computed with the
live index, refits, and keeps the new model only when it scores at least as well as the old one
on the deployment labels it did not train on.

A label is any object with ``text``, ``entry_id`` (None: no entry answers the question) and
``fits`` (False: the entry does not answer it, as a "not helpful" vote says).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .features import FEATURES, Profiles, candidate_features
from .index import KnowledgeIndex
from .verifier import SUGGEST_MAX, K, Utility, Verifier, export_gbt, export_logistic

ROWS_FILE = Path(__file__).with_name("verifier_rows.npz")
#: shipped dev questions of these kinds have an answer in the knowledge (knowledge/verifier_rows.npz `kind`)
IN_SCOPE_KINDS = (0, 1, 2, 3)
MIN_LABELS = 20  # fewer deployment labels teach nothing the gate could measure
MIN_HELD_OUT = 5
LABEL_WEIGHT = 3.0  # a desk's own label counts as this many shipped rows


def candidate_rows(index: KnowledgeIndex, profiles: Profiles, text: str, k: int = K):
    """(feature rows of the question's top-k candidates, their entry ids, the ranking)."""
    ranked = index.rank(text, k)
    X = candidate_features(ranked, index, profiles, k)
    ids = [index.entries[int(i)].id for i in ranked.order[: len(X)]]
    return X, ids, ranked


def fit_model(kind: str, X: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None):
    """(fitted model, predict(X) -> probabilities): gradient-boosted trees or a logistic model."""
    if kind == "gbt":
        from sklearn.ensemble import HistGradientBoostingClassifier

        m = HistGradientBoostingClassifier(
            max_iter=200,
            learning_rate=0.05,
            max_leaf_nodes=7,
            min_samples_leaf=30,
            l2_regularization=1.0,
            random_state=0,
        )
        m.fit(X, y, sample_weight=weight)
        return m, lambda Z: m.predict_proba(Z)[:, 1]
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    fill = np.array([np.nanmean(c) if np.isfinite(c).any() else 0.0 for c in X.T])
    Xf = np.where(np.isnan(X), fill, X)
    sc = StandardScaler().fit(Xf)
    sc.scale_ = np.where(sc.scale_ > 0, sc.scale_, 1.0)
    lr = LogisticRegression(C=0.1, max_iter=3000).fit(sc.transform(Xf), y, sample_weight=weight)
    return (fill, sc, lr), lambda Z: lr.predict_proba(sc.transform(np.where(np.isnan(Z), fill, Z)))[:, 1]


def export(kind: str, model, cols) -> dict:
    """A fitted model (`fit_any`) over the FEATURES columns `cols` as the verifier file's spec."""
    names = [FEATURES[c] for c in cols]
    if kind == "gbt":
        return export_gbt(model, names)
    fill, sc, lr = model
    return export_logistic(fill, sc, lr, names, kind="listwise" if kind == "listwise" else "logistic")


def _question_starts(qid):
    """First row of each question (a question's rows are consecutive)."""
    return np.r_[0, np.flatnonzero(np.diff(qid)) + 1]


def _softmax_with_none(s, starts):
    """Per question: softmax of its candidates' scores against "none of them" (score 0)."""
    sizes = np.diff(np.r_[starts, len(s)])
    top = np.maximum(np.maximum.reduceat(s, starts), 0.0)
    e = np.exp(s - np.repeat(top, sizes))
    return e / np.repeat(np.add.reduceat(e, starts) + np.exp(-top), sizes)


def fit_listwise(X, y, qid, C=0.1, weight=None):
    """Linear scores trained as a softmax over each question's candidates and "none" (knowledge/verifier.py
    `Model`): the negative log-likelihood of the right candidate (or of "none") plus an L2 penalty 1/(2C)."""
    from types import SimpleNamespace

    from scipy.optimize import minimize
    from sklearn.preprocessing import StandardScaler

    fill = np.array([np.nanmean(c) if np.isfinite(c).any() else 0.0 for c in X.T])
    sc = StandardScaler().fit(np.where(np.isnan(X), fill, X))
    sc.scale_ = np.where(sc.scale_ > 0, sc.scale_, 1.0)
    Z = sc.transform(np.where(np.isnan(X), fill, X))
    starts = _question_starts(qid)
    wq = np.ones(len(starts)) if weight is None else np.asarray(weight, float)[starts]  # one weight a question

    def loss(theta):
        s = Z @ theta[:-1] + theta[-1]
        P = _softmax_with_none(s, starts)
        none = 1.0 - np.add.reduceat(P, starts)
        nll = -(wq * np.log(np.where(np.add.reduceat(y, starts) > 0, np.add.reduceat(P * y, starts), none)
                            + 1e-300)).sum()
        g = (P - y) * np.repeat(wq, np.diff(np.r_[starts, len(s)]))
        w = theta[:-1]
        return nll + 0.5 * (w @ w) / C, np.r_[Z.T @ g + w / C, g.sum()]

    theta = minimize(loss, np.zeros(Z.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 3000}).x
    lr = SimpleNamespace(coef_=theta[None, :-1], intercept_=np.array([theta[-1]]))

    def pred(Zq, qz):
        s = sc.transform(np.where(np.isnan(Zq), fill, Zq)) @ theta[:-1] + theta[-1]
        return _softmax_with_none(s, _question_starts(qz))

    return (fill, sc, lr), pred


MODEL_KINDS = ("gbt", "logistic", "listwise")


def fit_any(kind, X, y, qid, weight=None):
    """`fit_model` or `fit_listwise`; the prediction takes the rows' question ids (whole questions).
    ``weight``: per row (a question's rows share one)."""
    if kind == "listwise":
        return fit_listwise(X, y, qid, weight=weight)
    model, pred = fit_model(kind, X, y, weight)
    return model, lambda Z, _qid: pred(Z)


# -- a deployment's labels as rows -------------------------------------------------------------
@dataclass
class LabelRows:
    """Candidate rows of labelled questions: X (rows, FEATURES), y, question number, and per question
    its candidate ids, the labelled entry, whether the label says it fits, and its gate group."""

    X: list = field(default_factory=list)
    y: list = field(default_factory=list)
    question: list = field(default_factory=list)
    ids: list = field(default_factory=list)
    entry: list = field(default_factory=list)
    fits: list = field(default_factory=list)
    group: list = field(default_factory=list)

    def add(self, X: np.ndarray, ids: list[str], label: Any) -> None:
        if label.fits:
            keep = np.ones(len(ids), bool)  # the entry answers it, so every other candidate does not
        else:
            keep = np.array([i == label.entry_id for i in ids], bool)  # only "not this one" is known
        if not keep.any():
            return
        n = len(self.ids)
        self.X.append(X[keep])
        self.y += [int(label.fits and i == label.entry_id) for i, k in zip(ids, keep) if k]
        self.question += [n] * int(keep.sum())
        self.ids.append(ids)
        self.entry.append(label.entry_id)
        self.fits.append(bool(label.fits))
        # the gate holds out whole entries; "no entry answers it" questions are spread by their text
        self.group.append(label.entry_id or f"none:{zlib.crc32(label.text.encode('utf-8')) % 7}")

    def arrays(self, questions: np.ndarray):
        """(X, y, question number) of the rows of these question numbers."""
        qid = np.array(self.question)
        sel = np.isin(qid, questions)
        return np.concatenate(self.X)[sel], np.array(self.y)[sel], qid[sel]


def label_rows(index: KnowledgeIndex, profiles: Profiles, labels: Iterable[Any]) -> LabelRows:
    rows = LabelRows()
    known = {e.id for e in index.entries}
    for label in labels:
        if label.entry_id is not None and label.entry_id not in known:
            continue  # the entry is gone: what the label said no longer applies
        X, ids, _ = candidate_rows(index, profiles, label.text)
        if len(ids):
            rows.add(X, ids, label)
    return rows


def held_out_groups(rows: LabelRows, share: float, seed: int) -> set[str]:
    """Whole entries (gate groups), in a random order, until `share` of the labels is held out."""
    rng = np.random.RandomState(seed)
    groups = sorted(set(rows.group))
    held: set[str] = set()
    count = {g: rows.group.count(g) for g in groups}
    for i in rng.permutation(len(groups)):
        if sum(count[g] for g in held) >= share * len(rows.group):
            break
        held.add(groups[int(i)])
    return held


# -- the regression gate -----------------------------------------------------------------------
@dataclass(frozen=True)
class Score:
    """How a verifier does on labelled questions: mean desk cost (`Utility`, lower is better) and
    selective accuracy (answered right, or an unanswerable question not answered)."""

    n: int
    cost: float
    selective_accuracy: float


def score(verifier: Verifier, rows: LabelRows, questions, utility: Utility) -> Score:
    """A verifier at its own thresholds on these labelled questions (only labels that name the answer:
    an entry, or none)."""
    ta, ts = verifier.thresholds(utility)
    qid = np.array(rows.question)
    X = np.concatenate(rows.X)
    costs, right = [], []
    for q in questions:
        if not rows.fits[q]:
            continue
        p = verifier.model.proba(X[qid == q][:, verifier._cols])
        o = np.argsort(-p, kind="stable")
        ids, gold = rows.ids[q], rows.entry[q]
        conf, s3 = float(p[o[0]]), float(min(1.0, p[o[:SUGGEST_MAX]].sum()))
        correct, offered = gold is not None and ids[o[0]] == gold, gold in [ids[j] for j in o[:SUGGEST_MAX]]
        ca, cs, cd = (float(c[0]) for c in utility.costs([correct], [offered], [gold is not None]))
        answered = conf >= ta
        costs.append(ca if answered else (cs if s3 >= ts else cd))
        right.append(correct if answered else gold is None)
    n = len(costs)
    return Score(n, float(np.mean(costs)) if n else float("nan"), float(np.mean(right)) if n else float("nan"))


@dataclass(frozen=True)
class Shipped:
    """The shipped training rows, columns in the order of the model's features."""

    X: np.ndarray
    y: np.ndarray
    question: np.ndarray
    fold: np.ndarray
    dev: np.ndarray  # rows of dev questions (the ones out-of-fold thresholds are chosen on)
    in_scope_kind: np.ndarray

    @classmethod
    def load(cls, names: tuple[str, ...], path: Path = ROWS_FILE) -> Shipped:
        d = np.load(path)
        stored = [str(f) for f in d["features"]]
        missing = [f for f in names if f not in stored]
        if missing:
            raise ValueError(f"the shipped training rows lack features the verifier uses: {missing}")
        X = d["X"][:, [stored.index(f) for f in names]].astype(np.float64)
        return cls(
            X, d["y"].astype(int), d["question"], d["fold"], d["source"] == 0, np.isin(d["kind"], IN_SCOPE_KINDS)
        )


def out_of_fold(
    kind: str, shipped: Shipped, extra_X: np.ndarray, extra_y: np.ndarray, extra_q: np.ndarray,
    weight: float = LABEL_WEIGHT,
) -> dict[str, list]:
    """Out-of-fold scores of the dev questions (each fold's model trained on the other folds plus the
    deployment's training labels): what the new model's thresholds are chosen on."""
    p = np.zeros(len(shipped.y))
    for f in np.unique(shipped.fold):
        test = shipped.fold == f
        X = np.concatenate([shipped.X[~test], extra_X])
        y = np.concatenate([shipped.y[~test], extra_y])
        q = np.concatenate([shipped.question[~test], extra_q])
        w = np.concatenate([np.ones(int((~test).sum())), np.full(len(extra_y), weight)])
        _, pred = fit_any(kind, X, y, q, w)
        sel = test & shipped.dev
        p[sel] = pred(shipped.X[sel], shipped.question[sel])
    out: dict[str, list] = {"p": [], "s3": [], "correct": [], "offered": [], "in_scope": []}
    for q in np.unique(shipped.question[shipped.dev]):
        idx = np.where(shipped.question == q)[0]
        o = np.argsort(-p[idx], kind="stable")
        y = shipped.y[idx]
        out["p"].append(round(float(p[idx][o[0]]), 5))
        out["s3"].append(round(float(min(1.0, p[idx][o[:SUGGEST_MAX]].sum())), 5))
        out["correct"].append(bool(y[o[0]]))
        out["offered"].append(bool(y[o[:SUGGEST_MAX]].any()))
        out["in_scope"].append(bool(y.any() or shipped.in_scope_kind[idx[0]]))
    return out


class NotEnoughLabels(ValueError):
    """Too few deployment labels (or too few held out) to train on and to judge by."""


@dataclass
class Learned:
    """What `learn` did: label counts, the old and the new model's scores on the held-out labels,
    whether the new model is kept, and its spec (the verifier file's entry for the profile)."""

    labels: int
    trained_on: int
    held_out: int
    old: Score
    new: Score
    kept: bool
    spec: dict


def learn(
    index: KnowledgeIndex,
    profiles: Profiles,
    labels: Iterable[Any],
    old: Verifier,
    utility: Utility,
    holdout: float = 0.3,
    seed: int = 0,
    rows_file: Path = ROWS_FILE,
    weight: float = LABEL_WEIGHT,
) -> Learned:
    """Refit `old`'s kind of model on the shipped rows plus the training share of the labels; keep it
    when its cost on the held-out labels (whole entries, never seen in training) is at most the old one's.
    `weight`: how many shipped rows one deployment label counts as."""
    rows = label_rows(index, profiles, labels)
    if len(rows.ids) < MIN_LABELS:
        raise NotEnoughLabels(f"{len(rows.ids)} usable labels; at least {MIN_LABELS} are needed")
    held = held_out_groups(rows, holdout, seed)
    test = [q for q, g in enumerate(rows.group) if g in held]
    train = [q for q, g in enumerate(rows.group) if g not in held]
    if sum(rows.fits[q] for q in test) < MIN_HELD_OUT or not train:
        raise NotEnoughLabels(
            f"{len(test)} labels held out, {len(train)} to train on: the labels name too few "
            f"entries to hold whole entries out (at least {MIN_HELD_OUT} held out are needed)"
        )
    names = old.model.features
    cols = [FEATURES.index(f) for f in names]
    kind = old.model.kind
    shipped = Shipped.load(names, rows_file)
    X_lab, y_lab, q_lab = rows.arrays(np.array(train))
    X_lab, q_lab = X_lab[:, cols], q_lab + int(shipped.question.max()) + 1  # question numbers of their own
    X = np.concatenate([shipped.X, X_lab])
    y = np.concatenate([shipped.y, y_lab])
    w = np.concatenate([np.ones(len(shipped.y)), np.full(len(y_lab), weight)])
    model, _ = fit_any(kind, X, y, np.concatenate([shipped.question, q_lab]), w)
    spec = {
        "model": export(kind, model, cols),
        "k": K,
        "oof": out_of_fold(kind, shipped, X_lab, y_lab, q_lab, weight),
        "notes": {
            "chosen": kind,
            "learned": {"shipped_rows": len(shipped.y), "labels": len(train), "label_weight": weight},
        },
    }
    new = Verifier(spec)
    s_old, s_new = score(old, rows, test, utility), score(new, rows, test, utility)
    spec["notes"]["learned"]["gate"] = {
        "held_out": len(test),
        "old_cost": round(s_old.cost, 4),
        "new_cost": round(s_new.cost, 4),
    }
    return Learned(len(rows.ids), len(train), len(test), s_old, s_new, s_new.cost <= s_old.cost + 1e-9, spec)
