"""Text normalisation shared by indexing and querying.

Both sides go through the same function, so full-width digits, traditional
characters and letter case never decide whether two texts match.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=200_000)
def normalize(text: str) -> str:
    """NFKC (full/half width), traditional -> simplified, lower case, single spaces.

    Memoised: a reload normalises every phrasing again, and OpenCC is slow in pure Python.
    """
    text = unicodedata.normalize("NFKC", text or "")
    text = _t2s().convert(text)
    return _SPACES.sub(" ", text.lower()).strip()
