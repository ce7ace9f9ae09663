"""Settings of the model-build pipeline (the SageMaker Pipeline and its parameter defaults).

Schema only: the definition package turns these settings into its own (``sagemaker_code.definition.settings``).
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Annotated, Literal

import botocore
import botocore.session
from pydantic import AfterValidator, ConfigDict, Field, field_validator

from config.base import StrictModel

INSTANCE_TYPE_RE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
S3_PREFIX_RE = re.compile(r"^[A-Za-z0-9!_.*'()/-]+/$")
#: ``model_build.model_name``: part of the model package group name ``<project>-<env>-<model>``. At most 31
#: characters, so that the group name fits SageMaker's 63 with the longest project (20) and environment (10) names.
MODEL_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,29}[a-z0-9]$")
#: How the Train step mitigates bias (see sagemaker_code.steps.mitigation); the step code's list is the contract's.
BiasMitigation = Literal["none", "reweighing"]
#: Which of botocore's SageMaker instance-type enums each use is checked against (a model package lists its
#: inference instances as real-time and batch-transform instances, so they must be in both).
INSTANCE_TYPE_SHAPES = {
    "processing": ("ProcessingInstanceType",),
    "training": ("TrainingInstanceType",),
    "inference": ("ProductionVariantInstanceType", "TransformInstanceType"),
}
#: Preprocess splits and fits the transform on all rows at once: it cannot take a shard of the input yet.
MAX_PROCESSING_INSTANCES = 1
#: No float setting is infinite or NaN (neither is JSON: the definition would not be valid, the steps would crash).
FINITE = ConfigDict(allow_inf_nan=False)


@functools.cache
def sagemaker_enum(shape: str) -> tuple[str, ...]:
    """The values of one enum shape of botocore's SageMaker service model (instance types, approval statuses):
    shipped with botocore, so offline, and the list the API validates against as of this botocore version."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    return tuple(model.shape_for(shape).enum)


def instance_type_problem(value: str, use: str) -> str | None:
    """Why ``value`` is not a SageMaker instance type for ``use`` (a key of :data:`INSTANCE_TYPE_SHAPES`)."""
    for shape in INSTANCE_TYPE_SHAPES[use]:
        known = sagemaker_enum(shape)
        if value in known:
            continue
        guess = difflib.get_close_matches(value, known, n=1, cutoff=0.8)
        hint = f"did you mean {guess[0]!r}?" if guess else f"such as {known[0]!r}."
        return (
            f"must be a SageMaker {use} instance type ({shape} of botocore {botocore.__version__}, {len(known)} "
            f"types), got {value!r}: {hint} If it is a type newer than that botocore, upgrade boto3/botocore"
        )
    return None


def _instance_type_check(use: str) -> AfterValidator:
    def check(value: str) -> str:
        if not INSTANCE_TYPE_RE.fullmatch(value):
            raise ValueError(f"must be a SageMaker instance type such as 'ml.m5.large', got {value!r}")
        problem = instance_type_problem(value, use)
        if problem is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


ProcessingInstanceType = Annotated[str, _instance_type_check("processing")]
TrainingInstanceType = Annotated[str, _instance_type_check("training")]
InferenceInstanceType = Annotated[str, _instance_type_check("inference")]


class DisparateImpactBounds(StrictModel):
    """Allowed range of disparate impact (DI) for every facet of the dataset spec."""

    model_config = FINITE

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

    model_config = FINITE

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

    model_config = FINITE

    dataset_spec: str = Field(
        description="Dataset spec file (YAML), relative to the config file's folder: columns, label, facets, split."
    )
    model_name: str | None = Field(
        default=None,
        description="Names the model package group <project>-<env>-<model_name> that every run registers into (one "
        "group per model). 2-31 lowercase letters, digits and '-'. Omitted: the dataset spec's name. Renaming it "
        "starts a new, empty group (a retained environment keeps the old one).",
    )
    input_data_prefix: str | None = Field(
        default=None,
        description="Default input: this key prefix (ending in '/') of the environment's data bucket. Omitted: "
        "the dataset spec's shipped sample (uploaded as a CDK asset).",
    )
    processing_instance_type: ProcessingInstanceType = Field(
        default="ml.m5.large",
        description="Preprocess and Evaluate instance (pipeline parameter ProcessingInstanceType).",
    )
    processing_instance_count: int = Field(
        default=1,
        ge=1,
        le=MAX_PROCESSING_INSTANCES,
        description="Preprocess instances (pipeline parameter ProcessingInstanceCount). The definition shards its "
        "data input by S3 key (each instance receives whole files of its own), but the Preprocess step does not "
        "handle a shard yet, so the only value allowed is 1. Evaluate always runs on one instance.",
    )
    training_instance_type: TrainingInstanceType = Field(
        default="ml.m5.large", description="Training job's instance (pipeline parameter TrainingInstanceType)."
    )
    training_instance_count: int = Field(
        default=1,
        ge=1,
        le=20,
        description="Training instances (pipeline parameter TrainingInstanceCount). More than one trains one model "
        "with distributed XGBoost (the hosts combine their histograms over XGBoost's collective): Preprocess writes "
        "the train split in one file per instance (each with the class balance of the whole) and the train channel "
        "is sharded by S3 key, so each instance trains on its own part.",
    )
    inference_instance_types: list[InferenceInstanceType] = Field(
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
    bias_mitigation: BiasMitigation = Field(
        default="none",
        description="Bias mitigation in the Train step (pipeline parameter BiasMitigation): none, or reweighing "
        "(Kamiran & Calders: train rows weighted so that the label is independent of the facet groups). When the "
        "spec has facets, Train also trains the other setting's model, and Evaluate reports both side by side on "
        "the same test split (evaluation.json bias_mitigation, the bias gate's message).",
    )
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

    @field_validator("processing_instance_count", mode="before")
    @classmethod
    def _processing_instances(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_PROCESSING_INSTANCES:
            raise ValueError(
                f"must be {MAX_PROCESSING_INSTANCES} for now, got {value}: the pipeline shards Preprocess' input by S3 "
                "key, but the Preprocess step splits and fits the transform on all rows at once and cannot take a "
                "shard yet; scale Preprocess up (processing_instance_type) instead"
            )
        return value

    @field_validator("model_name")
    @classmethod
    def _model_name(cls, value: str | None) -> str | None:
        if value is not None and not MODEL_NAME_RE.fullmatch(value):
            raise ValueError(
                "must be 2-31 lowercase letters, digits and '-', start with a letter and not end with '-' (it names "
                f"the model package group <project>-<env>-<model_name>), got {value!r}"
            )
        return value

    def model_name_for(self, dataset_name: str) -> str:
        """The model's name: ``model_name``, or the dataset spec's name when it is not set."""
        return self.model_name or dataset_name
