"""The data-quality baseline of the train split in SageMaker Model Monitor's formats (statistics.json and
constraints.json), registered with the model package and used by a DataQuality monitoring schedule.

Written by the Preprocess step from the raw feature columns of the train split. Types are inferred from the text as the
monitor infers them (so that the monitor's own inference on captured requests agrees); numeric columns carry a KLL
sketch (exact up to ``KLL_K`` values) and a histogram, string columns their value counts and, when there are few, a
domain constraint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain

from sagemaker_code.steps.fitting import text_counts
from sagemaker_code.steps.transform import INTEGER_RE, NUMBER_RE, category_table, factorized

#: Model Monitor's KLL sketch parameters and its number of histogram buckets.
KLL_K = 2048
KLL_C = 0.64
HISTOGRAM_BUCKETS = 10
#: A string feature with at most this many distinct values gets a domain constraint (categorical_values_check).
MAX_DOMAIN_SIZE = 50


@dataclass(frozen=True)
class ColumnSummary:
    """What the baseline needs of one column: its present values (numbers, or counts of each text) and the rest."""

    name: str
    kind: str  # Model Monitor's inferred type: Integral, Fractional or String
    numbers: np.ndarray | None  # Integral/Fractional: the present values
    counts: dict[str, int] | None  # String: how often each value occurs
    missing: int

    @property
    def present(self) -> int:
        return int(self.numbers.size) if self.numbers is not None else sum((self.counts or {}).values())


def text_kind(values: Sequence[str]) -> str:
    """Model Monitor's inferred type of a column from its (distinct) present texts."""
    if values and all(INTEGER_RE.fullmatch(value) for value in values):
        return "Integral"
    if values and all(NUMBER_RE.fullmatch(value) for value in values):
        return "Fractional"
    return "String"


def summary_of_counts(name: str, counts: dict[str, int], missing: int) -> ColumnSummary:
    """The summary of a text column from its value counts: numeric statistics when every value looks numeric."""
    kind = text_kind(list(counts))
    if kind == "String":
        return ColumnSummary(name=name, kind=kind, numbers=None, counts=counts, missing=missing)
    numbers = np.repeat(np.array([float(value) for value in counts], dtype=np.float64), list(counts.values()))
    return ColumnSummary(name=name, kind=kind, numbers=numbers, counts=None, missing=missing)


def _kll_sketch(values: np.ndarray) -> list[list[float]]:
    """Compactor levels of a KLL sketch: level h holds items of weight 2**h, at most k per level.

    Up to k values this is exact (every value at level 0, as Model Monitor writes it). Beyond k, a level is compacted
    the KLL way: sorted, every other item promoted to the next level (deterministically the odd positions), an odd
    item left behind; the total weight stays the number of values.
    """
    levels = [np.asarray(values, dtype=np.float64)]
    while levels[-1].size > KLL_K:
        top = np.sort(levels[-1])
        keep = top[-1:] if top.size % 2 else top[:0]
        levels[-1] = keep
        levels.append(top[1 : top.size - keep.size : 2])
    return [level.tolist() for level in levels]


def _histogram(values: np.ndarray) -> list[dict[str, float]]:
    low, high = float(values.min()), float(values.max())
    if low == high:
        return [{"lower_bound": low, "upper_bound": high, "count": float(values.size)}]
    edges = np.linspace(low, high, HISTOGRAM_BUCKETS + 1)
    counts, _ = np.histogram(values, bins=edges)
    return [
        {"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": float(counts[i])}
        for i in range(HISTOGRAM_BUCKETS)
    ]


def data_quality_baseline(frame: pd.DataFrame, columns: tuple[str, ...]) -> tuple[dict[str, object], dict[str, object]]:
    """statistics.json and constraints.json of ``columns`` of a frame of raw text (types inferred from the text)."""
    summaries = []
    for name in columns:
        codes, uniques = factorized(frame[name])
        texts, _ = category_table(uniques, ())
        counts = text_counts(codes, texts)
        summaries.append(summary_of_counts(name, counts, len(frame) - sum(counts.values())))
    return baseline_of(summaries, len(frame))


def baseline_of(summaries: Sequence[ColumnSummary], rows: int) -> tuple[dict[str, object], dict[str, object]]:
    """statistics.json and constraints.json of Model Monitor's DataQuality baseline of column summaries."""
    statistics: list[dict[str, object]] = []
    constraints: list[dict[str, object]] = []
    for column in summaries:
        common = {"num_present": column.present, "num_missing": column.missing}
        constraint: dict[str, object] = {
            "name": column.name,
            "inferred_type": column.kind,
            "completeness": column.present / rows if rows else 0.0,
        }
        if column.numbers is None:
            counts = column.counts or {}
            buckets = [{"value": value, "count": count} for value, count in sorted(counts.items(), key=_by_count)]
            statistics.append(
                {
                    "name": column.name,
                    "inferred_type": column.kind,
                    "string_statistics": {
                        "common": common,
                        "distinct_count": float(len(counts)),
                        "distribution": {"categorical": {"buckets": buckets}},
                    },
                }
            )
            if len(counts) <= MAX_DOMAIN_SIZE:
                constraint["string_constraints"] = {"domains": sorted(counts)}
        else:
            numbers = column.numbers
            statistics.append(
                {
                    "name": column.name,
                    "inferred_type": column.kind,
                    "numerical_statistics": {
                        "common": common,
                        "mean": float(numbers.mean()),
                        "sum": float(numbers.sum()),
                        "std_dev": float(numbers.std()),
                        "min": float(numbers.min()),
                        "max": float(numbers.max()),
                        "distribution": {
                            "kll": {
                                "buckets": _histogram(numbers),
                                "sketch": {
                                    "parameters": {"c": KLL_C, "k": float(KLL_K)},
                                    "data": _kll_sketch(numbers),
                                },
                            }
                        },
                    },
                }
            )
            constraint["num_constraints"] = {"is_non_negative": bool(numbers.min() >= 0)}
        constraints.append(constraint)
    return (
        {"version": 0.0, "dataset": {"item_count": rows}, "features": statistics},
        {
            "version": 0.0,
            "features": constraints,
            "monitoring_config": {
                "evaluate_constraints": "Enabled",
                "emit_metrics": "Enabled",
                "datatype_check_threshold": 1.0,
                "domain_content_threshold": 1.0,
                "distribution_constraints": {
                    "perform_comparison": "Enabled",
                    "comparison_threshold": 0.1,
                    "comparison_method": "Robust",
                    "categorical_comparison_threshold": 0.1,
                    "categorical_drift_method": "LInfinity",
                },
            },
        },
    )


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]
