"""What the deploy flow tells the project topic: an approval request (with the commands that answer it), a model
live in an environment, a failed step (with what stays live and how to retry)."""

from __future__ import annotations

import json
import shlex
from typing import Any

from model_deploy.tasks import DeployInput, Settings, TaskError

#: SNS subjects: at most 100 printable ASCII characters.
MAX_SUBJECT = 100


def subject(text: str) -> str:
    return text.encode("ascii", "replace").decode()[:MAX_SUBJECT]


def arn_parts(state_machine_arn: str) -> tuple[str, str, str, str]:
    """(partition, region, account, name) of a state machine ARN."""
    parts = state_machine_arn.split(":")
    return parts[1], parts[3], parts[4], parts[6]


def execution_arn(state_machine_arn: str, execution_name: str) -> str:
    partition, region, account, name = arn_parts(state_machine_arn)
    return f"arn:{partition}:states:{region}:{account}:execution:{name}:{execution_name}"


def approval_message(settings: Settings, request: DeployInput, environment: str, execution_name: str, *,
                     task_token: str, timeout_hours: int) -> tuple[str, str]:  # fmt: skip
    """(subject, message) asking a person to approve the deployment to ``environment``."""
    region = arn_parts(settings.state_machine_arn)[1]
    token = shlex.quote(task_token)
    done = request.environments[: request.environments.index(environment)] if environment in request.environments \
        else []  # fmt: skip
    before = f" It passed its smoke test in {', '.join(done)}." if done else ""
    message = (
        f"Version {request.version} of {settings.group} ({request.model_package_arn}) waits for your approval "
        f"before it is deployed to {environment} ({request.reason}; execution {execution_name}).{before}\n\n"
        f"To approve:\n  aws stepfunctions send-task-success --region {region} --task-token {token} "
        f"--task-output '{{\"approved\": true}}'\n\n"
        f"To refuse (the rollout stops, {environment} keeps its model):\n  aws stepfunctions send-task-failure "
        f"--region {region} --task-token {token} --error Refused --cause 'why it was refused'\n\n"
        f"Without an answer within {timeout_hours} hours the rollout stops the same way. The execution: "
        f"{execution_arn(settings.state_machine_arn, execution_name)}"
    )
    return subject(f"{settings.group} v{request.version}: approve deployment to {environment}?"), message


def live_message(settings: Settings, request: DeployInput, environment: str, execution_name: str,
                 smoke: dict[str, Any] | None) -> tuple[str, str]:  # fmt: skip
    position = request.environments.index(environment) if environment in request.environments else -1
    remaining = request.environments[position + 1 :] if position >= 0 else []
    nxt = f"Next: {', '.join(remaining)}." if remaining else "The rollout is complete."
    result = f" {smoke['summary']}." if smoke and smoke.get("summary") else ""
    what = "rolled back to" if request.reason == "rollback" else "serving"
    message = (
        f"{environment} is now {what} version {request.version} of {settings.group} ({request.model_package_arn})."
        f"{result} {nxt} (execution {execution_name})"
    )
    return subject(f"{settings.group} v{request.version} is live in {environment}"), message


def failure_message(settings: Settings, request: DeployInput, environment: str, execution_name: str,
                    error: TaskError | None) -> tuple[str, str]:  # fmt: skip
    """(subject, message) of a failed step: the error, what stays live, and the command that retries."""
    cause = error.cause if error else ""
    try:  # Lambda errors arrive as {"errorMessage": ..., "errorType": ...} in the cause
        details = json.loads(cause)
        cause = str(details.get("errorMessage", cause)) if isinstance(details, dict) else cause
    except ValueError:
        pass
    kind = error.error if error and error.error else "error"
    if kind == "States.Timeout" and not cause:
        cause = "no answer to the approval request in time (the rollout stops as if refused)"
    position = request.environments.index(environment) if environment in request.environments else 0
    retry = request.model_copy(update={"environments": request.environments[position:]})
    command = (
        f"aws stepfunctions start-execution --state-machine-arn {shlex.quote(settings.state_machine_arn)} "
        f"--input {shlex.quote(json.dumps(retry.model_dump(), separators=(',', ':')))}"
    )
    message = (
        f"Deploying version {request.version} of {settings.group} ({request.model_package_arn}, "
        f"{request.reason}) to {environment} failed: {kind}: {cause}\n\nThe rollout stopped; the environments after "
        f"{environment} were not touched. Unless the message above says otherwise, {environment} keeps the model it "
        f"served before (a failed stack update is rolled back). A smoke-test failure happens after the update: "
        f"the new model then serves {environment}; reject it in SageMaker Studio to roll back.\n\nTo retry from "
        f"{environment} once the cause is fixed:\n  {command}\n\n(execution {execution_name})"
    )
    return subject(f"{settings.group} v{request.version}: deployment to {environment} FAILED"), message
