"""How long one execution of a SageMaker pipeline definition can take at worst, and how long its caller may wait.

The delivery pipeline's Train step waits for the execution it starts. Its bound must be LONGER than the pipeline's own
worst case (a bound equal to it stops executions that were about to finish), and is derived from the definition
itself, so a step added later, a new retry policy or a longer max runtime moves it without anyone remembering to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Step types that run a SageMaker job, and where their definition keeps the job's stopping condition.
JOB_STEP_TYPES = frozenset({"Processing", "Training", "Transform", "Tuning"})
#: Time a job may take beyond its MaxRuntimeInSeconds: instance provisioning and image pull before the clock starts,
#: uploading outputs after it stops. Generous on purpose: the bound only ends executions that are really stuck.
JOB_OVERHEAD_SECONDS = 15 * 60
#: Time of everything that is not a job (conditions, Fail, RegisterModel) and of the tool's own polling.
PIPELINE_OVERHEAD_SECONDS = 15 * 60
#: CodeBuild's longest build timeout (36 hours), and what the Train step's build needs beyond its wait.
CODEBUILD_MAX_TIMEOUT_SECONDS = 36 * 3600
BUILD_MARGIN_SECONDS = 30 * 60


class UnboundedPipelineError(ValueError):
    """A job step of the definition has no (literal) maximum runtime: its worst case is unknown."""


def _attempts(step: Mapping[str, Any]) -> int:
    """1 + the most retries any of the step's retry policies allows (the policies' attempts do not add up: each
    applies to different exceptions, but the worst case is that one of them is exhausted)."""
    policies = step.get("RetryPolicies") or []
    return 1 + max((int(policy.get("MaxAttempts", 0)) for policy in policies), default=0)


def _max_runtime(step: Mapping[str, Any]) -> int:
    arguments = step.get("Arguments") or {}
    stopping = arguments.get("StoppingCondition") or {}
    runtime = stopping.get("MaxRuntimeInSeconds")
    wait = stopping.get("MaxWaitTimeInSeconds")  # managed spot training: waiting for capacity counts too
    if not isinstance(runtime, int) or isinstance(runtime, bool):
        raise UnboundedPipelineError(
            f"step {step.get('Name')!r} ({step.get('Type')}) has no literal StoppingCondition.MaxRuntimeInSeconds "
            f"(got {runtime!r}): the pipeline's worst case cannot be computed"
        )
    return max(runtime, wait) if isinstance(wait, int) else runtime


def all_steps(steps: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Every step, including those nested in the IfSteps/ElseSteps of condition steps."""
    found: list[Mapping[str, Any]] = []
    for step in steps:
        found.append(step)
        arguments = step.get("Arguments") or {}
        if step.get("Type") == "Condition":
            found.extend(all_steps([*arguments.get("IfSteps", []), *arguments.get("ElseSteps", [])]))
    return found


def worst_case_seconds(definition: Mapping[str, Any]) -> int:
    """Sum over every job step of (max runtime + overhead) x attempts, plus the pipeline's own overhead.

    Every step is counted as if it ran one after the other and every branch ran: an upper bound, never an estimate.
    """
    total = PIPELINE_OVERHEAD_SECONDS
    for step in all_steps(list(definition.get("Steps", []))):
        if step.get("Type") in JOB_STEP_TYPES:
            total += (_max_runtime(step) + JOB_OVERHEAD_SECONDS) * _attempts(step)
    return total


def training_wait_seconds(definition: Mapping[str, Any]) -> int:
    """What the Train step may wait for one execution: the worst case plus 10% (at least 10 minutes) of slack."""
    worst = worst_case_seconds(definition)
    return worst + max(worst // 10, 600)
