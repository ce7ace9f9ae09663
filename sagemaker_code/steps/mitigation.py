"""Bias mitigation of the Train step: reweighing (Kamiran & Calders, 2012), with XGBoost sample weights.

Each train row gets the weight ``P(group) * P(label) / P(group, label)``, where the group is the row's membership of
every facet's disadvantaged group together (for facets age and sex: 4 groups), so that in the weighted train split
the label is independent of the groups: a group whose favourable labels are rarer than the others' gets its
favourable rows weighted up and its unfavourable rows down. The model and its features stay as they are, and serving
never sees the facets: the mitigation is in what the model learns from, not in how it decides. (Per-group decision
thresholds would reach a disparate impact bound on the validation split by construction, but they decide with the
protected attribute at serving time, i.e. treat applicants differently by group, which many jurisdictions forbid in
credit decisions; they also need the facet columns in every request.)

Facet membership comes from the train split's features (the step sees no raw train rows): a numeric facet compares
the column's feature (its value; a missing value imputed with the train median counts as that median, one kept
missing is in no group), a categorical one looks for a one-hot feature of one of the group's values. Early stopping
and the decision threshold stay on the unweighted validation split: the weights change what the model learns, not
what a decision costs.

With several training hosts the counts are summed over the hosts first (``counts`` from :func:`cell_counts`, reduced
with the collective), so every host weights its rows with the same table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from sagemaker_code.steps import bias, contract
from sagemaker_code.steps.common import StepError
from sagemaker_code.steps.cost import expected_cost
from sagemaker_code.steps.metrics import roc_auc
from sagemaker_code.steps.spec import DatasetSpec, Facet
from sagemaker_code.steps.transform import CategoricalFeature, NumericFeature, Transform


def facet_groups(transform: Transform, facets: Sequence[Facet], features: np.ndarray) -> np.ndarray:
    """(rows, facets) booleans: whether each row is in each facet's disadvantaged group, from its features."""
    offsets: dict[str, tuple[NumericFeature | CategoricalFeature, int]] = {}
    offset = 0
    for column in transform.columns:  # each column's own features, in column order (extra ones come after all)
        offsets[column.name] = (column, offset)
        offset += column.width
    expected = len(transform.feature_names)
    if features.ndim != 2 or features.shape[1] != expected:
        raise StepError(f"facet groups: expected {expected} features per row, got shape {features.shape}")
    groups = np.zeros((features.shape[0], len(facets)), dtype=bool)
    for index, facet in enumerate(facets):
        if facet.column not in offsets:
            raise StepError(f"facet '{facet.name}': column {facet.column!r} is not a feature of the transform")
        column, start = offsets[facet.column]
        if isinstance(column, NumericFeature):
            values = features[:, start]
            inside = np.ones(values.shape[0], dtype=bool)
            if facet.min is not None:
                inside &= values >= facet.min
            if facet.max is not None:
                inside &= values <= facet.max
            groups[:, index] = inside
        else:
            wanted = set(facet.values or ())
            positions = [start + i for i, category in enumerate(column.categories) if category in wanted]
            if positions:
                groups[:, index] = features[:, positions].max(axis=1) > 0
    return groups


def group_codes(groups: np.ndarray) -> np.ndarray:
    """Each row's joint group: the facets' memberships as the bits of one integer (0 .. 2**facets - 1)."""
    codes = np.zeros(groups.shape[0], dtype=np.int64)
    for index in range(groups.shape[1]):
        codes |= groups[:, index].astype(np.int64) << index
    return codes


def cell_counts(labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """(2**facets, 2) row counts of each joint group and label (0/1)."""
    cells = np.zeros((1 << groups.shape[1], 2), dtype=np.float64)
    np.add.at(cells, (group_codes(groups), np.asarray(labels, dtype=np.int64)), 1.0)
    return cells


def reweighing_weights(labels: np.ndarray, groups: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """Kamiran & Calders' weight of every row (float32): expected over observed frequency of its (group, label).

    ``counts`` are the (global) :func:`cell_counts`; by default those of these rows. A cell without rows needs no
    weight; the weights of a split average 1 over its rows.
    """
    cells = cell_counts(labels, groups) if counts is None else counts
    total = cells.sum()
    if total == 0:
        raise StepError("reweighing: the train split has no rows")
    expected = np.outer(cells.sum(axis=1), cells.sum(axis=0)) / total
    table = np.divide(expected, cells, out=np.ones_like(cells), where=cells > 0)
    weights: np.ndarray = table[group_codes(groups), np.asarray(labels, dtype=np.int64)].astype(np.float32)
    return weights


def weight_table(counts: np.ndarray, facets: Sequence[Facet]) -> list[dict[str, object]]:
    """The weights by joint group and label, for training.json: what reweighing did, readably."""
    total = counts.sum()
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / total if total else counts
    rows = []
    for code in range(counts.shape[0]):
        if counts[code].sum() == 0:
            continue
        member = {facet.name: bool(code >> index & 1) for index, facet in enumerate(facets)}
        for label in (0, 1):
            observed = counts[code, label]
            rows.append(
                {
                    "disadvantaged": member,
                    "label_positive": bool(label),
                    "rows": int(observed),
                    "weight": float(expected[code, label] / observed) if observed else None,
                }
            )
    return rows


# ---- the side-by-side report (Evaluate's bias gate) --------------------------------------------------------------


def _three(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def facet_bounds(facet: Facet, lower: float, upper: float) -> tuple[float, float, bool]:
    """(lower, upper, from the spec) of a facet's DI: the spec's ``facets[].disparate_impact`` where it gives a bound,
    else ``lower``/``upper`` (the pipeline's ``DisparateImpactLower``/``DisparateImpactUpper``)."""
    own = facet.disparate_impact
    own_lower = None if own is None else own.lower
    own_upper = None if own is None else own.upper
    return (
        lower if own_lower is None else own_lower,
        upper if own_upper is None else own_upper,
        own_lower is not None or own_upper is not None,
    )


@dataclass(frozen=True)
class ModelSummary:
    """One model on the test split, for the side-by-side report of bias mitigation (served model first)."""

    mitigation: str
    served: bool
    auc: float | None
    cost_per_row: float
    decision_threshold: float
    predicted_positive_rate: float
    disparate_impacts: Mapping[str, float | None] = field(default_factory=dict)

    def passes(self, facets: Sequence[Facet], lower: float, upper: float) -> bool:
        """Whether every facet's DI is defined and within its bounds (the spec's, else ``lower``/``upper``)."""
        for facet in facets:
            di = self.disparate_impacts.get(facet.name)
            facet_lower, facet_upper, _ = facet_bounds(facet, lower, upper)
            if di is None or not facet_lower <= di <= facet_upper:
                return False
        return True

    def text(self) -> str:
        impacts = ", ".join(f"{name} {_three(value)}" for name, value in self.disparate_impacts.items())
        return f"DI {impacts}, AUC {_three(self.auc)}, cost {_three(self.cost_per_row)}/row"

    def as_dict(self, facets: Sequence[Facet], lower: float, upper: float) -> dict[str, object]:
        return {
            "mitigation": self.mitigation,
            "served": self.served,
            "auc": self.auc,
            "cost_per_row": self.cost_per_row,
            "decision_threshold": self.decision_threshold,
            "predicted_positive_rate": self.predicted_positive_rate,
            "disparate_impact": dict(self.disparate_impacts),
            "passes_bias_gate": self.passes(facets, lower, upper),
        }


def remedies(models: Sequence[ModelSummary], facets: Sequence[Facet], lower: float, upper: float) -> str:
    """What a failed bias gate's reader can do, with what the comparison model does on the same test split."""
    served = next((model for model in models if model.served), None)
    others = [model for model in models if not model.served]
    spec_bounds = (
        "if your policy bounds a facet otherwise, set its facets[].disparate_impact {lower, upper} in the dataset spec"
    )
    if served is None:
        return f"To do: {spec_bounds}. Details: gates.json"
    parts = [f"Same test split: served ({served.mitigation}) {served.text()}"]
    passing = []
    for other in others:
        passes = other.passes(facets, lower, upper)
        passing += [other.mitigation] if passes else []
        parts.append(f"{other.mitigation} {other.text()} ({'passes' if passes else 'fails too'})")
    head = "; ".join(parts)
    where = "pipeline parameter BiasMitigation or model_build.bias_mitigation"
    if passing:
        todo = f"To do: retrain with bias mitigation {passing[0]} ({where}); or {spec_bounds}"
    elif served.mitigation == contract.NO_MITIGATION:
        todo = (
            f"To do: bias mitigation {contract.REWEIGHING} ({where}) does not pass here either; {spec_bounds}; else "
            "the data, features or cost matrix need work"
        )
    else:
        todo = f"To do: {spec_bounds}; else the data, features or cost matrix need work"
    return f"{head}. {todo}. Details: gates.json"


def summary(
    mitigation: str,
    scored: tuple[np.ndarray, np.ndarray, np.ndarray, float],
    *,
    served: bool,
    spec: DatasetSpec,
    facets: list[tuple[Facet, np.ndarray]],
) -> ModelSummary:
    """One model's AUC, cost and DI per facet on the test split; ``scored``: labels, P(positive), decisions (1 =
    positive) and the model's decision threshold."""
    y, probabilities, predicted, threshold = scored
    cost = spec.cost_matrix
    impacts = {
        facet.name: bias.disparate_impact(
            bias.Groups(disadvantaged=membership.astype(bool), label=y == 1, predicted=predicted == 1)
        )
        for facet, membership in facets
    }
    return ModelSummary(
        mitigation=mitigation,
        served=served,
        auc=roc_auc(y, probabilities),
        cost_per_row=expected_cost(y, predicted, cost.false_positive, cost.false_negative),
        decision_threshold=threshold,
        predicted_positive_rate=float(np.mean(predicted == 1)),
        disparate_impacts=impacts,
    )
