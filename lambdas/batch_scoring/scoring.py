"""One scheduled batch-scoring run: a SageMaker transform job of the live model over the configured input prefix.

The job runs the serving stack's own Model (named from the live-model parameter, see
``config.naming.serving_model_name``), i.e. the same model package version as the endpoint: the package's
inference code applies the decision threshold stored with it, so a batch label is the label the endpoint answers.

Input files are CSV **without a header row**, the id column first, then the feature columns in the dataset spec's
order (batch transform splits files into lines and sends every line to the model: it skips no header). The job drops
the id before the model (``InputFilter $[1:]``), joins the model's ``probability,label`` answer to the input line and
keeps ``id,probability,label`` (``OutputFilter $[0,-2,-1]``). Nothing checks the files before the job: a header
row or a bad value fails the job (or is scored as data if it happens to parse), and SageMaker reports it.

One job per schedule time: the job name carries the event's time, so a retried or duplicated event finds the job
already created and treats the run as done. Nothing live (the parameter is ``none``) is not an error: no job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: The live-model parameter's value while nothing was ever deployed.
NO_LIVE_MODEL = "none"
#: A versioned model package: arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>.
PACKAGE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[^/]+/(\d+)$")
#: The run's stamp in the job name and the output prefix (config.naming.BATCH_RUN_STAMP).
RUN_STAMP = "%Y%m%dT%H%MZ"
MAX_JOB_NAME = 63
#: What the job does to every line: drop the id for the model, keep id, probability and label of the joined line.
DATA_PROCESSING = {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-2,-1]"}


class Settings(BaseModel):
    """The function's environment variables (set by the stack from config.serving and config.naming)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    parameter: str = Field(alias="LIVE_MODEL_PARAMETER", pattern=r"^/")
    model_name_prefix: str = Field(alias="MODEL_NAME_PREFIX", min_length=1)
    job_name_prefix: str = Field(alias="JOB_NAME_PREFIX", min_length=1, max_length=MAX_JOB_NAME - 14)
    input_uri: str = Field(alias="INPUT_URI", pattern=r"^s3://[^/]+/(.+/)?$")
    output_uri: str = Field(alias="OUTPUT_URI", pattern=r"^s3://[^/]+/(.+/)?$")
    kms_key_arn: str = Field(alias="KMS_KEY_ARN", pattern=r"^arn:aws[a-z-]*:kms:")
    instance_type: str = Field(alias="INSTANCE_TYPE", pattern=r"^ml\.")
    instance_count: int = Field(alias="INSTANCE_COUNT", ge=1)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        return cls.model_validate(dict(environ))


class ScheduledEvent(EventBridgeModel):
    source: Literal["aws.events"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


def run_time(event: Any) -> datetime:
    """The schedule time of an EventBridge scheduled event (UTC). Anything else raises, naming what is wrong: only
    the rule (or a person testing it) invokes this function."""
    try:
        parsed = ScheduledEvent.model_validate(event)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise ValueError(f"not an EventBridge scheduled event: {problems}") from error
    return parsed.time.astimezone(UTC)


@dataclass(frozen=True)
class Outcome:
    action: Literal["started", "already-started", "nothing-live"]
    job_name: str | None
    reason: str


def live_version(ssm: Any, parameter: str) -> str | None:
    """The version of the live model package, or None when nothing is live. A value that is neither raises."""
    value = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    if value == NO_LIVE_MODEL:
        return None
    match = PACKAGE_ARN_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"{parameter} holds {value!r}: neither {NO_LIVE_MODEL!r} nor a versioned model package ARN")
    return match.group(1)


def transform_request(settings: Settings, version: str, when: datetime) -> dict[str, Any]:
    """CreateTransformJob's request of the run at ``when`` with the model of ``version``."""
    stamp = when.astimezone(UTC).strftime(RUN_STAMP)
    return {
        "TransformJobName": f"{settings.job_name_prefix}{stamp}",
        "ModelName": f"{settings.model_name_prefix}{version}",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": settings.input_uri}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": f"{settings.output_uri}{stamp}/",
            "Accept": "text/csv",
            "AssembleWith": "Line",
            "KmsKeyId": settings.kms_key_arn,
        },
        "TransformResources": {"InstanceType": settings.instance_type, "InstanceCount": settings.instance_count},
        "DataProcessing": dict(DATA_PROCESSING),
    }


def already_exists(error: ClientError) -> bool:
    """SageMaker's answer to a job name that is taken (ResourceInUse, or a ValidationException saying so)."""
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    return code == "ResourceInUse" or (code == "ValidationException" and "already exists" in message)


def score(settings: Settings, when: datetime, *, ssm: Any, sagemaker: Any) -> Outcome:
    """Start the run at ``when`` (once), or do nothing when no model is live. Other AWS errors raise (Lambda
    retries the scheduled event's invocation; the same job name keeps the retries to one job)."""
    version = live_version(ssm, settings.parameter)
    if version is None:
        return Outcome("nothing-live", None, f"{settings.parameter} is {NO_LIVE_MODEL!r}: no model is live yet")
    request = transform_request(settings, version, when)
    name = request["TransformJobName"]
    try:
        sagemaker.create_transform_job(**request)
    except ClientError as error:
        if not already_exists(error):
            raise
        status = sagemaker.describe_transform_job(TransformJobName=name)["TransformJobStatus"]
        return Outcome("already-started", name, f"the job of this run exists already ({status})")
    return Outcome("started", name, f"scoring {settings.input_uri} with {request['ModelName']}")
