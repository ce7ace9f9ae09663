"""Rule 6: the job requests of every SageMaker pipeline step, checked offline against botocore's SageMaker service
model, the same shapes the service validates a request against.

A step's ``Arguments`` are the request of one API call (SageMaker Pipelines docs and the pipeline-definition JSON
schema): Processing -> CreateProcessingJob, Training -> CreateTrainingJob, Transform -> CreateTransformJob,
RegisterModel -> CreateModelPackage, Model -> CreateModel. The pipeline names the jobs itself, so the name members
in :data:`SET_BY_PIPELINE` are not required (the schema's step Arguments have no such member).

Checked: unknown members, required members, types, enums, string lengths and patterns (Java patterns through the
``regex`` module; the few it cannot compile are skipped), list/map sizes and numeric ranges. Pipeline expressions
stand for a value of the shape's type and are accepted in scalar positions (``Std:Join`` only where a string is
expected); a ``Get`` of a pipeline parameter is also checked through the parameter's default value and type. Strings
holding a CloudFormation value only known at deployment (a ``${...}`` placeholder) are checked for type only.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import botocore.session
import regex  # type: ignore[import-untyped]  # a dependency of cfn-lint; understands \p{L} as botocore's patterns do

from tests.deploy.account import Cloud
from tests.deploy.cfn import has_placeholder
from tests.deploy.pipeline import Definition, all_steps
from tests.deploy.rules import checked

OPERATIONS = {"Processing": "CreateProcessingJob", "Training": "CreateTrainingJob", "Transform": "CreateTransformJob",
              "RegisterModel": "CreateModelPackage", "Model": "CreateModel"}  # fmt: skip
SET_BY_PIPELINE = {
    "Processing": {"ProcessingJobName"}, "Training": {"TrainingJobName"}, "Transform": {"TransformJobName"},
    "Model": {"ModelName"}, "RegisterModel": {"ModelPackageName"},
}  # fmt: skip
EXPRESSIONS = {"Get", "Std:Join", "Std:JsonGet"}
SCALARS = {"string", "integer", "long", "float", "double", "boolean", "timestamp", "blob"}
PARAMETER_TYPES = {"String": {"string", "timestamp", "blob"}, "Integer": {"integer", "long", "float", "double"},
                   "Float": {"float", "double"}, "Boolean": {"boolean"}}  # fmt: skip


@functools.cache
def service_model() -> Any:
    return botocore.session.get_session().get_service_model("sagemaker")


@functools.cache
def _pattern(text: str) -> Any:
    try:
        return regex.compile(text)
    except regex.error:
        return None


def is_expression(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in EXPRESSIONS


class Validator:
    def __init__(self, definition: Mapping[str, Any], where: str) -> None:
        self.parameters = {p.get("Name"): p for p in definition.get("Parameters", [])}
        self.where = where
        self.errors: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(f"{self.where} {path}: {message}")

    def check(self, shape: Any, value: Any, path: str, *, skip_required: frozenset[str] = frozenset()) -> None:
        kind = shape.type_name
        if is_expression(value):
            self._expression(shape, value, path)
        elif kind == "structure":
            self._structure(shape, value, path, skip_required)
        elif kind == "list":
            if not isinstance(value, list):
                self.fail(path, f"expected a list ({shape.name}), got {json.dumps(value)[:80]}")
                return
            self._size(shape, len(value), path, "items")
            for index, item in enumerate(value):
                self.check(shape.member, item, f"{path}[{index}]")
        elif kind == "map":
            if not isinstance(value, dict):
                self.fail(path, f"expected a map ({shape.name}), got {json.dumps(value)[:80]}")
                return
            self._size(shape, len(value), path, "entries")
            for key, item in value.items():
                self.check(shape.key, key, f"{path} key {key!r}")
                self.check(shape.value, item, f"{path}.{key}")
        else:
            self._scalar(shape, value, path)

    def _structure(self, shape: Any, value: Any, path: str, skip_required: frozenset[str]) -> None:
        if shape.metadata.get("document"):
            return
        if not isinstance(value, dict):
            self.fail(path, f"expected an object ({shape.name}), got {json.dumps(value)[:80]}")
            return
        for name, item in value.items():
            if name not in shape.members:
                close = [m for m in shape.members if m.lower() == name.lower() or m.lower().startswith(name.lower())]
                hint = f" (did you mean {close[0]}?)" if close else ""
                self.fail(f"{path}.{name}", f"unknown member of {shape.name}{hint}")
            elif item is not None:
                self.check(shape.members[name], item, f"{path}.{name}")
        for name in shape.required_members:
            if value.get(name) is None and name not in skip_required:
                self.fail(f"{path}.{name}", f"required member of {shape.name} is missing")
        if shape.is_tagged_union and len([v for v in value.values() if v is not None]) != 1:
            self.fail(path, f"{shape.name} is a union: exactly one member must be set")

    def _expression(self, shape: Any, value: Mapping[str, Any], path: str) -> None:
        kind = shape.type_name
        if kind not in SCALARS:
            self.fail(path, f"a pipeline expression {json.dumps(value)} where {kind} ({shape.name}) is expected")
            return
        if "Std:Join" in value and kind != "string":
            self.fail(path, f"Std:Join gives a string where {kind} ({shape.name}) is expected")
        get = value.get("Get")
        if isinstance(get, str) and get.startswith("Parameters."):
            name = get.removeprefix("Parameters.")
            parameter = self.parameters.get(name)
            if parameter is None:
                self.fail(path, f"refers to pipeline parameter {name}, which the definition does not declare")
                return
            declared = parameter.get("Type", "String")
            if kind not in PARAMETER_TYPES.get(declared, set()):
                self.fail(path, f"parameter {name} is a {declared} where {kind} ({shape.name}) is expected")
            elif "DefaultValue" in parameter:
                self._scalar(shape, parameter["DefaultValue"], f"{path} (default of parameter {name})")

    def _scalar(self, shape: Any, value: Any, path: str) -> None:
        kind = shape.type_name
        ok = {
            "string": isinstance(value, str), "blob": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "long": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, int | float) and not isinstance(value, bool),
            "double": isinstance(value, int | float) and not isinstance(value, bool),
            "timestamp": isinstance(value, str | int | float) and not isinstance(value, bool),
        }.get(kind, False)  # fmt: skip
        if not ok:
            self.fail(path, f"expected {kind} ({shape.name}), got {json.dumps(value)[:80]}")
            return
        if kind == "string":
            if has_placeholder(value):
                return
            if shape.enum and value not in shape.enum:
                shown = ", ".join(shape.enum[:8]) + (", ..." if len(shape.enum) > 8 else "")
                self.fail(path, f"{value!r} is not one of the {len(shape.enum)} values of {shape.name}: {shown}")
            self._size(shape, len(value), path, "characters")
            compiled = _pattern(shape.metadata["pattern"]) if "pattern" in shape.metadata else None
            if compiled is not None and compiled.search(value) is None:
                self.fail(path, f"{value!r} does not match the pattern of {shape.name}: {shape.metadata['pattern']}")
        elif kind in {"integer", "long", "float", "double"}:
            low, high = shape.metadata.get("min"), shape.metadata.get("max")
            if (low is not None and value < low) or (high is not None and value > high):
                self.fail(path, f"{value} is outside [{low}, {high}] of {shape.name}")

    def _size(self, shape: Any, size: int, path: str, unit: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if (low is not None and size < low) or (high is not None and size > high):
            self.fail(path, f"{size} {unit}, {shape.name} allows [{low}, {high}]")


def validate_definition(definition: Mapping[str, Any], where: str) -> tuple[list[str], int]:
    """(violations, number of job steps checked) of one pipeline definition."""
    validator = Validator(definition, where)
    checked_steps = 0
    for step in all_steps(definition):
        operation = OPERATIONS.get(step.get("Type", ""))
        if operation is None:
            continue
        checked_steps += 1
        shape = service_model().operation_model(operation).input_shape
        skip = frozenset(SET_BY_PIPELINE[step["Type"]])
        validator.check(
            shape, step.get("Arguments"), f"step {step.get('Name')} ({operation}) Arguments", skip_required=skip
        )
    return validator.errors, checked_steps


def job_requests_valid(cloud: Cloud) -> tuple[list[str], dict[str, int]]:
    """Rule 6 over every pipeline of the templates: (violations, job steps checked per pipeline)."""
    violations: list[str] = []
    counts: dict[str, int] = {}
    for pipeline in cloud.resources("AWS::SageMaker::Pipeline"):

        def one(pipeline: Any = pipeline) -> list[str]:
            errors, counts[pipeline.label] = validate_definition(Definition.load(cloud, pipeline).body, pipeline.label)
            return errors

        violations += checked(pipeline.label, one)
    return violations, counts
