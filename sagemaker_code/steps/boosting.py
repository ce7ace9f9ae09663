"""Boosting one model of the Train step: early stopping on the validation split, the best round, the decision threshold.

Each boosting round logs ``[i] train-auc:<v> validation-auc:<v>`` and the end logs the best round again, for the
estimator's metric definition ``validation-auc:([0-9.]+)``. The decision threshold is the spec's
``label.decision_threshold`` when it gives one (a fixed override), else the one with the least expected cost (the
spec's cost matrix) on the validation split (:mod:`sagemaker_code.steps.cost`); the test split is never seen here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import xgboost as xgb

from sagemaker_code.steps.cost import ConstantCosts, cost_optimal_threshold, expected_cost
from sagemaker_code.steps.hyperparameters import EARLY_STOPPING_ROUNDS, NUM_ROUND, Value
from sagemaker_code.steps.spec import DatasetSpec

logger = logging.getLogger("sagemaker_code.steps.train")  # the training job's log: one logger for the step


class _LogScores(xgb.callback.TrainingCallback):
    """Log ``[i] train-auc:<v> validation-auc:<v>`` after every boosting round."""

    def after_iteration(  # the signature is xgboost's; the booster is not needed here
        self,
        model: xgb.Booster,  # noqa: ARG002
        epoch: int,
        evals_log: xgb.callback.TrainingCallback.EvalsLog,
    ) -> bool:
        scores = []
        for data, metrics in evals_log.items():
            for metric, history in metrics.items():
                last = history[-1]
                scores.append(f"{data}-{metric}:{last[0] if isinstance(last, tuple) else last:.6f}")
        logger.info("[%d] %s", epoch, " ".join(scores))
        return False


def decision_threshold(
    booster: xgb.Booster, dvalidation: xgb.DMatrix, spec: DatasetSpec
) -> tuple[float, dict[str, object]]:
    """The model's decision threshold and its record for training.json (see the module docstring)."""
    labels = dvalidation.get_label()
    probabilities = booster.predict(dvalidation)
    cost = spec.cost_matrix
    override = spec.label.decision_threshold
    if override is None:
        choice = cost_optimal_threshold(labels, probabilities, cost.false_positive, cost.false_negative)
        threshold, source = choice.threshold, "cost_on_validation"
    else:
        threshold, source = override, "spec"
    validation_cost = expected_cost(labels, probabilities >= threshold, cost.false_positive, cost.false_negative)
    constants = ConstantCosts.of(labels, cost.false_positive, cost.false_negative)
    logger.info(
        "decision threshold %.6f (%s): validation cost %.4f per row; accept everyone %.4f, reject everyone %.4f",
        threshold, source, validation_cost, constants.accept_all, constants.reject_all,
    )  # fmt: skip
    return threshold, {
        "value": threshold,
        "source": source,
        "validation_cost_per_row": validation_cost,
        "validation_constant_costs": constants.as_dict(),
        "cost_matrix": {"false_positive": cost.false_positive, "false_negative": cost.false_negative},
    }


@dataclass(frozen=True)
class Fitted:
    """One trained model: the best round's booster, its decision threshold and its record for training.json."""

    booster: xgb.Booster
    threshold: float
    report: dict[str, object]


def fit(
    params: Mapping[str, object],
    dtrain: xgb.DMatrix,
    dvalidation: xgb.DMatrix,
    *,
    hp: Mapping[str, Value],
    spec: DatasetSpec,
    mitigation: str,
) -> Fitted:
    """Boost with early stopping on the validation log loss, keep the best round, choose its threshold."""
    history: dict[str, dict[str, list[float]]] = {}
    logger.info("training the model with bias mitigation %s", mitigation)
    booster = xgb.train(
        dict(params),
        dtrain,
        num_boost_round=int(hp[NUM_ROUND]),
        evals=[(dtrain, "train"), (dvalidation, "validation")],
        early_stopping_rounds=int(hp[EARLY_STOPPING_ROUNDS]),
        evals_result=history,
        callbacks=[_LogScores()],
        verbose_eval=False,
    )
    best_round = int(booster.best_iteration)
    best_auc = float(history["validation"]["auc"][best_round])
    best_logloss = float(booster.best_score)
    logger.info(
        "best round %d of %d: validation-auc:%.6f validation-logloss:%.6f",
        best_round, booster.num_boosted_rounds() - 1, best_auc, best_logloss,
    )  # fmt: skip
    best = booster[: best_round + 1]
    threshold, threshold_report = decision_threshold(best, dvalidation, spec)
    report: dict[str, object] = {
        "bias_mitigation": mitigation,
        "best_round": best_round,
        "rounds_trained": booster.num_boosted_rounds(),
        "validation_auc": best_auc,
        "validation_logloss": best_logloss,
        "decision_threshold": threshold_report,
    }
    return Fitted(best, threshold, report)
