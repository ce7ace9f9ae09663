"""Evaluate step on the end-to-end run: model metrics, the bias inputs, model.tar.gz input, skew and spec checks."""

from __future__ import annotations

import csv
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from sagemaker_code.common import StepError
from sagemaker_code.evaluate import evaluate, load_model_artifacts, score_test_split
from sagemaker_code.spec import DatasetSpec, load_spec
from tests.sagemaker_code.conftest import PipelineRun, write_spec_json

METRICS = ("auc", "accuracy", "precision", "recall", "f1", "cost_weighted_error")


def test_sample_reaches_the_quality_bar(sample_run: PipelineRun) -> None:
    metrics = sample_run.evaluation_json()["binary_classification_metrics"]
    assert isinstance(metrics, dict)
    assert metrics["auc"]["value"] >= 0.75


def test_model_metrics_shape_and_consistency(sample_run: PipelineRun) -> None:
    report = sample_run.evaluation_json()
    assert (report["rows"], report["decision_threshold"], report["positive_label"]) == (150, 0.5, "1")
    metrics = report["binary_classification_metrics"]
    assert isinstance(metrics, dict)
    for name in METRICS:
        assert set(metrics[name]) == {"value", "standard_deviation"}
        assert 0 <= metrics[name]["standard_deviation"] < 0.5, name
    assert metrics["auc"]["standard_deviation"] > 0
    matrix = metrics["confusion_matrix"]
    tn, fp, fn, tp = matrix["0"]["0"], matrix["0"]["1"], matrix["1"]["0"], matrix["1"]["1"]
    assert tn + fp == 45
    assert fn + tp == 105
    assert metrics["accuracy"]["value"] == pytest.approx((tp + tn) / 150)
    assert metrics["precision"]["value"] == pytest.approx(tp / (tp + fp))
    assert metrics["recall"]["value"] == pytest.approx(tp / (tp + fn))
    assert metrics["cost_weighted_error"]["value"] == pytest.approx((5 * fp + 1 * fn) / 150)
    curve = metrics["receiver_operating_characteristic_curve"]
    assert curve["false_positive_rates"][0] == 0.0
    assert curve["true_positive_rates"][-1] == 1.0


def test_bias_inputs(sample_run: PipelineRun, spec: DatasetSpec) -> None:
    config = json.loads((sample_run.evaluation / "bias" / "analysis_config.json").read_text())
    assert config == {
        "dataset_type": "text/csv",
        "headers": ["label", "predicted_label", "facet_age", "facet_sex"],
        "label": "label",
        "predicted_label": "predicted_label",
        "label_values_or_threshold": [1],
        "facet": [
            {"name_or_index": "facet_age", "value_or_threshold": [1]},
            {"name_or_index": "facet_sex", "value_or_threshold": [1]},
        ],
        "methods": {
            "pre_training_bias": {"methods": ["CI", "DPL"]},
            "post_training_bias": {"methods": ["DI", "DPPL", "RD"]},
        },
    }
    with (sample_run.evaluation / "bias" / "dataset.csv").open() as file:
        rows = list(csv.DictReader(file))
    with (sample_run.data / "test" / "test_raw.csv").open() as file:
        raw = list(csv.DictReader(file))
    assert len(rows) == len(raw) == 150
    for row, source in zip(rows, raw, strict=True):
        assert row["label"] == str(int(source["credit_risk"] == "1"))
        assert row["facet_age"] == str(int(int(source["age_years"]) <= 25))
        assert row["facet_sex"] == str(int(source["personal_status_sex"] in {"A92", "A95"}))
    scores = score_test_split(load_model_artifacts(sample_run.model), sample_run.data / "test", spec)
    assert [int(row["predicted_label"]) for row in rows] == (scores.probabilities >= 0.5).astype(int).tolist()


def test_model_tar_gz_as_the_pipeline_passes_it(sample_run: PipelineRun, spec_path: Path, tmp_path: Path) -> None:
    """The model input holds model.tar.gz (members named like SageMaker's, './'-prefixed)."""
    (tmp_path / "model").mkdir()
    with tarfile.open(tmp_path / "model" / "model.tar.gz", "w:gz") as archive:
        for path in sorted(sample_run.model.rglob("*")):
            archive.add(path, arcname=f"./{path.relative_to(sample_run.model).as_posix()}", recursive=False)
    report = evaluate(tmp_path / "model", sample_run.data / "test", load_spec(spec_path), tmp_path / "out")
    assert report == sample_run.evaluation_json()
    assert (tmp_path / "out" / "bias" / "dataset.csv").read_bytes() == (
        sample_run.evaluation / "bias" / "dataset.csv"
    ).read_bytes()


def test_reproducible(sample_run: PipelineRun, spec: DatasetSpec, tmp_path: Path) -> None:
    evaluate(sample_run.model, sample_run.data / "test", spec, tmp_path)
    for name in ("evaluation/evaluation.json", "bias/dataset.csv", "bias/analysis_config.json"):
        assert (tmp_path / name).read_bytes() == (sample_run.evaluation / name).read_bytes(), name


def test_training_serving_skew_stops_the_step(sample_run: PipelineRun, spec: DatasetSpec, tmp_path: Path) -> None:
    test = tmp_path / "test"
    test.mkdir()
    (test / "test.csv").write_bytes((sample_run.data / "test" / "test.csv").read_bytes())
    with (sample_run.data / "test" / "test_raw.csv").open() as file:
        rows = list(csv.reader(file))
    duration = rows[0].index("duration_months")
    for row in rows[1:]:
        row[duration] = "72"  # not what test.csv was made from
    with (test / "test_raw.csv").open("w", newline="") as file:
        csv.writer(file, lineterminator="\n").writerows(rows)
    with pytest.raises(StepError, match=r"training/serving skew: the raw test rows scored through transform\.json"):
        evaluate(sample_run.model, test, spec, tmp_path / "out")


def test_spec_of_another_model_is_refused(sample_run: PipelineRun, tmp_path: Path) -> None:
    spec = load_spec(
        write_spec_json(
            tmp_path / "spec.json",
            label={"column": "credit_risk", "values": ["1", "2"], "positive": "2", "decision_threshold": 0.5},
        )
    )
    with pytest.raises(StepError, match=r"the model was trained for label 'credit_risk' == '1' at threshold 0\.5"):
        evaluate(sample_run.model, sample_run.data / "test", spec, tmp_path / "out")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param(lambda root: root.mkdir(), "expected one model.tar.gz or an unpacked model", id="empty-folder"),
        pytest.param(lambda root: None, "model not found", id="missing"),
        pytest.param(
            lambda root: (root.mkdir(), (root / "model.tar.gz").write_bytes(b"not gzip")),
            "not a readable .tar.gz archive",
            id="not-an-archive",
        ),
    ],
)
def test_bad_model_input(setup: object, message: str, tmp_path: Path) -> None:
    assert callable(setup)
    setup(tmp_path / "model")
    with pytest.raises(StepError, match=message):
        load_model_artifacts(tmp_path / "model")


def test_archive_without_transform(sample_run: PipelineRun, tmp_path: Path) -> None:
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as archive:
        archive.add(sample_run.model / "xgboost-model.json", arcname="xgboost-model.json")
    with pytest.raises(StepError, match=r"the archive has no transform\.json; it has \['xgboost-model\.json'\]"):
        load_model_artifacts(tmp_path / "model.tar.gz")


def test_probabilities_match_the_booster(sample_run: PipelineRun, spec: DatasetSpec) -> None:
    model = load_model_artifacts(sample_run.model)
    scores = score_test_split(model, sample_run.data / "test", spec)
    assert scores.probabilities.shape == (150,)
    assert np.all((scores.probabilities > 0) & (scores.probabilities < 1))


def test_test_split_of_another_preprocess_run(sample_run: PipelineRun, spec: DatasetSpec, tmp_path: Path) -> None:
    test = tmp_path / "test"
    test.mkdir()
    lines = (sample_run.data / "test" / "test.csv").read_text().splitlines()
    (test / "test.csv").write_text("".join(line.rsplit(",", 1)[0] + "\n" for line in lines))
    (test / "test_raw.csv").write_bytes((sample_run.data / "test" / "test_raw.csv").read_bytes())
    with pytest.raises(StepError, match=r"test\.csv has 60 features, the model takes 61: the model and the test split"):
        evaluate(sample_run.model, test, spec, tmp_path / "out")
