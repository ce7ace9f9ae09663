"""SageMaker pipeline definitions inside the templates, and rule 3: every S3Prefix input is listable by its job role.

A definition is the ``PipelineDefinitionBody`` of an ``AWS::SageMaker::Pipeline``, resolved to a JSON string by the
CloudFormation resolver. Pipeline expressions in it are evaluated as far as the definition allows: parameters to
their default values, ``Std:Join`` to the joined text, a step's output S3Uri / model artifacts to where the
producing step writes them; execution variables and values only known while running become placeholders such as
``${Execution:PipelineExecutionId}``, which a policy matches only through a wildcard.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from tests.deploy.account import Cloud
from tests.deploy.cfn import ResolveError, Resource
from tests.deploy.rules import OBJECT, checked

OUTPUT_URI = re.compile(r"Steps\.([^.]+)\.ProcessingOutputConfig\.Outputs\['([^']+)'\]\.S3Output\.S3Uri")
MODEL_ARTIFACTS = re.compile(r"Steps\.([^.]+)\.ModelArtifacts\.S3ModelArtifacts")


@dataclass(frozen=True)
class Definition:
    resource: Resource
    body: Mapping[str, Any]

    @classmethod
    def load(cls, cloud: Cloud, pipeline: Resource) -> Definition:
        definition = pipeline.properties.get("PipelineDefinition", {})
        if "PipelineDefinitionBody" not in definition:
            raise ResolveError(f"{pipeline.label}: the definition is not inline (PipelineDefinitionS3Location?): "
                               "it cannot be checked offline")  # fmt: skip
        text = cloud.string(pipeline, definition["PipelineDefinitionBody"])
        try:
            return cls(pipeline, json.loads(text))
        except json.JSONDecodeError as exc:
            raise ResolveError(f"{pipeline.label}: PipelineDefinitionBody is not JSON once resolved: {exc}") from exc

    def steps(self) -> Iterator[Mapping[str, Any]]:
        return all_steps(self.body)

    def step(self, name: str) -> Mapping[str, Any]:
        found = next((s for s in self.steps() if s.get("Name") == name), None)
        if found is None:
            raise ResolveError(f"{self.resource.label}: the definition refers to step {name}, which it does not have")
        return found

    def parameter(self, name: str) -> Mapping[str, Any] | None:
        return next((p for p in self.body.get("Parameters", []) if p.get("Name") == name), None)

    def text(self, value: Any) -> str:
        """The text a (string-valued) pipeline expression evaluates to."""
        if isinstance(value, str):
            return value
        if isinstance(value, bool | int | float):
            return json.dumps(value)
        if isinstance(value, dict) and "Std:Join" in value:
            join = value["Std:Join"]
            return str(join.get("On", "")).join(self.text(v) for v in join["Values"])
        if isinstance(value, dict) and "Get" in value:
            return self._get(value["Get"])
        return "${Runtime:" + json.dumps(value, sort_keys=True) + "}"

    def _get(self, path: str) -> str:
        if path.startswith("Parameters."):
            parameter = self.parameter(path.removeprefix("Parameters."))
            if parameter is not None and "DefaultValue" in parameter:
                return self.text(parameter["DefaultValue"])
            return "${Param:" + path + "}"
        if path.startswith("Execution."):
            return "${Execution:" + path.removeprefix("Execution.") + "}"
        if match := OUTPUT_URI.fullmatch(path):
            outputs = self.step(match[1])["Arguments"]["ProcessingOutputConfig"]["Outputs"]
            output = next((o for o in outputs if o.get("OutputName") == match[2]), None)
            if output is None:
                raise ResolveError(f"{self.resource.label}: step {match[1]} has no output {match[2]} ({path})")
            return self.text(output["S3Output"]["S3Uri"])
        if match := MODEL_ARTIFACTS.fullmatch(path):
            output_path = self.text(self.step(match[1])["Arguments"]["OutputDataConfig"]["S3OutputPath"])
            return f"{output_path.rstrip('/')}/${{Step:{match[1]}.TrainingJobName}}/output/model.tar.gz"
        return "${Get:" + path + "}"


def all_steps(body: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every step of a definition, those inside Condition steps' IfSteps/ElseSteps included."""
    pending = list(body.get("Steps", []))
    while pending:
        step = pending.pop(0)
        yield step
        if step.get("Type") == "Condition":
            arguments = step.get("Arguments", {})
            pending += [*arguments.get("IfSteps", []), *arguments.get("ElseSteps", [])]


def s3_prefix_inputs(step: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(input name, S3Uri expression) of a step's S3Prefix inputs."""
    arguments = step.get("Arguments", {})
    if step.get("Type") == "Processing":
        for entry in arguments.get("ProcessingInputs", []):
            s3 = entry.get("S3Input", {})
            if s3.get("S3DataType") == "S3Prefix":
                yield entry.get("InputName", "?"), s3["S3Uri"]
    elif step.get("Type") == "Training":
        for channel in arguments.get("InputDataConfig", []):
            s3 = channel.get("DataSource", {}).get("S3DataSource", {})
            if s3.get("S3DataType") == "S3Prefix":
                yield channel.get("ChannelName", "?"), s3["S3Uri"]


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ResolveError(f"S3Uri {uri} is not an s3:// URI")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def inputs_are_listable(cloud: Cloud) -> list[str]:
    """Rule 3: SageMaker lists an S3Prefix input (ListObjectsV2 with the key prefix) and reads every object under
    it, so the step's role needs s3:ListBucket with that s3:prefix and s3:GetObject on the objects."""
    violations: list[str] = []
    for pipeline in cloud.resources("AWS::SageMaker::Pipeline"):
        violations += checked(pipeline.label, partial(_pipeline_inputs, cloud, pipeline))
    return violations


def _pipeline_inputs(cloud: Cloud, pipeline: Resource) -> list[str]:
    definition = Definition.load(cloud, pipeline)
    partition = pipeline.stack.partition
    violations = []
    for step in definition.steps():
        for name, expression in s3_prefix_inputs(step):
            where = f"{pipeline.label} step {step.get('Name')} input {name}"
            role_arn = definition.text(step["Arguments"].get("RoleArn", ""))
            role = cloud.find(role_arn, "AWS::IAM::Role")
            if role is None:
                violations.append(f"{where}: its role {role_arn!r} is not a role of the synthesized templates")
                continue
            uri = definition.text(expression)
            bucket_name, key = split_s3_uri(uri)
            bucket = cloud.find(bucket_name, "AWS::S3::Bucket")
            bucket_arn = f"arn:{partition}:s3:::{bucket_name}"
            principal = cloud.role_principal(role)
            listing = cloud.evaluate(principal, "s3:ListBucket", bucket_arn, {"s3:prefix": key}, resource=bucket)
            if not listing:
                violations.append(f"{where} ({uri}): {role.label} may not list the prefix: {listing.reason}")
            objects = [f"{bucket_arn}/{key}", f"{bucket_arn}/{key.rstrip('/')}/{OBJECT}"]
            if not any(cloud.evaluate(principal, "s3:GetObject", o, resource=bucket) for o in objects):
                reading = cloud.evaluate(principal, "s3:GetObject", objects[1], resource=bucket)
                violations.append(f"{where} ({uri}): {role.label} may not read the objects under the prefix: "
                                  f"{reading.reason}")  # fmt: skip
    return violations
