"""Logging: one readable line per event, or one JSON object a line (``BOT_LOG_FORMAT=json``) carrying
the request and conversation id. Message texts and personal data stay out of INFO; what customers
said is in the database."""
from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import datetime, timezone

#: The HTTP request being answered (set by ``bot.metrics.RequestMetrics``).
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
#: The conversation a turn works on (set by the engine once it holds the conversation).
conversation_id_var: ContextVar[int | None] = ContextVar("conversation_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request and conversation id, error."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (request_id := request_id_var.get()) is not None:
            entry["request_id"] = request_id
        if (conversation_id := conversation_id_var.get()) is not None:
            entry["conversation_id"] = conversation_id
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "INFO", log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    text = logging.Formatter(TEXT_FORMAT, "%Y-%m-%d %H:%M:%S")
    handler.setFormatter(JsonFormatter() if log_format == "json" else text)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that would log request URLs (which carry bot tokens) or bodies at INFO.
    for noisy in ("httpx", "httpcore", "telegram", "urllib3", "sentence_transformers", "jieba", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
