"""The CI stages run the very commands a developer runs; those commands are exercised here for real."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from tests.conftest import REPO_ROOT
from tools.run_sagemaker_pipeline import main as run_sagemaker_pipeline


def build_commands(name: str) -> list[str]:
    spec = yaml.safe_load((REPO_ROOT / "buildspecs" / name).read_text())
    commands: list[str] = spec["phases"]["build"]["commands"]
    return commands


def test_model_test_stage_is_the_make_target() -> None:
    assert build_commands("model-test.yml") == ["make test-model"]
    dry_run = subprocess.run(
        ["make", "-n", "test-model"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "-m pytest tests/sagemaker_code" in dry_run  # the step-code tests (also part of this suite)
    assert "local-pipeline" in dry_run


def test_local_pipeline_target_runs_the_synthesized_definition(tmp_path: Path) -> None:
    """`make local-pipeline`: synthesize, read the dev pipeline from the assembly, run it, register a model."""
    result = subprocess.run(
        ["make", "local-pipeline", f"CDK_OUT={tmp_path / 'cdk.out'}", f"WORKSPACE={tmp_path / 'ws'}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Registered mlops-dev-models version 1 (PendingManualApproval)" in result.stdout
    package = json.loads((tmp_path / "ws" / "registry" / "mlops-dev-models" / "version-0001.json").read_text())
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["CustomerMetadataProperties"]["git_commit"] == "unknown"


def test_train_stage_command_drives_the_start_and_wait_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    (command,) = build_commands("model-train.yml")
    variables = {
        "PIPELINE_NAME": "mlops-dev-model-build",
        "PIPELINE_REGION": "eu-west-1",
        "STARTER_ROLE_ARN": "arn:aws:iam::123456789012:role/mlops-dev-pipeline-starter",
        "CODEBUILD_RESOLVED_SOURCE_VERSION": "0123456789abcdef0123456789abcdef01234567",
    }
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "tools.run_sagemaker_pipeline"]
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    expanded = [os.path.expandvars(arg) for arg in argv[3:]]
    with mock_aws():
        client: Any = boto3.client("sagemaker", region_name="eu-west-1")
        client.create_pipeline(
            PipelineName="mlops-dev-model-build",
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn="arn:aws:iam::123456789012:role/r",
        )
        assert run_sagemaker_pipeline([*expanded, "--poll-seconds", "0"], client=client) == 0
        (execution,) = client.list_pipeline_executions(PipelineName="mlops-dev-model-build")[
            "PipelineExecutionSummaries"
        ]
    assert execution["PipelineExecutionDisplayName"] == f"commit-{variables['CODEBUILD_RESOLVED_SOURCE_VERSION']}"
    assert "--role-arn" in expanded
    assert expanded[expanded.index("--role-arn") + 1] == variables["STARTER_ROLE_ARN"]
