"""``<project>-<env>-model-deploy``: the deploy flow of a registry environment (one whose model package group some
serving environment deploys from). Approving a version in SageMaker Studio (or with the CLI) deploys it to the
serving environments in order; rejecting a live version rolls it back (README "Deploying a model").

It lives in the registry's account and region because SageMaker sends the approval event there; it acts in each
serving environment through that environment's deployer role (stacks/serving/deployer_role.py), which trusts this
stack's two function roles by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

from config.naming import model_build_pipeline_name, model_deploy_role_name, model_deploy_state_machine_name
from stacks.compliance import acknowledge
from stacks.model_deploy.notifications import DeployNotifications
from stacks.model_deploy.state_machine import DeployStateMachine
from stacks.model_deploy.targets import ServingTarget
from stacks.model_deploy.task_function import DeployTaskFunction
from stacks.model_deploy.trigger import DeployTrigger
from stacks.storage.stack import StorageStack

#: How long an approval request waits for an answer before the rollout stops (the execution fails and notifies).
APPROVAL_TIMEOUT = cdk.Duration.days(7)
STATE_MACHINE_OUTPUT = "DeployStateMachineArn"
TOPIC_OUTPUT = "DeployTopicArn"


class ModelDeployStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        env_name: str,
        model_package_group_name: str,
        serving: Sequence[ServingTarget],
        storage: StorageStack,
        notification_emails: Sequence[str] = (),
        approval_timeout: cdk.Duration = APPROVAL_TIMEOUT,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        **kwargs: Any,
    ) -> None:
        """``serving``: the environments that deploy this registry's versions, in rollout order."""
        super().__init__(scope, construct_id, **kwargs)
        if not serving:
            raise ValueError(f"{self.node.path}: {env_name} is the registry of no serving environment; create the "
                             "model-deploy stack only for registry environments")  # fmt: skip
        names = [t.name for t in serving]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.node.path}: serving environments listed more than once: {names}")
        state_machine_name = model_deploy_state_machine_name(project, env_name)
        notifications = DeployNotifications(
            self, "Notifications", key_alias=f"alias/{state_machine_name}", emails=list(notification_emails)
        )
        state_machine_arn = self.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=state_machine_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        tasks = DeployTaskFunction(
            self,
            "Tasks",
            project=project,
            group_name=model_package_group_name,
            role_name=model_deploy_role_name(project, env_name, "tasks"),
            state_machine_arn=state_machine_arn,
            serving=serving,
            topic=notifications.topic,
            artifacts_bucket=storage.reference_bucket(self, "artifacts"),
            artifacts_prefix=f"pipelines/{model_build_pipeline_name(project, env_name)}/*",
            approval_timeout=approval_timeout,
            log_retention=log_retention,
        )
        flow = DeployStateMachine(
            self,
            "Flow",
            state_machine_name=state_machine_name,
            serving=serving,
            function=tasks.function,
            approval_timeout=approval_timeout,
            log_retention=log_retention,
        )
        self.state_machine = flow.state_machine
        role_policy = self.state_machine.role.node.find_child("DefaultPolicy")
        acknowledge(
            role_policy,
            f"AwsSolutions-IAM5[Resource::<{self.get_logical_id(tasks.function.node.default_child)}.Arn>:*]",  # type: ignore[arg-type]
            "LambdaInvoke: the state machine invokes the deploy flow's task function; ':*' covers its versions "
            "and aliases, of this one function only.",
        )
        acknowledge(
            role_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions' log delivery (logs:CreateLogDelivery, PutResourcePolicy, ...) is not resource-scoped "
            "(CloudWatch Logs vended-log API); the state machine logs to its own log group.",
        )
        self.trigger = DeployTrigger(
            self,
            "Trigger",
            project=project,
            group_name=model_package_group_name,
            role_name=model_deploy_role_name(project, env_name, "trigger"),
            serving=serving,
            state_machine=self.state_machine,
            notifications=notifications,
            log_retention=log_retention,
        )
        self.topic = notifications.topic
        self.task_function = tasks.function
        cdk.CfnOutput(self, STATE_MACHINE_OUTPUT, value=self.state_machine.state_machine_arn)
        cdk.CfnOutput(self, TOPIC_OUTPUT, value=self.topic.topic_arn)
