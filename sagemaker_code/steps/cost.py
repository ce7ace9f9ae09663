"""Expected cost of decisions under the dataset spec's cost matrix, and the cost-optimal decision threshold.

A decision predicts the positive (favourable) label value when P(positive) >= the threshold. With the cost matrix
(``false_positive``: cost of predicting positive for a negative row, ``false_negative``: the reverse) the expected
cost per row of a set of decisions is ``(FP * false_positive + FN * false_negative) / rows``.

The Train step chooses the threshold that minimises this cost on the *validation* split (never the test split, which
stays an unbiased estimate for the Evaluate step's cost gate). Any threshold between two adjacent distinct
validation probabilities gives the same decisions there, so each candidate is the midpoint of such a gap (or of the
gap between 0 and the lowest probability: accept everyone; the highest probability and 1: reject everyone). When
several gaps cost the same, the one closest to ``false_positive / (false_positive + false_negative)`` wins: that is
the optimal threshold for calibrated probabilities, so among equally good choices on a small validation split it is
the one that theory backs.

numpy only (the steps run in the ``sagemaker-xgboost`` container).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Costs closer than this (relative) are a tie: they are equal rationals computed in different orders.
_COST_TOLERANCE = 1e-12


def expected_cost(y: np.ndarray, predicted: np.ndarray, false_positive: float, false_negative: float) -> float:
    """Mean cost per row of the 0/1 decisions ``predicted`` for the 0/1 labels ``y`` (1 = positive)."""
    actual, decided = np.asarray(y) == 1, np.asarray(predicted) == 1
    if actual.size == 0:
        raise ValueError("expected cost of no rows")
    fp = int(np.sum(~actual & decided))
    fn = int(np.sum(actual & ~decided))
    return float((fp * false_positive + fn * false_negative) / actual.size)


@dataclass(frozen=True)
class ConstantCosts:
    """Cost per row of the two constant decisions: predict positive for every row, or negative for every row."""

    accept_all: float  # every row predicted positive: each negative row is a false positive
    reject_all: float  # every row predicted negative: each positive row is a false negative

    @classmethod
    def of(cls, y: np.ndarray, false_positive: float, false_negative: float) -> ConstantCosts:
        actual = np.asarray(y) == 1
        if actual.size == 0:
            raise ValueError("constant costs of no rows")
        return cls(
            accept_all=float(np.sum(~actual)) * false_positive / actual.size,
            reject_all=float(np.sum(actual)) * false_negative / actual.size,
        )

    @property
    def best(self) -> tuple[str, float]:
        """The cheaper constant decision ("reject_all" on a tie) and its cost."""
        if self.accept_all < self.reject_all:
            return "accept_all", self.accept_all
        return "reject_all", self.reject_all

    def as_dict(self) -> dict[str, float]:
        return {"accept_all": self.accept_all, "reject_all": self.reject_all}


def bayes_threshold(false_positive: float, false_negative: float) -> float:
    """The cost-optimal threshold for calibrated probabilities (0.5 when both costs are 0)."""
    total = false_positive + false_negative
    return 0.5 if total == 0 else false_positive / total


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    cost: float  # expected cost per row on the rows the threshold was chosen on
    candidates: int  # distinct decision sets compared


def cost_optimal_threshold(
    y: np.ndarray, probabilities: np.ndarray, false_positive: float, false_negative: float
) -> ThresholdChoice:
    """The threshold in (0, 1) with the least expected cost on these rows (see the module docstring for ties)."""
    actual = np.asarray(y) == 1
    scores = np.asarray(probabilities, dtype=np.float64)
    if actual.size == 0 or actual.size != scores.size:
        raise ValueError(f"need one probability per label, got {scores.size} probabilities for {actual.size} labels")
    if not np.all((scores >= 0) & (scores <= 1)):
        raise ValueError("probabilities must be within [0, 1]")
    order = np.argsort(scores, kind="mergesort")
    ordered, hits = scores[order], actual[order]
    distinct, first = np.unique(ordered, return_index=True)
    positives_below = np.concatenate(([0], np.cumsum(hits)))[first]  # positive rows scored below each value
    negatives_below = first - positives_below
    total_positives, total_negatives = int(actual.sum()), int(actual.size - actual.sum())
    # Candidate j < len(distinct): predict positive for scores >= distinct[j]; the last one rejects every row.
    false_negatives = np.concatenate((positives_below, [total_positives]))
    false_positives = np.concatenate((total_negatives - negatives_below, [0]))
    costs = (false_positives * false_positive + false_negatives * false_negative) / actual.size
    edges = np.concatenate(([0.0], distinct, [1.0]))
    thresholds = (edges[:-1] + edges[1:]) / 2
    usable = (thresholds > 0) & (thresholds < 1) & (edges[1:] > edges[:-1])  # a probability of exactly 0 or 1
    if not usable.any():  # pragma: no cover - only if every probability is exactly 0 and 1 at once
        raise ValueError("no threshold in (0, 1) separates these probabilities")
    least = float(costs[usable].min())
    tied = np.flatnonzero(usable & (costs <= least + _COST_TOLERANCE * max(1.0, abs(least))))
    target = bayes_threshold(false_positive, false_negative)
    best = int(tied[np.argmin(np.abs(thresholds[tied] - target))])
    return ThresholdChoice(threshold=float(thresholds[best]), cost=float(costs[best]), candidates=int(usable.sum()))
