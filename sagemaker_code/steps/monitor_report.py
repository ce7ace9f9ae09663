"""The monitor's report: its sections (figures of the window), the CloudWatch metric data and the Markdown page.

The metric data and the page are derived from the JSON report (monitoring_report.json), never computed on the side,
so the dashboard, the alarms and the page a person reads after an alarm always show the same figures. Metric names
and dimensions are the issue 11 interfaces' (Dimensions Environment and Endpoint, plus Feature or Facet for the
per-feature and per-facet ones); a figure that does not exist in this window (no rows, no labels, an undefined DI) is
not published at all, so an alarm sees missing data rather than a made-up 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain

from sagemaker_code.steps import bias
from sagemaker_code.steps.capture import Capture, GroundTruth, join_labels, nanoseconds
from sagemaker_code.steps.drift import LiveFeature, holm, psi
from sagemaker_code.steps.metrics import Confusion, roc_auc
from sagemaker_code.steps.prediction_baseline import PredictionBaseline, score_histogram
from sagemaker_code.steps.spec import DatasetSpec, Facet
from sagemaker_code.steps.transform import category_table, factorized, number_table

STATE_TEXT = {
    "ok": "OK: no figure outside its threshold",
    "alert": "ALERT: at least one figure outside its threshold",
    "insufficient_data": "Insufficient data: too few captured rows for drift and bias figures (not an alarm)",
    "no_live_model": "No live model: the endpoint serves no registered model package, nothing to compare",
}


@dataclass(frozen=True)
class Thresholds:
    min_rows: int
    psi: float
    alpha: float
    di_lower: float
    di_upper: float


def data_quality(features: list[LiveFeature], capture: Capture, thresholds: Thresholds) -> dict[str, object]:
    """Drift, missing values and schema violations of the window's features (Holm-adjusted test p-values)."""
    adjusted = holm([feature.drift.p_value for feature in features])
    rows = int(capture.in_window.sum())
    captured = rows + capture.problems.total
    entries = []
    for feature, p_adjusted in zip(features, adjusted, strict=True):
        entry = feature.as_dict()
        psi_value = feature.drift.psi
        drifted = (psi_value is not None and psi_value >= thresholds.psi) or (
            p_adjusted is not None and p_adjusted < thresholds.alpha
        )
        entry.update(p_value_adjusted=p_adjusted, violation_rows=int(feature.violations.sum()), drifted=drifted)
        entries.append(entry)
    violating = np.zeros(rows, dtype=bool)
    for feature in features:
        violating |= feature.violations
    psis = [feature.drift.psi for feature in features if feature.drift.psi is not None]
    return {
        "drifted_features": sum(bool(entry["drifted"]) for entry in entries),
        "max_feature_psi": max(psis) if psis else None,
        "missing_value_rate": max(
            (float(feature.missing.mean()) for feature in features if feature.rows), default=None
        ),
        "schema_violation_rate": (int(violating.sum()) + capture.problems.total) / captured if captured else None,
        "rows_with_violation": int(violating.sum()),
        "features": entries,
    }


def prediction_drift(scores: np.ndarray, decided: np.ndarray, baseline: PredictionBaseline | None) -> dict[str, object]:
    """Score PSI against the test split and the positive rate; unavailable for a package without the baseline."""
    positive_rate = float(decided.mean()) if decided.size else None
    if baseline is None:
        reason = "the live package's evaluation.json has no prediction_baseline (registered before it existed)"
        return {"available": False, "reason": reason, "psi": None, "positive_rate": positive_rate}
    return {
        "available": True,
        "reason": None,
        "psi": psi(baseline.counts, score_histogram(scores, baseline.edges)),
        "positive_rate": positive_rate,
        "baseline_positive_rate": baseline.positive_rate,
        "baseline_rows": baseline.rows,
    }


def model_quality(
    capture: Capture, truth: GroundTruth, decided: np.ndarray, spec: DatasetSpec, *, min_rows: int, since: datetime
) -> dict[str, Any]:
    """Quality on the rows of the look-back (predictions of its hours) whose label arrived by the window's end."""
    keys = capture.keys.copy()
    keys[capture.times < nanoseconds(since)] = None  # predicted before the look-back
    rows, labels = join_labels(keys, truth)
    y = (labels == spec.label.positive).astype(np.int64)
    confusion = Confusion.of(y, decided[rows])
    cost = spec.cost_matrix
    return {
        "labels_configured": True,
        "labelled_rows": int(rows.size),
        "sufficient": bool(rows.size >= min_rows),
        "auc": roc_auc(y, capture.probabilities[rows]) if rows.size else None,
        "accuracy": confusion.accuracy(),
        "expected_cost": confusion.cost_weighted_error(cost.false_positive, cost.false_negative),
        "ground_truth": {
            "lines": truth.lines,
            "labels": len(truth.labels),
            "duplicates": truth.duplicates,
            "problems": truth.problems.as_dict(),
        },
    }


def facet_membership(facet: Facet, cells: pd.Series, missing_values: tuple[str, ...]) -> np.ndarray:
    """The disadvantaged group as evaluate.facet_membership defines it (missing is not in the group), per distinct
    value: values match the trimmed text, min/max bound the number."""
    codes, uniques = factorized(cells)
    if facet.values is not None:
        texts, _ = category_table(uniques, missing_values)
        member = np.array([text in facet.values for text in texts] + [False], dtype=bool)
    else:
        numbers, _ = number_table(uniques, missing_values)
        low = -math.inf if facet.min is None else facet.min
        high = math.inf if facet.max is None else facet.max
        member = np.append((numbers >= low) & (numbers <= high), False)
    return np.asarray(member[np.where(codes >= 0, codes, len(uniques))])


def bias_drift(
    features: pd.DataFrame, decided: np.ndarray, spec: DatasetSpec, thresholds: Thresholds
) -> dict[str, object]:
    """DI of the predicted labels per facet of the spec, against the facet's bounds or the pipeline's."""
    entries = []
    favourable = decided.astype(bool)
    for facet in spec.facets:
        group = facet_membership(facet, features[facet.column], spec.format.missing_values)
        value = bias.disparate_impact(bias.Groups(disadvantaged=group, label=favourable, predicted=favourable))
        bounds = facet.disparate_impact
        lower = bounds.lower if bounds and bounds.lower is not None else thresholds.di_lower
        upper = bounds.upper if bounds and bounds.upper is not None else thresholds.di_upper
        violation = value is not None and not lower <= value <= upper
        entries.append(
            {"facet": facet.name, "column": facet.column, "disparate_impact": value, "lower": lower,
             "upper": upper, "violation": violation, "disadvantaged_rows": int(group.sum())}
        )  # fmt: skip
    return {"violations": sum(bool(entry["violation"]) for entry in entries), "facets": entries}


def alerts(report: Mapping[str, Any], thresholds: Thresholds) -> list[str]:
    """What is outside its threshold, in words (the report's state is "alert" when there is anything)."""
    found = []
    quality = report.get("data_quality") or {}
    for feature in quality.get("features", []):
        if feature["drifted"]:
            found.append(
                f"feature {feature['feature']} drifted (PSI {_number(feature['psi'])}, "
                f"p {_number(feature['p_value_adjusted'])})"
            )
    prediction = report.get("prediction") or {}
    if isinstance(prediction.get("psi"), float) and prediction["psi"] >= thresholds.psi:
        found.append(f"prediction scores drifted (PSI {prediction['psi']:.3f})")
    for facet in (report.get("bias") or {}).get("facets", []):
        if facet["violation"]:
            bounds = f"[{facet['lower']}, {facet['upper']}]"
            found.append(f"facet {facet['facet']}: DI {facet['disparate_impact']:.3f} outside {bounds}")
    return found


def _datum(name: str, value: float, dimensions: Mapping[str, str], stamp: datetime) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": [{"Name": key, "Value": text} for key, text in dimensions.items()],
        "Value": float(value),
        "Timestamp": stamp,
    }


def _section(report: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = report.get(key)
    return value if isinstance(value, Mapping) else {}


def metric_data(report: Mapping[str, Any], stamp: datetime) -> list[dict[str, Any]]:
    """The report's figures as PutMetricData data (without the namespace), at the window's end."""
    base = {"Environment": str(report["environment"]), "Endpoint": str(report["endpoint"])}
    rows = _section(report, "rows")
    data = [
        _datum("CapturedRows", rows.get("captured", 0), base, stamp),
        _datum("InsufficientData", 0 if report["state"] in ("ok", "alert") else 1, base, stamp),
    ]
    if report["state"] == "no_live_model":
        return data

    def add(name: str, value: object, dimensions: Mapping[str, str] = base) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            data.append(_datum(name, value, dimensions, stamp))

    quality = _section(report, "data_quality")
    if quality:
        add("DriftedFeatures", quality.get("drifted_features"))
        add("MaxFeaturePSI", quality.get("max_feature_psi"))
        add("MissingValueRate", quality.get("missing_value_rate"))
        add("SchemaViolationRate", quality.get("schema_violation_rate"))
        for feature in quality.get("features", []):
            dimensions = {**base, "Feature": str(feature["feature"])}
            add("FeaturePSI", feature.get("psi"), dimensions)
            add("FeatureMissingRate", feature.get("missing_rate"), dimensions)
    prediction = _section(report, "prediction")
    add("PredictionPSI", prediction.get("psi"))
    add("PositiveRate", prediction.get("positive_rate"))
    labels = _section(report, "model_quality")
    if labels.get("labels_configured"):
        add("LabelledRows", labels.get("labelled_rows"))
        if labels.get("sufficient"):
            add("AUC", labels.get("auc"))
            add("Accuracy", labels.get("accuracy"))
            add("ExpectedCost", labels.get("expected_cost"))
    bias = _section(report, "bias")
    if bias:
        add("BiasViolations", bias.get("violations"))
        for facet in bias.get("facets", []):
            add("DisparateImpact", facet.get("disparate_impact"), {**base, "Facet": str(facet["facet"])})
    return data


def _number(value: object, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value else f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]


def markdown(report: Mapping[str, Any]) -> str:
    """A page a person reads after an alarm: the state, why, and every figure against its threshold."""
    window, settings = _section(report, "window"), _section(report, "settings")
    lines = [
        f"# Monitoring report: {report['endpoint']} ({report['environment']})",
        "",
        f"**{STATE_TEXT.get(str(report['state']), str(report['state']))}**",
        "",
        f"- Window: {window.get('start')} to {window.get('end')} ({window.get('hours')} h)",
        f"- Model package: {_section(report, 'model_package').get('arn', 'none')}",
        f"- Captured rows: {_section(report, 'rows').get('captured', 0)} (minimum {settings.get('min_rows')}), "
        f"unparsable records: {_section(report, 'rows').get('unparsable_records', 0)}",
    ]
    alerts = report.get("alerts") or []
    if alerts:
        lines += ["", "## Alerts", "", *(f"- {alert}" for alert in alerts)]
    quality = _section(report, "data_quality")
    if quality:
        lines += [
            "",
            "## Feature drift and data quality",
            "",
            f"PSI threshold {settings.get('psi_threshold')}, test alpha {settings.get('p_value')} (Holm-adjusted "
            f"p-values); schema violation rate {_number(quality.get('schema_violation_rate'))}, highest missing "
            f"rate {_number(quality.get('missing_value_rate'))}.",
            "",
        ]
        rows = [
            [
                str(f["feature"]),
                str(f["type"]),
                _number(f.get("psi")),
                f"{f.get('test')} {_number(f.get('p_value_adjusted'))}",
                _number(f.get("missing_rate")),
                str(f.get("violation_rows", 0)),
                "**drift**" if f.get("drifted") else "",
            ]
            for f in quality.get("features", [])
        ]
        lines += _table(["feature", "type", "PSI", "test p (adj.)", "missing", "violations", ""], rows)
    prediction = _section(report, "prediction")
    if prediction:
        lines += ["", "## Predictions", ""]
        if prediction.get("available"):
            baseline_rate = _number(prediction.get("baseline_positive_rate"))
            lines.append(
                f"Score PSI {_number(prediction.get('psi'))} vs the test split; positive rate "
                f"{_number(prediction.get('positive_rate'))} (test split {baseline_rate})."
            )
        else:
            lines.append(f"Prediction drift unavailable: {prediction.get('reason')}.")
            if prediction.get("positive_rate") is not None:
                lines.append(f"Positive rate {_number(prediction.get('positive_rate'))}.")
    labels = _section(report, "model_quality")
    if labels:
        lines += ["", "## Model quality (ground truth)", ""]
        if not labels.get("labels_configured"):
            lines.append("No ground-truth location configured.")
        else:
            lines.append(
                f"{labels.get('labelled_rows')} labelled rows in the last {window.get('label_lookback_hours')} h: "
                f"AUC {_number(labels.get('auc'))}, accuracy {_number(labels.get('accuracy'))}, expected cost "
                f"{_number(labels.get('expected_cost'))} per prediction"
                + ("" if labels.get("sufficient") else " (fewer than the minimum rows: not published)")
                + "."
            )
    bias = _section(report, "bias")
    if bias:
        lines += ["", "## Bias (disparate impact of predicted labels)", ""]
        rows = [
            [
                str(f["facet"]),
                _number(f.get("disparate_impact")),
                f"[{f.get('lower')}, {f.get('upper')}]",
                str(f.get("disadvantaged_rows")),
                "**outside**" if f.get("violation") else "",
            ]
            for f in bias.get("facets", [])
        ]
        lines += _table(["facet", "DI", "bounds", "disadvantaged rows", ""], rows)
    problems = _section(_section(report, "rows"), "problems")
    if problems.get("total"):
        lines += ["", "## Unparsable capture records", ""]
        lines += [
            f"- {item['count']} x {item['reason']} (e.g. {', '.join(item['examples'])})"
            for item in problems["by_reason"]
        ]
    return "\n".join(lines) + "\n"
