"""The conditions of a condition step: comparisons, Equals, In, Not, Or, over resolved operands."""

from __future__ import annotations

from typing import Any

import pytest

from local_pipeline.conditions import evaluate_condition
from local_pipeline.errors import ExpressionError
from tests.local_pipeline.definitions import get, json_get, scope_with_steps


@pytest.mark.parametrize(
    ("kind", "left", "right", "expected"),
    [
        ("GreaterThanOrEqualTo", 0.75, 0.75, True),
        ("GreaterThanOrEqualTo", 0.7, 0.75, False),
        ("GreaterThan", 0.75, 0.75, False),
        ("GreaterThan", 2, 1.5, True),
        ("LessThanOrEqualTo", 1.25, 1.25, True),
        ("LessThan", 1.25, 1.25, False),
        ("LessThan", 1, 1.25, True),
        ("Equals", 1, 1.0, True),
        ("Equals", "a", "b", False),
        ("Equals", True, 1, False),
    ],
)
def test_comparisons(kind: str, left: Any, right: Any, expected: bool) -> None:
    outcome = evaluate_condition({"Type": kind, "LeftValue": left, "RightValue": right}, scope_with_steps())
    assert outcome.outcome is expected
    assert outcome.values == (left, right)


def test_in_not_or_and_resolved_operands() -> None:
    scope = scope_with_steps()
    auc = json_get("Eval", "Evaluation", "metrics.auc.value")
    at_least = {"Type": "GreaterThanOrEqualTo", "LeftValue": auc, "RightValue": get("Parameters.Threshold")}
    outcome = evaluate_condition(at_least, scope)
    assert (outcome.outcome, outcome.values, outcome.text) == (True, (0.81, 0.75), "0.81 >= 0.75")
    assert evaluate_condition({"Type": "Not", "Expression": at_least}, scope).outcome is False
    member = {"Type": "In", "QueryValue": get("Parameters.Name"), "Values": ["y", "x"]}
    assert evaluate_condition(member, scope).outcome is True
    either = {"Type": "Or", "Conditions": [{"Type": "Not", "Expression": member}, at_least]}
    assert evaluate_condition(either, scope).outcome is True
    assert (
        evaluate_condition({"Type": "Or", "Conditions": [{"Type": "Not", "Expression": member}]}, scope).outcome
        is False
    )


def test_ordering_needs_numbers_and_unknown_condition_types_are_errors() -> None:
    with pytest.raises(ExpressionError, match="compares numbers"):
        evaluate_condition({"Type": "LessThan", "LeftValue": "0.5", "RightValue": 1}, scope_with_steps())
    with pytest.raises(ExpressionError, match="unsupported condition 'Between'"):
        evaluate_condition({"Type": "Between"}, scope_with_steps())
