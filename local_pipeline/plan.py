"""The plan: every step of the definition (condition branches included), what each waits for, and an order.

Everything is checked here, before the first step starts: step names are unique, every step type has an executor,
every reference names a declared parameter, a known execution variable, an existing step and property file,
``DependsOn`` names existing steps, and nothing depends on itself in a cycle. A step waits for every step whose
properties its own expressions read (``Get: Steps.X...``, including the property files ``Std:JsonGet`` reads), for
its ``DependsOn`` and for the condition step whose branch holds it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from local_pipeline.errors import DefinitionError, ExpressionError
from local_pipeline.expressions import EXECUTION_VARIABLES, FUNCTIONS, STEP_REFERENCE, Json, parse_property_path


@dataclass(frozen=True)
class StepNode:
    """A step of the definition, wherever it is nested, with everything it waits for."""

    name: str
    type: str
    body: dict[str, Json]
    parent: str | None  # the condition step whose branch holds this step
    branch: str | None  # "IfSteps" or "ElseSteps"
    depends_on: tuple[str, ...]

    @property
    def arguments(self) -> dict[str, Json]:
        arguments = self.body.get("Arguments", {})
        if not isinstance(arguments, dict):
            raise DefinitionError(f"step {self.name}: Arguments must be an object")
        return arguments


def _own_expressions(step: dict[str, Json]) -> Json:
    """The part of a step that it evaluates itself (a condition step's branches are steps of their own)."""
    arguments = step.get("Arguments", {})
    if step.get("Type") == "Condition" and isinstance(arguments, dict):
        return arguments.get("Conditions", [])
    return arguments


def _scan(node: Json) -> Iterator[tuple[str, str]]:
    """Every ``Get`` reference and function name in an expression tree: ("Get", ref) / ("function", name)."""
    if isinstance(node, list):
        for item in node:
            yield from _scan(item)
    elif isinstance(node, dict):
        if len(node) == 1 and isinstance(node.get("Get"), str):
            yield "Get", node["Get"]
            return
        for key, value in node.items():
            if key.startswith("Std:"):
                yield "function", key
            yield from _scan(value)


def _flatten(
    steps: Json, parent: str | None = None, branch: str | None = None
) -> Iterator[tuple[dict[str, Json], str | None, str | None]]:
    if not isinstance(steps, list):
        raise DefinitionError(f"{f'{parent}.{branch}' if parent else 'Steps'}: expected a list of steps")
    for step in steps:
        if not isinstance(step, dict) or not isinstance(step.get("Name"), str) or not isinstance(step.get("Type"), str):
            where = f"{parent}.{branch}" if parent else "Steps"
            raise DefinitionError(f"{where}: every step needs a Name and a Type, got {str(step)[:200]}")
        yield step, parent, branch
        if step["Type"] == "Condition":
            arguments = step.get("Arguments", {})
            for name in ("IfSteps", "ElseSteps"):
                yield from _flatten(arguments.get(name, []), step["Name"], name)


def _check_reference(
    step: str, reference: str, parameters: Mapping[str, Json], steps: Mapping[str, dict[str, Json]]
) -> str | None:
    """The step ``reference`` reads (None for a parameter or execution variable); a bad reference is an error."""
    namespace, _, name = reference.partition(".")
    if namespace == "Parameters":
        if name not in parameters:
            raise DefinitionError(
                f"step {step} reads parameter {name!r}, which the definition does not declare "
                f"(declared: {', '.join(sorted(parameters))})"
            )
        return None
    if namespace == "Execution":
        if name not in EXECUTION_VARIABLES:
            raise DefinitionError(
                f"step {step} reads unknown execution variable {name!r} (known: {EXECUTION_VARIABLES})"
            )
        return None
    match = STEP_REFERENCE.match(reference)
    if match is None:
        raise DefinitionError(f"step {step}: cannot read {reference!r} (expected Parameters., Execution. or Steps.)")
    target = match["step"]
    if target not in steps:
        raise DefinitionError(
            f"step {step} reads {reference}, but the definition has no step {target!r} (steps: {', '.join(steps)})"
        )
    if target == step:
        raise DefinitionError(f"step {step} reads its own property {reference}")
    if match["path"].startswith(".PropertyFiles."):
        file_name = match["path"].removeprefix(".PropertyFiles.")
        declared = [item.get("PropertyFileName") for item in steps[target].get("PropertyFiles", [])]
        if file_name not in declared:
            raise DefinitionError(
                f"step {step} reads property file {file_name!r} of step {target}, which declares "
                f"{declared or 'no property files'}"
            )
    else:
        try:
            parse_property_path(match["path"])
        except ExpressionError as exc:
            raise DefinitionError(f"step {step} reads {reference}: {exc}") from None
    return target


SUPPORTED_STEP_TYPES = ("Processing", "Training", "Condition", "Fail", "RegisterModel")


def plan(definition: Mapping[str, Json], parameters: Mapping[str, Json]) -> list[StepNode]:
    """Every step of ``definition`` in an order that respects its dependencies (definition order among equals).

    Checks, before anything runs: names are unique, types supported, every reference names a declared parameter,
    a known execution variable, an existing step and property file; ``DependsOn`` names existing steps; no cycle.
    """
    flat = list(_flatten(definition.get("Steps")))
    by_name: dict[str, dict[str, Json]] = {}
    for step, _, _ in flat:
        if step["Name"] in by_name:
            raise DefinitionError(f"two steps are named {step['Name']!r}")
        by_name[step["Name"]] = step
    nodes: list[StepNode] = []
    for step, parent, branch in flat:
        name, kind = step["Name"], step["Type"]
        if kind not in SUPPORTED_STEP_TYPES:
            raise DefinitionError(
                f"step {name} has type {kind!r}, which the local runner does not support "
                f"(it runs {', '.join(SUPPORTED_STEP_TYPES)})"
            )
        depends: list[str] = [parent] if parent else []
        for kind_of, value in _scan(_own_expressions(step)):
            if kind_of == "function" and value not in FUNCTIONS:
                raise DefinitionError(f"step {name} uses function {value}, which the local runner does not support")
            target = _check_reference(name, value, parameters, by_name) if kind_of == "Get" else None
            if target is not None and target not in depends:
                depends.append(target)
        for target in step.get("DependsOn", []) or []:
            if target not in by_name:
                raise DefinitionError(f"step {name} DependsOn {target!r}, which is not a step of the definition")
            if target not in depends:
                depends.append(target)
        nodes.append(StepNode(name, kind, step, parent, branch, tuple(depends)))
    return _order(nodes)


def _order(nodes: list[StepNode]) -> list[StepNode]:
    ordered: list[StepNode] = []
    placed: set[str] = set()
    waiting = list(nodes)
    while waiting:
        ready = next((node for node in waiting if set(node.depends_on) <= placed), None)
        if ready is None:
            cycle = ", ".join(
                f"{node.name} (waits for {', '.join(sorted(set(node.depends_on) - placed))})" for node in waiting
            )
            raise DefinitionError(f"the steps depend on each other in a cycle: {cycle}")
        ordered.append(ready)
        placed.add(ready.name)
        waiting.remove(ready)
    return ordered
