"""Fixtures of the step tests: the shipped dataset spec and hyperparameter table as the steps receive them, and one
end-to-end run.

The end-to-end run (preprocess -> train -> evaluate, which also writes the bias report and the gate file, on the
German Credit sample, in a temporary folder) is made once per session and shared by the tests that inspect its
outputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.dataset_spec import DatasetSpec as SpecModel
from config.loader import read_yaml
from sagemaker_code.definition.settings import hyperparameter_table
from sagemaker_code.steps import bias, contract, evaluate, preprocess, train
from sagemaker_code.steps.hyperparameters import table_json
from sagemaker_code.steps.spec import DatasetSpec, load_spec

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_YAML = REPO_ROOT / "config" / "datasets" / "german_credit.yaml"
SAMPLE = REPO_ROOT / "data" / "german_credit" / "german.data"
#: The gate settings of the shipped config (config/model_build.py defaults), as the pipeline passes them.
GATE_ARGS = ("--auc-threshold", "0.75", "--cost-margin", "0.05", "--di-lower", "0.8", "--di-upper", "1.25")


def write_spec_json(path: Path, yaml_path: Path = SPEC_YAML, **overrides: object) -> Path:
    """The spec file as the app writes it: the YAML validated by the pydantic model, dumped as JSON."""
    data = SpecModel.model_validate(read_yaml(yaml_path)).model_dump(mode="json")
    data.update(overrides)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_hyperparameter_table(path: Path) -> Path:
    """The table as the bundle carries it: derived from the config schema (sagemaker_code.definition.bundle)."""
    path.write_text(json.dumps(table_json(hyperparameter_table())), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def spec_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_spec_json(tmp_path_factory.mktemp("spec") / contract.SPEC_FILE)


@pytest.fixture(scope="session")
def hyperparameter_table_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hyperparameter_table(tmp_path_factory.mktemp("hyperparameters") / contract.HYPERPARAMETER_TABLE)


@pytest.fixture(scope="session")
def spec(spec_path: Path) -> DatasetSpec:
    return load_spec(spec_path)


@dataclass(frozen=True)
class PipelineRun:
    """Folders of one local run of the four steps."""

    root: Path
    spec_path: Path
    hyperparameter_table: Path

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
        return self.evaluation / "bias"

    def evaluation_json(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.evaluation / "evaluation" / "evaluation.json").read_text())
        return data

    def analysis(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.bias / "analysis.json").read_text())
        return data

    def gates(self) -> dict[str, dict[str, object]]:
        data: dict[str, dict[str, object]] = json.loads((self.evaluation / "gates" / "gates.json").read_text())
        return data

    def training_json(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.model / "training.json").read_text())
        return data


def run_pipeline(
    root: Path,
    input_path: Path,
    spec_path: Path,
    table: Path,
    *hyperparameters: str,
    gates: tuple[str, ...] = GATE_ARGS,
) -> PipelineRun:
    """preprocess -> train -> evaluate through each step's ``main``, as the pipeline runs them."""
    run = PipelineRun(root=root, spec_path=spec_path, hyperparameter_table=table)
    steps = [
        preprocess.main(["--input", str(input_path), "--spec", str(spec_path), "--output", str(run.data)]),
        train.main(
            [
                *("--train", str(run.data / "train"), "--validation", str(run.data / "validation")),
                *("--transform", str(run.data / "transform"), "--model-dir", str(run.model)),
                *("--spec", str(spec_path), "--hyperparameter-table", str(table), *hyperparameters),
            ]
        ),
        evaluate.main(
            [
                *("--model", str(run.model), "--test", str(run.data / "test")),
                *("--spec", str(spec_path), "--output", str(run.evaluation), *gates),
            ]
        ),
    ]
    assert steps == [0, 0, 0]
    return run


def di_of(run: PipelineRun, facet: str) -> float | None:
    """Disparate impact of a facet in the bias report, found by name (as the Evaluate step's bias gate reads it)."""
    return bias.metric_value(
        run.analysis(), evaluate.POST_TRAINING, f"{contract.FACET_PREFIX}{facet}", contract.DISPARATE_IMPACT
    )


@pytest.fixture(scope="session")
def sample_run(
    tmp_path_factory: pytest.TempPathFactory, spec_path: Path, hyperparameter_table_path: Path
) -> PipelineRun:
    """The four steps on the shipped sample with the pipeline's default hyperparameters."""
    return run_pipeline(tmp_path_factory.mktemp("sample-run"), SAMPLE, spec_path, hyperparameter_table_path)
