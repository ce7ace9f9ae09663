"""The steps' spec reader: the app's JSON dump round-trips; a missing or malformed file names the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sagemaker_code.steps.spec import DisparateImpactBounds, Facet, SpecError, load_spec
from tests.step_fixtures import write_spec_json


def test_shipped_spec_as_the_steps_see_it(spec_path: Path) -> None:
    spec = load_spec(spec_path)
    assert spec.name == "german-credit"
    assert (spec.format.header, spec.format.delimiter, spec.format.missing_values) == (False, " ", ())
    assert len(spec.columns) == 21
    assert len(spec.feature_columns) == 20
    assert spec.label.column == "credit_risk"
    assert spec.label.positive == "1"
    assert spec.label.negative == "2"
    assert spec.label.decision_threshold is None  # chosen by the Train step
    assert (spec.cost_matrix.false_positive, spec.cost_matrix.false_negative) == (5.0, 1.0)
    assert (spec.split.validation, spec.split.test, spec.split.seed) == (0.15, 0.15, 42)
    assert spec.facets == (
        Facet(name="age", column="age_years", values=None, min=None, max=25.0),
        Facet(name="sex", column="personal_status_sex", values=("A92", "A95"), min=None, max=None),
    )
    assert spec.facets[0].bias_column == "facet_age"


def edited(tmp_path: Path, edit: object) -> Path:
    data = json.loads(write_spec_json(tmp_path / "base.json").read_text())
    assert callable(edit)
    edit(data)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(lambda d: d.pop("label"), "label: required key is missing", id="no-label"),
        pytest.param(lambda d: d["label"].update(values=[1, 2]), "label.values: must be a list of strings", id="ints"),
        pytest.param(
            lambda d: d["label"].update(positive="good"),
            "label.positive: must be one of label.values ['1', '2'], got 'good'",
            id="positive",
        ),
        pytest.param(
            lambda d: d["columns"][1].update(type="number"),
            "columns[1].type: must be 'numeric' or 'categorical', got 'number'",
            id="column-type",
        ),
        pytest.param(
            lambda d: d["facets"][0].update(column="credit_risk"),
            "facets[0].column: must be a feature column, got 'credit_risk'",
            id="facet-on-label",
        ),
        pytest.param(
            lambda d: d["split"].update(seed=1.5), "split.seed: must be a whole number >= 0, got 1.5", id="seed"
        ),
        pytest.param(lambda d: d["format"].update(header="no"), "format.header: must be true or false", id="header"),
        pytest.param(
            lambda d: d["label"].update(decision_threshold=1.0),
            "label.decision_threshold: must be between 0 and 1, got 1.0",
            id="threshold",
        ),
        pytest.param(
            lambda d: d["label"].update(decision_threshold="high"),
            "label.decision_threshold: must be a finite number, got 'high'",
            id="threshold-text",
        ),
        pytest.param(lambda d: d.clear() or d.update(columns={}), "columns: must be a list, got dict", id="columns"),
        pytest.param(
            lambda d: d["columns"][0].update(id="a-b"),
            "columns[0].id: must be an identifier (letters, digits, '_'), got 'a-b'",
            id="column-id",
        ),
        pytest.param(
            lambda d: d["columns"][0].update(missing="skip"),
            "columns[0].missing: must be one of ['impute', 'category', 'drop_row', 'error'] or null, got 'skip'",
            id="missing-policy",
        ),
        pytest.param(
            lambda d: d["columns"][1].update(id=d["columns"][0]["id"]),
            "columns: column ids must be unique",
            id="duplicate-id",
        ),
        pytest.param(
            lambda d: d["cost_matrix"].update(false_positive=float("inf")),
            "cost_matrix.false_positive: must be a finite number, got inf",
            id="infinite-cost",
        ),
        pytest.param(
            lambda d: d["facets"][0].update(disparate_impact={"lower": 1.5}),
            "facets[0].disparate_impact.lower: must be between 0 and 1, got 1.5",
            id="facet-lower",
        ),
        pytest.param(
            lambda d: d["facets"][0].update(disparate_impact={"upper": 0.9}),
            "facets[0].disparate_impact.upper: must be above 1, got 0.9",
            id="facet-upper",
        ),
        pytest.param(
            lambda d: d["format"].update(delimiter=""),
            "format.delimiter: must be one or more characters without quotes or line breaks, got ''",
            id="empty-delimiter",
        ),
    ],
)
def test_malformed_spec_names_the_key(tmp_path: Path, edit: object, message: str) -> None:
    path = edited(tmp_path, edit)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}: {message}")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=f"^dataset spec not found: {tmp_path / 'nope.json'}$"):
        load_spec(tmp_path / "nope.json")


def test_not_json(tmp_path: Path) -> None:
    (tmp_path / "spec.json").write_text('{"name": "x",\n  oops}')
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "spec.json")
    assert str(info.value).startswith(f"{tmp_path / 'spec.json'}:2:3: dataset spec is not valid JSON: ")


def test_not_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "spec.json").write_text("[]")
    with pytest.raises(SpecError, match=r"spec\.json: top level: must be a mapping, got list$"):
        load_spec(tmp_path / "spec.json")


def test_a_fixed_threshold_is_read(tmp_path: Path) -> None:
    path = edited(tmp_path, lambda d: d["label"].update(decision_threshold=0.6))
    assert load_spec(path).label.decision_threshold == 0.6


def test_ids_policies_encoding_and_facet_bounds_are_read(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["columns"][0].update(name="checking status", id="checking_status", missing="drop_row")
        data["format"].update(delimiter=", ", encoding="latin-1")
        data["facets"][1]["disparate_impact"] = {"lower": 0.7, "upper": None}

    spec = load_spec(edited(tmp_path, edit))
    assert (spec.columns[0].name, spec.columns[0].id, spec.columns[0].policy) == (
        "checking status",
        "checking_status",
        "drop_row",
    )
    assert (spec.format.delimiter, spec.format.encoding) == (", ", "latin-1")
    assert spec.facets[1].disparate_impact == DisparateImpactBounds(lower=0.7, upper=None)
    assert spec.facets[0].disparate_impact is None
    assert spec.label_policy == "error"


def test_a_dump_without_ids_and_policies_reads_with_the_defaults(tmp_path: Path) -> None:
    """A spec JSON written before columns had ids and policies (an older bundle): the names are the ids."""

    def edit(data: dict[str, Any]) -> None:
        for column in data["columns"]:
            column.pop("id")
            column.pop("missing")
        data["format"].pop("encoding")

    spec = load_spec(edited(tmp_path, edit))
    assert all(column.id == column.name for column in spec.columns)
    assert spec.columns[1].policy == "impute"  # duration_months, numeric
    assert spec.columns[0].policy == "category"
    assert spec.format.encoding == "utf-8"
