"""Messages by a piece of their text, through the index of migration 0006_search.

PostgreSQL: ``ILIKE '%text%'``, served by the trigram GIN index. SQLite: a phrase query on the
FTS5 trigram table ``messages_fts``; text shorter than a trigram cannot be looked up there and
is a plain ``LIKE`` over the messages instead (a scan, still correct).
"""
from __future__ import annotations

from sqlalchemy import Select, literal_column, select, table, text
from sqlalchemy.orm import Session

from storage.models import Message
from storage.repositories import is_postgres

#: Characters in a trigram: shorter text is not in the SQLite index.
TRIGRAM = 3
FTS_TABLE = table("messages_fts", literal_column("rowid"))


def contains_pattern(text: str) -> str:
    """``%text%`` for LIKE with ``\\`` as the escape, so ``%`` and ``_`` in the text are literal."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def messages_containing(session: Session, text: str) -> Select[tuple[int]]:
    """The ids of the messages whose text contains ``text`` (case-insensitive), as a subquery."""
    if is_postgres(session) or len(text) < TRIGRAM:
        return select(Message.id).where(Message.text.ilike(contains_pattern(text), escape="\\"))
    phrase = '"' + text.replace('"', '""') + '"'
    return select(literal_column("rowid")).select_from(FTS_TABLE).where(
        literal_column("messages_fts").op("MATCH")(phrase))


def purge_deleted_text(session: Session) -> None:
    """Rewrite the SQLite index so text removed from messages is gone from it too (FTS5 keeps a
    deleted row's trigrams until its segments merge). One whole rewrite: for erasures, not turns."""
    if not is_postgres(session):
        session.execute(text("INSERT INTO messages_fts(messages_fts) VALUES ('optimize')"))
