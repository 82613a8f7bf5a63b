"""The console lockout holds when many wrong passwords arrive at once on two workers (PostgreSQL)."""
from __future__ import annotations

import threading

import pytest

from bot.config import load_settings
from bot.web.console.security import attempt_login
from domain.staff import add_staff
from storage.models import StaffUser
from tests.conftest import _truncate_all
from tests.testbot import build_runtime

ATTEMPTS = 30


@pytest.mark.postgres
def test_simultaneous_wrong_passwords_on_two_workers_lock_the_account(tmp_path, postgres_url):
    _truncate_all(postgres_url)
    settings = load_settings(data_dir=tmp_path / "data", database_url=postgres_url, _env_file=None)
    workers = [build_runtime(settings), build_runtime(settings)]  # two engines: two worker processes' pools
    with workers[0].services.db.session() as s:
        add_staff(s, "alice", "correct horse", "supervisor")
    barrier = threading.Barrier(ATTEMPTS)
    outcomes: list[str] = []

    def try_wrong(index: int) -> None:
        services = workers[index % 2].services
        barrier.wait()
        with services.db.session() as session:
            outcomes.append(attempt_login(session, services, "alice", "wrong password")[1])

    threads = [threading.Thread(target=try_wrong, args=(i,)) for i in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    limit = settings.console_max_failed_logins
    assert outcomes.count("console.login.failed") == limit - 1
    assert outcomes.count("console.login.locked") == ATTEMPTS - limit + 1
    with workers[1].services.db.session() as s:
        user = s.query(StaffUser).filter_by(username="alice").one()
        assert user.locked_until is not None and user.failed_logins == ATTEMPTS
        assert attempt_login(s, workers[1].services, "alice", "correct horse") == (None, "console.login.locked")
    for worker in workers:
        worker.services.db.dispose()
