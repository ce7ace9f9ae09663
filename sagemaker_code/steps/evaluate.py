"""Evaluate step: score the test split; write the model metrics, the bias report and the gate decisions.

Inputs: the trained model (``--model``: a folder holding model.tar.gz as the pipeline passes it, the archive itself,
or an unpacked model folder), the test folder of the preprocess step (``test.csv`` and ``test_raw.csv``), the spec,
and the gate settings (the pipeline's parameters ``AucThreshold``, ``CostMargin``, ``DisparateImpactLower`` and
``DisparateImpactUpper``, passed as arguments).

The test split is scored twice: from ``test.csv`` (the features the model was trained on) and from the raw rows of
``test_raw.csv`` through the transform, as the endpoint scores them; any difference (training/serving skew) stops the
step. Metrics use the positive (favourable) label value as class 1 and the *model's* decision threshold (the one in
its transform.json, chosen by the Train step). One seeded bootstrap of the test rows gives every metric's standard
deviation and the percentile interval of each gated metric (AUC, cost per row, DI per facet).

The bias report is computed here rather than by a SageMaker Clarify job (Clarify is closed to new customers; one job
less is also faster and cheaper): the dataset and analysis configuration are written in Clarify's formats (the
dataset has no header row because the configuration gives ``headers``) and :mod:`sagemaker_code.steps.bias` reads them
back, as Clarify would, to write ``analysis.json``.

Outputs under ``--output``::

    evaluation/evaluation.json   SageMaker ModelMetrics (binary_classification_metrics) plus rows, the model's
                                 decision threshold, costs and the bootstrap intervals of the gated metrics, and
                                 the prediction baseline (score histogram, positive rate) the monitor compares with
    bias/dataset.csv             label, predicted_label, facet_<name>... (0/1, no header row)
    bias/analysis_config.json    the SageMaker Clarify analysis configuration of that file
    bias/analysis.json           the bias metrics in Clarify's output format
    gates/gates.json             quality, cost and bias gates: passed (1/0), message, values (see gates.py)

Usage: ``python -m sagemaker_code.steps.evaluate --model DIR --test DIR --spec SPEC.json --output DIR``
``--auc-threshold 0.75 --cost-margin 0.05 --di-lower 0.8 --di-upper 1.25``.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain

if not __package__:  # run as a file (python .../evaluate.py): make `sagemaker_code` importable, see _bootstrap.py
    __import__("_bootstrap")

from sagemaker_code.steps import bias, contract
from sagemaker_code.steps.artifacts import Comparison, load_comparison, load_model_artifacts
from sagemaker_code.steps.common import StepError, read_xgboost_csv, run_step, split_file, write_json
from sagemaker_code.steps.cost import ConstantCosts
from sagemaker_code.steps.gates import GatedScores, GateThresholds, gate_report
from sagemaker_code.steps.inference import ServingModel
from sagemaker_code.steps.metrics import (
    Confusion,
    Interval,
    RankedScores,
    bootstrap_samples,
    percentile_interval,
    roc_auc,
    roc_curve,
)
from sagemaker_code.steps.metrics import standard_deviation as std
from sagemaker_code.steps.mitigation import ModelSummary, summary
from sagemaker_code.steps.prediction_baseline import KEY as PREDICTION_BASELINE
from sagemaker_code.steps.prediction_baseline import prediction_baseline
from sagemaker_code.steps.preprocess import TEST_RAW_FILE, read_table
from sagemaker_code.steps.spec import CsvFormat, DatasetSpec, Facet, load_spec
from sagemaker_code.steps.transform import TransformInputError, parse_number

logger = logging.getLogger(__name__)

#: The container paths the pipeline definition passes (a test checks that they agree).
DEFAULT_MODEL = Path(contract.processing_input(contract.MODEL_INPUT))
DEFAULT_TEST = Path(contract.processing_input(contract.TEST_INPUT))
DEFAULT_SPEC = Path(contract.SPEC_PATH)
DEFAULT_OUTPUT = Path(contract.PROCESSING_OUTPUT)
BOOTSTRAP_RESAMPLES = 1000
#: Coverage of the bootstrap percentile intervals of the gated metrics.
CONFIDENCE = 0.95
#: Rows of test_raw.csv scored through the serving path at a time (the training/serving skew check covers all).
SKEW_CHECK_ROWS = 100_000
#: Largest difference tolerated between scoring test.csv and scoring the raw rows through the transform.
SKEW_TOLERANCE = 1e-6
#: Clarify methods of the bias report; the bias gate reads DI by name (sagemaker_code.steps.bias.metric_value).
PRE_TRAINING_METHODS = contract.PRE_TRAINING_METHODS
POST_TRAINING_METHODS = contract.POST_TRAINING_METHODS
POST_TRAINING = bias.STAGE_OUTPUT["post_training_bias"]


@dataclass(frozen=True)
class ScoredSplit:
    y: np.ndarray  # 1 = positive (favourable) label value
    probabilities: np.ndarray  # P(positive)
    predicted: np.ndarray  # 1 = predicted positive at the model's decision threshold
    raw: pd.DataFrame  # the raw test rows (spec columns)
    decision_threshold: float


def score_test_split(model: ServingModel, test_dir: Path, spec: DatasetSpec) -> ScoredSplit:
    """Score test.csv, check that the raw rows score the same through the transform, apply the model's threshold."""
    label = model.transform.label
    if (label.column, label.positive) != (spec.label.column, spec.label.positive):
        raise StepError(
            f"the model was trained for label {label.column!r} == {label.positive!r}, the spec says "
            f"{spec.label.column!r} == {spec.label.positive!r}: evaluate with the spec the model was trained with"
        )
    if label.decision_threshold is None:  # pragma: no cover - load_model refuses such a transform.json
        raise StepError("the model's transform.json has no decision threshold")
    test_file, raw_file = test_dir / split_file(contract.TEST_INPUT), test_dir / TEST_RAW_FILE
    y, features = read_xgboost_csv(test_file, "test data")
    expected = len(model.transform.feature_names)
    if features.shape[1] != expected:
        raise StepError(
            f"{test_file} has {features.shape[1]} features, the model takes {expected}: the model and "
            "the test split come from different preprocess runs"
        )
    probabilities = model.predict_features(features)
    raw_format = CsvFormat(header=True, delimiter=",", missing_values=spec.format.missing_values)
    raw = read_table(raw_file, spec.column_names, raw_format).frame
    if len(raw) != y.size:
        raise StepError(f"{test_dir}: test.csv has {y.size} rows but test_raw.csv has {len(raw)}")
    if not np.array_equal(raw[spec.label.column].to_numpy() == spec.label.positive, y == 1):
        raise StepError(f"{test_dir}: the labels of test.csv and test_raw.csv differ; rerun the preprocess step")
    skew = 0.0
    try:  # in slices of rows: the serving path builds a float matrix of every row it scores
        for start in range(0, len(raw), SKEW_CHECK_ROWS):
            part = slice(start, start + SKEW_CHECK_ROWS)
            served = model.predict_proba(raw.iloc[part])
            skew = max(skew, float(np.max(np.abs(served - probabilities[part]), initial=0.0)))
    except TransformInputError as exc:
        raise StepError(f"{raw_file}: {exc}") from None
    if skew > SKEW_TOLERANCE:
        raise StepError(
            f"training/serving skew: the raw test rows scored through transform.json differ from test.csv by up "
            f"to {skew:.3g}; the model and the test split come from different preprocess runs"
        )
    predicted = model.transform.predicted_positive(probabilities).astype(np.int64)
    return ScoredSplit(
        y=y.astype(np.int64),
        probabilities=probabilities,
        predicted=predicted,
        raw=raw,
        decision_threshold=label.decision_threshold,
    )


def classification_metrics(
    y: np.ndarray,
    probabilities: np.ndarray,
    predicted: np.ndarray,
    spec: DatasetSpec,
    auc: float | Literal["compute"] | None = "compute",
) -> dict[str, float | None]:
    """The gated and reported metrics; ``auc`` when the caller has it already (a bootstrap resample's, from
    :class:`RankedScores`)."""
    confusion = Confusion.of(y, predicted)
    return {
        "auc": roc_auc(y, probabilities) if auc == "compute" else auc,
        "accuracy": confusion.accuracy(),
        "precision": confusion.precision(),
        "recall": confusion.recall(),
        "f1": confusion.f1(),
        "cost_weighted_error": confusion.cost_weighted_error(
            spec.cost_matrix.false_positive, spec.cost_matrix.false_negative
        ),
    }


def bootstrap(
    scores: ScoredSplit, spec: DatasetSpec, facets: list[tuple[Facet, np.ndarray]], resamples: int
) -> dict[str, list[float]]:
    """One seeded bootstrap of the test rows: every classification metric and ``disparate_impact.<facet>``."""
    y, probabilities, predicted = scores.y, scores.probabilities, scores.predicted
    groups = [(facet.name, membership.astype(bool)) for facet, membership in facets]

    ranked = RankedScores.of(y, probabilities)

    def compute(rows: np.ndarray) -> dict[str, float | None]:
        auc = ranked.auc(np.bincount(rows, minlength=y.size))
        values = classification_metrics(y[rows], probabilities[rows], predicted[rows], spec, auc=auc)
        for name, member in groups:
            resampled = bias.Groups(disadvantaged=member[rows], label=y[rows] == 1, predicted=predicted[rows] == 1)
            values[f"disparate_impact.{name}"] = bias.disparate_impact(resampled)
        return values

    return bootstrap_samples(compute, rows=y.size, resamples=resamples, seed=spec.split.seed)


def evaluation_report(
    scores: ScoredSplit, spec: DatasetSpec, samples: dict[str, list[float]], resamples: int
) -> dict[str, object]:
    """evaluation.json: SageMaker ModelMetrics' binary_classification_metrics, with bootstrap standard deviations."""
    y, probabilities, predicted = scores.y, scores.probabilities, scores.predicted
    values = classification_metrics(y, probabilities, predicted, spec)
    for name, value in values.items():
        if value is None:
            logger.warning("%s is undefined on the test split (a zero denominator): reported as null", name)
        else:
            logger.info("test %s: %.4f (standard deviation %s)", name, value, std(samples[name]))
    metrics: dict[str, object] = {
        name: {"value": value, "standard_deviation": std(samples[name])} for name, value in values.items()
    }
    metrics["confusion_matrix"] = Confusion.of(y, predicted).as_matrix()
    metrics["receiver_operating_characteristic_curve"] = roc_curve(y, probabilities)
    cost = spec.cost_matrix
    return {
        "binary_classification_metrics": metrics,
        "spec_name": spec.name,
        "positive_label": spec.label.positive,
        contract.DECISION_THRESHOLD: scores.decision_threshold,
        "rows": int(y.size),
        "cost": {
            "model_per_row": values["cost_weighted_error"],
            "constant_decisions_per_row": ConstantCosts.of(y, cost.false_positive, cost.false_negative).as_dict(),
            "cost_matrix": {"false_positive": cost.false_positive, "false_negative": cost.false_negative},
        },
        "confidence_intervals": _nested(gated_intervals(samples, spec)),
        "bootstrap": {"resamples": resamples, "seed": spec.split.seed, "confidence": CONFIDENCE},
    }


def _nested(intervals: dict[str, Interval | None]) -> dict[str, object]:
    """``{"auc": ..., "disparate_impact.age": ...}`` -> ``{"auc": ..., "disparate_impact": {"age": ...}}``."""
    nested: dict[str, object] = {}
    for name, interval in intervals.items():
        value = None if interval is None else interval.as_dict()
        group, _, facet = name.partition(".")
        if facet:
            section = nested.setdefault(group, {})
            assert isinstance(section, dict)  # noqa: S101 - only this loop fills it
            section[facet] = value
        else:
            nested[name] = value
    return nested


def gated_intervals(samples: dict[str, list[float]], spec: DatasetSpec) -> dict[str, Interval | None]:
    """The percentile intervals of the gated metrics: ``auc``, ``cost_per_row``, ``disparate_impact.<facet>``."""
    names = {"auc": "auc", "cost_per_row": "cost_weighted_error"}
    names.update({f"disparate_impact.{facet.name}": f"disparate_impact.{facet.name}" for facet in spec.facets})
    return {name: percentile_interval(samples.get(sample, []), CONFIDENCE) for name, sample in names.items()}


def facet_membership(facet: Facet, values: list[object], missing_values: tuple[str, ...]) -> np.ndarray:
    """1 for the rows of the facet's disadvantaged group; a missing value is not in the group."""
    if facet.values is not None:
        group = set(facet.values)
        return np.array([int(isinstance(value, str) and value.strip() in group) for value in values], dtype=np.int64)
    numbers = np.array([parse_number(value, missing_values) for value in values], dtype=np.float64)
    inside = ~np.isnan(numbers)
    if facet.min is not None:
        inside &= numbers >= facet.min
    if facet.max is not None:
        inside &= numbers <= facet.max
    return inside.astype(np.int64)


def facets_of(scores: ScoredSplit, spec: DatasetSpec) -> list[tuple[Facet, np.ndarray]]:
    """Each facet of the spec with its 0/1 membership of the test rows."""
    return [
        (facet, facet_membership(facet, scores.raw[facet.column].tolist(), spec.format.missing_values))
        for facet in spec.facets
    ]


def bias_inputs(scores: ScoredSplit, spec: DatasetSpec) -> tuple[str, dict[str, object]]:
    """The bias dataset (CSV text) and the Clarify analysis configuration that describes it."""
    headers = ["label", "predicted_label", *(facet.bias_column for facet in spec.facets)]
    facets = [membership for _, membership in facets_of(scores, spec)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")  # no header row: the configuration gives the headers
    writer.writerows(
        zip(scores.y.tolist(), scores.predicted.tolist(), *(column.tolist() for column in facets), strict=True)
    )
    config: dict[str, object] = {
        "dataset_type": "text/csv",
        "headers": headers,
        "label": "label",
        "predicted_label": "predicted_label",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": facet.bias_column, "value_or_threshold": [1]} for facet in spec.facets],
        "methods": {
            "pre_training_bias": {"methods": list(PRE_TRAINING_METHODS)},
            "post_training_bias": {"methods": list(POST_TRAINING_METHODS)},
        },
    }
    for facet, column in zip(spec.facets, facets, strict=True):
        logger.info(
            "facet %s: %d of %d test rows in the disadvantaged group", facet.name, int(column.sum()), column.size
        )
    return buffer.getvalue(), config


def model_summaries(
    scores: ScoredSplit,
    comparison: Comparison,
    test_dir: Path,
    spec: DatasetSpec,
    facets: list[tuple[Facet, np.ndarray]],
) -> list[ModelSummary]:
    """The served model and, when Train wrote one, the comparison model (the other bias mitigation) on the same
    test rows, served first."""
    served = (scores.y, scores.probabilities, scores.predicted, scores.decision_threshold)
    models = [summary(comparison.served, served, served=True, spec=spec, facets=facets)]
    if comparison.model is None or comparison.other is None:
        return models
    y, features = read_xgboost_csv(test_dir / split_file(contract.TEST_INPUT), "test data")
    if not np.array_equal(y.astype(np.int64), scores.y):  # pragma: no cover - the file score_test_split read
        raise StepError(f"{test_dir}: the test split changed while it was scored")
    transform = comparison.model.transform
    if transform.label.decision_threshold is None:  # pragma: no cover - load_model refuses such a transform.json
        raise StepError("the comparison model's transform.json has no decision threshold")
    probabilities = comparison.model.predict_features(features)
    predicted = transform.predicted_positive(probabilities).astype(np.int64)
    scored = (scores.y, probabilities, predicted, transform.label.decision_threshold)
    models.append(summary(comparison.other, scored, served=False, spec=spec, facets=facets))
    return models


def evaluate(
    model_path: Path,
    test_dir: Path,
    spec: DatasetSpec,
    output: Path,
    *,
    thresholds: GateThresholds,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> dict[str, object]:
    """Run the whole step; return evaluation.json's content."""
    problems = thresholds.problems()
    if problems:
        raise StepError("; ".join(problems))
    scores = score_test_split(load_model_artifacts(model_path), test_dir, spec)
    facets = facets_of(scores, spec)
    samples = bootstrap(scores, spec, facets, resamples)
    report = evaluation_report(scores, spec, samples, resamples)
    # the monitor's reference for prediction drift: the served model's scores on data it never saw
    report[PREDICTION_BASELINE] = prediction_baseline(scores.probabilities, scores.decision_threshold)
    models = model_summaries(scores, load_comparison(model_path), test_dir, spec, facets)
    lower, upper = thresholds.di_lower, thresholds.di_upper
    report["bias_mitigation"] = {
        "served": next(model.mitigation for model in models if model.served),
        "models": [model.as_dict(spec.facets, lower, upper) for model in models],
    }
    write_json(output / contract.EVALUATION.output / contract.EVALUATION.path, report)
    dataset, config = bias_inputs(scores, spec)
    bias_dir = output / contract.BIAS_OUTPUT
    bias_dir.mkdir(parents=True, exist_ok=True)
    (bias_dir / contract.BIAS_DATASET).write_text(dataset, encoding="utf-8")
    write_json(bias_dir / contract.ANALYSIS_CONFIG, config)
    if spec.facets:  # Clarify's format needs at least one facet
        analysis = bias.run(bias_dir / contract.ANALYSIS_CONFIG, bias_dir / contract.BIAS_DATASET, bias_dir)
    else:
        analysis = {"version": "1.0"}
        write_json(bias_dir / contract.ANALYSIS, analysis)
    gates = gate_report(
        GatedScores(scores.y, scores.probabilities, scores.predicted, scores.decision_threshold),
        facets,
        disparate_impacts={
            facet.name: bias.metric_value(analysis, POST_TRAINING, facet.bias_column, contract.DISPARATE_IMPACT)
            for facet in spec.facets
        },
        intervals=gated_intervals(samples, spec),
        thresholds=thresholds,
        spec=spec,
        models=models,
    )
    write_json(output / contract.GATES.output / contract.GATES.path, gates)
    return report


def build_parser() -> argparse.ArgumentParser:
    """The step's arguments; every path defaults to what the pipeline definition passes, the gate settings are the
    pipeline's parameters."""
    parser = argparse.ArgumentParser(
        description="Evaluate the model on the test split (evaluate step)", allow_abbrev=False
    )
    parser.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL, help="model.tar.gz, a folder holding it, or a model folder"
    )
    parser.add_argument("--test", type=Path, default=DEFAULT_TEST, help="test output of the preprocess step")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="dataset spec JSON (the code bundle's)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="root of the output folders")
    parser.add_argument(
        "--bootstrap-resamples",
        type=int,
        default=BOOTSTRAP_RESAMPLES,
        help="resamples for the standard deviations and intervals",
    )
    gates = parser.add_argument_group("gates (the pipeline passes its parameters)")
    gates.add_argument("--auc-threshold", type=float, required=True, help="quality gate: minimum test AUC")
    gates.add_argument(
        "--cost-margin", type=float, required=True, help="cost gate: relative margin below the cheapest constant"
    )
    gates.add_argument("--di-lower", type=float, required=True, help="bias gate: lowest disparate impact")
    gates.add_argument("--di-upper", type=float, required=True, help="bias gate: highest disparate impact")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.bootstrap_resamples < 2:
        parser.error(f"--bootstrap-resamples must be at least 2, got {args.bootstrap_resamples}")
    thresholds = GateThresholds(
        auc=args.auc_threshold, cost_margin=args.cost_margin, di_lower=args.di_lower, di_upper=args.di_upper
    )
    return run_step(
        "evaluate",
        lambda: evaluate(
            args.model,
            args.test,
            load_spec(args.spec),
            args.output,
            thresholds=thresholds,
            resamples=args.bootstrap_resamples,
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
