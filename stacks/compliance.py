"""Compliance gates applied to the whole app: cdk-nag AwsSolutions checks and per-resource acknowledgements.

cdk-nag 3.x runs as a CDK policy-validation plugin: ``app.synth()`` fails (``ValidationFailed``) and writes
``validation-report.json`` into the cloud assembly when any finding is not acknowledged. Acknowledgements go on the
narrowest construct and carry a reason specific to that resource; there are no blanket suppressions.
"""

from __future__ import annotations

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
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))
