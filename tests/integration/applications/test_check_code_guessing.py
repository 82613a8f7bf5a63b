"""A 6-digit check code cannot be guessed across sessions, addresses or workers: wrong codes are
counted in the database per reference, per person and per address, and a spent limit locks."""

from __future__ import annotations

import secrets
import threading
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from bot.web.app import create_app
from storage.models import Customer, LimitCounter, utcnow
from tests.integration.applications.helpers import Chat
from tests.integration.applications.test_chat_flow import submit_account_opening
from tests.testbot import build_runtime


def _wrong(code: str, n: int = 1) -> str:
    return f"{(int(code) + n) % 1_000_000:06d}"


def _guesser(runtime, name: str) -> Chat:
    """A new web chat session (a Chinese speaker)."""
    chat = Chat(runtime, chat_id=name, user_id=name)
    chat.send("你好")
    return chat


def _guess(chat: Chat, reference: str, code: str) -> str:
    chat.send(reference)
    return chat.send(code)[0].text


def test_three_fresh_sessions_of_five_wrong_codes_then_the_right_one_is_refused(runtime):
    owner = Chat(runtime, channel="telegram", chat_id="tg-owner", user_id="tg-owner")
    reference, code = submit_account_opening(owner)
    answers = []
    for session in range(3):
        guesser = _guesser(runtime, f"web-{session}")
        answers.append([_guess(guesser, reference, _wrong(code, n)) for n in range(1, 6)])
    assert "还可尝试 4 次" in answers[0][0] and "还可尝试 1 次" in answers[0][3]
    assert all("次数过多" in answer for answer in answers[0][4:] + answers[1] + answers[2])
    fourth = _guesser(runtime, "web-4")
    refused = _guess(fourth, reference, code)
    assert "次数过多" in refused and "60 分钟" in refused and "转人工" in refused
    with runtime.services.db.session() as s:
        people = {c.external_id: c.person for c in s.scalars(select(Customer))}
    assert people["web-4"] != people["tg-owner"]  # not linked, the case not shown
    assert "已受理" not in refused


def test_the_lock_ends_after_its_time_and_a_right_code_then_links(runtime):
    owner = Chat(runtime, channel="telegram", chat_id="tg-o", user_id="tg-o")
    reference, code = submit_account_opening(owner)
    for n in range(1, 6):
        _guess(_guesser(runtime, f"w{n}"), reference, _wrong(code, n))
    late = _guesser(runtime, "late")
    assert "次数过多" in _guess(late, reference, code)
    with runtime.services.db.session() as s:
        s.execute(
            update(LimitCounter).values(
                locked_until=utcnow() - timedelta(seconds=1), window_start=utcnow() - timedelta(hours=2)
            )
        )
    assert "身份验证成功" in _guess(late, reference, code)


def test_one_person_cannot_try_many_references(runtime):
    owner = Chat(runtime, channel="telegram", chat_id="tg-p", user_id="tg-p")
    first, code = submit_account_opening(owner)
    guesser = _guesser(runtime, "g")
    made_up = [first[:-4] + suffix for suffix in ("AAAA", "BBBB", "CCCC", "DDDD", "EEEE")]
    answers = [_guess(guesser, reference, _wrong(code)) for reference in made_up]
    assert "次数过多" in answers[-1]
    assert "次数过多" in _guess(guesser, first, code)  # the person is locked, whatever the number


def test_one_address_is_limited_across_sessions_and_references(sqlite_settings):
    settings = sqlite_settings.model_copy(update={"check_code_address_max_failures": 7})
    runtime = build_runtime(settings)
    with TestClient(create_app(runtime, start_workers=False)) as client:
        answers = []
        for n in range(8):  # a new session and a new (made-up) number each time, one address
            session_id = secrets.token_hex(16)
            client.post("/api/chat?lang=zh", json={"session_id": session_id, "text": f"SVC-20260101-AB{n + 2}C"})
            reply = client.post("/api/chat?lang=zh", json={"session_id": session_id, "text": "123456"}).json()
            answers.append(reply["replies"][0]["text"])
    runtime.services.db.dispose()
    assert "还可尝试" in answers[0] and "次数过多" in answers[6] and "次数过多" in answers[7]


def test_simultaneous_guesses_on_two_workers_compare_no_more_than_the_limit(settings):
    workers = [build_runtime(settings), build_runtime(settings)]
    owner = Chat(workers[0], channel="telegram", chat_id="tg-race", user_id="tg-race")
    reference, code = submit_account_opening(owner)
    chats = [_guesser(workers[i % 2], f"race-{i}") for i in range(20)]
    for chat in chats:
        chat.send(reference)
    barrier, answers = threading.Barrier(len(chats)), []

    def guess(chat: Chat, n: int) -> None:
        barrier.wait()
        answers.append(chat.send(_wrong(code, n + 1))[0].text)

    threads = [threading.Thread(target=guess, args=(chat, n)) for n, chat in enumerate(chats)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker.services.db.dispose()
    assert sum("还可尝试" in answer for answer in answers) == 4
    assert sum("次数过多" in answer for answer in answers) == 16
