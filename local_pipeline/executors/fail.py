"""``Fail``: ends the run Failed with the step's resolved ``ErrorMessage`` (a gate's own explanation, usually)."""

from __future__ import annotations

from local_pipeline.errors import PipelineFailed
from local_pipeline.execution import Execution
from local_pipeline.executors.base import Executor, StepOutcome
from local_pipeline.expressions import as_text, resolve
from local_pipeline.plan import StepNode


def run_fail(node: StepNode, run: Execution) -> StepOutcome:
    raise PipelineFailed(as_text(resolve(node.arguments.get("ErrorMessage", ""), run.scope)))


EXECUTOR = Executor("Fail", run_fail)
