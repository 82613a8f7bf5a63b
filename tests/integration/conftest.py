"""Fixtures for knowledge tests: a small topic folder and a shared embedding cache."""
from __future__ import annotations

from pathlib import Path

import pytest

TOPIC = """\
lang: zh
entries:
  - id: hours
    question: 办事大厅几点开门？
    alternates: [营业时间是什么时候？, "What are your opening hours?"]
    answer:
      zh: 工作日九点到五点。
      en: Weekdays nine to five.
  - id: fees
    question: 办理业务收费吗？
    alternates: [要交多少钱？]
    answer: 大部分业务免费。
  - id: complaint
    question: 怎么投诉工作人员？
    alternates: [对服务不满意怎么反映？]
    answer: 在对话里选择“投诉建议”。
"""


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("embeddings")


@pytest.fixture
def kb_dir(tmp_path) -> Path:
    d = tmp_path / "kb"
    d.mkdir()
    (d / "topic.yaml").write_text(TOPIC, encoding="utf-8")
    return d
