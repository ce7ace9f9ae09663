"""Fitting the feature transform (:mod:`sagemaker_code.steps.transform`) on the train split.

Not part of serving (the model folder carries ``transform.py`` only): the statistics are computed here, from typed
columns (the Preprocess step) or from a frame of raw text (:func:`fit`, which parses like serving does).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain

from sagemaker_code.steps.spec import Column, DatasetSpec
from sagemaker_code.steps.transform import (
    CategoricalFeature,
    Feature,
    LabelInfo,
    NumericFeature,
    Transform,
    TransformInputError,
    category_table,
    factorized,
    first_bad,
    number_table,
)


def text_counts(codes: np.ndarray, texts: Sequence[str | None]) -> dict[str, int]:
    """Rows per text of the codes into ``texts`` (as :func:`category_table` gives them; None: not a value, and -1:
    a missing value, are not counted); codes whose texts are the same after trimming are counted together."""
    per_code = np.bincount(codes[codes >= 0], minlength=len(texts)).tolist()
    counts: dict[str, int] = {}
    for text, count in zip(texts, per_code, strict=True):
        if text is not None and count:
            counts[text] = counts.get(text, 0) + count
    return counts


def fit_numeric(column: Column, values: np.ndarray) -> NumericFeature:
    """The numeric feature of a column from its train values (NaN = missing)."""
    present = values[~np.isnan(values)]
    if present.size == 0:
        raise TransformInputError(f"column {column.name!r} (numeric): no values to fit, all {values.size} missing")
    return NumericFeature(name=column.name, median=float(np.median(present)), id=column.id, missing=column.policy)


def fit_categorical(column: Column, counts: dict[str, int], missing_count: int) -> CategoricalFeature:
    """The categorical feature of a column from its train value counts and number of missing values."""
    fill = None
    if column.policy == "impute":
        if not counts:
            raise TransformInputError(f"column {column.name!r} (categorical): no values to impute from, all missing")
        fill = min(counts, key=lambda value: (-counts[value], value))  # the most frequent; ties: the first in order
    return CategoricalFeature(
        name=column.name,
        categories=tuple(sorted(counts)),
        id=column.id,
        missing=column.policy,
        fill=fill,
        missing_feature=column.policy == "category" and missing_count > 0,
    )


def build(spec: DatasetSpec, columns: Sequence[Feature]) -> Transform:
    """The (unfitted-threshold) transform of a spec from its fitted feature columns."""
    label = spec.label
    return Transform(
        spec_name=spec.name,
        label=LabelInfo(
            column=label.column,
            positive=label.positive,
            negative=label.negative,
            decision_threshold=None,  # the Train step chooses it (see the module docstring)
        ),
        missing_values=tuple(spec.format.missing_values),
        columns=tuple(columns),
    )


def fit(frame: pd.DataFrame, spec: DatasetSpec) -> Transform:
    """Fit the transform on the raw rows of the train split (spec columns; the label column is not used)."""
    missing_values = spec.format.missing_values
    columns: list[Feature] = []
    for column in spec.feature_columns:
        codes, uniques = factorized(frame[column.name])
        if column.type == "numeric":
            numbers, bad = number_table(uniques, missing_values)
            if bad:
                row, code = first_bad(codes, bad)
                raise TransformInputError(
                    f"row {row + 1}, column {column.name!r} (numeric): {uniques[code]!r} is {bad[code]}"
                )
            columns.append(fit_numeric(column, np.append(numbers, np.nan)[codes]))
            continue
        texts, bad = category_table(uniques, missing_values)
        if bad:
            row, code = first_bad(codes, bad)
            raise TransformInputError(f"row {row + 1}, column {column.name!r} (categorical): {bad[code]}")
        counts = text_counts(codes, texts)
        columns.append(fit_categorical(column, counts, len(codes) - sum(counts.values())))
    return build(spec, columns)
