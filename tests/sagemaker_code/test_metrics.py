"""Shared metrics against brute-force and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from sagemaker_code.metrics import Confusion, average_ranks, bootstrap_std, ratio, roc_auc, roc_curve


def brute_force_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """P(score of a positive > score of a negative) + 0.5 P(tie), over every pair."""
    positives, negatives = scores[y == 1], scores[y == 0]
    wins = (positives[:, None] > negatives[None, :]).sum() + 0.5 * (positives[:, None] == negatives[None, :]).sum()
    return float(wins / (positives.size * negatives.size))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_matches_pairwise_counting_with_ties(seed: int) -> None:
    generator = np.random.default_rng(seed)
    y = generator.integers(0, 2, 200)
    scores = np.round(generator.random(200) + 0.3 * y, 1)  # rounding makes many ties
    auc = roc_auc(y, scores)
    assert auc == pytest.approx(brute_force_auc(y, scores))


def test_auc_edge_cases() -> None:
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert roc_auc(np.array([1, 1, 0, 0]), np.array([0.1, 0.2, 0.3, 0.4])) == 0.0
    assert roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    assert roc_auc(np.array([1, 1]), np.array([0.1, 0.2])) is None  # one class: undefined


def test_average_ranks() -> None:
    assert average_ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [3.5, 1.0, 3.5, 2.0]


def test_confusion_and_derived_metrics() -> None:
    y = np.array([1, 1, 1, 0, 0, 1, 0])
    predicted = np.array([1, 0, 1, 1, 0, 1, 0])
    confusion = Confusion.of(y, predicted)
    assert confusion == Confusion(tp=3, fp=1, tn=2, fn=1)
    assert confusion.accuracy() == pytest.approx(5 / 7)
    assert confusion.precision() == pytest.approx(3 / 4)
    assert confusion.recall() == pytest.approx(3 / 4)
    assert confusion.f1() == pytest.approx(0.75)
    assert confusion.cost_weighted_error(5, 1) == pytest.approx((5 * 1 + 1 * 1) / 7)
    assert confusion.as_matrix() == {"0": {"0": 2, "1": 1}, "1": {"0": 1, "1": 3}}
    assert Confusion.of(np.array([0, 0]), np.array([0, 0])).precision() is None
    assert ratio(1, 0) is None


def test_roc_curve_runs_from_origin_to_one() -> None:
    curve = roc_curve(np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.4, 0.4]))
    assert curve == {"false_positive_rates": [0.0, 0.0, 0.5, 1.0], "true_positive_rates": [0.0, 0.5, 1.0, 1.0]}


def test_bootstrap_is_seeded_and_skips_undefined_values() -> None:
    y = np.array([1, 0, 1, 1, 0, 1, 0, 0, 1, 1])
    scores = np.linspace(0.0, 1.0, 10)

    def compute(rows: np.ndarray) -> dict[str, float | None]:
        return {"auc": roc_auc(y[rows], scores[rows]), "never": None}

    first = bootstrap_std(compute, rows=10, resamples=50, seed=3)
    assert first == bootstrap_std(compute, rows=10, resamples=50, seed=3)
    assert first != bootstrap_std(compute, rows=10, resamples=50, seed=4)
    assert first["never"] is None
    assert first["auc"] is not None
    assert 0 < first["auc"] < 0.5
