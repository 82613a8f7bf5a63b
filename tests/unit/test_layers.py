"""The import contract of docs/architecture.md: bot -> handlers -> domain -> storage, knowledge
beside domain, speech recognition asked by the wiring only, no cycles, no platform library, web
framework or speech library below bot.

The contracts live in pyproject.toml ([tool.importlinter]); these tests run them on the real tree
and show that a wrong arrow in a copy of the tree breaks them.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "domain", "knowledge", "speech", "storage")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter with ``tree``'s pyproject.toml, importing the packages from ``tree``."""
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True))"
    return subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}, timeout=120)


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """The packages' Python files and pyproject.toml, copied so a test can plant a wrong arrow."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns(
            "__pycache__", "data", "*.yaml", "*.json", "*.html", "*.js", "*.css", "*.png", "*.npz", "*.bin"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(tree: Path, module: str, line: str) -> None:
    path = tree / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_the_tree_keeps_every_contract() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("module", "line", "says"), [
    ("storage/db.py", "import bot.config", "storage is not allowed to import bot"),
    ("domain/catalogue/model.py", "import handlers.messages", "domain is not allowed to import handlers"),
    ("knowledge/normalize.py", "import storage.models", "knowledge is not allowed to import storage"),
    ("handlers/menu.py", "import telegram", "handlers is not allowed to import telegram"),
    ("domain/hours.py", "import fastapi", "domain is not allowed to import fastapi"),
    ("handlers/faq.py", "import speech", "handlers is not allowed to import speech"),
    ("handlers/menu.py", "import faster_whisper", "handlers is not allowed to import faster_whisper"),
    ("speech/audio.py", "import storage.models", "speech is not allowed to import storage"),
    ("storage/jobs.py", "import storage.outbox", "No cycles are allowed in storage"),
])
def test_a_wrong_arrow_breaks_the_contract(tree_copy: Path, module: str, line: str, says: str) -> None:
    if "cycle" in says.lower():  # close a loop: outbox already imports models; make models import jobs
        plant(tree_copy, "storage/outbox.py", "import storage.jobs")
    plant(tree_copy, module, line)
    result = lint(tree_copy)
    assert result.returncode != 0
    assert says in result.stdout, result.stdout
