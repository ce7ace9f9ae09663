"""EventBridge target: a model package of this registry was approved or rejected; start the deploy flow if needed.

Events that are not for this function (malformed, another group, another status) are logged and ignored, never
raised. A failure to act (AWS API errors) raises: Lambda retries the asynchronous invocation, then sends the event
to the dead-letter queue, whose alarm notifies the topic.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from model_deploy_trigger.decide import decide
from model_deploy_trigger.events import Ignored, Settings, parse_event
from model_deploy_trigger.live import live_reader, ssm_factory

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "mlops/model-deploy"))
SETTINGS = Settings.from_environ(os.environ)
SFN = boto3.client("stepfunctions")
SAGEMAKER = boto3.client("sagemaker")
SNS = boto3.client("sns")
STS = boto3.client("sts")
READ_LIVE = live_reader(ssm_factory(STS, "model-deploy-trigger"))


@metrics.log_metrics
@logger.inject_lambda_context(log_event=True)  # the event holds ARNs and statuses, no data
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001 - Powertools reads it
    change = parse_event(event, SETTINGS.group)
    if isinstance(change, Ignored):
        logger.warning("event ignored", extra={"reason": change.reason})
        metrics.add_metric(name="IgnoredEvents", unit=MetricUnit.Count, value=1)
        return {"action": "ignored", "reason": change.reason}
    logger.append_keys(model_package_arn=change.detail.arn, approval_status=change.detail.status)
    outcome = decide(change, SETTINGS, read_live=READ_LIVE, sfn=SFN, sagemaker=SAGEMAKER, sns=SNS)
    logger.info(outcome.reason, extra={"action": outcome.action, "execution_name": outcome.execution_name})
    metrics.add_metric(name=f"Decision{outcome.action.title().replace('-', '')}", unit=MetricUnit.Count, value=1)
    return {"action": outcome.action, "reason": outcome.reason, "execution_name": outcome.execution_name}
