"""Out of hours, the handoff says the working hours compactly, one range per run of days."""
from __future__ import annotations

from tests.testbot import TestBot


def test_off_hours_message_lists_the_hours_compactly(tmp_path, monkeypatch):
    bot = TestBot(tmp_path, handoff_hours="mon-fri 09:00-17:00; sat 09:00-12:00")
    hours = bot.runtime.services.settings.working_hours
    monkeypatch.setattr(type(hours), "is_open", lambda self, now=None: False)
    bot.say("你好")
    said = "\n".join(bot.press("handoff:request"))
    assert "周一至周五 09:00-17:00；周六 09:00-12:00" in said
    assert "周二" not in said
