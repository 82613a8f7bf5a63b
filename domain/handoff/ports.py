"""What the handoff rules are handed: the desk's services, and the platforms' own session state.

``PlatformTransfer`` is the port a channel plugs into when its platform keeps a session state
of its own (WeCom kf: ``kf/service_state/trans``). The wiring puts one per channel name in
``Services.platform_transfers``; the handoff calls it whenever a handoff's status or agent
changes: queued or requeued (``handoff.status == "waiting"``), taken or transferred
("active", ``handoff.agent_id``), ended ("closed": back to the bot).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from sqlalchemy.orm import Session

from domain.settings import DeskServices
from storage.models import Conversation, HandoffSession


class PlatformTransfer(Protocol):
    def __call__(self, session: Session, conversation: Conversation, handoff: HandoffSession) -> None:
        """Keep the platform's session in step with ``handoff`` (in the caller's transaction)."""


class HandoffServices(DeskServices, Protocol):
    """The dependencies of a handoff rule (the desk's, and the platforms' transfers);
    ``handlers.services.Services`` satisfies it."""

    @property
    def platform_transfers(self) -> Mapping[str, PlatformTransfer]: ...
