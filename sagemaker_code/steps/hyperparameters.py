"""The XGBoost hyperparameters: one definition for the training script and the pipeline definition.

The pipeline (``sagemaker_code.definition.build``) turns every field but ``seed`` into a pipeline parameter with this
default; the training script (``sagemaker_code.steps.train``) parses them from its command line and checks them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hyperparameters:
    max_depth: int = 4
    eta: float = 0.1
    num_round: int = 300
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    min_child_weight: float = 1.0
    early_stopping_rounds: int = 30
    seed: int = 42

    def problems(self) -> list[str]:
        checks = [
            (self.max_depth >= 1, "--max_depth must be at least 1", self.max_depth),
            (0 < self.eta <= 1, "--eta must be in (0, 1]", self.eta),
            (self.num_round >= 1, "--num_round must be at least 1", self.num_round),
            (0 < self.subsample <= 1, "--subsample must be in (0, 1]", self.subsample),
            (0 < self.colsample_bytree <= 1, "--colsample_bytree must be in (0, 1]", self.colsample_bytree),
            (self.min_child_weight >= 0, "--min_child_weight must be at least 0", self.min_child_weight),
            (self.early_stopping_rounds >= 1, "--early_stopping_rounds must be at least 1", self.early_stopping_rounds),
            (self.seed >= 0, "--seed must be at least 0", self.seed),
        ]
        return [f"{message}, got {value}" for ok, message, value in checks if not ok]

    def xgboost_params(self) -> dict[str, object]:
        return {
            "objective": "binary:logistic",
            # the last metric drives early stopping: log loss, which keeps improving while the (rank-only) AUC of a
            # small validation split is flat and noisy, and so stops at a model with calibrated probabilities
            "eval_metric": ["auc", "logloss"],
            "tree_method": "hist",
            "max_depth": self.max_depth,
            "eta": self.eta,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "seed": self.seed,
        }
