"""The pipeline's gates, decided in Python: one named file (``gates.json``) that the condition steps read by name.

Each gate is ``{"passed": 1 or 0, "message": "...", ...the values it compared}``. The pipeline's condition steps
compare ``<gate>.passed`` with 1 (``Std:JsonGet`` on the property file) and their Fail steps show ``<gate>.message``,
so no condition reads a metric by its position in a list, an undefined metric (an empty facet group, no favourable
prediction, one class only) is a failed gate with a readable message rather than an expression error, and the
messages name the values, the thresholds and the bootstrap interval of every gated metric.

- quality: test AUC >= ``AucThreshold``.
- cost: the model's expected cost per test row <= (1 - ``CostMargin``) x the cheaper constant decision (predict the
  favourable value for every row, or the other value for every row), under the spec's cost matrix.
- bias: disparate impact (DI, read by name from the Clarify-format ``analysis.json``) of every facet within
  [``DisparateImpactLower``, ``DisparateImpactUpper``], or within the facet's own bounds when the dataset spec gives
  them (``facets[].disparate_impact: {lower, upper}``); the message names each facet's DI, group sizes and base rates.
  A failed bias gate also says what to do: the served model and the comparison model (the other bias mitigation,
  trained on the same splits) side by side on the same test split, and the remedies the platform offers.

The gates decide on the point estimates; the intervals are reported so that a reader can see how much a 150-row test
split can tell.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sagemaker_code.steps import contract
from sagemaker_code.steps.common import StepError
from sagemaker_code.steps.cost import ConstantCosts, expected_cost
from sagemaker_code.steps.metrics import Interval, ratio, roc_auc
from sagemaker_code.steps.mitigation import ModelSummary, facet_bounds, remedies
from sagemaker_code.steps.spec import DatasetSpec, Facet

logger = logging.getLogger(__name__)

#: The gates, in the order the pipeline's condition steps check them.
GATES = tuple(gate.key for gate in contract.GATE_SEQUENCE)

#: CloudWatch/SageMaker show at most 1300 characters of a pipeline's failure reason; stay well below.
MAX_MESSAGE = 1000
#: Two costs this close are equal (they are sums of the same products in another order).
_COST_TOLERANCE = 1e-9


@dataclass(frozen=True)
class GateThresholds:
    """The gate settings, as the pipeline passes its parameters to the Evaluate step."""

    auc: float
    cost_margin: float
    di_lower: float
    di_upper: float

    def problems(self) -> list[str]:
        """Why these settings cannot gate anything (parameters can be overridden with any number at start)."""
        checks = [
            (0 <= self.auc <= 1, f"AucThreshold must be within [0, 1], got {self.auc:g}"),
            (0 <= self.cost_margin < 1, f"CostMargin must be within [0, 1), got {self.cost_margin:g}"),
            (self.di_lower > 0, f"DisparateImpactLower must be above 0, got {self.di_lower:g}"),
            (
                self.di_lower <= self.di_upper,
                f"DisparateImpactLower ({self.di_lower:g}) must not exceed DisparateImpactUpper ({self.di_upper:g})",
            ),
        ]
        return [message for ok, message in checks if not ok]

    def as_dict(self) -> dict[str, float]:
        return {
            "auc_threshold": self.auc,
            "cost_margin": self.cost_margin,
            "disparate_impact_lower": self.di_lower,
            "disparate_impact_upper": self.di_upper,
        }


def _number(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def _interval_text(interval: Interval | None) -> str:
    return interval.text() if interval is not None else "no bootstrap interval: too few defined resamples"


def _interval(interval: Interval | None) -> dict[str, float | int] | None:
    return None if interval is None else interval.as_dict()


def _verdict(passed: bool, message: str) -> dict[str, object]:
    """The two fields of a gate that the pipeline reads: the condition step's and the Fail step's."""
    return {
        contract.GATE_PASSED_FIELD: contract.GATE_PASSED if passed else contract.GATE_FAILED,
        contract.GATE_MESSAGE_FIELD: message,
    }


def quality_gate(auc: float | None, interval: Interval | None, threshold: float) -> dict[str, object]:
    if auc is None:
        passed = False
        message = (
            f"Quality gate failed: test AUC is undefined (the test split has rows of one class only); the threshold "
            f"is {threshold:g}"
        )
    else:
        passed = auc >= threshold
        verdict = "is at least" if passed else "is below"
        message = (
            f"Quality gate {'passed' if passed else 'failed'}: test AUC {_number(auc)} ({_interval_text(interval)}) "
            f"{verdict} the threshold {threshold:g}"
        )
    return {
        **_verdict(passed, message),
        "auc": auc,
        "auc_interval": _interval(interval),
        "threshold": threshold,
    }


def cost_gate(
    model_cost: float,
    interval: Interval | None,
    constants: ConstantCosts,
    *,
    margin: float,
    decision_threshold: float,
    spec: DatasetSpec,
) -> dict[str, object]:
    """The model's cost per test row against the cheaper constant decision, with the margin."""
    best_name, best_cost = constants.best
    limit = (1 - margin) * best_cost
    passed = model_cost <= limit + _COST_TOLERANCE
    label = spec.label
    constant = (
        f"accepting everyone ({label.column}={label.positive} for every row)"
        if best_name == "accept_all"
        else f"rejecting everyone ({label.column}={label.negative} for every row)"
    )
    head = (
        f"Cost gate {'passed' if passed else 'failed'}: the model costs {_number(model_cost)} per test row "
        f"({_interval_text(interval)}) at decision threshold {decision_threshold:.3g}; {constant} costs "
        f"{_number(best_cost)}; "
    )
    tail = (
        f"the limit is {_number(limit)} (margin {margin * 100:g}%)"
        if passed
        else f"it must cost at most {_number(limit)} (margin {margin * 100:g}%)"
    )
    return {
        **_verdict(passed, head + tail),
        "model_cost_per_row": model_cost,
        "model_cost_interval": _interval(interval),
        "constant_costs_per_row": constants.as_dict(),
        "best_constant": best_name,
        "best_constant_cost_per_row": best_cost,
        "margin": margin,
        "limit": limit,
        "cost_matrix": {
            "false_positive": spec.cost_matrix.false_positive,
            "false_negative": spec.cost_matrix.false_negative,
        },
    }


@dataclass(frozen=True)
class GroupSummary:
    rows: int
    label_positive_rate: float | None  # base rate: share of the favourable label value
    predicted_positive_rate: float | None

    @classmethod
    def of(cls, group: np.ndarray, y: np.ndarray, predicted: np.ndarray) -> GroupSummary:
        rows = int(group.sum())
        return cls(
            rows=rows,
            label_positive_rate=ratio(float(y[group].sum()), rows),
            predicted_positive_rate=ratio(float(predicted[group].sum()), rows),
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "label_positive_rate": self.label_positive_rate,
            "predicted_positive_rate": self.predicted_positive_rate,
        }


def _facet_problem(name: str, d: GroupSummary, a: GroupSummary, positive: str) -> tuple[str, str] | None:
    """Why DI is undefined for a facet, in words and in short (None when it is defined)."""
    total = d.rows + a.rows
    if d.rows == 0:
        return (
            f"facet '{name}': the disadvantaged group has no rows in the test split (0 of {total})",
            f"facet '{name}': DI undefined, no test row in the disadvantaged group",
        )
    if a.rows == 0:
        return (
            f"facet '{name}': every test row is in the disadvantaged group ({total} of {total}), so there is no "
            "other group to compare with",
            f"facet '{name}': DI undefined, every test row in the disadvantaged group",
        )
    if not a.predicted_positive_rate:
        return (
            f"facet '{name}': disparate impact is undefined: the model predicts {positive} for none of the "
            f"{a.rows} test rows outside the disadvantaged group",
            f"facet '{name}': disparate impact is undefined, no {positive} predicted outside the group",
        )
    return None


def bias_gate(
    facets: Sequence[tuple[Facet, np.ndarray]],
    y: np.ndarray,
    predicted: np.ndarray,
    *,
    disparate_impacts: Mapping[str, float | None],
    intervals: Mapping[str, Interval | None],
    thresholds: GateThresholds,
    spec: DatasetSpec,
    models: Sequence[ModelSummary] = (),
) -> dict[str, object]:
    """DI of every facet within its bounds; ``disparate_impacts`` come from analysis.json (read by name).

    ``models``: the served model and the comparison model on the test split (their DI, AUC and cost), named with
    the remedies in the message of a failed gate.
    """
    lower, upper = thresholds.di_lower, thresholds.di_upper
    positive = f"{spec.label.column}={spec.label.positive}"
    results: dict[str, object] = {}
    failing: list[tuple[str, str]] = []  # (full text, short text) of each facet
    passing: list[tuple[str, str]] = []
    for facet, membership in facets:
        group = membership.astype(bool)
        d, a = GroupSummary.of(group, y, predicted), GroupSummary.of(~group, y, predicted)
        di = disparate_impacts[facet.name]
        problem = _facet_problem(facet.name, d, a, positive)
        if problem is None and di is None:  # analysis.json disagrees with the counts: never a silent pass
            raise StepError(f"analysis.json has no disparate impact for facet '{facet.name}' although it is defined")
        facet_lower, facet_upper, from_spec = facet_bounds(facet, lower, upper)
        passed = problem is None and di is not None and facet_lower <= di <= facet_upper
        interval = intervals.get(facet.name)
        groups = (
            f"disadvantaged group {d.rows} of {d.rows + a.rows} test rows (label positive rate "
            f"{_number(d.label_positive_rate)}, predicted positive rate {_number(d.predicted_positive_rate)}), "
            f"others {a.rows} ({_number(a.label_positive_rate)}, {_number(a.predicted_positive_rate)})"
        )
        rates = (
            f"group {d.rows} of {d.rows + a.rows}, label positive rate {_number(d.label_positive_rate)} vs "
            f"{_number(a.label_positive_rate)}"
        )
        if problem is not None:
            text = f"{problem[0]}; {groups}"
            short = f"{problem[1]} ({rates})"
        else:
            verdict = "within the bounds"
            if not passed:
                below = di is not None and di < facet_lower
                verdict = (
                    f"below the lower bound {facet_lower:g}" if below else f"above the upper bound {facet_upper:g}"
                )
            if from_spec:
                verdict += f" (the spec's [{facet_lower:g}, {facet_upper:g}])"
            text = f"facet '{facet.name}' ({facet.column}): DI {_number(di)} ({_interval_text(interval)}) {verdict}; "
            if di == 0:
                text += f"the model predicts {positive} for none of the {d.rows} test rows in the group; "
            text += groups
            short = f"facet '{facet.name}': DI {_number(di)} {verdict} ({rates})"
        (passing if passed else failing).append((text, short))
        results[facet.name] = {
            "passed": int(passed),
            "problem": None if problem is None else problem[0],
            "column": facet.column,
            "disparate_impact": di,
            "disparate_impact_interval": _interval(interval),
            "lower": facet_lower,
            "upper": facet_upper,
            "bounds_from_spec": from_spec,
            "disadvantaged": d.as_dict(),
            "others": a.as_dict(),
        }
    passed = not failing
    if not facets:
        message = "Bias gate passed: the dataset spec names no facets, so there is no disparate impact to check"
    elif passed:
        message = _fit(f"Bias gate passed: disparate impact within [{lower:g}, {upper:g}] for every facet", [], passing)
    else:
        tail = remedies(models, [facet for facet, _ in facets], lower, upper)
        message = _fit(
            f"Bias gate failed: disparate impact must be within [{lower:g}, {upper:g}]", failing, passing, tail
        )
    return {
        **_verdict(passed, message),
        "lower": lower,
        "upper": upper,
        "facets": results,
        "bias_mitigation": [model.as_dict([facet for facet, _ in facets], lower, upper) for model in models],
    }


def _fit(head: str, failing: list[tuple[str, str]], passing: list[tuple[str, str]], tail: str = "") -> str:
    """``head; facet; facet...; tail`` within :data:`MAX_MESSAGE` characters (a step's FailureReason holds 1,024).

    Each facet comes as its (full, short) text, failing ones first. What fits is taken in this order: every failing
    facet in short, then each in full, then the passing ones in short, then in full; the facets that do not fit even
    in short are left out at the end and counted. The tail (what to do) is always kept."""
    parts = failing + passing
    budget = MAX_MESSAGE - (len(tail) + 2 if tail else 0)
    chosen: list[str] = []  # the text of each facet named so far (a prefix of parts)

    def render(texts: list[str]) -> str:
        left_out = len(parts) - len(texts)
        return "; ".join([head, *texts, *([f"and {left_out} more facets in gates.json"] if left_out else [])])

    for group in (range(len(failing)), range(len(failing), len(parts))):
        for index in group:  # short forms, while they fit
            if len(chosen) != index or len(render([*chosen, parts[index][1]])) > budget:
                break
            chosen.append(parts[index][1])
        for index in group:  # full forms of those named, where they fit
            if index < len(chosen):
                candidate = [*chosen[:index], parts[index][0], *chosen[index + 1 :]]
                if len(render(candidate)) <= budget:
                    chosen = candidate
    message = render(chosen)
    return f"{message}. {tail}" if tail else message


@dataclass(frozen=True)
class GatedScores:
    """The test split as the gates see it: labels, P(positive) and decisions (1 = positive), the threshold used."""

    y: np.ndarray
    probabilities: np.ndarray
    predicted: np.ndarray
    decision_threshold: float


def gate_report(
    scores: GatedScores,
    facets: Sequence[tuple[Facet, np.ndarray]],
    *,
    disparate_impacts: Mapping[str, float | None],
    intervals: Mapping[str, Interval | None],
    thresholds: GateThresholds,
    spec: DatasetSpec,
    models: Sequence[ModelSummary] = (),
) -> dict[str, object]:
    """gates.json: every gate's decision and message, the settings and the model's decision threshold.

    ``intervals`` holds ``auc``, ``cost_per_row`` and ``disparate_impact.<facet>``; ``disparate_impacts`` the DI of
    each facet as analysis.json reports it.
    """
    y, predicted, cost = scores.y, scores.predicted, spec.cost_matrix
    report: dict[str, object] = {
        contract.QUALITY_GATE.key: quality_gate(roc_auc(y, scores.probabilities), intervals["auc"], thresholds.auc),
        contract.COST_GATE.key: cost_gate(
            expected_cost(y, predicted, cost.false_positive, cost.false_negative),
            intervals["cost_per_row"],
            ConstantCosts.of(y, cost.false_positive, cost.false_negative),
            margin=thresholds.cost_margin,
            decision_threshold=scores.decision_threshold,
            spec=spec,
        ),
        contract.BIAS_GATE.key: bias_gate(
            facets,
            y,
            predicted,
            disparate_impacts=disparate_impacts,
            intervals={facet.name: intervals.get(f"disparate_impact.{facet.name}") for facet, _ in facets},
            thresholds=thresholds,
            spec=spec,
            models=models,
        ),
        "thresholds": thresholds.as_dict(),
        "decision_threshold": scores.decision_threshold,
    }
    for gate in GATES:
        entry = report[gate]
        assert isinstance(entry, dict)  # noqa: S101 - built just above
        logger.info("%s", entry[contract.GATE_MESSAGE_FIELD])
    return report
