"""Feature drift against the data-quality baseline registered with the live model (Preprocess' statistics.json).

**PSI on the baseline's own bins.** A numeric feature uses the 10 histogram buckets of its statistics (equal width
between the train split's min and max), with the outer two made open-ended so a live value below the min or above the
max still lands in a bin (it is also a schema violation); a categorical feature uses one bin per train value plus an
"other" bin for values train never had. PSI = sum((live - base) * ln(live / base)) over bins of shares; a share of 0
(an empty bin, the baseline's "other" bin) is floored at ``EPSILON`` so the index is always finite. Missing values
are left out of both sides (they are reported as the missing rate instead).

**A test next to the PSI.** PSI has no notion of sample size; the tests do, and they compare two *samples* (the
baseline is the train split, itself a sample of ``num_present`` rows), so a big live window never flags the
baseline's own sampling noise:

- numeric: the two-sample Kolmogorov-Smirnov test. The baseline's distribution is rebuilt from its **KLL sketch**
  (items of level h weigh 2**h), not from the histogram: the sketch is exact up to k = 2048 values (every value kept,
  as the Preprocess step writes it) and beyond that its rank error is a few tenths of a percent, far below any KS
  critical value at our sample sizes; the 10-bucket histogram would hide any shift smaller than a bucket and force a
  uniform shape inside each bucket (wrong for skewed amounts). A baseline without a sketch falls back to the
  histogram's piecewise-linear CDF. Ties (integer features) make the asymptotic p-value conservative: fewer alarms,
  never false ones. The p-value is the asymptotic one of ``scipy.stats.ks_2samp`` (``kstwo`` at n*m/(n+m)).
- categorical: Pearson's chi-square test of homogeneity on the 2 x bins table (baseline counts, live counts); bins
  whose expected count is below 5 are pooled first (the chi-square approximation needs it).

Several features are tested at once, so :func:`holm` adjusts the p-values (Holm-Bonferroni): with 20 features at
alpha 0.05, unadjusted tests would flag a feature in most windows without any drift.

numpy, pandas and scipy only (the steps run in the ``sagemaker-xgboost`` container).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain
from scipy import stats  # type: ignore[import-untyped]

from sagemaker_code.steps.transform import category_table, factorized, number_table

#: Floor of a bin's share in the PSI: an empty bin counts as 0.01 % of the rows, never as 0 (which gives infinity).
EPSILON = 1e-4
#: Chi-square bins with a smaller expected count are pooled.
MIN_EXPECTED = 5.0
OTHER = "(other)"


@dataclass(frozen=True)
class NumericBaseline:
    name: str
    edges: np.ndarray  # histogram edges, min to max (one bucket: [v, v])
    counts: np.ndarray  # baseline rows per bin of :meth:`bin_of`
    minimum: float
    maximum: float
    items: np.ndarray  # the KLL sketch's items, sorted (empty: no sketch)
    weights: np.ndarray  # their weights
    present: int
    missing: int

    def inner_edges(self) -> np.ndarray:
        """Edges between bins; the first and last bins are open-ended. A constant feature: below, equal, above."""
        if self.edges.size == 2 and self.edges[0] == self.edges[1]:
            value = float(self.edges[0])
            return np.array([value, np.nextafter(value, math.inf)])
        return self.edges[1:-1]

    def bin_counts(self, values: np.ndarray) -> np.ndarray:
        inner = self.inner_edges()
        return np.bincount(np.searchsorted(inner, values, side="right"), minlength=inner.size + 1)

    def cdf(self, points: np.ndarray) -> np.ndarray:
        """The baseline's CDF: from the KLL sketch, or the histogram's piecewise-linear one without a sketch."""
        if self.items.size:
            cumulative = np.concatenate(([0.0], np.cumsum(self.weights))) / float(self.weights.sum())
            return np.asarray(cumulative[np.searchsorted(self.items, points, side="right")])
        if self.edges[0] == self.edges[-1]:
            return np.asarray(points >= self.edges[0], dtype=np.float64)
        shares = np.concatenate(([0.0], np.cumsum(self.counts))) / float(self.counts.sum())
        return np.asarray(np.interp(points, self.edges, shares, left=0.0, right=1.0))


@dataclass(frozen=True)
class CategoricalBaseline:
    name: str
    values: tuple[str, ...]
    counts: np.ndarray  # per value, then 0 for the "other" bin
    present: int
    missing: int


FeatureBaseline = NumericBaseline | CategoricalBaseline


@dataclass(frozen=True)
class DriftTest:
    psi: float | None
    test: str  # "ks" or "chi_square"
    statistic: float | None
    p_value: float | None


def shares(counts: np.ndarray) -> np.ndarray:
    """Shares of the rows per bin, each at least EPSILON."""
    total = float(np.sum(counts))
    return np.maximum(np.asarray(counts, dtype=np.float64) / total, EPSILON)


def psi(baseline_counts: np.ndarray, live_counts: np.ndarray) -> float | None:
    """Population stability index of live counts against baseline counts on the same bins; None without rows."""
    if np.sum(baseline_counts) == 0 or np.sum(live_counts) == 0:
        return None
    expected, actual = shares(baseline_counts), shares(live_counts)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def ks_test(baseline: NumericBaseline, values: np.ndarray) -> tuple[float, float]:
    """(D, p-value) of the two-sample KS test of present live values against the baseline (see the module doc)."""
    live = np.sort(np.asarray(values, dtype=np.float64))
    points = np.union1d(live, baseline.items if baseline.items.size else baseline.edges)
    live_cdf = np.searchsorted(live, points, side="right") / live.size
    statistic = float(np.max(np.abs(live_cdf - baseline.cdf(points))))
    effective = round(live.size * baseline.present / (live.size + baseline.present))
    return statistic, float(stats.kstwo.sf(statistic, max(effective, 1)))


def chi_square_test(baseline_counts: np.ndarray, live_counts: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of Pearson's test of homogeneity; bins with expected count < MIN_EXPECTED pooled."""
    table = np.vstack((baseline_counts, live_counts)).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    rare = expected.min(axis=0) < MIN_EXPECTED
    if rare.any():
        pooled = table[:, rare].sum(axis=1, keepdims=True)
        table = np.hstack((table[:, ~rare], pooled))
        if table.shape[1] > 1 and (np.outer(table.sum(axis=1), pooled.sum(axis=0)) / table.sum()).min() < MIN_EXPECTED:
            smallest = int(np.argmin(table[:, :-1].sum(axis=0)))  # still too rare: merge into the smallest bin
            table[:, smallest] += table[:, -1]
            table = table[:, :-1]
    if table.shape[1] < 2:
        return 0.0, 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(stats.chi2.sf(statistic, table.shape[1] - 1))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (None stays None and does not count as a test)."""
    tested = [(p, index) for index, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(sorted(tested)):
        running = max(running, min(1.0, p * (len(tested) - rank)))
        adjusted[index] = running
    return adjusted


# ---- the baseline file --------------------------------------------------------------------------------------------


def _number(data: dict[str, object], key: str, where: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}.{key}: must be a finite number, got {value!r}")
    return float(value)


def _mapping(data: object, where: str) -> dict[str, object]:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: must be a mapping, got {type(data).__name__}")
    return data


def _numeric(name: str, raw: dict[str, object], where: str) -> NumericBaseline:
    common = _mapping(raw.get("common"), f"{where}.common")
    kll = _mapping(_mapping(raw.get("distribution"), f"{where}.distribution").get("kll"), f"{where}.distribution.kll")
    buckets = kll.get("buckets")
    if not isinstance(buckets, list) or not buckets:
        raise ValueError(f"{where}.distribution.kll.buckets: must be a non-empty list")
    bucket_maps = [_mapping(b, f"{where}.distribution.kll.buckets[{i}]") for i, b in enumerate(buckets)]
    lows = [_number(b, "lower_bound", f"{where}.distribution.kll.buckets[{i}]") for i, b in enumerate(bucket_maps)]
    edges = np.array([*lows, _number(bucket_maps[-1], "upper_bound", f"{where}.distribution.kll.buckets")])
    counts = np.array([_number(b, "count", f"{where}.buckets") for b in bucket_maps])
    if np.any(np.diff(edges) < 0) or (edges.size > 2 and np.any(np.diff(edges) == 0)):
        raise ValueError(f"{where}.distribution.kll.buckets: bounds must ascend")
    if edges.size == 2 and edges[0] == edges[1]:
        counts = np.array([0.0, counts[0], 0.0])
    sketch = _mapping(kll.get("sketch", {}), f"{where}.distribution.kll.sketch").get("data", [])
    if not isinstance(sketch, list) or not all(isinstance(level, list) for level in sketch):
        raise ValueError(f"{where}.distribution.kll.sketch.data: must be a list of lists of numbers")
    items = np.array([float(v) for level in sketch for v in level], dtype=np.float64)
    weights = np.array([2.0**h for h, level in enumerate(sketch) for _ in level], dtype=np.float64)
    order = np.argsort(items, kind="mergesort")
    return NumericBaseline(
        name=name,
        edges=edges,
        counts=counts,
        minimum=_number(raw, "min", where),
        maximum=_number(raw, "max", where),
        items=items[order],
        weights=weights[order],
        present=int(_number(common, "num_present", f"{where}.common")),
        missing=int(_number(common, "num_missing", f"{where}.common")),
    )


def _categorical(name: str, raw: dict[str, object], where: str) -> CategoricalBaseline:
    common = _mapping(raw.get("common"), f"{where}.common")
    categorical = _mapping(raw.get("distribution"), f"{where}.distribution").get("categorical")
    buckets = _mapping(categorical, f"{where}.distribution.categorical").get("buckets")
    if not isinstance(buckets, list):
        raise ValueError(f"{where}.distribution.categorical.buckets: must be a list")
    values = [str(_mapping(b, f"{where}.buckets[{i}]").get("value")) for i, b in enumerate(buckets)]
    counts = [_number(b, "count", f"{where}.buckets[{i}]") for i, b in enumerate(buckets)]
    return CategoricalBaseline(
        name=name,
        values=tuple(values),
        counts=np.array([*counts, 0.0]),
        present=int(_number(common, "num_present", f"{where}.common")),
        missing=int(_number(common, "num_missing", f"{where}.common")),
    )


def read_statistics(statistics: object) -> dict[str, FeatureBaseline]:
    """Each feature's baseline from Model Monitor's statistics.json; ValueError names the key of any problem."""
    features = _mapping(statistics, "statistics.json").get("features")
    if not isinstance(features, list) or not features:
        raise ValueError("statistics.json: features must be a non-empty list")
    result: dict[str, FeatureBaseline] = {}
    for index, item in enumerate(features):
        feature = _mapping(item, f"features[{index}]")
        name = feature.get("name")
        where = f"features[{index}] ({name})"
        if not isinstance(name, str):
            raise ValueError(f"features[{index}].name: must be a string, got {name!r}")
        if isinstance(feature.get("numerical_statistics"), dict):
            result[name] = _numeric(name, _mapping(feature["numerical_statistics"], where), f"{where}")
        elif isinstance(feature.get("string_statistics"), dict):
            result[name] = _categorical(name, _mapping(feature["string_statistics"], where), f"{where}")
        else:
            raise ValueError(f"{where}: has neither numerical_statistics nor string_statistics")
    return result


# ---- one live feature -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveFeature:
    """One feature of the window's rows against its baseline."""

    name: str
    kind: str  # numeric or categorical (the baseline's, which the drift is measured on)
    rows: int
    missing: np.ndarray  # per row
    unparsable: np.ndarray  # per row: not a number (numeric) / not text (categorical)
    out_of_range: np.ndarray  # per row: a number outside the baseline's [min, max], or an unknown category
    drift: DriftTest

    @property
    def violations(self) -> np.ndarray:
        return np.asarray(self.unparsable | self.out_of_range)

    def as_dict(self) -> dict[str, object]:
        return {
            "feature": self.name,
            "type": self.kind,
            "psi": self.drift.psi,
            "test": self.drift.test,
            "statistic": self.drift.statistic,
            "p_value": self.drift.p_value,
            "missing_rate": float(self.missing.mean()) if self.rows else None,
            "present_rows": int(self.rows - self.missing.sum() - self.unparsable.sum()),
            "unparsable_rows": int(self.unparsable.sum()),
            ("out_of_range_rows" if self.kind == "numeric" else "unknown_category_rows"): int(self.out_of_range.sum()),
        }


def live_numeric(baseline: NumericBaseline, cells: pd.Series, missing_values: Collection[str]) -> LiveFeature:
    """Parse the cells with serving's rules (once per distinct value), then range, PSI and KS."""
    codes, uniques = factorized(cells)
    numbers, bad = number_table(uniques, missing_values)
    values = np.where(codes >= 0, numbers[np.maximum(codes, 0)], np.nan)
    unparsable = np.isin(codes, np.fromiter(bad, dtype=np.int64, count=len(bad)))
    present = values[~np.isnan(values)]
    if present.size:
        statistic, p_value = ks_test(baseline, present)
        drift = DriftTest(psi(baseline.counts, baseline.bin_counts(present)), "ks", statistic, p_value)
    else:
        drift = DriftTest(None, "ks", None, None)
    with np.errstate(invalid="ignore"):
        outside = (values < baseline.minimum) | (values > baseline.maximum)
    return LiveFeature(baseline.name, "numeric", len(cells), np.isnan(values) & ~unparsable, unparsable, outside, drift)


def live_categorical(baseline: CategoricalBaseline, cells: pd.Series, missing_values: Collection[str]) -> LiveFeature:
    """Categories with serving's rules (trimmed text; whole JSON numbers as text), then unknown values, PSI, chi2."""
    codes, uniques = factorized(cells)
    texts, bad = category_table(uniques, missing_values)
    position = {value: index for index, value in enumerate(baseline.values)}
    other = len(baseline.values)
    # per distinct value: its bin (other for unknown), -1 for missing or not text
    bins = np.array([-1 if text is None else position.get(text, other) for text in texts] + [-1], dtype=np.int64)
    row_bins = bins[np.where(codes >= 0, codes, len(texts))]
    unparsable = np.isin(codes, np.fromiter(bad, dtype=np.int64, count=len(bad)))
    live_counts = np.bincount(row_bins[row_bins >= 0], minlength=other + 1)
    if live_counts.sum():
        statistic, p_value = chi_square_test(baseline.counts, live_counts)
        drift = DriftTest(psi(baseline.counts, live_counts), "chi_square", statistic, p_value)
    else:
        drift = DriftTest(None, "chi_square", None, None)
    missing = (row_bins < 0) & ~unparsable
    return LiveFeature(baseline.name, "categorical", len(cells), missing, unparsable, row_bins == other, drift)


def live_feature(baseline: FeatureBaseline, cells: pd.Series, missing_values: Collection[str]) -> LiveFeature:
    if isinstance(baseline, NumericBaseline):
        return live_numeric(baseline, cells, missing_values)
    return live_categorical(baseline, cells, missing_values)
