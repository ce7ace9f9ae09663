"""The Train step: train commit X's pipeline only when its inputs changed, prove lineage, never leave a run behind."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from tests.tools.assemblies import FINGERPRINT, outputs, write_assembly
from tests.tools.fake_sagemaker import MODEL, PIPELINE, FakeSageMaker
from tests.tools.runner import COMMIT, GATE_STEP, OTHER, TRAIN_STEP, Run, started
from tools.pipeline_executions import display_name, start_token, stop_token
from tools.run_sagemaker_pipeline import main


def test_new_inputs_start_one_execution_on_the_commit_and_prove_its_lineage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeSageMaker(FINGERPRINT)
    fake.add("Succeeded", OTHER)  # earlier inputs: no reason to skip
    run = Run(tmp_path, fake)
    assert run() == 0
    (request,) = started(fake)
    assert request["PipelineParameters"] == [{"Name": "GitCommit", "Value": COMMIT}]  # the fingerprint: never given
    assert request["PipelineExecutionDisplayName"] == f"commit-{COMMIT}"
    assert COMMIT in request["PipelineExecutionDescription"]
    assert request["ClientRequestToken"] == start_token(COMMIT, FINGERPRINT, None)
    (execution, _) = fake.executions
    # lineage is read back from the execution before waiting on it
    assert fake.names().index("list_pipeline_parameters_for_execution", fake.names().index("start_pipeline_execution"))
    assert execution.status == "Succeeded"
    assert run.sleeps == [60]
    (target,) = run.targets
    assert (target.region, target.starter_role_arn) == (
        "eu-west-1",
        "arn:aws:iam::123456789012:role/mlops-dev-pipeline-starter",
    )
    assert f"{execution.arn} succeeded: commit {COMMIT}" in caplog.text


def test_tokens_fit_the_service_model_and_change_only_with_their_inputs() -> None:
    token_shape = MODEL.operation_model("StartPipelineExecution").input_shape.members["ClientRequestToken"]
    stop_shape = MODEL.operation_model("StopPipelineExecution").input_shape.members["ClientRequestToken"]
    tokens = {
        start_token(COMMIT, FINGERPRINT, None),
        start_token(COMMIT, FINGERPRINT, "arn:previous"),
        start_token(COMMIT, OTHER, None),
        start_token("1" * 40, FINGERPRINT, None),
    }
    assert len(tokens) == 4
    assert start_token(COMMIT, FINGERPRINT, None) == start_token(COMMIT, FINGERPRINT, None)
    for token in [*tokens, stop_token("arn:x")]:
        for shape in (token_shape, stop_shape):
            assert shape.metadata["min"] <= len(token) <= shape.metadata["max"]
    name_shape = MODEL.operation_model("StartPipelineExecution").input_shape.members["PipelineExecutionDisplayName"]
    for commit in (COMMIT, "feature/x_y", "a" * 200, "-v1-"):
        name = display_name(commit)
        assert re.fullmatch(name_shape.metadata["pattern"], name), name
        assert len(name) <= name_shape.metadata["max"]


def test_a_retried_build_attaches_instead_of_starting_twice(tmp_path: Path) -> None:
    """The first build's start reached SageMaker but its answer was lost; the retry finds the run and waits on it."""
    fake = FakeSageMaker(FINGERPRINT)
    fake.script = ["Executing", "Executing", "Succeeded"]

    def lose_the_answer(_params: dict[str, Any]) -> None:
        fake.hooks.pop("describe_pipeline_execution")
        raise EndpointConnectionError(endpoint_url="https://api.sagemaker.eu-west-1.amazonaws.com")

    fake.hooks["describe_pipeline_execution"] = lose_the_answer
    run = Run(tmp_path, fake)
    assert run() == 1
    (first,) = fake.executions
    assert fake.requests("stop_pipeline_execution") == [
        {"PipelineExecutionArn": first.arn, "ClientRequestToken": stop_token(first.arn)}
    ]
    # the same commit on the same state asks for the same token: SageMaker answers with the same execution
    first.status, first.then = "Executing", ["Succeeded"]
    fake.calls.clear()
    assert run() == 0
    assert started(fake) == []
    assert [e.arn for e in fake.executions] == [first.arn]


def test_same_inputs_already_succeeded_is_not_trained_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeSageMaker(FINGERPRINT)
    fake.add("Failed", OTHER)
    done = fake.add("Succeeded", FINGERPRINT)
    assert Run(tmp_path, fake)() == 0
    assert started(fake) == []
    assert f"already trained by {done.arn}" in caplog.text
    assert "--force" in caplog.text


def test_an_older_success_counts_when_the_newest_run_failed_for_another_reason(tmp_path: Path) -> None:
    fake = FakeSageMaker(FINGERPRINT)
    fake.add("Failed", FINGERPRINT, steps=[TRAIN_STEP])
    stopped = fake.add("Stopped", OTHER)
    fake.add("Succeeded", FINGERPRINT)
    assert Run(tmp_path, fake)() == 0
    assert started(fake) == []
    # past the newest run with these inputs, only successes are worth a look
    assert stopped.arn not in {
        r["PipelineExecutionArn"] for r in fake.requests("list_pipeline_parameters_for_execution")
    }


def test_same_inputs_still_running_are_attached_to(tmp_path: Path) -> None:
    fake = FakeSageMaker(FINGERPRINT)
    running = fake.add("Executing", FINGERPRINT, then=["Executing", "Succeeded"])
    fake.add("Succeeded", FINGERPRINT)
    run = Run(tmp_path, fake)
    assert run("--force") == 0  # --force never starts a second run of the same inputs
    assert started(fake) == []
    assert [r["PipelineExecutionArn"] for r in fake.requests("describe_pipeline_execution")] == [running.arn] * 2


def test_a_stopping_run_is_let_to_end_and_then_replaced(tmp_path: Path) -> None:
    fake = FakeSageMaker(FINGERPRINT)
    stopping = fake.add("Stopping", FINGERPRINT, then=["Stopping", "Stopped"])
    assert Run(tmp_path, fake)() == 0
    (request,) = started(fake)
    assert stopping.status == "Stopped"
    assert request["ClientRequestToken"] == start_token(COMMIT, FINGERPRINT, stopping.arn)
    assert fake.names().index("start_pipeline_execution") > fake.names().index("describe_pipeline_execution")


def test_same_inputs_failed_at_a_gate_are_not_retrained(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeSageMaker(FINGERPRINT)
    fake.add("Succeeded", OTHER)
    gate = fake.add("Failed", FINGERPRINT, steps=[{"StepName": "Train", "StepStatus": "Succeeded"}, GATE_STEP])
    fake.add("Succeeded", OTHER)
    with caplog.at_level(logging.WARNING):
        assert Run(tmp_path, fake)() == 0
    assert started(fake) == []
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert gate.arn in record.message
    assert "QualityGateFailed (Fail): Quality gate failed: test AUC 0.71 is below the threshold 0.75" in record.message
    assert "--force" in record.message


def test_force_retrains_after_a_gate_failure_with_a_new_token(tmp_path: Path) -> None:
    fake = FakeSageMaker(FINGERPRINT)
    gate = fake.add("Failed", FINGERPRINT, steps=[GATE_STEP], token=start_token(COMMIT, FINGERPRINT, None))
    assert Run(tmp_path, fake)("--force") == 0
    (request,) = started(fake)
    assert request["ClientRequestToken"] == start_token(COMMIT, FINGERPRINT, gate.arn)
    assert len(fake.executions) == 2


@pytest.mark.parametrize(("status", "steps"), [("Failed", [TRAIN_STEP]), ("Stopped", []), ("Failed", [])])
def test_a_run_that_did_not_decide_is_retried(tmp_path: Path, status: str, steps: list[dict[str, Any]]) -> None:
    fake = FakeSageMaker(FINGERPRINT)
    previous = fake.add(status, FINGERPRINT, steps=steps, token=start_token(COMMIT, FINGERPRINT, None))
    assert Run(tmp_path, fake)() == 0
    (request,) = started(fake)
    # a new token: reusing the first one would only hand back the failed execution
    assert request["ClientRequestToken"] == start_token(COMMIT, FINGERPRINT, previous.arn)
    assert fake.executions[0].status == "Succeeded"


def test_the_search_pages_and_is_bounded(tmp_path: Path) -> None:
    fake = FakeSageMaker(FINGERPRINT, page_size=3)
    for _ in range(7):
        fake.add("Succeeded", OTHER)
    fake.add("Succeeded", FINGERPRINT)  # 8th newest: found on the third page
    assert Run(tmp_path, fake)() == 0
    assert started(fake) == []

    fake = FakeSageMaker(FINGERPRINT, page_size=100)
    for _ in range(100):
        fake.add("Succeeded", OTHER)
    beyond = fake.add("Succeeded", FINGERPRINT)  # 101st newest: beyond the bound, so the inputs count as new
    assert Run(tmp_path, fake)() == 0
    assert len(started(fake)) == 1
    searched = {r["PipelineExecutionArn"] for r in fake.requests("list_pipeline_parameters_for_execution")}
    assert len(searched) == 101  # the 100 newest before the start, then the new one (its lineage)
    assert beyond.arn not in searched


def test_fingerprint_falls_back_to_the_definition_the_execution_ran(tmp_path: Path) -> None:
    """If the parameters listed are only those given at start, the definition's default is the value used."""
    fake = FakeSageMaker(FINGERPRINT, lists_defaults=False)
    fake.add("Succeeded", FINGERPRINT)
    assert Run(tmp_path, fake)() == 0
    assert started(fake) == []
    assert fake.names().count("describe_pipeline_definition_for_execution") == 1


def test_failure_carries_the_execution_and_every_step_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeSageMaker(FINGERPRINT)
    fake.script = ["Executing", "Failed"]
    fake.started_failure = "Step failure: One or multiple steps failed."
    fake.started_steps = [{"StepName": "Preprocess", "StepStatus": "Succeeded"}, TRAIN_STEP, GATE_STEP]
    assert Run(tmp_path, fake)() == 1
    (execution,) = fake.executions
    assert (
        f"SageMaker pipeline execution {execution.arn} Failed: Step failure: One or multiple steps failed.. Failed "
        "steps: Train (TrainingJob): ClientError: instance ml.m5.xlarge is not available; QualityGateFailed (Fail): "
        "Quality gate failed: test AUC 0.71 is below the threshold 0.75"
    ) in caplog.text
    assert len(fake.requests("list_pipeline_execution_steps")) == 3  # one step a page: all pages read
    assert fake.requests("stop_pipeline_execution") == []  # it ended by itself


@pytest.mark.parametrize(
    ("stack_outputs", "stage", "message"),
    [
        (outputs(ModelBuildFingerprint=None), "dev", "output ModelBuildFingerprint is missing"),
        (outputs(PipelineName={"Fn::GetAtt": ["P", "Name"]}), "dev", "output PipelineName is not a literal string"),
        (None, "prod", "no stage 'prod' in this cloud assembly (stages: dev, staging)"),
    ],
)
def test_a_bad_assembly_exits_2_and_calls_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, stack_outputs: dict[str, Any] | None, stage: str, message: str
) -> None:
    run = Run(tmp_path, FakeSageMaker(FINGERPRINT), stack_outputs=stack_outputs)
    argv = ["--cloud-assembly", str(run.root), "--stage", stage, "--commit", COMMIT]
    assert main(argv, client_factory=run._factory) == 2
    assert run.targets == []
    assert run.fake.calls == []
    assert message in caplog.text


@pytest.mark.parametrize("extra", [["--commit", ""], ["--commit", "x", "--poll-seconds", "-1"], []])
def test_bad_arguments_are_usage_errors(tmp_path: Path, extra: list[str]) -> None:
    argv = ["--cloud-assembly", str(tmp_path), "--stage", "dev", *extra]
    with pytest.raises(SystemExit) as info:
        main(argv, client_factory=lambda _t: pytest.fail("no client for bad arguments"))
    assert info.value.code == 2


def test_end_to_end_against_moto_through_the_starter_role(tmp_path: Path) -> None:
    """The default client assumes the starter role (moto's STS) and drives moto's SageMaker: start, then skip."""
    root = write_assembly(tmp_path / "cdk.out")
    definition = {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "GitCommit", "Type": "String", "DefaultValue": "unknown"},
            {"Name": "ModelBuildFingerprint", "Type": "String", "DefaultValue": FINGERPRINT},
        ],
        "Steps": [],
    }
    argv = ["--cloud-assembly", str(root), "--stage", "dev", "--commit", COMMIT, "--poll-seconds", "0"]
    with mock_aws():
        iam = boto3.client("iam", region_name="eu-west-1")
        iam.create_role(RoleName="mlops-dev-pipeline-starter", AssumeRolePolicyDocument=json.dumps({}))
        sagemaker: Any = boto3.client("sagemaker", region_name="eu-west-1")
        sagemaker.create_pipeline(
            PipelineName=PIPELINE, PipelineDefinition=json.dumps(definition), RoleArn="arn:aws:iam::123456789012:role/r"
        )
        assert main(argv) == 0
        assert main(argv) == 0  # same inputs, already succeeded: nothing started
        (execution,) = sagemaker.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
        parameters = sagemaker.list_pipeline_parameters_for_execution(
            PipelineExecutionArn=execution["PipelineExecutionArn"]
        )["PipelineParameters"]
    assert execution["PipelineExecutionDisplayName"] == f"commit-{COMMIT}"
    assert parameters == [{"Name": "GitCommit", "Value": COMMIT}]  # moto lists only what was given at start
