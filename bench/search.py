"""Conversation search on 100,000 messages: the console's search (domain/handoff/search.py) on
SQLite (FTS5 trigram) and PostgreSQL (pg_trgm), each in a fresh, migrated database.

    python bench/search.py sqlite
    python bench/search.py postgres [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Prints one JSON line per query: median and 95th percentile in milliseconds over the repeats,
and the number of hits (at most 50, the page's limit).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.handoff.search import ConversationQuery, search_conversations
from storage.db import Database
from storage.models import Conversation, Customer, Message, utcnow

MESSAGES = 100_000
CONVERSATIONS = 5_000
REPEATS = 30
WORDS_ZH = ["社保卡", "补办", "营业执照", "公积金", "提取", "户口", "迁移", "护照", "续签", "材料", "进度", "预约",
            "窗口", "办理", "时限", "身份证", "居住证", "驾驶证", "医保", "报销", "退休", "证明", "税务", "发票"]
WORDS_EN = ["passport", "renewal", "licence", "business", "tax", "invoice", "appointment", "window", "status",
            "pension", "medical", "insurance", "residence", "permit", "certificate", "refund", "address"]
QUERIES = {
    "text zh (4 chars)": ConversationQuery(text="营业执照"),
    "text zh (2 chars, below a trigram)": ConversationQuery(text="医保"),
    "text en": ConversationQuery(text="passport renewal"),
    "text, rare": ConversationQuery(text="ZX-4711"),
    "name": ConversationQuery(name="客户0420"),
    "phone": ConversationQuery(phone="1380000042"),
    "text + channel + last 7 days": ConversationQuery(text="公积金", channel="telegram",
                                                        since=utcnow() - timedelta(days=7)),
    "status none + channel": ConversationQuery(status="none", channel="wecom"),
}


def _sentence(rng: random.Random) -> str:
    words = rng.sample(WORDS_ZH, 3) if rng.random() < 0.7 else rng.sample(WORDS_EN, 4)
    return (" " if words[0].isascii() else "").join(words) + rng.choice(["？", "。", "?", ""])


def fill(db: Database) -> None:
    rng = random.Random(7)
    now = utcnow()
    channels = ["web", "telegram", "wecom"]
    with db.session() as s:
        s.execute(insert(Customer), [
            {"id": i, "channel": channels[i % 3], "external_id": f"u{i}", "display_name": f"客户{i:04d}",
             "phone": f"138{i:08d}", "created_at": now} for i in range(1, CONVERSATIONS + 1)])
        s.execute(insert(Conversation), [
            {"id": i, "customer_id": i, "channel": channels[i % 3], "chat_id": f"u{i}", "state_data": {},
             "mode": "bot", "created_at": now, "last_message_at": now - timedelta(minutes=i)}
            for i in range(1, CONVERSATIONS + 1)])
        rows = [{"conversation_id": rng.randint(1, CONVERSATIONS), "direction": "in", "sender": "customer",
                 "text": _sentence(rng), "payload": {}, "created_at": now - timedelta(minutes=rng.randint(0, 43_200))}
                for _ in range(MESSAGES - 1)]
        rows.append({**rows[0], "text": "my reference is ZX-4711"})
        for start in range(0, len(rows), 10_000):
            s.execute(insert(Message), rows[start:start + 10_000])


def measure(db: Database) -> Iterator[dict]:
    for name, query in QUERIES.items():
        times, hits = [], 0
        for _ in range(REPEATS):
            with db.session() as s:
                started = time.perf_counter()
                hits = len(search_conversations(s, query))
                times.append((time.perf_counter() - started) * 1000)
        times.sort()
        yield {"query": name, "median_ms": round(statistics.median(times), 1),
               "p95_ms": round(times[int(len(times) * 0.95) - 1], 1), "hits": hits}


@contextmanager
def database(kind: str, admin_url: str) -> Iterator[Database]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            db = Database(f"sqlite:///{folder}/bench.sqlite3")
            db.upgrade()
            yield db
            db.dispose()
        return
    name = f"sdb_bench_search_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    try:
        db.upgrade()
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["sqlite", "postgres"])
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with database(args.kind, args.admin_url) as db:
        started = time.perf_counter()
        fill(db)
        if args.kind == "postgres":
            with db.session() as s:
                s.execute(text("ANALYZE"))
        print(json.dumps({"database": args.kind, "messages": MESSAGES, "conversations": CONVERSATIONS,
                          "fill_s": round(time.perf_counter() - started, 1)}))
        for row in measure(db):
            print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
