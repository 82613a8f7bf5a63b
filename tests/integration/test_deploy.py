"""The sample deployment in deploy/: nginx accepts its configuration, and its body limit lets
through the largest upload the bot takes."""
from __future__ import annotations

import re

import pytest

from bench.nginx import SITE, check, loopback_config, nginx_binary
from bot.config import load_settings


@pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed (apt-get install nginx)")
def test_nginx_accepts_the_sample_configuration(tmp_path):
    result = check(loopback_config(tmp_path / "nginx", 18443, 18080, 18000))
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_body_limit_lets_the_largest_upload_through(tmp_path):
    site = SITE.read_text(encoding="utf-8")
    server_limit = re.findall(r"^    client_max_body_size (\d+)m;", site, re.MULTILINE)
    assert len(server_limit) == 1
    upload = load_settings(data_dir=tmp_path, _env_file=None).max_upload_bytes
    assert upload < int(server_limit[0]) * 1024 * 1024 <= upload + 2 * 1024 * 1024
