"""The approval trigger: an EventBridge rule on this registry group's model package state changes (Approved or
Rejected only), and the function that decides and starts the deploy flow (lambdas/model_deploy_trigger).

Approvals are not lost: an event EventBridge cannot deliver, and an invocation that still fails after Lambda's
retries, go to the dead-letter queue, whose alarm notifies the topic.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.compliance import acknowledge, acknowledge_wildcard_resource
from stacks.model_build.package_group_cleanup import nag_resource
from stacks.model_deploy.functions import default_policy, deploy_function
from stacks.model_deploy.notifications import DeployNotifications
from stacks.model_deploy.targets import ServingTarget, deployer_role_arns, targets_variable

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"
#: The statuses the rule delivers: a registration (PendingManualApproval) never reaches the function.
STATUSES = ["Approved", "Rejected"]
FUNCTION = "model_deploy_trigger"
#: EventBridge's most persistent delivery (185 attempts within 24 hours), then the dead-letter queue.
RETRY_ATTEMPTS = 185
MAX_EVENT_AGE = cdk.Duration.hours(24)


def approval_pattern(group_name: str) -> events.EventPattern:
    """State changes of ``group_name``'s packages to (or updates of packages in) Approved or Rejected."""
    return events.EventPattern(
        source=[SOURCE],
        detail_type=[DETAIL_TYPE],
        detail={"ModelPackageGroupName": [group_name], "ModelApprovalStatus": STATUSES},
    )


class DeployTrigger(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        group_name: str,
        role_name: str,
        serving: Sequence[ServingTarget],
        state_machine: sfn.IStateMachine,
        notifications: DeployNotifications,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.function = deploy_function(
            self,
            "Function",
            function=FUNCTION,
            role_name=role_name,
            description=f"Starts the deploy flow when a version of {group_name} is approved or rejected",
            environment={
                "POWERTOOLS_SERVICE_NAME": "model-deploy-trigger",
                "MODEL_PACKAGE_GROUP": group_name,
                "STATE_MACHINE_ARN": state_machine.state_machine_arn,
                "TOPIC_ARN": notifications.topic.topic_arn,
                "TARGETS": targets_variable(stack.partition, project, serving, tasks=False),
            },
            timeout=cdk.Duration.minutes(1),
            log_retention=log_retention,
            on_failure=destinations.SqsDestination(notifications.dead_letter_queue),
            retry_attempts=2,
            max_event_age=cdk.Duration.hours(6),
        )
        self.rule = events.Rule(
            self,
            "OnApproval",
            description=f"Approvals and rejections of {group_name}'s versions start its deploy flow",
            event_pattern=approval_pattern(group_name),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                self.function,
                dead_letter_queue=notifications.dead_letter_queue,
                retry_attempts=RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
            )
        )
        self.alarm = notifications.alarm_on_dead_letters(
            "UndeliveredApprovals",
            f"An approval or rejection of {group_name} could not be acted on (the event is in the dead-letter "
            "queue): read the trigger function's logs, fix the cause, and replay the event (or start the deploy "
            "flow by hand).",
        )

        listing = stack.format_arn(service="sagemaker", resource="model-package", resource_name="*")
        fn = self.function
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="ReadLiveModels", actions=["sts:AssumeRole"],
            resources=deployer_role_arns(stack.partition, project, serving),
        ))  # fmt: skip
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="FindRollbackVersion", actions=["sagemaker:ListModelPackages"], resources=[listing],
        ))  # fmt: skip
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="StartDeployFlow", actions=["states:StartExecution", "states:ListExecutions"],
            resources=[state_machine.state_machine_arn],
        ))  # fmt: skip
        notifications.topic.grant_publish(fn)
        policy = default_policy(fn)
        acknowledge_wildcard_resource(
            policy,
            nag_resource(stack, listing),
            "ListModelPackages is read-only and has no documented ARN for a listing by group; the function always "
            f"lists {group_name} (the newest approved version older than a rejected one).",
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "Topic.grant_publish and the failure destination's Queue.grant_send_messages: SNS and SQS encrypt with "
            "the deploy flow's own key (the statement's resource is that key only).",
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
            "Queue.grant_send_messages (Lambda's failure destination): SQS re-encryption under the deploy flow's own "
            "key only (the statement's resource is that key).",
        )
