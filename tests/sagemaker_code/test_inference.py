"""Serving handlers: raw rows score exactly as the evaluate step scored them; clear errors for bad requests."""

from __future__ import annotations

import csv
import io
import json

import pytest

from sagemaker_code.evaluate import ScoredSplit, load_model_artifacts, score_test_split
from sagemaker_code.inference import (
    InvalidInputError,
    Predictions,
    ServingModel,
    input_fn,
    model_fn,
    output_fn,
    predict_fn,
)
from sagemaker_code.spec import DatasetSpec
from tests.sagemaker_code.conftest import PipelineRun


@pytest.fixture(scope="module")
def model(sample_run: PipelineRun) -> ServingModel:
    return model_fn(str(sample_run.model))


@pytest.fixture(scope="module")
def scores(sample_run: PipelineRun, spec: DatasetSpec) -> ScoredSplit:
    return score_test_split(load_model_artifacts(sample_run.model), sample_run.data / "test", spec)


@pytest.fixture(scope="module")
def raw_rows(sample_run: PipelineRun) -> list[dict[str, str]]:
    with (sample_run.data / "test" / "test_raw.csv").open() as file:
        return list(csv.DictReader(file))


def feature_csv(rows: list[dict[str, str]], spec: DatasetSpec) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([row[column.name] for column in spec.feature_columns] for row in rows)
    return buffer.getvalue().encode()


def serve(model: ServingModel, body: bytes | str, content_type: str, accept: str) -> tuple[str, str]:
    return output_fn(predict_fn(input_fn(body, content_type), model), accept)


def test_csv_rows_score_exactly_as_evaluate(
    model: ServingModel, scores: ScoredSplit, raw_rows: list[dict[str, str]], spec: DatasetSpec
) -> None:
    body, content_type = serve(model, feature_csv(raw_rows, spec), "text/csv", "application/json")
    assert content_type == "application/json"
    predictions = json.loads(body)["predictions"]
    assert [p["probability"] for p in predictions] == scores.probabilities.tolist()
    assert [p["label"] == "1" for p in predictions] == (scores.predicted == 1).tolist()
    assert {p["label"] for p in predictions} <= {"1", "2"}


def test_json_instances_score_exactly_as_evaluate(
    model: ServingModel, scores: ScoredSplit, raw_rows: list[dict[str, str]], spec: DatasetSpec
) -> None:
    instances = [{column.name: row[column.name] for column in spec.feature_columns} for row in raw_rows]
    for instance in instances:  # JSON clients send numbers as numbers
        instance["age_years"] = int(instance["age_years"])  # type: ignore[assignment]
    body, _ = serve(model, json.dumps({"instances": instances}), "application/json; charset=utf-8", "*/*")
    assert [p["probability"] for p in json.loads(body)["predictions"]] == scores.probabilities.tolist()


def test_csv_response(model: ServingModel, raw_rows: list[dict[str, str]], spec: DatasetSpec) -> None:
    body, content_type = serve(model, feature_csv(raw_rows[:2], spec), "text/csv", "text/csv")
    assert content_type == "text/csv"
    lines = body.splitlines()
    assert len(lines) == 2
    probability, label = lines[0].split(",")
    assert 0 < float(probability) < 1
    assert label in {"1", "2"}


def test_missing_and_unseen_values_are_scored(
    model: ServingModel, raw_rows: list[dict[str, str]], spec: DatasetSpec
) -> None:
    row = dict(raw_rows[0])
    row["credit_amount"] = ""  # missing: the train median
    row["purpose"] = "A499"  # never seen in train: all zeros
    body, _ = serve(model, feature_csv([row], spec), "text/csv", "application/json")
    assert 0 < json.loads(body)["predictions"][0]["probability"] < 1


def test_output_labels_follow_the_threshold() -> None:
    body, _ = output_fn(Predictions(probabilities=[0.25, 0.75], labels=["2", "1"]), "application/json")
    assert json.loads(body) == {
        "predictions": [{"probability": 0.25, "label": "2"}, {"probability": 0.75, "label": "1"}]
    }


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        pytest.param("a,b", "application/x-npy", "unsupported content type 'application/x-npy'", id="content-type"),
        pytest.param("\n\n", "text/csv", "the request has no rows", id="empty"),
        pytest.param(b"\xff", "text/csv", "the request body is not UTF-8 text (byte 0)", id="not-utf8"),
        pytest.param("{", "application/json", "the request is not valid JSON: Expecting", id="bad-json"),
        pytest.param('{"rows": []}', "application/json", 'send {"instances": [{"<column>": value', id="no-instances"),
    ],
)
def test_bad_requests(body: str | bytes, content_type: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        input_fn(body, content_type)
    assert str(info.value).startswith(message)


def test_wrong_field_count_names_the_row_and_the_columns(
    model: ServingModel, raw_rows: list[dict[str, str]], spec: DatasetSpec
) -> None:
    good = feature_csv(raw_rows[:1], spec).decode()
    with pytest.raises(InvalidInputError) as info:
        predict_fn(input_fn(good + good.strip() + ",1\n", "text/csv"), model)
    assert str(info.value).startswith(
        "row 2 has 21 fields, expected 20: the features checking_status, duration_months, credit_history,"
    )
    assert str(info.value).endswith("foreign_worker in this order, without the label")


def test_a_header_row_gets_a_hint(model: ServingModel, spec: DatasetSpec) -> None:
    header = ",".join(column.name for column in spec.columns)  # with the label: 21 fields
    with pytest.raises(InvalidInputError, match=r"row 1 has 21 fields, expected 20 \(a header\? send rows only\)"):
        predict_fn(input_fn(header, "text/csv"), model)


def test_bad_values_name_the_row_and_column(
    model: ServingModel, raw_rows: list[dict[str, str]], spec: DatasetSpec
) -> None:
    rows = [dict(raw_rows[0]), dict(raw_rows[1])]
    rows[1]["age_years"] = "forty"
    with pytest.raises(InvalidInputError, match=r"^row 2, column 'age_years' \(numeric\): 'forty' is not a number$"):
        predict_fn(input_fn(feature_csv(rows, spec), "text/csv"), model)


def test_json_keys_must_be_the_features(model: ServingModel, raw_rows: list[dict[str, str]], spec: DatasetSpec) -> None:
    instance: dict[str, object] = {column.name: raw_rows[0][column.name] for column in spec.feature_columns}
    del instance["housing"]
    instance["credit_risk"] = "1"
    with pytest.raises(InvalidInputError) as info:
        predict_fn(input_fn(json.dumps({"instances": [instance]}), "application/json"), model)
    assert str(info.value).startswith("instance 1: missing keys ['housing'] and unknown keys ['credit_risk']; expected")


def test_unsupported_accept() -> None:
    with pytest.raises(InvalidInputError, match="unsupported accept type 'text/html'"):
        output_fn(Predictions(probabilities=[0.5], labels=["1"]), "text/html")
