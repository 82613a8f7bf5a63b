"""The production construction over real HTTP: PTB's own HTTPX transport against the fake Bot API
served by uvicorn on 127.0.0.1, settings taken as an operator would give them; the CLI's
``telegram set-webhook``; the wiring in ``build_channels`` and the settings' checks."""
from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from fake_bot_api import SECRET, TOKEN, FakeBotApi, asgi_app
from pydantic import SecretStr

from bot.app import Runtime, build_channels, build_services
from bot.channels.telegram import ALLOWED_UPDATES, TelegramChannel
from bot.cli import build_parser
from bot.config import Settings, SettingsError, load_settings
from handlers.messages import Button, FileRef, Reply


@pytest.fixture
def served() -> Iterator[tuple[FakeBotApi, str]]:
    """The fake Bot API on a free local port; yields it and its base URL (ending in /bot)."""
    api = FakeBotApi()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(asgi_app(api), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    yield api, f"http://127.0.0.1:{sock.getsockname()[1]}/bot"
    server.should_exit = True
    thread.join(5)


def operator_settings(sqlite_settings: Settings, base_url: str, **extra: object) -> Settings:
    return load_settings(
        _env_file=None, data_dir=sqlite_settings.data_dir, database_url=sqlite_settings.database_url,
        telegram_token=TOKEN, telegram_webhook_secret=SECRET, telegram_base_url=base_url, **extra,
    )


def test_set_webhook_command_registers_url_secret_and_commands(served, sqlite_settings, capsys):
    api, base_url = served
    settings = operator_settings(sqlite_settings, base_url)
    args = build_parser().parse_args(["telegram", "set-webhook", "https://desk.example.org/telegram/webhook"])
    assert args.func(settings, args) == 0
    assert api.webhook == {"url": "https://desk.example.org/telegram/webhook", "secret_token": SECRET,
                           "allowed_updates": ALLOWED_UPDATES}
    assert set(api.commands) == {"", "zh", "en"}
    assert "desk.example.org" in capsys.readouterr().out


def test_set_webhook_command_explains_failures(served, sqlite_settings, capsys):
    api, base_url = served
    no_secret = operator_settings(sqlite_settings, base_url).model_copy(update={"telegram_webhook_secret": None})
    args = build_parser().parse_args(["telegram", "set-webhook", "https://desk.example.org/telegram/webhook"])
    assert args.func(no_secret, args) == 2
    assert "BOT_TELEGRAM_WEBHOOK_SECRET" in capsys.readouterr().err
    api.fail("setWebhook", 400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
    assert args.func(operator_settings(sqlite_settings, base_url), args) == 2
    err = capsys.readouterr().err
    assert "https url must be provided" in err.lower() and TOKEN not in err
    assert api.webhook == {}


@pytest.mark.slow  # builds the full runtime: the real embedding models
async def test_default_transport_sends_downloads_and_maps_errors(served, sqlite_settings):
    api, base_url = served
    settings = operator_settings(sqlite_settings, base_url, telegram_mode="webhook")
    services = build_services(settings)
    channel = build_channels(settings, services)["telegram"]
    assert isinstance(channel, TelegramChannel)
    try:
        with services.db.session() as s:
            receipt = services.attachments.save(s, b"%PDF-1.4\n% receipt\n", "receipt.pdf").id
        message_id = await channel.send("42", Reply("a < b & c", [Button("Menu", "menu:main")],
                                                    [FileRef("回执.pdf", attachment_id=receipt)]))
        assert [m.get("text") for m in api.sent] == ["a < b & c", None]
        assert api.sent[1]["document"] == ("回执.pdf", b"%PDF-1.4\n% receipt\n")  # multipart over HTTP
        assert message_id == str(api.sent[1]["message_id"])

        jpeg = b"\xff\xd8\xff\xe0" + b"\x01" * 500
        [incoming] = await channel.parse(api.photo_update(jpeg))
        assert incoming.files[0].data == jpeg  # fetched from the file URL derived from the base URL

        from bot.channels.base import PermanentSendError, TemporarySendError

        api.fail("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
        with pytest.raises(TemporarySendError) as limited:
            await channel.send("42", Reply("again"))
        assert limited.value.retry_after == 3
        api.fail("sendMessage", 500)
        with pytest.raises(TemporarySendError):
            await channel.send("42", Reply("again"))
        api.fail("sendMessage", 400, "Bad Request: chat not found")
        with pytest.raises(PermanentSendError):
            await channel.send("42", Reply("again"))
    finally:
        await channel.stop()
        services.db.dispose()


@pytest.mark.slow  # builds the full runtime: the real embedding models
async def test_unreachable_api_is_a_temporary_failure(sqlite_settings):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    settings = operator_settings(sqlite_settings, f"http://127.0.0.1:{port}/bot", telegram_mode="polling")
    services = build_services(settings)
    channel = TelegramChannel(settings, services)
    from bot.channels.base import TemporarySendError

    try:
        with pytest.raises(TemporarySendError):
            await channel.send("42", Reply("hello"))
    finally:
        await channel.stop()
        services.db.dispose()


@pytest.mark.slow  # builds the full runtime: the real embedding models
def test_channels_follow_the_mode(sqlite_settings):
    services = build_services(sqlite_settings)
    base = {"telegram_token": SecretStr(TOKEN), "telegram_webhook_secret": SecretStr(SECRET)}
    off = sqlite_settings.model_copy(update={**base, "telegram_mode": "off"})
    assert build_channels(off, services) == {}
    polling = build_channels(sqlite_settings.model_copy(update={**base, "telegram_mode": "polling"}), services)
    assert polling["telegram"].router is None
    webhook = build_channels(sqlite_settings.model_copy(update={**base, "telegram_mode": "webhook"}), services)
    assert [r.path for r in webhook["telegram"].router.routes] == ["/telegram/webhook"]
    runtime = Runtime.build(sqlite_settings.model_copy(update={**base, "telegram_mode": "polling"}))
    assert runtime.services.wake_inbox == runtime.inbox.wake
    asyncio.run(runtime.channels["telegram"].stop())
    runtime.services.db.dispose()
    services.db.dispose()


@pytest.mark.parametrize("env, problem", [
    ({"telegram_mode": "polling"}, "BOT_TELEGRAM_MODE: Value error, needs BOT_TELEGRAM_TOKEN"),
    ({"telegram_mode": "webhook", "telegram_token": TOKEN}, "BOT_TELEGRAM_WEBHOOK_SECRET: Value error, required"),
    ({"telegram_webhook_secret": "has spaces in it"}, "BOT_TELEGRAM_WEBHOOK_SECRET: Value error, must be"),
    ({"telegram_base_url": "https://api.telegram.org/"}, "BOT_TELEGRAM_BASE_URL: Value error, must end with /bot"),
])
def test_settings_name_the_wrong_variable(env, problem):
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, **env)
    assert problem in str(raised.value)
    assert "has spaces" not in str(raised.value)  # secrets are never echoed


def test_file_url_is_derived_from_the_base_url():
    assert load_settings(_env_file=None).effective_telegram_base_file_url == "https://api.telegram.org/file/bot"
    local = load_settings(_env_file=None, telegram_base_url="http://127.0.0.1:8081/bot")
    assert local.effective_telegram_base_file_url == "http://127.0.0.1:8081/file/bot"
    own = load_settings(_env_file=None, telegram_base_file_url="https://files.example/file/bot")
    assert own.effective_telegram_base_file_url == "https://files.example/file/bot"


@pytest.mark.slow  # builds the full runtime: the real embedding models
async def test_running_server_answers_in_polling_mode(served, sqlite_settings):
    """Everything started as ``serve`` starts it: polling loop, inbox worker, outbox sender."""
    api, base_url = served
    runtime = Runtime.build(operator_settings(sqlite_settings, base_url, telegram_mode="polling"))
    await runtime.start()
    try:
        api.queue(api.text_update("/start"), api.callback_update("menu:ask"))
        for _ in range(1000):
            if len(api.sent) >= 2:
                break
            await asyncio.sleep(0.01)
    finally:
        await runtime.stop()
    from handlers.i18n import t

    assert api.texts() == [t("menu.welcome", "zh"), t("menu.ask_prompt", "zh")]
    assert len(api.answered_queries) == 1
