"""What the runner prints at the end of a run: one line per step, the gates and their messages, the evaluation
metrics, the registered package, the failure and where the logs are.

The gates' messages and the metrics come from the property files the definition declares under the contract's names
(``Gates``, ``Evaluation``): the summary shows what the Evaluate step decided, in its own words, without re-reading
its outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from local_pipeline.expressions import Json, as_text
from sagemaker_code.steps.contract import EVALUATION, GATES

if TYPE_CHECKING:  # the records call back into this module to render themselves
    from local_pipeline.execution import RunResult, StepRecord

#: The field of each gate's entry in gates.json that explains the decision (the contract has ``<gate>.message`` as
#: the JSON path of a given gate; the summary prints every gate's, whatever gates the file holds).
GATE_MESSAGE = "message"


#: Steps named in the "not executed" line (the parameter check's branches add two per parameter).
MAX_LISTED_STEPS = 8


def step_line(record: StepRecord) -> str:
    first = record.message.splitlines()[0] if record.message else ""
    return f"  {record.name:<22} {record.type:<14} {record.status:<10} {record.seconds:6.1f} s  {first}".rstrip()


def render(result: RunResult) -> str:
    lines = [
        f"Pipeline {result.pipeline_name}, execution {result.execution_id}: {result.status} in {result.seconds:.1f} s",
        *(step_line(record) for record in result.steps),
    ]
    if result.not_executed:
        shown = result.not_executed[:MAX_LISTED_STEPS]
        more = len(result.not_executed) - len(shown)
        lines.append(f"  not executed: {', '.join(shown)}" + (f" and {more} more" if more else ""))
    lines += [
        f"Gate {gate.step}: {gate.branch} ({'; '.join(c.text for c in gate.conditions)})" for gate in result.gates
    ]
    lines += [f"  {name}: {message}" for name, message in result.gate_messages]
    if result.metrics is not None:
        values = metric_values(result.metrics)
        lines.append("Evaluation: " + (", ".join(f"{k}={as_text(v)}" for k, v in values.items()) or "(no values)"))
    if result.registered is not None:
        package = result.registered
        lines.append(f"Registered {package.group} version {package.version} ({package.status}): {package.path}")
    if result.failure_reason:
        lines.append(f"Failure: {result.failure_reason}")
    lines.append(f"Workspace: {result.workspace} (step logs in {result.workspace / 'logs'})")
    return "\n".join(lines)


def property_file(files: Mapping[tuple[str, str], Json], name: str) -> Json | None:
    """The content of the first property file called ``name``, whichever step wrote it (None if none did)."""
    return next((data for (_, file_name), data in files.items() if file_name == name), None)


def evaluation_metrics(files: Mapping[tuple[str, str], Json]) -> Json | None:
    """The Evaluate step's evaluation.json (the contract's ``Evaluation`` property file), if a step wrote one."""
    return property_file(files, EVALUATION.name)


def gate_file_messages(files: Mapping[tuple[str, str], Json]) -> tuple[tuple[str, str], ...]:
    """The messages of the contract's ``Gates`` property file, if a step wrote one."""
    return gate_messages(property_file(files, GATES.name))


def gate_messages(gates: Json) -> tuple[tuple[str, str], ...]:
    """``{"gate": {"message": "..."}}`` (the Evaluate step's gates.json) -> ((gate, message), ...)."""
    if not isinstance(gates, dict):
        return ()
    return tuple(
        (name, entry[GATE_MESSAGE])
        for name, entry in gates.items()
        if isinstance(entry, dict) and isinstance(entry.get(GATE_MESSAGE), str)
    )


def metric_values(metrics: Json) -> dict[str, Json]:
    """``{"section": {"metric": {"value": v}}}`` (SageMaker's model-quality format) -> ``{"metric": v}``."""
    values: dict[str, Json] = {}
    if isinstance(metrics, dict):
        for section in metrics.values():
            if isinstance(section, dict):
                for name, metric in section.items():
                    if isinstance(metric, dict) and "value" in metric:
                        values[name] = metric["value"]
    return values
