"""The gate file: decisions by name, readable messages naming values, thresholds and intervals; undefined metrics."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sagemaker_code.steps.common import StepError
from sagemaker_code.steps.cost import ConstantCosts
from sagemaker_code.steps.gates import (
    MAX_MESSAGE,
    GatedScores,
    GateThresholds,
    bias_gate,
    cost_gate,
    gate_report,
    quality_gate,
)
from sagemaker_code.steps.metrics import Interval
from sagemaker_code.steps.mitigation import ModelSummary
from sagemaker_code.steps.spec import DatasetSpec, DisparateImpactBounds, Facet

THRESHOLDS = GateThresholds(auc=0.75, cost_margin=0.05, di_lower=0.8, di_upper=1.25)
INTERVAL = Interval(lower=0.6, upper=0.9, confidence=0.95, defined=1000)
AGE = Facet(name="age", column="age_years", values=None, min=None, max=25.0)


def text(gate: dict[str, object]) -> str:
    message = gate["message"]
    assert isinstance(message, str)
    return message


def entry(data: dict[str, object], *keys: str) -> dict[str, object]:
    for key in keys:
        value = data[key]
        assert isinstance(value, dict)
        data = value
    return data


def test_quality_gate_passes_and_fails_at_the_threshold() -> None:
    passed = quality_gate(0.75, INTERVAL, 0.75)
    assert passed["passed"] == 1
    assert passed["message"] == (
        "Quality gate passed: test AUC 0.750 (95% interval 0.600 to 0.900) is at least the threshold 0.75"
    )
    failed = quality_gate(0.7712, INTERVAL, 0.99)
    assert failed["passed"] == 0
    assert failed["message"] == (
        "Quality gate failed: test AUC 0.771 (95% interval 0.600 to 0.900) is below the threshold 0.99"
    )
    assert (failed["auc"], failed["threshold"], failed["auc_interval"]) == (0.7712, 0.99, INTERVAL.as_dict())


def test_undefined_auc_fails_with_the_reason() -> None:
    gate = quality_gate(None, None, 0.75)
    assert gate["passed"] == 0
    assert gate["message"] == (
        "Quality gate failed: test AUC is undefined (the test split has rows of one class only); the threshold is 0.75"
    )


def test_cost_gate_names_the_model_cost_and_the_cheaper_constant(spec: DatasetSpec) -> None:
    constants = ConstantCosts(accept_all=1.5, reject_all=0.7)
    failed = cost_gate(0.99, INTERVAL, constants, margin=0.05, decision_threshold=0.5, spec=spec)
    assert failed["passed"] == 0
    assert failed["message"] == (
        "Cost gate failed: the model costs 0.990 per test row (95% interval 0.600 to 0.900) at decision threshold "
        "0.5; rejecting everyone (credit_risk=2 for every row) costs 0.700; it must cost at most 0.665 (margin 5%)"
    )
    assert failed["limit"] == pytest.approx(0.665)
    assert (failed["best_constant"], failed["best_constant_cost_per_row"]) == ("reject_all", 0.7)
    passed = cost_gate(0.533, INTERVAL, constants, margin=0.05, decision_threshold=0.907, spec=spec)
    assert passed["passed"] == 1
    assert text(passed).startswith("Cost gate passed: the model costs 0.533 per test row")
    assert text(passed).endswith("the limit is 0.665 (margin 5%)")


def test_cost_gate_limit_is_inclusive_and_accepting_can_be_the_cheaper_constant(spec: DatasetSpec) -> None:
    constants = ConstantCosts(accept_all=0.3, reject_all=0.7)
    at_limit = cost_gate(0.3 * 0.9, None, constants, margin=0.1, decision_threshold=0.4, spec=spec)
    assert at_limit["passed"] == 1
    assert "accepting everyone (credit_risk=1 for every row) costs 0.300" in text(at_limit)
    assert "no bootstrap interval" in text(at_limit)
    above = cost_gate(0.3 * 0.9 + 0.001, None, constants, margin=0.1, decision_threshold=0.4, spec=spec)
    assert above["passed"] == 0
    assert "(margin 10%)" in text(above)


def groups(disadvantaged: list[int], y: list[int], predicted: list[int]) -> tuple[np.ndarray, ...]:
    return np.array(disadvantaged), np.array(y), np.array(predicted)


def run_bias(
    disadvantaged: list[int], y: list[int], predicted: list[int], di: float | None, spec: DatasetSpec
) -> dict[str, object]:
    member, labels, decisions = groups(disadvantaged, y, predicted)
    return bias_gate(
        [(AGE, member)],
        labels,
        decisions,
        disparate_impacts={"age": di},
        intervals={"age": INTERVAL},
        thresholds=THRESHOLDS,
        spec=spec,
    )


def test_bias_gate_names_di_group_sizes_and_base_rates(spec: DatasetSpec) -> None:
    # d: 4 rows, 2 labelled positive, 1 predicted positive; a: 6 rows, 4 labelled positive, 4 predicted positive.
    member, labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 1, 1, 1, 1, 0, 0]
    gate = run_bias(member, labels, [1, 0, 0, 0, 1, 1, 1, 0, 1, 0], di=(1 / 4) / (4 / 6), spec=spec)
    assert gate["passed"] == 0
    assert gate["message"] == (
        "Bias gate failed: disparate impact must be within [0.8, 1.25]; facet 'age' (age_years): DI 0.375 (95% "
        "interval 0.600 to 0.900) below the lower bound 0.8; disadvantaged group 4 of 10 test rows (label positive "
        "rate 0.500, predicted positive rate 0.250), others 6 (0.667, 0.667). To do: if your policy bounds a facet "
        "otherwise, set its facets[].disparate_impact {lower, upper} in the dataset spec. Details: gates.json"
    )
    facet = entry(gate, "facets", "age")
    assert facet["disadvantaged"] == {"rows": 4, "label_positive_rate": 0.5, "predicted_positive_rate": 0.25}
    assert facet["problem"] is None


def test_bias_gate_passes_within_the_bounds(spec: DatasetSpec) -> None:
    gate = run_bias([1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0], di=1.0, spec=spec)
    assert gate["passed"] == 1
    assert text(gate).startswith(
        "Bias gate passed: disparate impact within [0.8, 1.25] for every facet; facet 'age' (age_years): DI 1.000"
    )
    above = run_bias([1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 0], di=2.0, spec=spec)
    assert above["passed"] == 0
    assert "DI 2.000 (95% interval 0.600 to 0.900) above the upper bound 1.25" in text(above)


@pytest.mark.parametrize(
    ("disadvantaged", "predicted", "problem"),
    [
        pytest.param(
            [0, 0, 0, 0],
            [1, 0, 1, 0],
            "facet 'age': the disadvantaged group has no rows in the test split (0 of 4)",
            id="empty-group",
        ),
        pytest.param(
            [1, 1, 1, 1],
            [1, 0, 1, 0],
            "facet 'age': every test row is in the disadvantaged group (4 of 4), so there is no other group to "
            "compare with",
            id="everyone-in-the-group",
        ),
        pytest.param(
            [1, 1, 0, 0],
            [0, 0, 0, 0],
            "facet 'age': disparate impact is undefined: the model predicts credit_risk=1 for none of the 2 test "
            "rows outside the disadvantaged group",
            id="no-positive-predictions",
        ),
    ],
)
def test_undefined_disparate_impact_fails_readably(
    disadvantaged: list[int], predicted: list[int], problem: str, spec: DatasetSpec
) -> None:
    gate = run_bias(disadvantaged, [1, 0, 1, 0], predicted, di=None, spec=spec)
    assert gate["passed"] == 0
    assert text(gate).startswith(f"Bias gate failed: disparate impact must be within [0.8, 1.25]; {problem}; ")
    assert entry(gate, "facets", "age")["problem"] == problem


def test_a_defined_disparate_impact_missing_from_the_report_is_an_error(spec: DatasetSpec) -> None:
    with pytest.raises(StepError, match=r"no disparate impact for facet 'age' although it is defined"):
        run_bias([1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0], di=None, spec=spec)


def test_failing_facets_come_first_and_long_messages_are_cut(spec: DatasetSpec) -> None:
    facets = [(Facet(f"f{i}", "age_years", None, None, 25.0), np.array([1, 1, 0, 0])) for i in range(12)]
    impacts = {f"f{i}": (0.5 if i == 11 else 1.0) for i in range(12)}
    gate = bias_gate(
        facets,
        np.array([1, 0, 1, 0]),
        np.array([1, 0, 1, 0]),
        disparate_impacts=impacts,
        intervals={},
        thresholds=THRESHOLDS,
        spec=spec,
    )
    message = gate["message"]
    assert isinstance(message, str)
    assert len(message) <= MAX_MESSAGE
    assert message.startswith("Bias gate failed: disparate impact must be within [0.8, 1.25]; facet 'f11' ")
    assert "more facets in gates.json. To do: " in message  # what to do is never cut
    assert message.endswith("Details: gates.json")
    assert gate["passed"] == 0


def test_no_facets_pass_with_a_message(spec: DatasetSpec) -> None:
    gate = bias_gate(
        [], np.array([1, 0]), np.array([1, 0]), disparate_impacts={}, intervals={}, thresholds=THRESHOLDS, spec=spec
    )
    assert gate == {
        "passed": 1,
        "message": "Bias gate passed: the dataset spec names no facets, so there is no disparate impact to check",
        "lower": 0.8,
        "upper": 1.25,
        "facets": {},
        "bias_mitigation": [],
    }


@pytest.mark.parametrize(
    ("thresholds", "problem"),
    [
        (GateThresholds(1.2, 0.05, 0.8, 1.25), "AucThreshold must be within [0, 1], got 1.2"),
        (GateThresholds(0.75, 1, 0.8, 1.25), "CostMargin must be within [0, 1), got 1"),
        (GateThresholds(0.75, -0.1, 0.8, 1.25), "CostMargin must be within [0, 1), got -0.1"),
        (GateThresholds(0.75, 0.05, 0, 1.25), "DisparateImpactLower must be above 0, got 0"),
        (GateThresholds(0.75, 0.05, 1.3, 1.25), "DisparateImpactLower (1.3) must not exceed DisparateImpactUpper"),
    ],
)
def test_threshold_problems_name_the_parameter(thresholds: GateThresholds, problem: str) -> None:
    assert any(item.startswith(problem) for item in thresholds.problems())
    assert THRESHOLDS.problems() == []


def test_gate_report_has_every_gate_by_name(spec: DatasetSpec) -> None:
    y = np.array([1, 1, 1, 0, 1, 0, 1, 1, 0, 1])
    probabilities = np.linspace(0.05, 0.95, 10)
    predicted = (probabilities >= 0.5).astype(int)
    report = gate_report(
        GatedScores(y, probabilities, predicted, 0.5),
        [(AGE, np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]))],
        disparate_impacts={"age": 0.0},
        intervals={"auc": INTERVAL, "cost_per_row": None, "disparate_impact.age": None},
        thresholds=THRESHOLDS,
        spec=spec,
    )
    assert {key: entry(report, key)["passed"] for key in ("quality", "cost", "bias")} == {
        "quality": 0,  # AUC 0.38
        "cost": 0,  # (2 false positives x 5 + 4 false negatives x 1) / 10 = 1.4 > 0.95 x 0.7 (reject all)
        "bias": 0,  # DI 0
    }
    assert report["decision_threshold"] == 0.5
    assert report["thresholds"] == {
        "auc_threshold": 0.75,
        "cost_margin": 0.05,
        "disparate_impact_lower": 0.8,
        "disparate_impact_upper": 1.25,
    }


def test_gate_report_reads_the_cost_from_the_decisions(spec: DatasetSpec) -> None:
    y = np.array([1, 1, 1, 0, 1, 0, 1, 1, 0, 1])
    probabilities = np.linspace(0.05, 0.95, 10)
    predicted = (probabilities >= 0.5).astype(int)
    report = gate_report(
        GatedScores(y, probabilities, predicted, 0.5),
        [],
        disparate_impacts={},
        intervals={"auc": None, "cost_per_row": None},
        thresholds=THRESHOLDS,
        spec=spec,
    )
    cost = report["cost"]
    assert isinstance(cost, dict)
    assert cost["model_cost_per_row"] == pytest.approx(1.4)
    assert cost["constant_costs_per_row"] == {"accept_all": pytest.approx(1.5), "reject_all": pytest.approx(0.7)}
    quality = report["quality"]
    assert isinstance(quality, dict)
    assert quality["auc"] == pytest.approx(8 / 21)


def summaries(none_age: float, reweighed_age: float) -> list[ModelSummary]:
    common = {"decision_threshold": 0.9, "predicted_positive_rate": 0.3}
    return [
        ModelSummary("none", True, 0.773, 0.533, disparate_impacts={"age": none_age}, **common),
        ModelSummary("reweighing", False, 0.776, 0.573, disparate_impacts={"age": reweighed_age}, **common),
    ]


def biased(spec: DatasetSpec, models: list[ModelSummary], facet: Facet = AGE) -> dict[str, object]:
    member, labels, decisions = groups(
        [1, 1, 1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 1, 1, 1, 1, 0, 0], [1, 0, 0, 0, 1, 1, 1, 0, 1, 0]
    )
    return bias_gate(
        [(facet, member)],
        labels,
        decisions,
        disparate_impacts={"age": 0.375},
        intervals={},
        thresholds=THRESHOLDS,
        spec=spec,
        models=models,
    )


def test_a_failed_bias_gate_compares_the_mitigations_and_says_what_to_do(spec: DatasetSpec) -> None:
    passes = text(biased(spec, summaries(0.375, 0.9)))
    assert (
        "Same test split: served (none) DI age 0.375, AUC 0.773, cost 0.533/row; reweighing DI age 0.900, AUC 0.776, "
        "cost 0.573/row (passes). To do: retrain with bias mitigation reweighing (pipeline parameter BiasMitigation "
        "or model_build.bias_mitigation); or if your policy bounds a facet otherwise, set its "
        "facets[].disparate_impact {lower, upper} in the dataset spec. Details: gates.json"
    ) in passes
    fails = text(biased(spec, summaries(0.375, 0.7)))
    assert "reweighing DI age 0.700, AUC 0.776, cost 0.573/row (fails too)" in fails
    assert (
        "To do: bias mitigation reweighing (pipeline parameter BiasMitigation or model_build.bias_mitigation) does "
        "not pass here either; if your policy bounds a facet otherwise" in fails
    )
    assert fails.endswith("else the data, features or cost matrix need work. Details: gates.json")
    served_reweighed = [replace(m, served=not m.served) for m in summaries(0.375, 0.7)]
    text_reweighed = text(biased(spec, served_reweighed))
    assert "served (reweighing) DI age 0.700" in text_reweighed
    assert "none DI age 0.375, AUC 0.773, cost 0.533/row (fails too)" in text_reweighed
    assert "retrain" not in text_reweighed


def test_the_models_side_by_side_are_in_the_gate_file(spec: DatasetSpec) -> None:
    gate = biased(spec, summaries(0.375, 0.9))
    listed = gate["bias_mitigation"]
    assert isinstance(listed, list)
    assert [(m["mitigation"], m["served"], m["passes_bias_gate"]) for m in listed] == [
        ("none", True, False),
        ("reweighing", False, True),
    ]
    assert listed[1]["disparate_impact"] == {"age": 0.9}


def test_a_facets_own_bounds_in_the_spec_decide_for_that_facet(spec: DatasetSpec) -> None:
    loose = Facet("age", "age_years", None, None, 25.0, DisparateImpactBounds(lower=0.3, upper=None))
    gate = biased(spec, summaries(0.375, 0.9), facet=loose)
    assert gate["passed"] == 1
    facet = entry(gate, "facets", "age")
    assert (facet["lower"], facet["upper"], facet["bounds_from_spec"]) == (0.3, 1.25, True)
    assert "DI 0.375 (no bootstrap interval: too few defined resamples) within the bounds (the spec's [0.3, 1.25])" in (
        text(gate)
    )
    strict = Facet("age", "age_years", None, None, 25.0, DisparateImpactBounds(lower=0.5, upper=2.0))
    failed = biased(spec, summaries(0.375, 0.45), facet=strict)
    assert failed["passed"] == 0
    assert "below the lower bound 0.5 (the spec's [0.5, 2])" in text(failed)
    assert "reweighing DI age 0.450, AUC 0.776, cost 0.573/row (fails too)" in text(failed)  # the facet's own bound


def test_a_facet_without_favourable_predictions_says_so(spec: DatasetSpec) -> None:
    gate = run_bias([1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 1, 0], di=0.0, spec=spec)
    assert gate["passed"] == 0
    assert (
        "DI 0.000 (95% interval 0.600 to 0.900) below the lower bound 0.8; the model predicts credit_risk=1 for "
        "none of the 2 test rows in the group;" in text(gate)
    )


def test_the_message_with_what_to_do_stays_within_the_limit(spec: DatasetSpec) -> None:
    facets = [(Facet(f"facet_{i:02d}", "age_years", None, None, 25.0), np.array([1, 1, 0, 0])) for i in range(8)]
    impacts = {f"facet_{i:02d}": 0.1 for i in range(8)}
    models = [
        ModelSummary(name, name == "none", 0.7, 0.5, 0.9, 0.3, disparate_impacts=dict(impacts))
        for name in ("none", "reweighing")
    ]
    gate = bias_gate(
        facets,
        np.array([1, 0, 1, 0]),
        np.array([1, 0, 1, 0]),
        disparate_impacts=impacts,
        intervals={},
        thresholds=THRESHOLDS,
        spec=spec,
        models=models,
    )
    assert len(text(gate)) <= MAX_MESSAGE
    assert text(gate).endswith("Details: gates.json")
