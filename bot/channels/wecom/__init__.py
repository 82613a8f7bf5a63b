"""The WeCom (enterprise WeChat) channels: self-built app and customer service (微信客服, kf).

``build_wecom_channels`` makes them from the settings; both share the one callback URL.
"""
from __future__ import annotations

from bot.channels.base import Channel
from bot.channels.registry import ChannelKind
from bot.channels.wecom.api import NoServicerOnDuty, WeComApi, WeComError
from bot.channels.wecom.callback import callback_router
from bot.channels.wecom.channel import WeComAppChannel, WeComKfChannel
from bot.channels.wecom.crypto import CallbackCrypto
from bot.config import Settings, SettingsError
from handlers.services import Services

__all__ = ["KIND", "NoServicerOnDuty", "WeComAppChannel", "WeComError", "WeComKfChannel",
           "build_wecom_channels", "wecom_configured"]


def wecom_configured(settings: Settings) -> bool:
    """WeCom is on when a mode is chosen and BOT_WECOM_CORP_ID is given; the rest is then required."""
    return settings.wecom_mode != "off" and bool(settings.wecom_corp_id)


def build_wecom_channels(settings: Settings, services: Services) -> dict[str, Channel]:
    """The WeCom channels of ``BOT_WECOM_MODE``; the first one carries the shared callback router.

    The kf channel's session transfer goes into ``services.platform_transfers``, so a handoff
    moves the kf session to WeCom's queue (a job the kf channel runs, see transfer.py).
    """
    db = services.db
    missing = [name for name, value in (
        ("BOT_WECOM_TOKEN", settings.wecom_token), ("BOT_WECOM_AES_KEY", settings.wecom_aes_key)) if not value]
    app_mode, kf_mode = settings.wecom_mode in ("app", "both"), settings.wecom_mode in ("kf", "both")
    if app_mode and not settings.wecom_secret:
        missing.append("BOT_WECOM_SECRET")
    if app_mode and settings.wecom_agent_id is None:
        missing.append("BOT_WECOM_AGENT_ID")
    if kf_mode and not (settings.wecom_kf_secret or settings.wecom_secret):
        missing.append("BOT_WECOM_KF_SECRET (or BOT_WECOM_SECRET)")
    if missing:
        raise SettingsError(f"BOT_WECOM_MODE={settings.wecom_mode} also needs: " + ", ".join(missing))
    corp_id = settings.wecom_corp_id or ""
    try:
        crypto = CallbackCrypto(settings.wecom_token.get_secret_value(),  # type: ignore[union-attr]
                                settings.wecom_aes_key.get_secret_value(), corp_id)  # type: ignore[union-attr]
    except ValueError as exc:
        raise SettingsError(f"BOT_WECOM_AES_KEY: {exc}") from None
    app = kf = None
    if app_mode:
        api = WeComApi(corp_id, settings.wecom_secret.get_secret_value(), settings.wecom_base_url, db)  # type: ignore[union-attr]
        app = WeComAppChannel(settings, db, api, settings.wecom_agent_id)  # type: ignore[arg-type]
    if kf_mode:
        secret = (settings.wecom_kf_secret or settings.wecom_secret).get_secret_value()  # type: ignore[union-attr]
        kf = WeComKfChannel(settings, db, WeComApi(corp_id, secret, settings.wecom_base_url, db),
                            settings.wecom_kf_open_kfid)
        services.platform_transfers["wecom_kf"] = kf.session_transfer
    channels: dict[str, WeComAppChannel | WeComKfChannel] = {c.name: c for c in (app, kf) if c is not None}
    next(iter(channels.values())).router = callback_router(crypto, db, app, kf)
    return dict(channels)


KIND = ChannelKind("wecom", wecom_configured, build_wecom_channels)
