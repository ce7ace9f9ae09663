"""Typed, validated *dataset spec*: what a training dataset looks like and how the pipeline treats it.

The SageMaker Pipeline is not tied to one dataset: its steps read a spec that names the columns and their types, the
label and its favourable (positive) value, the cost matrix, the split and the fairness facets. The app validates the
spec file with :class:`DatasetSpec` (``DatasetSpec.model_validate(data)``, like :class:`config.model.PlatformConfig`),
then writes ``DatasetSpec.model_dump(mode="json")`` to a JSON file that the steps receive; the steps read it with
:mod:`sagemaker_code.steps.spec` (no pydantic in the containers).

Columns keep the names of the user's files, whatever their spelling (``education-num``, ``Hours per week``,
``2nd_income``); each also has an ``id``, a safe identifier derived from the name unless given, which is what the
model's feature names and the data-quality baseline use. The validation fills in every derived value (``id``, the
``missing`` policy) so that the JSON dump is explicit and the steps never derive anything themselves.

Errors of the cross-field checks carry the dotted key path (``label.positive``, ``facets[1].column``) like every
other validation error, so the loader can report them as ``file: key: message``.
"""

from __future__ import annotations

import codecs
import math
import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from config.base import StrictModel
from config.dataset_checks import column_problems, facet_problems, label_problems

#: A column id: feature names, baseline names and identifiers in generated code need nothing quoted.
COLUMN_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DATASET_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}[a-z0-9]$")
#: Facet names become the column ``facet_<name>`` of the bias dataset and keys of the bias report and gates.json.
FACET_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
#: Characters a column name may not contain: line breaks and other control characters (a header field never does).
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

MissingPolicy = Literal["impute", "category", "drop_row", "error"]
#: The missing-value policy of a column that does not name one.
DEFAULT_MISSING: dict[str, MissingPolicy] = {"numeric": "impute", "categorical": "category", "label": "error"}


def _finite(value: Any) -> Any:
    """Refuse YAML's infinities and NaN, before the range checks (which would call NaN 'not greater than 0')."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(
            f"must be a finite number, got {value} (.inf and .nan are not allowed: the steps and the pipeline "
            "definition carry the spec as JSON, which has no such numbers)"
        )
    return value


#: A float that is not infinite or NaN (YAML's ``.inf``/``.nan``).
Finite = Annotated[float, BeforeValidator(_finite)]


def column_id(name: str, position: int) -> str:
    """The safe identifier of a column name: the name itself when it already is one, else its letters and digits
    (accents dropped) joined by '_', with ``c_`` before a leading digit; ``column_<n>`` (1-based) when nothing is
    left. ``education-num`` -> ``education_num``, ``Hours per week`` -> ``Hours_per_week``, ``2nd`` -> ``c_2nd``."""
    if COLUMN_ID_RE.fullmatch(name):
        return name
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    words = re.sub(r"[^A-Za-z0-9]+", "_", ascii_name).strip("_")
    if not words:
        return f"column_{position + 1}"
    return f"c_{words}" if words[0].isdigit() else words


class SpecModel(StrictModel):
    """Base of the spec's models."""


class CsvFormat(SpecModel):
    """How the input files are written.

    Fields are split at the delimiter; a field in double quotes may hold the delimiter and line breaks (a delimiter of
    several characters is matched literally, also inside quotes). Every field, header names included, then loses its
    surrounding spaces and tabs, quoted or not. A field that is then empty, or equal to one of ``missing_values``, is
    missing, and the column's ``missing`` policy decides what that does. Lines that are empty or hold nothing but
    spaces, tabs and delimiters are skipped (a trailing blank line too); line breaks may be LF, CRLF or CR; a UTF-8
    byte-order mark is ignored. A row with another number of fields than the header (or, without a header, the
    spec's columns) stops the step with its file and line, as does a value that does not fit its column.
    """

    type: Literal["csv"] = Field(default="csv", description="File format; only delimited text (csv) for now.")
    header: bool = Field(
        default=False,
        description="The first line of every file names the columns (then found by name, in any order; extra "
        "columns are ignored). false: the fields are the columns in the spec's order.",
    )
    delimiter: str = Field(
        default=",",
        description="The text between fields: one character such as ',' ';' '|' a tab or a space, or several, "
        "such as ', ' (matched literally, also inside quotes).",
    )
    encoding: str = Field(
        default="utf-8", description="Text encoding of the files, a Python codec name (e.g. utf-8, latin-1, cp1252)."
    )
    missing_values: list[str] = Field(
        default_factory=list,
        description="Field values that mean 'missing' besides the empty field, compared after trimming, e.g. "
        "['?', 'NA']. What a missing value then does is the column's missing policy.",
    )

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        if not value or '"' in value or "\n" in value or "\r" in value:
            raise ValueError(f"must be one or more characters without a quote or a line break, got {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"must be a text encoding Python knows (e.g. utf-8, latin-1), got {value!r}") from None
        return value

    @field_validator("missing_values")
    @classmethod
    def _missing_values(cls, value: list[str]) -> list[str]:
        for token in value:
            if not token.strip() or token != token.strip():
                raise ValueError(
                    f"must be non-empty values without surrounding whitespace (fields are trimmed before they are "
                    f"compared; the empty field is always missing), got {token!r}"
                )
        if len(set(value)) != len(value):
            raise ValueError(f"must not repeat a value, got {value!r}")
        return value


class Column(SpecModel):
    """One column of the input files.

    Its ``name`` is the one the user sees, exactly as the files write it: in every message, in the reports and in the
    raw test rows (``test_raw.csv``), and as the key of a JSON request to the endpoint (the ``id`` is accepted there
    too, for clients that cannot write the name). Its ``id`` is what the pipeline uses where a name must be an
    identifier: the model's feature names (``<id>`` for a numeric column, ``<id>=<value>`` per category) and the
    data-quality baseline. With a header, the header must write every name exactly (a name that differs only in
    case is pointed out).
    """

    name: str = Field(
        description="The column's name as the files' header writes it, any spelling (e.g. 'education-num', "
        "'Hours per week'); shown in messages, reports and the serving request."
    )
    id: str | None = Field(
        default=None,
        description="Safe identifier (a letter or '_', then letters, digits, '_') used for the model's feature "
        "names and the data-quality baseline. Omitted: the name if it is one, else derived from it "
        "('education-num' -> 'education_num', '2nd' -> 'c_2nd').",
        json_schema_extra={"default_text": "derived from name"},
    )
    type: Literal["numeric", "categorical"] = Field(
        description="numeric: numbers (one feature, the value); categorical: codes or text (one-hot encoded)."
    )
    missing: MissingPolicy | None = Field(
        default=None,
        description="What a missing value does: impute (numeric: the train median; categorical: the most frequent "
        "train value), category (a value of its own: an extra 0/1 feature for categorical, XGBoost's own "
        "missing-value branch for numeric), drop_row (the row is left out of training; serving refuses it), error "
        "(the step stops naming the rows; serving refuses it). The label allows error or drop_row only.",
        json_schema_extra={"default_text": "numeric: impute, categorical: category, the label: error"},
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip() or value != value.strip() or _CONTROL_RE.search(value):
            raise ValueError(
                f"must be non-empty, without surrounding whitespace or control characters (header fields are "
                f"trimmed), got {value!r}"
            )
        return value

    @field_validator("id")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        if value is not None and not COLUMN_ID_RE.fullmatch(value):
            raise ValueError(f"must be a letter or '_' followed by letters, digits or '_', got {value!r}")
        return value


class Label(SpecModel):
    """The column to predict (binary classification)."""

    column: str = Field(description="Name of the label column (a categorical column).")
    values: list[str] = Field(description="The two label values as written in the files, e.g. ['1', '2'].")
    positive: str = Field(
        description="The favourable outcome (one of values); the model predicts P(label == positive)."
    )
    decision_threshold: Finite | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Probability at or above which a row is predicted positive. Omitted (the default): the Train "
        "step chooses the threshold that minimises the expected cost (cost_matrix) on the validation split. A "
        "number: a fixed override, used as it is.",
    )

    @field_validator("values")
    @classmethod
    def _values(cls, value: list[str]) -> list[str]:
        if len(value) != 2 or value[0] == value[1]:
            raise ValueError(f"must be two different values (binary classification), got {value!r}")
        for item in value:
            if not item.strip() or item != item.strip():
                raise ValueError(
                    f"must be non-empty values without surrounding whitespace (fields are trimmed), got {item!r}"
                )
        return value


class CostMatrix(SpecModel):
    """Cost of each kind of error: it chooses the decision threshold, and the cost gate compares the model's test cost
    with the cheapest constant decision (accept everyone / reject everyone)."""

    false_positive: Finite = Field(ge=0, description="Cost of predicting positive for a row that is negative.")
    false_negative: Finite = Field(ge=0, description="Cost of predicting negative for a row that is positive.")


class Split(SpecModel):
    """Stratified train/validation/test split; train gets the rest."""

    validation: Finite = Field(gt=0, lt=1, description="Share of the rows of each class in the validation split.")
    test: Finite = Field(gt=0, lt=1, description="Share of the rows of each class in the test split.")
    seed: int = Field(default=42, ge=0, description="Seed of the split (and of every other random choice).")

    @model_validator(mode="after")
    def _train_left(self) -> Split:
        total = self.validation + self.test
        if total >= 1:
            raise ValueError(
                f"validation + test must be below 1 (train gets the rest), got {self.validation} + {self.test} "
                f"= {total:g}"
            )
        return self


class DisadvantagedGroup(SpecModel):
    """A facet's disadvantaged group: ``values`` for a categorical column, ``min``/``max`` for a numeric one."""

    values: list[str] | None = Field(default=None, description="Categorical facet: the values of the group.")
    min: Finite | None = Field(default=None, description="Numeric facet: lowest value of the group (inclusive).")
    max: Finite | None = Field(default=None, description="Numeric facet: highest value of the group (inclusive).")

    @model_validator(mode="after")
    def _one_kind(self) -> DisadvantagedGroup:
        bounds = self.min is not None or self.max is not None
        if self.values is not None and bounds:
            raise ValueError("must give either values (categorical column) or min/max (numeric column), not both")
        if self.values is None and not bounds:
            raise ValueError("must give values (categorical column) or min and/or max (numeric column)")
        if self.values is not None and (not self.values or len(set(self.values)) != len(self.values)):
            raise ValueError(f"values must be a non-empty list of different values, got {self.values!r}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min must not exceed max, got min {self.min:g} and max {self.max:g}")
        return self


class FacetBounds(SpecModel):
    """This facet's allowed range of disparate impact, instead of the pipeline's (``DisparateImpactLower``/``Upper``
    parameters, from ``model_build.disparate_impact``); a bound left out is the pipeline's."""

    lower: Finite | None = Field(default=None, gt=0, lt=1, description="Lowest allowed DI of this facet.")
    upper: Finite | None = Field(default=None, gt=1, description="Highest allowed DI of this facet.")

    @model_validator(mode="after")
    def _some(self) -> FacetBounds:
        if self.lower is None and self.upper is None:
            raise ValueError("must give lower and/or upper (leave disparate_impact out to use the pipeline's bounds)")
        return self


class Facet(SpecModel):
    """A sensitive attribute checked for bias, and its disadvantaged group."""

    name: str = Field(
        description="Short name (lowercase letters, digits, '_'); the bias dataset column is facet_<name>."
    )
    column: str = Field(description="Name of the (feature) column the group is defined on.")
    disadvantaged: DisadvantagedGroup = Field(description="The rows of the disadvantaged group.")
    disparate_impact: FacetBounds | None = Field(
        default=None,
        description="Bias gate bounds of this facet (lower, upper). Omitted: the pipeline's DisparateImpactLower "
        "and DisparateImpactUpper.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not FACET_NAME_RE.fullmatch(value):
            raise ValueError(f"must be 1-32 lowercase letters, digits or '_' starting with a letter, got {value!r}")
        return value


def _fill_derived(data: Any) -> Any:
    """The raw spec with each column's ``id`` and ``missing`` filled in where omitted (anything malformed is left
    for the field validators to report)."""
    if not isinstance(data, dict) or not isinstance(data.get("columns"), list):
        return data
    label = data.get("label")
    label_column = label.get("column") if isinstance(label, dict) else None
    columns: list[object] = []
    for position, given in enumerate(data["columns"]):
        column = given
        if isinstance(given, dict) and isinstance(given.get("name"), str):
            column = dict(given)
            column.setdefault("id", column_id(given["name"].strip(), position))
            kind = "label" if given["name"] == label_column else given.get("type")
            if isinstance(kind, str) and kind in DEFAULT_MISSING:
                column.setdefault("missing", DEFAULT_MISSING[kind])
        columns.append(column)
    return {**data, "columns": columns}


class DatasetSpec(SpecModel):
    """The whole dataset spec file."""

    name: str = Field(description="Dataset name (lowercase letters, digits and '-'), recorded in every output.")
    description: str = Field(default="", description="Free text: source, licence, notes.")
    sample_path: str | None = Field(
        default=None, description="Repository-relative path of a shipped sample, the default input of the pipeline."
    )
    format: CsvFormat = Field(default_factory=CsvFormat, description="How the input files are written.")
    columns: list[Column] = Field(description="Every column, in file order (for files without a header).")
    label: Label = Field(description="The column to predict and its favourable value.")
    cost_matrix: CostMatrix = Field(description="Cost of each kind of error.")
    split: Split = Field(description="Stratified train/validation/test split.")
    facets: list[Facet] = Field(default_factory=list, description="Sensitive attributes checked for bias.")

    @model_validator(mode="before")
    @classmethod
    def _derived(cls, data: Any) -> Any:
        return _fill_derived(data)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not DATASET_NAME_RE.fullmatch(value):
            raise ValueError(
                f"must be 2-64 lowercase letters, digits and '-', start with a letter and not end with '-', "
                f"got {value!r}"
            )
        return value

    @field_validator("sample_path")
    @classmethod
    def _sample_path(cls, value: str | None) -> str | None:
        if value is not None and (not value or value.startswith("/") or ".." in value.split("/")):
            raise ValueError(f"must be a path relative to the repository root, got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        problems = column_problems(self) + label_problems(self) + facet_problems(self)
        if problems:
            # One error per problem, each at its own key path (not one joined message at the top level).
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("value_error", "{message}", {"message": message}),
                        loc=loc,
                        input=value,
                    )
                    for loc, message, value in problems
                ],
            )
        return self
