"""Read the pipeline definition that CDK deploys straight out of the synthesized cloud assembly (``cdk.out``).

The template holds ``PipelineDefinitionBody`` as CloudFormation intrinsics (``Fn::Join`` over ``Ref``/``Fn::GetAtt``
of buckets, roles and keys, ``Fn::ImportValue`` of the storage stack's exports, ``Fn::Sub`` of asset locations).
:func:`load_definition` resolves them the way CloudFormation would, with stable local stand-ins for physical names
(a bucket's name is its logical id, lowercased), and maps the CDK asset objects the definition points at (step
code, sample data) to the staged files in ``cdk.out``.

Finding a stage's stacks and templates in the assembly is :mod:`tools.cloud_assembly`'s job (the delivery
pipeline's Train step reads the same layout); what is local here is resolving the template's intrinsics. Its
:class:`AssemblyError` is the one error this module raises: the message says what is missing and where.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools import cloud_assembly
from tools.cloud_assembly import AssemblyError

__all__ = ["AssemblyError", "LocalDefinition", "StackTemplate", "load_definition", "read_stacks"]

PIPELINE_TYPE = "AWS::SageMaker::Pipeline"
_SUB_VAR = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class StackTemplate:
    artifact_id: str
    stack_name: str
    account: str
    region: str
    template: dict[str, Any]
    directory: Path


@dataclass(frozen=True)
class LocalDefinition:
    """A pipeline definition with every intrinsic resolved, and the local files behind its asset URIs."""

    pipeline_name: str
    definition: dict[str, Any]
    s3_objects: dict[str, Path]
    source: str  # "<template file>#<logical id>", for messages


def _stage_manifest(cdk_out: Path, stage: str) -> Path:
    if not (cdk_out / "manifest.json").is_file():
        raise AssemblyError(f"{cdk_out}: no cloud assembly here (run `make synth` first)")
    known = cloud_assembly.stages(cdk_out)
    if stage not in known:
        raise AssemblyError(f"{cdk_out}: no stage {stage!r}; the assembly has {sorted(known)}")
    return cloud_assembly.stage_manifest(cdk_out, stage)


def read_stacks(cdk_out: Path, stage: str) -> list[StackTemplate]:
    """Every stack of ``stage``, with its template and where its environment says it deploys."""
    manifest = _stage_manifest(cdk_out, stage)
    stacks = []
    for artifact_id, artifact, template in cloud_assembly.stack_templates(manifest):
        _, _, account_region = str(artifact.get("environment", "")).partition("aws://")
        account, _, region = account_region.partition("/")
        stacks.append(
            StackTemplate(
                artifact_id=artifact_id,
                stack_name=artifact["properties"].get("stackName", artifact_id),
                account=account,
                region=region,
                template=cloud_assembly.load_json(template),
                directory=manifest.parent,
            )
        )
    return stacks


class _Resolver:
    """Evaluates the intrinsics CDK emits, across the stacks of one stage (for Fn::ImportValue)."""

    def __init__(self, stacks: list[StackTemplate]) -> None:
        self.stacks = stacks
        self.exports: dict[str, tuple[StackTemplate, Any]] = {}
        for stack in stacks:
            for output in stack.template.get("Outputs", {}).values():
                export = output.get("Export", {}).get("Name")
                if isinstance(export, str):
                    self.exports[export] = (stack, output["Value"])

    def pseudo(self, stack: StackTemplate, name: str) -> str:
        values = {
            "AWS::AccountId": stack.account,
            "AWS::Region": stack.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack.stack_name,
        }
        if name not in values:
            raise AssemblyError(f"{stack.stack_name}: unsupported pseudo parameter {name}")
        return values[name]

    def physical_id(self, stack: StackTemplate, logical_id: str) -> str:
        resource = stack.template.get("Resources", {}).get(logical_id)
        if resource is None:
            return self.pseudo(stack, logical_id)
        kind = resource["Type"]
        if kind == "AWS::S3::Bucket":
            return logical_id.lower()
        return logical_id

    def get_att(self, stack: StackTemplate, logical_id: str, attribute: str) -> str:
        resource = stack.template.get("Resources", {}).get(logical_id)
        if resource is None:
            raise AssemblyError(f"{stack.stack_name}: Fn::GetAtt of unknown resource {logical_id}")
        kind, account, region = resource["Type"], stack.account, stack.region
        arns = {
            ("AWS::IAM::Role", "Arn"): f"arn:aws:iam::{account}:role/{logical_id}",
            ("AWS::KMS::Key", "Arn"): f"arn:aws:kms:{region}:{account}:key/{logical_id}",
            ("AWS::S3::Bucket", "Arn"): f"arn:aws:s3:::{logical_id.lower()}",
        }
        if (kind, attribute) not in arns:
            raise AssemblyError(f"{stack.stack_name}: unsupported Fn::GetAtt {logical_id}.{attribute} ({kind})")
        return arns[(kind, attribute)]

    def resolve(self, stack: StackTemplate, node: Any) -> Any:  # noqa: PLR0911 - one branch per intrinsic
        if isinstance(node, list):
            return [self.resolve(stack, item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self.physical_id(stack, value)
            if key == "Fn::GetAtt":
                logical_id, attribute = value if isinstance(value, list) else value.split(".", 1)
                return self.get_att(stack, logical_id, attribute)
            if key == "Fn::Join":
                separator, parts = value
                return separator.join(str(self.resolve(stack, part)) for part in parts)
            if key == "Fn::Sub":
                return self.substitute(stack, value)
            if key == "Fn::ImportValue":
                name = self.resolve(stack, value)
                if name not in self.exports:
                    raise AssemblyError(f"{stack.stack_name}: Fn::ImportValue of unknown export {name!r}")
                exporter, exported = self.exports[name]
                return self.resolve(exporter, exported)
            if key == "Fn::GetStackOutput":  # CDK's "weak" cross-stack reference
                return self.stack_output(stack, self.resolve(stack, value["StackName"]), value["OutputName"])
            if key.startswith("Fn::"):
                raise AssemblyError(f"{stack.stack_name}: unsupported intrinsic {key}")
        return {key: self.resolve(stack, value) for key, value in node.items()}

    def stack_output(self, stack: StackTemplate, stack_name: str, output_name: str) -> Any:
        for other in self.stacks:
            if other.stack_name == stack_name:
                outputs = other.template.get("Outputs", {})
                if output_name not in outputs:
                    raise AssemblyError(f"{stack.stack_name}: stack {stack_name} has no output {output_name}")
                return self.resolve(other, outputs[output_name]["Value"])
        raise AssemblyError(f"{stack.stack_name}: Fn::GetStackOutput of unknown stack {stack_name}")

    def substitute(self, stack: StackTemplate, text: str) -> str:
        def variable(match: re.Match[str]) -> str:
            name = match.group(1)
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self.get_att(stack, logical_id, attribute)
            return str(self.physical_id(stack, name))

        return _SUB_VAR.sub(variable, text)


def _asset_objects(stack: StackTemplate, resolver: _Resolver) -> dict[str, Path]:
    """``s3://bucket/key`` of every file asset of ``stack`` -> the staged file in the assembly."""
    objects: dict[str, Path] = {}
    for assets_file in stack.directory.glob(f"{stack.artifact_id}.assets.json"):
        manifest = json.loads(assets_file.read_text())
        for asset in manifest.get("files", {}).values():
            source = stack.directory / asset["source"]["path"]
            for destination in asset["destinations"].values():
                bucket = resolver.substitute(stack, destination["bucketName"])
                objects[f"s3://{bucket}/{destination['objectKey']}"] = source
    return objects


def load_definition(cdk_out: Path, stage: str, pipeline_name: str | None = None) -> LocalDefinition:
    """The SageMaker pipeline ``pipeline_name`` of ``stage`` in the assembly at ``cdk_out``, fully resolved; without
    a name, the stage's only pipeline (a monitored environment has two: its model build and its monitoring)."""
    stacks = read_stacks(cdk_out, stage)
    resolver = _Resolver(stacks)
    found = [
        (stack, logical_id, resource)
        for stack in stacks
        for logical_id, resource in stack.template.get("Resources", {}).items()
        if resource["Type"] == PIPELINE_TYPE
    ]
    if not found:
        raise AssemblyError(
            f"{cdk_out}: stage {stage!r} holds no {PIPELINE_TYPE} (the delivery stage has none): give the stage of "
            "an environment, e.g. --stage dev"
        )
    names = [resolver.resolve(stack, resource["Properties"]["PipelineName"]) for stack, _, resource in found]
    if pipeline_name is not None:
        found = [item for item, name in zip(found, names, strict=True) if name == pipeline_name]
        if not found:
            raise AssemblyError(f"{cdk_out}: stage {stage!r} has no pipeline {pipeline_name!r} (it has {names})")
    elif len(found) != 1:
        raise AssemblyError(
            f"{cdk_out}: stage {stage!r} has {len(found)} {PIPELINE_TYPE} resources ({', '.join(names)}): name "
            "one with --pipeline-name"
        )
    stack, logical_id, resource = found[0]
    props = resource["Properties"]
    body = resolver.resolve(stack, props["PipelineDefinition"]["PipelineDefinitionBody"])
    objects: dict[str, Path] = {}
    for each in stacks:
        objects.update(_asset_objects(each, resolver))
    return LocalDefinition(
        pipeline_name=resolver.resolve(stack, props["PipelineName"]),
        definition=json.loads(body),
        s3_objects=objects,
        source=f"{stack.directory / (stack.artifact_id + '.template.json')}#{logical_id}",
    )
