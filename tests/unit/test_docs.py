"""The README stays true: its settings table is the settings' own."""
from pathlib import Path

from bot.cli import settings_table


def test_readme_lists_every_setting():
    readme = Path(__file__).resolve().parents[2].joinpath("README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- settings-table -->\n", 1)[1].split("\n<!-- /settings-table -->", 1)[0]
    assert table == settings_table(), "regenerate the table with: python -m bot config --table"
