"""``Condition``: the conditions (an AND) decide which branch runs; the decision is recorded for the summary.

The branch's steps are planned like any other (:mod:`local_pipeline.plan`); the orchestrator runs a step of a branch
only when its condition step chose that branch (:attr:`Execution.decisions`).
"""

from __future__ import annotations

import logging

from local_pipeline.conditions import evaluate_condition
from local_pipeline.execution import Execution, GateDecision
from local_pipeline.executors.base import Executor, StepOutcome
from local_pipeline.plan import StepNode

logger = logging.getLogger(__name__)


def run_condition(node: StepNode, run: Execution) -> StepOutcome:
    conditions = node.arguments.get("Conditions", [])
    outcomes = tuple(evaluate_condition(condition, run.scope) for condition in conditions)
    outcome = all(item.outcome for item in outcomes)
    decision = GateDecision(node.name, outcome, "IfSteps" if outcome else "ElseSteps", outcomes)
    run.gates.append(decision)
    run.decisions[node.name] = decision.branch
    logger.info(
        "%s: %s -> %s", node.name, "; ".join(item.text for item in outcomes) or "(no conditions)", decision.branch
    )
    return StepOutcome({"Outcome": outcome}, f"{decision.branch}: {'; '.join(item.text for item in outcomes)}")


EXECUTOR = Executor("Condition", run_condition)
