"""README's configuration and dataset-spec references are generated from the pydantic models and must stay in sync."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from config.dataset_spec import DatasetSpec
from config.model import PlatformConfig
from config.reference import (
    END,
    EXAMPLES,
    SPEC_END,
    SPEC_START,
    START,
    main,
    render,
    render_dataset_spec,
    replace_block,
)
from tests.conftest import REPO_ROOT

STALE = "README is stale: run `.venv/bin/python -m config.reference --write README.md`"


def test_readme_configuration_reference_matches_the_models() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert render() in readme, STALE


def test_readme_dataset_spec_reference_matches_the_models() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert render_dataset_spec() in readme, STALE


def test_reference_lists_every_field_with_its_default() -> None:
    text = render()
    assert "| `environments.<name>.retain_data` | boolean | `true` |" in text
    assert "| `environments.<name>.account` | string or null | `null` |" in text
    for name in PlatformConfig.model_fields:
        assert f"| `{name}` |" in text


def _paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key of the spec, as the reference writes it (list items as ``[]``)."""
    paths = []
    for name, field in model.model_fields.items():
        paths.append(f"{prefix}{name}")
        annotation = field.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                suffix = "[]" if "list" in str(annotation) else ""
                paths += _paths(candidate, f"{prefix}{name}{suffix}.")
    return paths


def test_dataset_spec_reference_has_every_key_type_default_and_meaning() -> None:
    text = render_dataset_spec()
    paths = _paths(DatasetSpec)
    assert len(paths) > 30
    for path in paths:
        row = next((line for line in text.splitlines() if line.startswith(f"| `{path}` |")), None)
        assert row is not None, path
        _, kind, default, meaning = (cell.strip() for cell in row.strip("|").split(" | "))
        assert kind, row
        assert default, row
        assert len(meaning) > 10, row
    assert "| `facets[].disparate_impact.lower` | number or null | `null` |" in text
    assert "| `columns[].missing` | one of `impute`, `category`, `drop_row`, `error` or null |" in text
    assert "| `columns[].id` | string or null | derived from name |" in text


def test_dataset_spec_reference_shows_the_examples_whole() -> None:
    text = render_dataset_spec()
    assert len(EXAMPLES) == 2
    for file, _ in EXAMPLES:
        assert (REPO_ROOT / "config" / "datasets" / file).read_text().rstrip("\n") in text
    assert "**Reading the files.**" in text
    prose = text.split("Example 1:")[0]
    assert "``" not in prose  # reST markup became Markdown


def test_replace_block_rewrites_only_the_marked_block() -> None:
    text = f"intro\n{START}\nold\n{END}\nmiddle\n{SPEC_START}\nold spec\n{SPEC_END}\noutro\n"
    assert replace_block(text, "NEW") == f"intro\nNEW\nmiddle\n{SPEC_START}\nold spec\n{SPEC_END}\noutro\n"
    assert replace_block(text, "SPEC", SPEC_START, SPEC_END) == f"intro\n{START}\nold\n{END}\nmiddle\nSPEC\noutro\n"
    with pytest.raises(ValueError, match="no reference markers"):
        replace_block("no markers", "NEW")


def test_write_only_one_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"{START}\nold\n{END}\n{SPEC_START}\nold spec\n{SPEC_END}\n")
    assert main(["--write", str(readme), "--only", "dataset-spec"]) == 0
    text = readme.read_text()
    assert f"{START}\nold\n{END}" in text
    assert render_dataset_spec() in text
    assert main(["--write", str(readme)]) == 0
    assert render() in readme.read_text()
