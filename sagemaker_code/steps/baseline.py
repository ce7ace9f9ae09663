"""The data-quality baseline of the train split in SageMaker Model Monitor's formats (statistics.json and
constraints.json), registered with the model package and used by a DataQuality monitoring schedule.

Written by the Preprocess step from the raw feature columns of the train split. Types are inferred from the text as the
monitor infers them (so that the monitor's own inference on captured requests agrees); numeric columns carry a KLL
sketch (exact up to ``KLL_K`` values) and a histogram, string columns their value counts and, when there are few, a
domain constraint.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain

from sagemaker_code.steps.transform import INTEGER_RE, NUMBER_RE

#: Model Monitor's KLL sketch parameters and its number of histogram buckets.
KLL_K = 2048
KLL_C = 0.64
HISTOGRAM_BUCKETS = 10
#: A string feature with at most this many distinct values gets a domain constraint (categorical_values_check).
MAX_DOMAIN_SIZE = 50


def _kll_sketch(values: list[float]) -> list[list[float]]:
    """Compactor levels of a KLL sketch: level h holds items of weight 2**h, at most k per level.

    Up to k values this is exact (every value at level 0, as Model Monitor writes it). Beyond k, a level is compacted
    the KLL way: sorted, every other item promoted to the next level (deterministically the odd positions), an odd
    item left behind; the total weight stays the number of values.
    """
    levels = [list(values)]
    while len(levels[-1]) > KLL_K:
        top = sorted(levels[-1])
        keep = top[-1:] if len(top) % 2 else []
        levels[-1] = keep
        levels.append(top[1 : len(top) - len(keep) : 2])
    return levels


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


def _inferred_type(present: list[str]) -> str:
    """Model Monitor's inferred type of a column from its text, so that it agrees with the monitor's own inference."""
    if present and all(INTEGER_RE.fullmatch(value) for value in present):
        return "Integral"
    if present and all(NUMBER_RE.fullmatch(value) for value in present):
        return "Fractional"
    return "String"


def data_quality_baseline(frame: pd.DataFrame, columns: tuple[str, ...]) -> tuple[dict[str, object], dict[str, object]]:
    """statistics.json and constraints.json of Model Monitor's DataQuality baseline for ``columns`` of ``frame``."""
    rows = len(frame)
    statistics: list[dict[str, object]] = []
    constraints: list[dict[str, object]] = []
    for name in columns:
        values: list[str | None] = frame[name].tolist()
        present = [value for value in values if value is not None]
        common = {"num_present": len(present), "num_missing": rows - len(present)}
        kind = _inferred_type(present)
        constraint: dict[str, object] = {
            "name": name,
            "inferred_type": kind,
            "completeness": len(present) / rows if rows else 0.0,
        }
        if kind == "String":
            counts = Counter(present)
            buckets = [{"value": value, "count": count} for value, count in sorted(counts.items(), key=_by_count)]
            statistics.append(
                {
                    "name": name,
                    "inferred_type": kind,
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
            numbers = np.array([float(value) for value in present], dtype=np.float64)
            statistics.append(
                {
                    "name": name,
                    "inferred_type": kind,
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
                                    "data": _kll_sketch(numbers.tolist()),
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
