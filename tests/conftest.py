"""Shared fixtures: every storage-touching test runs on SQLite and on PostgreSQL.

Dialogs talk to the bot through tests/testbot.py (``TestBot``, ``Customer``); the ``runtime`` here
is wired the same way, with stand-in knowledge unless the test is marked ``slow``.

PostgreSQL is the server at 127.0.0.1:5432 (override with BOT_TEST_POSTGRES_URL).
Each pytest process works in its own database, created here and dropped at the end,
so parallel runs never see each other's rows. If the server cannot be reached the
PostgreSQL tests fail loudly; set BOT_TEST_SKIP_POSTGRES=1 to skip them on purpose.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.app import Runtime
from bot.config import SAMPLE_KNOWLEDGE_DIR, Settings, load_settings
from speech.whisper import WhisperRecognizer
from storage.db import Database
from storage.models import Base
from tests.testbot import build_runtime

# The suite reads the repository's sample knowledge in place and never writes to the user's data
# folder (the defaults): a test of those defaults clears these two.
os.environ.setdefault("BOT_KNOWLEDGE_DIR", str(SAMPLE_KNOWLEDGE_DIR))
os.environ.setdefault("BOT_DATA_DIR", tempfile.mkdtemp(prefix="sdb-test-data-"))

#: Fixtures that build the full runtime with the real knowledge: the platform suites, end to end.
REAL_MODEL_FIXTURES = {"tg", "tg_polling", "make_bot"}

POSTGRES_ADMIN_URL = os.environ.get("BOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SKIP_POSTGRES = os.environ.get("BOT_TEST_SKIP_POSTGRES") == "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test on a fixture that loads the real embedding models is ``slow``, like those marked by hand."""
    for item in items:
        if REAL_MODEL_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def recognizer() -> WhisperRecognizer:
    """The default speech recognizer (Whisper tiny.en from its package), its model loaded once a run."""
    shipped = WhisperRecognizer()
    shipped.load()
    return shipped


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test process."""
    if SKIP_POSTGRES:
        pytest.skip("BOT_TEST_SKIP_POSTGRES=1: PostgreSQL tests skipped on purpose")
    name = f"sdb_test_{os.getpid()}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(
            f"PostgreSQL at {make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)} is not reachable "
            f"({exc.__class__.__name__}: {exc}). Start it, or set BOT_TEST_SKIP_POSTGRES=1 to skip these tests.",
            pytrace=False,
        )
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    Database(url).upgrade()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


DATABASE_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _empty_database(request: pytest.FixtureRequest, folder: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{folder / 'bot.sqlite3'}"
    url = request.getfixturevalue("postgres_url")
    _truncate_all(url)
    return url


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database of each kind."""
    return _empty_database(request, tmp_path)


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def module_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The same, shared by the tests of one module (a suite that builds its app once)."""
    return _empty_database(request, tmp_path_factory.mktemp("db"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path / "data", database_url=database_url, _env_file=None)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """For tests that need no second database (pure dialog logic, HTTP shape checks)."""
    return load_settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'one.sqlite3'}",
                         _env_file=None)


@pytest.fixture
def runtime(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Runtime]:
    """The real wiring on each database. Its knowledge is the sample folder through the TestBot's
    stand-in (a phrasing answers its entry exactly), or the real models for a test marked ``slow``."""
    if request.node.get_closest_marker("slow"):
        rt = Runtime.build(settings, channels={})
    else:
        rt = build_runtime(settings)
    yield rt
    rt.services.db.dispose()
