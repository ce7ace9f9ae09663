"""Definitions are built once per distinct input, in the background, and read back from the cache."""

from __future__ import annotations

import ast
import dataclasses
import json
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from sagemaker_code.definition import cache
from sagemaker_code.definition.cache import (
    REPO_ROOT,
    SDK_DISTRIBUTIONS,
    DefinitionBuildError,
    DefinitionBuilds,
    cache_key,
    definition_sources,
)
from sagemaker_code.definition.settings import Hyperparameters, PipelineSettings

SETTINGS = PipelineSettings(
    pipeline_name="t-model-build",
    region="eu-west-1",
    model_package_group_name="t-models",
    default_input_uri="s3://sentinel-data-bucket-0000/datasets/",
    facets=("age",),
)


def test_key_covers_the_settings() -> None:
    assert cache_key(SETTINGS) == cache_key(dataclasses.replace(SETTINGS))
    assert cache_key(SETTINGS) != cache_key(dataclasses.replace(SETTINGS, auc_threshold=0.8))
    assert cache_key(SETTINGS) != cache_key(dataclasses.replace(SETTINGS, region="us-east-1"))
    assert cache_key(SETTINGS) != cache_key(dataclasses.replace(SETTINGS, hyperparameters=Hyperparameters(seed=7)))


def test_key_covers_the_hyperparameter_table_not_only_the_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same values, another table (a bound of the config schema changed): another definition may follow."""
    before = cache_key(SETTINGS)
    table = SETTINGS.hyperparameter_table
    widened = (dataclasses.replace(table[0], maximum=30), *table[1:])
    monkeypatch.setattr(PipelineSettings, "hyperparameter_table", property(lambda _self: widened))
    assert cache_key(SETTINGS) != before


@pytest.mark.parametrize(
    "source", ["sagemaker_code/definition/steps.py", "sagemaker_code/steps/contract.py", "config/naming.py"]
)
def test_key_covers_the_source_of_every_module_the_definition_is_built_from(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key reads the sources' bytes: a copy with one module edited gives another key, an exact copy the same."""
    originals = definition_sources()
    assert REPO_ROOT / source in originals
    copies = []
    for path in originals:
        copy = tmp_path / path.relative_to(REPO_ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        copies.append(copy)
    monkeypatch.setattr(cache, "definition_sources", lambda: copies)
    before = cache_key(SETTINGS)
    assert before == cache_key(dataclasses.replace(SETTINGS))
    edited = tmp_path / source
    edited.write_text(edited.read_text() + "\n# edited\n")
    assert cache_key(SETTINGS) != before


@pytest.mark.parametrize("distribution", SDK_DISTRIBUTIONS)
def test_key_covers_the_version_of_every_sdk_package(distribution: str, monkeypatch: pytest.MonkeyPatch) -> None:
    before = cache_key(SETTINGS)
    real = metadata.version

    def version(name: str) -> str:
        return "0.0.0-other" if name == distribution else real(name)

    monkeypatch.setattr(metadata, "version", version)
    assert cache_key(SETTINGS) != before


def project_imports(path: Path) -> set[str]:
    """Project modules ``path`` imports outside ``if TYPE_CHECKING:`` blocks (those never run)."""
    tree = ast.parse(path.read_text())
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
        for statement in block.body
        for node in ast.walk(statement)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] in {"config", "sagemaker_code"})
    return found


def test_the_sources_are_every_project_module_the_definition_package_imports() -> None:
    """A module the definition starts to import must join the key, or an edit of it would reuse a stale file."""
    package = REPO_ROOT / "sagemaker_code" / "definition"
    modules = {name for path in package.glob("*.py") for name in project_imports(path)}
    files = {REPO_ROOT / f"{name.replace('.', '/')}.py" for name in modules}
    sources = set(definition_sources())
    assert {file for file in files if file.is_file()} <= sources
    assert set(package.glob("*.py")) <= sources


def test_settings_round_trip_through_json() -> None:
    assert PipelineSettings.from_dict(json.loads(json.dumps(SETTINGS.to_dict()))) == SETTINGS


def test_builds_in_background_then_reads_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builds = DefinitionBuilds.start([SETTINGS], tmp_path)
    assert builds._process is not None  # nothing cached yet: a builder process runs
    definition = json.loads(builds.get(SETTINGS.pipeline_name))
    (check,) = definition["Steps"]
    assert [s["Name"] for s in check["Arguments"]["IfSteps"]][:2] == ["Preprocess", "Train"]
    assert builds.path(SETTINGS).is_file()

    def no_process(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a cached definition must not start the SDK again")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    again = DefinitionBuilds.start([SETTINGS], tmp_path)
    assert again.get(SETTINGS.pipeline_name) == builds.get(SETTINGS.pipeline_name)


def test_builder_failure_is_reported_with_its_output(tmp_path: Path) -> None:
    # settings the builder cannot read (a number where it expects names): it fails at once, before the SDK import
    # (an SDK failure, e.g. a region without SageMaker images, takes the ~5 s of that import to show the same path)
    broken = dataclasses.replace(SETTINGS, facets=7)  # type: ignore[arg-type]
    builds = DefinitionBuilds.start([broken], tmp_path)
    with pytest.raises(DefinitionBuildError, match="building the SageMaker pipeline definitions failed") as info:
        builds.get(broken.pipeline_name)
    assert "TypeError" in str(info.value)  # the builder's own output is in the message
    assert not builds.path(broken).exists()


def test_unknown_pipeline_name(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="no definition was requested for pipeline 'other'"):
        DefinitionBuilds(cache_dir=tmp_path).get("other")
