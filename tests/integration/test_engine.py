"""The engine end to end over real storage, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from handlers.base import Context, Handler
from handlers.messages import Incoming, Reply
from storage.models import Conversation, Customer, Message, OutboxItem


def incoming(text: str = "", **kw) -> Incoming:
    kw.setdefault("chat_id", "c1")
    kw.setdefault("user_id", "u1")
    return Incoming(channel="web", text=text, **kw)


def test_start_answers_menu_and_records_both_directions(runtime):
    result = runtime.engine.handle(incoming("/start"))
    assert len(result.replies) == 1
    assert [b.payload for b in result.replies[0].buttons][:2] == ["menu:ask", "application:start"]
    with runtime.services.db.session() as s:
        directions = [m.direction for m in s.scalars(select(Message).order_by(Message.id))]
        assert directions == ["in", "out"]
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == 1
        assert s.scalar(select(func.count()).select_from(Customer)) == 1


def test_duplicate_delivery_is_processed_once(runtime):
    first = runtime.engine.handle(incoming("hello", delivery_key="m-1"))
    second = runtime.engine.handle(incoming("hello", delivery_key="m-1"))
    assert not first.duplicate and second.duplicate and second.replies == []
    with runtime.services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 1


def test_language_detected_then_switched(runtime):
    runtime.engine.handle(incoming("hello there"))
    with runtime.services.db.session() as s:
        assert s.scalars(select(Conversation)).one().language == "en"
    reply = runtime.engine.handle(incoming("中文")).replies[0]
    assert reply.text == "已切换为中文。"


def test_unbuilt_feature_says_so_honestly(runtime):
    reply = runtime.engine.handle(incoming(button="nosuchfeature:start")).replies[0]
    assert "按钮已失效" in reply.text


class Exploding(Handler):
    name = "boom"
    priority = 50

    def on_intent(self, ctx: Context):
        if ctx.text == "explode":
            ctx.set_state("boom:half-done")
            raise RuntimeError("handler bug")
        return None


def test_failing_handler_leaves_conversation_usable(runtime, caplog):
    runtime.engine.handlers.insert(1, Exploding())
    reply = runtime.engine.handle(incoming("explode")).replies[0]
    assert "went wrong" in reply.text
    assert any("handler failed" in r.message and "conversation=" in r.message for r in caplog.records)
    with runtime.services.db.session() as s:
        conversation = s.scalars(select(Conversation)).one()
        assert conversation.state is None  # the half-done state change was rolled back
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 1
    assert runtime.engine.handle(incoming("/menu")).replies[0].buttons


def test_bad_input_never_raises(runtime):
    for text in ["", "   \n\t ", "x" * 10_000, "😀\u200b\u200d👍", "\x00\x01\x02\ufffd\x7f", "\u202e\u2066abc"]:
        result = runtime.engine.handle(incoming(text))
        assert result.replies and all(isinstance(r, Reply) and r.text for r in result.replies)
    long = runtime.engine.handle(incoming("问" * 10_000, chat_id="c2", user_id="u2")).replies
    assert "只读取了前" in long[0].text


@pytest.mark.slow  # builds the full runtime: the real embedding models
def test_state_survives_a_restart(settings):
    from bot.app import Runtime

    class Flow(Handler):
        name = "flow"
        priority = 10

        def on_intent(self, ctx):
            if ctx.text == "begin":
                ctx.set_state("flow:step2", {"n": 1})
                return [Reply("step 1")]
            return None

        def on_state(self, ctx):
            return [Reply(f"step 2 with {ctx.state_data['n']}")]

    first = Runtime.build(settings, channels={})
    first.engine.handlers.insert(0, Flow())
    first.engine.by_name["flow"] = first.engine.handlers[0]
    assert first.engine.handle(incoming("begin")).replies[0].text == "step 1"
    first.services.db.dispose()

    second = Runtime.build(settings, channels={})
    second.engine.handlers.insert(0, Flow())
    second.engine.by_name["flow"] = second.engine.handlers[0]
    assert second.engine.handle(incoming("anything")).replies[0].text == "step 2 with 1"
    second.services.db.dispose()


def test_deep_link_payload_is_routed_as_text(runtime):
    class Echo(Handler):
        name = "echo"
        priority = 40

        def on_intent(self, ctx):
            return [Reply("got " + ctx.text)] if ctx.text.startswith("SD") else None

    runtime.engine.handlers.append(Echo())
    runtime.engine.handlers.sort(key=lambda h: h.priority)
    assert runtime.engine.handle(incoming("/start SD20261126001")).replies[0].text == "got SD20261126001"
    assert runtime.engine.handle(incoming("/start")).replies[0].buttons
