"""Retraining on the drift, quality and bias alarms: an EventBridge rule on exactly those alarms (by ARN) and an
optional schedule invoke the retraining function, which starts the registry's training pipeline only when its
guardrails pass (nothing running, cooldown over, daily cap not reached, event not seen before; see
``lambdas/retraining``). Its state is a DynamoDB table (conditional writes); one function instance at a time
(reserved concurrency 1) keeps the decisions simple to reason about, the conditional writes keep them right anyway.
Events it could not handle after EventBridge's and Lambda's retries land in an encrypted dead-letter queue.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from config.monitoring import MonitoringSettings
from config.naming import environment_prefix, retraining_function_name
from stacks.compliance import acknowledge
from stacks.model_deploy.functions import default_policy, deploy_function


@dataclass(frozen=True)
class RetrainingTarget:
    """The training pipeline retraining starts (the registry's, same region), its fresh data, and the role of the
    registry's account to start it as when that is another account (``starter_role_name``)."""

    pipeline_name: str
    training_data_uri: str
    account: str
    starter_role_name: str | None


class Retraining(Construct):
    """``function``, its ``dead_letter_queue``, its state ``table`` and the rules that invoke it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        env_name: str,
        settings: MonitoringSettings,
        target: RetrainingTarget,
        alarms: Sequence[cloudwatch.IAlarm],
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        retraining = settings.retraining
        if retraining is None:
            raise ValueError(f"{self.node.path}: the environment's monitoring has no retraining section")
        stack = cdk.Stack.of(self)
        self.table = dynamodb.TableV2(
            self,
            "State",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expires_at",
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=cdk.RemovalPolicy.DESTROY,  # decisions and counters only: nothing to keep
        )
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        acknowledge(self.dead_letter_queue, "AwsSolutions-SQS3", "This queue is itself the dead-letter queue.")
        self.metrics_namespace = f"{project}/Retraining"
        name = retraining_function_name(project, env_name)
        # the scheduled rule is named, so that the function can know its ARN without a reference (the rule targets
        # the function: a reference back would be a cycle)
        schedule_rule = f"{name}-schedule"
        schedule_arns = (
            [stack.format_arn(service="events", resource="rule", resource_name=schedule_rule)]
            if retraining.schedule is not None
            else []
        )
        pipeline_arn = stack.format_arn(
            service="sagemaker", resource="pipeline", resource_name=target.pipeline_name, account=target.account
        )
        starter = (
            f"arn:{stack.partition}:iam::{target.account}:role/{target.starter_role_name}"
            if target.starter_role_name
            else None
        )
        self.function = deploy_function(
            self,
            "Function",
            function="retraining",
            role_name=name,
            description=f"Starts {target.pipeline_name} on {environment_prefix(project, env_name)}'s drift, "
            "quality and bias alarms when its guardrails pass",
            environment={
                "PIPELINE_NAME": target.pipeline_name,
                "PIPELINE_REGION": stack.region,
                **({"STARTER_ROLE_ARN": starter} if starter else {}),
                "STATE_TABLE": self.table.table_name,
                "COOLDOWN_MINUTES": str(retraining.cooldown_hours * 60),
                "DAILY_MAX": str(retraining.max_per_day),
                "ALARM_ARNS": json.dumps(sorted(a.alarm_arn for a in alarms)),
                "SCHEDULE_ARNS": json.dumps(schedule_arns),
                "TOPIC_ARN": topic.topic_arn,
                "TRAINING_DATA_URI": target.training_data_uri,
                "ENVIRONMENT": env_name,
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_METRICS_NAMESPACE": self.metrics_namespace,
            },
            timeout=cdk.Duration.minutes(2),  # botocore retries: worst case ~15 s per call, a few calls
            log_retention=logs.RetentionDays.ONE_YEAR,
            reserved_concurrent_executions=1,
            dead_letter_queue=self.dead_letter_queue,
        )
        self.table.grant_read_write_data(self.function)
        topic.grant_publish(self.function)  # with the topic key's kms:Decrypt and kms:GenerateDataKey*
        self.function.add_to_role_policy(
            iam.PolicyStatement(sid="AssumeStarter", actions=["sts:AssumeRole"], resources=[starter])
            if starter
            else iam.PolicyStatement(
                sid="StartTraining",
                actions=["sagemaker:StartPipelineExecution", "sagemaker:ListPipelineExecutions"],
                resources=[pipeline_arn],
            )
        )
        rule_target = targets.LambdaFunction(
            self.function,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=4,
            max_event_age=cdk.Duration.hours(2),
        )
        self.alarm_rule = events.Rule(
            self,
            "OnAlarm",
            description=f"{name}: drift, quality and bias alarms going to ALARM",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                resources=[a.alarm_arn for a in alarms],
                detail={"state": {"value": ["ALARM"]}},
            ),
            targets=[rule_target],
        )
        if retraining.schedule is not None:
            events.Rule(
                self,
                "OnSchedule",
                rule_name=schedule_rule,
                description=f"{name}: scheduled retraining (same guardrails)",
                schedule=events.Schedule.expression(retraining.schedule),
                targets=[rule_target],
            )
        acknowledge(
            default_policy(self.function),
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "Topic.grant_publish: SNS encrypts the function's decisions with the monitoring topic's own key (the "
            "statement's resource is that key only).",
        )
