"""The interface every executor implements, and the argument checks they share.

An executor takes the step (a :class:`~local_pipeline.plan.StepNode`, its ``Arguments`` still unresolved) and the
:class:`~local_pipeline.execution.Execution` so far, does the step's work, and returns the step's properties (what
later ``Get: Steps.<name>...`` read) and a one-line message for the summary. It raises
:class:`~local_pipeline.errors.StepError` when the step fails (the run ends Failed with the message) and
:class:`~local_pipeline.errors.PipelineFailed` when the step ends the run on purpose (a Fail step).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from local_pipeline.errors import StepError
from local_pipeline.execution import Execution
from local_pipeline.expressions import Json, is_number
from local_pipeline.plan import StepNode


@dataclass(frozen=True)
class StepOutcome:
    properties: dict[str, Json]
    message: str = ""


@dataclass(frozen=True)
class Executor:
    """How the runner executes one step type."""

    step_type: str
    run: Callable[[StepNode, Execution], StepOutcome]
    #: The step runs a container command, whose output goes to ``<workspace>/logs/<step>.log``.
    runs_container: bool = False


def text(value: Json, where: str) -> str:
    if not isinstance(value, str):
        raise StepError(f"{where} must be a string, got {value!r}")
    return value


def string_map(value: Json, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StepError(f"{where} must be an object, got {value!r}")
    return {str(name): text(item, f"{where}.{name}") for name, item in value.items()}


def timeout(arguments: dict[str, Json]) -> float | None:
    """``StoppingCondition.MaxRuntimeInSeconds`` of a job's arguments, if it has one."""
    seconds: Json = (arguments.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    return float(seconds) if is_number(seconds) else None
