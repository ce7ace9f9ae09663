"""The feature transform: raw rows (spec columns, as written in the files) to the model's numeric features.

Fitted on the train split only and saved as JSON (``transform.json``), never pickled: the model is served by the
XGBoost container with this module and ``inference.py`` only, so the file carries everything serving needs (the raw
columns in order with their names and ids, the fitted statistics, the missing-value policies, the label values and the
decision threshold) and no spec file is read there.

The decision threshold is the model's, not the data's: the preprocess step writes ``transform.json`` with
``label.decision_threshold: null`` and the Train step writes the model folder's copy with the threshold it chose (by
cost on the validation split, or the spec's fixed override). Reading a transform requires the threshold unless the
caller says otherwise (only the Train step reads the preprocess output), so serving or evaluating a model whose
``transform.json`` lacks it fails with a message instead of deciding at some default.

- numeric column: one feature, the value (named by the column's id); a missing value is the train median (policy
  ``impute``) or stays missing for XGBoost's own missing-value branch (``category``).
- categorical column: one 0/1 feature per category seen in train (sorted, so names are stable), named
  ``<id>=<value>``; an unseen value gives all zeros; a missing value is the most frequent train value (``impute``),
  or sets an extra ``<id>=(missing)`` feature when train had missing values (``category``, else all zeros). The
  missing features come after every column's own, so a column's features are where they would be without them.
- policies ``drop_row`` and ``error``: the rows were left out of (or stopped) training; a missing value is refused.

Values are parsed once per distinct value (``pd.factorize``), so a column of a million rows costs a hash pass, not a
million Python calls; the preprocess step reads its input with the same functions, so training and serving parse
alike. Standard library, numpy and pandas only; Python 3.10 compatible; works with pandas 2.2 (the image) and 3.x.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain

FORMAT_VERSION = 2
#: transform.json versions this module reads (1: before column ids and missing-value policies).
READABLE_VERSIONS = (1, 2)
#: The file name of a saved transform: in Preprocess' transform output and in the model folder (serving reads it).
TRANSFORM_FILE = "transform.json"
NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
INTEGER_RE = re.compile(r"^[+-]?\d+$")
#: XGBoost refuses these characters in feature names.
_FEATURE_NAME_BAD_CHARS = re.compile(r"[\[\]<,\s]")
MISSING_FEATURE = "(missing)"
#: Category index of a missing value before its column's policy applies (-1 is a value not seen in train).
MISSING, UNSEEN = -2, -1
REFUSE_MISSING = ("drop_row", "error")


class TransformInputError(ValueError):
    """A raw row cannot be transformed (missing column, bad value); the message names the row and column."""


class TransformFileError(ValueError):
    """transform.json is malformed or of another format version."""


def parse_number(value: object, missing_values: Collection[str]) -> float:
    """A raw cell of a numeric column as float; NaN when missing. ValueError (the reason) for anything else."""
    if value is None:
        return math.nan
    if isinstance(value, (bool, np.bool_)):
        raise ValueError("a boolean, not a number")
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        if math.isinf(number):
            raise ValueError("not a finite number")
        return number  # NaN: pandas' marker of a missing cell
    if isinstance(value, str):
        text = value.strip()
        if not text or text in missing_values:
            return math.nan
        if not NUMBER_RE.fullmatch(text):
            raise ValueError("not a number")
        number = float(text)
        if math.isinf(number):
            raise ValueError("not a finite number")
        return number
    raise ValueError(f"a {type(value).__name__}, not a number")


def parse_category(value: object, missing_values: Collection[str]) -> str | None:
    """A raw cell of a categorical column as its text; None when missing. Whole numbers are accepted (JSON)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        text = value.strip()
        return None if not text or text in missing_values else text
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    raise ValueError(f"expected text, got {value!r} ({type(value).__name__})")


def factorized(values: pd.Series | Sequence[object]) -> tuple[np.ndarray, list[object]]:
    """(codes, distinct values) of a column: ``codes[i]`` indexes the distinct values, -1 for NaN/None.

    Text columns are hashed by pandas; a column of other Python objects (JSON numbers, booleans) is kept value by
    value, because hashing would merge ``True`` with ``1``.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(dtype=np.int64), list(series.cat.categories)
    if series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) not in ("string", "empty"):
        return np.arange(len(series), dtype=np.int64), series.tolist()
    codes, uniques = pd.factorize(series)
    return codes.astype(np.int64, copy=False), list(uniques)


def number_table(uniques: Sequence[object], missing_values: Collection[str]) -> tuple[np.ndarray, dict[int, str]]:
    """The number of each distinct raw value (NaN when missing) and, by position, why the others are not numbers.

    Text goes through ``pd.to_numeric`` at C speed; what it cannot read (missing tokens, infinities, digits of other
    scripts) goes through :func:`parse_number`, which decides, so every path accepts exactly the same text.
    """
    numbers = np.full(len(uniques), np.nan)
    texts = [position for position, value in enumerate(uniques) if isinstance(value, str)]
    if texts:
        numbers[texts] = pd.to_numeric(pd.Series([uniques[i] for i in texts], dtype=object), errors="coerce")
    texts_set = set(texts)
    recheck = [i for i in range(len(uniques)) if i not in texts_set or not math.isfinite(numbers[i])]
    bad: dict[int, str] = {}
    for position in recheck:
        try:
            numbers[position] = parse_number(uniques[position], missing_values)
        except ValueError as exc:
            numbers[position], bad[position] = math.nan, str(exc)
    return numbers, bad


def category_table(
    uniques: Sequence[object], missing_values: Collection[str]
) -> tuple[list[str | None], dict[int, str]]:
    """The category (trimmed text, None when missing) of each distinct raw value, and why the others are not text."""
    categories: list[str | None] = []
    bad: dict[int, str] = {}
    for position, value in enumerate(uniques):
        try:
            categories.append(parse_category(value, missing_values))
        except ValueError as exc:
            categories.append(None)
            bad[position] = str(exc)
    return categories, bad


@dataclass(frozen=True)
class NumericFeature:
    name: str  # the column's name as the files write it (the key of a JSON request)
    median: float
    id: str = ""  # the safe identifier (the feature name); "" = the name
    missing: str = "impute"

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", self.name)

    @property
    def width(self) -> int:
        """How many features the column has in its place: one."""
        return 1


@dataclass(frozen=True)
class CategoricalFeature:
    name: str
    categories: tuple[str, ...]
    id: str = ""
    missing: str = "category"
    fill: str | None = None  # impute: the most frequent train value
    missing_feature: bool = False  # category: train had missing values, which get a 0/1 feature of their own

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", self.name)

    @property
    def width(self) -> int:
        """How many features the column has in its place: one per category (the missing one comes after all)."""
        return len(self.categories)


Feature = NumericFeature | CategoricalFeature


@dataclass(frozen=True)
class LabelInfo:
    """What a prediction means: P(column == positive); positive when the probability is >= decision_threshold."""

    column: str
    positive: str
    negative: str
    decision_threshold: float | None  # None until the Train step chooses it (the preprocess output)


def _feature_names(columns: tuple[Feature, ...]) -> tuple[str, ...]:
    """Every column's features in column order, then the missing-value features (so that a column's features start
    at the same place whether or not some column has one)."""
    candidates: list[str] = []
    for column in columns:
        if isinstance(column, NumericFeature):
            candidates.append(column.id)
        else:
            candidates += [_FEATURE_NAME_BAD_CHARS.sub("_", f"{column.id}={value}") for value in column.categories]
    for column in columns:
        if isinstance(column, CategoricalFeature) and column.missing_feature:
            candidates.append(_FEATURE_NAME_BAD_CHARS.sub("_", f"{column.id}={MISSING_FEATURE}"))
    names: list[str] = []
    for candidate in candidates:
        name, suffix = candidate, 1
        while name in names:  # two categories that differ only in characters XGBoost refuses
            suffix += 1
            name = f"{candidate}~{suffix}"
        names.append(name)
    return tuple(names)


def _refuse_missing(column: Feature, rows: np.ndarray, offset: int) -> None:
    if rows.size and column.missing in REFUSE_MISSING:
        raise TransformInputError(
            f"row {offset + int(rows[0]) + 1}, column {column.name!r}: a value is required (the spec's missing "
            f"policy of this column is {column.missing}: such rows were not trained on)"
        )


def resolve_numeric(column: NumericFeature, values: np.ndarray, offset: int = 0) -> np.ndarray:
    """The feature of a numeric column from its values (NaN = missing), by the column's missing policy."""
    missing = np.isnan(values)
    _refuse_missing(column, np.flatnonzero(missing), offset)
    if column.missing == "category" or not missing.any():
        return values
    return np.where(missing, column.median, values)


def resolve_categorical(column: CategoricalFeature, indices: np.ndarray, offset: int = 0) -> np.ndarray:
    """Category index per row (-1: none of the 0/1 features) from indices with ``MISSING`` for missing values."""
    missing = indices == MISSING
    if not missing.any():
        return indices
    _refuse_missing(column, np.flatnonzero(missing), offset)
    if column.missing == "impute" and column.fill is not None:
        replacement = column.categories.index(column.fill)
    elif column.missing == "category" and column.missing_feature:
        replacement = len(column.categories)
    else:
        replacement = UNSEEN
    return np.where(missing, replacement, indices)


def first_bad(codes: np.ndarray, bad: dict[int, str]) -> tuple[int, int]:
    rows = np.flatnonzero(np.isin(codes, list(bad)))
    return int(rows[0]), int(codes[rows[0]])


@dataclass(frozen=True)
class Transform:
    spec_name: str
    label: LabelInfo
    missing_values: tuple[str, ...]
    columns: tuple[Feature, ...]  # raw feature columns, in spec (file) order
    _names: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_names", _feature_names(self.columns))

    @property
    def input_columns(self) -> tuple[str, ...]:
        """The raw columns a request row carries, in order (the spec's column names without the label)."""
        return tuple(column.name for column in self.columns)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self._names

    def encode(self, frame: pd.DataFrame) -> list[np.ndarray]:
        """Per column: the numeric feature values, or the category index of each row (-1: no 0/1 feature set)."""
        missing = [name for name in self.input_columns if name not in frame.columns]
        if missing:
            raise TransformInputError(f"missing columns {missing} (expected {list(self.input_columns)})")
        encoded: list[np.ndarray] = []
        for column in self.columns:
            codes, uniques = factorized(frame[column.name])
            if isinstance(column, NumericFeature):
                numbers, bad = number_table(uniques, self.missing_values)
                if bad:
                    row, code = first_bad(codes, bad)
                    raise TransformInputError(
                        f"row {row + 1}, column {column.name!r} (numeric): {uniques[code]!r} is {bad[code]}"
                    )
                encoded.append(resolve_numeric(column, np.append(numbers, np.nan)[codes]))
            else:
                texts, bad = category_table(uniques, self.missing_values)
                if bad:
                    row, code = first_bad(codes, bad)
                    raise TransformInputError(f"row {row + 1}, column {column.name!r} (categorical): {bad[code]}")
                positions = {category: index for index, category in enumerate(column.categories)}
                table = [MISSING if text is None else positions.get(text, UNSEEN) for text in texts]
                encoded.append(resolve_categorical(column, np.array([*table, MISSING], dtype=np.int64)[codes]))
        return encoded

    def assemble(self, encoded: Sequence[np.ndarray]) -> np.ndarray:
        """The feature matrix (float64) of encoded columns (see :meth:`encode`)."""
        rows = len(encoded[0]) if encoded else 0
        out = np.zeros((rows, len(self.feature_names)), dtype=np.float64)
        offset, extra = 0, sum(column.width for column in self.columns)
        for column, values in zip(self.columns, encoded, strict=True):
            if isinstance(column, NumericFeature):
                out[:, offset] = values
            else:
                known = np.flatnonzero((values >= 0) & (values < column.width))
                out[known, offset + values[known]] = 1.0
                if column.missing_feature:
                    out[values == column.width, extra] = 1.0
                    extra += 1
            offset += column.width
        return out

    def apply(self, frame: pd.DataFrame) -> np.ndarray:
        """Features (float64, one row per input row) of a frame of raw values; extra columns are ignored."""
        return self.assemble(self.encode(frame))

    def predicted_positive(self, probabilities: np.ndarray) -> np.ndarray:
        """Boolean mask: the rows predicted as the positive (favourable) label value."""
        threshold = self.label.decision_threshold
        if threshold is None:
            raise TransformFileError("transform.json has no label.decision_threshold: it is not a trained model's")
        result: np.ndarray = np.asarray(probabilities) >= threshold
        return result

    def with_threshold(self, threshold: float) -> Transform:
        """This transform with the model's decision threshold (what the Train step writes to the model folder)."""
        if not 0 < threshold < 1:
            raise ValueError(f"the decision threshold must be between 0 and 1, got {threshold}")
        return replace(self, label=replace(self.label, decision_threshold=float(threshold)))

    def to_json(self) -> str:
        columns: list[dict[str, object]] = []
        for column in self.columns:
            common = {"name": column.name, "id": column.id, "missing": column.missing}
            if isinstance(column, NumericFeature):
                columns.append({**common, "type": "numeric", "median": column.median})
            else:
                columns.append(
                    {
                        **common,
                        "type": "categorical",
                        "categories": list(column.categories),
                        "fill": column.fill,
                        "missing_feature": column.missing_feature,
                    }
                )
        data = {
            "format_version": FORMAT_VERSION,
            "spec_name": self.spec_name,
            "label": {
                "column": self.label.column,
                "positive": self.label.positive,
                "negative": self.label.negative,
                "decision_threshold": self.label.decision_threshold,
            },
            "missing_values": list(self.missing_values),
            "columns": columns,
            "feature_names": list(self.feature_names),
        }
        return json.dumps(data, indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str, *, threshold_required: bool = True) -> Transform:
        """Parse transform.json; ``threshold_required=False`` accepts the preprocess output (threshold null)."""
        try:
            data = json.loads(text)
            if data["format_version"] not in READABLE_VERSIONS:
                raise TransformFileError(
                    f"transform.json: format_version must be one of {list(READABLE_VERSIONS)}, got "
                    f"{data['format_version']!r}"
                )
            columns = tuple(_column_from_json(item) for item in data["columns"])
            label = data["label"]
            threshold = label["decision_threshold"]
            if threshold is None and threshold_required:
                raise TransformFileError(
                    "transform.json: label.decision_threshold is null: this is the preprocess step's transform, "
                    "the model folder's copy (written by the Train step) carries the model's threshold"
                )
            if threshold is not None and not 0 < float(threshold) < 1:
                raise TransformFileError(
                    f"transform.json: label.decision_threshold must be between 0 and 1, got {threshold!r}"
                )
            transform = cls(
                spec_name=str(data["spec_name"]),
                label=LabelInfo(
                    column=str(label["column"]),
                    positive=str(label["positive"]),
                    negative=str(label["negative"]),
                    decision_threshold=None if threshold is None else float(threshold),
                ),
                missing_values=tuple(str(value) for value in data["missing_values"]),
                columns=columns,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, TransformFileError):
                raise
            raise TransformFileError(f"transform.json is malformed: {type(exc).__name__}: {exc}") from None
        if list(transform.feature_names) != data["feature_names"]:
            raise TransformFileError("transform.json: feature_names do not match the columns (edited by hand?)")
        return transform


def _column_from_json(item: dict[str, object]) -> Feature:
    name, column_id = str(item["name"]), str(item.get("id") or item["name"])
    if item["type"] == "numeric":
        median = item["median"]
        if not isinstance(median, (int, float)):
            raise TypeError(f"median of {name!r} must be a number, got {median!r}")
        return NumericFeature(name=name, median=float(median), id=column_id, missing=str(item.get("missing", "impute")))
    if item["type"] == "categorical":
        categories = item["categories"]
        if not isinstance(categories, list):
            raise TypeError(f"categories of {name!r} must be a list, got {categories!r}")
        fill = item.get("fill")
        return CategoricalFeature(
            name=name,
            categories=tuple(str(value) for value in categories),
            id=column_id,
            missing=str(item.get("missing", "category")),
            fill=None if fill is None else str(fill),
            missing_feature=bool(item.get("missing_feature", False)),
        )
    raise TransformFileError(f"transform.json: unknown column type {item['type']!r}")
