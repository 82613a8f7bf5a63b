"""Engine, sessions and migrations for SQLite (embedded default) and PostgreSQL."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from storage.sanitize import clean_parameters

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: The PostgreSQL notification channel a commit that queued a reply sends on.
OUTBOX_CHANNEL = "bot_outbox"
#: The execution option that marks a reading() transaction.
_READING = "bot_reading"

log = logging.getLogger(__name__)


def notify(session: Session, channel: str) -> None:
    """Tell every worker listening on ``channel`` (PostgreSQL delivers it at commit, and not at
    all on rollback); on SQLite, one machine, the local wake is enough."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})


def scrub_after_commit(session: Session) -> None:
    """Once this transaction commits, leave no old copy of what it overwrote in the database's
    files: SQLite zeroes freed space itself (``secure_delete``), and its write-ahead log is copied
    back and truncated here. PostgreSQL's old row versions go when (auto)vacuum reclaims them."""
    engine = session.get_bind()
    if engine.dialect.name != "sqlite":
        return

    def checkpoint(_: Session) -> None:
        connection = engine.raw_connection()  # outside any transaction, which a checkpoint needs
        try:
            connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()

    event.listen(session, "after_commit", checkpoint, once=True)


class Listener:
    """A thread holding one PostgreSQL connection in ``LISTEN channel``, calling ``on_notify`` for
    each notification: how a reply queued on one worker wakes the senders of all of them."""

    def __init__(self, url: str, channel: str, on_notify: Callable[[], None]) -> None:
        self.url, self.channel, self.on_notify = url, channel, on_notify
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"listen-{self.channel}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{self.channel}"')
                    self.on_notify()  # anything queued while not listening
                    while not self._stop.is_set():
                        for _note in conn.notifies(timeout=0.5):
                            self.on_notify()
            except psycopg.Error:
                log.warning("listening on %s failed; again in 1 s", self.channel, exc_info=True)
                self._stop.wait(1.0)


def _clean_parameters(_conn, _cursor, statement, parameters, _context, _executemany):  # type: ignore[no-untyped-def]
    """Every string bound to any statement is one the column can hold (storage/sanitize.py)."""
    return statement, clean_parameters(parameters)


class Database:
    """One engine and session factory. ``session()`` is one transaction: commit or roll back."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        if self.is_postgres and self.url.drivername == "postgresql":
            self.url = self.url.set(drivername="postgresql+psycopg")
        self.engine: Engine = self._create_engine(echo)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.reading_sessions = sessionmaker(self.engine.execution_options(**{_READING: True}))

    def _create_engine(self, echo: bool) -> Engine:
        if not self.is_sqlite:
            engine = create_engine(self.url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)
            event.listen(engine, "before_cursor_execute", _clean_parameters, retval=True)
            return engine
        database = self.url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(self.url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # Let SQLAlchemy, not the driver, open transactions, so BEGIN IMMEDIATE below
            # takes the write lock at the start: one writer at a time, in arrival order.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # Deleted and overwritten content is zeroed, not left in free space (erasure, PIPL/GDPR).
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # type: ignore[no-untyped-def]
            # a reading() transaction takes no write lock: in WAL mode it never waits for the writer
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READING) else "BEGIN IMMEDIATE")

        event.listen(engine, "before_cursor_execute", _clean_parameters, retval=True)
        return engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction for reads only, rolled back at the end. On SQLite it takes no write lock,
        so slow work prepared from what it reads runs while another transaction writes."""
        with self.reading_sessions() as session:
            yield session  # closing the session rolls its transaction back

    def alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.render_as_string(hide_password=False).replace("%", "%%"))
        cfg.attributes["engine"] = self.engine
        return cfg

    def upgrade(self) -> None:
        """Bring the schema to the newest revision of every feature branch."""
        command.upgrade(self.alembic_config(), "heads")

    def listener(self, channel: str, on_notify: Callable[[], None]) -> Listener | None:
        """A listener on PostgreSQL; None on SQLite (one machine: local wakes suffice)."""
        if not self.is_postgres:
            return None
        libpq = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return Listener(libpq, channel, on_notify)

    def missing_migrations(self) -> set[str]:
        """The newest revisions of the feature branches this database does not have yet."""
        heads = set(ScriptDirectory.from_config(self.alembic_config()).get_heads())
        with self.engine.connect() as conn:
            applied = set(MigrationContext.configure(conn).get_current_heads())
        return heads - applied

    def dispose(self) -> None:
        self.engine.dispose()
