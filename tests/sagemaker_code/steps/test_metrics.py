"""Shared metrics against brute-force and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from sagemaker_code.steps.metrics import (
    MIN_DEFINED_RESAMPLES,
    Confusion,
    RankedScores,
    average_ranks,
    bootstrap_samples,
    bootstrap_std,
    percentile_interval,
    ratio,
    roc_auc,
    roc_curve,
)


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


def test_bootstrap_samples_draw_the_same_rows_for_every_metric() -> None:
    """One resample feeds every metric: a metric and its complement stay complementary in every resample."""
    y = np.array([1, 0, 1, 1, 0, 1, 0, 0, 1, 1])

    def compute(rows: np.ndarray) -> dict[str, float | None]:
        share = float(np.mean(y[rows]))
        return {"share": share, "rest": 1 - share, "undefined_sometimes": share if share > 0.5 else None}

    samples = bootstrap_samples(compute, rows=10, resamples=200, seed=1)
    assert len(samples["share"]) == len(samples["rest"]) == 200
    assert all(a + b == pytest.approx(1) for a, b in zip(samples["share"], samples["rest"], strict=True))
    assert 0 < len(samples["undefined_sometimes"]) < 200  # only the resamples where it was defined
    assert samples == bootstrap_samples(compute, rows=10, resamples=200, seed=1)


def test_percentile_interval_covers_the_middle_of_the_values() -> None:
    values = [float(v) for v in range(101)]  # 0..100: the 2.5th and 97.5th percentiles are 2.5 and 97.5
    interval = percentile_interval(values, 0.95)
    assert interval is not None
    assert interval.lower == pytest.approx(2.5)
    assert interval.upper == pytest.approx(97.5)
    assert (interval.confidence, interval.defined) == (0.95, 101)
    assert interval.text() == "95% interval 2.500 to 97.500"
    narrower = percentile_interval(values, 0.5)
    assert narrower is not None
    assert narrower.lower == pytest.approx(25.0)
    assert narrower.upper == pytest.approx(75.0)
    assert percentile_interval(values[: MIN_DEFINED_RESAMPLES - 1], 0.95) is None  # too few to say anything
    with pytest.raises(ValueError, match="confidence must be between 0 and 1, got 95"):
        percentile_interval(values, 95)


def test_bootstrap_interval_of_a_mean_is_near_the_normal_approximation() -> None:
    """A sanity check of the whole procedure: for a proportion the percentile interval is close to p +- 1.96 se."""
    y = (np.arange(400) % 10 < 3).astype(float)  # p = 0.3 on 400 rows

    def compute(rows: np.ndarray) -> dict[str, float | None]:
        return {"p": float(np.mean(y[rows]))}

    interval = percentile_interval(bootstrap_samples(compute, rows=400, resamples=2000, seed=7)["p"], 0.95)
    assert interval is not None
    half_width = 1.96 * np.sqrt(0.3 * 0.7 / 400)
    assert interval.lower == pytest.approx(0.3 - half_width, abs=0.01)
    assert interval.upper == pytest.approx(0.3 + half_width, abs=0.01)


def test_the_auc_of_a_resample_from_row_counts_is_the_auc_of_its_rows() -> None:
    """RankedScores (linear time per resample) gives what roc_auc gives on the resampled rows, ties included."""
    generator = np.random.default_rng(3)
    y = generator.integers(0, 2, size=400)
    scores = np.round(generator.random(400) * 0.5 + 0.3 * y, 2)  # rounded: many ties, across the classes too
    ranked = RankedScores.of(y, scores)
    assert ranked.auc(np.ones(400, dtype=np.int64)) == pytest.approx(roc_auc(y, scores))
    for _ in range(20):
        rows = generator.integers(0, 400, size=400)
        assert ranked.auc(np.bincount(rows, minlength=400)) == pytest.approx(roc_auc(y[rows], scores[rows]))
    assert ranked.auc(np.bincount(np.flatnonzero(y == 1), minlength=400)) is None  # one class only
