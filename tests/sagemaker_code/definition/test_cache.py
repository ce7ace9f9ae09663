"""Definitions are built once per distinct input, in the background, and read back from the cache."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from sagemaker_code.definition.build import PipelineSettings
from sagemaker_code.definition.cache import DefinitionBuildError, DefinitionBuilds, cache_key

SETTINGS = PipelineSettings(
    pipeline_name="t-model-build",
    region="eu-west-1",
    model_package_group_name="t-models",
    default_input_uri="s3://sentinel-data-bucket-0000/datasets/",
    facets=("age",),
)


def test_key_covers_settings_sdk_and_pipeline_source() -> None:
    assert cache_key(SETTINGS) == cache_key(dataclasses.replace(SETTINGS))
    assert cache_key(SETTINGS) != cache_key(dataclasses.replace(SETTINGS, auc_threshold=0.8))
    assert cache_key(SETTINGS) != cache_key(dataclasses.replace(SETTINGS, region="us-east-1"))


def test_settings_round_trip_through_json() -> None:
    assert PipelineSettings.from_dict(json.loads(json.dumps(SETTINGS.to_dict()))) == SETTINGS


def test_builds_in_background_then_reads_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builds = DefinitionBuilds.start([SETTINGS], tmp_path)
    assert builds._process is not None  # nothing cached yet: a builder process runs
    definition = json.loads(builds.get(SETTINGS.pipeline_name))
    assert [s["Name"] for s in definition["Steps"]][:2] == ["Preprocess", "Train"]
    assert builds.path(SETTINGS).is_file()

    def no_process(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a cached definition must not start the SDK again")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    again = DefinitionBuilds.start([SETTINGS], tmp_path)
    assert again.get(SETTINGS.pipeline_name) == builds.get(SETTINGS.pipeline_name)


def test_builder_failure_is_reported_with_its_output(tmp_path: Path) -> None:
    broken = dataclasses.replace(SETTINGS, region="xx-nowhere-1")  # no SageMaker images in that region
    builds = DefinitionBuilds.start([broken], tmp_path)
    with pytest.raises(DefinitionBuildError, match="building the SageMaker pipeline definitions failed"):
        builds.get(broken.pipeline_name)
    assert not builds.path(broken).exists()


def test_unknown_pipeline_name(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="no definition was requested for pipeline 'other'"):
        DefinitionBuilds(cache_dir=tmp_path).get("other")
