"""The pipeline's parameters: what an execution may override, with the environment's values as defaults.

Every hyperparameter of the table (:attr:`PipelineSettings.hyperparameter_table`, derived from the config schema) is
a parameter named in CamelCase (``max_depth`` -> ``MaxDepth``), an Integer or a Float as the table says; the training
job receives them under their own names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagemaker.core.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString

from config.model_build import sagemaker_enum
from config.naming import FINGERPRINT_PARAMETER
from sagemaker_code.definition.settings import PipelineSettings
from sagemaker_code.steps import contract
from sagemaker_code.steps.contract import TRIGGER_PARAMETER

#: GitCommit's default: an execution started by hand, not by the delivery pipeline.
UNKNOWN_COMMIT = "unknown"


def approval_statuses() -> list[str]:
    """The values ModelApprovalStatus may take: botocore's enum of the same name (what CreateModelPackage takes)."""
    return list(sagemaker_enum("ModelApprovalStatus"))


def parameter_name(hyperparameter: str) -> str:
    """``colsample_bytree`` -> ``ColsampleBytree``."""
    return "".join(part.capitalize() for part in hyperparameter.split("_"))


@dataclass(frozen=True)
class PipelineParameters:
    """The SDK parameter objects, by role (steps pass them on as ``Parameters.<Name>`` references)."""

    input_uri: Any
    processing_instance_type: Any
    processing_instance_count: Any
    training_instance_type: Any
    training_instance_count: Any
    bias_mitigation: Any
    auc_threshold: Any
    cost_margin: Any
    disparate_impact_lower: Any
    disparate_impact_upper: Any
    model_approval_status: Any
    git_commit: Any
    #: What started the execution ("manual", "push", "alarm:<name>@<time>", "schedule@<time>"): package metadata
    trigger: Any
    model_build_fingerprint: Any
    #: hyperparameter name (as the training step takes it) -> its parameter, in table order
    hyperparameters: dict[str, Any]

    def all(self) -> list[Any]:
        """Every parameter, in the definition's order."""
        return [
            self.input_uri,
            self.processing_instance_type,
            self.processing_instance_count,
            self.training_instance_type,
            self.training_instance_count,
            self.bias_mitigation,
            self.auc_threshold,
            self.cost_margin,
            self.disparate_impact_lower,
            self.disparate_impact_upper,
            self.model_approval_status,
            self.git_commit,
            self.trigger,
            self.model_build_fingerprint,
            *self.hyperparameters.values(),
        ]


def pipeline_parameters(settings: PipelineSettings) -> PipelineParameters:
    values = settings.hyperparameters.model_dump()
    kinds = {"integer": ParameterInteger, "number": ParameterFloat}
    return PipelineParameters(
        input_uri=ParameterString("InputDataUri", default_value=settings.default_input_uri),
        processing_instance_type=ParameterString(
            "ProcessingInstanceType", default_value=settings.processing_instance_type
        ),
        processing_instance_count=ParameterInteger(
            "ProcessingInstanceCount", default_value=settings.processing_instance_count
        ),
        training_instance_type=ParameterString("TrainingInstanceType", default_value=settings.training_instance_type),
        training_instance_count=ParameterInteger(
            "TrainingInstanceCount", default_value=settings.training_instance_count
        ),
        bias_mitigation=ParameterString(
            "BiasMitigation", default_value=settings.bias_mitigation, enum_values=list(contract.BIAS_MITIGATIONS)
        ),
        auc_threshold=ParameterFloat("AucThreshold", default_value=settings.auc_threshold),
        cost_margin=ParameterFloat("CostMargin", default_value=settings.cost_margin),
        disparate_impact_lower=ParameterFloat("DisparateImpactLower", default_value=settings.disparate_impact_lower),
        disparate_impact_upper=ParameterFloat("DisparateImpactUpper", default_value=settings.disparate_impact_upper),
        model_approval_status=ParameterString(
            "ModelApprovalStatus", default_value=settings.model_approval_status, enum_values=approval_statuses()
        ),
        git_commit=ParameterString("GitCommit", default_value=UNKNOWN_COMMIT),
        trigger=ParameterString(TRIGGER_PARAMETER, default_value="manual"),
        model_build_fingerprint=ParameterString(
            FINGERPRINT_PARAMETER, default_value=settings.sentinels.model_build_fingerprint
        ),
        hyperparameters={
            row.name: kinds[row.json_type](parameter_name(row.name), default_value=row.kind(values[row.name]))
            for row in settings.hyperparameter_table
        },
    )
