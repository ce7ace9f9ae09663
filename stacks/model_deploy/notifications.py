"""The deploy flow's topic (every step announces itself there) and the dead-letter queue of undeliverable approval
events, both under a key of their own.

The key admits EventBridge (it delivers undeliverable events into the queue; AWS documents that this KMS request
carries no source account or ARN, so the statement cannot have a source condition) and this account's CloudWatch
alarms (the dead-letter queue's alarm publishes to the topic). So it encrypts nothing but this topic and this queue.
The functions publish through IAM (``Topic.grant_publish`` grants them the key too); the state machine publishes
nothing itself.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.common.notification_topic import notification_topic
from stacks.compliance import acknowledge

#: Undelivered events stay in the queue this long (SQS' maximum), for a person to replay them.
DEAD_LETTER_RETENTION = cdk.Duration.days(14)


class DeployNotifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key_alias: str, emails: list[str]) -> None:
        super().__init__(scope, construct_id)
        created = notification_topic(
            self,
            alias=key_alias,
            description="Encrypts the model deploy flow's topic and its dead-letter queue of approval events",
            emails=emails,
        )
        self.key, self.topic = created.key, created.topic
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the approval rule's target and of the trigger function's "
            "failed invocations; a person reads it to replay an event.",
        )

    def alarm_on_dead_letters(self, construct_id: str, description: str) -> cloudwatch.Alarm:
        """An alarm (to the topic) as soon as the dead-letter queue holds a message."""
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # SQS stops publishing the metric of an idle, empty queue: no data means nothing is waiting.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        return alarm
