"""README's configuration reference is generated from the pydantic models and must stay in sync."""

from __future__ import annotations

import pytest

from config.model import PlatformConfig
from config.reference import END, START, render, replace_block
from tests.conftest import REPO_ROOT


def test_readme_configuration_reference_matches_the_models() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert render() in readme, "README is stale: run `.venv/bin/python -m config.reference --write README.md`"


def test_reference_lists_every_field_with_its_default() -> None:
    text = render()
    assert "| `environments.<name>.retain_data` | boolean | `true` |" in text
    assert "| `environments.<name>.account` | string or null | `null` |" in text
    for name in PlatformConfig.model_fields:
        assert f"| `{name}` |" in text


def test_replace_block_rewrites_only_the_marked_block() -> None:
    text = f"intro\n{START}\nold\n{END}\noutro\n"
    assert replace_block(text, "NEW") == "intro\nNEW\noutro\n"
    with pytest.raises(ValueError, match="no configuration-reference markers"):
        replace_block("no markers", "NEW")
