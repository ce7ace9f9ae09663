"""The prediction baseline of a model: how its scores and decisions are distributed on the test split.

The Evaluate step writes it into evaluation.json under ``prediction_baseline`` (that file is registered as the
package's ModelMetrics.ModelQuality.Statistics); the monitor compares the live scores with it (prediction drift).
The test split, not the train split: it is the model's scores on data it never saw, which is what live traffic is.

Scores are binned on fixed equal-width bins of [0, 1] (not on quantiles of the test scores): a probability has a
natural range, fixed edges need no second pass and stay comparable between model versions, and a model that
concentrates its scores still gets a sensible PSI because the monitor smooths empty bins (see drift.psi).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The key of evaluation.json that holds the baseline.
KEY = "prediction_baseline"
SCORE_BINS = 10
VERSION = 1


@dataclass(frozen=True)
class PredictionBaseline:
    edges: np.ndarray  # SCORE_BINS + 1 ascending edges, 0 to 1
    counts: np.ndarray  # test rows per bin
    positive_rate: float  # share of test rows predicted positive at the decision threshold
    decision_threshold: float

    @property
    def rows(self) -> int:
        return int(self.counts.sum())


def score_histogram(probabilities: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Rows per bin; scores outside [0, 1] (there should be none) fall into the outer bins, the last bin holds 1."""
    inner = np.asarray(edges, dtype=np.float64)[1:-1]
    bins = np.searchsorted(inner, np.asarray(probabilities, dtype=np.float64), side="right")
    return np.bincount(bins, minlength=inner.size + 1)


def prediction_baseline(probabilities: np.ndarray, decision_threshold: float) -> dict[str, object]:
    """The ``prediction_baseline`` entry of evaluation.json for the test split's scores."""
    scores = np.asarray(probabilities, dtype=np.float64)
    if scores.size == 0:
        raise ValueError("a prediction baseline needs at least one score")
    edges = np.linspace(0.0, 1.0, SCORE_BINS + 1)
    return {
        "version": VERSION,
        "rows": int(scores.size),
        "score_histogram": {"edges": edges.tolist(), "counts": score_histogram(scores, edges).tolist()},
        "decision_threshold": float(decision_threshold),
        "positive_rate": float(np.mean(scores >= decision_threshold)),
    }


def read_prediction_baseline(evaluation: object) -> PredictionBaseline | None:
    """The baseline in an evaluation.json; None when the package predates it (prediction drift is then reported as
    unavailable). A present but malformed entry raises ValueError: the file is the registry's record, not a guess."""
    entry = evaluation.get(KEY) if isinstance(evaluation, dict) else None
    if entry is None:
        return None
    try:
        histogram = entry["score_histogram"]
        edges = np.asarray(histogram["edges"], dtype=np.float64)
        counts = np.asarray(histogram["counts"], dtype=np.int64)
        baseline = PredictionBaseline(
            edges=edges,
            counts=counts,
            positive_rate=float(entry["positive_rate"]),
            decision_threshold=float(entry["decision_threshold"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{KEY} is malformed: {exc!r}") from None
    if edges.ndim != 1 or edges.size != counts.size + 1 or counts.size < 1 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"{KEY}: need ascending edges, one more than the counts, got {edges.size} and {counts.size}")
    if np.any(counts < 0) or counts.sum() == 0:
        raise ValueError(f"{KEY}: counts must be >= 0 with at least one row")
    return baseline
