"""An encrypted SNS topic for pipeline news, and the EventBridge rules that feed it."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

PIPELINE_EXECUTION = "CodePipeline Pipeline Execution State Change"
STAGE_EXECUTION = "CodePipeline Stage Execution State Change"


class PipelineNotifications(Construct):
    """``topic`` (KMS-encrypted with ``key``, TLS-only) with one e-mail subscription per address."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey, emails: list[str]) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", master_key=key, enforce_ssl=True)
        # EventBridge publishes to an encrypted topic only if it may use the topic's key.
        key.grant(iam.ServicePrincipal("events.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey")
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def _rule(self, construct_id: str, pattern: events.EventPattern, message: str) -> events.Rule:
        rule = events.Rule(self, construct_id, event_pattern=pattern)
        rule.add_target(targets.SnsTopic(self.topic, message=events.RuleTargetInput.from_text(message)))
        return rule

    def on_pipeline_failure(self, pipeline: codepipeline.IPipeline) -> events.Rule:
        name = events.EventField.from_path("$.detail.pipeline")
        execution = events.EventField.from_path("$.detail.execution-id")
        return self._rule(
            f"{cdk.Names.node_unique_id(pipeline.node)}Failed",
            events.EventPattern(
                source=["aws.codepipeline"],
                detail_type=[PIPELINE_EXECUTION],
                detail={"pipeline": [pipeline.pipeline_name], "state": ["FAILED"]},
            ),
            f"Pipeline {name} FAILED (execution {execution}).",
        )

    def on_stage_success(self, pipeline: codepipeline.IPipeline, stage_name: str) -> events.Rule:
        execution = events.EventField.from_path("$.detail.execution-id")
        return self._rule(
            f"{cdk.Names.node_unique_id(pipeline.node)}{stage_name.capitalize()}Succeeded",
            events.EventPattern(
                source=["aws.codepipeline"],
                detail_type=[STAGE_EXECUTION],
                detail={"pipeline": [pipeline.pipeline_name], "stage": [stage_name], "state": ["SUCCEEDED"]},
            ),
            f"Deployment of {stage_name} SUCCEEDED (pipeline execution {execution}).",
        )
