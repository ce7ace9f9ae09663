"""The prediction baseline Evaluate writes into evaluation.json and the monitor reads back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sagemaker_code.steps.prediction_baseline import (
    KEY,
    SCORE_BINS,
    prediction_baseline,
    read_prediction_baseline,
    score_histogram,
)


def test_scores_on_fixed_bins_with_the_edges_in_their_bins() -> None:
    scores = np.array([0.0, 0.05, 0.1, 0.15, 0.5, 0.95, 0.999, 1.0])
    entry = prediction_baseline(scores, decision_threshold=0.5)
    histogram = entry["score_histogram"]
    assert isinstance(histogram, dict)
    assert histogram["edges"] == pytest.approx([i / 10 for i in range(11)])
    # [0, .1) holds 0 and .05; .1 starts the second bin; 1.0 closes the last bin
    assert histogram["counts"] == [2, 2, 0, 0, 0, 1, 0, 0, 0, 3]
    assert entry["rows"] == 8
    assert entry["positive_rate"] == pytest.approx(4 / 8)  # >= the threshold is positive, as serving decides
    assert entry["decision_threshold"] == 0.5


def test_round_trip_through_json() -> None:
    scores = np.random.default_rng(1).beta(2, 5, size=500)
    evaluation = json.loads(json.dumps({KEY: prediction_baseline(scores, 0.3)}))
    baseline = read_prediction_baseline(evaluation)
    assert baseline is not None
    assert baseline.rows == 500
    assert baseline.counts.size == SCORE_BINS
    assert baseline.positive_rate == pytest.approx(float(np.mean(scores >= 0.3)))
    assert np.array_equal(baseline.counts, score_histogram(scores, baseline.edges))


def test_a_package_from_before_the_baseline_has_none() -> None:
    assert read_prediction_baseline({"binary_classification_metrics": {}}) is None


@pytest.mark.parametrize(
    "entry",
    [
        {"score_histogram": {"edges": [0, 1], "counts": [1, 2]}, "positive_rate": 0.5, "decision_threshold": 0.5},
        {"score_histogram": {"edges": [0, 0.5, 1], "counts": [0, 0]}, "positive_rate": 0.5, "decision_threshold": 0.5},
        {"score_histogram": {"edges": [0, 0.5, 1], "counts": [1, 1]}, "decision_threshold": 0.5},
    ],
)
def test_a_malformed_baseline_is_an_error(entry: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=KEY):
        read_prediction_baseline({KEY: entry})


def test_no_scores_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one score"):
        prediction_baseline(np.array([]), 0.5)
