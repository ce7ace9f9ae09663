"""One deploy-flow task: dispatch on ``action`` to the step's logic with the clients it needs.

Clients of the registry's own account (SageMaker registry, S3 test data, SNS) are the function's; those of a serving
environment (SSM, CloudFormation, SageMaker runtime) come from :class:`TargetClients`, with the environment's deployer
role when it is in another account.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from model_deploy.messages import approval_message, failure_message, live_message
from model_deploy.registry import SmokeRunner, mark_live, smoke
from model_deploy.smoke_test import run_smoke_test, sagemaker_invoker
from model_deploy.stack_update import deploy, utcnow, wait
from model_deploy.tasks import (
    AnyTask,
    ApprovalTask,
    DeployTask,
    MarkTask,
    Settings,
    SmokeTask,
    Target,
    WaitTask,
)

#: How long an approval request waits (the state machine's task timeout; said in the message).
DEFAULT_APPROVAL_TIMEOUT_HOURS = 168


class TargetClients(Protocol):
    def __call__(self, target: Target, service: str) -> Any: ...


@dataclass
class Clients:
    registry: Any  # sagemaker, this account
    s3: Any
    sns: Any
    target: TargetClients


def run(
    task: AnyTask,
    settings: Settings,
    clients: Clients,
    *,
    now: Callable[[], datetime] = utcnow,
    smoke_runner: SmokeRunner = run_smoke_test,
    approval_timeout_hours: int = DEFAULT_APPROVAL_TIMEOUT_HOURS,
) -> dict[str, Any]:
    """The task's result (the state machine keeps it under the task's result path)."""
    target = settings.target(task.environment)
    request = task.request
    if isinstance(task, DeployTask):
        deployment = deploy(
            request,
            target,
            execution_name=task.execution_name,
            cfn_parameter=settings.live_model_cfn_parameter,
            registry=clients.registry,
            ssm=clients.target(target, "ssm"),
            cfn=clients.target(target, "cloudformation"),
            now=now,
        )
        return deployment.model_dump()
    if isinstance(task, WaitTask):
        return wait(
            request,
            task.deployment,
            target,
            ssm=clients.target(target, "ssm"),
            cfn=clients.target(target, "cloudformation"),
            now=now,
        )
    if isinstance(task, SmokeTask):
        invoke = sagemaker_invoker(clients.target(target, "sagemaker-runtime"), target.endpoint_name)
        return smoke(
            request.model_package_arn, target, registry=clients.registry, s3=clients.s3, invoke=invoke,
            run=smoke_runner,
        )  # fmt: skip
    if isinstance(task, MarkTask):
        return mark_live(clients.registry, request.model_package_arn, target.name, now())
    if isinstance(task, ApprovalTask):
        subject, message = approval_message(
            settings, request, target.name, task.execution_name, task_token=task.task_token,
            timeout_hours=approval_timeout_hours,
        )  # fmt: skip
    elif task.outcome == "live":
        subject, message = live_message(settings, request, target.name, task.execution_name, task.smoke)
    else:
        subject, message = failure_message(settings, request, target.name, task.execution_name, task.error)
    message_id = clients.sns.publish(TopicArn=settings.topic_arn, Subject=subject, Message=message)["MessageId"]
    return {"message_id": message_id, "subject": subject}
