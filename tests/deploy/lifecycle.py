"""Rules on what a template literally says: ARN partitions (rule 4) and whether resources that CloudFormation
deletes can be deleted at all (rule 5).

Deletion needs more than ``DeletionPolicy: Delete`` for resources that hold things the template did not create.
:data:`EMPTIED_BEFORE_DELETE` is the explicit table of such container types and of what makes their deletion work;
a type missing from it is assumed deletable as is. A resource without DeletionPolicy is deleted too (CloudFormation's
default), so it is held to the same requirement.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

from tests.deploy.account import Cloud
from tests.deploy.cfn import Resource, Stack
from tests.deploy.rules import OBJECT, checked

ARN_LITERAL = re.compile(r"(?<![A-Za-z0-9])arn:([a-z0-9-]*):")
RETAINED = {"Retain", "RetainExceptOnCreate", "Snapshot"}
CUSTOM_RESOURCE = "AWS::CloudFormation::CustomResource"
CLEANUP = "a custom resource that depends on it and empties it before CloudFormation deletes it"
#: type -> (what deletion needs, how it is recognised: "auto-delete", "cleanup" or (property, required value))
EMPTIED_BEFORE_DELETE: dict[str, tuple[str, Any]] = {
    "AWS::S3::Bucket": (
        "CDK's Custom::S3AutoDeleteObjects (autoDeleteObjects=True): S3 refuses to delete a bucket with objects",
        "auto-delete",
    ),
    "AWS::S3Express::DirectoryBucket": (CLEANUP + " (S3 refuses to delete a bucket with objects)", "cleanup"),
    "AWS::SageMaker::ModelPackageGroup": (
        CLEANUP + " (SageMaker refuses to delete a group with model packages)",
        "cleanup",
    ),
    "AWS::Backup::BackupVault": (CLEANUP + " (Backup refuses to delete a vault with recovery points)", "cleanup"),
    "AWS::ECR::Repository": (
        "EmptyOnDelete: true (ECR refuses to delete a repository with images)",
        ("EmptyOnDelete", True),
    ),
    "AWS::Athena::WorkGroup": (
        "RecursiveDeleteOption: true (Athena refuses to delete a work group with queries)",
        ("RecursiveDeleteOption", True),
    ),
    "AWS::DynamoDB::Table": ("DeletionProtectionEnabled unset or false", ("DeletionProtectionEnabled", False)),
    "AWS::DynamoDB::GlobalTable": ("DeletionProtectionEnabled unset or false", ("DeletionProtectionEnabled", False)),
}
AUTO_DELETE_ACTIONS = ("s3:ListBucket", "s3:ListBucketVersions", "s3:DeleteObject", "s3:DeleteObjectVersion")


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(JSON path, text) of every string in a template fragment."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{path}[{index}]")


def literal_partitions(stacks: Sequence[Stack]) -> list[str]:
    """Rule 4: every ARN written literally in a template names the partition of the stack's region (CDK writes
    ``arn:${AWS::Partition}`` or, with enablePartitionLiterals, the partition of the stack's known region)."""
    violations = []
    for stack in stacks:
        found: dict[str, list[tuple[str, str]]] = {}
        for path, text in strings(stack.template):
            for match in ARN_LITERAL.finditer(text):
                if match[1] != stack.partition:
                    owner = path.split(".")[1] if path.startswith("Resources.") else path.split(".")[0]
                    found.setdefault(owner, []).append((path, text[match.start() : match.start() + 80]))
        for owner, hits in found.items():
            path, text = hits[0]
            violations.append(f"{stack.label} {owner}: {len(hits)} ARN(s) with a partition other than "
                              f"{stack.partition!r} (region {stack.region}), e.g. at {path}: {text!r}; use the "
                              "stack's partition (AWS::Partition)")  # fmt: skip
    return violations


def deleted(res: Resource) -> bool:
    return res.raw.get("DeletionPolicy", "Delete") not in RETAINED


def references(raw: Any) -> set[str]:
    """Logical ids a resource refers to (DependsOn, Ref, Fn::GetAtt, Fn::Sub): the resources it is created after and
    deleted before."""
    found: set[str] = set()
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key == "DependsOn":
                found |= set(value if isinstance(value, list) else [value])
            elif key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value.split(".")[0] if isinstance(value, str) else value[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)}
            found |= references(value)
    elif isinstance(raw, list):
        for item in raw:
            found |= references(item)
    return found


def depends_on(res: Resource, logical_id: str) -> bool:
    seen: set[str] = set()
    pending = [res.logical_id]
    while pending:
        current = pending.pop()
        if current in seen or current not in res.stack.resources:
            continue
        seen.add(current)
        direct = references(res.stack.resources[current])
        if logical_id in direct:
            return True
        pending += direct
    return False


def deletable(cloud: Cloud) -> list[str]:
    """Rule 5: what CloudFormation deletes can be deleted, and no retained resource loses its key."""
    violations: list[str] = []
    for res in cloud.resources(*EMPTIED_BEFORE_DELETE):
        if deleted(res):
            violations += checked(res.label, partial(_container, cloud, res))
    for key in cloud.resources("AWS::KMS::Key"):
        if deleted(key):
            violations += checked(key.label, partial(_key_outlived, cloud, key))
    return violations


def _mentions(cloud: Cloud, res: Resource, target: Resource) -> bool:
    text = json.dumps(cloud.resolver.resolve(res.stack, dict(res.properties)))
    return any(identity in text for identity in cloud.identities(target))


def _container(cloud: Cloud, res: Resource) -> list[str]:
    need, how = EMPTIED_BEFORE_DELETE[res.type]
    if isinstance(how, tuple):
        prop, wanted = how
        value = cloud.prop(res, prop)
        if (value is True or str(value).lower() == "true") == wanted:
            return []
        return [f"{res.label} is deleted with its stack but needs {need} (it has {prop}: {json.dumps(value)})"]
    kinds = ("Custom::S3AutoDeleteObjects",) if how == "auto-delete" else None
    naming = [
        c for c in cloud.resources() if c.stack is res.stack and c is not res
        and (c.type in kinds if kinds else c.type.startswith("Custom::") or c.type == CUSTOM_RESOURCE)
        and _mentions(cloud, c, res)
    ]  # fmt: skip
    cleanups = [c for c in naming if depends_on(c, res.logical_id)]
    if not cleanups:
        unordered = "".join(f"; {c.logical_id} names it but does not depend on it (Ref/DependsOn), so CloudFormation "
                            "may delete it first" for c in naming)  # fmt: skip
        return [f"{res.label} is deleted with its stack (DeletionPolicy {res.raw.get('DeletionPolicy', 'default')}) "
                f"but nothing empties it first: it needs {need}{unordered}"]  # fmt: skip
    violations = [
        f"{res.label}: its cleanup {c.logical_id} is retained, so it never runs" for c in cleanups if not deleted(c)
    ]
    if how == "auto-delete":
        violations += _auto_delete_allowed(cloud, res, cleanups[0])
    return violations


def _auto_delete_allowed(cloud: Cloud, bucket: Resource, cleanup: Resource) -> list[str]:
    """The auto-delete handler's role must be allowed to list and delete every object version of the bucket."""
    function = cloud.find(cloud.string(cleanup, cleanup.properties["ServiceToken"]), "AWS::Lambda::Function")
    role = cloud.find(cloud.string(function, function.properties["Role"]), "AWS::IAM::Role") if function else None
    if role is None:
        return [f"{bucket.label}: the role of the handler of {cleanup.logical_id} is not in the templates"]
    arn, principal = cloud.arn(bucket), cloud.role_principal(role)
    denied = [
        (action, decision.reason) for action in AUTO_DELETE_ACTIONS
        if not (decision := cloud.evaluate(principal, action, arn if "List" in action else f"{arn}/{OBJECT}",
                                           resource=bucket))
    ]  # fmt: skip
    return [f"{bucket.label}: {cleanup.logical_id} cannot empty it: {reason}" for _, reason in denied]


def _key_outlived(cloud: Cloud, key: Resource) -> list[str]:
    return [
        f"{key.label} is deleted with its stack (DeletionPolicy {key.raw.get('DeletionPolicy', 'default')}) but "
        f"{res.label} is retained (DeletionPolicy {res.raw['DeletionPolicy']}) and refers to it: the retained "
        "data becomes unreadable once the key is deleted; retain the key too"
        for res in cloud.resources()
        if res.raw.get("DeletionPolicy") in RETAINED and res != key and _mentions(cloud, res, key)
    ]
