"""Fixtures: a fake WeCom API per test, and the real app wired by ``build_channels`` against it."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import Runtime
from bot.config import Settings, load_settings
from bot.web.app import create_app
from tests.integration.wecom.wecom_sim import AES_KEY, AGENT_ID, CORP_ID, KF_SECRET, SECRET, TOKEN, FakeWeCom


@pytest.fixture
def fake() -> Iterator[FakeWeCom]:
    server = FakeWeCom().start()
    yield server
    server.stop()


def wecom_settings(tmp_path: Path, database_url: str, fake: FakeWeCom, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        data_dir=tmp_path / "data", database_url=database_url, _env_file=None,
        wecom_mode="both", wecom_corp_id=CORP_ID, wecom_agent_id=AGENT_ID, wecom_secret=SECRET,
        wecom_kf_secret=KF_SECRET, wecom_token=TOKEN, wecom_aes_key=AES_KEY, wecom_base_url=fake.base_url,
    )
    values.update(overrides)
    return load_settings(**values)


class Bot:
    """The running bot as WeCom sees it: an HTTP endpoint, plus a hand on its background workers."""

    def __init__(self, settings: Settings) -> None:
        self.runtime = Runtime.build(settings)
        self.client = TestClient(create_app(self.runtime, start_workers=False))

    @property
    def db(self):  # noqa: ANN201
        return self.runtime.services.db

    def channel(self, name: str):  # noqa: ANN201
        return self.runtime.channels[name]

    def post(self, query: str, body: bytes):  # noqa: ANN201
        return self.client.post(f"/wecom/callback?{query}", content=body)

    def pump(self) -> None:
        """Run the inbox and outbox workers until neither has due work (what they do in the background)."""
        async def run() -> None:
            assert self.runtime.inbox and self.runtime.outbox
            while await self.runtime.inbox.process_once() + await self.runtime.outbox.drain_once():
                pass
        asyncio.run(run())

    def close(self) -> None:
        self.client.close()
        self.runtime.services.db.dispose()


@pytest.fixture
def make_bot(tmp_path: Path, database_url: str, fake: FakeWeCom) -> Iterator:
    """Start a bot (again, for restarts) on the same database and fake WeCom."""
    bots: list[Bot] = []

    def make(**overrides: object) -> Bot:
        bots.append(Bot(wecom_settings(tmp_path, database_url, fake, **overrides)))
        return bots[-1]

    yield make
    for bot in bots:
        bot.close()


@pytest.fixture
def bot(make_bot) -> Bot:  # noqa: ANN001
    return make_bot()
