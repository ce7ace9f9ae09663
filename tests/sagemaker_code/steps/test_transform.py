"""The feature transform: fit on train rows, JSON round trip, imputation, one-hot, unseen values, bad values."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest

from sagemaker_code.steps.fitting import fit
from sagemaker_code.steps.spec import Column, DatasetSpec, MissingPolicy
from sagemaker_code.steps.transform import (
    CategoricalFeature,
    LabelInfo,
    NumericFeature,
    Transform,
    TransformFileError,
    TransformInputError,
    parse_category,
    parse_number,
)
from tests.step_fixtures import PipelineRun


@pytest.fixture
def small_spec(spec: DatasetSpec) -> DatasetSpec:
    columns = (
        Column("amount", "numeric"),
        Column("colour", "categorical"),
        Column("credit_risk", "categorical"),
    )
    return replace(spec, columns=columns, facets=(), format=replace(spec.format, missing_values=("?",)))


def frame(rows: list[list[object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["amount", "colour", "credit_risk"], dtype=object)


TRAIN = frame([["1", "red", "1"], ["3", "blue", "2"], ["?", "red", "1"], ["10", None, "2"]])


def test_fit_medians_categories_and_names(small_spec: DatasetSpec) -> None:
    transform = fit(TRAIN, small_spec)
    assert transform.columns == (
        NumericFeature("amount", 3.0),  # median of 1, 3, 10 (the '?' is missing)
        # sorted; the label is not a feature; train had a missing colour: a feature of its own (policy category)
        CategoricalFeature("colour", ("blue", "red"), missing_feature=True),
    )
    assert transform.feature_names == ("amount", "colour=blue", "colour=red", "colour=(missing)")
    assert transform.input_columns == ("amount", "colour")
    assert (transform.label.positive, transform.label.negative) == ("1", "2")
    assert transform.label.decision_threshold is None  # the Train step chooses it


def test_apply_imputes_and_one_hot_encodes_unseen_as_zeros(small_spec: DatasetSpec) -> None:
    transform = fit(TRAIN, small_spec)
    rows = pd.DataFrame(
        {"colour": ["blue", "green", None, " red "], "amount": ["2.5", "", "?", 7]}, dtype=object
    )  # other column order, no label: both fine
    assert transform.apply(rows).tolist() == [
        [2.5, 1.0, 0.0, 0.0],
        [3.0, 0.0, 0.0, 0.0],  # missing -> median; unseen 'green' -> all zeros
        [3.0, 0.0, 0.0, 1.0],  # missing colour -> its own feature
        [7.0, 0.0, 1.0, 0.0],
    ]


def test_json_round_trip_transforms_identically(small_spec: DatasetSpec) -> None:
    transform = fit(TRAIN, small_spec).with_threshold(0.5)
    text = transform.to_json()
    again = Transform.from_json(text)
    assert again == transform
    assert again.to_json() == text
    assert np.array_equal(again.apply(TRAIN), transform.apply(TRAIN))
    data = json.loads(text)
    assert data["label"] == {"column": "credit_risk", "positive": "1", "negative": "2", "decision_threshold": 0.5}
    assert data["missing_values"] == ["?"]


def test_shipped_sample_features(sample_transform: Transform) -> None:
    names = sample_transform.feature_names
    assert len(names) == 61
    assert names[:5] == (
        "checking_status=A11",
        "checking_status=A12",
        "checking_status=A13",
        "checking_status=A14",
        "duration_months",
    )
    assert len(set(names)) == len(names)


def test_feature_names_are_safe_for_xgboost_and_unique() -> None:
    transform = Transform(
        spec_name="x",
        label=LabelInfo(column="y", positive="1", negative="0", decision_threshold=0.5),
        missing_values=(),
        columns=(CategoricalFeature("c", ("a[1]", "a<1>", "a 1", "a_1_")),),
    )
    assert transform.feature_names == ("c=a_1_", "c=a_1>", "c=a_1", "c=a_1_~2")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        pytest.param(
            {"amount": ["1", "ten"], "colour": ["red", "red"]},
            "row 2, column 'amount' (numeric): 'ten' is not a number",
            id="text-in-numeric",
        ),
        pytest.param(
            {"amount": [1, True], "colour": ["red", "red"]},
            "row 2, column 'amount' (numeric): True is a boolean, not a number",
            id="boolean",
        ),
        pytest.param(
            {"amount": ["inf"], "colour": ["red"]},
            "row 1, column 'amount' (numeric): 'inf' is not a number",
            id="infinity-text",
        ),
        pytest.param(
            {"amount": [1], "colour": [1.5]},
            "row 1, column 'colour' (categorical): expected text, got 1.5 (float)",
            id="float-category",
        ),
        pytest.param({"amount": [1]}, "missing columns ['colour'] (expected ['amount', 'colour'])", id="no-column"),
    ],
)
def test_bad_rows_name_row_and_column(small_spec: DatasetSpec, rows: dict[str, list[object]], message: str) -> None:
    transform = fit(TRAIN, small_spec)
    with pytest.raises(TransformInputError) as info:
        transform.apply(pd.DataFrame(rows, dtype=object))
    assert str(info.value) == message


def test_fit_needs_a_value_in_every_numeric_column(small_spec: DatasetSpec) -> None:
    with pytest.raises(TransformInputError, match=r"column 'amount' \(numeric\): no values to fit, all 2 missing"):
        fit(frame([["?", "red", "1"], [None, "blue", "2"]]), small_spec)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"format_version": 3}', "transform.json: format_version must be one of [1, 2], got 3"),
        ("{}", "transform.json is malformed: KeyError: 'format_version'"),
        ("[1", "transform.json is malformed: JSONDecodeError: "),
    ],
)
def test_malformed_transform_file(text: str, message: str) -> None:
    with pytest.raises(TransformFileError) as info:
        Transform.from_json(text)
    assert str(info.value).startswith(message)


def test_edited_feature_names_are_refused(small_spec: DatasetSpec) -> None:
    data = json.loads(fit(TRAIN, small_spec).to_json())
    data["columns"][1]["categories"].append("green")
    with pytest.raises(TransformFileError, match="feature_names do not match the columns"):
        Transform.from_json(json.dumps(data), threshold_required=False)


def test_parse_helpers() -> None:
    assert parse_number(" 12 ", ()) == 12.0
    assert parse_number("-1.5e3", ()) == -1500.0
    assert math.isnan(parse_number("NA", ("NA",)))
    assert math.isnan(parse_number(float("nan"), ()))
    with pytest.raises(ValueError, match="not a number"):
        parse_number("1_000", ())  # Python's float() would take it; data files should not
    assert parse_category(" A11 ", ()) == "A11"
    assert parse_category(3, ()) == "3"
    assert parse_category("", ()) is None


@pytest.fixture(scope="session")
def sample_transform(sample_run: PipelineRun) -> Transform:
    return Transform.from_json((sample_run.data / "transform" / "transform.json").read_text(), threshold_required=False)


def test_predicted_positive_uses_the_models_threshold(small_spec: DatasetSpec) -> None:
    fitted = fit(TRAIN, replace(small_spec, label=replace(small_spec.label, decision_threshold=0.3)))
    transform = fitted.with_threshold(0.7)  # the Train step's choice, not the spec's
    assert transform.predicted_positive(np.array([0.69, 0.7, 0.9])).tolist() == [False, True, True]
    with pytest.raises(TransformFileError, match=r"transform\.json has no label\.decision_threshold"):
        fitted.predicted_positive(np.array([0.5]))
    with pytest.raises(ValueError, match=r"the decision threshold must be between 0 and 1, got 1\.0"):
        fitted.with_threshold(1.0)


def test_the_threshold_is_required_unless_the_caller_reads_a_preprocess_output(small_spec: DatasetSpec) -> None:
    text = fit(TRAIN, small_spec).to_json()
    assert json.loads(text)["label"]["decision_threshold"] is None
    with pytest.raises(TransformFileError, match=r"label\.decision_threshold is null: this is the preprocess step"):
        Transform.from_json(text)
    assert Transform.from_json(text, threshold_required=False).label.decision_threshold is None
    data = json.loads(text)
    data["label"]["decision_threshold"] = 1.5
    with pytest.raises(TransformFileError, match=r"decision_threshold must be between 0 and 1, got 1\.5"):
        Transform.from_json(json.dumps(data), threshold_required=False)


def with_policies(spec: DatasetSpec, **policies: MissingPolicy) -> DatasetSpec:
    columns = tuple(replace(column, missing=policies.get(column.name, column.missing)) for column in spec.columns)
    return replace(spec, columns=columns)


def test_missing_value_policies(small_spec: DatasetSpec) -> None:
    rows = pd.DataFrame({"amount": ["?", "4"], "colour": [None, "blue"]}, dtype=object)
    imputed = fit(TRAIN, with_policies(small_spec, colour="impute"))
    assert imputed.columns[1] == CategoricalFeature("colour", ("blue", "red"), missing="impute", fill="red")
    assert imputed.apply(rows).tolist() == [[3.0, 0.0, 1.0], [4.0, 1.0, 0.0]]  # median; the most frequent colour
    kept = fit(TRAIN, with_policies(small_spec, amount="category"))
    features = kept.apply(rows)
    assert math.isnan(features[0, 0])  # XGBoost's own missing-value branch
    assert features[0, 1:].tolist() == [0.0, 0.0, 1.0]  # colour=(missing), after every column's own features
    for policy in ("drop_row", "error"):
        refusing = fit(TRAIN.dropna(), with_policies(small_spec, colour=policy))
        with pytest.raises(TransformInputError, match=rf"^row 1, column 'colour': a value is required .*{policy}"):
            refusing.apply(rows)


def test_missing_features_come_after_every_columns_own(small_spec: DatasetSpec) -> None:
    """A column's features start where they would without missing-value features (code that finds a column's
    features by counting stays right)."""
    spec = replace(
        small_spec,
        columns=(Column("colour", "categorical"), Column("amount", "numeric"), Column("credit_risk", "categorical")),
    )
    transform = fit(TRAIN, spec)
    assert transform.feature_names == ("colour=blue", "colour=red", "amount", "colour=(missing)")
    assert transform.apply(TRAIN[["amount", "colour"]]).tolist()[3] == [0.0, 0.0, 10.0, 1.0]


def test_ids_name_the_features_and_names_the_inputs(small_spec: DatasetSpec) -> None:
    spec = replace(
        small_spec,
        columns=(
            Column("Amount (EUR)", "numeric", id="amount_eur"),
            Column("colour", "categorical", id="col"),
            Column("credit_risk", "categorical"),
        ),
    )
    train = TRAIN.rename(columns={"amount": "Amount (EUR)"})
    transform = fit(train, spec)
    assert transform.input_columns == ("Amount (EUR)", "colour")
    assert transform.feature_names == ("amount_eur", "col=blue", "col=red", "col=(missing)")
    assert Transform.from_json(transform.to_json(), threshold_required=False) == transform


def test_version_1_files_are_still_read(small_spec: DatasetSpec) -> None:
    """A model trained before ids and policies: every column's id is its name, the policies the defaults."""
    data = json.loads(fit(TRAIN.dropna(), small_spec).to_json())
    data["format_version"] = 1
    for column in data["columns"]:
        for key in ("id", "missing", "fill", "missing_feature"):
            column.pop(key, None)
    transform = Transform.from_json(json.dumps(data), threshold_required=False)
    assert transform.feature_names == ("amount", "colour=blue", "colour=red")
    assert transform.apply(frame([["?", None, "1"]])).tolist() == [[2.0, 0.0, 0.0]]  # median of 1 and 3
