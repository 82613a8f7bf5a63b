"""Service definition files: errors with file and line, the last good set keeps serving, reload on change."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot.config import SAMPLE_KNOWLEDGE_DIR
from domain.catalogue import ServiceCatalog, ServiceError, load_services, validate_services

SAMPLES = SAMPLE_KNOWLEDGE_DIR / "services"


def test_shipped_samples_validate_cleanly():
    assert validate_services(SAMPLES) == []
    services = load_services(SAMPLES).services
    assert len(services) >= 5
    assert services["business_account_opening"].needs_secondary_review
    assert not services["account_opening"].needs_secondary_review


def copy_samples(tmp_path: Path) -> Path:
    target = tmp_path / "services"
    shutil.copytree(SAMPLES, target)
    return target


def test_errors_name_the_file_and_line(tmp_path):
    folder = copy_samples(tmp_path)
    path = folder / "account_opening.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    fmt_line = next(n for n, line in enumerate(lines, 1) if "format: cn_id" in line)
    lines[fmt_line - 1] = lines[fmt_line - 1].replace("cn_id", "cn_passport")
    days_line = next(n for n, line in enumerate(lines, 1) if line.startswith("time_limit_days"))
    lines[days_line - 1] = "time_limit_days: soon"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "broken.yaml").write_text("id: broken\nname: {zh: 坏\n  en: x\n", encoding="utf-8")
    problems = {(Path(p.file).name, p.line): p.message for p in validate_services(folder) if p.level == "error"}
    assert "unknown format 'cn_passport'" in problems[("account_opening.yaml", fmt_line)]
    assert "time_limit_days" in problems[("account_opening.yaml", days_line)]
    assert any(name == "broken.yaml" and "not valid YAML" in msg for (name, _), msg in problems.items())
    with pytest.raises(ServiceError) as err:
        load_services(folder)
    assert f"account_opening.yaml:{fmt_line}: error: unknown format" in str(err.value)


def test_one_language_missing_and_duplicate_keys(tmp_path):
    folder = tmp_path / "services"
    folder.mkdir()
    (folder / "x.yaml").write_text(
        "id: x\ncode: XX\nname: {zh: 某业务}\ndescription: {zh: 描述, en: d}\nfee: {zh: 免费, en: free}\n"
        "time_limit_text: {zh: 三天, en: 3 days}\ntime_limit_days: 3\nfollow_up: {zh: 无, en: none}\n"
        "time_limit_days: 4\nmaterials:\n  - id: a\n    name: {zh: 甲, en: A}\n    hint: {zh: 提示, en: hint}\n"
        "    accepts: [photo]\n    format: email\n", encoding="utf-8")
    found = [str(p) for p in validate_services(folder)]
    assert any(":3: error: 'name' has no en text" in p for p in found)
    assert any(":9: error: key 'time_limit_days' appears twice" in p for p in found)
    assert any(":15: error: a format check needs 'text'" in p for p in found)


def test_catalog_keeps_the_last_good_set_and_reloads(tmp_path):
    folder = copy_samples(tmp_path)
    catalog = ServiceCatalog(folder)
    assert "account_closing" in catalog.services()
    path = folder / "account_closing.yaml"
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("time_limit_days: 7", "time_limit_days: -1"), encoding="utf-8")
    os.utime(path, ns=(1, 1))  # a different mtime even within the clock's resolution
    assert catalog.get("account_closing").time_limit_days == 7  # the broken edit does not take over
    assert catalog.problems and "time_limit_days" in str(catalog.problems[0])
    path.write_text(good.replace("time_limit_days: 7", "time_limit_days: 9"), encoding="utf-8")
    os.utime(path, ns=(2, 2))
    assert catalog.get("account_closing").time_limit_days == 9 and catalog.problems == []
