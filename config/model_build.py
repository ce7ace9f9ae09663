"""Settings of the model-build pipeline (the SageMaker Pipeline and its parameter defaults).

Schema only: the definition package turns these settings into its own (``sagemaker_code.definition.settings``).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from config.base import StrictModel

INSTANCE_TYPE_RE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
S3_PREFIX_RE = re.compile(r"^[A-Za-z0-9!_.*'()/-]+/$")


def _check_instance_type(value: str) -> str:
    if not INSTANCE_TYPE_RE.fullmatch(value):
        raise ValueError(f"must be a SageMaker instance type such as 'ml.m5.large', got {value!r}")
    return value


InstanceType = Annotated[str, AfterValidator(_check_instance_type)]


class DisparateImpactBounds(StrictModel):
    """Allowed range of disparate impact (DI) for every facet of the dataset spec."""

    lower: float = Field(default=0.8, gt=0, lt=1, description="Lowest allowed DI (four-fifths rule: 0.8).")
    upper: float = Field(default=1.25, gt=1, description="Highest allowed DI (1 / 0.8 = 1.25).")


class HyperparameterDefaults(StrictModel):
    """The XGBoost hyperparameters: the one definition of each (type, default, bounds, description).

    Every field is a pipeline parameter (its name in CamelCase) with the environment's value as default, and an
    argument of the training step, which reads this model's JSON schema from the code bundle (``hyperparameters.json``,
    see ``sagemaker_code.steps.hyperparameters``) and checks the same bounds. A field needs a description and an int or
    float type. ``num_round`` and ``early_stopping_rounds`` drive the boosting loop; every other field is passed to
    XGBoost as a booster parameter of the same name.
    """

    max_depth: int = Field(default=4, ge=1, le=20, description="Maximum tree depth.")
    eta: float = Field(default=0.1, gt=0, le=1, description="Learning rate.")
    num_round: int = Field(default=300, ge=1, le=10000, description="Maximum boosting rounds.")
    subsample: float = Field(default=0.8, gt=0, le=1, description="Row subsample ratio per tree.")
    colsample_bytree: float = Field(default=0.8, gt=0, le=1, description="Column subsample ratio per tree.")
    min_child_weight: float = Field(default=1.0, ge=0, description="Minimum sum of instance weight in a child.")
    early_stopping_rounds: int = Field(
        default=30, ge=1, le=1000, description="Stop after this many rounds without a better validation log loss."
    )
    seed: int = Field(default=42, ge=0, description="Random seed of XGBoost (row and column subsampling).")


class ModelBuildSettings(StrictModel):
    """The SageMaker model-build pipeline of every environment."""

    dataset_spec: str = Field(
        description="Dataset spec file (YAML), relative to the config file's folder: columns, label, facets, split."
    )
    input_data_prefix: str | None = Field(
        default=None,
        description="Default input: this key prefix (ending in '/') of the environment's data bucket. Omitted: "
        "the dataset spec's shipped sample (uploaded as a CDK asset).",
    )
    processing_instance_type: InstanceType = Field(default="ml.m5.large", description="Processing jobs' instance.")
    processing_instance_count: int = Field(default=1, ge=1, le=10, description="Processing jobs' instance count.")
    training_instance_type: InstanceType = Field(default="ml.m5.large", description="Training job's instance.")
    inference_instance_types: list[InstanceType] = Field(
        default_factory=lambda: ["ml.m5.large"], min_length=1, description="Instance types the model package allows."
    )
    auc_threshold: float = Field(default=0.75, ge=0.5, le=1, description="Quality gate: minimum test AUC.")
    cost_margin: float = Field(
        default=0.05,
        ge=0,
        le=0.9,
        description="Cost gate: the model's expected cost per test row (the dataset spec's cost matrix) must be at "
        "most (1 - cost_margin) x the cheaper constant decision (accept everyone or reject everyone); 0.05 = 5 % "
        "cheaper. Pipeline parameter CostMargin.",
    )
    disparate_impact: DisparateImpactBounds = Field(default_factory=DisparateImpactBounds, description="Bias gate.")
    hyperparameters: HyperparameterDefaults = Field(
        default_factory=HyperparameterDefaults, description="XGBoost hyperparameter defaults."
    )
    cache_expire_after_days: int = Field(
        default=30, ge=1, le=365, description="Step caching of Preprocess and Train expires after this many days."
    )
    max_runtime_minutes: int = Field(default=60, ge=5, le=1440, description="Limit of every processing/training job.")

    @field_validator("input_data_prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        if value is not None and not S3_PREFIX_RE.fullmatch(value):
            raise ValueError(f"must be an S3 key prefix ending in '/', e.g. 'datasets/credit/', got {value!r}")
        return value
