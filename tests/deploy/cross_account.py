"""Rule: a grant across accounts is honoured on both sides.

Across accounts IAM needs the caller's identity policy *and* the resource's policy (a bucket policy, a model package
group policy, a role's trust policy; keys are checked by :func:`tests.deploy.rules.readers_can_decrypt`). A template
that grants a role access to a resource of another stage's account synthesizes fine and fails only at run time, so
every identity grant that points into another account of the app is evaluated against the resource's own policy.
"""

from __future__ import annotations

from functools import partial

from tests.deploy.account import Cloud
from tests.deploy.cfn import Resource
from tests.deploy.policy import Statement
from tests.deploy.rules import checked

#: Resource types whose cross-account use the rule judges, and how an ARN in a grant designates one.
JUDGED = ("AWS::S3::Bucket", "AWS::SageMaker::ModelPackageGroup", "AWS::IAM::Role")
SIMPLE_OPERATORS = ("StringEquals", "StringLike", "ArnEquals", "ArnLike")


def concrete(pattern: str) -> str:
    return pattern.replace("*", "x").replace("?", "x")


def owner(cloud: Cloud, arn: str) -> Resource | None:
    """The template resource that holds the policy for ``arn``: a bucket for its objects, a model package group for
    its versions (``model-package/<group>/<n>``), a role for itself."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None
    service, resource = parts[2], parts[5]
    if service == "s3":
        bucket = resource.split("/", 1)[0]
        return cloud.find(f"arn:{parts[1]}:s3:::{bucket}", "AWS::S3::Bucket")
    if service == "sagemaker" and resource.startswith("model-package/") and resource.count("/") == 2:
        group = resource.split("/")[1]
        group_arn = f"arn:{parts[1]}:sagemaker:{parts[3]}:{parts[4]}:model-package-group/{group}"
        return cloud.find(group_arn, "AWS::SageMaker::ModelPackageGroup")
    if service == "sagemaker" and resource.startswith("model-package-group/"):
        return cloud.find(arn, "AWS::SageMaker::ModelPackageGroup")
    if service == "iam" and resource.startswith("role/"):
        return cloud.find(arn, "AWS::IAM::Role")
    return None


def satisfying_context(statement: Statement) -> dict[str, str]:
    """A request context meeting the identity statement's own simple conditions (the first value of each)."""
    return {key: concrete(values[0]) for operator in SIMPLE_OPERATORS
            for key, values in statement.conditions.get(operator, {}).items() if values}  # fmt: skip


def _role_grants(cloud: Cloud, role: Resource) -> list[str]:
    principal = cloud.role_principal(role)
    violations = []
    for statement in cloud.identity_policies(role)[0]:
        if statement.effect != "Allow" or not statement.actions or not statement.resources:
            continue
        for pattern in statement.resources:
            arn = concrete(pattern)
            target = owner(cloud, arn)
            if target is None or target.stack.account == role.stack.account:
                continue
            for action in statement.actions:
                if "*" in action or "?" in action:
                    violations.append(f"{role.label}: {statement.origin} grants {action} on {pattern} in "
                                      f"account {target.stack.account}: name the actions it needs")  # fmt: skip
                    continue
                decision = cloud.evaluate(principal, action, arn, satisfying_context(statement), resource=target)
                if not decision:
                    violations.append(f"{role.label}: {statement.origin} grants {action} on {pattern}, but "
                                      f"{target.label} in account {target.stack.account} does not: "
                                      f"{decision.reason}")  # fmt: skip
    return violations


def grants_are_honoured_across_accounts(cloud: Cloud) -> list[str]:
    violations: list[str] = []
    for role in cloud.resources("AWS::IAM::Role"):
        violations += checked(role.label, partial(_role_grants, cloud, role))
    return violations


def cross_account_grants(cloud: Cloud) -> int:
    """How many (role, resource) grants point into another account: a guard against the rule passing vacuously."""
    count = 0
    for role in cloud.resources("AWS::IAM::Role"):
        for statement in cloud.identity_policies(role)[0]:
            for pattern in statement.resources or ():
                target = owner(cloud, concrete(pattern))
                count += target is not None and target.stack.account != role.stack.account
    return count
