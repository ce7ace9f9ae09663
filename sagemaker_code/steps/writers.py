"""The Preprocess step's files of rows, written from the typed table in slices of rows (bounded memory).

Text is made per distinct value (a number's text, a category's 0/1 features) and repeated by index, so writing costs
a string join per row rather than a formatting call per cell. The features are computed by the transform's own
policy functions (:func:`sagemaker_code.steps.transform.resolve_numeric` and ``resolve_categorical``), so the files
hold exactly what ``Transform.apply`` makes of the raw rows; the Evaluate step checks that on the test split.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import TextIO

import numpy as np

from sagemaker_code.steps.baseline import ColumnSummary, summary_of_counts
from sagemaker_code.steps.spec import DatasetSpec
from sagemaker_code.steps.table import CategoricalColumn, NumericColumn, Table
from sagemaker_code.steps.transform import (
    MISSING,
    UNSEEN,
    CategoricalFeature,
    NumericFeature,
    Transform,
    resolve_categorical,
    resolve_numeric,
)

#: Rows formatted at a time (bounds the memory of their text).
WRITE_ROWS = 100_000


def encode(table: Table, transform: Transform, rows: np.ndarray) -> list[np.ndarray]:
    """The encoded feature columns (see ``Transform.encode``) of table rows, without going through text."""
    encoded: list[np.ndarray] = []
    for feature in transform.columns:
        if isinstance(feature, NumericFeature):
            encoded.append(resolve_numeric(feature, table.numeric(feature.name).values[rows]))
        else:
            typed = table.categorical(feature.name)
            positions = {value: index for index, value in enumerate(feature.categories)}
            lookup = np.array([*(positions.get(value, UNSEEN) for value in typed.categories), MISSING], dtype=np.int64)
            encoded.append(resolve_categorical(feature, lookup[typed.codes[rows]]))
    return encoded


def number_texts(values: np.ndarray, missing: str) -> np.ndarray:
    """Exact text of each number (shortest round trip; whole numbers without '.0'), made once per distinct value."""
    uniques, inverse = np.unique(values, return_inverse=True)
    texts = [
        missing if math.isnan(value) else str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
        for value in uniques.tolist()
    ]
    return np.array(texts, dtype=object)[inverse.reshape(-1)]


def _one_hot_texts(feature: CategoricalFeature) -> np.ndarray:
    """The text of the column's 0/1 features for each category index; index -1 (no feature set) first, and the
    missing index (``width``, its feature comes after every column's) all zeros too."""
    width = feature.width
    ones = [",".join("1" if index == position else "0" for position in range(width)) for index in range(width)]
    zeros = ",".join(["0"] * width)
    return np.array([zeros, *ones, zeros], dtype=object)


def _write_rows(file: TextIO, columns: list[np.ndarray]) -> None:
    row_format = ",".join(["%s"] * len(columns)) + "\n"
    file.write("".join([row_format % row for row in zip(*columns, strict=True)]))


def write_features(path: Path, table: Table, transform: Transform, y: np.ndarray, rows: np.ndarray) -> None:
    """The XGBoost CSV file of table rows: the label (1 = positive) then the features; no header."""
    one_hot = [_one_hot_texts(c) if isinstance(c, CategoricalFeature) else None for c in transform.columns]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as file:
        for start in range(0, rows.size, WRITE_ROWS):
            part = rows[start : start + WRITE_ROWS]
            pieces = [np.where(y[part] == 1, "1", "0").astype(object)]
            missing = []
            for feature, values, texts in zip(transform.columns, encode(table, transform, part), one_hot, strict=True):
                pieces.append(number_texts(values, "nan") if texts is None else texts[values + 1])
                if isinstance(feature, CategoricalFeature) and feature.missing_feature:
                    missing.append(np.where(values == feature.width, "1", "0").astype(object))
            _write_rows(file, [*pieces, *missing])


def _csv_field(text: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([text])
    return buffer.getvalue()


def write_raw(path: Path, table: Table, spec: DatasetSpec, rows: np.ndarray) -> None:
    """The raw rows: every spec column under the files' names; values trimmed, numbers exact, missing values empty."""
    quoted = {
        name: np.array([*(_csv_field(value) for value in typed.categories), ""], dtype=object)
        for name, typed in table.columns.items()
        if isinstance(typed, CategoricalColumn)
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file, lineterminator="\n").writerow(list(spec.column_names))
        for start in range(0, rows.size, WRITE_ROWS):
            part = rows[start : start + WRITE_ROWS]
            pieces = []
            for column in spec.columns:
                typed = table.columns[column.name]
                if isinstance(typed, NumericColumn):
                    pieces.append(number_texts(typed.values[part], ""))
                else:
                    pieces.append(quoted[column.name][typed.codes[part]])
            _write_rows(file, pieces)


def category_counts(column: CategoricalColumn, rows: np.ndarray) -> tuple[dict[str, int], int]:
    """How often each value occurs in ``rows``, and how many of them are missing."""
    codes = column.codes[rows]
    per_code = np.bincount(codes[codes >= 0].astype(np.int64), minlength=len(column.categories))
    counts = {value: count for value, count in zip(column.categories, per_code.tolist(), strict=True) if count}
    return counts, int(np.sum(codes < 0))


def baseline_summaries(table: Table, spec: DatasetSpec, rows: np.ndarray) -> list[ColumnSummary]:
    """The data-quality baseline's view of the feature columns on ``rows``, named by the columns' ids."""
    summaries = []
    for column in spec.feature_columns:
        typed = table.columns[column.name]
        if isinstance(typed, NumericColumn):
            values = typed.values[rows]
            present = values[~np.isnan(values)]
            kind = "Integral" if typed.integral else "Fractional"
            summaries.append(ColumnSummary(column.id, kind, present, None, int(values.size - present.size)))
        else:
            counts, missing = category_counts(typed, rows)
            summaries.append(summary_of_counts(column.id, counts, missing))
    return summaries
