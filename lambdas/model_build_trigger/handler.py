"""EventBridge (CodeCommit push) -> start the model-build CI pipeline when model code changed."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from model_build_trigger.trigger import CodeCommitStateChange, decide_and_start

logger = Logger()
metrics = Metrics(namespace="MLOps/ModelBuild")

PIPELINE_NAME = os.environ["PIPELINE_NAME"]
BRANCH = os.environ["BRANCH"]
PATH_PATTERNS: list[str] = json.loads(os.environ["PATH_PATTERNS"])
CODECOMMIT = boto3.client("codecommit")
CODEPIPELINE = boto3.client("codepipeline")


class PushEvent(EventBridgeModel):
    detail: CodeCommitStateChange


@logger.inject_lambda_context
@metrics.log_metrics
@event_parser(model=PushEvent)
def handler(event: PushEvent, _context: LambdaContext) -> dict[str, Any]:
    decision = decide_and_start(
        event.detail,
        codecommit=CODECOMMIT,
        codepipeline=CODEPIPELINE,
        pipeline_name=PIPELINE_NAME,
        branch=BRANCH,
        patterns=PATH_PATTERNS,
    )
    metrics.add_metric(
        name="TrainingStarted" if decision.started else "TrainingSkipped", unit=MetricUnit.Count, value=1
    )
    logger.info("push handled", extra={"decision": decision.__dict__, "commit": event.detail.commit_id})
    return {"started": decision.started, "reason": decision.reason, "executionId": decision.execution_id}
