"""The retention setting names cases as KIND:STAGE; a wrong one stops the start, saying so."""
from __future__ import annotations

import pytest

from bot.config import SettingsError, load_settings
from domain.erasure import parse_keep_stages


def test_keep_stages_are_kind_and_stage_pairs(tmp_path):
    assert parse_keep_stages(" application:completed, complaint:closed ,") == {
        ("application", "completed"), ("complaint", "closed")}
    assert parse_keep_stages("") == frozenset()
    with pytest.raises(SettingsError, match="BOT_RETENTION_KEEP_STAGES.*KIND:STAGE"):
        load_settings(data_dir=tmp_path, retention_keep_stages="application:finished", _env_file=None)
    with pytest.raises(SettingsError, match="BOT_RETENTION_KEEP_STAGES"):
        load_settings(data_dir=tmp_path, retention_keep_stages="completed", _env_file=None)
