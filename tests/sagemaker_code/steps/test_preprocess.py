"""Preprocess step: input validation (exact messages), the split, the outputs, the baseline and reproducibility."""

from __future__ import annotations

import csv
import json
import logging
import statistics
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest

from sagemaker_code.steps.baseline import data_quality_baseline
from sagemaker_code.steps.common import StepError
from sagemaker_code.steps.preprocess import (
    DataValidationError,
    main,
    min_rows_per_class,
    preprocess,
    read_table,
    stratified_split,
)
from sagemaker_code.steps.spec import CsvFormat, DatasetSpec, Split, load_spec
from sagemaker_code.steps.transform import NumericFeature, Transform
from tests.step_fixtures import SAMPLE, PipelineRun, write_spec_json

LINES = SAMPLE.read_text().splitlines()


def sample_train_file(tmp_path: Path, spec: DatasetSpec) -> Path:
    """The train split of the sample in one file (parts=1)."""
    preprocess(SAMPLE, spec, tmp_path / "one", parts=1)
    return tmp_path / "one" / "train" / "train.csv"


FEATURES = 61


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def with_field(line: str, index: int, value: str) -> str:
    fields = line.split(" ")
    fields[index] = value
    return " ".join(fields)


def failure(input_path: Path, spec: DatasetSpec, tmp_path: Path) -> str:
    with pytest.raises(DataValidationError) as info:
        preprocess(input_path, spec, tmp_path / "out")
    return str(info.value)


class TestBadInput:
    def test_missing_input(self, spec: DatasetSpec, tmp_path: Path) -> None:
        assert failure(tmp_path / "nope", spec, tmp_path) == f"input not found: {tmp_path / 'nope'}"

    def test_empty_folder(self, spec: DatasetSpec, tmp_path: Path) -> None:
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / ".hidden").write_text("ignored\n")
        assert failure(tmp_path / "data", spec, tmp_path) == f"input folder is empty: {tmp_path / 'data'}"

    def test_empty_file(self, spec: DatasetSpec, tmp_path: Path) -> None:
        write_lines(tmp_path / "data" / "a.data", LINES[:20])
        (tmp_path / "data" / "b.data").write_text("\n  \n")
        assert failure(tmp_path / "data", spec, tmp_path) == "b.data: file is empty"

    def test_not_utf8(self, spec: DatasetSpec, tmp_path: Path) -> None:
        path = tmp_path / "german.data"
        path.write_bytes(LINES[0].encode() + b"\n\xff\xfe\n")
        assert failure(path, spec, tmp_path) == f"german.data: not UTF-8 text (byte {len(LINES[0]) + 1})"

    def test_wrong_field_count_names_the_rows(self, spec: DatasetSpec, tmp_path: Path) -> None:
        lines = list(LINES[:50])
        lines[2] = lines[2].rsplit(" ", 1)[0]  # line 3: 20 fields
        lines[7] += " 1"  # line 8: 22 fields
        path = write_lines(tmp_path / "german.data", lines)
        assert failure(path, spec, tmp_path) == (
            "2 rows with the wrong number of fields (expected the spec's 21 columns): "
            "german.data line 3 has 20, german.data line 8 has 22"
        )

    def test_non_numeric_values_name_column_rows_and_values(self, spec: DatasetSpec, tmp_path: Path) -> None:
        lines = list(LINES[:50])
        lines[4] = with_field(lines[4], 1, "abc")  # duration_months
        lines[8] = with_field(lines[8], 1, "12x")
        path = write_lines(tmp_path / "german.data", lines)
        assert failure(path, spec, tmp_path) == (
            "column 'duration_months' (numeric): 2 rows with a value that is not a number: "
            "'abc' (german.data line 5), '12x' (german.data line 9)"
        )

    def test_unknown_label_value(self, spec: DatasetSpec, tmp_path: Path) -> None:
        lines = list(LINES[:50])
        lines[3] = with_field(lines[3], 20, "3")
        path = write_lines(tmp_path / "german.data", lines)
        assert failure(path, spec, tmp_path) == (
            "label column 'credit_risk': 1 row with a value outside label.values ['1', '2']: '3' (german.data line 4)"
        )

    def test_every_value_problem_is_reported_at_once(self, spec: DatasetSpec, tmp_path: Path) -> None:
        lines = list(LINES[:50])
        lines[0] = with_field(lines[0], 12, "old")  # age_years
        lines[1] = with_field(lines[1], 20, "good")
        path = write_lines(tmp_path / "german.data", lines)
        assert failure(path, spec, tmp_path).splitlines() == [
            "column 'age_years' (numeric): 1 row with a value that is not a number: 'old' (german.data line 1)",
            "label column 'credit_risk': 1 row with a value outside label.values ['1', '2']: "
            "'good' (german.data line 2)",
        ]

    def test_single_class(self, spec: DatasetSpec, tmp_path: Path) -> None:
        path = write_lines(tmp_path / "german.data", [with_field(line, 20, "1") for line in LINES[:40]])
        assert failure(path, spec, tmp_path) == (
            "label column 'credit_risk' has only one class: all 40 rows are '1'; "
            "a binary classifier needs rows of both ['1', '2']"
        )

    def test_too_few_rows_to_split(self, spec: DatasetSpec, tmp_path: Path) -> None:
        good = [line for line in LINES if line.endswith(" 1")][:5]
        bad = [line for line in LINES if line.endswith(" 2")][:2]
        path = write_lines(tmp_path / "german.data", good + bad)
        assert failure(path, spec, tmp_path) == (
            "too few rows to split: 7 rows (5 of class '1', 2 of class '2'); a stratified split with validation "
            "0.15 and test 0.15 needs at least 3 rows of each class (at least 6 rows)"
        )

    def test_header_file_missing_a_column(self, tmp_path: Path) -> None:
        spec = header_spec(tmp_path)
        frame = read_table(SAMPLE, spec.column_names, CsvFormat(header=False, delimiter=" ", missing_values=()))
        path = tmp_path / "data.csv"
        frame.frame.drop(columns=["age_years"]).to_csv(path, index=False)
        header = [name for name in spec.column_names if name != "age_years"]
        assert failure(path, spec, tmp_path) == (
            f"data.csv: the header (line 1) lacks the columns ['age_years']; it has {header}"
        )

    def test_header_only_file(self, tmp_path: Path) -> None:
        spec = header_spec(tmp_path)
        path = tmp_path / "data.csv"
        path.write_text(",".join(spec.column_names) + "\n")
        assert failure(path, spec, tmp_path) == "data.csv: has a header but no data rows"

    def test_main_logs_the_message_and_exits_non_zero(
        self, spec_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        path = write_lines(tmp_path / "german.data", [with_field(line, 20, "2") for line in LINES[:40]])
        with caplog.at_level(logging.ERROR):
            code = main(["--input", str(path), "--spec", str(spec_path), "--output", str(tmp_path / "out")])
        assert code == 1
        assert "preprocess failed: label column 'credit_risk' has only one class: all 40 rows are '2'" in caplog.text
        assert not (tmp_path / "out").exists()  # nothing is written before the input is valid


def header_spec(tmp_path: Path) -> DatasetSpec:
    """The sample's spec, for CSV files with a header and '?' for missing values."""
    fmt = {"type": "csv", "header": True, "delimiter": ",", "missing_values": ["?"]}
    return load_spec(write_spec_json(tmp_path / "header_spec.json", format=fmt))


class TestSplit:
    def test_min_rows_per_class(self) -> None:
        assert min_rows_per_class(Split(validation=0.15, test=0.15, seed=1)) == 3
        assert min_rows_per_class(Split(validation=0.45, test=0.45, seed=1)) == 11

    def test_stratified_disjoint_complete_and_seeded(self, spec: DatasetSpec) -> None:
        y = np.array([1] * 700 + [0] * 300)
        parts = stratified_split(y, spec.label, spec.split)
        rows = np.concatenate(list(parts.values()))
        assert sorted(rows.tolist()) == list(range(1000))
        assert {name: len(part) for name, part in parts.items()} == {"train": 700, "validation": 150, "test": 150}
        assert {name: float(y[part].mean()) for name, part in parts.items()} == {
            "train": 0.7,
            "validation": 0.7,
            "test": 0.7,
        }
        again = stratified_split(y, spec.label, spec.split)
        assert all(np.array_equal(parts[name], again[name]) for name in parts)
        other = stratified_split(y, spec.label, Split(validation=0.15, test=0.15, seed=7))
        assert not np.array_equal(parts["test"], other["test"])

    def test_every_split_gets_each_class_at_the_minimum(self, spec: DatasetSpec) -> None:
        y = np.array([1, 1, 1, 0, 0, 0])
        parts = stratified_split(y, spec.label, spec.split)
        assert all(sorted(y[part].tolist()) == [0, 1] for part in parts.values())


class TestOutputs:
    def test_layout(self, sample_run: PipelineRun) -> None:
        files = sorted(p.relative_to(sample_run.data).as_posix() for p in sample_run.data.rglob("*") if p.is_file())
        assert files == [
            "baseline/constraints.json",
            "baseline/statistics.json",
            "fingerprint/fingerprint.json",
            "report/preprocess.json",
            "test/test.csv",
            "test/test_raw.csv",
            "train/train.csv",
            "transform/transform.json",
            "validation/validation.csv",
        ]

    def test_xgboost_csv_files(self, sample_run: PipelineRun) -> None:
        for name, rows in (("train", 700), ("validation", 150), ("test", 150)):
            data = np.loadtxt(sample_run.data / name / f"{name}.csv", delimiter=",")
            assert data.shape == (rows, 1 + FEATURES)
            assert set(np.unique(data[:, 0]).tolist()) == {0.0, 1.0}
            assert data[:, 0].mean() == pytest.approx(0.7)  # 1 = positive = good credit, 70 % in the sample

    def test_the_train_split_in_parts_for_several_training_instances(self, spec: DatasetSpec, tmp_path: Path) -> None:
        preprocess(SAMPLE, spec, tmp_path, parts=3)
        files = sorted((tmp_path / "train").iterdir())
        assert [f.name for f in files] == ["train-00000.csv", "train-00001.csv", "train-00002.csv"]
        parts = [np.loadtxt(f, delimiter=",") for f in files]
        assert sorted(len(part) for part in parts) == [233, 233, 234]
        for part in parts:  # every part has about the class balance of the whole
            assert part[:, 0].mean() == pytest.approx(0.7, abs=0.03)
        whole = np.loadtxt(sample_train_file(tmp_path, spec), delimiter=",")
        assert sorted(map(tuple, np.concatenate(parts).tolist())) == sorted(map(tuple, whole.tolist()))
        with pytest.raises(StepError, match="--train-parts must be at least 1, got 0"):
            preprocess(SAMPLE, spec, tmp_path / "zero", parts=0)

    def test_raw_test_rows_have_the_spec_header(self, sample_run: PipelineRun, spec: DatasetSpec) -> None:
        with (sample_run.data / "test" / "test_raw.csv").open() as file:
            rows = list(csv.reader(file))
        assert tuple(rows[0]) == spec.column_names
        assert len(rows) == 151
        assert all(" ".join(row) in LINES for row in rows[1:])  # the raw rows, unchanged

    def test_report(self, sample_run: PipelineRun) -> None:
        report = json.loads((sample_run.data / "report" / "preprocess.json").read_text())
        assert report["rows"] == {"input": 1000, "train": 700, "validation": 150, "test": 150}
        assert report["class_balance"]["test"] == {"1": 105, "2": 45, "positive_share": 0.7}
        assert report["features"] == {"raw": 20, "transformed": FEATURES}

    def test_transform_is_fitted_on_the_train_split_only(self, sample_run: PipelineRun, spec: DatasetSpec) -> None:
        transform = Transform.from_json(
            (sample_run.data / "transform" / "transform.json").read_text(), threshold_required=False
        )
        medians = {column.name: column.median for column in transform.columns if isinstance(column, NumericFeature)}
        train = np.loadtxt(sample_run.data / "train" / "train.csv", delimiter=",")
        position = 1 + transform.feature_names.index("credit_amount")
        assert medians["credit_amount"] == statistics.median(train[:, position].tolist())
        everything = [float(line.split(" ")[4]) for line in LINES]
        assert medians["credit_amount"] != statistics.median(everything)

    def test_fingerprint(self, sample_run: PipelineRun) -> None:
        fingerprint = json.loads((sample_run.data / "fingerprint" / "fingerprint.json").read_text())
        assert fingerprint["rows"] == 1000
        assert fingerprint["spec_name"] == "german-credit"
        assert [f["name"] for f in fingerprint["files"]] == ["german.data"]
        assert fingerprint["sha256"] == fingerprint["files"][0]["sha256"]  # one file: the hash of its bytes
        assert len(fingerprint["sha256"]) == 64


class TestBaseline:
    def test_model_monitor_statistics_format(self, sample_run: PipelineRun, spec: DatasetSpec) -> None:
        stats = json.loads((sample_run.data / "baseline" / "statistics.json").read_text())
        assert stats["version"] == 0.0
        assert stats["dataset"] == {"item_count": 700}
        features = {feature["name"]: feature for feature in stats["features"]}
        assert list(features) == [column.name for column in spec.feature_columns]  # the endpoint's raw input
        duration = features["duration_months"]
        assert duration["inferred_type"] == "Integral"
        numeric = duration["numerical_statistics"]
        assert set(numeric) == {"common", "mean", "sum", "std_dev", "min", "max", "distribution"}
        assert numeric["common"] == {"num_present": 700, "num_missing": 0}
        assert numeric["mean"] == pytest.approx(numeric["sum"] / 700)
        kll = numeric["distribution"]["kll"]
        assert len(kll["buckets"]) == 10
        assert sum(bucket["count"] for bucket in kll["buckets"]) == 700
        assert kll["buckets"][0]["lower_bound"] == numeric["min"]
        assert kll["buckets"][-1]["upper_bound"] == numeric["max"]
        assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}
        assert len(kll["sketch"]["data"][0]) == 700
        checking = features["checking_status"]
        assert checking["inferred_type"] == "String"
        strings = checking["string_statistics"]
        assert strings["distinct_count"] == 4.0
        assert sorted(bucket["value"] for bucket in strings["distribution"]["categorical"]["buckets"]) == [
            "A11",
            "A12",
            "A13",
            "A14",
        ]

    def test_model_monitor_constraints_format(self, sample_run: PipelineRun) -> None:
        constraints = json.loads((sample_run.data / "baseline" / "constraints.json").read_text())
        assert constraints["version"] == 0.0
        features = {feature["name"]: feature for feature in constraints["features"]}
        assert features["age_years"] == {
            "name": "age_years",
            "inferred_type": "Integral",
            "completeness": 1.0,
            "num_constraints": {"is_non_negative": True},
        }
        assert features["housing"]["string_constraints"] == {"domains": ["A151", "A152", "A153"]}
        config = constraints["monitoring_config"]
        assert set(config) == {
            "evaluate_constraints",
            "emit_metrics",
            "datatype_check_threshold",
            "domain_content_threshold",
            "distribution_constraints",
        }
        assert config["distribution_constraints"]["comparison_method"] == "Robust"

    def test_missing_values_fractional_and_compacted_sketch(self) -> None:
        rows = 5000
        frame = pd.DataFrame(
            {
                "x": [None if i % 10 == 0 else f"{i / 7:.3f}" for i in range(rows)],
                "code": [str(i % 3 - 1) for i in range(rows)],
            },
            dtype=object,
        )
        stats, constraints = data_quality_baseline(frame, ("x", "code"))
        features = stats["features"]
        assert isinstance(features, list)
        x, code = features
        assert x["inferred_type"] == "Fractional"
        assert x["numerical_statistics"]["common"] == {"num_present": 4500, "num_missing": 500}
        sketch = x["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"]
        assert all(len(level) <= 2048 for level in sketch)
        assert sum(len(level) * 2**height for height, level in enumerate(sketch)) == 4500  # total weight kept
        assert code["inferred_type"] == "Integral"  # codes that look like numbers: what Model Monitor infers
        rules = constraints["features"]
        assert isinstance(rules, list)
        assert rules[0]["completeness"] == 0.9
        assert rules[1]["num_constraints"] == {"is_non_negative": False}


class TestReproducibility:
    def test_two_runs_are_byte_identical(self, spec: DatasetSpec, tmp_path: Path) -> None:
        preprocess(SAMPLE, spec, tmp_path / "a")
        preprocess(SAMPLE, spec, tmp_path / "b")
        files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
        assert len(files) == 9
        for name in files:
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name

    def test_fingerprint_follows_the_input_bytes(self, spec: DatasetSpec, tmp_path: Path) -> None:
        lines = list(LINES)
        first = preprocess(write_lines(tmp_path / "in" / "german.data", lines), spec, tmp_path / "a")
        lines[10] = with_field(lines[10], 12, "44")
        second = preprocess(write_lines(tmp_path / "in" / "german.data", lines), spec, tmp_path / "b")
        assert first["input_sha256"] != second["input_sha256"]

    def test_files_of_a_folder_in_name_order(self, spec: DatasetSpec, tmp_path: Path) -> None:
        write_lines(tmp_path / "in" / "b.data", LINES[500:])
        write_lines(tmp_path / "in" / "a.data", LINES[:500])
        report = preprocess(tmp_path / "in", spec, tmp_path / "out")
        fingerprint = json.loads((tmp_path / "out" / "fingerprint" / "fingerprint.json").read_text())
        assert [f["name"] for f in fingerprint["files"]] == ["a.data", "b.data"]
        whole = preprocess(SAMPLE, spec, tmp_path / "whole")
        assert report["input_sha256"] == whole["input_sha256"]  # the bytes of a.data then b.data = the sample
        assert (tmp_path / "out" / "train" / "train.csv").read_bytes() == (
            tmp_path / "whole" / "train" / "train.csv"
        ).read_bytes()


def test_header_csv_input_with_other_column_order_gives_the_same_data(spec: DatasetSpec, tmp_path: Path) -> None:
    """A CSV with a header: columns found by name, extra columns ignored, '?' read as missing."""
    table = read_table(SAMPLE, spec.column_names, spec.format).frame
    table.insert(0, "row_id", range(len(table)))
    table[list(reversed(table.columns))].to_csv(tmp_path / "data.csv", index=False)
    preprocess(tmp_path / "data.csv", header_spec(tmp_path), tmp_path / "csv")
    preprocess(SAMPLE, spec, tmp_path / "plain")
    for name in ("train/train.csv", "test/test.csv", "test/test_raw.csv"):
        assert (tmp_path / "csv" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes(), name


def test_missing_values_are_imputed_with_the_train_median(tmp_path: Path) -> None:
    spec = header_spec(tmp_path)
    table = read_table(SAMPLE, spec.column_names, CsvFormat(header=False, delimiter=" ", missing_values=())).frame
    table = table.astype(object)  # read_table gives pandas categoricals
    table.loc[::10, "age_years"] = "?"
    table.to_csv(tmp_path / "data.csv", index=False)
    preprocess(tmp_path / "data.csv", spec, tmp_path / "out")
    transform = Transform.from_json(
        (tmp_path / "out" / "transform" / "transform.json").read_text(), threshold_required=False
    )
    age = next(c for c in transform.columns if c.name == "age_years")
    assert isinstance(age, NumericFeature)
    stats = json.loads((tmp_path / "out" / "baseline" / "statistics.json").read_text())
    common = next(f for f in stats["features"] if f["name"] == "age_years")["numerical_statistics"]["common"]
    assert 40 < common["num_missing"] < 100  # every 10th of the 1000 rows is missing, about 70 % of them in train
    assert common["num_present"] + common["num_missing"] == 700
    features = np.loadtxt(tmp_path / "out" / "train" / "train.csv", delimiter=",")[:, 1:]
    column = features[:, transform.feature_names.index("age_years")]
    assert int(np.sum(column == age.median)) >= common["num_missing"]
