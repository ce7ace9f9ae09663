"""Key-policy statements for the AWS services that use a customer-managed key on the project's behalf.

CDK adds none of these by itself (aws/aws-cdk#28304 for CloudWatch Logs), and CloudFormation or the service fails
at run time without them: a LogGroup with a key that does not admit CloudWatch Logs is not created at all; an
encrypted SNS topic or SQS queue silently drops what EventBridge or CloudWatch alarms deliver. The deploy-time
invariants tests (tests/deploy) check every template for these statements.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

#: What a service needs of a key to write encrypted data it can read back.
ENCRYPT_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
DELIVER_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*"]


def admit_log_groups(key: kms.Key, name_prefix: str) -> None:
    """CloudWatch Logs may use ``key`` for the log groups named ``<name_prefix>*`` of this account and region only."""
    stack = cdk.Stack.of(key)
    log_groups = stack.format_arn(
        service="logs",
        resource="log-group",
        resource_name=f"{name_prefix}*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchLogsEncryptsTheProjectsLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=ENCRYPT_ACTIONS,
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
        )
    )


def admit_eventbridge(key: kms.Key) -> None:
    """EventBridge may deliver into SNS topics and SQS queues encrypted with ``key``.

    No aws:SourceAccount/aws:SourceArn condition: AWS documents that the KMS request of an EventBridge delivery does
    not carry them, so such a condition would drop every event. The exposure is bounded by giving the key to
    EventBridge delivery targets only (see PipelineNotifications).
    """
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="EventBridgeDeliversToEncryptedTargets",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=DELIVER_ACTIONS,
            resources=["*"],
        )
    )


def alarm_arns(stack: cdk.Stack) -> str:
    """Every CloudWatch alarm of ``stack``'s account and region."""
    return stack.format_arn(
        service="cloudwatch", resource="alarm", resource_name="*", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
    )


def admit_cloudwatch_alarms(key: kms.Key) -> None:
    """Alarms of this account and region (only) may publish to SNS topics encrypted with ``key``."""
    stack = cdk.Stack.of(key)
    alarms = alarm_arns(stack)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchAlarmsPublishToEncryptedTopics",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=DELIVER_ACTIONS,
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": stack.account}, "ArnLike": {"aws:SourceArn": alarms}},
        )
    )
