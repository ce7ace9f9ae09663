"""The steps' spec reader: the app's JSON dump round-trips; a missing or malformed file names the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sagemaker_code.steps.spec import Facet, SpecError, load_spec
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
            "label.decision_threshold: must be a number, got 'high'",
            id="threshold-text",
        ),
        pytest.param(lambda d: d.clear() or d.update(columns={}), "columns: must be a list, got dict", id="columns"),
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
