"""The synthesized templates as one account sees them: every intrinsic resolved to the text CloudFormation would
produce, so that a policy's ``Resource`` and the resource it means compare as equal strings.

What cannot be known before deployment becomes a stable placeholder: ``${Name:<stack>/<LogicalId>}`` for a generated
physical name, ``${Ref:<stack>/<LogicalId>}`` / ``${GetAtt:<stack>/<LogicalId>.<Attr>}`` for other values,
``${Import:<name>}``, ``${StackOutput:<stack>.<output>}``, ``${Param:<stack>/<name>}``. Placeholders start with a
capitalised word, so they never look like IAM policy variables (``${aws:username}``), and a policy wildcard covers
them as it covers the real value. ARNs of the common resource types are built from their documented formats, so
``arn:aws:logs:...:log-group:*`` does match a log group whose name CloudFormation generates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = re.compile(r"\$\{[A-Z][A-Za-z]*:[^}]*\}")
NO_VALUE = object()  # AWS::NoValue: dropped from the list or object that holds it
MAX_DEPTH = 40

#: Property that holds the physical name of each type; without it CloudFormation generates one.
NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName", "AWS::IAM::Role": "RoleName", "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::Logs::LogGroup": "LogGroupName", "AWS::SNS::Topic": "TopicName", "AWS::SQS::Queue": "QueueName",
    "AWS::CodeCommit::Repository": "RepositoryName", "AWS::Lambda::Function": "FunctionName",
    "AWS::Events::Rule": "Name", "AWS::CloudWatch::Alarm": "AlarmName", "AWS::CodeBuild::Project": "Name",
    "AWS::CodePipeline::Pipeline": "Name", "AWS::SageMaker::Pipeline": "PipelineName",
    "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupName", "AWS::ECR::Repository": "RepositoryName",
    "AWS::DynamoDB::Table": "TableName", "AWS::KMS::Alias": "AliasName",
}  # fmt: skip
#: ARN of each type (the ``Arn`` attribute; SNS calls it ``TopicArn``), from the CloudFormation return values.
ARN_FORMAT = {
    "AWS::S3::Bucket": "arn:{p}:s3:::{n}", "AWS::IAM::Role": "arn:{p}:iam::{a}:role/{n}",
    "AWS::IAM::ManagedPolicy": "arn:{p}:iam::{a}:policy/{n}",
    "AWS::Logs::LogGroup": "arn:{p}:logs:{r}:{a}:log-group:{n}:*", "AWS::SNS::Topic": "arn:{p}:sns:{r}:{a}:{n}",
    "AWS::SQS::Queue": "arn:{p}:sqs:{r}:{a}:{n}", "AWS::CodeCommit::Repository": "arn:{p}:codecommit:{r}:{a}:{n}",
    "AWS::Lambda::Function": "arn:{p}:lambda:{r}:{a}:function:{n}",
    "AWS::Events::Rule": "arn:{p}:events:{r}:{a}:rule/{n}",
    "AWS::CloudWatch::Alarm": "arn:{p}:cloudwatch:{r}:{a}:alarm:{n}",
    "AWS::CodeBuild::Project": "arn:{p}:codebuild:{r}:{a}:project/{n}", "AWS::KMS::Key": "arn:{p}:kms:{r}:{a}:key/{n}",
    "AWS::SageMaker::Pipeline": "arn:{p}:sagemaker:{r}:{a}:pipeline/{n}",
    "AWS::SageMaker::ModelPackageGroup": "arn:{p}:sagemaker:{r}:{a}:model-package-group/{n}",
    "AWS::ECR::Repository": "arn:{p}:ecr:{r}:{a}:repository/{n}",
    "AWS::DynamoDB::Table": "arn:{p}:dynamodb:{r}:{a}:table/{n}",
    "AWS::CodePipeline::Pipeline": "arn:{p}:codepipeline:{r}:{a}:{n}",
}  # fmt: skip
ARN_ATTRIBUTES = {"Arn", "TopicArn", "ModelPackageGroupArn", "PipelineArn"}
#: What ``Ref`` returns when it is not the physical name.
REF_IS_ARN = {
    "AWS::SNS::Topic",
    "AWS::IAM::ManagedPolicy",
    "AWS::SageMaker::ModelPackageGroup",
    "AWS::SageMaker::Pipeline",
}
REF_IS_URL = {"AWS::SQS::Queue"}
REF_IS_OPAQUE = {"AWS::CodeCommit::Repository", "AWS::KMS::Key"}  # repository id, key id


class ResolveError(Exception):
    """An intrinsic this resolver does not understand: a rule must not guess what it means."""


def partition_of(region: str) -> str:
    for prefix, partition in (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"),
                              ("us-iso-", "aws-iso"), ("eu-isoe-", "aws-iso-e")):  # fmt: skip
        if region.startswith(prefix):
            return partition
    return "aws"


def url_suffix(partition: str) -> str:
    return {"aws-cn": "amazonaws.com.cn", "aws-iso": "c2s.ic.gov", "aws-iso-b": "sc2s.sgov.gov"}.get(
        partition, "amazonaws.com"
    )


def has_placeholder(text: str) -> bool:
    return PLACEHOLDER.search(text) is not None


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: a template is a dict
class Stack:
    """One synthesized stack: ``label`` names it in violations (``dev/storage``), ``name`` is the CloudFormation
    stack name that ``Fn::GetStackOutput`` and ``AWS::StackName`` refer to."""

    label: str
    name: str
    account: str
    region: str
    template: Mapping[str, Any] = field(repr=False)

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        found: Mapping[str, Mapping[str, Any]] = self.template.get("Resources", {})
        return found


@dataclass(frozen=True)
class Resource:
    stack: Stack
    logical_id: str

    @property
    def raw(self) -> Mapping[str, Any]:
        return self.stack.resources[self.logical_id]

    @property
    def type(self) -> str:
        kind: str = self.raw["Type"]
        return kind

    @property
    def properties(self) -> Mapping[str, Any]:
        props: Mapping[str, Any] = self.raw.get("Properties", {})
        return props

    @property
    def label(self) -> str:
        return f"{self.stack.label} {self.logical_id} ({self.type})"


class Resolver:
    """Resolves intrinsics across a set of stacks (cross-stack references go through the exporting template)."""

    def __init__(self, stacks: Sequence[Stack]) -> None:
        self.stacks = list(stacks)
        self._by_name = {(s.name, s.region): s for s in self.stacks}
        self._exports: dict[str, tuple[Stack, Any]] = {}
        for stack in self.stacks:
            for output in stack.template.get("Outputs", {}).values():
                if "Export" in output:
                    self._exports[self.string(stack, output["Export"]["Name"])] = (stack, output["Value"])

    def resolve(self, stack: Stack, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ResolveError(f"{stack.label}: references nest deeper than {MAX_DEPTH} levels (a cycle?)")
        if isinstance(value, list):
            items = [self.resolve(stack, v, depth + 1) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(stack, arg, depth)
            if key.startswith("Fn::") or key == "Condition":
                return self._function(stack, key, arg, depth + 1)
        entries = {k: self.resolve(stack, v, depth + 1) for k, v in value.items()}
        return {k: v for k, v in entries.items() if v is not NO_VALUE}

    def string(self, stack: Stack, value: Any, depth: int = 0) -> str:
        resolved = self.resolve(stack, value, depth)
        if isinstance(resolved, bool):
            return str(resolved).lower()
        if isinstance(resolved, str | int | float):
            return str(resolved)
        raise ResolveError(f"{stack.label}: expected a string, {json.dumps(value)[:200]} resolves to {resolved!r}")

    def ref(self, stack: Stack, name: str, depth: int = 0) -> Any:  # noqa: PLR0911
        pseudo = {
            "AWS::AccountId": stack.account, "AWS::Region": stack.region, "AWS::Partition": stack.partition,
            "AWS::URLSuffix": url_suffix(stack.partition), "AWS::StackName": stack.name,
            "AWS::StackId": f"arn:{stack.partition}:cloudformation:{stack.region}:{stack.account}:stack/{stack.name}/"
                            f"${{Ref:{stack.name}/AWS::StackId}}",
        }  # fmt: skip
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in stack.template.get("Parameters", {}):
            param = stack.template["Parameters"][name]
            plain = param.get("Type", "String") in {"String", "Number"}
            return param["Default"] if plain and "Default" in param else f"${{Param:{stack.name}/{name}}}"
        if name not in stack.resources:
            raise ResolveError(f"{stack.label}: Ref to {name}, which is neither a resource nor a parameter")
        res = Resource(stack, name)
        if res.type in REF_IS_ARN:
            return self.arn(res, depth)
        if res.type in REF_IS_URL:
            return f"https://sqs.{stack.region}.{url_suffix(stack.partition)}/{stack.account}/{self.name(res, depth)}"
        if res.type in REF_IS_OPAQUE or res.type not in NAME_PROPERTY:
            return f"${{Ref:{stack.name}/{name}}}"
        return self.name(res, depth)

    def name(self, res: Resource, depth: int = 0) -> str:
        """The physical name: the name property when the template sets it, else a placeholder."""
        prop = NAME_PROPERTY.get(res.type)
        if prop and prop in res.properties:
            return self.string(res.stack, res.properties[prop], depth + 1)
        return f"${{Name:{res.stack.name}/{res.logical_id}}}"

    def arn(self, res: Resource, depth: int = 0) -> str:
        fmt = ARN_FORMAT.get(res.type)
        if fmt is None:
            return f"${{GetAtt:{res.stack.name}/{res.logical_id}.Arn}}"
        s = res.stack
        name = self.name(res, depth) if res.type != "AWS::KMS::Key" else f"${{Ref:{s.name}/{res.logical_id}}}"
        if res.type == "AWS::IAM::Role" and "Path" in res.properties:
            name = self.string(s, res.properties["Path"], depth + 1).lstrip("/") + name
        return fmt.format(p=s.partition, r=s.region, a=s.account, n=name)

    def get_att(self, stack: Stack, logical_id: str, attribute: str, depth: int = 0) -> str:
        if logical_id not in stack.resources:
            raise ResolveError(f"{stack.label}: Fn::GetAtt of {logical_id}, which is not a resource of the stack")
        res = Resource(stack, logical_id)
        if attribute in ARN_ATTRIBUTES and res.type in ARN_FORMAT:
            return self.arn(res, depth)
        if attribute in {"Name", "QueueName", "TopicName"} and res.type in NAME_PROPERTY:
            return self.name(res, depth)
        return f"${{GetAtt:{stack.name}/{logical_id}.{attribute}}}"

    def _function(self, stack: Stack, key: str, arg: Any, depth: int) -> Any:  # noqa: PLR0911, PLR0912
        if key == "Fn::GetAtt":
            logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            return self.get_att(stack, logical_id, self.string(stack, attribute, depth), depth)
        if key == "Fn::Join":
            delimiter, parts = arg
            return delimiter.join(self._strings(stack, parts, depth))
        if key == "Fn::Sub":
            return self._sub(stack, arg, depth)
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(stack, items, depth)[int(self.string(stack, index, depth))]
        if key == "Fn::Split":
            delimiter, text = arg
            return self.string(stack, text, depth).split(delimiter)
        if key == "Fn::ImportValue":
            export = self.string(stack, arg, depth)
            if export in self._exports:
                owner, value = self._exports[export]
                return self.resolve(owner, value, depth)
            return f"${{Import:{export}}}"
        if key == "Fn::GetStackOutput":
            return self._stack_output(stack, arg, depth)
        if key == "Fn::If":
            condition, if_true, if_false = arg
            return self.resolve(stack, if_true if self.condition(stack, condition, depth) else if_false, depth)
        if key in {"Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition"}:
            return self._condition_function(stack, key, arg, depth)
        if key == "Fn::FindInMap":
            name, first, second = (self.string(stack, a, depth) for a in arg[:3])
            return self.resolve(stack, stack.template["Mappings"][name][first][second], depth)
        if key == "Fn::GetAZs":
            region = self.string(stack, arg, depth) or stack.region
            return [f"{region}{zone}" for zone in "abc"]
        if key == "Fn::Base64":
            return self.string(stack, arg, depth)
        raise ResolveError(f"{stack.label}: intrinsic {key} is not supported by the resolver")

    def _strings(self, stack: Stack, parts: Any, depth: int) -> list[str]:
        resolved = self.resolve(stack, parts, depth)
        if not isinstance(resolved, list):
            raise ResolveError(f"{stack.label}: Fn::Join of {parts!r}, which is not a list")
        return [self.string(stack, p, depth) for p in resolved]

    def _sub(self, stack: Stack, arg: Any, depth: int) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else arg

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return self.string(stack, variables[name], depth)
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.get_att(stack, logical_id, attribute, depth)
            return self.string(stack, {"Ref": name}, depth)

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _stack_output(self, stack: Stack, arg: Mapping[str, Any], depth: int) -> Any:
        name = self.string(stack, arg["StackName"], depth)
        region = self.string(stack, arg.get("Region", stack.region), depth)
        output = self.string(stack, arg["OutputName"], depth)
        owner = self._by_name.get((name, region))
        if owner is None or output not in owner.template.get("Outputs", {}):
            return f"${{StackOutput:{name}.{output}}}"
        return self.resolve(owner, owner.template["Outputs"][output]["Value"], depth)

    def condition(self, stack: Stack, name: str, depth: int = 0) -> bool:
        conditions = stack.template.get("Conditions", {})
        if name not in conditions:
            raise ResolveError(f"{stack.label}: condition {name} is not defined")
        return bool(self.resolve(stack, conditions[name], depth + 1))

    def _condition_function(self, stack: Stack, key: str, arg: Any, depth: int) -> bool:
        if key == "Condition":
            return self.condition(stack, arg, depth)
        if key == "Fn::Equals":
            left, right = (self.resolve(stack, a, depth) for a in arg)
            if any(isinstance(v, str) and has_placeholder(v) for v in (left, right)):
                raise ResolveError(f"{stack.label}: Fn::Equals of values only known at deployment: {arg!r}")
            return bool(left == right)
        values = [bool(self.resolve(stack, a, depth)) for a in arg]
        return {"Fn::And": all(values), "Fn::Or": any(values), "Fn::Not": not values[0]}[key]


def resources(stacks: Sequence[Stack], *types: str) -> Iterator[Resource]:
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            if not types or resource["Type"] in types:
                yield Resource(stack, logical_id)
