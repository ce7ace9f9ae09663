"""The dataset spec model: the shipped spec is valid, and each bad spec gets one clear message per problem.

Messages are checked as the user sees them, through the same loader helper as the platform config
(``config.loader.validate``): ``file: dotted.key: message``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from config.dataset_spec import DatasetSpec
from config.loader import ConfigError, read_yaml, validate
from sagemaker_code.steps.spec import spec_from_dict

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = REPO_ROOT / "config" / "datasets" / "german_credit.yaml"

VALID = """\
name: tiny
format: {type: csv, header: true, delimiter: ","}
columns:
  - {name: age, type: numeric}
  - {name: sex, type: categorical}
  - {name: outcome, type: categorical}
label: {column: outcome, values: ["yes", "no"], positive: "yes"}
cost_matrix: {false_positive: 2, false_negative: 1}
split: {validation: 0.2, test: 0.2}
facets:
  - {name: young, column: age, disadvantaged: {max: 25}}
  - {name: female, column: sex, disadvantaged: {values: [f]}}
"""


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as info:
        validate(DatasetSpec, read_yaml(path), path)
    return [problem.removeprefix(f"{path}: ") for problem in info.value.problems]


def test_shipped_spec_is_valid_and_matches_the_sample() -> None:
    spec = DatasetSpec.model_validate(read_yaml(SHIPPED))
    assert spec.name == "german-credit"
    assert spec.format.delimiter == " "
    assert spec.format.header is False
    sample = REPO_ROOT / str(spec.sample_path)
    first_line = sample.read_text().splitlines()[0]
    assert len(first_line.split(" ")) == len(spec.columns) == 21
    assert [c.name for c in spec.columns if c.type == "numeric"] == [
        "duration_months",
        "credit_amount",
        "installment_rate_pct",
        "residence_since",
        "age_years",
        "existing_credits",
        "num_dependents",
    ]
    assert (spec.label.column, spec.label.positive, spec.label.decision_threshold) == ("credit_risk", "1", None)
    assert (spec.cost_matrix.false_positive, spec.cost_matrix.false_negative) == (5, 1)
    assert [(f.name, f.column) for f in spec.facets] == [("age", "age_years"), ("sex", "personal_status_sex")]


def test_defaults(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(VALID)
    spec = validate(DatasetSpec, read_yaml(path), path)
    assert spec.split.seed == 42
    assert spec.label.decision_threshold is None  # omitted: the Train step chooses it by cost on validation
    assert spec.format.missing_values == []
    assert spec.sample_path is None


def test_json_dump_is_what_the_steps_read(tmp_path: Path) -> None:
    """The app writes model_dump(mode='json'); the containers read it without pydantic."""
    model = DatasetSpec.model_validate(read_yaml(SHIPPED))
    spec = spec_from_dict(model.model_dump(mode="json"), tmp_path / "spec.json")
    assert [c.name for c in spec.columns] == [c.name for c in model.columns]
    assert spec.label.values == ("1", "2")
    assert spec.facets[0].max == 25.0
    assert spec.facets[1].values == ("A92", "A95")
    assert spec.sample_path == model.sample_path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            VALID.replace("column: outcome,", "column: result,"),
            ["label.column: must be one of the columns ['age', 'sex', 'outcome'], got 'result'"],
            id="label-column-unknown",
        ),
        pytest.param(
            VALID.replace('positive: "yes"', 'positive: "maybe"'),
            ["label.positive: must be one of label.values ['yes', 'no'], got 'maybe'"],
            id="positive-not-a-value",
        ),
        pytest.param(
            VALID.replace('values: ["yes", "no"]', 'values: ["yes", "no", "perhaps"]'),
            ["label.values: must be two different values (binary classification), got ['yes', 'no', 'perhaps']"],
            id="three-label-values",
        ),
        pytest.param(
            VALID.replace('values: ["yes", "no"], positive: "yes"', 'values: [1, 0], positive: "1"'),
            [
                "label.values[0]: must be a string (quote it), got 1 (int)",
                "label.values[1]: must be a string (quote it), got 0 (int)",
            ],
            id="unquoted-label-values",
        ),
        pytest.param(
            VALID.replace("{name: outcome, type: categorical}", "{name: outcome, type: numeric}"),
            ["label.column: the label column 'outcome' must have type categorical, got numeric"],
            id="numeric-label",
        ),
        pytest.param(
            VALID.replace(
                "  - {name: outcome, type: categorical}\n",
                "  - {name: outcome, type: categorical}\n  - {name: age, type: numeric}\n",
            ),
            ["columns[3].name: duplicate column name 'age'"],
            id="duplicate-column",
        ),
        pytest.param(
            VALID.replace("{name: sex,", "{name: sex-at-birth,").replace("column: sex,", "column: sex-at-birth,"),
            ["columns[1].name: must be a letter or '_' followed by letters, digits or '_', got 'sex-at-birth'"],
            id="bad-column-name",
        ),
        pytest.param(
            VALID.replace("{name: sex, type: categorical}", "{name: sex, type: text}"),
            ["columns[1].type: input should be 'numeric' or 'categorical', got 'text'"],
            id="bad-column-type",
        ),
        pytest.param(
            VALID.replace("split: {validation: 0.2, test: 0.2}", "split: {validation: 0.5, test: 0.5}"),
            ["split: validation + test must be below 1 (train gets the rest), got 0.5 + 0.5 = 1"],
            id="split-sum",
        ),
        pytest.param(
            VALID.replace("column: age, disadvantaged", "column: birth_year, disadvantaged"),
            ["facets[0].column: must be one of the columns ['age', 'sex', 'outcome'], got 'birth_year'"],
            id="facet-column-unknown",
        ),
        pytest.param(
            VALID.replace("column: sex, disadvantaged", "column: outcome, disadvantaged"),
            ["facets[1].column: must be a feature column, not the label 'outcome'"],
            id="facet-on-label",
        ),
        pytest.param(
            VALID.replace("disadvantaged: {max: 25}", "disadvantaged: {values: ['18']}"),
            ["facets[0].disadvantaged: column 'age' is numeric: give min and/or max, not values"],
            id="numeric-facet-with-values",
        ),
        pytest.param(
            VALID.replace("disadvantaged: {values: [f]}", "disadvantaged: {max: 1}"),
            ["facets[1].disadvantaged: column 'sex' is categorical: give values, not min/max"],
            id="categorical-facet-with-bounds",
        ),
        pytest.param(
            VALID.replace("disadvantaged: {max: 25}", "disadvantaged: {}"),
            ["facets[0].disadvantaged: must give values (categorical column) or min and/or max (numeric column)"],
            id="empty-group",
        ),
        pytest.param(
            VALID.replace("disadvantaged: {max: 25}", "disadvantaged: {min: 30, max: 25}"),
            ["facets[0].disadvantaged: min must not exceed max, got min 30 and max 25"],
            id="min-above-max",
        ),
        pytest.param(
            VALID.replace("{name: young,", "{name: Young People,"),
            [
                "facets[0].name: must be 1-32 lowercase letters, digits or '_' starting with a letter, "
                "got 'Young People'"
            ],
            id="bad-facet-name",
        ),
        pytest.param(
            VALID.replace('delimiter: ","', 'delimiter: ", "'),
            ["format.delimiter: must be one character other than a quote or a line break, got ', '"],
            id="two-char-delimiter",
        ),
        pytest.param(
            VALID.replace("cost_matrix: {false_positive: 2,", "cost_matrix: {false_positve: 2,"),
            [
                "cost_matrix.false_positive: required key is missing",
                "cost_matrix.false_positve: unknown key (did you mean 'false_positive'?)",
            ],
            id="typo-in-cost-matrix",
        ),
        pytest.param(
            VALID.replace("name: tiny", "name: Tiny Data"),
            [
                "name: must be 2-64 lowercase letters, digits and '-', start with a letter and not end with '-', "
                "got 'Tiny Data'"
            ],
            id="bad-dataset-name",
        ),
        pytest.param(
            VALID + "sample_path: /data/sample.csv\n",
            ["sample_path: must be a path relative to the repository root, got '/data/sample.csv'"],
            id="absolute-sample-path",
        ),
        pytest.param(
            VALID.replace('positive: "yes"}', 'positive: "yes", decision_threshold: 1}'),
            ["label.decision_threshold: input should be less than 1, got 1"],
            id="threshold",
        ),
    ],
)
def test_bad_spec(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert problems_of(tmp_path, text) == expected


def test_a_fixed_decision_threshold_overrides_the_choice_by_cost(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(VALID.replace('positive: "yes"}', 'positive: "yes", decision_threshold: 0.6}'))
    spec = validate(DatasetSpec, read_yaml(path), path)
    assert spec.label.decision_threshold == 0.6
    assert spec_from_dict(spec.model_dump(mode="json"), path).label.decision_threshold == 0.6
    description = DatasetSpec.model_fields["label"].annotation.model_fields["decision_threshold"].description  # type: ignore[union-attr]
    assert description is not None
    assert "Omitted (the default): the Train step chooses" in description
    assert "A number: a fixed override" in description


def test_every_cross_field_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = VALID.replace('positive: "yes"', 'positive: "y"').replace(
        "column: sex, disadvantaged", "column: x, disadvantaged"
    )
    assert problems_of(tmp_path, text) == [
        "label.positive: must be one of label.values ['yes', 'no'], got 'y'",
        "facets[1].column: must be one of the columns ['age', 'sex', 'outcome'], got 'x'",
    ]
