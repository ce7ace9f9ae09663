"""Compliance gates applied to the whole app: cdk-nag AwsSolutions checks and per-resource acknowledgements.

cdk-nag 3.x runs as a CDK policy-validation plugin: ``app.synth()`` fails (``ValidationFailed``) and writes
``validation-report.json`` into the cloud assembly when any finding is not acknowledged. Acknowledgements go on the
narrowest construct and carry a reason specific to that resource; there are no blanket suppressions.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_compliance_checks(app: cdk.App) -> None:
    """Run cdk-nag's AwsSolutions rule pack over every stack of ``app`` at synth."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one finding (e.g. ``AwsSolutions-IAM5[Action::s3:List*]``) on exactly one construct."""
    if len(reason) < 20:
        raise ValueError(f"acknowledgement of {rule_id} on {construct.node.path}: give a specific reason")
    if "${Token[" in rule_id:  # Token.is_unresolved would be one more round trip to jsii per acknowledgement
        raise ValueError(f"acknowledgement on {construct.node.path}: {rule_id!r} holds an unresolved token")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))


def acknowledge_wildcard_resource(construct: IConstruct, arn: str, reason: str) -> None:
    """Acknowledge the IAM5 finding of one wildcard resource ARN (a literal string) in ``construct``'s policy."""
    acknowledge(construct, f"AwsSolutions-IAM5[Resource::{arn}]", reason)


#: The wildcard actions of Bucket.grant_read, and of Bucket.grant_read_write on a KMS-encrypted bucket.
GRANT_ACTIONS_READ = ["s3:GetObject*", "s3:GetBucket*", "s3:List*"]
GRANT_ACTIONS_READ_WRITE = [
    *GRANT_ACTIONS_READ,
    "s3:DeleteObject*",
    "s3:Abort*",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
]


def acknowledge_grant_actions(construct: IConstruct, actions: list[str], reasons: Mapping[str, str]) -> None:
    """Acknowledge the IAM5 findings of CDK grant methods' wildcard actions, each with the reason ``reasons`` gives
    for it: reasons belong to the role and resource they describe, so every caller brings its own."""
    missing = [action for action in actions if action not in reasons]
    if missing:
        raise ValueError(f"acknowledgement on {construct.node.path}: no reason given for {missing}")
    for action in actions:
        acknowledge(construct, f"AwsSolutions-IAM5[Action::{action}]", reasons[action])
