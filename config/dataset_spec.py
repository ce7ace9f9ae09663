"""Typed, validated *dataset spec*: what a training dataset looks like and how the pipeline treats it.

The SageMaker Pipeline is not tied to one dataset: its steps read a spec that names the columns and their types, the
label and its favourable (positive) value, the cost matrix, the split and the fairness facets. The app validates the
spec file with :class:`DatasetSpec` (``DatasetSpec.model_validate(data)``, like :class:`config.model.PlatformConfig`),
then writes ``DatasetSpec.model_dump(mode="json")`` to a JSON file that the steps receive; the steps read it with
:mod:`sagemaker_code.steps.spec` (no pydantic in the containers).

Errors of the cross-field checks carry the dotted key path (``label.positive``, ``facets[1].column``) like every
other validation error, so the loader can report them as ``file: key: message``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from config.base import StrictModel

#: Column names become CSV headers, feature names and JSON keys: identifier-like, so nothing needs quoting.
COLUMN_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DATASET_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}[a-z0-9]$")
#: Facet names become the column ``facet_<name>`` of the bias dataset and keys of the bias report and gates.json.
FACET_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

#: A cross-field problem: key path, message, offending value.
_Problem = tuple[tuple[str | int, ...], str, object]


class CsvFormat(StrictModel):
    """How the input files are written."""

    type: Literal["csv"] = Field(default="csv", description="File format; only delimited text (csv) for now.")
    header: bool = Field(default=False, description="The first line of every file names the columns.")
    delimiter: str = Field(default=",", description="The one character between fields, e.g. ',' or ' '.")
    missing_values: list[str] = Field(
        default_factory=list,
        description="Field values that mean 'missing' besides the empty field, e.g. ['?', 'NA'].",
    )

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        if len(value) != 1 or value in {'"', "\n", "\r"}:
            raise ValueError(f"must be one character other than a quote or a line break, got {value!r}")
        return value


class Column(StrictModel):
    """One column of the input files."""

    name: str = Field(description="Column name: a letter or '_' followed by letters, digits or '_'.")
    type: Literal["numeric", "categorical"] = Field(
        description="numeric: numbers (missing values are imputed); categorical: codes or text (one-hot encoded)."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not COLUMN_NAME_RE.fullmatch(value):
            raise ValueError(f"must be a letter or '_' followed by letters, digits or '_', got {value!r}")
        return value


class Label(StrictModel):
    """The column to predict (binary classification)."""

    column: str = Field(description="Name of the label column (a categorical column).")
    values: list[str] = Field(description="The two label values as written in the files, e.g. ['1', '2'].")
    positive: str = Field(
        description="The favourable outcome (one of values); the model predicts P(label == positive)."
    )
    decision_threshold: float | None = Field(
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
        return value


class CostMatrix(StrictModel):
    """Cost of each kind of error: it chooses the decision threshold, and the cost gate compares the model's test cost
    with the cheapest constant decision (accept everyone / reject everyone)."""

    false_positive: float = Field(ge=0, description="Cost of predicting positive for a row that is negative.")
    false_negative: float = Field(ge=0, description="Cost of predicting negative for a row that is positive.")


class Split(StrictModel):
    """Stratified train/validation/test split; train gets the rest."""

    validation: float = Field(gt=0, lt=1, description="Share of the rows of each class in the validation split.")
    test: float = Field(gt=0, lt=1, description="Share of the rows of each class in the test split.")
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


class DisadvantagedGroup(StrictModel):
    """A facet's disadvantaged group: ``values`` for a categorical column, ``min``/``max`` for a numeric one."""

    values: list[str] | None = Field(default=None, description="Categorical facet: the values of the group.")
    min: float | None = Field(default=None, description="Numeric facet: lowest value of the group (inclusive).")
    max: float | None = Field(default=None, description="Numeric facet: highest value of the group (inclusive).")

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


class Facet(StrictModel):
    """A sensitive attribute checked for bias, and its disadvantaged group."""

    name: str = Field(
        description="Short name (lowercase letters, digits, '_'); the bias dataset column is facet_<name>."
    )
    column: str = Field(description="The (feature) column the group is defined on.")
    disadvantaged: DisadvantagedGroup = Field(description="The rows of the disadvantaged group.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not FACET_NAME_RE.fullmatch(value):
            raise ValueError(f"must be 1-32 lowercase letters, digits or '_' starting with a letter, got {value!r}")
        return value


class DatasetSpec(StrictModel):
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
        problems = self._column_problems() + self._label_problems() + self._facet_problems()
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

    def _column_problems(self) -> list[_Problem]:
        problems: list[_Problem] = []
        names = [column.name for column in self.columns]
        for index, name in enumerate(names):
            if name in names[:index]:
                problems.append((("columns", index, "name"), f"duplicate column name {name!r}", name))
        if len(names) < 2:
            problems.append((("columns",), f"must list the label and at least one feature, got {names}", names))
        return problems

    def _label_problems(self) -> list[_Problem]:
        problems: list[_Problem] = []
        label, types = self.label, {column.name: column.type for column in self.columns}
        if label.column not in types:
            problems.append(
                (("label", "column"), f"must be one of the columns {list(types)}, got {label.column!r}", label.column)
            )
        elif types[label.column] != "categorical":
            problems.append(
                (
                    ("label", "column"),
                    f"the label column {label.column!r} must have type categorical, got numeric",
                    label.column,
                )
            )
        if label.positive not in label.values:
            problems.append(
                (
                    ("label", "positive"),
                    f"must be one of label.values {label.values}, got {label.positive!r}",
                    label.positive,
                )
            )
        return problems

    def _facet_problems(self) -> list[_Problem]:
        problems: list[_Problem] = []
        types = {column.name: column.type for column in self.columns}
        seen: set[str] = set()
        for index, facet in enumerate(self.facets):
            where: tuple[str | int, ...] = ("facets", index)
            if facet.name in seen:
                problems.append(((*where, "name"), f"duplicate facet name {facet.name!r}", facet.name))
            seen.add(facet.name)
            kind = types.get(facet.column)
            group = facet.disadvantaged
            if facet.column == self.label.column:
                message = f"must be a feature column, not the label {self.label.column!r}"
                problems.append(((*where, "column"), message, facet.column))
            elif kind is None:
                message = f"must be one of the columns {list(types)}, got {facet.column!r}"
                problems.append(((*where, "column"), message, facet.column))
            elif kind == "numeric" and group.values is not None:
                message = f"column {facet.column!r} is numeric: give min and/or max, not values"
                problems.append(((*where, "disadvantaged"), message, group))
            elif kind == "categorical" and group.values is None:
                message = f"column {facet.column!r} is categorical: give values, not min/max"
                problems.append(((*where, "disadvantaged"), message, group))
        return problems
