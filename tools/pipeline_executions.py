"""SageMaker pipeline executions as the Train step sees them: which one carries which inputs, and how each ended.

Every execution of the model-build pipeline carries the ``ModelBuildFingerprint`` parameter: its value is the default
written into the deployed definition (the hash of the definition, step code, dataset spec and sample), never
overridden. Comparing it with the fingerprint of the commit being delivered answers two questions: was this exact
input already trained (so training again is a waste), and does the execution just started run this commit's
definition (lineage).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from config.naming import FINGERPRINT_PARAMETER

logger = logging.getLogger(__name__)

COMMIT_PARAMETER = "GitCommit"
RUNNING = frozenset({"Executing", "Stopping"})
FAILED = frozenset({"Failed", "CompletedWithFailures"})
TERMINAL = frozenset({"Succeeded", "Stopped"}) | FAILED
#: How many of the newest executions are searched for one with the same fingerprint.
RECENT_EXECUTIONS = 100
_DISPLAY_NAME_BAD = re.compile(r"[^a-zA-Z0-9-]+")


class ExecutionFailedError(Exception):
    """The execution did not succeed (failed, stopped, timed out, or runs another definition); the message says why."""


@dataclass(frozen=True)
class FailedStep:
    name: str
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}): {self.reason}"


@dataclass(frozen=True)
class Decision:
    """What to do about the commit's fingerprint: ``start`` a new execution, ``attach`` to one, ``skip``, or let a
    stopping one ``settle`` and decide again (it will end Stopped, and a stopped run trained nothing)."""

    action: Literal["start", "attach", "skip", "settle"]
    message: str
    execution_arn: str | None = None
    #: The newest execution with the same fingerprint (part of the start token, so that a retry after it failed or
    #: was stopped starts a new execution, while two builds deciding on the same state start only one).
    predecessor: str | None = None
    warning: bool = False


def display_name(commit: str) -> str:
    """``commit-<sha>``: SageMaker allows [a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}."""
    return _DISPLAY_NAME_BAD.sub("-", f"commit-{commit}")[:82].strip("-")


def _token(*parts: str) -> str:
    """64 hex characters: within the 32-128 characters SageMaker allows for a ClientRequestToken."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def start_token(commit: str, fingerprint: str, predecessor: str | None) -> str:
    return _token("start", commit, fingerprint, predecessor or "")


def stop_token(execution_arn: str) -> str:
    return _token("stop", execution_arn)


def _pages(call: Callable[..., dict[str, Any]], key: str, **request: Any) -> Iterator[dict[str, Any]]:
    while True:
        page = call(**request)
        yield from page.get(key, [])
        if not page.get("NextToken"):
            return
        request["NextToken"] = page["NextToken"]


def execution_fingerprint(client: Any, execution_arn: str) -> str | None:
    """The execution's ``ModelBuildFingerprint``, or None when its definition has no such parameter.

    Read from the execution's parameters; if they only list the values given at start (as moto does), from the
    default in the definition the execution ran (``DescribePipelineDefinitionForExecution``), which is the value
    the execution used since nobody overrides it.
    """
    for parameter in _pages(
        client.list_pipeline_parameters_for_execution, "PipelineParameters", PipelineExecutionArn=execution_arn
    ):
        if parameter.get("Name") == FINGERPRINT_PARAMETER:
            return str(parameter.get("Value"))
    definition = client.describe_pipeline_definition_for_execution(PipelineExecutionArn=execution_arn)
    try:
        parameters = json.loads(definition.get("PipelineDefinition") or "{}").get("Parameters", [])
    except (json.JSONDecodeError, AttributeError):
        return None
    for parameter in parameters:
        if isinstance(parameter, dict) and parameter.get("Name") == FINGERPRINT_PARAMETER:
            default = parameter.get("DefaultValue")
            return None if default is None else str(default)
    return None


def failed_steps(client: Any, execution_arn: str) -> list[FailedStep]:
    """Every failed step of an execution, with its type (the first key of its metadata, e.g. ``Fail``)."""
    steps = _pages(
        client.list_pipeline_execution_steps,
        "PipelineExecutionSteps",
        PipelineExecutionArn=execution_arn,
        SortOrder="Ascending",
    )
    return [
        FailedStep(
            name=step["StepName"],
            kind=next(iter(step.get("Metadata", {})), "step"),
            reason=step.get("FailureReason")
            or step.get("Metadata", {}).get("Fail", {}).get("ErrorMessage")
            or "no reason given",
        )
        for step in steps
        if step.get("StepStatus") == "Failed"
    ]


def failure_message(client: Any, described: dict[str, Any]) -> str:
    """SageMaker's FailureReason for the execution, plus every failed step's own reason."""
    arn = described["PipelineExecutionArn"]
    reason = described.get("FailureReason") or "no FailureReason given"
    steps = failed_steps(client, arn)
    detail = "; ".join(map(str, steps)) if steps else "no step reported a failure"
    return (
        f"SageMaker pipeline execution {arn} {described['PipelineExecutionStatus']}: {reason}. Failed steps: {detail}"
    )


def _describe(summary: dict[str, Any]) -> str:
    name = summary.get("PipelineExecutionDisplayName") or "no display name"
    return f"{summary['PipelineExecutionArn']} ({name}, {summary['PipelineExecutionStatus']})"


def _recent(client: Any, pipeline_name: str, limit: int) -> Iterator[dict[str, Any]]:
    """The pipeline's executions, newest first, at most ``limit`` of them."""
    summaries = _pages(
        client.list_pipeline_executions,
        "PipelineExecutionSummaries",
        PipelineName=pipeline_name,
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=min(limit, 100),
    )
    for count, summary in enumerate(summaries):
        if count >= limit:
            return
        yield summary


def _trained(summary: dict[str, Any], fingerprint: str, predecessor: str) -> Decision:
    return Decision(
        "skip",
        f"model-build inputs {fingerprint} already trained by {_describe(summary)}: not training again "
        "(--force retrains)",
        summary["PipelineExecutionArn"],
        predecessor,
    )


def _verdict(client: Any, summary: dict[str, Any], fingerprint: str, force: bool) -> Decision | None:
    """What the newest execution with the fingerprint decides on its own; None when only an older success could."""
    arn, status = summary["PipelineExecutionArn"], summary["PipelineExecutionStatus"]
    if status == "Stopping":
        return Decision("settle", f"{_describe(summary)} has the same inputs and is stopping: waiting for it", arn, arn)
    if status in RUNNING:
        return Decision("attach", f"{_describe(summary)} is training the same inputs: waiting for it", arn, arn)
    if force:
        return Decision("start", f"--force: training again although {_describe(summary)} exists", None, arn)
    if status == "Succeeded":
        return _trained(summary, fingerprint, arn)
    gates = [step for step in failed_steps(client, arn) if step.kind == "Fail"] if status in FAILED else []
    if not gates:
        return None
    return Decision(
        "skip",
        f"{_describe(summary)} failed at gate {gates[0]} with the same model-build inputs {fingerprint}: not "
        "training again, the same inputs fail the same gate. Change the model code, data or thresholds, or run "
        "with --force to retrain anyway",
        arn,
        arn,
        warning=True,
    )


def decide(
    client: Any, pipeline_name: str, fingerprint: str, *, force: bool = False, limit: int = RECENT_EXECUTIONS
) -> Decision:
    """Train only when the inputs changed: look for this fingerprint among the pipeline's newest executions.

    The newest execution with the fingerprint decides if it is still running (attach: never two at once), succeeded,
    or failed at a gate (the same inputs fail the same gate); if it failed otherwise or was stopped, an older success
    still means the inputs were trained. ``force`` skips the "already decided" answers, never the attach.
    """
    newest: dict[str, Any] | None = None
    for summary in _recent(client, pipeline_name, limit):
        if newest is not None and summary["PipelineExecutionStatus"] != "Succeeded":
            continue  # once the newest is known, only an older success can still change the answer
        if execution_fingerprint(client, summary["PipelineExecutionArn"]) != fingerprint:
            continue
        if newest is not None:
            return _trained(summary, fingerprint, newest["PipelineExecutionArn"])
        newest = summary
        verdict = _verdict(client, summary, fingerprint, force)
        if verdict is not None:
            return verdict
    if newest is None:
        return Decision("start", f"model-build inputs {fingerprint}: no recent execution trained them")
    why = f"the newest execution with them, {_describe(newest)}, did not succeed"
    return Decision("start", f"model-build inputs {fingerprint}: {why}", None, newest["PipelineExecutionArn"])


def start(
    client: Any, *, pipeline_name: str, commit: str, fingerprint: str, stage: str, predecessor: str | None
) -> str:
    """Start the pipeline on ``commit``; the token makes a retried request return the same execution."""
    response = client.start_pipeline_execution(
        PipelineName=pipeline_name,
        PipelineExecutionDisplayName=display_name(commit),
        PipelineExecutionDescription=f"Train step of stage {stage} for commit {commit} "
        f"(model-build fingerprint {fingerprint})",
        PipelineParameters=[{"Name": COMMIT_PARAMETER, "Value": commit}],
        ClientRequestToken=start_token(commit, fingerprint, predecessor),
    )
    arn: str = response["PipelineExecutionArn"]
    return arn


def check_lineage(client: Any, execution_arn: str, *, commit: str, expected: str) -> None:
    """Fail unless the execution runs the definition of ``commit`` (same ``ModelBuildFingerprint``)."""
    deployed = execution_fingerprint(client, execution_arn)
    if deployed != expected:
        raise ExecutionFailedError(
            f"the deployed pipeline does not run commit {commit}'s definition: expected {FINGERPRINT_PARAMETER} "
            f"{expected}, deployed {deployed or 'none (no such parameter)'} (execution {execution_arn})"
        )


def stop(client: Any, execution_arn: str, why: str) -> None:
    """Ask SageMaker to stop the execution; a failure to stop is logged, never raised over the original error."""
    logger.warning("stopping %s: %s", execution_arn, why)
    try:
        client.stop_pipeline_execution(PipelineExecutionArn=execution_arn, ClientRequestToken=stop_token(execution_arn))
    except Exception:  # already terminal, throttled, no permission: the original reason matters more
        logger.exception("could not stop %s", execution_arn)


def wait(
    client: Any,
    execution_arn: str,
    *,
    deadline: float,
    poll_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll until the execution is terminal; :class:`TimeoutError` once ``clock()`` has passed ``deadline``."""
    while True:
        described: dict[str, Any] = client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        status = described["PipelineExecutionStatus"]
        if status in TERMINAL:
            return described
        left = deadline - clock()
        if left < 0:
            raise TimeoutError(f"{execution_arn} still {status}: the wait bound (TrainingWaitSeconds) ran out")
        logger.info("%s: %s (%.0f s left)", execution_arn, status, left)
        sleep(min(poll_seconds, left + 1))
