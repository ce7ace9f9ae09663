"""Fixtures of the step tests: the shipped dataset spec as the steps receive it, and one end-to-end run.

The end-to-end run (preprocess -> train -> evaluate -> bias on the German Credit sample, in a temporary folder) is
made once per session and shared by the tests that inspect its outputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.dataset_spec import DatasetSpec as SpecModel
from config.loader import read_yaml
from sagemaker_code import bias, evaluate, preprocess, train
from sagemaker_code.spec import DatasetSpec, load_spec

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_YAML = REPO_ROOT / "config" / "datasets" / "german_credit.yaml"
SAMPLE = REPO_ROOT / "data" / "german_credit" / "german.data"


def write_spec_json(path: Path, yaml_path: Path = SPEC_YAML, **overrides: object) -> Path:
    """The spec file as the app writes it: the YAML validated by the pydantic model, dumped as JSON."""
    data = SpecModel.model_validate(read_yaml(yaml_path)).model_dump(mode="json")
    data.update(overrides)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def spec_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_spec_json(tmp_path_factory.mktemp("spec") / "dataset_spec.json")


@pytest.fixture(scope="session")
def spec(spec_path: Path) -> DatasetSpec:
    return load_spec(spec_path)


@dataclass(frozen=True)
class PipelineRun:
    """Folders of one local run of the four steps."""

    root: Path
    spec_path: Path

    @property
    def data(self) -> Path:
        return self.root / "preprocess"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def evaluation(self) -> Path:
        return self.root / "evaluate"

    @property
    def bias(self) -> Path:
        return self.root / "bias"

    def evaluation_json(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.evaluation / "evaluation" / "evaluation.json").read_text())
        return data

    def analysis(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.bias / "analysis.json").read_text())
        return data


def run_pipeline(root: Path, input_path: Path, spec_path: Path, *hyperparameters: str) -> PipelineRun:
    """preprocess -> train -> evaluate -> bias through each step's ``main``, as the pipeline runs them."""
    run = PipelineRun(root=root, spec_path=spec_path)
    steps = [
        preprocess.main(["--input", str(input_path), "--spec", str(spec_path), "--output", str(run.data)]),
        train.main(
            [
                *("--train", str(run.data / "train"), "--validation", str(run.data / "validation")),
                *("--transform", str(run.data / "transform"), "--model-dir", str(run.model)),
                *hyperparameters,
            ]
        ),
        evaluate.main(
            [
                *("--model", str(run.model), "--test", str(run.data / "test")),
                *("--spec", str(spec_path), "--output", str(run.evaluation)),
            ]
        ),
        bias.main(
            [
                *("--config", str(run.evaluation / "bias" / "analysis_config.json")),
                *("--data", str(run.evaluation / "bias" / "dataset.csv"), "--output", str(run.bias)),
            ]
        ),
    ]
    assert steps == [0, 0, 0, 0]
    return run


def di_of(run: PipelineRun, facet: str) -> float:
    """Disparate impact of a facet, read where the pipeline's bias gate reads it."""
    post = run.analysis()["post_training_bias_metrics"]
    assert isinstance(post, dict)
    first = post["facets"][f"facet_{facet}"][0]["metrics"][0]
    assert first["name"] == "DI"
    value = first["value"]
    assert isinstance(value, float)
    return value


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory, spec_path: Path) -> PipelineRun:
    """The four steps on the shipped sample with the pipeline's default hyperparameters."""
    return run_pipeline(tmp_path_factory.mktemp("sample-run"), SAMPLE, spec_path)
