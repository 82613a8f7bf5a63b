"""The one way tests talk to the bot: a TestBot in the spirit of errbot's TestBot and Zulip's verify_dialog.

A ``TestBot`` wires the real runtime (engine, handlers, domain, a real database: SQLite in the
test's folder unless a URL is given) with ``StandInKnowledge`` instead of the embedding models,
so a dialog test costs milliseconds and states in its own lines which entry answers what::

    bot = TestBot(tmp_path)
    assert bot.say("营业时间是几点") == ["工作日 9:00-17:00。"]
    bot.press("handoff:request")
    bot.verify_dialog([("me", "几点开门"), ("bot", "工作日 9:00-17:00。")])

``Customer`` is one person in one chat of a runtime; ``bot.customer("alice")`` adds another to the
same bot, and ``Customer(runtime, ...)`` talks to a runtime a test built itself (real knowledge
included). Nothing here imports faiss or an embedding model.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from bot.app import Runtime
from bot.config import Settings, load_settings
from bot.engine import HandleResult
from handlers.messages import Button, Incoming, IncomingFile, Reply
from knowledge import Answer, Entry, Hit, answer_text, text_has_question
from knowledge.grouping import group_similar
from knowledge.loader import load
from knowledge.normalize import normalize
from speech import Recognizer
from storage.models import OutboxItem

_NOT_CONTENT = re.compile(r"[^0-9a-z\u3400-\u9fff]+")


def _key(text: str) -> str:
    """What two phrasings must share to match: normalized text without spaces and punctuation."""
    return _NOT_CONTENT.sub("", normalize(text or "").casefold())


def entry(entry_id: str, question: str, answer: str | dict[str, str], *alternates: str, lang: str = "zh",
          tags: Sequence[str] = ()) -> Entry:
    """A knowledge entry written inline in a test (one answer text, or one per language)."""
    answers = answer if isinstance(answer, dict) else {lang: answer}
    return Entry(id=entry_id, question=question, answer=answers, lang=lang, alternates=tuple(alternates),
                 tags=tuple(tags))


#: What a TestBot knows unless a test gives its own entries.
SAMPLE_ENTRIES = (
    entry("opening-hours", "营业时间是几点", "工作日 9:00-17:00。", "几点开门", tags=["通用"]),
    entry("social-card-replace", "社保卡丢了怎么补办", "携带身份证到服务大厅办理。", "补办社保卡", tags=["社保"]),
    entry("fees", "办理业务收费吗", {"zh": "大部分业务免费。", "en": "Most services are free."}, "要交多少钱",
          tags=["通用"]),
)


class StandInKnowledge:
    """Stands in for ``knowledge.KnowledgeRuntime`` (what the FAQ handler and the console call) over
    a few given entries, deterministically:

    - the text equals a phrasing (question or alternate, ignoring case, spaces and punctuation):
      ``answer`` with that entry, confidence 1.0;
    - the text and some phrasings contain one another: ``suggest`` those entries, confidence 0.5;
    - nothing: ``decline``, confidence 0.0, no hits.
    """

    def __init__(self, entries: Iterable[Entry] = SAMPLE_ENTRIES) -> None:
        self._entries = tuple(entries)
        self._by_id = {e.id: e for e in self._entries}
        self.asked: list[str] = []

    @classmethod
    def from_folder(cls, knowledge_dir: Path) -> StandInKnowledge:
        """The entries of a knowledge folder (the shipped sample, say), matched as above."""
        entries, _problems = load(knowledge_dir)
        return cls(entries)

    @property
    def entries(self) -> tuple[Entry, ...]:
        return self._entries

    def entry(self, entry_id: str) -> Entry | None:
        return self._by_id.get(entry_id)

    def answer_text(self, entry: Entry, lang: str | None) -> str:
        return answer_text(entry, lang)

    def files(self) -> list[Path]:
        return []

    def ask(self, text: str, lang: str | None = None, k: int = 5) -> Answer:
        self.asked.append(text)
        if not text_has_question(text):  # as the real runtime: content-free text is not asked
            return Answer("decline", 0.0, reason="no_question")
        asked = _key(text)
        if not asked:
            return Answer("decline", 0.0)
        exact = [e for e in self._entries if any(_key(p) == asked for p in e.phrasings)]
        if exact:
            return Answer("answer", 1.0, [Hit(e.id, 1.0, e.question) for e in exact][:k])
        near = [Hit(e.id, 0.5, e.question) for e in self._entries
                if any(_key(p) and (asked in _key(p) or _key(p) in asked) for p in e.phrasings)][:k]
        if not near:
            return Answer("decline", 0.0)
        return Answer("suggest", 0.5, near, near[:3])

    def group_questions(self, texts: list[str]) -> list[list[int]]:
        """As the real runtime, with character-bigram counts in place of the encoder's vectors."""
        grams = [Counter(k[i:i + 2] for i in range(max(1, len(k) - 1))) for k in map(_key, texts)]
        vocab = sorted(set().union(*grams)) if grams else []
        vectors = np.array([[g[w] for w in vocab] for g in grams], np.float64).reshape(len(texts), len(vocab))
        return group_similar(vectors, threshold=0.5)

    def start_watching(self) -> None:
        """Nothing to watch: the entries are the test's own."""

    def stop(self) -> None:
        """Nothing runs in the background."""


@dataclass
class Customer:
    """One customer in one chat, talking to a runtime's engine the way a channel does."""

    runtime: Runtime
    chat_id: str = "chat-1"
    user_id: str | None = None
    channel: str = "web"

    def __post_init__(self) -> None:
        self.user_id = self.user_id or self.chat_id
        self.replies: list[Reply] = []

    def handle(self, text: str = "", button: str | None = None, files: Sequence[IncomingFile] = (),
               **fields: Any) -> HandleResult:
        """One message (text, a pressed button, files) handled by the engine, as a channel hands it over."""
        incoming = Incoming(channel=self.channel, chat_id=self.chat_id, user_id=self.user_id, text=text,
                            button=button, files=list(files), **fields)
        result = self.runtime.engine.handle(incoming)
        self.replies = result.replies
        return result

    def send(self, text: str = "", button: str | None = None, files: Sequence[IncomingFile] = (),
             **fields: Any) -> list[Reply]:
        """One message handled by the engine; its replies."""
        return self.handle(text, button, files, **fields).replies

    def say(self, text: str, **fields: Any) -> list[str]:
        """Send a text; the texts of the replies."""
        return [r.text for r in self.send(text, **fields)]

    def press(self, payload: str) -> list[str]:
        """Press a button (by its payload); the texts of the replies."""
        return [r.text for r in self.send(button=payload)]

    def last_buttons(self) -> list[Button]:
        """The buttons under the last message's replies."""
        return [b for r in self.replies for b in r.buttons]

    def last_payloads(self) -> list[str]:
        return [b.payload for b in self.last_buttons()]

    def verify_dialog(self, script: Sequence[tuple[str, str]]) -> None:
        """Play a dialog: ("me", text) is sent, ("press", payload) pressed, and each ("bot", text)
        must be the next reply of the last message, in order and in full."""
        pending: list[str] = []
        for turn, (who, line) in enumerate(script):
            if who in ("me", "press"):
                assert not pending, f"turn {turn}: the bot also said {pending!r} before {who} {line!r}"
                pending = self.say(line) if who == "me" else self.press(line)
            elif who == "bot":
                assert pending, f"turn {turn}: expected the bot to say {line!r}, it said nothing more"
                said = pending.pop(0)
                assert said == line, f"turn {turn}: expected the bot to say {line!r}, it said {said!r}"
            else:
                raise ValueError(f"turn {turn}: who is 'me', 'press' or 'bot', not {who!r}")
        assert not pending, f"the bot also said {pending!r}"

    def outbox_texts(self, after: int = 0) -> list[str]:
        """Every message queued for this chat (replies and notifications), in order."""
        with self.runtime.services.db.session() as s:
            return [i.payload["text"] for i in s.scalars(
                select(OutboxItem).where(OutboxItem.channel == self.channel, OutboxItem.chat_id == self.chat_id,
                                         OutboxItem.id > after).order_by(OutboxItem.id))]

    def last_outbox_id(self) -> int:
        return last_outbox_id(self.runtime)


def last_outbox_id(runtime: Runtime) -> int:
    """The newest queued message of any chat (0 when none): a mark for ``outbox_texts(after=...)``."""
    with runtime.services.db.session() as s:
        return s.scalar(select(OutboxItem.id).order_by(OutboxItem.id.desc()).limit(1)) or 0


class TestBot(Customer):
    """A bot of its own for one test: real engine, handlers and database, stand-in knowledge."""

    __test__ = False  # a helper, not a test class

    def __init__(self, tmp_path: Path, entries: Iterable[Entry] = SAMPLE_ENTRIES, *,
                 database_url: str | None = None, chat_id: str = "chat-1", speech: Recognizer | None = None,
                 **settings: Any) -> None:
        url = database_url or f"sqlite:///{tmp_path / 'testbot.sqlite3'}"
        config = load_settings(data_dir=tmp_path / "data", database_url=url, _env_file=None, **settings)
        self.knowledge = StandInKnowledge(entries)
        super().__init__(build_runtime(config, self.knowledge, speech), chat_id)

    def customer(self, chat_id: str, user_id: str | None = None, channel: str = "web") -> Customer:
        """Another customer of this bot."""
        return Customer(self.runtime, chat_id, user_id, channel)

    def close(self) -> None:
        self.runtime.services.db.dispose()


def build_runtime(settings: Settings, knowledge: StandInKnowledge | None = None,
                  speech: Recognizer | None = None) -> Runtime:
    """The real wiring and no platform channel, with stand-in knowledge: the given one, or the
    settings' knowledge folder (the shipped sample unless they say otherwise) matched as above;
    ``speech`` a recognizer in place of the settings' (whose model loads on the first voice message)."""
    if knowledge is None:
        knowledge = StandInKnowledge.from_folder(settings.knowledge_dir)
    return Runtime.build(settings, channels={}, knowledge=knowledge, speech=speech)
