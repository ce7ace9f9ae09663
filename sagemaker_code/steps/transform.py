"""The feature transform: raw rows (spec columns, as written in the files) to the model's numeric features.

Fitted on the train split only and saved as JSON (``transform.json``), never pickled: the model is served by the
XGBoost container with this module and ``inference.py`` only, so the file carries everything serving needs (the raw
columns in order, the fitted statistics, the label values and the decision threshold) and no spec file is read there.

The decision threshold is the model's, not the data's: the preprocess step writes ``transform.json`` with
``label.decision_threshold: null`` and the Train step writes the model folder's copy with the threshold it chose (by
cost on the validation split, or the spec's fixed override). Reading a transform requires the threshold unless the
caller says otherwise (only the Train step reads the preprocess output), so serving or evaluating a model whose
``transform.json`` lacks it fails with a message instead of deciding at some default.

- numeric column: one feature, the value; a missing value becomes the train median.
- categorical column: one 0/1 feature per category seen in train (sorted, so names are stable); a missing or unseen
  value gives all zeros.

Standard library, numpy and pandas only; Python 3.10 compatible.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain

if TYPE_CHECKING:  # only for annotations: serving ships this module without spec.py
    from sagemaker_code.steps.spec import DatasetSpec

FORMAT_VERSION = 1
#: The file name of a saved transform: in Preprocess' transform output and in the model folder (serving reads it).
TRANSFORM_FILE = "transform.json"
NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
INTEGER_RE = re.compile(r"^[+-]?\d+$")
#: XGBoost refuses these characters in feature names.
_FEATURE_NAME_BAD_CHARS = re.compile(r"[\[\]<,\s]")


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
        return float(text)
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


@dataclass(frozen=True)
class NumericFeature:
    name: str
    median: float


@dataclass(frozen=True)
class CategoricalFeature:
    name: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class LabelInfo:
    """What a prediction means: P(column == positive); positive when the probability is >= decision_threshold."""

    column: str
    positive: str
    negative: str
    decision_threshold: float | None  # None until the Train step chooses it (the preprocess output)


def _feature_names(columns: tuple[NumericFeature | CategoricalFeature, ...]) -> tuple[str, ...]:
    names: list[str] = []
    for column in columns:
        if isinstance(column, NumericFeature):
            candidates = [column.name]
        else:
            candidates = [_FEATURE_NAME_BAD_CHARS.sub("_", f"{column.name}={value}") for value in column.categories]
        for candidate in candidates:
            name, suffix = candidate, 1
            while name in names:  # two categories that differ only in characters XGBoost refuses
                suffix += 1
                name = f"{candidate}~{suffix}"
            names.append(name)
    return tuple(names)


@dataclass(frozen=True)
class Transform:
    spec_name: str
    label: LabelInfo
    missing_values: tuple[str, ...]
    columns: tuple[NumericFeature | CategoricalFeature, ...]  # raw feature columns, in spec (file) order

    @property
    def input_columns(self) -> tuple[str, ...]:
        """The raw columns a request row carries, in order (the spec's columns without the label)."""
        return tuple(column.name for column in self.columns)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return _feature_names(self.columns)

    def apply(self, frame: pd.DataFrame) -> np.ndarray:
        """Features (float64, one row per input row) of a frame of raw values; extra columns are ignored."""
        missing = [name for name in self.input_columns if name not in frame.columns]
        if missing:
            raise TransformInputError(f"missing columns {missing} (expected {list(self.input_columns)})")
        rows = len(frame)
        out = np.zeros((rows, len(self.feature_names)), dtype=np.float64)
        offset = 0
        for column in self.columns:
            values: list[object] = frame[column.name].tolist()
            if isinstance(column, NumericFeature):
                numbers = _numbers(values, column.name, self.missing_values)
                out[:, offset] = np.where(np.isnan(numbers), column.median, numbers)
                offset += 1
            else:
                index = {category: position for position, category in enumerate(column.categories)}
                keys = _categories(values, column.name, self.missing_values)
                codes = np.fromiter((-1 if key is None else index.get(key, -1) for key in keys), np.int64, rows)
                known = np.flatnonzero(codes >= 0)
                out[known, offset + codes[known]] = 1.0
                offset += len(column.categories)
        return out

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
            if isinstance(column, NumericFeature):
                columns.append({"name": column.name, "type": "numeric", "median": column.median})
            else:
                columns.append({"name": column.name, "type": "categorical", "categories": list(column.categories)})
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
            if data["format_version"] != FORMAT_VERSION:
                raise TransformFileError(
                    f"transform.json: format_version must be {FORMAT_VERSION}, got {data['format_version']!r}"
                )
            columns: list[NumericFeature | CategoricalFeature] = []
            for item in data["columns"]:
                if item["type"] == "numeric":
                    columns.append(NumericFeature(name=str(item["name"]), median=float(item["median"])))
                elif item["type"] == "categorical":
                    categories = tuple(str(value) for value in item["categories"])
                    columns.append(CategoricalFeature(name=str(item["name"]), categories=categories))
                else:
                    raise TransformFileError(f"transform.json: unknown column type {item['type']!r}")
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
                columns=tuple(columns),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, TransformFileError):
                raise
            raise TransformFileError(f"transform.json is malformed: {type(exc).__name__}: {exc}") from None
        if list(transform.feature_names) != data["feature_names"]:
            raise TransformFileError("transform.json: feature_names do not match the columns (edited by hand?)")
        return transform


def _numbers(values: list[object], column: str, missing_values: Collection[str]) -> np.ndarray:
    out = np.empty(len(values), dtype=np.float64)
    for row, value in enumerate(values):
        try:
            out[row] = parse_number(value, missing_values)
        except ValueError as exc:
            raise TransformInputError(f"row {row + 1}, column {column!r} (numeric): {value!r} is {exc}") from None
    return out


def _categories(values: list[object], column: str, missing_values: Collection[str]) -> list[str | None]:
    out: list[str | None] = []
    for row, value in enumerate(values):
        try:
            out.append(parse_category(value, missing_values))
        except ValueError as exc:
            raise TransformInputError(f"row {row + 1}, column {column!r} (categorical): {exc}") from None
    return out


def fit(frame: pd.DataFrame, spec: DatasetSpec) -> Transform:
    """Fit the transform on the raw rows of the train split (spec columns; the label column is not used)."""
    missing_values = spec.format.missing_values
    columns: list[NumericFeature | CategoricalFeature] = []
    for column in spec.feature_columns:
        values: list[object] = frame[column.name].tolist()
        if column.type == "numeric":
            numbers = _numbers(values, column.name, missing_values)
            present = numbers[~np.isnan(numbers)]
            if present.size == 0:
                raise TransformInputError(
                    f"column {column.name!r} (numeric): no values to fit, all {len(values)} missing"
                )
            columns.append(NumericFeature(name=column.name, median=float(np.median(present))))
        else:
            keys = {key for key in _categories(values, column.name, missing_values) if key is not None}
            columns.append(CategoricalFeature(name=column.name, categories=tuple(sorted(keys))))
    label = spec.label
    return Transform(
        spec_name=spec.name,
        label=LabelInfo(
            column=label.column,
            positive=label.positive,
            negative=label.negative,
            decision_threshold=None,  # the Train step chooses it (see the module docstring)
        ),
        missing_values=tuple(missing_values),
        columns=tuple(columns),
    )
