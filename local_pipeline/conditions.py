"""The conditions of a ConditionStep: comparisons, Equals, In, Not and Or, each evaluated to an outcome that also
keeps the compared values and a readable form (the summary prints them: "0.81 >= 0.75").
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import dataclass

from local_pipeline.errors import ExpressionError
from local_pipeline.expressions import Json, Scope, as_text, is_number, resolve


@dataclass(frozen=True)
class ConditionOutcome:
    """One evaluated condition: its type, the values compared, a readable form and the outcome."""

    type: str
    values: tuple[Json, ...]
    text: str
    outcome: bool


_COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanOrEqualTo": (">=", operator.ge),
    "GreaterThan": (">", operator.gt),
    "LessThanOrEqualTo": ("<=", operator.le),
    "LessThan": ("<", operator.lt),
}
CONDITION_TYPES = (*_COMPARISONS, "Equals", "In", "Not", "Or")


def _equal(left: Json, right: Json) -> bool:
    if is_number(left) and is_number(right):
        return bool(float(left) == float(right))
    return type(left) is type(right) and bool(left == right)


#: An In condition's list is written out up to this many values (the instance-type lists hold hundreds).
MAX_LISTED_VALUES = 6


def _values_text(values: list[Json]) -> str:
    if len(values) <= MAX_LISTED_VALUES:
        return as_text(values)
    shown = ", ".join(json.dumps(value) for value in values[: MAX_LISTED_VALUES - 1])
    return f"[{shown}, ... ({len(values)} values)]"


def evaluate_condition(condition: Json, scope: Scope) -> ConditionOutcome:
    """Evaluate one condition of a ConditionStep (comparisons need numbers on both sides)."""
    kind = condition.get("Type") if isinstance(condition, dict) else None
    if kind in _COMPARISONS:
        symbol, compare = _COMPARISONS[kind]
        left, right = resolve(condition.get("LeftValue"), scope), resolve(condition.get("RightValue"), scope)
        if not (is_number(left) and is_number(right)):
            raise ExpressionError(f"condition {kind} compares numbers, got {left!r} and {right!r}")
        return ConditionOutcome(kind, (left, right), f"{as_text(left)} {symbol} {as_text(right)}", compare(left, right))
    if kind == "Equals":
        left, right = resolve(condition.get("LeftValue"), scope), resolve(condition.get("RightValue"), scope)
        return ConditionOutcome(kind, (left, right), f"{as_text(left)} == {as_text(right)}", _equal(left, right))
    if kind == "In":
        query, values = resolve(condition.get("QueryValue"), scope), resolve(condition.get("Values", []), scope)
        outcome = any(_equal(query, value) for value in values)
        return ConditionOutcome(kind, (query, *values), f"{as_text(query)} in {_values_text(values)}", outcome)
    if kind == "Not":
        inner = evaluate_condition(condition.get("Expression"), scope)
        return ConditionOutcome(kind, inner.values, f"not ({inner.text})", not inner.outcome)
    if kind == "Or":
        inners = [evaluate_condition(item, scope) for item in condition.get("Conditions", [])]
        text = " or ".join(f"({inner.text})" for inner in inners)
        return ConditionOutcome(
            kind, tuple(v for inner in inners for v in inner.values), text, any(i.outcome for i in inners)
        )
    raise ExpressionError(f"unsupported condition {kind!r} (supported: {', '.join(CONDITION_TYPES)})")
