"""Expressions: Get of parameters, execution variables and step properties, Std:Join, Std:JsonGet, and the paths."""

from __future__ import annotations

import re

import pytest

from local_pipeline.errors import ExpressionError
from local_pipeline.expressions import (
    PathToken,
    PropertyFileRef,
    as_text,
    parse_json_path,
    parse_property_path,
    resolve,
)
from tests.local_pipeline.definitions import get, join, json_get, scope_with_steps, step_output


def test_join_renders_parameters_execution_variables_and_numbers() -> None:
    value = join(
        "s3://b/", get("Execution.PipelineExecutionId"), "/", get("Parameters.Threshold"), get("Parameters.Name")
    )
    assert resolve(value, scope_with_steps()) == "s3://b/exec1/0.75x"


def test_get_follows_named_list_elements_and_indexes() -> None:
    scope = scope_with_steps()
    assert resolve(step_output("Prep", "test"), scope) == "s3://b/test"
    assert resolve(get("Steps.Prep.Channels[1].ChannelName"), scope) == "c1"
    assert resolve({"nested": [get("Parameters.Name")]}, scope) == {"nested": ["x"]}


def test_get_of_a_missing_output_names_the_step_and_the_available_outputs() -> None:
    with pytest.raises(ExpressionError, match=r"step Prep has no such property.*'bias'.*\['train', 'test'\]"):
        resolve(step_output("Prep", "bias"), scope_with_steps())


def test_get_of_a_step_that_has_not_run_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="step Other has not run"):
        resolve(get("Steps.Other.ProcessingJobName"), scope_with_steps())


def test_json_get_reads_dotted_paths_with_indexes() -> None:
    scope = scope_with_steps()
    assert resolve(json_get("Eval", "Evaluation", "metrics.auc.value"), scope) == 0.81
    assert resolve(json_get("Eval", "Evaluation", "facets[0].v[1]"), scope) == 2


@pytest.mark.parametrize("path", ["metrics.f1.value", "facets[3].v", "metrics.auc.value.deeper"])
def test_json_get_of_a_missing_path_names_step_property_file_and_path(path: str) -> None:
    with pytest.raises(
        ExpressionError, match=re.escape(f"property file Evaluation of step Eval has no value at '{path}'")
    ):
        resolve(json_get("Eval", "Evaluation", path), scope_with_steps())


def test_a_property_file_reference_is_not_text() -> None:
    with pytest.raises(ExpressionError, match="only be read with Std:JsonGet"):
        as_text(PropertyFileRef("Eval", "Evaluation"))


def test_unknown_function_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="unsupported function Std:Frobnicate"):
        resolve({"Std:Frobnicate": {}}, scope_with_steps())


def test_property_and_json_paths_parse_into_tokens() -> None:
    assert parse_property_path(".ProcessingOutputConfig.Outputs['train'].S3Output[0]") == [
        PathToken("attr", "ProcessingOutputConfig"),
        PathToken("attr", "Outputs"),
        PathToken("key", "train"),
        PathToken("attr", "S3Output"),
        PathToken("index", 0),
    ]
    assert parse_json_path("a.facet_age[0].metrics[10].value") == [
        PathToken("attr", "a"),
        PathToken("attr", "facet_age"),
        PathToken("index", 0),
        PathToken("attr", "metrics"),
        PathToken("index", 10),
        PathToken("attr", "value"),
    ]
    with pytest.raises(ExpressionError, match="cannot parse"):
        parse_property_path(".Outputs[train]")
