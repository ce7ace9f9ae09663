"""Evaluate step: score the test split, write the model metrics and the input of the bias check.

Inputs: the trained model (``--model``: a folder holding model.tar.gz as the pipeline passes it, the archive itself,
or an unpacked model folder), the test folder of the preprocess step (``test.csv`` and ``test_raw.csv``) and the spec.

The test split is scored twice: from ``test.csv`` (the features the model was trained on) and from the raw rows of
``test_raw.csv`` through the transform, as the endpoint scores them; any difference (training/serving skew) stops the
step. Metrics use the positive (favourable) label value as class 1 and the spec's decision threshold; each gets a
standard deviation from a seeded bootstrap of the test rows.

Outputs under ``--output``::

    evaluation/evaluation.json   SageMaker ModelMetrics (binary_classification_metrics) plus rows, threshold, ...
    bias/dataset.csv             label, predicted_label, facet_<name>... (0/1, header) for the bias check
    bias/analysis_config.json    the SageMaker Clarify analysis configuration of that file

Usage: ``python -m sagemaker_code.evaluate --model DIR --test DIR --spec SPEC.json --output DIR``.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain

if not __package__:  # run as a file (python .../evaluate.py): make `sagemaker_code` importable, see _bootstrap.py
    __import__("_bootstrap")

from sagemaker_code.common import StepError, read_xgboost_csv, run_step, write_json
from sagemaker_code.inference import MODEL_FILE, TRANSFORM_FILE, ServingModel, load_model
from sagemaker_code.metrics import Confusion, bootstrap_std, roc_auc, roc_curve
from sagemaker_code.preprocess import read_table
from sagemaker_code.spec import CsvFormat, DatasetSpec, Facet, load_spec
from sagemaker_code.transform import TransformFileError, TransformInputError, parse_number

logger = logging.getLogger(__name__)

DEFAULT_MODEL = Path("/opt/ml/processing/input/model")
DEFAULT_TEST = Path("/opt/ml/processing/input/test")
DEFAULT_SPEC = Path("/opt/ml/processing/input/spec/dataset_spec.json")
DEFAULT_OUTPUT = Path("/opt/ml/processing/output")
BOOTSTRAP_RESAMPLES = 200
#: Largest difference tolerated between scoring test.csv and scoring the raw rows through the transform.
SKEW_TOLERANCE = 1e-6
#: Clarify methods of the bias check; the pipeline's condition reads the first post-training one (DI).
PRE_TRAINING_METHODS = ("CI", "DPL")
POST_TRAINING_METHODS = ("DI", "DPPL", "RD")


def load_model_artifacts(path: Path) -> ServingModel:
    """The booster and transform from model.tar.gz (or a folder holding it, or an unpacked model folder)."""
    if path.is_dir():
        if (path / MODEL_FILE).is_file():
            if not (path / TRANSFORM_FILE).is_file():
                raise StepError(f"{path}: the model folder has no {TRANSFORM_FILE}")
            return _load(path, (path / MODEL_FILE).read_bytes(), (path / TRANSFORM_FILE).read_bytes())
        archives = sorted(path.glob("*.tar.gz"))
        if len(archives) != 1:
            found = [archive.name for archive in archives]
            raise StepError(f"{path}: expected one model.tar.gz or an unpacked model ({MODEL_FILE}), found {found}")
        path = archives[0]
    if not path.is_file():
        raise StepError(f"model not found: {path}")
    try:
        with tarfile.open(path, "r:gz") as archive:
            members = {member.name.removeprefix("./"): member for member in archive.getmembers() if member.isfile()}
            contents = {}
            for name in (MODEL_FILE, TRANSFORM_FILE):
                member = archive.extractfile(members[name]) if name in members else None
                if member is None:
                    raise StepError(f"{path}: the archive has no {name}; it has {sorted(members)}")
                contents[name] = member.read()
    except (tarfile.TarError, OSError) as exc:
        raise StepError(f"{path}: not a readable .tar.gz archive: {exc}") from None
    return _load(path, contents[MODEL_FILE], contents[TRANSFORM_FILE])


def _load(where: Path, model: bytes, transform: bytes) -> ServingModel:
    try:
        return load_model(model, transform.decode("utf-8"))
    except (TransformFileError, UnicodeDecodeError) as exc:
        raise StepError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class ScoredSplit:
    y: np.ndarray  # 1 = positive (favourable) label value
    probabilities: np.ndarray  # P(positive)
    predicted: np.ndarray  # 1 = predicted positive at the decision threshold
    raw: pd.DataFrame  # the raw test rows (spec columns)


def score_test_split(model: ServingModel, test_dir: Path, spec: DatasetSpec) -> ScoredSplit:
    """Score test.csv, check that the raw rows score the same through the transform, apply the threshold."""
    label = model.transform.label
    if (label.column, label.positive, label.decision_threshold) != (
        spec.label.column,
        spec.label.positive,
        spec.label.decision_threshold,
    ):
        raise StepError(
            f"the model was trained for label {label.column!r} == {label.positive!r} at threshold "
            f"{label.decision_threshold}, the spec says {spec.label.column!r} == {spec.label.positive!r} at "
            f"{spec.label.decision_threshold}: evaluate with the spec the model was trained with"
        )
    y, features = read_xgboost_csv(test_dir / "test.csv", "test data")
    expected = len(model.transform.feature_names)
    if features.shape[1] != expected:
        raise StepError(
            f"{test_dir / 'test.csv'} has {features.shape[1]} features, the model takes {expected}: the model and "
            "the test split come from different preprocess runs"
        )
    probabilities = model.predict_features(features)
    raw_format = CsvFormat(header=True, delimiter=",", missing_values=spec.format.missing_values)
    raw = read_table(test_dir / "test_raw.csv", spec.column_names, raw_format).frame
    if len(raw) != y.size:
        raise StepError(f"{test_dir}: test.csv has {y.size} rows but test_raw.csv has {len(raw)}")
    if not np.array_equal(raw[spec.label.column].to_numpy() == spec.label.positive, y == 1):
        raise StepError(f"{test_dir}: the labels of test.csv and test_raw.csv differ; rerun the preprocess step")
    try:
        skew = float(np.max(np.abs(model.predict_proba(raw) - probabilities)))
    except TransformInputError as exc:
        raise StepError(f"{test_dir / 'test_raw.csv'}: {exc}") from None
    if skew > SKEW_TOLERANCE:
        raise StepError(
            f"training/serving skew: the raw test rows scored through transform.json differ from test.csv by up "
            f"to {skew:.3g}; the model and the test split come from different preprocess runs"
        )
    predicted = model.transform.predicted_positive(probabilities).astype(np.int64)
    return ScoredSplit(y=y.astype(np.int64), probabilities=probabilities, predicted=predicted, raw=raw)


def classification_metrics(
    y: np.ndarray, probabilities: np.ndarray, predicted: np.ndarray, spec: DatasetSpec
) -> dict[str, float | None]:
    confusion = Confusion.of(y, predicted)
    return {
        "auc": roc_auc(y, probabilities),
        "accuracy": confusion.accuracy(),
        "precision": confusion.precision(),
        "recall": confusion.recall(),
        "f1": confusion.f1(),
        "cost_weighted_error": confusion.cost_weighted_error(
            spec.cost_matrix.false_positive, spec.cost_matrix.false_negative
        ),
    }


def evaluation_report(scores: ScoredSplit, spec: DatasetSpec, resamples: int) -> dict[str, object]:
    """evaluation.json: SageMaker ModelMetrics' binary_classification_metrics, with bootstrap standard deviations."""
    y, probabilities, predicted = scores.y, scores.probabilities, scores.predicted
    values = classification_metrics(y, probabilities, predicted, spec)
    deviations = bootstrap_std(
        lambda rows: classification_metrics(y[rows], probabilities[rows], predicted[rows], spec),
        rows=y.size,
        resamples=resamples,
        seed=spec.split.seed,
    )
    for name, value in values.items():
        if value is None:
            logger.warning("%s is undefined on the test split (a zero denominator): reported as null", name)
        else:
            logger.info("test %s: %.4f (standard deviation %s)", name, value, deviations[name])
    metrics: dict[str, object] = {
        name: {"value": value, "standard_deviation": deviations[name]} for name, value in values.items()
    }
    metrics["confusion_matrix"] = Confusion.of(y, predicted).as_matrix()
    metrics["receiver_operating_characteristic_curve"] = roc_curve(y, probabilities)
    return {
        "binary_classification_metrics": metrics,
        "spec_name": spec.name,
        "positive_label": spec.label.positive,
        "decision_threshold": spec.label.decision_threshold,
        "rows": int(y.size),
        "bootstrap": {"resamples": resamples, "seed": spec.split.seed},
    }


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


def bias_inputs(scores: ScoredSplit, spec: DatasetSpec) -> tuple[str, dict[str, object]]:
    """The bias dataset (CSV text) and the Clarify analysis configuration that describes it."""
    headers = ["label", "predicted_label", *(facet.bias_column for facet in spec.facets)]
    facets = [
        facet_membership(facet, scores.raw[facet.column].tolist(), spec.format.missing_values) for facet in spec.facets
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
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


def evaluate(
    model_path: Path, test_dir: Path, spec: DatasetSpec, output: Path, resamples: int = BOOTSTRAP_RESAMPLES
) -> dict[str, object]:
    """Run the whole step; return evaluation.json's content."""
    scores = score_test_split(load_model_artifacts(model_path), test_dir, spec)
    report = evaluation_report(scores, spec, resamples)
    write_json(output / "evaluation" / "evaluation.json", report)
    dataset, config = bias_inputs(scores, spec)
    (output / "bias").mkdir(parents=True, exist_ok=True)
    (output / "bias" / "dataset.csv").write_text(dataset, encoding="utf-8")
    write_json(output / "bias" / "analysis_config.json", config)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Evaluate the model on the test split (evaluate step)", allow_abbrev=False
    )
    parser.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL, help="model.tar.gz, a folder holding it, or a model folder"
    )
    parser.add_argument("--test", type=Path, default=DEFAULT_TEST, help="test output of the preprocess step")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="dataset spec JSON written by the app")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="root of the output folders")
    parser.add_argument(
        "--bootstrap-resamples", type=int, default=BOOTSTRAP_RESAMPLES, help="resamples for the standard deviations"
    )
    args = parser.parse_args(argv)
    if args.bootstrap_resamples < 2:
        parser.error(f"--bootstrap-resamples must be at least 2, got {args.bootstrap_resamples}")
    return run_step(
        "evaluate", lambda: evaluate(args.model, args.test, load_spec(args.spec), args.output, args.bootstrap_resamples)
    )


if __name__ == "__main__":
    sys.exit(main())
