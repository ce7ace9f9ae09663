"""EventBridge schedule target: start this run's batch transform of the live model (see :mod:`batch_scoring.scoring`).

Raises on every failure (a malformed event, an unreadable parameter, an AWS error other than "the job exists"):
Lambda retries the asynchronous invocation twice, and the run's fixed job name keeps the retries to one job.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from batch_scoring.scoring import Settings, run_time, score

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "mlops/batch-scoring"))
SETTINGS = Settings.from_environ(os.environ)
SSM = boto3.client("ssm")
SAGEMAKER = boto3.client("sagemaker")


@metrics.log_metrics
@logger.inject_lambda_context(log_event=True)  # a scheduled event holds the rule's ARN and a time, no data
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001 - Powertools reads it
    when = run_time(event)
    outcome = score(SETTINGS, when, ssm=SSM, sagemaker=SAGEMAKER)
    logger.info(outcome.reason, extra={"action": outcome.action, "job_name": outcome.job_name})
    metrics.add_metric(name=f"Runs{outcome.action.title().replace('-', '')}", unit=MetricUnit.Count, value=1)
    return {"action": outcome.action, "job_name": outcome.job_name, "reason": outcome.reason}
