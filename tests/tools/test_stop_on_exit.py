"""The Train step never leaves an execution training unwatched: any exit once it started or attached stops it."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.tools.assemblies import FINGERPRINT, outputs
from tests.tools.fake_sagemaker import FakeSageMaker
from tests.tools.runner import COMMIT, OTHER, Run, started
from tools.pipeline_executions import stop_token


def test_a_pipeline_running_another_definition_is_stopped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeSageMaker(OTHER)  # the deployed definition is not commit X's
    assert Run(tmp_path, fake)() == 1
    (execution,) = fake.executions
    assert fake.requests("stop_pipeline_execution") == [
        {"PipelineExecutionArn": execution.arn, "ClientRequestToken": stop_token(execution.arn)}
    ]
    assert "describe_pipeline_execution" not in fake.names()
    assert (
        f"the deployed pipeline does not run commit {COMMIT}'s definition: expected ModelBuildFingerprint "
        f"{FINGERPRINT}, deployed {OTHER}"
    ) in caplog.text


def test_a_definition_without_the_parameter_is_a_lineage_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeSageMaker(None)
    assert Run(tmp_path, fake)() == 1
    assert len(fake.requests("stop_pipeline_execution")) == 1
    assert "deployed none (no such parameter)" in caplog.text


def test_the_wait_bound_comes_from_the_assembly_and_stops_the_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeSageMaker(FINGERPRINT)
    fake.script = ["Executing"] * 100
    run = Run(tmp_path, fake, stack_outputs=outputs(TrainingWaitSeconds="150"))
    assert run() == 1
    (execution,) = fake.executions
    assert len(fake.requests("stop_pipeline_execution")) == 1
    assert execution.status == "Stopping"
    assert 150 < run.now <= 150 + 1  # the last sleep ends just past the bound, not a whole poll later
    assert "still Executing: the wait bound (TrainingWaitSeconds) ran out" in caplog.text


def test_an_attached_run_is_stopped_on_timeout_too(tmp_path: Path) -> None:
    fake = FakeSageMaker(FINGERPRINT)
    running = fake.add("Executing", FINGERPRINT, then=["Executing"] * 100)
    assert Run(tmp_path, fake, stack_outputs=outputs(TrainingWaitSeconds="60"))() == 1
    assert fake.requests("stop_pipeline_execution") == [
        {"PipelineExecutionArn": running.arn, "ClientRequestToken": stop_token(running.arn)}
    ]


def test_an_aws_error_while_waiting_stops_the_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeSageMaker(FINGERPRINT)

    def deny(_params: dict[str, Any]) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribePipelineExecution")

    fake.hooks["describe_pipeline_execution"] = deny
    assert Run(tmp_path, fake)() == 1
    assert len(fake.requests("stop_pipeline_execution")) == 1
    assert "AccessDeniedException" in caplog.text


def test_a_failing_stop_does_not_hide_the_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeSageMaker(OTHER)

    def conflict(_params: dict[str, Any]) -> None:
        raise ClientError({"Error": {"Code": "ConflictException", "Message": "terminal"}}, "StopPipelineExecution")

    fake.hooks["stop_pipeline_execution"] = conflict
    assert Run(tmp_path, fake)() == 1
    assert "could not stop" in caplog.text
    assert "does not run commit" in caplog.text


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_while_waiting_stops_the_run(tmp_path: Path, signum: signal.Signals) -> None:
    fake = FakeSageMaker(FINGERPRINT)
    fake.script = ["Executing"] * 10
    fake.hooks["describe_pipeline_execution"] = lambda _params: os.kill(os.getpid(), signum)
    before = signal.getsignal(signum)
    assert Run(tmp_path, fake)() == 128 + signum
    (execution,) = fake.executions
    assert fake.requests("stop_pipeline_execution") == [
        {"PipelineExecutionArn": execution.arn, "ClientRequestToken": stop_token(execution.arn)}
    ]
    assert signal.getsignal(signum) is before  # the handlers are the tool's only while it runs


def test_a_signal_during_the_start_request_still_stops_what_it_started(tmp_path: Path) -> None:
    fake = FakeSageMaker(FINGERPRINT)
    fake.hooks["start_pipeline_execution"] = lambda _params: os.kill(os.getpid(), signal.SIGTERM)
    assert Run(tmp_path, fake)() == 128 + signal.SIGTERM
    (execution,) = fake.executions
    assert [r["PipelineExecutionArn"] for r in fake.requests("stop_pipeline_execution")] == [execution.arn]


def test_a_second_signal_does_not_interrupt_the_stop(tmp_path: Path) -> None:
    fake = FakeSageMaker(FINGERPRINT)
    fake.script = ["Executing"] * 10
    fake.hooks["describe_pipeline_execution"] = lambda _params: os.kill(os.getpid(), signal.SIGTERM)
    fake.hooks["stop_pipeline_execution"] = lambda _params: os.kill(os.getpid(), signal.SIGINT)
    assert Run(tmp_path, fake)() == 128 + signal.SIGTERM
    assert fake.executions[0].status == "Stopping"


def test_a_signal_before_anything_started_stops_nothing(tmp_path: Path) -> None:
    fake = FakeSageMaker(FINGERPRINT)
    fake.hooks["list_pipeline_executions"] = lambda _params: os.kill(os.getpid(), signal.SIGHUP)
    assert Run(tmp_path, fake)() == 128 + signal.SIGHUP
    assert started(fake) == []
    assert fake.requests("stop_pipeline_execution") == []


def test_the_wait_bound_covers_the_whole_tool_not_each_execution(tmp_path: Path) -> None:
    """Waiting for a stopping run and then for a new one together stay within TrainingWaitSeconds (the build's
    timeout is derived from it)."""
    fake = FakeSageMaker(FINGERPRINT)
    fake.add("Stopping", FINGERPRINT, then=["Stopping", "Stopping", "Stopped"])
    fake.script = ["Executing"] * 100
    run = Run(tmp_path, fake, stack_outputs=outputs(TrainingWaitSeconds="300"))
    assert run() == 1
    assert len(started(fake)) == 1
    assert 300 < run.now <= 301
    new = fake.executions[0]
    assert [r["PipelineExecutionArn"] for r in fake.requests("stop_pipeline_execution")] == [new.arn]
