"""The FAQ asks the knowledge before the turn's transaction: on SQLite no other chat's turn waits
for the model behind the write lock. What was asked outside is used only for the very text and
language the turn ends up answering; anything else is asked again inside."""
from __future__ import annotations

import sqlite3

from sqlalchemy import select

from storage.models import Conversation
from tests.testbot import SAMPLE_ENTRIES, StandInKnowledge, TestBot


class WatchingKnowledge(StandInKnowledge):
    """Notes, at each question, whether another connection could take SQLite's write lock then,
    and runs ``during_ask`` (once) as the knowledge is asked."""

    def __init__(self, path):
        super().__init__(SAMPLE_ENTRIES)
        self.path, self.lock_free, self.during_ask = path, [], None

    def ask(self, text, lang=None, k=5):
        other = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            self.lock_free.append(True)
        except sqlite3.OperationalError:  # "database is locked": asked inside a writing turn
            self.lock_free.append(False)
        finally:
            other.close()
        if self.during_ask is not None:
            self.during_ask, run = None, self.during_ask
            run()
        return super().ask(text, lang, k)


def watched_bot(tmp_path):
    bot = TestBot(tmp_path)
    watch = WatchingKnowledge(tmp_path / "testbot.sqlite3")
    bot.runtime.services.knowledge = watch
    return bot, watch


def test_a_question_is_asked_once_and_outside_the_write_lock(tmp_path):
    bot, watch = watched_bot(tmp_path)
    assert bot.say("营业时间是几点")[0] == "工作日 9:00-17:00。"
    bot.say("几点开门")
    assert watch.asked == ["营业时间是几点", "几点开门"] and watch.lock_free == [True, True]


def test_a_language_changed_meanwhile_is_asked_again_inside(tmp_path):
    bot, watch = watched_bot(tmp_path)
    bot.say("你好")

    def switch_to_english():  # another turn of this chat commits while the question is asked
        with bot.runtime.services.db.session() as s:
            s.scalars(select(Conversation)).one().language = "en"

    watch.during_ask = switch_to_english
    bot.say("ok")  # a word too short to tell its language: asked in the chat's
    assert watch.lock_free[-2:] == [True, False]  # prepared for zh, answered for en, inside
    with bot.runtime.services.db.session() as s:
        assert s.scalars(select(Conversation)).one().language == "en"


def test_text_inside_a_flow_is_not_asked_ahead(tmp_path):
    bot, watch = watched_bot(tmp_path)
    bot.press("complaint:start")
    asked = len(watch.asked)
    bot.say("营业时间是几点")  # the complaint's text, not a question
    assert len(watch.asked) == asked
