"""A scheduled run: the live model scores the input prefix once per schedule time; nothing live, nothing runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from batch_scoring.scoring import Settings, run_time, score
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

REGION = "eu-west-1"
PARAMETER = "/mlops/prod/serving/live-model-package"
PACKAGE = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-dev-german-credit/7"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET = "mlops-prod-data-123456789012-eu-west-1"
ENVIRON = {
    "LIVE_MODEL_PARAMETER": PARAMETER,
    "MODEL_NAME_PREFIX": "mlops-prod-model-v",
    "JOB_NAME_PREFIX": "mlops-prod-batch-",
    "INPUT_URI": f"s3://{BUCKET}/batch/input/",
    "OUTPUT_URI": f"s3://{BUCKET}/batch/output/",
    "KMS_KEY_ARN": KEY,
    "INSTANCE_TYPE": "ml.m5.large",
    "INSTANCE_COUNT": "2",
}
SETTINGS = Settings.from_environ(ENVIRON)
WHEN = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
JOB = "mlops-prod-batch-20261201T0200Z"
#: What the job must be asked for: SageMaker's own field names, the filters that keep id, probability, label.
EXPECTED_REQUEST = {
    "TransformJobName": JOB,
    "ModelName": "mlops-prod-model-v7",
    "TransformInput": {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/batch/input/"}},
        "ContentType": "text/csv",
        "SplitType": "Line",
    },
    "TransformOutput": {
        "S3OutputPath": f"s3://{BUCKET}/batch/output/20261201T0200Z/",
        "Accept": "text/csv",
        "AssembleWith": "Line",
        "KmsKeyId": KEY,
    },
    "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 2},
    "DataProcessing": {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-2,-1]"},
}


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        client = boto3.client("ssm", region_name=REGION)
        client.put_parameter(Name=PARAMETER, Value=PACKAGE, Type="String")
        yield client


@pytest.fixture
def sagemaker() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_a_run_scores_the_input_prefix_with_the_live_model(ssm: Any, sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    stubber.add_response("create_transform_job", {"TransformJobArn": f"arn:aws:sagemaker:{REGION}:1:x/{JOB}"},
                         EXPECTED_REQUEST)  # fmt: skip
    outcome = score(SETTINGS, WHEN, ssm=ssm, sagemaker=client)
    assert (outcome.action, outcome.job_name) == ("started", JOB)


def test_nothing_live_starts_no_job(ssm: Any, sagemaker: tuple[Any, Stubber]) -> None:
    ssm.put_parameter(Name=PARAMETER, Value="none", Type="String", Overwrite=True)
    client, _ = sagemaker  # no response queued: any SageMaker call would fail the test
    outcome = score(SETTINGS, WHEN, ssm=ssm, sagemaker=client)
    assert (outcome.action, outcome.job_name) == ("nothing-live", None)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ResourceInUse", "Job name must be unique within an AWS account and region"),
        ("ValidationException", f"Job {JOB} already exists"),
    ],
)
def test_a_second_invocation_of_the_same_run_is_done(
    ssm: Any, sagemaker: tuple[Any, Stubber], code: str, message: str
) -> None:
    client, stubber = sagemaker
    stubber.add_client_error("create_transform_job", code, message, expected_params=EXPECTED_REQUEST)
    stubber.add_response("describe_transform_job", describe(JOB), {"TransformJobName": JOB})
    outcome = score(SETTINGS, WHEN, ssm=ssm, sagemaker=client)
    assert (outcome.action, outcome.job_name) == ("already-started", JOB)
    assert "InProgress" in outcome.reason


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ValidationException", "Could not find model mlops-prod-model-v7"),
        ("ThrottlingException", "Rate exceeded"),
        ("ResourceLimitExceeded", "transform job instances"),
    ],
)
def test_other_errors_raise(ssm: Any, sagemaker: tuple[Any, Stubber], code: str, message: str) -> None:
    client, stubber = sagemaker
    stubber.add_client_error("create_transform_job", code, message, expected_params=EXPECTED_REQUEST)
    with pytest.raises(ClientError, match=code):
        score(SETTINGS, WHEN, ssm=ssm, sagemaker=client)


def test_a_parameter_that_names_no_version_raises(ssm: Any, sagemaker: tuple[Any, Stubber]) -> None:
    ssm.put_parameter(Name=PARAMETER, Value="arn:aws:sagemaker:eu-west-1:1:model/x", Type="String", Overwrite=True)
    with pytest.raises(ValueError, match="neither 'none' nor a versioned model package ARN"):
        score(SETTINGS, WHEN, ssm=ssm, sagemaker=sagemaker[0])


def test_the_run_time_is_the_schedule_time_of_the_event() -> None:
    event = {
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-12-01T02:00:00Z", "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:123456789012:rule/batch"], "detail": {},
    }  # fmt: skip
    assert run_time(event) == WHEN
    with pytest.raises(ValueError, match="detail-type"):
        run_time({**event, "detail-type": "Object Created"})
    with pytest.raises(ValueError, match="time"):
        run_time({k: v for k, v in event.items() if k != "time"})


def describe(name: str) -> dict[str, Any]:
    return {
        "TransformJobName": name,
        "TransformJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:transform-job/{name}",
        "TransformJobStatus": "InProgress",
        "ModelName": "mlops-prod-model-v7",
        "TransformInput": EXPECTED_REQUEST["TransformInput"],
        "TransformResources": EXPECTED_REQUEST["TransformResources"],
        "CreationTime": datetime(2026, 12, 1, 2, 0, 5, tzinfo=UTC),
    }
