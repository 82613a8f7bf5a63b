"""Knowledge base: FAQ files, hybrid retrieval, calibrated decisions, hot reload.

The bot uses `KnowledgeRuntime`; `python -m bot kb ...` (knowledge/cli.py)
checks, imports, exports and evaluates knowledge folders.
"""
from typing import Any

from .answers import Answer, Hit, answer_text
from .schema import Entry, FollowUp, Problem
from .screen import text_has_question


def __getattr__(name: str) -> Any:
    """`KnowledgeRuntime` on first use: it pulls in faiss and the embedding models, which the
    schema and answer types (read by the domain and by tests) do not need."""
    if name == "KnowledgeRuntime":
        from .runtime import KnowledgeRuntime

        return KnowledgeRuntime
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Answer", "Entry", "FollowUp", "Hit", "KnowledgeRuntime", "Problem", "answer_text", "text_has_question"]
