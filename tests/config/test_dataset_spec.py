"""The dataset spec model: the shipped spec is valid, and each bad spec gets one clear message per problem.

Messages are checked as the user sees them, through the same loader helper as the platform config
(``config.loader.validate``): ``file: dotted.key: message``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from config.dataset_spec import COLUMN_ID_RE, DatasetSpec, column_id
from config.loader import ConfigError, read_yaml, validate
from sagemaker_code.steps.spec import DisparateImpactBounds, spec_from_dict

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
            VALID.replace("{name: sex,", "{name: ' sex',"),
            [
                "columns[1].name: must be non-empty, without surrounding whitespace or control characters (header "
                "fields are trimmed), got ' sex'"
            ],
            id="untrimmed-column-name",
        ),
        pytest.param(
            VALID.replace("{name: sex, type: categorical}", "{name: sex, id: 2sex, type: categorical}"),
            ["columns[1].id: must be a letter or '_' followed by letters, digits or '_', got '2sex'"],
            id="bad-column-id",
        ),
        pytest.param(
            VALID.replace(
                "{name: sex, type: categorical}", "{name: a-b, type: categorical}\n  - {name: a b, type: numeric}"
            ).replace("column: sex,", "column: a-b,"),
            ["columns[2].id: id 'a_b' (of 'a b') is also the id of columns[1] ('a-b'); give one of them another id"],
            id="id-collision",
        ),
        pytest.param(
            VALID.replace("{name: outcome, type: categorical}", "{name: outcome, type: categorical, missing: impute}"),
            [
                "columns[2].missing: the label column 'outcome' allows the missing policy error or drop_row (a row "
                "without a label cannot train), got 'impute'"
            ],
            id="label-policy",
        ),
        pytest.param(
            VALID.replace("{name: sex, type: categorical}", "{name: sex, type: categorical, missing: skip}"),
            ["columns[1].missing: input should be 'impute', 'category', 'drop_row' or 'error', got 'skip'"],
            id="unknown-policy",
        ),
        pytest.param(
            VALID.replace('delimiter: ","', 'delimiter: ",", missing_values: ["no"]'),
            ["label.values: ['no'] also in format.missing_values: such a field would be read as missing"],
            id="label-value-is-a-missing-token",
        ),
        pytest.param(
            VALID.replace('delimiter: ","', 'delimiter: ",", missing_values: [" ?"]'),
            [
                "format.missing_values: must be non-empty values without surrounding whitespace (fields are trimmed "
                "before they are compared; the empty field is always missing), got ' ?'"
            ],
            id="untrimmed-missing-token",
        ),
        pytest.param(
            VALID.replace('delimiter: ","', 'delimiter: ",", encoding: utf-9'),
            ["format.encoding: must be a text encoding Python knows (e.g. utf-8, latin-1), got 'utf-9'"],
            id="unknown-encoding",
        ),
        pytest.param(
            VALID.replace("column: outcome,", "column: Outcome,"),
            [
                "label.column: must be one of the columns ['age', 'sex', 'outcome'], got 'Outcome' (did you mean "
                "'outcome'? columns are named as the files write them)"
            ],
            id="label-column-case",
        ),
        pytest.param(
            VALID.replace("{name: sex, type: categorical}", "{name: Sex of person, type: categorical}").replace(
                "column: sex,", "column: Sex_of_person,"
            ),
            [
                "facets[1].column: must be one of the columns ['age', 'Sex of person', 'outcome'], got 'Sex_of_person' "
                "(did you mean 'Sex of person'? columns are named as the files write them)"
            ],
            id="facet-column-by-id",
        ),
        pytest.param(
            VALID.replace("cost_matrix: {false_positive: 2,", "cost_matrix: {false_positive: .inf,"),
            [
                "cost_matrix.false_positive: must be a finite number, got inf (.inf and .nan are not allowed: the "
                "steps and the pipeline definition carry the spec as JSON, which has no such numbers)"
            ],
            id="infinite-cost",
        ),
        pytest.param(
            VALID.replace("false_negative: 1}", "false_negative: .nan}"),
            [
                "cost_matrix.false_negative: must be a finite number, got nan (.inf and .nan are not allowed: the "
                "steps and the pipeline definition carry the spec as JSON, which has no such numbers)"
            ],
            id="nan-cost",
        ),
        pytest.param(
            VALID.replace("disadvantaged: {max: 25}", "disadvantaged: {max: .inf}"),
            [
                "facets[0].disadvantaged.max: must be a finite number, got inf (.inf and .nan are not allowed: the "
                "steps and the pipeline definition carry the spec as JSON, which has no such numbers)"
            ],
            id="infinite-facet-bound",
        ),
        pytest.param(
            VALID.replace("disadvantaged: {max: 25}}", "disadvantaged: {max: 25}, disparate_impact: {}}"),
            [
                "facets[0].disparate_impact: must give lower and/or upper (leave disparate_impact out to use the "
                "pipeline's bounds)"
            ],
            id="empty-facet-bounds",
        ),
        pytest.param(
            VALID.replace("disadvantaged: {max: 25}}", "disadvantaged: {max: 25}, disparate_impact: {lower: 1.2}}"),
            ["facets[0].disparate_impact.lower: input should be less than 1, got 1.2"],
            id="facet-lower-above-one",
        ),
        pytest.param(
            VALID.replace("disadvantaged: {max: 25}}", "disadvantaged: {max: 25}, disparate_impact: {upper: .inf}}"),
            [
                "facets[0].disparate_impact.upper: must be a finite number, got inf (.inf and .nan are not allowed: "
                "the steps and the pipeline definition carry the spec as JSON, which has no such numbers)"
            ],
            id="facet-upper-infinite",
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
            VALID.replace('delimiter: ","', "delimiter: ''"),
            ["format.delimiter: must be one or more characters without a quote or a line break, got ''"],
            id="empty-delimiter",
        ),
        pytest.param(
            VALID.replace('delimiter: ","', """delimiter: ',"'"""),
            ["format.delimiter: must be one or more characters without a quote or a line break, got ',\"'"],
            id="quote-in-delimiter",
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


def test_real_world_column_names_get_safe_ids_and_policies(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        VALID.replace("{name: age, type: numeric}", "{name: Hours per week, type: numeric}")
        .replace("{name: sex, type: categorical}", "{name: 2nd-job, type: categorical, missing: drop_row}")
        .replace("column: age,", "column: Hours per week,")
        .replace("column: sex,", "column: 2nd-job,")
        + "  - {name: any, column: '%', disadvantaged: {min: 1}}\n"
    )
    problems = problems_of(tmp_path, path.read_text())
    assert problems == [
        "facets[2].column: must be one of the columns ['Hours per week', '2nd-job', 'outcome'], got '%'"
    ]
    path.write_text(path.read_text().replace("  - {name: any, column: '%', disadvantaged: {min: 1}}\n", ""))
    spec = validate(DatasetSpec, read_yaml(path), path)
    assert [(c.name, c.id, c.missing) for c in spec.columns] == [
        ("Hours per week", "Hours_per_week", "impute"),  # numeric: impute by default
        ("2nd-job", "c_2nd_job", "drop_row"),  # a leading digit gets a prefix
        ("outcome", "outcome", "error"),  # the label: error by default
    ]
    dumped = spec.model_dump(mode="json")
    steps = spec_from_dict(dumped, path)
    assert [(c.name, c.id, c.policy) for c in steps.columns] == [
        ("Hours per week", "Hours_per_week", "impute"),
        ("2nd-job", "c_2nd_job", "drop_row"),
        ("outcome", "outcome", "error"),
    ]
    assert steps.label_policy == "error"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("age", "age"),
        ("_private", "_private"),
        ("education-num", "education_num"),
        ("marital.status", "marital_status"),
        ("  Hours  per   week ", "Hours_per_week"),
        ("2nd", "c_2nd"),
        ("Größe (cm)", "Groe_cm"),  # accents folded, other letters dropped
        ("%", "column_4"),
    ],
)
def test_column_ids(name: str, expected: str) -> None:
    assert column_id(name, 3) == expected
    assert COLUMN_ID_RE.fullmatch(expected)


def test_per_facet_bounds_reach_the_steps(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        VALID.replace("disadvantaged: {max: 25}}", "disadvantaged: {max: 25}, disparate_impact: {lower: 0.6}}")
    )
    spec = validate(DatasetSpec, read_yaml(path), path)
    steps = spec_from_dict(spec.model_dump(mode="json"), path)
    assert steps.facets[0].disparate_impact == DisparateImpactBounds(lower=0.6, upper=None)
    assert steps.facets[1].disparate_impact is None  # the pipeline's bounds


def test_the_example_specs_are_valid() -> None:
    for path in sorted((REPO_ROOT / "config" / "datasets").glob("*.yaml")):
        spec = validate(DatasetSpec, read_yaml(path), path)
        assert spec_from_dict(spec.model_dump(mode="json"), path).name == spec.name


def test_the_shipped_spec_reads_as_before() -> None:
    """Unchanged semantics: ids are the names, numeric columns impute, categorical ones keep missing as a category."""
    spec = DatasetSpec.model_validate(read_yaml(SHIPPED))
    assert all(column.id == column.name for column in spec.columns)
    assert {column.missing for column in spec.columns if column.type == "numeric"} == {"impute"}
    assert {c.missing for c in spec.columns if c.type == "categorical" and c.name != "credit_risk"} == {"category"}
    assert spec.format.encoding == "utf-8"
