"""The project's notification topic, its own key, and the rules and alarms that feed it."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from stacks.common.notification_topic import notification_topic

PIPELINE_EXECUTION = "CodePipeline Pipeline Execution State Change"
STAGE_EXECUTION = "CodePipeline Stage Execution State Change"
#: The execution CodePipeline starts by itself when the pipeline is created: on a new, empty repository its Source
#: action fails (no branch yet). That failure is expected and is not announced; every other failure is.
CREATE_PIPELINE_TRIGGER = "CreatePipeline"


class PipelineNotifications(Construct):
    """``topic`` (TLS-only, encrypted with ``key``) with one e-mail subscription per address.

    ``key`` is this topic's own key (and that of the other EventBridge delivery targets of the delivery stack, e.g.
    the dead-letter queue of push events): it admits EventBridge and this account's CloudWatch alarms and nothing
    else, so a service principal allowed to use it can only ever reach these targets.
    """

    def __init__(self, scope: Construct, construct_id: str, *, emails: list[str], alias: str) -> None:
        super().__init__(scope, construct_id)
        created = notification_topic(
            self,
            alias=alias,
            description="Encrypts the notification topic and the dead-letter queue of undeliverable pipeline events",
            emails=emails,
        )
        self.key, self.topic = created.key, created.topic

    def _rule(self, construct_id: str, pattern: events.EventPattern, message: str) -> events.Rule:
        rule = events.Rule(self, construct_id, event_pattern=pattern)
        rule.add_target(targets.SnsTopic(self.topic, message=events.RuleTargetInput.from_text(message)))
        return rule

    def on_pipeline_failure(self, pipeline: codepipeline.IPipeline) -> events.Rule:
        """Every FAILED execution of ``pipeline``, except the one CodePipeline starts when it creates the pipeline."""
        name = events.EventField.from_path("$.detail.pipeline")
        execution = events.EventField.from_path("$.detail.execution-id")
        return self._rule(
            f"{cdk.Names.node_unique_id(pipeline.node)}Failed",
            events.EventPattern(
                source=["aws.codepipeline"],
                detail_type=[PIPELINE_EXECUTION],
                detail={
                    "pipeline": [pipeline.pipeline_name],
                    "state": ["FAILED"],
                    # An event without the trigger is announced too: only the creation run is ever left out.
                    "$or": [
                        {"execution-trigger": {"trigger-type": [{"anything-but": [CREATE_PIPELINE_TRIGGER]}]}},
                        {"execution-trigger": {"trigger-type": [{"exists": False}]}},
                    ],
                },
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

    def on_alarm(self, alarm: cloudwatch.Alarm) -> None:
        """``alarm`` notifies the topic when it goes into ALARM and when it is OK again."""
        action = cloudwatch_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
