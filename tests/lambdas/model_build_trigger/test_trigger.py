"""The push filter: which pushes retrain, and that training starts on exactly the pushed commit."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from model_build_trigger.trigger import CodeCommitStateChange, decide_and_start, matches
from moto import mock_aws

PATTERNS = ["sagemaker_code/**", "config/datasets/**", "config/environments.yaml", "data/**"]
OLD, NEW = "a" * 40, "b" * 40


def change(event: str = "referenceUpdated", branch: str = "main", old: str | None = OLD) -> CodeCommitStateChange:
    detail: dict[str, Any] = {
        "event": event,
        "repositoryName": "mlops-platform",
        "referenceType": "branch",
        "referenceName": branch,
        "commitId": NEW,
    }
    if old:
        detail["oldCommitId"] = old
    return CodeCommitStateChange.model_validate(detail)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("sagemaker_code/train.py", True),
        ("sagemaker_code/sub/deep.py", True),
        ("config/datasets/german_credit.yaml", True),
        ("config/environments.yaml", True),
        ("config/other.yaml", False),
        ("stacks/storage_stack.py", False),
        ("README.md", False),
        ("tests/sagemaker_code/test_train.py", False),
    ],
)
def test_path_patterns(path: str, expected: bool) -> None:
    assert matches(path, PATTERNS) is expected


def test_single_star_stays_within_one_folder() -> None:
    assert matches("lambdas/a.py", ["lambdas/*.py"])
    assert not matches("lambdas/x/a.py", ["lambdas/*.py"])
    assert matches("x/a.py", ["**/a.py"])
    assert matches("a.py", ["**/a.py"])


@pytest.fixture
def clients() -> Iterator[tuple[Any, Any, Stubber]]:
    """A moto CodePipeline (start_pipeline_execution works there) and a stubbed CodeCommit (get_differences)."""
    with mock_aws():
        codepipeline = boto3.client("codepipeline", region_name="eu-west-1")
        iam = boto3.client("iam", region_name="eu-west-1")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        role = iam.create_role(RoleName="p", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        codepipeline.create_pipeline(
            pipeline={
                "name": "mlops-dev-model-build-ci",
                "roleArn": role,
                "artifactStore": {"type": "S3", "location": "bucket"},
                "stages": [
                    {
                        "name": "Source",
                        "actions": [
                            {
                                "name": "Source",
                                "actionTypeId": {
                                    "category": "Source",
                                    "owner": "AWS",
                                    "provider": "CodeCommit",
                                    "version": "1",
                                },
                            }
                        ],
                    },
                    {
                        "name": "Test",
                        "actions": [
                            {
                                "name": "Test",
                                "actionTypeId": {
                                    "category": "Build",
                                    "owner": "AWS",
                                    "provider": "CodeBuild",
                                    "version": "1",
                                },
                            }
                        ],
                    },
                ],
            }
        )
        codecommit = boto3.client("codecommit", region_name="eu-west-1")
        with Stubber(codecommit) as stub:
            yield codecommit, codepipeline, stub


def differences(*paths: str) -> dict[str, Any]:
    return {
        "differences": [{"afterBlob": {"path": p, "blobId": "x", "mode": "100644"}, "changeType": "M"} for p in paths]
    }


def run(clients: tuple[Any, Any, Stubber], detail: CodeCommitStateChange) -> Any:
    codecommit, codepipeline, _ = clients
    return decide_and_start(
        detail, codecommit=codecommit, codepipeline=codepipeline, pipeline_name="mlops-dev-model-build-ci",
        branch="main", patterns=PATTERNS,
    )  # fmt: skip


def executions(codepipeline: Any) -> list[dict[str, Any]]:
    summaries: list[dict[str, Any]] = codepipeline.list_pipeline_executions(pipelineName="mlops-dev-model-build-ci")[
        "pipelineExecutionSummaries"
    ]
    return summaries


def test_model_code_change_starts_training(clients: tuple[Any, Any, Stubber]) -> None:
    _, codepipeline, stub = clients
    expected = {"repositoryName": "mlops-platform", "beforeCommitSpecifier": OLD, "afterCommitSpecifier": NEW}
    stub.add_response("get_differences", differences("README.md", "sagemaker_code/train.py"), expected)
    decision = run(clients, change())
    assert decision.started
    assert decision.matched_paths == ("sagemaker_code/train.py",)
    assert [e["pipelineExecutionId"] for e in executions(codepipeline)] == [decision.execution_id]
    stub.assert_no_pending_responses()


def test_unrelated_change_does_not_train(clients: tuple[Any, Any, Stubber]) -> None:
    _, codepipeline, stub = clients
    stub.add_response("get_differences", differences("README.md", "stacks/storage_stack.py"))
    decision = run(clients, change())
    assert not decision.started
    assert decision.reason.startswith("none of the 2 changed paths matches")
    assert executions(codepipeline) == []


def test_differences_are_paginated(clients: tuple[Any, Any, Stubber]) -> None:
    _, _, stub = clients
    stub.add_response("get_differences", {**differences("README.md"), "NextToken": "t"})
    stub.add_response(
        "get_differences",
        differences("data/german_credit/german.data"),
        {
            "repositoryName": "mlops-platform",
            "beforeCommitSpecifier": OLD,
            "afterCommitSpecifier": NEW,
            "NextToken": "t",
        },
    )
    assert run(clients, change()).matched_paths == ("data/german_credit/german.data",)


def test_new_branch_trains_without_a_diff(clients: tuple[Any, Any, Stubber]) -> None:
    decision = run(clients, change(event="referenceCreated", old=None))
    assert decision.started


@pytest.mark.parametrize(
    ("detail", "reason"),
    [
        (change(branch="feature/x"), "branch 'feature/x' is not the branch 'main'"),
        (change(event="referenceDeleted"), "branch 'main' was deleted"),
    ],
)
def test_other_branches_and_deletions_are_ignored(
    clients: tuple[Any, Any, Stubber], detail: CodeCommitStateChange, reason: str
) -> None:
    decision = run(clients, detail)
    assert not decision.started
    assert decision.reason == reason


def test_codecommit_error_propagates_so_eventbridge_retries(clients: tuple[Any, Any, Stubber]) -> None:
    _, _, stub = clients
    stub.add_client_error("get_differences", "CommitDoesNotExistException", "no such commit")
    with pytest.raises(Exception, match="no such commit"):
        run(clients, change())


def test_handler_parses_the_eventbridge_event(
    clients: tuple[Any, Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    codecommit, codepipeline, stub = clients
    monkeypatch.setenv("PIPELINE_NAME", "mlops-dev-model-build-ci")
    monkeypatch.setenv("BRANCH", "main")
    monkeypatch.setenv("PATH_PATTERNS", json.dumps(PATTERNS))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "test")
    handler = importlib.import_module("model_build_trigger.handler")
    monkeypatch.setattr(handler, "CODECOMMIT", codecommit)
    monkeypatch.setattr(handler, "CODEPIPELINE", codepipeline)
    stub.add_response("get_differences", differences("sagemaker_code/evaluate.py"))
    event = {
        "version": "0",
        "id": "1",
        "source": "aws.codecommit",
        "account": "123456789012",
        "time": "2026-11-27T00:00:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:codecommit:eu-west-1:123456789012:mlops-platform"],
        "detail-type": "CodeCommit Repository State Change",
        "detail": change().model_dump(by_alias=True),
    }

    class Context:
        function_name, memory_limit_in_mb, invoked_function_arn, aws_request_id = "f", 128, "arn:aws:lambda:x", "r"

    result = handler.handler(event, Context())
    assert result["started"] is True
    with pytest.raises(Exception, match="validation error"):
        handler.handler({**event, "detail": {"event": "nope"}}, Context())
