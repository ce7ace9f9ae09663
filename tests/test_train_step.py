"""The delivery pipeline's Train step, run as CodeBuild runs it: the synthesized buildspec's commands, in a process
that has boto3 and nothing else of this project's dependencies, against the synthesized cloud assembly and a
SageMaker (moto, over HTTP) whose deployed pipeline is, or is not, the commit's.

This is the lineage proof: the execution that carries GitCommit=X must run X's definition; when the deployed pipeline
is another commit's, the step fails instead of training X's name onto another definition.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from config.naming import FINGERPRINT_OUTPUT, FINGERPRINT_PARAMETER, PIPELINE_NAME_OUTPUT
from tests.conftest import REPO_ROOT, SynthesizedApp

COMMIT = "0123456789abcdef0123456789abcdef01234567"
#: What the Train step's CodeBuild environment lacks: the tool must not need any of it.
NOT_IN_CODEBUILD = ("aws_cdk", "jsii", "constructs", "cdk_nag", "pydantic", "yaml", "sagemaker", "numpy", "pandas",
                    "xgboost", "moto", "aws_lambda_powertools")  # fmt: skip
SITECUSTOMIZE = f"""
import importlib.abc, sys
class _OnlyBoto3(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {NOT_IN_CODEBUILD!r}:
            raise ModuleNotFoundError(f"{{name}} is not installed in the Train step's CodeBuild environment")
        return None
sys.meta_path.insert(0, _OnlyBoto3())
"""


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def train_commands(app: SynthesizedApp, env_name: str) -> list[str]:
    """The install and build commands of the synthesized Train step's CodeBuild project."""
    delivery = app.templates[("delivery", "delivery")]
    projects = [
        json.loads(r["Properties"]["Source"]["BuildSpec"])
        for k, r in delivery["Resources"].items()
        if r["Type"] == "AWS::CodeBuild::Project" and f"Train{env_name}" in k
    ]
    assert len(projects) == 1
    phases = projects[0]["phases"]
    commands: list[str] = phases["build"]["commands"]
    assert any("requirements-train.txt" in c for c in phases["install"]["commands"])
    return commands


def deploy_pipeline(endpoint: str, name: str, fingerprint: str) -> Any:
    """A deployed SageMaker pipeline whose definition carries ``fingerprint`` (moto: steps do not matter)."""
    client: Any = boto3.client(
        "sagemaker", region_name="eu-west-1", endpoint_url=endpoint, aws_access_key_id="a", aws_secret_access_key="b"
    )
    definition = {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "GitCommit", "Type": "String", "DefaultValue": "unknown"},
            {"Name": FINGERPRINT_PARAMETER, "Type": "String", "DefaultValue": fingerprint},
        ],
        "Steps": [],
    }
    client.create_pipeline(
        PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn="arn:aws:iam::123456789012:role/p"
    )
    return client


def run_as_codebuild(app: SynthesizedApp, endpoint: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """The Train step's build commands in ``workdir`` laid out as CodeBuild lays it out: the source, and the cloud
    assembly of the same execution at cdk.out."""
    for name in ("tools", "config", "requirements-train.txt"):
        (workdir / name).symlink_to(REPO_ROOT / name)
    (workdir / "cdk.out").symlink_to(app.outdir)
    guard = workdir / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PYTHONPATH": str(guard),
        "COMMIT_ID": COMMIT,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",  # moto answers the calls it lacks (StopPipelineExecution) with 500: no retries
    }
    script = " && ".join(c.replace("python ", f"{sys.executable} ", 1) for c in train_commands(app, "dev"))
    command = ["bash", "-c", f"{script} --poll-seconds 0"]
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False)


def outputs(app: SynthesizedApp) -> dict[str, str]:
    return {k: v["Value"] for k, v in app.templates[("dev", "model-build")]["Outputs"].items()}


def test_the_train_step_trains_the_commit_on_the_commits_definition(
    synthesized_app: SynthesizedApp, moto_endpoint: str, tmp_path: Path
) -> None:
    values = outputs(synthesized_app)
    client = deploy_pipeline(moto_endpoint, values[PIPELINE_NAME_OUTPUT], values[FINGERPRINT_OUTPUT])
    result = run_as_codebuild(synthesized_app, moto_endpoint, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (execution,) = client.list_pipeline_executions(PipelineName=values[PIPELINE_NAME_OUTPUT])[
        "PipelineExecutionSummaries"
    ]
    parameters = client.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution["PipelineExecutionArn"])
    assert {"Name": "GitCommit", "Value": COMMIT} in parameters["PipelineParameters"]
    client.delete_pipeline(PipelineName=values[PIPELINE_NAME_OUTPUT], ClientRequestToken="cleanup-" + "0" * 30)


def test_the_train_step_refuses_a_pipeline_that_runs_another_commits_definition(
    synthesized_app: SynthesizedApp, moto_endpoint: str, tmp_path: Path
) -> None:
    values = outputs(synthesized_app)
    deploy_pipeline(moto_endpoint, values[PIPELINE_NAME_OUTPUT], "f" * 64)  # the previous deploy's definition
    result = run_as_codebuild(synthesized_app, moto_endpoint, tmp_path)
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"does not run commit {COMMIT}" in result.stderr, result.stderr[-3000:]
    assert values[FINGERPRINT_OUTPUT] in result.stderr
