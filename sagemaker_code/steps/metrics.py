"""Binary classification metrics shared by the evaluate and bias steps (numpy only, no scikit-learn).

Undefined values (a ratio with a zero denominator, an AUC with one class) are ``None``, which becomes JSON null:
NaN and infinity are not JSON, and a number that looks valid must never stand in for one that is not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is 0."""
    return None if denominator == 0 else numerator / denominator


def difference(first: float | None, second: float | None) -> float | None:
    return None if first is None or second is None else first - second


@dataclass(frozen=True)
class Confusion:
    """Counts of a binary confusion matrix; 1 is the positive (favourable) class."""

    tp: int
    fp: int
    tn: int
    fn: int

    @classmethod
    def of(cls, y_true: np.ndarray, y_pred: np.ndarray) -> Confusion:
        actual, predicted = np.asarray(y_true) == 1, np.asarray(y_pred) == 1
        return cls(
            tp=int(np.sum(actual & predicted)),
            fp=int(np.sum(~actual & predicted)),
            tn=int(np.sum(~actual & ~predicted)),
            fn=int(np.sum(actual & ~predicted)),
        )

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    def accuracy(self) -> float | None:
        return ratio(self.tp + self.tn, self.total)

    def precision(self) -> float | None:
        return ratio(self.tp, self.tp + self.fp)

    def recall(self) -> float | None:
        return ratio(self.tp, self.tp + self.fn)

    def f1(self) -> float | None:
        return ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def cost_weighted_error(self, false_positive_cost: float, false_negative_cost: float) -> float | None:
        """Mean cost per row."""
        return ratio(self.fp * false_positive_cost + self.fn * false_negative_cost, self.total)

    def as_matrix(self) -> dict[str, dict[str, int]]:
        """SageMaker's confusion_matrix: actual class -> predicted class -> count."""
        return {"0": {"0": self.tn, "1": self.fp}, "1": {"0": self.fn, "1": self.tp}}


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks; tied values share the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.concatenate((first[1:], [values.size])) - 1
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = ((first + last) / 2.0 + 1.0)[group]
    return ranks


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with tie correction); None unless both classes are present."""
    actual = np.asarray(y_true) == 1
    positives = int(actual.sum())
    negatives = int(actual.size) - positives
    if positives == 0 or negatives == 0:
        return None
    rank_sum = float(average_ranks(np.asarray(scores, dtype=np.float64))[actual].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


@dataclass(frozen=True)
class RankedScores:
    """Scores sorted once, with their tie groups, so that the AUC of any bootstrap resample takes linear time.

    A resample is given as row counts (how often it holds each row, ``np.bincount`` of its indices); its AUC is the
    Mann-Whitney statistic with half credit for ties, exactly what :func:`roc_auc` gives on the resampled rows,
    without sorting them again (1,000 resamples of 1.6 million test rows: seconds instead of many minutes)."""

    order: np.ndarray  # row indices by ascending score
    group: np.ndarray  # the tie group of each sorted position
    groups: int
    positive: np.ndarray  # whether each sorted position is a positive row

    @classmethod
    def of(cls, y_true: np.ndarray, scores: np.ndarray) -> RankedScores:
        order = np.argsort(np.asarray(scores, dtype=np.float64), kind="mergesort")
        ordered = np.asarray(scores, dtype=np.float64)[order]
        starts = np.concatenate(([True], ordered[1:] != ordered[:-1])) if ordered.size else np.zeros(0, dtype=bool)
        group = np.cumsum(starts) - 1
        return cls(order, group, int(starts.sum()), np.asarray(y_true)[order] == 1)

    def auc(self, counts: np.ndarray) -> float | None:
        """The AUC of the resample holding row ``i`` ``counts[i]`` times; None unless it has both classes."""
        weights = np.asarray(counts, dtype=np.float64)[self.order]
        positives = np.bincount(self.group, weights=weights * self.positive, minlength=self.groups)
        negatives = np.bincount(self.group, weights=weights * ~self.positive, minlength=self.groups)
        total_positive, total_negative = float(positives.sum()), float(negatives.sum())
        if total_positive == 0 or total_negative == 0:
            return None
        below = np.cumsum(negatives) - negatives  # negatives with a lower score than each tie group
        return float((positives * (below + 0.5 * negatives)).sum() / (total_positive * total_negative))


def roc_curve(y_true: np.ndarray, scores: np.ndarray) -> dict[str, list[float]]:
    """False and true positive rates at every distinct score used as the threshold (score >= threshold)."""
    actual = np.asarray(y_true) == 1
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    ordered, hits = np.asarray(scores)[order], actual[order]
    last_of_tie = np.concatenate((ordered[1:] != ordered[:-1], [True]))
    tps, fps = np.cumsum(hits)[last_of_tie], np.cumsum(~hits)[last_of_tie]
    positives, negatives = max(int(actual.sum()), 1), max(int((~actual).sum()), 1)
    return {
        "false_positive_rates": [0.0, *(fps / negatives).tolist()],
        "true_positive_rates": [0.0, *(tps / positives).tolist()],
    }


def bootstrap_samples(
    compute: Callable[[np.ndarray], Mapping[str, float | None]], rows: int, resamples: int, seed: int
) -> dict[str, list[float]]:
    """Each metric's values over seeded bootstrap resamples of ``rows`` rows (row indices drawn with replacement).

    ``compute`` gets the row indices of a resample and returns the metrics by name. A resample where a metric is
    undefined (None) adds nothing to that metric's list, so the lists can be shorter than ``resamples``.
    """
    generator = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(resamples):
        for name, value in compute(generator.integers(0, rows, size=rows)).items():
            defined = samples.setdefault(name, [])
            if value is not None:
                defined.append(value)
    return samples


def standard_deviation(values: Sequence[float]) -> float | None:
    """Sample standard deviation (ddof=1); None with fewer than two values."""
    return float(np.std(values, ddof=1)) if len(values) >= 2 else None


@dataclass(frozen=True)
class Interval:
    """A bootstrap percentile interval; ``defined`` counts the resamples in which the metric had a value."""

    lower: float
    upper: float
    confidence: float
    defined: int

    def as_dict(self) -> dict[str, float | int]:
        return {"lower": self.lower, "upper": self.upper, "confidence": self.confidence, "defined": self.defined}

    def text(self, digits: int = 3) -> str:
        return f"{self.confidence:.0%} interval {self.lower:.{digits}f} to {self.upper:.{digits}f}"


#: Fewer defined resamples than this give no interval: its percentiles would be the extremes of a handful of values.
MIN_DEFINED_RESAMPLES = 20


def percentile_interval(values: Sequence[float], confidence: float) -> Interval | None:
    """The percentile bootstrap interval (e.g. 2.5th to 97.5th percentile for 95 %); None if too few values."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if len(values) < MIN_DEFINED_RESAMPLES:
        return None
    tail = (1 - confidence) / 2 * 100
    lower, upper = np.percentile(np.asarray(values, dtype=np.float64), [tail, 100 - tail])
    return Interval(lower=float(lower), upper=float(upper), confidence=confidence, defined=len(values))


def bootstrap_std(
    compute: Callable[[np.ndarray], Mapping[str, float | None]], rows: int, resamples: int, seed: int
) -> dict[str, float | None]:
    """Standard deviation (ddof=1) of each metric over seeded bootstrap resamples (see :func:`bootstrap_samples`)."""
    samples = bootstrap_samples(compute, rows, resamples, seed)
    return {name: standard_deviation(values) for name, values in samples.items()}
