"""Conversation capabilities, one module each; ``all_handlers`` is what the engine routes to."""
from __future__ import annotations

from handlers.base import Context, Handler


def all_handlers() -> list[Handler]:
    """Every installed handler. A feature adds its handler here."""
    from handlers.complaint import ComplaintHandler
    from handlers.faq import FaqHandler
    from handlers.feedback import FeedbackHandler
    from handlers.language import LanguageHandler
    from handlers.menu import EmptyMessageHandler, MenuHandler

    return [MenuHandler(), LanguageHandler(), EmptyMessageHandler(), ComplaintHandler(), FeedbackHandler(), FaqHandler()]


__all__ = ["Context", "Handler", "all_handlers"]
