"""The Train stage of the model-build CI pipeline: start a SageMaker Pipeline execution, wait, fail with its reason.

Runs in CodeBuild (``buildspecs/model-train.yml``). The execution's display name and its ``GitCommit`` parameter
carry the commit id, so every model package traces back to the code that trained it. On failure the stage fails
with the execution's ``FailureReason`` and the failed step's own reason (e.g. the Fail step's gate message).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

TERMINAL = {"Succeeded", "Failed", "Stopped"}
_DISPLAY_NAME_BAD = re.compile(r"[^a-zA-Z0-9-]+")


class ExecutionFailedError(Exception):
    """The execution ended in a state other than Succeeded (or timed out); the message says why."""


@dataclass(frozen=True)
class Outcome:
    execution_arn: str
    status: str
    seconds: float


def display_name(commit: str) -> str:
    """``commit-<sha>``: SageMaker allows [a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}."""
    return _DISPLAY_NAME_BAD.sub("-", f"commit-{commit}")[:82].strip("-")


def failed_steps(client: Any, execution_arn: str) -> list[str]:
    """``<step> (<type>): <reason>`` for every failed step of an execution."""
    reasons = []
    request: dict[str, Any] = {"PipelineExecutionArn": execution_arn, "SortOrder": "Ascending"}
    while True:
        page = client.list_pipeline_execution_steps(**request)
        for step in page.get("PipelineExecutionSteps", []):
            if step.get("StepStatus") == "Failed":
                kind = next(iter(step.get("Metadata", {})), "step")
                reasons.append(f"{step['StepName']} ({kind}): {step.get('FailureReason', 'no reason given')}")
        if not page.get("NextToken"):
            return reasons
        request["NextToken"] = page["NextToken"]


def start_and_wait(
    client: Any,
    *,
    pipeline_name: str,
    commit: str,
    parameters: dict[str, str],
    poll_seconds: float = 30,
    timeout_seconds: float = 4 * 3600,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Start the pipeline with ``GitCommit=commit`` (+ ``parameters``) and wait; raise :class:`ExecutionFailedError`."""
    started = clock()
    response = client.start_pipeline_execution(
        PipelineName=pipeline_name,
        PipelineExecutionDisplayName=display_name(commit),
        PipelineExecutionDescription=f"model-build CI for commit {commit}",
        PipelineParameters=[{"Name": k, "Value": v} for k, v in {"GitCommit": commit, **parameters}.items()],
    )
    arn = response["PipelineExecutionArn"]
    logger.info("started %s", arn)
    while True:
        described = client.describe_pipeline_execution(PipelineExecutionArn=arn)
        status = described["PipelineExecutionStatus"]
        if status in TERMINAL:
            break
        if clock() - started > timeout_seconds:
            client.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=f"timeout-{commit}"[:128])
            raise ExecutionFailedError(f"{arn} still {status} after {timeout_seconds:.0f} s: stopped it")
        logger.info("%s: %s", arn, status)
        sleep(poll_seconds)
    seconds = clock() - started
    if status != "Succeeded":
        reason = described.get("FailureReason") or "no FailureReason given"
        steps = failed_steps(client, arn)
        detail = "; ".join(steps) if steps else "no step reported a failure"
        raise ExecutionFailedError(f"SageMaker pipeline execution {arn} {status}: {reason}. Failed steps: {detail}")
    return Outcome(arn, status, seconds)


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected Name=Value, got {text!r}")
    return name, value


def sagemaker_client(region: str, role_arn: str | None) -> Any:
    """A SageMaker client, through ``role_arn`` (the environment's pipeline-starter role) when given."""
    import boto3

    if role_arn is None:
        return boto3.client("sagemaker", region_name=region)
    credentials = boto3.client("sts", region_name=region).assume_role(
        RoleArn=role_arn, RoleSessionName="model-build-ci"
    )["Credentials"]
    return boto3.client(
        "sagemaker",
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def main(argv: list[str] | None = None, client: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pipeline-name", required=True)
    parser.add_argument("--commit", required=True, help="the git commit id being built")
    parser.add_argument("--region", required=True)
    parser.add_argument("--role-arn", help="role to assume (the environment's pipeline-starter role)")
    parser.add_argument("--param", type=_pair, action="append", default=[], help="pipeline parameter Name=Value")
    parser.add_argument("--poll-seconds", type=float, default=30)
    parser.add_argument("--timeout-minutes", type=float, default=240)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        outcome = start_and_wait(
            client or sagemaker_client(args.region, args.role_arn),
            pipeline_name=args.pipeline_name,
            commit=args.commit,
            parameters=dict(args.param),
            poll_seconds=args.poll_seconds,
            timeout_seconds=args.timeout_minutes * 60,
        )
    except ExecutionFailedError as exc:
        logger.error("%s", exc)  # the message is the whole story: no traceback
        return 1
    logger.info("%s succeeded in %.0f s", outcome.execution_arn, outcome.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
