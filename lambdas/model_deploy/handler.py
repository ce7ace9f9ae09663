"""The deploy flow's task function: Step Functions invokes it for every step, with an ``action``.

It raises on every failure (the state machine retries StackBusy and Lambda's transient errors, and catches the rest:
notify, fail). Clients are created once per container; a serving environment in another account is reached through
its deployer role, assumed per invocation (a role-chained session lasts at most an hour; a step takes seconds).
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from model_deploy.dispatch import DEFAULT_APPROVAL_TIMEOUT_HOURS, Clients, run
from model_deploy.tasks import Settings, Target, parse_task

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "mlops/model-deploy"))
SETTINGS = Settings.from_environ(os.environ)
APPROVAL_TIMEOUT_HOURS = int(os.environ.get("APPROVAL_TIMEOUT_HOURS", DEFAULT_APPROVAL_TIMEOUT_HOURS))
STS = boto3.client("sts")


def target_client(target: Target, service: str) -> Any:
    """A client of ``service`` in the serving environment's account and region, as its deployer role."""
    credentials = STS.assume_role(RoleArn=target.deployer_role_arn, RoleSessionName="model-deploy")["Credentials"]
    return boto3.client(
        service,
        region_name=target.region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


CLIENTS = Clients(
    registry=boto3.client("sagemaker"), s3=boto3.client("s3"), sns=boto3.client("sns"), target=target_client
)


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)  # approval requests carry a task token: never logged
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001 - Powertools reads it
    task = parse_task(event)
    logger.append_keys(action=task.action, environment=task.environment, execution_name=task.execution_name,
                       model_package_arn=task.request.model_package_arn)  # fmt: skip
    result = run(task, SETTINGS, CLIENTS, approval_timeout_hours=APPROVAL_TIMEOUT_HOURS)
    logger.info("step done", extra={"result": {k: v for k, v in result.items() if k != "summary"}})
    metrics.add_metric(name=f"{task.action.title().replace('_', '')}Steps", unit=MetricUnit.Count, value=1)
    return result
