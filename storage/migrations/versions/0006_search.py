"""search: an index on the messages' text for the console's conversation search

PostgreSQL: a trigram GIN index (pg_trgm) on ``messages.text``, which serves ``ILIKE '%...%'`` in
any language (Chinese too, under a UTF-8 ctype). SQLite: an FTS5 table with the trigram tokenizer
over ``messages`` (external content), kept in step by triggers on insert, update and delete.

Revision ID: 0006_search
Revises: 0001_core
Create Date: 2026-12-01 21:40:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0006_search'
down_revision: str | Sequence[str] | None = '0001_core'
branch_labels: str | Sequence[str] | None = ('search',)
depends_on: str | Sequence[str] | None = None

SQLITE_UP = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id', tokenize='trigram')",
    "INSERT INTO messages_fts(rowid, text) SELECT id, text FROM messages",
    ("CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
     "INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text); END"),
    ("CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
     "INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text); END"),
    ("CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN "
     "INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text); "
     "INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text); END"),
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS messages_fts_update",
    "DROP TRIGGER IF EXISTS messages_fts_delete",
    "DROP TRIGGER IF EXISTS messages_fts_insert",
    "DROP TABLE IF EXISTS messages_fts",
)
POSTGRES_UP = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_messages_text_trgm ON messages USING gin (text gin_trgm_ops)",
)
POSTGRES_DOWN = ("DROP INDEX IF EXISTS ix_messages_text_trgm",)


def upgrade() -> None:
    for statement in POSTGRES_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in POSTGRES_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN:
        op.execute(statement)
