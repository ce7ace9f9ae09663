"""The orchestrator: one execution of a definition, step after step, in the order the plan gives.

Like the local orchestrator of the Kubeflow Pipelines SDK (``kfp/local``), it checks everything it can before the
first step starts (:mod:`local_pipeline.parameters`, :mod:`local_pipeline.plan`), then dispatches each step to the
executor of its type (:data:`EXECUTORS`), skipping the steps of branches not taken. A step that fails, or a Fail
step, ends the run ``Failed`` with a message that names the step and what is wrong; the steps after it are reported
as not executed. Steps run one at a time; step caching (``CacheConfig``) is not emulated, every step runs.

``python -m local_pipeline.runner`` still runs the command line (:mod:`local_pipeline.cli`).
"""

from __future__ import annotations

import logging
import secrets
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from local_pipeline import summary
from local_pipeline.errors import PipelineFailed, StepError
from local_pipeline.execution import FAILED, SUCCEEDED, Execution, RunResult, StepRecord, arn
from local_pipeline.executors import condition, fail, processing, register, training
from local_pipeline.executors.base import Executor
from local_pipeline.executors.container import python_shim
from local_pipeline.expressions import Json, Scope, now
from local_pipeline.parameters import resolve_parameters
from local_pipeline.plan import StepNode, plan
from local_pipeline.registry import LocalModelRegistry
from local_pipeline.s3 import LocalS3

logger = logging.getLogger(__name__)

DEFAULT_PIPELINE_NAME = "local-pipeline"

#: The executor of each step type the runner supports (the plan refuses any other type before anything runs).
EXECUTORS: dict[str, Executor] = {
    executor.step_type: executor
    for executor in (processing.EXECUTOR, training.EXECUTOR, condition.EXECUTOR, fail.EXECUTOR, register.EXECUTOR)
}


def new_execution_id() -> str:
    """A sortable, unique execution id: UTC time and random hex (lowercase, S3- and job-name-safe)."""
    return f"{datetime.now(UTC).strftime('%Y%m%dt%H%M%S')}-{secrets.token_hex(3)}"


def _should_run(node: StepNode, decisions: Mapping[str, str], executed: Mapping[str, object]) -> bool:
    """A step runs when its branch was chosen and every step it waits for ran."""
    if node.parent is not None and decisions.get(node.parent) != node.branch:
        return False
    return all(name in executed for name in node.depends_on)


def _execute_step(node: StepNode, run: Execution) -> tuple[StepRecord, str | None]:
    """Run one step: its record, and the reason the run fails when the step ends it."""
    started = time.monotonic()
    executor = EXECUTORS[node.type]
    log = run.log(node.name) if executor.runs_container else None

    def record(status: str, message: str) -> StepRecord:
        return StepRecord(node.name, node.type, status, time.monotonic() - started, message, log)

    try:
        outcome = executor.run(node, run)
    except PipelineFailed as failed:
        return record(FAILED, failed.message), failed.message
    except (StepError, OSError) as exc:
        return record(FAILED, str(exc)), f"step {node.name} ({node.type}) failed: {exc}"
    run.scope.steps[node.name] = outcome.properties
    return record(SUCCEEDED, outcome.message), None


def run_pipeline(
    definition: Mapping[str, Json],
    *,
    parameters: Mapping[str, str],
    s3: LocalS3,
    workspace: Path,
    execution_id: str | None = None,
    registry: Path | None = None,
    pipeline_name: str = DEFAULT_PIPELINE_NAME,
) -> RunResult:
    """Execute ``definition`` here: one run, in ``workspace`` (step folders, ``logs/<step>.log``).

    ``parameters`` override the definition's defaults (type-checked); ``registry`` (default
    ``<workspace>/registry``) is the local model registry's folder. Raises :class:`ParameterError` and
    :class:`DefinitionError` before anything runs; a step that fails or a Fail step ends the run ``Failed``.
    """
    values = resolve_parameters(definition.get("Parameters", []), parameters)
    order = plan(definition, values)
    execution_id = execution_id or new_execution_id()
    workspace = workspace.resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    execution = {
        "PipelineExecutionId": execution_id,
        "PipelineExecutionArn": arn("pipeline", f"{pipeline_name}/execution/{execution_id}"),
        "PipelineName": pipeline_name,
        "StartDateTime": now(),
    }
    run = Execution(
        execution_id=execution_id,
        pipeline_name=pipeline_name,
        workspace=workspace,
        s3=s3,
        registry=LocalModelRegistry((registry or workspace / "registry").resolve()),
        scope=Scope(parameters=values, execution=execution, s3=s3),
        bin_dir=python_shim(workspace / "bin"),
    )
    logger.info("pipeline %s: execution %s in %s", pipeline_name, execution_id, workspace)
    if any((node.body.get("CacheConfig") or {}).get("Enabled") for node in order):
        logger.info("step caching is not emulated: CacheConfig is ignored and every step runs")
    started = time.monotonic()
    records: list[StepRecord] = []
    not_executed: list[str] = []
    reason: str | None = None
    for position, node in enumerate(order):
        if not _should_run(node, run.decisions, run.scope.steps):
            not_executed.append(node.name)
            continue
        logger.info("%s (%s): started", node.name, node.type)
        record, reason = _execute_step(node, run)
        records.append(record)
        logger.info("%s (%s): %s in %.1f s", record.name, record.type, record.status, record.seconds)
        if reason is not None:
            logger.error("pipeline %s failed: %s", pipeline_name, reason)
            not_executed += [other.name for other in order[position + 1 :]]
            break
    return RunResult(
        execution_id=execution_id,
        pipeline_name=pipeline_name,
        status=SUCCEEDED if reason is None else FAILED,
        failure_reason=reason,
        steps=tuple(records),
        gates=tuple(run.gates),
        not_executed=tuple(not_executed),
        metrics=summary.evaluation_metrics(run.scope.property_files),
        gate_messages=summary.gate_file_messages(run.scope.property_files),
        registered=run.registered,
        properties=dict(run.scope.steps),
        workspace=workspace,
        seconds=time.monotonic() - started,
    )


if __name__ == "__main__":  # the command line's former home: README and bench/ still run it as a module
    from local_pipeline.cli import main

    sys.exit(main())
