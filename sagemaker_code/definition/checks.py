"""The pipeline's first step: every parameter of an execution checked against its allowed values before any job runs.

A parameter can be overridden with any value of its type when an execution starts (``ModelApprovalStatus=Approve``,
``AucThreshold=7``, ``TrainingInstanceType=ml.m5.larg``); without this step such a value fails late (at Register,
after the whole run) or not at all. The allowed values are the ones config allows (one definition: the bounds of
``config.model_build``'s fields and of the hyperparameter table, botocore's SageMaker enums for instance types and
approval statuses, the contract's bias mitigations).

``CheckParameters`` (a condition step, no job) holds every other step in its IfSteps; its conditions are all the
rules' conditions. Its ElseSteps hold one condition step per rule (``Check<Parameter>``, evaluated only when some
value is out of bounds, all in parallel), each with a Fail step ``<Parameter>Invalid`` whose message names the
parameter, its allowed values and the value given: ``Pipeline parameter ModelApprovalStatus must be one of Approved,
Rejected, PendingManualApproval; got Approve``. The same condition objects make both, so a value that fails the
first step always fails its own check.

The string enums with few values (ModelApprovalStatus, BiasMitigation) are also declared as the parameters'
``EnumValues``, which the local runner checks before anything runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import botocore
from pydantic import BaseModel
from sagemaker.core.workflow.conditions import (
    ConditionGreaterThan,
    ConditionGreaterThanOrEqualTo,
    ConditionIn,
    ConditionLessThan,
    ConditionLessThanOrEqualTo,
)
from sagemaker.core.workflow.functions import Join
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep

from config.model_build import DisparateImpactBounds, ModelBuildSettings, sagemaker_enum
from sagemaker_code.definition.parameters import PipelineParameters, approval_statuses, parameter_name
from sagemaker_code.definition.settings import PipelineSettings
from sagemaker_code.steps import contract
from sagemaker_code.steps.hyperparameters import BOUNDS, Hyperparameter

#: Config fields whose bounds bound a pipeline parameter: (model, field, parameter).
BOUNDED_SETTINGS: tuple[tuple[type[BaseModel], str, str], ...] = (
    (ModelBuildSettings, "processing_instance_count", "ProcessingInstanceCount"),
    (ModelBuildSettings, "training_instance_count", "TrainingInstanceCount"),
    (ModelBuildSettings, "auc_threshold", "AucThreshold"),
    (ModelBuildSettings, "cost_margin", "CostMargin"),
    (DisparateImpactBounds, "lower", "DisparateImpactLower"),
    (DisparateImpactBounds, "upper", "DisparateImpactUpper"),
)
#: Instance-type parameters: (parameter, botocore's enum, the setting that gives its default).
INSTANCE_TYPES = (
    ("ProcessingInstanceType", "ProcessingInstanceType", "processing_instance_type"),
    ("TrainingInstanceType", "TrainingInstanceType", "training_instance_type"),
)
_COMPARISONS = {
    "minimum": ConditionGreaterThanOrEqualTo,
    "exclusiveMinimum": ConditionGreaterThan,
    "maximum": ConditionLessThanOrEqualTo,
    "exclusiveMaximum": ConditionLessThan,
}


@dataclass(frozen=True)
class Rule:
    """One parameter's allowed values, as conditions and in words."""

    name: str
    parameter: Any
    conditions: tuple[Any, ...]
    allowed: str

    def message(self) -> Join:
        return Join(on="", values=[f"Pipeline parameter {self.name} must be {self.allowed}; got ", self.parameter])


def bounded_rule(name: str, parameter: Any, row: Hyperparameter) -> Rule:
    """The conditions of a number's bounds (a row of the hyperparameter table, or a config field's)."""
    conditions = [
        _COMPARISONS[key](left=parameter, right=getattr(row, field))
        for key, field in BOUNDS.items()
        if getattr(row, field) is not None
    ]
    return Rule(name, parameter, tuple(conditions), row.range_text() or "a number")


def field_row(model: type[BaseModel], field: str) -> Hyperparameter:
    """A config field's type, default and bounds, from its JSON schema (as the hyperparameter table is made)."""
    prop = model.model_json_schema()["properties"][field]
    bounds = {attribute: prop[key] for key, attribute in BOUNDS.items() if key in prop}
    return Hyperparameter(field, prop["type"], prop["default"], prop.get("description", ""), **bounds)


def enum_rule(name: str, parameter: Any, values: Sequence[str], allowed: str | None = None) -> Rule:
    return Rule(name, parameter, (ConditionIn(value=parameter, in_values=list(values)),), allowed or _one_of(values))


def _one_of(values: Sequence[str]) -> str:
    return f"one of {', '.join(values)}"


def rules(settings: PipelineSettings, parameters: PipelineParameters) -> list[Rule]:
    """Every parameter with a restricted set of values (InputDataUri, GitCommit, Trigger and the fingerprint are free
    text)."""
    by_name = {param.name: param for param in parameters.all()}
    found = [
        enum_rule("ModelApprovalStatus", parameters.model_approval_status, approval_statuses()),
        enum_rule("BiasMitigation", parameters.bias_mitigation, contract.BIAS_MITIGATIONS),
    ]
    for name, shape, setting in INSTANCE_TYPES:
        known = sagemaker_enum(shape)
        example = getattr(settings, setting)
        allowed = f"one of the {len(known)} types of {shape} in botocore {botocore.__version__}, such as {example}"
        found.append(enum_rule(name, by_name[name], known, allowed))
    for model, field, name in BOUNDED_SETTINGS:
        found.append(bounded_rule(name, by_name[name], field_row(model, field)))
    for row in settings.hyperparameter_table:
        found.append(bounded_rule(parameter_name(row.name), parameters.hyperparameters[row.name], row))
    return found


def parameter_check(settings: PipelineSettings, parameters: PipelineParameters, steps: list[Any]) -> ConditionStep:
    """The first step: ``steps`` when every parameter is allowed, else a Fail step per parameter that is not."""
    checks = rules(settings, parameters)
    return ConditionStep(
        name=contract.PARAMETER_CHECK_STEP,
        description="Every pipeline parameter within its allowed values (config's bounds, botocore's SageMaker enums)"
        " before any job starts",
        conditions=[condition for rule in checks for condition in rule.conditions],
        if_steps=steps,
        else_steps=[
            ConditionStep(
                name=contract.parameter_check_step(rule.name),
                description=f"{rule.name} must be {rule.allowed}",
                conditions=list(rule.conditions),
                if_steps=[],
                else_steps=[FailStep(name=contract.parameter_fail_step(rule.name), error_message=rule.message())],
            )
            for rule in checks
        ],
    )
