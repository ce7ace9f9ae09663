"""What a pipeline definition depends on (:class:`PipelineSettings`), and the adapter that computes it from config.

The settings are pure data (no CDK, no SageMaker SDK): the app computes them from config before it loads aws-cdk-lib,
the definition cache keys on them, and the builder process receives them as JSON. Values only CloudFormation knows are
:class:`Sentinels` that the model-build stack swaps for tokens.

The adapter lives here, with the unit it feeds, not in config: the definition depends on config, never the reverse.
The hyperparameters are config's own model (``config.model_build.HyperparameterDefaults``, the one definition of
each hyperparameter); :func:`hyperparameter_table` derives from its JSON schema the table that the bundle ships to the
training step and that the definition turns into pipeline parameters.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from config.model_build import HyperparameterDefaults
from config.naming import model_build_pipeline_name, model_package_group_name, model_package_group_problem
from sagemaker_code.steps.hyperparameters import BOUNDS, Hyperparameter, parse_table, table_json

if TYPE_CHECKING:
    from config.dataset_spec import DatasetSpec
    from config.model import PlatformConfig

#: The hyperparameter values of a pipeline: config's model, validated against its bounds when built.
Hyperparameters = HyperparameterDefaults
#: The XGBoost framework image runs preprocess, training (script mode), evaluation and serving.
XGBOOST_IMAGE_VERSION = "3.2-0"


@dataclass(frozen=True)
class Sentinels:
    """Well-formed stand-ins for values only CloudFormation knows; the CDK stack swaps them for tokens."""

    job_role_arn: str = "arn:aws:iam::000000000000:role/sentinel-sagemaker-job-role"
    artifacts_bucket: str = "sentinel-artifacts-bucket-0000"
    data_bucket: str = "sentinel-data-bucket-0000"
    kms_key_arn: str = "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000"
    code_uri: str = "s3://sentinel-code-bucket-0000/sentinel-code.tar.gz"
    sample_data_uri: str = "s3://sentinel-code-bucket-0000/sentinel-sample.data"
    #: Default of the ModelBuildFingerprint parameter: the stack's sha256 over the definition, step code and data.
    model_build_fingerprint: str = "sentinel-model-build-fingerprint"

    def values(self) -> dict[str, str]:
        return asdict(self)


@functools.cache
def hyperparameter_table(model: type[BaseModel] = HyperparameterDefaults) -> tuple[Hyperparameter, ...]:
    """The hyperparameter table of ``model`` (its fields in order: name, JSON type, default, bounds, description).

    Read through the step code's own parser, so a config field the training step could not take (no description,
    a type other than integer or number) fails here, at synth, naming the field.
    """
    schema = model.model_json_schema()
    rows = [
        {
            "name": name,
            **{key: prop[key] for key in ("type", "default", "description") if key in prop},
            **{key: prop[key] for key in BOUNDS if key in prop},
        }
        for name, prop in schema["properties"].items()
    ]
    return parse_table({"hyperparameters": rows}, f"{model.__module__}.{model.__name__}")


@dataclass(frozen=True)
class PipelineSettings:
    """Everything the definition depends on (also the cache key of :mod:`sagemaker_code.definition.cache`)."""

    pipeline_name: str
    region: str
    model_package_group_name: str
    #: Pipeline parameter defaults
    default_input_uri: str
    #: The dataset spec's name, recorded in every model package's metadata (``dataset_name``).
    dataset_name: str = "dataset"
    processing_instance_type: str = "ml.m5.large"
    processing_instance_count: int = 1
    training_instance_type: str = "ml.m5.large"
    training_instance_count: int = 1
    bias_mitigation: str = "none"
    auc_threshold: float = 0.75
    cost_margin: float = 0.05
    disparate_impact_lower: float = 0.8
    disparate_impact_upper: float = 1.25
    model_approval_status: str = "PendingManualApproval"
    hyperparameters: HyperparameterDefaults = field(default_factory=HyperparameterDefaults)
    #: Facet names of the dataset spec (named in the bias gate's description; the gate itself reads gates.json).
    facets: tuple[str, ...] = ()
    cache_expire_after: str = "P30D"
    inference_instance_types: tuple[str, ...] = ("ml.m5.large",)
    max_runtime_seconds: int = 3600
    sentinels: Sentinels = field(default_factory=Sentinels)

    @property
    def hyperparameter_table(self) -> tuple[Hyperparameter, ...]:
        """The table of :attr:`hyperparameters`' model: the pipeline's hyperparameter parameters and the bundle's
        ``hyperparameters.json``."""
        return hyperparameter_table(type(self.hyperparameters))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PipelineSettings:
        data = dict(raw)
        data.pop("hyperparameter_table")  # derived from the hyperparameters' model (see to_dict)
        data["hyperparameters"] = HyperparameterDefaults.model_validate(data["hyperparameters"])
        data["sentinels"] = Sentinels(**data["sentinels"])
        data["facets"] = tuple(data["facets"])
        data["inference_instance_types"] = tuple(data["inference_instance_types"])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; includes the hyperparameter table, so that the cache key changes with the config schema's
        types and bounds, not only with the values."""
        data = asdict(self)
        data["hyperparameters"] = self.hyperparameters.model_dump(mode="json")
        data["hyperparameter_table"] = table_json(self.hyperparameter_table)["hyperparameters"]
        return data


def pipeline_settings(config: PlatformConfig, env_name: str, spec: DatasetSpec) -> PipelineSettings:
    """The definition settings of one environment: pure config, no CDK (values CDK owns are sentinels)."""
    build = config.model_build
    sentinels = Sentinels()
    default_input = (
        f"s3://{sentinels.data_bucket}/{build.input_data_prefix}"
        if build.input_data_prefix
        else sentinels.sample_data_uri
    )
    project = config.project.name
    model = build.model_name_for(spec.name)
    problem = model_package_group_problem(project, env_name, model)
    if problem is not None:  # only a long default (the spec's name) can get here: model_name itself is bounded
        raise ValueError(f"model_build.model_name (default: the dataset spec's name {spec.name!r}): {problem}")
    return PipelineSettings(
        pipeline_name=model_build_pipeline_name(project, env_name),
        region=config.environments[env_name].region,
        model_package_group_name=model_package_group_name(project, env_name, model),
        default_input_uri=default_input,
        dataset_name=spec.name,
        processing_instance_type=build.processing_instance_type,
        processing_instance_count=build.processing_instance_count,
        training_instance_type=build.training_instance_type,
        training_instance_count=build.training_instance_count,
        bias_mitigation=build.bias_mitigation,
        auc_threshold=build.auc_threshold,
        cost_margin=build.cost_margin,
        disparate_impact_lower=build.disparate_impact.lower,
        disparate_impact_upper=build.disparate_impact.upper,
        hyperparameters=build.hyperparameters,
        facets=tuple(facet.name for facet in spec.facets),
        cache_expire_after=f"P{build.cache_expire_after_days}D",
        inference_instance_types=tuple(build.inference_instance_types),
        max_runtime_seconds=build.max_runtime_minutes * 60,
        sentinels=sentinels,
    )
