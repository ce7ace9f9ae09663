"""A public CSV as it is published, through the steps: the Adult census spec on Adult-like rows.

The file is written like UCI's adult.data: ', ' between fields, no header, '?' for missing values, hyphenated column
names, stray spaces, a trailing blank line. Nothing is renamed or cleaned by hand: the spec names the columns as the
data does, and the pipeline shows those names back (messages, test_raw.csv, the JSON request) while the model's
feature names use the safe ids.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from sagemaker_code.steps import preprocess as preprocess_step
from sagemaker_code.steps.artifacts import load_model_artifacts
from sagemaker_code.steps.evaluate import score_test_split
from sagemaker_code.steps.inference import InvalidInputError, parse_request, predict
from sagemaker_code.steps.spec import DatasetSpec, load_spec
from sagemaker_code.steps.transform import CategoricalFeature, NumericFeature, Transform
from tests.step_fixtures import REPO_ROOT, PipelineRun, run_pipeline, write_spec_json

ADULT_YAML = REPO_ROOT / "config" / "datasets" / "adult_census.yaml"
ROWS = 800
WORKCLASS = ["Private", "Self-emp-not-inc", "State-gov", "Federal-gov"]
EDUCATION = ["Bachelors", "HS-grad", "Masters", "Some-college"]
MARITAL = ["Married-civ-spouse", "Never-married", "Divorced"]
OCCUPATION = ["Exec-managerial", "Craft-repair", "Sales", "Adm-clerical"]
RELATIONSHIP = ["Husband", "Not-in-family", "Own-child", "Wife"]
RACE = ["White", "Black", "Asian-Pac-Islander", "Other"]
COUNTRY = ["United-States", "Mexico", "India"]


def adult_like_rows(rows: int, seed: int = 7) -> list[list[str]]:
    """Rows in adult.data's column order whose label depends on education, hours and capital gain."""
    rng = np.random.default_rng(seed)
    out = []
    for index in range(rows):
        education_num = int(rng.integers(5, 17))
        hours = int(rng.integers(20, 61))
        gain = int(rng.choice([0, 0, 0, 5000, 15000]))
        score = 0.35 * (education_num - 10) + 0.06 * (hours - 40) + gain / 6000 + rng.normal(0, 0.8)
        income = ">50K" if score > 0.6 else "<=50K"
        workclass = "?" if index % 17 == 0 else str(rng.choice(WORKCLASS))
        country = "?" if index % 23 == 0 else str(rng.choice(COUNTRY, p=[0.8, 0.1, 0.1]))
        out.append(
            [
                str(int(rng.integers(17, 80))),
                workclass,
                str(int(rng.integers(20_000, 400_000))),
                str(rng.choice(EDUCATION)),
                str(education_num),
                str(rng.choice(MARITAL)),
                str(rng.choice(OCCUPATION)),
                str(rng.choice(RELATIONSHIP)),
                str(rng.choice(RACE, p=[0.7, 0.15, 0.1, 0.05])),
                str(rng.choice(["Male", "Female"])),
                str(gain),
                "0",
                str(hours),
                country,
                income,
            ]
        )
    return out


def write_adult(path: Path, rows: list[list[str]]) -> Path:
    """As adult.data is written: ', ' between fields, a trailing blank line; one row with stray spaces."""
    lines = [", ".join(row) for row in rows]
    lines[3] = lines[3].replace(", ", " ,  ", 2) + "  "  # extra whitespace around fields: trimmed
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def adult_spec_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_spec_json(tmp_path_factory.mktemp("adult-spec") / "spec.json", ADULT_YAML)


@pytest.fixture(scope="module")
def adult_run(
    tmp_path_factory: pytest.TempPathFactory, adult_spec_path: Path, hyperparameter_table_path: Path
) -> PipelineRun:
    root = tmp_path_factory.mktemp("adult-run")
    data = write_adult(root / "adult.data", adult_like_rows(ROWS))
    return run_pipeline(root, data, adult_spec_path, hyperparameter_table_path)


def test_the_published_format_is_read_as_it_is(adult_run: PipelineRun) -> None:
    report = json.loads((adult_run.data / "report" / "preprocess.json").read_text())
    assert report["rows"]["input"] == ROWS  # the trailing blank line is not a row
    with (adult_run.data / "test" / "test_raw.csv").open() as file:
        header = next(csv.reader(file))
    assert header[4:6] == ["education-num", "marital-status"]  # the data's own names, shown back


def test_features_use_the_ids_and_the_missing_policies(adult_run: PipelineRun, adult_spec_path: Path) -> None:
    transform = Transform.from_json(
        (adult_run.data / "transform" / "transform.json").read_text(), threshold_required=False
    )
    columns = {column.name: column for column in transform.columns}
    assert "education_num" in transform.feature_names
    assert "marital_status=Never-married" in transform.feature_names
    assert transform.input_columns[4] == "education-num"
    workclass = columns["workclass"]
    assert isinstance(workclass, CategoricalFeature)
    assert workclass.missing_feature  # '?' is a category of its own (the default policy)
    assert "workclass=(missing)" in transform.feature_names
    country = columns["native-country"]
    assert isinstance(country, CategoricalFeature)
    assert (country.missing, country.fill, country.missing_feature) == ("impute", "United-States", False)
    assert isinstance(columns["age"], NumericFeature)
    baseline = json.loads((adult_run.data / "baseline" / "statistics.json").read_text())
    assert [feature["name"] for feature in baseline["features"]][4:6] == ["education_num", "marital_status"]
    spec = load_spec(adult_spec_path)
    assert spec.facets[1].disparate_impact is not None
    assert spec.facets[1].disparate_impact.lower == 0.6


def test_the_written_features_are_what_the_transform_makes_of_the_raw_rows(adult_run: PipelineRun) -> None:
    transform = Transform.from_json(
        (adult_run.data / "transform" / "transform.json").read_text(), threshold_required=False
    )
    raw = preprocess_step.read_table(
        adult_run.data / "test" / "test_raw.csv",
        (*transform.input_columns, "income"),
        load_spec(adult_run.spec_path).format.__class__(header=True, delimiter=",", missing_values=("?",)),
    ).frame
    written = np.loadtxt(adult_run.data / "test" / "test.csv", delimiter=",")[:, 1:]
    assert np.array_equal(transform.apply(raw), written)


def test_the_model_serves_json_keyed_by_the_datas_names(adult_run: PipelineRun, adult_spec_path: Path) -> None:
    spec = load_spec(adult_spec_path)
    model = load_model_artifacts(adult_run.model)
    scores = score_test_split(model, adult_run.data / "test", spec)
    with (adult_run.data / "test" / "test_raw.csv").open() as file:
        rows = list(csv.DictReader(file))[:5]
    by_name = [{column.name: row[column.name] for column in spec.feature_columns} for row in rows]
    served = predict(parse_request(json.dumps({"instances": by_name}), "application/json"), model)
    assert served.probabilities == pytest.approx(scores.probabilities[:5].tolist(), abs=1e-6)
    by_id = [{column.id: row[column.name] for column in spec.feature_columns} for row in rows]
    aliased = predict(parse_request(json.dumps({"instances": by_id}), "application/json"), model)
    assert aliased.probabilities == served.probabilities
    both = dict(by_name[0], education_num="13")
    with pytest.raises(InvalidInputError, match=r"instance 1: both the name and the id of \['education-num'\]"):
        predict(parse_request(json.dumps({"instances": [both]}), "application/json"), model)


def test_a_missing_value_in_a_drop_row_column_is_refused_by_serving(
    tmp_path: Path, adult_spec_path: Path, hyperparameter_table_path: Path
) -> None:
    data = json.loads(adult_spec_path.read_text())
    for column in data["columns"]:
        if column["name"] == "workclass":
            column["missing"] = "drop_row"
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(data))
    run = run_pipeline(tmp_path / "run", write_adult(tmp_path / "adult.data", adult_like_rows(400)), spec_path,
                       hyperparameter_table_path)  # fmt: skip
    report = json.loads((run.data / "report" / "preprocess.json").read_text())
    dropped = sum(1 for index in range(400) if index % 17 == 0)
    assert report["rows_left_out"] == {"total": dropped, "by_column": {"workclass": dropped}}
    assert report["rows"]["input"] == 400 - dropped
    spec: DatasetSpec = load_spec(spec_path)
    model = load_model_artifacts(run.model)
    instance = {column.name: "1" if column.type == "numeric" else "x" for column in spec.feature_columns}
    instance["workclass"] = "?"
    with pytest.raises(InvalidInputError, match=r"instance 1, column 'workclass': a value is required"):
        predict(parse_request(json.dumps({"instances": [instance]}), "application/json"), model)
