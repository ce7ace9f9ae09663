"""An SNS topic under a key of its own that EventBridge and this account's CloudWatch alarms may use.

The key admits EventBridge (AWS documents that its KMS requests for SNS and SQS targets carry no source account or
ARN, so that statement cannot be conditioned) and this account's alarms, and nothing else: it must encrypt only
delivery targets of this kind (the deploy-time invariants check that). The topic's own policy (TLS only) replaces
SNS's default one, so the alarms are admitted on the topic explicitly, by source account and alarm ARN; without that
statement their notifications are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.common.kms_access import admit_cloudwatch_alarms, admit_eventbridge, alarm_arns


@dataclass(frozen=True)
class NotificationTopic:
    key: kms.Key
    topic: sns.Topic


def notification_topic(scope: Construct, *, alias: str, description: str, emails: list[str]) -> NotificationTopic:
    """``Key`` and ``Topic`` created in ``scope`` itself (their construct ids are those of the callers' resources
    before this function existed, so deployed logical ids do not change), one e-mail subscription per address."""
    key = kms.Key(scope, "Key", alias=alias, description=description, enable_key_rotation=True)
    admit_eventbridge(key)
    admit_cloudwatch_alarms(key)
    topic = sns.Topic(scope, "Topic", master_key=key, enforce_ssl=True)
    stack = cdk.Stack.of(scope)
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {"aws:SourceArn": alarm_arns(stack)},
            },
        )
    )
    for email in emails:
        topic.add_subscription(subscriptions.EmailSubscription(email))
    return NotificationTopic(key, topic)
