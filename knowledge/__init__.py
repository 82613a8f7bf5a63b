"""Knowledge base: FAQ files, hybrid retrieval, calibrated decisions, hot reload.

The bot uses `KnowledgeRuntime`; `python -m bot kb ...` (knowledge/cli.py)
checks, imports, exports and evaluates knowledge folders.
"""
from .runtime import Answer, Hit, KnowledgeRuntime, answer_text
from .schema import Entry, FollowUp, Problem
from .screen import text_has_question

__all__ = ["Answer", "Entry", "FollowUp", "Hit", "KnowledgeRuntime", "Problem", "answer_text", "text_has_question"]
