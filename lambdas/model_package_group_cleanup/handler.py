"""CloudFormation custom resource (on_event of a CDK Provider): empty a model package group before it is deleted.

The Provider framework sends the response to CloudFormation: this returns the physical resource id, and raises on
failure so that the framework reports FAILED with the error message (never a success that left versions behind).
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from model_package_group_cleanup.cleanup import on_event, parse_request

logger = Logger()
#: botocore retries transient errors a little; sustained throttling is retried by cleanup.call_with_backoff.
SAGEMAKER = boto3.client("sagemaker", config=Config(retries={"mode": "standard", "max_attempts": 3}))
#: Time kept free at the end of the invocation to report "out of time" as a readable error instead of being killed.
SAFETY_MARGIN_SECONDS = 30.0


@logger.inject_lambda_context  # log_event stays off: the event holds CloudFormation's pre-signed response URL
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    request = parse_request(event)
    logger.append_keys(
        request_type=request.request_type,
        logical_resource_id=request.logical_resource_id,
        model_package_group=request.resource_properties.group_name,
    )
    outcome = on_event(
        request,
        sagemaker=SAGEMAKER,
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS,
    )
    logger.info(outcome.action, extra={"deleted_count": len(outcome.deleted), "deleted": list(outcome.deleted)})
    return {"PhysicalResourceId": outcome.physical_resource_id}
