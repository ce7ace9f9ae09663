"""The plan: order by dependencies, and every problem of a definition found before anything runs."""

from __future__ import annotations

from typing import Any

import pytest

from local_pipeline.errors import DefinitionError
from local_pipeline.parameters import resolve_parameters
from local_pipeline.plan import SUPPORTED_STEP_TYPES, plan
from local_pipeline.runner import EXECUTORS
from tests.local_pipeline.definitions import PARAMETERS, emit_step, gated_definition, get


def test_plan_orders_by_data_dependencies_and_depends_on() -> None:
    definition = gated_definition()
    late = {"Name": "Late", "Type": "Fail", "Arguments": {"ErrorMessage": "x"}, "DependsOn": ["Emit"]}
    definition["Steps"].insert(0, late)
    order = [node.name for node in plan(definition, resolve_parameters(PARAMETERS, {}))]
    assert order == ["Emit", "Late", "Gate", "Register", "GateFailed"]


def definition_error(definition: dict[str, Any]) -> str:
    with pytest.raises(DefinitionError) as caught:
        plan(definition, resolve_parameters(definition.get("Parameters", []), {}))
    return str(caught.value)


def test_unsupported_step_type_names_the_type_and_the_step() -> None:
    definition = gated_definition()
    definition["Steps"].append({"Name": "BatchScore", "Type": "Transform", "Arguments": {}})
    assert "step BatchScore has type 'Transform', which the local runner does not support" in definition_error(
        definition
    )


def test_references_to_missing_steps_property_files_and_parameters_are_errors() -> None:
    no_emit = gated_definition()
    no_emit["Steps"] = no_emit["Steps"][:1]
    assert (
        "step Gate reads Steps.Emit.PropertyFiles.Metrics, but the definition has no step 'Emit'"
        in definition_error(no_emit)
    )
    no_property_file = gated_definition()
    del no_property_file["Steps"][1]["PropertyFiles"]
    assert "step Gate reads property file 'Metrics' of step Emit, which declares no property files" in definition_error(
        no_property_file
    )
    bad_path = gated_definition()
    bad_path["Steps"][0]["Arguments"]["Conditions"][0]["RightValue"] = get(
        "Steps.Emit.ProcessingOutputConfig.Outputs[x]"
    )
    assert "step Gate reads Steps.Emit.ProcessingOutputConfig.Outputs[x]: property path" in definition_error(bad_path)
    no_parameter = gated_definition()
    no_parameter["Parameters"] = [p for p in PARAMETERS if p["Name"] != "Threshold"]
    assert "step Gate reads parameter 'Threshold', which the definition does not declare" in definition_error(
        no_parameter
    )


def test_cycles_and_duplicate_names_are_errors() -> None:
    definition = gated_definition()
    definition["Steps"][1]["DependsOn"] = ["Register"]
    assert "cycle" in definition_error(definition)
    duplicate = gated_definition()
    duplicate["Steps"].append(emit_step())
    assert "two steps are named 'Emit'" in definition_error(duplicate)


def test_every_step_type_the_plan_accepts_has_an_executor() -> None:
    """The plan refuses unsupported types up front; a type it accepts without an executor would fail mid-run."""
    assert sorted(EXECUTORS) == sorted(SUPPORTED_STEP_TYPES)
    assert all(executor.step_type == step_type for step_type, executor in EXECUTORS.items())
