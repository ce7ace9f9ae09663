"""Pushes to the delivery branch start the pipeline; a push EventBridge cannot deliver is kept and alarmed, not lost."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.compliance import acknowledge

#: EventBridge's most persistent delivery: 185 attempts within 24 hours, then the dead-letter queue.
RETRY_ATTEMPTS = 185
MAX_EVENT_AGE = cdk.Duration.hours(24)
#: Undelivered events stay in the queue this long (SQS' maximum), for a person to replay them.
DEAD_LETTER_RETENTION = cdk.Duration.days(14)


class PushTrigger(Construct):
    """An EventBridge rule on the branch's pushes with ``pipeline`` as its target, a dead-letter queue encrypted with
    ``key`` (which must admit EventBridge), and ``alarm`` on any message in that queue.

    CodePipeline's own CodeCommit trigger (what CDK Pipelines creates by default) has no dead-letter queue: a push
    whose event cannot start the pipeline (throttling, a pipeline being updated) is retried for a while and then
    dropped silently, and that commit is never deployed.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        repository: codecommit.IRepository,
        branch: str,
        pipeline: codepipeline.IPipeline,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the push rule's EventBridge target; it is only read by a "
            "person replaying undeliverable push events.",
        )
        self.rule = events.Rule(
            self,
            "OnPush",
            description=f"Pushes to {branch} start {pipeline.pipeline_name}",
            event_pattern=events.EventPattern(
                source=["aws.codecommit"],
                detail_type=["CodeCommit Repository State Change"],
                resources=[repository.repository_arn],
                detail={
                    "event": ["referenceCreated", "referenceUpdated"],
                    "referenceType": ["branch"],
                    "referenceName": [branch],
                },
            ),
        )
        self.rule.add_target(
            targets.CodePipeline(
                pipeline,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
            )
        )
        # CDK's CodePipeline target (unlike its Lambda or SQS targets) does not let EventBridge into the dead-letter
        # queue: without this statement an undeliverable push is dropped after all, silently.
        self.dead_letter_queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeDeadLetters",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.dead_letter_queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": self.rule.rule_arn}},
            )
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "UndeliveredPushes",
            alarm_description=f"A push to {branch} could not start {pipeline.pipeline_name}: the event is in the "
            "dead-letter queue; start the pipeline by hand (or replay the message) so that the commit is deployed.",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # SQS stops publishing the metric of an idle, empty queue: no data means nothing is waiting.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
