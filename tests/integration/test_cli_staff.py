"""`staff add` takes the password without a prompt and loads no embedding model."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

PROBE = ("import sys; from bot.cli import main; code = main(sys.argv[1:]); "
         "print('models loaded' if 'knowledge.runtime' in sys.modules else 'no models', file=sys.stderr); "
         "raise SystemExit(code)")


def test_staff_add_reads_the_password_from_stdin_and_loads_no_models(tmp_path: Path):
    env = {**os.environ, "BOT_DATA_DIR": str(tmp_path), "BOT_DATABASE_URL": ""}
    done = subprocess.run([sys.executable, "-c", PROBE, "staff", "add", "ann", "--role", "admin", "--password-stdin"],
                          input="a long password 1\n", capture_output=True, text=True, env=env, timeout=120,
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    assert "staff account 'ann' (admin) created" in done.stdout and "no models" in done.stderr
    databases = list(tmp_path.glob("*.sqlite3")) + list(tmp_path.glob("*.db"))
    with create_engine(f"sqlite:///{databases[0]}").connect() as db:
        assert db.execute(text("select username from staff_users")).scalars().all() == ["ann"]


def test_staff_link_telegram_links_the_user_id_and_refuses_a_wrong_one(tmp_path: Path):
    env = {**os.environ, "BOT_DATA_DIR": str(tmp_path), "BOT_DATABASE_URL": ""}

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", PROBE, *args], input=stdin, capture_output=True, text=True,
                              env=env, timeout=120, cwd=Path(__file__).parents[2])

    assert run("staff", "add", "wang", "--role", "agent", "--password-stdin", stdin="a long password 1\n").returncode == 0
    done = run("staff", "link-telegram", "wang", "777000")
    assert done.returncode == 0, done.stderr
    assert "telegram user 777000 linked to staff account 'wang' (agent)" in done.stdout and "no models" in done.stderr
    assert run("staff", "link-telegram", "nobody", "1").returncode == 2
    refused = run("staff", "link-telegram", "wang", "@wang")
    assert refused.returncode == 2 and "is a number" in refused.stderr
    [database] = list(tmp_path.glob("*.sqlite3")) + list(tmp_path.glob("*.db"))
    with create_engine(f"sqlite:///{database}").connect() as db:
        assert db.execute(text("select platform, platform_user_id from staff_links")).all() == [("telegram", "777000")]
