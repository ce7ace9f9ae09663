"""Bias metrics: hand-computed values, Clarify's formats (no header row with headers), undefined values, config errors,
metrics found by name, a biased model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from sagemaker_code.steps.bias import analyze, main, metric_value, parse_config, read_dataset, run
from sagemaker_code.steps.common import StepError
from tests.step_fixtures import SAMPLE, PipelineRun, di_of, run_pipeline

HEADERS = ["label", "predicted_label", "facet_x"]
# The first 4 rows are the facet's group d (facet_x = 1), the last 6 the rest a (facet_x = 0).
LABELS = [1, 0, 0, 0, 1, 1, 1, 0, 0, 1]
PREDICTED = [1, 0, 1, 0, 1, 1, 0, 0, 1, 1]
FACET = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
CONFIG = {
    "dataset_type": "text/csv",
    "headers": HEADERS,
    "label": "label",
    "predicted_label": "predicted_label",
    "label_values_or_threshold": [1],
    "facet": [{"name_or_index": "facet_x", "value_or_threshold": [1]}],
    "methods": {
        "pre_training_bias": {"methods": ["CI", "DPL"]},
        "post_training_bias": {"methods": ["DI", "DPPL", "RD"]},
    },
}


def write_dataset(path: Path, labels: list[int], predicted: list[int], facet: list[int], header: bool = False) -> Path:
    """The dataset as Clarify reads it with ``headers`` in the config: data rows only (``header`` adds one)."""
    lines = ([",".join(HEADERS)] if header else []) + [
        f"{a},{b},{c}" for a, b, c in zip(labels, predicted, facet, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def values(analysis: dict[str, object], stage: str) -> dict[str, float | None]:
    section = analysis[stage]
    assert isinstance(section, dict)
    return {metric["name"]: metric["value"] for metric in section["facets"]["facet_x"][0]["metrics"]}


def test_hand_computed_metrics(tmp_path: Path) -> None:
    # n_d = 4, n_a = 6; labels: q_d = 1/4, q_a = 4/6; predictions: q'_d = 2/4, q'_a = 4/6;
    # recall_d = 1/1 (one favourable row in d, predicted favourable), recall_a = 3/4.
    analysis = analyze(
        parse_config(CONFIG), read_dataset(write_dataset(tmp_path / "d.csv", LABELS, PREDICTED, FACET), HEADERS)
    )
    assert values(analysis, "pre_training_bias_metrics") == {
        "CI": pytest.approx((6 - 4) / 10),
        "DPL": pytest.approx(4 / 6 - 1 / 4),
    }
    assert values(analysis, "post_training_bias_metrics") == {
        "DI": pytest.approx((2 / 4) / (4 / 6)),
        "DPPL": pytest.approx(4 / 6 - 2 / 4),
        "RD": pytest.approx(3 / 4 - 1),
    }


def test_clarify_output_format(tmp_path: Path) -> None:
    write_dataset(tmp_path / "dataset.csv", LABELS, PREDICTED, FACET)
    (tmp_path / "analysis_config.json").write_text(json.dumps(CONFIG))
    analysis = run(tmp_path / "analysis_config.json", tmp_path / "dataset.csv", tmp_path / "out")
    assert json.loads((tmp_path / "out" / "analysis.json").read_text()) == analysis
    assert analysis["version"] == "1.0"
    post = analysis["post_training_bias_metrics"]
    assert isinstance(post, dict)
    assert post["label"] == "label"
    assert post["label_value_or_threshold"] == "1"
    (facet,) = post["facets"]["facet_x"]
    assert facet["value_or_threshold"] == "1"
    assert [(m["name"], m["description"]) for m in facet["metrics"]] == [
        ("DI", "Disparate Impact (DI)"),
        ("DPPL", "Difference in Positive Proportions in Predicted Labels (DPPL)"),
        ("RD", "Recall Difference (RD)"),
    ]
    pre = analysis["pre_training_bias_metrics"]
    assert isinstance(pre, dict)
    assert [m["description"] for m in pre["facets"]["facet_x"][0]["metrics"]] == [
        "Class Imbalance (CI)",
        "Difference in Positive Proportions in Labels (DPL)",
    ]


def test_methods_in_config_order_and_all(tmp_path: Path) -> None:
    data = read_dataset(write_dataset(tmp_path / "d.csv", LABELS, PREDICTED, FACET), HEADERS)
    config = {**CONFIG, "methods": {"post_training_bias": {"methods": ["RD", "DI"]}}}
    analysis = analyze(parse_config(config), data)
    assert list(values(analysis, "post_training_bias_metrics")) == ["RD", "DI"]
    assert "pre_training_bias_metrics" not in analysis
    config = {**CONFIG, "methods": {"post_training_bias": {"methods": "all"}}}
    assert list(values(analyze(parse_config(config), data), "post_training_bias_metrics")) == ["DI", "DPPL", "RD"]


def test_undefined_values_are_null_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # No row in the facet's group, and no favourable prediction at all.
    data = read_dataset(write_dataset(tmp_path / "d.csv", LABELS, [0] * 10, [0] * 10), HEADERS)
    with caplog.at_level(logging.WARNING):
        analysis = analyze(parse_config(CONFIG), data)
    assert values(analysis, "pre_training_bias_metrics") == {"CI": 1.0, "DPL": None}
    assert values(analysis, "post_training_bias_metrics") == {"DI": None, "DPPL": None, "RD": None}
    assert "facet_x DI is undefined (an empty group or a zero denominator): written as null" in caplog.text
    assert "NaN" not in json.dumps(analysis)


def test_facet_by_index(tmp_path: Path) -> None:
    path = write_dataset(tmp_path / "d.csv", LABELS, PREDICTED, FACET)
    config = {**CONFIG, "facet": [{"name_or_index": 2, "value_or_threshold": [1]}]}
    analysis = analyze(parse_config(config), read_dataset(path, HEADERS))
    assert values(analysis, "post_training_bias_metrics")["DI"] == pytest.approx(0.75)


def test_a_header_row_with_configured_headers_is_an_error(tmp_path: Path) -> None:
    """Clarify reads every row as data when the config gives headers: a header row would be scored as a data row."""
    path = write_dataset(tmp_path / "d.csv", LABELS, PREDICTED, FACET, header=True)
    with pytest.raises(StepError) as info:
        read_dataset(path, HEADERS)
    assert str(info.value) == (
        f"{path}: row 1 equals the headers of the analysis config; when the config gives headers, Clarify reads "
        "every row of the dataset as data, so the dataset must have no header row"
    )


def test_without_configured_headers_each_file_starts_with_its_header(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    write_dataset(tmp_path / "data" / "a.csv", LABELS[:4], PREDICTED[:4], FACET[:4], header=True)
    write_dataset(tmp_path / "data" / "b.csv", LABELS[4:], PREDICTED[4:], FACET[4:], header=True)
    columns = read_dataset(tmp_path / "data", None)
    assert list(columns) == HEADERS
    assert columns["label"] == [str(v) for v in LABELS]  # both headers read as headers, not as data
    (tmp_path / "data" / "b.csv").write_text("label,predicted,facet_x\n1,1,0\n")
    with pytest.raises(StepError, match=r"b\.csv: header row \['label', 'predicted', 'facet_x'\] differs from"):
        read_dataset(tmp_path / "data", None)


def test_metrics_are_found_by_name_not_position(tmp_path: Path) -> None:
    data = read_dataset(write_dataset(tmp_path / "d.csv", LABELS, PREDICTED, FACET), HEADERS)
    reordered = analyze(
        parse_config({**CONFIG, "methods": {"post_training_bias": {"methods": ["RD", "DPPL", "DI"]}}}), data
    )
    assert metric_value(reordered, "post_training_bias_metrics", "facet_x", "DI") == pytest.approx((2 / 4) / (4 / 6))
    assert metric_value(reordered, "post_training_bias_metrics", "facet_x", "RD") == pytest.approx(3 / 4 - 1)
    with pytest.raises(StepError, match=r"post_training_bias_metrics\.facets\.facet_x has 0 metrics named 'CI'"):
        metric_value(reordered, "post_training_bias_metrics", "facet_x", "CI")
    with pytest.raises(StepError, match=r"no pre_training_bias_metrics\.facets\.facet_x in the bias report"):
        metric_value(reordered, "pre_training_bias_metrics", "facet_x", "CI")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"methods": {"post_training_bias": {"methods": ["DI", "TE"]}}},
            "analysis config: methods.post_training_bias.methods: unknown method 'TE'; this module computes DI, "
            "DPPL, RD",
            id="unknown-method",
        ),
        pytest.param(
            {"methods": {"pre_training_bias": {"methods": ["KL"]}}},
            "analysis config: methods.pre_training_bias.methods: unknown method 'KL'; this module computes CI, DPL",
            id="unknown-pre-training-method",
        ),
        pytest.param(
            {"methods": {"shap": {}}},
            "analysis config: methods.shap: this module computes only ['post_training_bias', 'pre_training_bias']",
            id="unknown-analysis",
        ),
        pytest.param(
            {"predicted_label": None},
            "analysis config: predicted_label: post_training_bias needs the predicted label column",
            id="no-predicted-label",
        ),
        pytest.param(
            {"facet": []},
            "analysis config: facet: must be a non-empty list of facets, got []",
            id="no-facets",
        ),
        pytest.param(
            {"dataset_type": "application/jsonlines"},
            "analysis config: dataset_type: only 'text/csv' is supported here, got 'application/jsonlines'",
            id="jsonlines",
        ),
    ],
)
def test_config_errors(change: dict[str, object], message: str) -> None:
    with pytest.raises(StepError) as info:
        parse_config({**CONFIG, **change})
    assert str(info.value) == message


def test_facet_column_not_in_data(tmp_path: Path) -> None:
    data = read_dataset(write_dataset(tmp_path / "d.csv", LABELS, PREDICTED, FACET), HEADERS)
    config = {**CONFIG, "facet": [{"name_or_index": "facet_y", "value_or_threshold": [1]}]}
    with pytest.raises(StepError, match=r"facet: column 'facet_y' is not in the dataset \(columns \['label',"):
        analyze(parse_config(config), data)


def test_main_with_a_data_folder(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "data").mkdir()
    write_dataset(tmp_path / "data" / "dataset.csv", LABELS, PREDICTED, FACET)
    (tmp_path / "analysis_config.json").write_text(json.dumps(CONFIG))
    argv = ["--config", str(tmp_path / "analysis_config.json"), "--data", str(tmp_path / "data")]
    assert main([*argv, "--output", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "analysis.json").is_file()
    assert main(["--config", str(tmp_path / "nope.json"), "--data", str(tmp_path / "data")]) == 1
    assert f"bias failed: analysis config not found: {tmp_path / 'nope.json'}" in caplog.text


def test_sample_run_analysis_matches_the_decisions(sample_run: PipelineRun) -> None:
    """The Evaluate step's report: DI of each facet is q'_d / q'_a of the predictions it wrote to the dataset."""
    rows = [line.split(",") for line in (sample_run.bias / "dataset.csv").read_text().splitlines()]
    assert rows[0] != ["label", "predicted_label", "facet_age", "facet_sex"]  # no header row
    for index, facet in enumerate(("age", "sex"), start=2):
        inside = [row for row in rows if row[index] == "1"]
        outside = [row for row in rows if row[index] == "0"]
        expected = (sum(r[1] == "1" for r in inside) / len(inside)) / (sum(r[1] == "1" for r in outside) / len(outside))
        assert di_of(sample_run, facet) == pytest.approx(expected)


def test_a_biased_model_has_a_low_disparate_impact(
    tmp_path: Path, spec_path: Path, hyperparameter_table_path: Path
) -> None:
    """Flip 80 % of the favourable labels of applicants aged <= 25: the model learns it, DI(age) drops."""
    lines = SAMPLE.read_text().splitlines()
    biased = []
    for number, line in enumerate(lines):
        fields = line.split(" ")
        if int(fields[12]) <= 25 and fields[20] == "1" and number % 5 != 0:
            fields[20] = "2"
        biased.append(" ".join(fields))
    (tmp_path / "biased.data").write_text("\n".join(biased) + "\n")
    run = run_pipeline(tmp_path / "run", tmp_path / "biased.data", spec_path, hyperparameter_table_path)
    di = di_of(run, "age")
    assert di is not None
    assert di < 0.5
    dpl = metric_value(run.analysis(), "pre_training_bias_metrics", "facet_age", "DPL")
    assert dpl is not None
    assert dpl > 0.3  # the labels themselves are biased
