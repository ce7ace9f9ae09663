"""The dataset spec as the steps see it: frozen dataclasses read from the JSON file the app writes.

The app validates the spec file with the pydantic model ``config.dataset_spec.DatasetSpec`` and writes
``DatasetSpec.model_dump(mode="json")``; the containers have no pydantic, so this module reads that JSON with the
standard library. It checks the structure (keys, types) and the invariants the steps rely on, so that a hand-written
or truncated file fails with a message naming the key, not with a ``KeyError`` deep in a step.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sagemaker_code.steps import contract
from sagemaker_code.steps.common import StepError, read_json

ColumnType = Literal["numeric", "categorical"]
MissingPolicy = Literal["impute", "category", "drop_row", "error"]
MISSING_POLICIES: tuple[MissingPolicy, ...] = ("impute", "category", "drop_row", "error")
#: The policy of a column whose spec names none (the app's dump always names it; config/dataset_spec.py documents it).
DEFAULT_MISSING: dict[str, MissingPolicy] = {"numeric": "impute", "categorical": "category"}
#: What a missing label does unless the spec says drop_row: a row without a label cannot train.
LABEL_POLICIES: tuple[MissingPolicy, ...] = ("error", "drop_row")
COLUMN_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SpecError(StepError):
    """The dataset spec file is missing or malformed."""


@dataclass(frozen=True)
class CsvFormat:
    """How the files are written; see config/dataset_spec.py for the reading rules (trimming, blank lines)."""

    header: bool
    delimiter: str  # one or more characters
    missing_values: tuple[str, ...]
    encoding: str = "utf-8"


@dataclass(frozen=True)
class Column:
    """A column: ``name`` as the files write it (shown to users), ``id`` the safe identifier (feature names,
    baseline), ``missing`` its missing-value policy."""

    name: str
    type: ColumnType
    id: str = ""  # "": the name (valid only when the name is an identifier; the app's dump always sets it)
    missing: MissingPolicy | None = None  # None: DEFAULT_MISSING of the type

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", self.name)
        if self.missing is None:
            object.__setattr__(self, "missing", DEFAULT_MISSING[self.type])

    @property
    def policy(self) -> MissingPolicy:
        """The missing-value policy (never None after construction)."""
        return self.missing or DEFAULT_MISSING[self.type]


@dataclass(frozen=True)
class Label:
    column: str
    values: tuple[str, str]
    positive: str
    decision_threshold: float | None  # None: the Train step chooses it by cost on the validation split

    @property
    def negative(self) -> str:
        return self.values[1] if self.values[0] == self.positive else self.values[0]


@dataclass(frozen=True)
class CostMatrix:
    false_positive: float
    false_negative: float


@dataclass(frozen=True)
class Split:
    validation: float
    test: float
    seed: int


@dataclass(frozen=True)
class DisparateImpactBounds:
    """A facet's own bias-gate bounds; None: the pipeline's bound (DisparateImpactLower/Upper)."""

    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class Facet:
    """A sensitive attribute; the disadvantaged group is ``values`` (categorical) or ``min <= x <= max`` (numeric)."""

    name: str
    column: str  # the column's name (as the files write it)
    values: tuple[str, ...] | None
    min: float | None
    max: float | None
    disparate_impact: DisparateImpactBounds | None = None  # None: the pipeline's bounds

    @property
    def bias_column(self) -> str:
        """Column of the bias dataset: 1 for the disadvantaged group."""
        return f"{contract.FACET_PREFIX}{self.name}"


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    sample_path: str | None  # repository-relative path of the shipped sample, if any
    format: CsvFormat
    columns: tuple[Column, ...]
    label: Label
    cost_matrix: CostMatrix
    split: Split
    facets: tuple[Facet, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def label_column(self) -> Column:
        return next(column for column in self.columns if column.name == self.label.column)

    @property
    def label_policy(self) -> MissingPolicy:
        """error or drop_row: what a row with a missing label does."""
        policy = self.label_column.policy
        return policy if policy in LABEL_POLICIES else "error"

    @property
    def feature_columns(self) -> tuple[Column, ...]:
        """Every column but the label, in file order: the raw input of the model."""
        return tuple(column for column in self.columns if column.name != self.label.column)


class _Reader:
    """Typed access to a parsed JSON object; every error names the file and the dotted key."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> SpecError:
        return SpecError(f"{self.source}: {where}: {message}")

    def mapping(self, data: object, where: str) -> dict[str, object]:
        if not isinstance(data, dict):
            raise self.fail(where, f"must be a mapping, got {type(data).__name__}")
        return data

    def key(self, data: dict[str, object], key: str, where: str) -> object:
        if key not in data:
            raise self.fail(f"{where}.{key}" if where else key, "required key is missing")
        return data[key]

    def string(self, data: dict[str, object], key: str, where: str) -> str:
        value = self.key(data, key, where)
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key}" if where else key, f"must be a string, got {value!r}")
        return value

    def number(self, data: dict[str, object], key: str, where: str) -> float:
        return self._number(self.key(data, key, where), f"{where}.{key}")

    def optional_number(self, data: dict[str, object], key: str, where: str) -> float | None:
        value = data.get(key)
        return None if value is None else self._number(value, f"{where}.{key}")

    def _number(self, value: object, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(where, f"must be a finite number, got {value!r}")
        return float(value)

    def strings(self, data: dict[str, object], key: str, where: str) -> tuple[str, ...]:
        return self._strings(self.key(data, key, where), f"{where}.{key}")

    def optional_strings(self, data: dict[str, object], key: str, where: str) -> tuple[str, ...] | None:
        value = data.get(key)
        return None if value is None else self._strings(value, f"{where}.{key}")

    def _strings(self, value: object, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(where, f"must be a list of strings, got {value!r}")
        return tuple(value)

    def items(self, data: dict[str, object], key: str) -> list[dict[str, object]]:
        value = self.key(data, key, "")
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list, got {type(value).__name__}")
        return [self.mapping(item, f"{key}[{index}]") for index, item in enumerate(value)]


def _format(read: _Reader, root: dict[str, object]) -> CsvFormat:
    fmt = read.mapping(read.key(root, "format", ""), "format")
    header = read.key(fmt, "header", "format")
    if not isinstance(header, bool):
        raise read.fail("format.header", f"must be true or false, got {header!r}")
    delimiter = read.string(fmt, "delimiter", "format")
    if not delimiter or any(char in delimiter for char in '"\r\n'):
        raise read.fail(
            "format.delimiter", f"must be one or more characters without quotes or line breaks, got {delimiter!r}"
        )
    encoding = fmt.get("encoding", "utf-8")
    if not isinstance(encoding, str) or not encoding:
        raise read.fail("format.encoding", f"must be a text encoding name, got {encoding!r}")
    return CsvFormat(
        header=header,
        delimiter=delimiter,
        missing_values=read.strings(fmt, "missing_values", "format"),
        encoding=encoding,
    )


def _columns(read: _Reader, root: dict[str, object]) -> tuple[Column, ...]:
    columns: list[Column] = []
    for index, item in enumerate(read.items(root, "columns")):
        where = f"columns[{index}]"
        kind = read.string(item, "type", where)
        if kind not in ("numeric", "categorical"):
            raise read.fail(f"{where}.type", f"must be 'numeric' or 'categorical', got {kind!r}")
        name = read.string(item, "name", where)
        column_id = item.get("id") if item.get("id") is not None else name
        if not isinstance(column_id, str) or not COLUMN_ID_RE.fullmatch(column_id):
            raise read.fail(f"{where}.id", f"must be an identifier (letters, digits, '_'), got {column_id!r}")
        missing = item.get("missing")
        if missing is not None and missing not in MISSING_POLICIES:
            raise read.fail(f"{where}.missing", f"must be one of {list(MISSING_POLICIES)} or null, got {missing!r}")
        columns.append(
            Column(
                name=name,
                type="numeric" if kind == "numeric" else "categorical",
                id=column_id,
                missing=next((policy for policy in MISSING_POLICIES if policy == missing), None),
            )
        )
    for key in ("name", "id"):
        values = [getattr(column, key) for column in columns]
        if len(set(values)) != len(values):
            raise read.fail("columns", f"column {key}s must be unique, got {values}")
    return tuple(columns)


def _label(read: _Reader, root: dict[str, object], names: list[str]) -> Label:
    raw = read.mapping(read.key(root, "label", ""), "label")
    values = read.strings(raw, "values", "label")
    if len(values) != 2 or values[0] == values[1]:
        raise read.fail("label.values", f"must be two different values, got {list(values)}")
    label = Label(
        column=read.string(raw, "column", "label"),
        values=(values[0], values[1]),
        positive=read.string(raw, "positive", "label"),
        decision_threshold=read.optional_number(raw, "decision_threshold", "label"),
    )
    if label.column not in names:
        raise read.fail("label.column", f"must be one of the columns {names}, got {label.column!r}")
    if label.positive not in label.values:
        raise read.fail("label.positive", f"must be one of label.values {list(label.values)}, got {label.positive!r}")
    if label.decision_threshold is not None and not 0 < label.decision_threshold < 1:
        raise read.fail("label.decision_threshold", f"must be between 0 and 1, got {label.decision_threshold}")
    return label


def _split(read: _Reader, root: dict[str, object]) -> Split:
    raw = read.mapping(read.key(root, "split", ""), "split")
    seed = read.key(raw, "seed", "split")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise read.fail("split.seed", f"must be a whole number >= 0, got {seed!r}")
    split = Split(validation=read.number(raw, "validation", "split"), test=read.number(raw, "test", "split"), seed=seed)
    if not (split.validation > 0 and split.test > 0 and split.validation + split.test < 1):
        raise read.fail(
            "split", f"validation and test must be > 0 with a sum below 1, got {split.validation}, {split.test}"
        )
    return split


def _facets(read: _Reader, root: dict[str, object], names: list[str], label: Label) -> tuple[Facet, ...]:
    facets: list[Facet] = []
    for index, item in enumerate(read.items(root, "facets")):
        where = f"facets[{index}]"
        group = read.mapping(read.key(item, "disadvantaged", where), f"{where}.disadvantaged")
        facet = Facet(
            name=read.string(item, "name", where),
            column=read.string(item, "column", where),
            values=read.optional_strings(group, "values", f"{where}.disadvantaged"),
            min=read.optional_number(group, "min", f"{where}.disadvantaged"),
            max=read.optional_number(group, "max", f"{where}.disadvantaged"),
            disparate_impact=_facet_bounds(read, item, where),
        )
        if facet.column not in names or facet.column == label.column:
            raise read.fail(f"{where}.column", f"must be a feature column, got {facet.column!r}")
        if (facet.values is None) == (facet.min is None and facet.max is None):
            raise read.fail(f"{where}.disadvantaged", "must give either values or min/max")
        facets.append(facet)
    return tuple(facets)


def _facet_bounds(read: _Reader, item: dict[str, object], where: str) -> DisparateImpactBounds | None:
    raw = item.get("disparate_impact")
    if raw is None:
        return None
    where = f"{where}.disparate_impact"
    bounds = read.mapping(raw, where)
    result = DisparateImpactBounds(
        lower=read.optional_number(bounds, "lower", where), upper=read.optional_number(bounds, "upper", where)
    )
    if result.lower is not None and not 0 < result.lower < 1:
        raise read.fail(f"{where}.lower", f"must be between 0 and 1, got {result.lower}")
    if result.upper is not None and result.upper <= 1:
        raise read.fail(f"{where}.upper", f"must be above 1, got {result.upper}")
    return result


def spec_from_dict(data: object, source: Path) -> DatasetSpec:
    """Build the spec from parsed JSON; ``source`` names the file in error messages."""
    read = _Reader(source)
    root = read.mapping(data, "top level")
    columns = _columns(read, root)
    names = [column.name for column in columns]
    label = _label(read, root, names)
    raw_cost = read.mapping(read.key(root, "cost_matrix", ""), "cost_matrix")
    sample_path = root.get("sample_path")
    if sample_path is not None and not isinstance(sample_path, str):
        raise read.fail("sample_path", f"must be a string or null, got {sample_path!r}")
    return DatasetSpec(
        name=read.string(root, "name", ""),
        sample_path=sample_path,
        format=_format(read, root),
        columns=columns,
        label=label,
        cost_matrix=CostMatrix(
            false_positive=read.number(raw_cost, "false_positive", "cost_matrix"),
            false_negative=read.number(raw_cost, "false_negative", "cost_matrix"),
        ),
        split=_split(read, root),
        facets=_facets(read, root, names, label),
    )


def load_spec(path: Path) -> DatasetSpec:
    """Read the spec JSON file the app wrote; :class:`SpecError` names the file and the key of any problem."""
    try:
        data = read_json(path, "dataset spec")
    except StepError as exc:
        raise SpecError(str(exc)) from None
    return spec_from_dict(data, path)
