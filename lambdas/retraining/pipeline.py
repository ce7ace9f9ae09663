"""The training pipeline as the guardrails see it: is an execution running, and starting one exactly once per event.

Exactly once: StartPipelineExecution takes a ClientRequestToken that SageMaker uses to make the call idempotent ("an
idempotent operation completes no more than once"). The token is derived from the pipeline and the event's key, so a
botocore retry of a request whose answer was lost, and a retried invocation of the same event, ask for the same
execution; the parameters and the description are derived from the event too, so the repeated request is identical.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from retraining.events import Trigger
from retraining.settings import Settings

#: Statuses of an execution that is still going (ListPipelineExecutions' PipelineExecutionStatus).
RUNNING_STATUSES = frozenset({"Executing", "Stopping"})
#: SageMaker stops a pipeline execution after 672 hours (the "pipeline execution timeout" quota): an older execution
#: cannot be running, so the listing stops there.
MAX_EXECUTION_AGE = timedelta(hours=672)
PAGE_SIZE = 100


def running_execution(sagemaker: Any, pipeline: str, now: datetime) -> Mapping[str, Any] | None:
    """The newest execution of ``pipeline`` that is Executing or Stopping, or None.

    SageMaker lists newest first; pages are requested only until a running execution shows up (an older execution
    may outlive a newer one, so a finished newest execution does not end the search), and never beyond the oldest
    execution that could still run (``MAX_EXECUTION_AGE``)."""
    pages = sagemaker.get_paginator("list_pipeline_executions").paginate(
        PipelineName=pipeline,
        CreatedAfter=now - MAX_EXECUTION_AGE,
        SortBy="CreationTime",
        SortOrder="Descending",
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    for page in pages:
        for summary in page.get("PipelineExecutionSummaries", []):
            if summary.get("PipelineExecutionStatus") in RUNNING_STATUSES:
                return dict(summary)
    return None


def request_token(pipeline: str, trigger_key: str) -> str:
    """ClientRequestToken of this event's start (32 to 128 characters)."""
    return "retraining-" + hashlib.sha256(f"{pipeline}|{trigger_key}".encode()).hexdigest()[:48]


def display_name(trigger: Trigger) -> str:
    """``retrain-alarm-20261201T100512`` (the execution's name in Studio; letters, digits and hyphens, <= 82)."""
    return f"retrain-{trigger.kind}-{trigger.at.strftime('%Y%m%dT%H%M%S')}"


def description(trigger: Trigger, settings: Settings) -> str:
    """Why this execution runs, for whoever finds it in Studio (deterministic: the token's request must not vary)."""
    if trigger.kind == "alarm":
        cause = (
            f"alarm {trigger.name} ({trigger.source_arn}) entered ALARM at {trigger.at_iso} in the "
            f"{settings.environment} environment: {trigger.why}"
        )
    else:
        cause = f"scheduled retraining {trigger.name} ({trigger.source_arn}) for {trigger.at_iso}"
    text = (
        f"Retraining on fresh data ({settings.training_data_uri}) started by the retraining function: {cause}. "
        f"Guardrails passed: no execution running, cooldown {settings.cooldown_minutes} min, at most "
        f"{settings.daily_max} per UTC day. EventBridge event {trigger.event_id}."
    )
    return text[:3072]


def start_execution(sagemaker: Any, settings: Settings, trigger: Trigger, token: str) -> str:
    """Start (or find again, same token) this event's execution; its ARN. Failures raise (botocore has already
    retried throttling and transient errors with backoff)."""
    response = sagemaker.start_pipeline_execution(
        PipelineName=settings.pipeline_name,
        PipelineExecutionDisplayName=display_name(trigger),
        PipelineExecutionDescription=description(trigger, settings),
        PipelineParameters=[
            {"Name": "InputDataUri", "Value": settings.training_data_uri},
            {"Name": "Trigger", "Value": trigger.parameter},
        ],
        ClientRequestToken=token,
    )
    return str(response["PipelineExecutionArn"])
