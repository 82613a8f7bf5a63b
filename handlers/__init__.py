"""Conversation capabilities, one module each; ``all_handlers`` is what the engine routes to."""
from __future__ import annotations

from handlers.base import Context, Handler


def all_handlers() -> list[Handler]:
    """Every installed handler. A feature adds its handler here."""
    from handlers.application import ApplicationHandler
    from handlers.complaint import ComplaintHandler
    from handlers.faq import FaqHandler
    from handlers.feedback import FeedbackHandler
    from handlers.handoff import HandoffHandler
    from handlers.language import LanguageHandler
    from handlers.menu import EmptyMessageHandler, MenuHandler
    from handlers.privacy import PrivacyHandler
    from handlers.progress import ProgressHandler

    return [MenuHandler(), LanguageHandler(), EmptyMessageHandler(), ComplaintHandler(), FeedbackHandler(),
            ProgressHandler(), ApplicationHandler(), HandoffHandler(), PrivacyHandler(), FaqHandler()]


__all__ = ["Context", "Handler", "all_handlers"]
