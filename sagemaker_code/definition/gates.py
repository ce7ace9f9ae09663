"""The gates: one condition step and one Fail step per gate, nested in the order of ``contract.GATE_SEQUENCE``.

Every gate is decided by the Evaluate step (:mod:`sagemaker_code.steps.gates`), with the thresholds passed in as
container arguments from the pipeline parameters: a condition step compares ``<gate>.passed`` of the property file
``Gates`` with ``contract.GATE_PASSED``, and its Fail step's message is ``<gate>.message`` from the same file. So no
condition reads a metric by its position in a list, and an undefined metric is a failed gate with a readable message,
not an expression error.
"""

from __future__ import annotations

from typing import Any

from sagemaker.core.workflow.conditions import ConditionEquals
from sagemaker.core.workflow.functions import Join
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep

from sagemaker_code.definition.settings import PipelineSettings
from sagemaker_code.definition.steps import json_get
from sagemaker_code.steps import contract


def descriptions(settings: PipelineSettings) -> dict[str, str]:
    """What each gate checks, by gate key (shown with the condition step in SageMaker Studio)."""
    facets = f" ({', '.join(settings.facets)})" if settings.facets else ""
    return {
        contract.QUALITY_GATE.key: "Test AUC at least AucThreshold",
        contract.COST_GATE.key: "Test cost per row at most (1 - CostMargin) x the cheaper constant decision (accept "
        "or reject all)",
        contract.BIAS_GATE.key: "Disparate impact within [DisparateImpactLower, DisparateImpactUpper] for every facet"
        + facets,
    }


def gate_step(gate: contract.Gate, description: str, evaluate: Any, if_passed: list[Any]) -> ConditionStep:
    """``gate``'s condition step: ``if_passed`` when gates.json says it passed, else its Fail step."""
    return ConditionStep(
        name=gate.condition_step,
        description=description,
        conditions=[
            ConditionEquals(left=json_get(evaluate, contract.GATES, gate.passed_path), right=contract.GATE_PASSED)
        ],
        if_steps=if_passed,
        else_steps=[
            FailStep(
                name=gate.fail_step,
                # Join, the form SageMaker documents for a computed ErrorMessage (a bare JsonGet is not shown)
                error_message=Join(on="", values=[json_get(evaluate, contract.GATES, gate.message_path)]),
            )
        ],
    )


def gate_steps(settings: PipelineSettings, evaluate: Any, register: Any) -> ConditionStep:
    """The first gate, holding the others in turn, and ``register`` behind the last one."""
    texts = descriptions(settings)
    next_steps: list[Any] = [register]
    for gate in reversed(contract.GATE_SEQUENCE):
        next_steps = [gate_step(gate, texts[gate.key], evaluate, next_steps)]
    (first,) = next_steps
    result: ConditionStep = first
    return result
