"""EventBridge target: a drift/quality/bias alarm entered ALARM (or a retraining schedule fired); start the training
pipeline if the guardrails allow it (see :mod:`retraining.decide`).

Events that are not for this function are logged, counted and published as ``ignored``, never raised. A failure to
act (AWS errors left after botocore's retries) raises: Lambda retries the asynchronous invocation, then sends the
event to the dead-letter queue, whose alarm notifies the topic; the retries never start a second execution.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from retraining.clients import Clients, utcnow
from retraining.decide import IGNORED, evaluate
from retraining.notify import announce
from retraining.settings import Settings
from retraining.state import StateStore

METRIC = "RetrainingDecisions"
logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "mlops/retraining"))
SETTINGS = Settings.from_environ(os.environ)
#: Created on first use, then kept for the container's life (see retraining.clients for why not at import).
CLIENTS = Clients(SETTINGS, boto3.client)


def store() -> StateStore:
    return StateStore(CLIENTS.dynamodb, SETTINGS.state_table, SETTINGS.pipeline_region, SETTINGS.pipeline_name)


@metrics.log_metrics
@logger.inject_lambda_context(log_event=True)  # alarm and schedule events hold names, ARNs and times, no data
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001 - Powertools reads it
    state = store()
    outcome = evaluate(event, SETTINGS, store=state, sagemaker=CLIENTS.starter.sagemaker, now=utcnow())
    log = logger.warning if outcome.decision == IGNORED else logger.info
    log(
        outcome.reason,
        extra={
            "decision": outcome.decision,
            "alarm_name": outcome.alarm_name,
            "trigger": outcome.trigger.parameter if outcome.trigger else None,
            "event_id": outcome.event_id,
            "execution_arn": outcome.execution_arn,
            "replayed": outcome.replayed,
        },
    )
    if not outcome.replayed:  # a replay re-sends the message of a decision counted when it was made
        metrics.add_dimension(name="Environment", value=SETTINGS.environment)
        metrics.add_dimension(name="Decision", value=outcome.decision)
        metrics.add_metric(name=METRIC, unit=MetricUnit.Count, value=1)
    announce(outcome, SETTINGS, sns=CLIENTS.sns, store=state)
    return {"decision": outcome.decision, "reason": outcome.reason, "execution_arn": outcome.execution_arn}
