"""Every pipeline parameter is checked at the first step, before any job: a value out of its allowed values ends the
run there with a message naming the parameter, its allowed values and the value given, in the cloud definition and
in the local run of it. The allowed values are config's (one definition of each bound)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from app import DEFINITION_CACHE
from config.loader import DEFAULT_CONFIG_PATH, load_config, load_dataset_spec
from config.model_build import DisparateImpactBounds, HyperparameterDefaults, ModelBuildSettings, sagemaker_enum
from local_pipeline.conditions import evaluate_condition
from local_pipeline.errors import ParameterError
from local_pipeline.expressions import Scope
from local_pipeline.runner import run_pipeline
from local_pipeline.s3 import LocalS3
from sagemaker_code.definition.build import build_definition
from sagemaker_code.definition.cache import DefinitionBuilds
from sagemaker_code.definition.settings import PipelineSettings, pipeline_settings
from sagemaker_code.steps import contract

#: Parameters any text is fine for.
FREE_TEXT = {"InputDataUri", "GitCommit", "Trigger", "ModelBuildFingerprint"}
JOB_STEPS = {contract.PREPROCESS_STEP, contract.TRAIN_STEP, contract.EVALUATE_STEP}


@pytest.fixture(scope="module")
def settings() -> PipelineSettings:
    config = load_config(DEFAULT_CONFIG_PATH)
    return pipeline_settings(config, "dev", load_dataset_spec(config, DEFAULT_CONFIG_PATH))


@pytest.fixture(scope="module")
def definition(settings: PipelineSettings) -> dict[str, Any]:
    built: dict[str, Any] = json.loads(DefinitionBuilds.start([settings], DEFINITION_CACHE).get(settings.pipeline_name))
    return built


def check_steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (first,) = definition["Steps"]
    return {step["Name"]: step for step in first["Arguments"]["ElseSteps"]}


def test_the_check_is_the_first_step_and_holds_every_other(definition: dict[str, Any]) -> None:
    (first,) = definition["Steps"]
    assert (first["Name"], first["Type"]) == (contract.PARAMETER_CHECK_STEP, "Condition")
    assert [step["Name"] for step in first["Arguments"]["IfSteps"]] == [
        contract.PREPROCESS_STEP,
        contract.TRAIN_STEP,
        contract.EVALUATE_STEP,
        contract.QUALITY_GATE.condition_step,
    ]
    checks = check_steps(definition)
    checked = {name.removeprefix("Check") for name in checks}
    declared = {parameter["Name"] for parameter in definition["Parameters"]}
    assert checked == declared - FREE_TEXT
    # the first step's conditions are exactly the per-parameter checks' (a value that fails one fails its own)
    per_parameter = [condition for step in checks.values() for condition in step["Arguments"]["Conditions"]]
    assert first["Arguments"]["Conditions"] == per_parameter
    for name, step in checks.items():
        (fail,) = step["Arguments"]["ElseSteps"]
        parameter = name.removeprefix("Check")
        assert (fail["Name"], fail["Type"]) == (contract.parameter_fail_step(parameter), "Fail")
        message = fail["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
        assert message[0].startswith(f"Pipeline parameter {parameter} must be ")
        assert message[1] == {"Get": f"Parameters.{parameter}"}


def test_string_enums_in_the_cloud_definition(definition: dict[str, Any]) -> None:
    """ModelApprovalStatus is checked before Register can refuse it (the service may ignore EnumValues)."""
    parameters = {parameter["Name"]: parameter for parameter in definition["Parameters"]}
    statuses = ["Approved", "Rejected", "PendingManualApproval"]
    assert parameters["ModelApprovalStatus"]["EnumValues"] == statuses
    assert parameters["BiasMitigation"]["EnumValues"] == list(contract.BIAS_MITIGATIONS)
    (condition,) = check_steps(definition)["CheckModelApprovalStatus"]["Arguments"]["Conditions"]
    assert condition == {"Type": "In", "QueryValue": {"Get": "Parameters.ModelApprovalStatus"}, "Values": statuses}
    (condition,) = check_steps(definition)["CheckTrainingInstanceType"]["Arguments"]["Conditions"]
    assert condition["Values"] == list(sagemaker_enum("TrainingInstanceType"))


def accepted_by_the_check(definition: dict[str, Any], parameter: str, value: object) -> bool:
    defaults = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    scope = Scope(parameters={**defaults, parameter: value}, execution={})
    conditions = check_steps(definition)[f"Check{parameter}"]["Arguments"]["Conditions"]
    return all(evaluate_condition(condition, scope).outcome for condition in conditions)


def accepted_by_config(field: str, value: object) -> bool:
    models: dict[str, tuple[type[BaseModel], str]] = {
        "DisparateImpactLower": (DisparateImpactBounds, "lower"),
        "DisparateImpactUpper": (DisparateImpactBounds, "upper"),
        "AucThreshold": (ModelBuildSettings, "auc_threshold"),
        "CostMargin": (ModelBuildSettings, "cost_margin"),
        "ProcessingInstanceCount": (ModelBuildSettings, "processing_instance_count"),
        "TrainingInstanceCount": (ModelBuildSettings, "training_instance_count"),
    }
    model, key = models.get(field) or (HyperparameterDefaults, "_".join(part.lower() for part in _split_camel(field)))
    data = {key: value} if model is not ModelBuildSettings else {key: value, "dataset_spec": "x.yaml"}
    try:
        model.model_validate(data)
    except ValidationError:
        return False
    return True


def _split_camel(name: str) -> list[str]:
    parts: list[str] = []
    for char in name:
        if char.isupper():
            parts.append(char)
        else:
            parts[-1] += char
    return parts


def test_numeric_bounds_are_configs(definition: dict[str, Any]) -> None:
    """At and around every bound, the first step accepts exactly what config accepts."""
    parameters = {p["Name"]: p for p in definition["Parameters"]}
    for name, step in check_steps(definition).items():
        parameter = name.removeprefix("Check")
        if parameters[parameter]["Type"] not in {"Integer", "Float"}:
            continue
        bounds = [c["RightValue"] for c in step["Arguments"]["Conditions"]]
        assert bounds, parameter
        for bound in bounds:
            probes = [bound - 1, bound, bound + 1]
            if parameters[parameter]["Type"] == "Float":
                probes += [bound - 1e-9, bound + 1e-9]
            for value in probes:
                if parameters[parameter]["Type"] == "Integer" and not float(value).is_integer():
                    continue
                typed = int(value) if parameters[parameter]["Type"] == "Integer" else float(value)
                assert accepted_by_the_check(definition, parameter, typed) == accepted_by_config(parameter, typed), (
                    parameter,
                    typed,
                )


@pytest.mark.parametrize(
    ("parameter", "value", "message"),
    [
        ("AucThreshold", "0.3", "Pipeline parameter AucThreshold must be in [0.5, 1]; got 0.3"),
        ("DisparateImpactUpper", "0.9", "Pipeline parameter DisparateImpactUpper must be greater than 1; got 0.9"),
        ("CostMargin", "0.95", "Pipeline parameter CostMargin must be in [0, 0.9]; got 0.95"),
        ("Eta", "1.5", "Pipeline parameter Eta must be in (0, 1]; got 1.5"),
        ("MaxDepth", "0", "Pipeline parameter MaxDepth must be in [1, 20]; got 0"),
        ("ProcessingInstanceCount", "2", "Pipeline parameter ProcessingInstanceCount must be in [1, 1]; got 2"),
        ("TrainingInstanceCount", "0", "Pipeline parameter TrainingInstanceCount must be in [1, 20]; got 0"),
        (
            "TrainingInstanceType",
            "ml.m5.larg",
            "Pipeline parameter TrainingInstanceType must be one of the 225 types of TrainingInstanceType in botocore",
        ),
    ],
)
def test_a_bad_parameter_ends_the_local_run_at_the_first_step(
    definition: dict[str, Any], tmp_path: Path, parameter: str, value: str, message: str
) -> None:
    result = run_pipeline(
        definition, parameters={parameter: value}, s3=LocalS3(tmp_path / "s3", {}), workspace=tmp_path / "run"
    )
    assert result.status == "Failed"
    assert result.failure_reason is not None
    assert result.failure_reason.startswith(message)
    assert result.failure_reason.endswith(f"; got {value}")
    assert result.steps[-1].name == contract.parameter_fail_step(parameter)
    assert not {record.name for record in result.steps} & JOB_STEPS  # no job started
    assert result.steps[0].name == contract.PARAMETER_CHECK_STEP


def test_the_string_enums_are_refused_before_the_local_run_starts(definition: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"ModelApprovalStatus must be one of \['Approved', 'Rejected', "):
        run_pipeline(
            definition,
            parameters={"ModelApprovalStatus": "Approve"},
            s3=LocalS3(tmp_path / "s3", {}),
            workspace=tmp_path / "run",
        )
    assert not (tmp_path / "run" / "steps").exists()


def test_a_non_finite_setting_stops_the_build(settings: PipelineSettings) -> None:
    with pytest.raises(ValueError, match=r"definition would hold NaN or infinity.*\['disparate_impact_upper'\]"):
        build_definition(dataclasses.replace(settings, disparate_impact_upper=math.inf))
