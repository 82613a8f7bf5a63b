"""Lexical signal: BM25 over jieba words plus character bigrams.

Words catch product names and numbers; bigrams survive jieba's mistakes on
typos and colloquial text. Texts arrive already normalised.
"""
from __future__ import annotations

import logging
import math
import re
from collections import Counter, defaultdict
from functools import lru_cache

import jieba
import numpy as np

jieba.setLogLevel(logging.WARNING)

_CJK = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[a-z0-9]+(?:[.'-][a-z0-9]+)*")
_STOP = frozenset("的 了 吗 呢 吧 啊 呀 么 嘛 哦 是 我 你 们 在 有 和 与 要 会 能 可以 怎么 什么 如何 请问 一下 the a an to of is are do does i you my your can how what for in on it".split())


@lru_cache(maxsize=200_000)
def tokens(text: str) -> tuple[str, ...]:
    """Words (jieba for Chinese, plain for Latin) and Chinese character bigrams (memoised for reloads)."""
    out = []
    for w in jieba.lcut(text):
        w = w.strip()
        if w and w not in _STOP and (_CJK.fullmatch(w) or _WORD.fullmatch(w)):
            out.append(w)
    for run in _CJK.findall(text):
        out += ["#" + run[i:i + 2] for i in range(len(run) - 1)]
    return tuple(out)


class BM25:
    """Inverted-index BM25; `scores` returns one score per document."""

    def __init__(self, docs: list[tuple[str, ...]], k1: float = 1.2, b: float = 0.75):
        self.n = len(docs)
        lengths = np.array([len(d) for d in docs], dtype=np.float32)
        avg = float(lengths.mean()) if self.n else 1.0
        df = Counter(t for d in docs for t in set(d))
        self.idf = {t: math.log(1 + (self.n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, d in enumerate(docs):
            norm = k1 * (1 - b + b * lengths[i] / max(avg, 1e-6))
            for t, tf in Counter(d).items():
                postings[t].append((i, self.idf[t] * tf * (k1 + 1) / (tf + norm)))
        self.postings = {t: (np.array([i for i, _ in p], dtype=np.int32), np.array([w for _, w in p], dtype=np.float32))
                         for t, p in postings.items()}

    def scores(self, query: tuple[str, ...]) -> np.ndarray:
        out = np.zeros(self.n, dtype=np.float32)
        for t in set(query):
            p = self.postings.get(t)
            if p is not None:
                out[p[0]] += p[1]
        return out

    def self_score(self, query: tuple[str, ...]) -> float:
        """The score the query would give a document identical to itself; scales scores to ~[0, 1]."""
        return float(sum(self.idf.get(t, 0.0) for t in set(query))) or 1.0
