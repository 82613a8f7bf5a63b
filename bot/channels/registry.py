"""Every channel by name: a module or package under bot/channels/ that defines ``KIND``.

Adding a channel (LINE, Slack) is a folder here with its ``KIND``, its settings and its docs;
nothing else changes. ``bot.app`` builds the channels the settings switch on.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

import bot.channels
from bot.channels.base import Channel
from bot.config import Settings
from handlers.services import Services

#: Builds a channel kind's channels (WeCom gives two, app and kf) from the settings.
ChannelFactory = Callable[[Settings, Services], dict[str, Channel]]


@dataclass(frozen=True)
class ChannelKind:
    name: str
    #: Whether the settings switch this kind on.
    configured: Callable[[Settings], bool]
    build: ChannelFactory
    #: Built only when asked for by name (the terminal, by ``python -m bot chat``), never from
    #: the settings alone.
    on_demand: bool = False


def kinds() -> dict[str, ChannelKind]:
    """Every channel kind under bot/channels/, by name, in the order of their module names."""
    found: dict[str, ChannelKind] = {}
    for info in sorted(pkgutil.iter_modules(bot.channels.__path__), key=lambda i: i.name):
        kind = getattr(importlib.import_module(f"bot.channels.{info.name}"), "KIND", None)
        if isinstance(kind, ChannelKind):
            found[kind.name] = kind
    return found


def build_channels(settings: Settings, services: Services, names: list[str] | None = None) -> dict[str, Channel]:
    """The channels the settings switch on, or exactly the kinds ``names`` asks for."""
    channels: dict[str, Channel] = {}
    for name, kind in kinds().items():
        wanted = name in names if names is not None else (not kind.on_demand and kind.configured(settings))
        if wanted:
            channels.update(kind.build(settings, services))
    return channels
