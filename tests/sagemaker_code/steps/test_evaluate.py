"""Evaluate step on the end-to-end run: metrics at the model's threshold, intervals, the bias report in Clarify's
formats, the gate file, model.tar.gz input, skew and spec checks."""

from __future__ import annotations

import csv
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from sagemaker_code.steps.artifacts import load_model_artifacts
from sagemaker_code.steps.common import StepError, read_xgboost_csv
from sagemaker_code.steps.cost import expected_cost
from sagemaker_code.steps.evaluate import evaluate, main, score_test_split
from sagemaker_code.steps.gates import GateThresholds
from sagemaker_code.steps.prediction_baseline import read_prediction_baseline, score_histogram
from sagemaker_code.steps.spec import DatasetSpec, load_spec
from tests.step_fixtures import GATE_ARGS, PipelineRun, write_spec_json

THRESHOLDS = GateThresholds(auc=0.75, cost_margin=0.05, di_lower=0.8, di_upper=1.25)

METRICS = ("auc", "accuracy", "precision", "recall", "f1", "cost_weighted_error")


def test_sample_reaches_the_quality_bar(sample_run: PipelineRun) -> None:
    metrics = sample_run.evaluation_json()["binary_classification_metrics"]
    assert isinstance(metrics, dict)
    assert metrics["auc"]["value"] >= 0.75


def test_model_metrics_shape_and_consistency(sample_run: PipelineRun) -> None:
    report = sample_run.evaluation_json()
    transform = json.loads((sample_run.model / "transform.json").read_text())
    threshold = transform["label"]["decision_threshold"]
    assert (report["rows"], report["decision_threshold"], report["positive_label"]) == (150, threshold, "1")
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
    assert report["cost"] == {
        "model_per_row": metrics["cost_weighted_error"]["value"],
        "constant_decisions_per_row": {"accept_all": pytest.approx(5 * 45 / 150), "reject_all": pytest.approx(0.7)},
        "cost_matrix": {"false_positive": 5.0, "false_negative": 1.0},
    }
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
        rows = list(csv.DictReader(file, fieldnames=config["headers"]))  # no header row: the config names them
    with (sample_run.data / "test" / "test_raw.csv").open() as file:
        raw = list(csv.DictReader(file))
    assert len(rows) == len(raw) == 150
    for row, source in zip(rows, raw, strict=True):
        assert row["label"] == str(int(source["credit_risk"] == "1"))
        assert row["facet_age"] == str(int(int(source["age_years"]) <= 25))
        assert row["facet_sex"] == str(int(source["personal_status_sex"] in {"A92", "A95"}))
    scores = score_test_split(load_model_artifacts(sample_run.model), sample_run.data / "test", spec)
    threshold = scores.decision_threshold
    assert [int(row["predicted_label"]) for row in rows] == (scores.probabilities >= threshold).astype(int).tolist()
    assert (sample_run.evaluation / "bias" / "analysis.json").is_file()


def test_model_tar_gz_as_the_pipeline_passes_it(sample_run: PipelineRun, spec_path: Path, tmp_path: Path) -> None:
    """The model input holds model.tar.gz (members named like SageMaker's, './'-prefixed)."""
    (tmp_path / "model").mkdir()
    with tarfile.open(tmp_path / "model" / "model.tar.gz", "w:gz") as archive:
        for path in sorted(sample_run.model.rglob("*")):
            archive.add(path, arcname=f"./{path.relative_to(sample_run.model).as_posix()}", recursive=False)
    report = evaluate(
        tmp_path / "model", sample_run.data / "test", load_spec(spec_path), tmp_path / "out", thresholds=THRESHOLDS
    )
    assert report == sample_run.evaluation_json()
    assert (tmp_path / "out" / "bias" / "dataset.csv").read_bytes() == (
        sample_run.evaluation / "bias" / "dataset.csv"
    ).read_bytes()


def test_reproducible(sample_run: PipelineRun, spec: DatasetSpec, tmp_path: Path) -> None:
    evaluate(sample_run.model, sample_run.data / "test", spec, tmp_path, thresholds=THRESHOLDS)
    for name in (
        "evaluation/evaluation.json",
        "bias/dataset.csv",
        "bias/analysis_config.json",
        "bias/analysis.json",
        "gates/gates.json",
    ):
        assert (tmp_path / name).read_bytes() == (sample_run.evaluation / name).read_bytes(), name


@pytest.mark.parametrize("every", [1, 150], ids=["every-row", "the-last-row-only"])
def test_training_serving_skew_stops_the_step(
    sample_run: PipelineRun, spec: DatasetSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: int
) -> None:
    """Any skewed row is found, also past the first slice of the check (7 rows a slice here)."""
    monkeypatch.setattr("sagemaker_code.steps.evaluate.SKEW_CHECK_ROWS", 7)
    test = tmp_path / "test"
    test.mkdir()
    (test / "test.csv").write_bytes((sample_run.data / "test" / "test.csv").read_bytes())
    with (sample_run.data / "test" / "test_raw.csv").open() as file:
        rows = list(csv.reader(file))
    duration, amount = rows[0].index("duration_months"), rows[0].index("credit_amount")
    for index, row in enumerate(rows[1:], start=1):
        if index % every == 0:  # not what test.csv was made from
            row[duration], row[amount] = "72", "18424"
    with (test / "test_raw.csv").open("w", newline="") as file:
        csv.writer(file, lineterminator="\n").writerows(rows)
    with pytest.raises(StepError, match=r"training/serving skew: the raw test rows scored through transform\.json"):
        evaluate(sample_run.model, test, spec, tmp_path / "out", thresholds=THRESHOLDS)


def test_spec_of_another_model_is_refused(sample_run: PipelineRun, tmp_path: Path) -> None:
    spec = load_spec(
        write_spec_json(tmp_path / "spec.json", label={"column": "credit_risk", "values": ["1", "2"], "positive": "2"})
    )
    with pytest.raises(StepError, match=r"the model was trained for label 'credit_risk' == '1', the spec says"):
        evaluate(sample_run.model, sample_run.data / "test", spec, tmp_path / "out", thresholds=THRESHOLDS)


def test_the_models_threshold_decides_not_the_specs(sample_run: PipelineRun, tmp_path: Path) -> None:
    """A spec override applies when training; evaluating a model trained otherwise uses the model's threshold."""
    spec = load_spec(
        write_spec_json(
            tmp_path / "spec.json",
            label={"column": "credit_risk", "values": ["1", "2"], "positive": "1", "decision_threshold": 0.2},
        )
    )
    report = evaluate(sample_run.model, sample_run.data / "test", spec, tmp_path / "out", thresholds=THRESHOLDS)
    assert report["decision_threshold"] == sample_run.evaluation_json()["decision_threshold"] != 0.2
    assert report["binary_classification_metrics"] == sample_run.evaluation_json()["binary_classification_metrics"]


def test_a_transform_without_threshold_is_not_a_model(sample_run: PipelineRun, tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "xgboost-model.json").write_bytes((sample_run.model / "xgboost-model.json").read_bytes())
    (tmp_path / "model" / "transform.json").write_bytes((sample_run.data / "transform" / "transform.json").read_bytes())
    with pytest.raises(StepError, match=r"label\.decision_threshold is null: this is the preprocess step's transform"):
        load_model_artifacts(tmp_path / "model")


def test_intervals_of_the_gated_metrics(sample_run: PipelineRun) -> None:
    report = sample_run.evaluation_json()
    metrics = report["binary_classification_metrics"]
    intervals = report["confidence_intervals"]
    assert isinstance(metrics, dict)
    assert isinstance(intervals, dict)
    assert set(intervals) == {"auc", "cost_per_row", "disparate_impact"}
    assert set(intervals["disparate_impact"]) == {"age", "sex"}
    gates = sample_run.gates()
    assert intervals["auc"] == gates["quality"]["auc_interval"]
    assert intervals["cost_per_row"] == gates["cost"]["model_cost_interval"]
    facets = gates["bias"]["facets"]
    assert isinstance(facets, dict)
    for facet in ("age", "sex"):
        assert intervals["disparate_impact"][facet] == facets[facet]["disparate_impact_interval"]
    for name, metric in (("auc", "auc"), ("cost_per_row", "cost_weighted_error")):
        interval = intervals[name]
        assert interval["lower"] < metrics[metric]["value"] < interval["upper"], name
        assert interval["confidence"] == 0.95
        # a 95 % interval is about 4 standard deviations wide when the bootstrap distribution is near normal
        width = interval["upper"] - interval["lower"]
        deviation = metrics[metric]["standard_deviation"]
        assert 3 * deviation < width < 5 * deviation, name
    assert report["bootstrap"] == {"resamples": 1000, "seed": 42, "confidence": 0.95}


def test_gate_file_matches_the_reports(sample_run: PipelineRun) -> None:
    gates = sample_run.gates()
    report = sample_run.evaluation_json()
    metrics = report["binary_classification_metrics"]
    assert isinstance(metrics, dict)
    auc, cost = metrics["auc"]["value"], metrics["cost_weighted_error"]["value"]
    assert gates["quality"]["auc"] == auc
    assert gates["quality"]["passed"] == int(auc >= 0.75)
    assert gates["cost"]["model_cost_per_row"] == pytest.approx(cost)
    constants = gates["cost"]["constant_costs_per_row"]
    assert isinstance(constants, dict)
    assert gates["cost"]["passed"] == int(cost <= 0.95 * min(constants.values()))
    facets = gates["bias"]["facets"]
    assert isinstance(facets, dict)
    post = sample_run.analysis()["post_training_bias_metrics"]
    assert isinstance(post, dict)
    for facet in ("age", "sex"):
        (di,) = [m["value"] for m in post["facets"][f"facet_{facet}"][0]["metrics"] if m["name"] == "DI"]
        assert facets[facet]["disparate_impact"] == di
        assert f"facet '{facet}' (" in str(gates["bias"]["message"])
    within = all(0.8 <= facets[f]["disparate_impact"] <= 1.25 for f in ("age", "sex"))
    assert gates["bias"]["passed"] == int(within)
    assert gates["decision_threshold"] == report["decision_threshold"]


def test_the_sample_model_beats_rejecting_everyone(sample_run: PipelineRun) -> None:
    """Issue 7 item 9: deciding at 0.5 the model cost 0.99 per test row against 0.70 for rejecting everyone."""
    cost = sample_run.gates()["cost"]
    assert cost["passed"] == 1, cost["message"]
    assert cost["best_constant"] == "reject_all"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--cost-margin", "1.5"), "evaluate failed: CostMargin must be within [0, 1), got 1.5"),
        (("--di-lower", "2"), "evaluate failed: DisparateImpactLower (2) must not exceed DisparateImpactUpper (1.25)"),
    ],
)
def test_bad_gate_settings_stop_the_step(
    sample_run: PipelineRun, tmp_path: Path, change: tuple[str, str], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    gates = list(GATE_ARGS)
    gates[gates.index(change[0]) + 1] = change[1]
    argv = ["--model", str(sample_run.model), "--test", str(sample_run.data / "test"), "--spec"]
    argv += [str(sample_run.spec_path), "--output", str(tmp_path / "out"), *gates]
    assert main(argv) == 1
    assert message in caplog.text
    assert not (tmp_path / "out").exists()


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


def test_prediction_baseline_for_the_monitor(sample_run: PipelineRun, spec: DatasetSpec) -> None:
    report = sample_run.evaluation_json()
    baseline = read_prediction_baseline(report)
    assert baseline is not None
    scores = score_test_split(load_model_artifacts(sample_run.model), sample_run.data / "test", spec)
    assert baseline.rows == 150
    assert np.array_equal(baseline.counts, score_histogram(scores.probabilities, baseline.edges))
    assert baseline.positive_rate == pytest.approx(float(scores.predicted.mean()))
    assert baseline.decision_threshold == report["decision_threshold"]


def test_test_split_of_another_preprocess_run(sample_run: PipelineRun, spec: DatasetSpec, tmp_path: Path) -> None:
    test = tmp_path / "test"
    test.mkdir()
    lines = (sample_run.data / "test" / "test.csv").read_text().splitlines()
    (test / "test.csv").write_text("".join(line.rsplit(",", 1)[0] + "\n" for line in lines))
    (test / "test_raw.csv").write_bytes((sample_run.data / "test" / "test_raw.csv").read_bytes())
    with pytest.raises(StepError, match=r"test\.csv has 60 features, the model takes 61: the model and the test split"):
        evaluate(sample_run.model, test, spec, tmp_path / "out", thresholds=THRESHOLDS)


def test_a_spec_without_facets_passes_the_bias_gate_with_a_message(sample_run: PipelineRun, tmp_path: Path) -> None:
    spec = load_spec(write_spec_json(tmp_path / "spec.json", facets=[]))
    evaluate(sample_run.model, sample_run.data / "test", spec, tmp_path / "out", thresholds=THRESHOLDS)
    gates = json.loads((tmp_path / "out" / "gates" / "gates.json").read_text())
    assert gates["bias"]["passed"] == 1
    assert gates["bias"]["message"].startswith("Bias gate passed: the dataset spec names no facets")
    assert json.loads((tmp_path / "out" / "bias" / "analysis.json").read_text()) == {"version": "1.0"}
    report = json.loads((tmp_path / "out" / "evaluation" / "evaluation.json").read_text())
    assert set(report["confidence_intervals"]) == {"auc", "cost_per_row"}


def test_both_bias_mitigations_side_by_side_on_the_same_test_split(sample_run: PipelineRun, spec: DatasetSpec) -> None:
    """evaluation.json and gates.json name the served model and the comparison model with the same numbers, each
    computed from its own booster on the same test rows."""
    report = sample_run.evaluation_json()
    mitigation = report["bias_mitigation"]
    assert isinstance(mitigation, dict)
    assert mitigation["served"] == "none"
    served, other = mitigation["models"]
    assert (served["mitigation"], served["served"], other["mitigation"], other["served"]) == (
        "none",
        True,
        "reweighing",
        False,
    )
    metrics = report["binary_classification_metrics"]
    assert isinstance(metrics, dict)
    assert served["auc"] == metrics["auc"]["value"]
    assert served["cost_per_row"] == pytest.approx(metrics["cost_weighted_error"]["value"])
    assert served["decision_threshold"] == report["decision_threshold"]
    facets = sample_run.gates()["bias"]["facets"]
    assert isinstance(facets, dict)
    assert served["disparate_impact"] == {name: facets[name]["disparate_impact"] for name in ("age", "sex")}
    # the comparison model, scored here from its own files
    y, features = read_xgboost_csv(sample_run.data / "test" / "test.csv", "test")
    booster = xgb.Booster(model_file=str(sample_run.model / "comparison" / "xgboost-model.json"))
    threshold = json.loads((sample_run.model / "comparison" / "transform.json").read_text())["label"]
    probabilities = booster.predict(xgb.DMatrix(features, feature_names=booster.feature_names))
    predicted = probabilities >= threshold["decision_threshold"]
    assert other["decision_threshold"] == threshold["decision_threshold"]
    assert other["cost_per_row"] == pytest.approx(expected_cost(y, predicted, 5, 1))
    assert other["predicted_positive_rate"] == pytest.approx(predicted.mean())
    assert other["auc"] != served["auc"]
    assert sample_run.gates()["bias"]["bias_mitigation"] == mitigation["models"]
    assert "Same test split: served (none) DI age " in str(sample_run.gates()["bias"]["message"])


def test_a_model_without_a_comparison_reports_the_served_one(
    sample_run: PipelineRun, spec: DatasetSpec, tmp_path: Path
) -> None:
    """A model folder without comparison/ (a spec without facets, or an older model): only the served model."""
    model = tmp_path / "model"
    model.mkdir()
    for name in ("xgboost-model.json", "transform.json"):
        (model / name).write_bytes((sample_run.model / name).read_bytes())
    report = evaluate(model, sample_run.data / "test", spec, tmp_path / "out", thresholds=THRESHOLDS)
    mitigation = report["bias_mitigation"]
    assert isinstance(mitigation, dict)
    assert [m["mitigation"] for m in mitigation["models"]] == ["none"]
