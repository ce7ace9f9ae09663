"""Expected cost and the cost-optimal decision threshold, against brute force over every possible decision set."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sagemaker_code.steps.cost import ConstantCosts, bayes_threshold, cost_optimal_threshold, expected_cost


def test_expected_cost_counts_each_error_at_its_price() -> None:
    y = np.array([1, 1, 0, 0, 0])
    predicted = np.array([1, 0, 1, 0, 0])  # one false negative, one false positive
    assert expected_cost(y, predicted, false_positive=5, false_negative=1) == pytest.approx(6 / 5)
    with pytest.raises(ValueError, match="expected cost of no rows"):
        expected_cost(np.array([]), np.array([]), 1, 1)


def test_constant_costs_and_the_cheaper_one() -> None:
    y = np.array([1] * 7 + [0] * 3)  # 70 % positive, as in German credit
    constants = ConstantCosts.of(y, false_positive=5, false_negative=1)
    assert constants.accept_all == pytest.approx(1.5)  # 3 negatives accepted at 5
    assert constants.reject_all == pytest.approx(0.7)  # 7 positives rejected at 1
    assert constants.best[0] == "reject_all"
    assert constants.best[1] == pytest.approx(0.7)
    cheaper = ConstantCosts.of(y, false_positive=1, false_negative=1).best
    assert cheaper[0] == "accept_all"
    assert cheaper[1] == pytest.approx(0.3)
    assert ConstantCosts(accept_all=1.0, reject_all=1.0).best[0] == "reject_all"  # a tie


def brute_force_least_cost(y: np.ndarray, probabilities: np.ndarray, fp: float, fn: float) -> float:
    """The least cost over every decision set a threshold can make: cut at each distinct probability, or above all."""
    cuts = [*np.unique(probabilities), 2.0]
    return min(expected_cost(y, probabilities >= cut, fp, fn) for cut in cuts)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("fp", "fn"), [(5, 1), (1, 1), (1, 5), (0, 1)])
def test_the_chosen_threshold_has_the_least_cost(seed: int, fp: float, fn: float) -> None:
    generator = np.random.default_rng(seed)
    y = generator.integers(0, 2, 120)
    probabilities = np.clip(np.round(generator.random(120) * 0.6 + 0.35 * y, 2), 0.01, 0.99)  # ties included
    choice = cost_optimal_threshold(y, probabilities, fp, fn)
    assert 0 < choice.threshold < 1
    assert choice.cost == pytest.approx(brute_force_least_cost(y, probabilities, fp, fn))
    assert expected_cost(y, probabilities >= choice.threshold, fp, fn) == pytest.approx(choice.cost)
    assert choice.threshold not in set(probabilities.tolist())  # the midpoint of a gap, never on a probability


def test_constant_decisions_are_candidates() -> None:
    y = np.array([1, 1, 1, 0])
    probabilities = np.array([0.2, 0.4, 0.6, 0.8])  # anti-correlated: a constant decision is best
    reject = cost_optimal_threshold(y, probabilities, false_positive=10, false_negative=1)
    assert reject.threshold == pytest.approx(0.9)  # between the highest probability and 1: rejects every row
    assert reject.cost == pytest.approx(0.75)
    accept = cost_optimal_threshold(y, probabilities, false_positive=1, false_negative=10)
    assert accept.threshold == pytest.approx(0.1)  # between 0 and the lowest probability: accepts every row
    assert accept.cost == pytest.approx(0.25)


def test_a_tie_goes_to_the_gap_nearest_the_bayes_threshold() -> None:
    # Costs 2:1 (Bayes threshold 2/3). Accepting every row costs one false positive (2); cutting at 0.8 costs two
    # false negatives (2): a tie between the thresholds 0.05 and 0.55; 0.55 is nearer 2/3.
    y = np.array([1, 1, 0, 1, 1])
    probabilities = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    choice = cost_optimal_threshold(y, probabilities, false_positive=2, false_negative=1)
    assert choice.threshold == pytest.approx(0.55)
    assert choice.cost == pytest.approx(2 / 5)
    assert bayes_threshold(2, 1) == pytest.approx(2 / 3)
    assert bayes_threshold(0, 0) == 0.5


@pytest.mark.parametrize("seed", range(6))
def test_among_equal_costs_the_nearest_to_bayes_wins(seed: int) -> None:
    """Every candidate (midpoints of the gaps, brute force): the choice is a least-cost one nearest the Bayes value."""
    generator = np.random.default_rng(seed)
    y = generator.integers(0, 2, 40)
    probabilities = np.round(generator.random(40), 1).clip(0.05, 0.95)  # few distinct values: many equal costs
    edges = [0.0, *np.unique(probabilities), 1.0]
    candidates = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    costs = [expected_cost(y, probabilities >= t, 2, 1) for t in candidates]
    best = [t for t, c in zip(candidates, costs, strict=True) if c == pytest.approx(min(costs))]
    chosen = cost_optimal_threshold(y, probabilities, 2, 1).threshold
    assert chosen == pytest.approx(min(best, key=lambda t: abs(t - 2 / 3)))


@pytest.mark.parametrize(
    ("y", "probabilities", "message"),
    [
        (np.array([]), np.array([]), "need one probability per label, got 0 probabilities for 0 labels"),
        (np.array([1, 0]), np.array([0.5]), "need one probability per label, got 1 probabilities for 2 labels"),
        (np.array([1, 0]), np.array([0.5, 1.5]), r"probabilities must be within \[0, 1\]"),
    ],
)
def test_bad_input(y: np.ndarray, probabilities: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cost_optimal_threshold(y, probabilities, 1, 1)
