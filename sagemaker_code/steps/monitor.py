"""Monitor step: compare an endpoint's captured traffic of the last window with the live model's baselines.

SageMaker Model Monitor is closed to new customers, so this step is our own monitoring job (a processing step of the
monitoring pipeline, in the same prebuilt XGBoost image as the training steps). One run:

1. resolves the live model package (an SSM parameter holding its ARN; "none": nothing is served, the report says so
   and only CapturedRows / InsufficientData are published) and reads its baselines: the train split's statistics.json
   (DriftCheckBaselines.ModelDataQuality.Statistics) and evaluation.json (ModelMetrics.ModelQuality.Statistics, whose
   ``prediction_baseline`` a package from before it lacks: prediction drift is then "unavailable", not an error);
2. reads the capture records of the window [end - hours, end) (and, for model quality, of the label look-back), by
   the UTC hour prefixes of that range only (:mod:`monitor_io`), tolerating bad records (:mod:`capture`);
3. computes per-feature drift, missing rate and schema violations (:mod:`drift`), prediction drift and positive
   rate, model quality on the rows whose ground truth arrived by the window's end, and the disparate impact of the
   predicted labels per facet of the spec (:mod:`bias`);
4. writes monitoring_report.json, monitoring_report.md and metrics.json to ``--output`` and publishes the metrics.

Too few rows is the state "insufficient_data" (no drift or bias figure is published, so no alarm can fire on noise).
The step fails (exit 1, a message naming what and where) only for real failures: bad arguments, a parameter or
package that cannot be read, a baseline that is missing or malformed, or a spec that does not match the baseline.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain

if not __package__:  # run as a file (python .../monitor.py): make `sagemaker_code` importable, see _bootstrap.py
    __import__("_bootstrap")

from sagemaker_code.steps import contract, monitor_report
from sagemaker_code.steps.capture import (
    Capture,
    GroundTruth,
    read_capture,
    read_ground_truth,
)
from sagemaker_code.steps.common import StepError, dump_json, run_step, write_json
from sagemaker_code.steps.drift import FeatureBaseline, live_feature, read_statistics
from sagemaker_code.steps.monitor_io import Aws, AwsError, S3Location, aws_from_environment, hour_prefixes
from sagemaker_code.steps.monitor_io import window_objects as objects_of
from sagemaker_code.steps.prediction_baseline import PredictionBaseline, read_prediction_baseline
from sagemaker_code.steps.spec import DatasetSpec, load_spec

logger = logging.getLogger(__name__)

DEFAULT_SPEC = Path(contract.SPEC_PATH)
DEFAULT_OUTPUT = Path(contract.processing_output("report"))
REPORT_FILE = "monitoring_report.json"
MARKDOWN_FILE = "monitoring_report.md"
METRICS_FILE = "metrics.json"
NO_LIVE_MODEL = "none"


@dataclass(frozen=True)
class Settings:
    live_model_parameter: str
    capture: S3Location
    ground_truth: S3Location | None
    end: datetime
    window_hours: float
    lookback_hours: float
    min_rows: int
    psi_threshold: float
    alpha: float
    di_lower: float
    di_upper: float
    namespace: str
    environment: str
    endpoint: str

    @property
    def thresholds(self) -> monitor_report.Thresholds:
        return monitor_report.Thresholds(self.min_rows, self.psi_threshold, self.alpha, self.di_lower, self.di_upper)

    @property
    def start(self) -> datetime:
        return self.end - timedelta(hours=self.window_hours)

    @property
    def lookback_start(self) -> datetime:
        return self.end - timedelta(hours=self.lookback_hours)


@dataclass(frozen=True)
class LivePackage:
    arn: str
    statistics_uri: str
    evaluation_uri: str | None
    baselines: dict[str, FeatureBaseline]
    predictions: PredictionBaseline | None
    decision_threshold: float | None


def _uri(package: dict[str, Any], *path: str) -> str | None:
    node: Any = package
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, str) and node else None


def _fetch_json(aws: Aws, uri: str, what: str) -> object:
    import json

    try:
        return json.loads(aws.read(S3Location.parse(uri)).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StepError(f"{what} {uri} is not readable JSON: {exc}") from None
    except AwsError as exc:
        raise StepError(f"{what} cannot be read: {exc}") from None


def live_package(aws: Aws, arn: str) -> LivePackage:
    """The package's baselines; a missing or malformed data-quality baseline is a failure of the step."""
    try:
        package = aws.model_package(arn)
    except AwsError as exc:
        raise StepError(f"the live model package cannot be described: {exc}") from None
    statistics_uri = _uri(package, "DriftCheckBaselines", "ModelDataQuality", "Statistics", "S3Uri")
    if statistics_uri is None:
        raise StepError(f"model package {arn} has no DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri")
    try:
        baselines = read_statistics(_fetch_json(aws, statistics_uri, "the baseline statistics"))
    except ValueError as exc:
        raise StepError(f"the baseline statistics {statistics_uri}: {exc}") from None
    evaluation_uri = _uri(package, "ModelMetrics", "ModelQuality", "Statistics", "S3Uri")
    predictions = None
    if evaluation_uri is not None:
        try:
            predictions = read_prediction_baseline(_fetch_json(aws, evaluation_uri, "the model's evaluation.json"))
        except ValueError as exc:
            raise StepError(f"{evaluation_uri}: {exc}") from None
    raw_threshold = _uri(package, "CustomerMetadataProperties", contract.DECISION_THRESHOLD)
    try:
        threshold = float(raw_threshold) if raw_threshold is not None else None
    except ValueError:
        raise StepError(f"model package {arn}: decision_threshold {raw_threshold!r} is not a number") from None
    return LivePackage(arn, statistics_uri, evaluation_uri, baselines, predictions, threshold)


def _texts(
    aws: Aws, root: S3Location, hours: list[str], variants: bool, window: set[str]
) -> Iterator[tuple[str, str, bool]]:
    """(key, text, whether the key's hour is in ``window``) of each object of the hours under ``root``."""
    for location in objects_of(aws, root, hours, variants=variants):
        try:
            body = aws.read(location)
        except AwsError as exc:
            raise StepError(f"a capture or ground-truth object cannot be read: {exc}") from None
        hour = next((h for h in window if h in location.key), None)
        yield location.key, body.decode("utf-8", errors="replace"), hour is not None


def read_window(aws: Aws, settings: Settings, spec: DatasetSpec, with_features: bool) -> Capture:
    """The rows of the feature window and, when labels are configured, of the label look-back."""
    start = min(settings.start, settings.lookback_start) if settings.ground_truth else settings.start
    window = set(hour_prefixes(settings.start, settings.end))
    columns = tuple(column.name for column in spec.feature_columns)
    aliases = {column.id: column.name for column in spec.feature_columns if column.id != column.name}
    try:
        files = _texts(aws, settings.capture, hour_prefixes(start, settings.end), True, window)
        return read_capture(
            files, columns, aliases, start=start, end=settings.end, window_start=settings.start,
            parse_features=with_features,
        )  # fmt: skip
    except AwsError as exc:
        raise StepError(f"the capture cannot be listed: {exc}") from None


def read_labels(aws: Aws, settings: Settings, spec: DatasetSpec) -> GroundTruth | None:
    if settings.ground_truth is None:
        return None
    hours = hour_prefixes(settings.lookback_start, settings.end)
    try:
        files = ((key, text) for key, text, _ in _texts(aws, settings.ground_truth, hours, False, set()))
        return read_ground_truth(files, spec.label.values)
    except AwsError as exc:
        raise StepError(f"the ground truth cannot be listed: {exc}") from None


def predicted_positive(capture: Capture, spec: DatasetSpec, threshold: float | None) -> np.ndarray:
    """1 where the endpoint decided positive: its label; a row without a label by the package's threshold."""
    labels = capture.labels
    decided = np.asarray(labels == spec.label.positive, dtype=bool)
    unlabelled = np.asarray([label is None for label in labels.tolist()], dtype=bool)
    if unlabelled.any() and threshold is not None:
        decided[unlabelled] = capture.probabilities[unlabelled] >= threshold
    return np.asarray(decided, dtype=np.int64)


def _check_baseline(package: LivePackage, spec: DatasetSpec) -> None:
    ids = [column.id for column in spec.feature_columns]
    absent = [name for name in ids if name not in package.baselines]
    if absent:
        raise StepError(
            f"the baseline {package.statistics_uri} has no statistics for the spec's features {absent} (it has "
            f"{sorted(package.baselines)}): the monitor's spec is not the one the live model was trained with"
        )


def monitor(settings: Settings, spec: DatasetSpec, aws: Aws) -> dict[str, Any]:
    """The whole report (see the module docstring)."""
    report: dict[str, Any] = {
        "version": 1,
        "environment": settings.environment,
        "endpoint": settings.endpoint,
        "window": {
            "start": settings.start.isoformat(), "end": settings.end.isoformat(), "hours": settings.window_hours,
            "label_lookback_hours": settings.lookback_hours,
            "label_lookback_start": settings.lookback_start.isoformat(),
        },
        "settings": {
            "min_rows": settings.min_rows, "psi_threshold": settings.psi_threshold, "p_value": settings.alpha,
            "di_lower": settings.di_lower, "di_upper": settings.di_upper,
        },
    }  # fmt: skip
    try:
        arn = aws.parameter(settings.live_model_parameter).strip()
    except AwsError as exc:
        raise StepError(f"the live model parameter cannot be read: {exc}") from None
    package = None if arn.lower() == NO_LIVE_MODEL else live_package(aws, arn)
    if package is not None:
        _check_baseline(package, spec)
    capture = read_window(aws, settings, spec, with_features=package is not None)
    window_rows = int(capture.in_window.sum())
    captured = window_rows + capture.problems.total
    report["rows"] = {
        "captured": captured, "parsed": window_rows, "unparsable_records": capture.problems.total,
        "records": capture.records, "problems": capture.problems.as_dict(),
    }  # fmt: skip
    if package is None:
        report.update(state="no_live_model", model_package=None, alerts=[])
        return report
    report["model_package"] = {
        "arn": package.arn, "statistics_uri": package.statistics_uri, "evaluation_uri": package.evaluation_uri,
        "decision_threshold": package.decision_threshold,
    }  # fmt: skip
    decided = predicted_positive(capture, spec, package.decision_threshold)
    truth = read_labels(aws, settings, spec)
    report["model_quality"] = (
        {"labels_configured": False}
        if truth is None
        else monitor_report.model_quality(
            capture, truth, decided, spec, min_rows=settings.min_rows, since=settings.lookback_start
        )
    )
    if captured < settings.min_rows:
        report.update(state="insufficient_data", alerts=[])
        return report
    in_window = capture.in_window
    features = [
        live_feature(package.baselines[column.id], capture.features[column.name], spec.format.missing_values)
        for column in spec.feature_columns
    ]
    report["data_quality"] = monitor_report.data_quality(features, capture, settings.thresholds)
    scores, window_decided = capture.probabilities[in_window], decided[in_window]
    report["prediction"] = monitor_report.prediction_drift(scores, window_decided, package.predictions)
    report["bias"] = monitor_report.bias_drift(capture.features, window_decided, spec, settings.thresholds)
    report["alerts"] = monitor_report.alerts(report, settings.thresholds)
    report["state"] = "alert" if report["alerts"] else "ok"
    return report


def write_outputs(report: dict[str, Any], output: Path, stamp: datetime) -> list[dict[str, Any]]:
    """monitoring_report.json, monitoring_report.md and metrics.json (the data published, timestamps as text)."""
    data = monitor_report.metric_data(report, stamp)
    write_json(output / REPORT_FILE, report)
    (output / MARKDOWN_FILE).write_text(monitor_report.markdown(report), encoding="utf-8")
    published = [{**datum, "Timestamp": stamp.isoformat()} for datum in data]
    (output / METRICS_FILE).write_text(dump_json({"Namespace": report["namespace"], "MetricData": published}))
    return data


def run(settings: Settings, spec: DatasetSpec, output: Path, aws: Aws) -> dict[str, Any]:
    report = monitor(settings, spec, aws)
    report["namespace"] = settings.namespace
    data = write_outputs(report, output, settings.end)
    try:
        aws.put_metrics(settings.namespace, data)
    except AwsError as exc:
        raise StepError(f"the metrics cannot be published (the report is in {output}): {exc}") from None
    logger.info(
        "%s %s: %s, %d metric data published", settings.environment, settings.endpoint, report["state"], len(data)
    )
    return report


def window_end(text: str) -> datetime:
    """The window's end: an ISO 8601 time (naive = UTC), or "" for now, to the whole minute."""
    if not text.strip():
        return datetime.now(UTC).replace(second=0, microsecond=0)
    try:
        moment = pd.Timestamp(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    result: datetime = moment.to_pydatetime()
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Monitor an endpoint's captured traffic (monitoring job)", allow_abbrev=False
    )
    add = parser.add_argument
    add("--live-model-parameter", required=True, help='SSM parameter holding the live package ARN ("none": no model)')
    add("--capture-uri", required=True, help="s3://.../endpoints/<endpoint>/ (every variant under it)")
    add("--ground-truth-uri", default="", help='s3://.../ground-truth/<endpoint>/ ("": no labels configured)')
    add("--window-end", type=window_end, default=window_end(""), help='ISO 8601 ("": now, UTC)')
    add("--window-hours", type=float, required=True)
    add("--label-lookback-hours", type=float, required=True)
    add("--min-rows", type=int, required=True, help="fewer rows: insufficient data (no drift/quality figures)")
    add("--psi-threshold", type=float, required=True)
    add("--p-value", type=float, required=True, help="alpha of the drift tests (Holm-adjusted p-values)")
    add("--di-lower", type=float, required=True)
    add("--di-upper", type=float, required=True)
    add("--namespace", required=True)
    add("--environment", required=True)
    add("--endpoint", required=True)
    add("--spec", type=Path, default=DEFAULT_SPEC, help="dataset spec JSON (the code bundle's)")
    add("--output", type=Path, default=DEFAULT_OUTPUT, help="folder of the report files")
    return parser


def settings_of(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Settings:
    checks = [
        (args.window_hours > 0, f"--window-hours must be > 0, got {args.window_hours}"),
        (args.label_lookback_hours > 0, f"--label-lookback-hours must be > 0, got {args.label_lookback_hours}"),
        (args.min_rows >= 1, f"--min-rows must be >= 1, got {args.min_rows}"),
        (args.psi_threshold > 0, f"--psi-threshold must be > 0, got {args.psi_threshold}"),
        (0 < args.p_value < 1, f"--p-value must be between 0 and 1, got {args.p_value}"),
        (
            0 < args.di_lower < 1 < args.di_upper,
            f"need 0 < --di-lower < 1 < --di-upper, got {args.di_lower}, {args.di_upper}",
        ),
    ]
    for passed, message in checks:
        if not passed:
            parser.error(message)
    try:
        capture = S3Location.parse(args.capture_uri)
        truth = S3Location.parse(args.ground_truth_uri) if args.ground_truth_uri.strip() else None
    except ValueError as exc:
        parser.error(str(exc))
    return Settings(
        args.live_model_parameter, capture, truth, args.window_end, args.window_hours, args.label_lookback_hours,
        args.min_rows, args.psi_threshold, args.p_value, args.di_lower, args.di_upper, args.namespace,
        args.environment, args.endpoint,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = settings_of(args, parser)
    return run_step("monitor", lambda: run(settings, load_spec(args.spec), args.output, aws_from_environment()))


if __name__ == "__main__":
    sys.exit(main())
