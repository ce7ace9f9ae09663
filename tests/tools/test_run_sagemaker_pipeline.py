"""The Train stage: start the SageMaker pipeline for a commit, wait, and fail with SageMaker's reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from tools.run_sagemaker_pipeline import ExecutionFailedError, display_name, main, start_and_wait

COMMIT = "0123456789abcdef0123456789abcdef01234567"
ARN = "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/p/execution/abc"


@pytest.fixture
def moto_sagemaker() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("sagemaker", region_name="eu-west-1")
        client.create_pipeline(
            PipelineName="mlops-dev-model-build",
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": []}),
            RoleArn="arn:aws:iam::123456789012:role/r",
        )
        yield client


def test_display_name_is_valid_for_sagemaker() -> None:
    assert display_name(COMMIT) == f"commit-{COMMIT}"
    assert display_name("feature/x_y") == "commit-feature-x-y"
    assert len(display_name("a" * 200)) == 82


def test_success_records_the_commit(moto_sagemaker: Any) -> None:
    outcome = start_and_wait(moto_sagemaker, pipeline_name="mlops-dev-model-build", commit=COMMIT, parameters={},
                             sleep=lambda _s: None)  # fmt: skip
    assert outcome.status == "Succeeded"
    summaries = moto_sagemaker.list_pipeline_executions(PipelineName="mlops-dev-model-build")[
        "PipelineExecutionSummaries"
    ]
    assert [s["PipelineExecutionDisplayName"] for s in summaries] == [f"commit-{COMMIT}"]
    described = moto_sagemaker.describe_pipeline_execution(PipelineExecutionArn=outcome.execution_arn)
    assert described["PipelineExecutionArn"] == outcome.execution_arn


def test_main_returns_0_on_success(moto_sagemaker: Any) -> None:
    argv = ["--pipeline-name", "mlops-dev-model-build", "--commit", COMMIT, "--region", "eu-west-1", "--param",
            "AucThreshold=0.8", "--poll-seconds", "0"]  # fmt: skip
    assert main(argv, client=moto_sagemaker) == 0


def stubbed(client: Any, statuses: list[str], failure: str | None = None) -> Stubber:
    stub = Stubber(client)
    stub.add_response(
        "start_pipeline_execution",
        {"PipelineExecutionArn": ARN},
        {
            "PipelineName": "p",
            "PipelineExecutionDisplayName": f"commit-{COMMIT}",
            "PipelineExecutionDescription": ANY,
            "PipelineParameters": [{"Name": "GitCommit", "Value": COMMIT}],
        },
    )
    for status in statuses:
        response: dict[str, Any] = {"PipelineExecutionArn": ARN, "PipelineExecutionStatus": status}
        if failure and status in {"Failed", "Stopped"}:
            response["FailureReason"] = failure
        stub.add_response("describe_pipeline_execution", response, {"PipelineExecutionArn": ARN})
    return stub


def test_failure_carries_the_execution_and_step_reasons() -> None:
    client = boto3.client("sagemaker", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = stubbed(client, ["Executing", "Failed"], failure="Step failure: One or multiple steps failed.")
    stub.add_response(
        "list_pipeline_execution_steps",
        {
            "PipelineExecutionSteps": [
                {"StepName": "Preprocess", "StepStatus": "Succeeded", "Metadata": {"ProcessingJob": {"Arn": "a"}}},
                {
                    "StepName": "QualityGateFailed",
                    "StepStatus": "Failed",
                    "FailureReason": "Quality gate failed: test AUC 0.71 is below the threshold 0.75",
                    "Metadata": {"Fail": {"ErrorMessage": "Quality gate failed"}},
                },
            ]
        },
        {"PipelineExecutionArn": ARN, "SortOrder": "Ascending"},
    )
    sleeps: list[float] = []
    with stub, pytest.raises(ExecutionFailedError) as info:
        start_and_wait(client, pipeline_name="p", commit=COMMIT, parameters={}, poll_seconds=7, sleep=sleeps.append)
    assert str(info.value) == (
        f"SageMaker pipeline execution {ARN} Failed: Step failure: One or multiple steps failed.. Failed steps: "
        "QualityGateFailed (Fail): Quality gate failed: test AUC 0.71 is below the threshold 0.75"
    )
    assert sleeps == [7]
    stub.assert_no_pending_responses()


def test_timeout_stops_the_execution() -> None:
    client = boto3.client("sagemaker", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = stubbed(client, ["Executing", "Executing"])
    stub.add_response(
        "stop_pipeline_execution",
        {"PipelineExecutionArn": ARN},
        {"PipelineExecutionArn": ARN, "ClientRequestToken": ANY},
    )
    ticks = iter([0.0, 5.0, 11.0])
    with stub, pytest.raises(ExecutionFailedError, match="still Executing after 10 s: stopped it"):
        start_and_wait(client, pipeline_name="p", commit=COMMIT, parameters={}, timeout_seconds=10,
                       sleep=lambda _s: None, clock=lambda: next(ticks))  # fmt: skip
    stub.assert_no_pending_responses()


def test_main_returns_1_with_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    client = boto3.client("sagemaker", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = stubbed(client, ["Stopped"], failure="stopped by a user")
    stub.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": []})
    with stub:
        code = main(["--pipeline-name", "p", "--commit", COMMIT, "--region", "eu-west-1"], client=client)
    assert code == 1
    assert "Stopped: stopped by a user. Failed steps: no step reported a failure" in caplog.text


def test_bad_param_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["--pipeline-name", "p", "--commit", COMMIT, "--region", "eu-west-1", "--param", "novalue"])
    assert info.value.code == 2
