"""One real registered model for the tests of the local endpoint, the synthetic traffic tool and the monitoring
loop: the real pipeline definition run once on the shipped
sample (as tests/local_pipeline/test_real_pipeline.py runs it, with ``DisparateImpactLower=0.2`` so that it
registers), and the local endpoint serving it on a free port for the whole session.

A pytest plugin (tests/conftest.py), so that every test module sees the same session fixture. Every test module
using it is marked ``xdist_group("local-endpoint")`` so that ``make test`` runs them on one worker and
the pipeline runs once (see tests/shared_fixture_groups.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_endpoint.cli import serving
from local_endpoint.server import EndpointServer
from local_pipeline.s3 import LocalS3
from tests.local_pipeline.definitions import run

REPO_ROOT = Path(__file__).resolve().parents[1]
GROUP = "t-models"


@dataclass(frozen=True)
class RegisteredModel:
    """A local pipeline workspace holding one registered version, and what the deploy flow reads from it."""

    workspace: Path
    entry: dict[str, Any]

    @property
    def entry_path(self) -> Path:
        return self.workspace / "registry" / GROUP / "version-0001.json"

    @property
    def model_archive(self) -> Path:
        return Path(self.entry["InferenceSpecification"]["Containers"][0]["ModelDataLocalPath"])

    @property
    def threshold(self) -> float:
        return float(self.entry["CustomerMetadataProperties"]["decision_threshold"])

    @property
    def test_data(self) -> Path:
        return LocalS3(self.workspace / "s3").get(self.entry["CustomerMetadataProperties"]["test_data_uri"])


@pytest.fixture(scope="session")
def registered_model(tmp_path_factory: pytest.TempPathFactory) -> RegisteredModel:
    from config.dataset_spec import DatasetSpec
    from sagemaker_code.definition.build import Hyperparameters, PipelineSettings, Sentinels, build_definition
    from sagemaker_code.definition.bundle import write_bundle

    sentinels = Sentinels()
    settings = PipelineSettings(
        pipeline_name="t-model-build",
        region="eu-west-1",
        model_package_group_name=GROUP,
        default_input_uri=sentinels.sample_data_uri,
        facets=("age", "sex"),
        hyperparameters=Hyperparameters(num_round=50),
    )
    definition = json.loads(build_definition(settings))
    root = tmp_path_factory.mktemp("local-endpoint")
    raw = yaml.safe_load((REPO_ROOT / "config" / "datasets" / "german_credit.yaml").read_text())
    bundle = write_bundle(root / "bundle", DatasetSpec.model_validate(raw).model_dump(mode="json"))
    workspace = root / "workspace"
    s3 = LocalS3(
        workspace / "s3",
        {sentinels.code_uri: bundle, sentinels.sample_data_uri: REPO_ROOT / "data" / "german_credit" / "german.data"},
    )
    result = run(definition, s3, workspace / "executions", DisparateImpactLower="0.2")
    assert result.registered is not None, result.summary()
    return RegisteredModel(workspace, json.loads(result.registered.path.read_text()))


@pytest.fixture(scope="session")
def endpoint(registered_model: RegisteredModel) -> Iterator[EndpointServer]:
    with serving(registered_model.workspace) as server:
        yield server
