"""Builders shared by the monitor tests (no tests here): capture records and ground-truth lines in the formats of
the issue 11 interfaces, the German Credit sample's raw rows with synthetic scores, and a local AWS root holding a
live model package whose baseline comes from a real Preprocess run."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from sagemaker_code.steps.baseline import data_quality_baseline
from sagemaker_code.steps.prediction_baseline import prediction_baseline
from sagemaker_code.steps.spec import DatasetSpec
from tests.step_fixtures import SAMPLE

CAPTURE_BUCKET = "mlops-dev-capture-123456789012-eu-west-1"
DATA_BUCKET = "mlops-dev-data-123456789012-eu-west-1"
ARTIFACT_BUCKET = "mlops-dev-artifacts-123456789012-eu-west-1"
ENDPOINT = "mlops-dev-endpoint"
PARAMETER = "/mlops/dev/live-model-package"
GROUP = "mlops-dev-german-credit"
ARN = f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/{GROUP}/3"
THRESHOLD = 0.5


def sample_rows() -> list[list[str]]:
    """The sample's raw rows as the files write them: 20 features then the label."""
    return [line.split(" ") for line in SAMPLE.read_text().splitlines() if line.strip()]


def score(rows: Sequence[Sequence[str]]) -> np.ndarray:
    """A deterministic synthetic model: P(good credit) from checking status, duration and age."""
    checking = np.array([row[0] == "A14" for row in rows], dtype=np.float64)
    duration = np.array([float(row[1]) for row in rows])
    age = np.array([float(row[12]) for row in rows])
    return np.asarray(1 / (1 + np.exp(-(0.6 + 1.6 * checking - 0.04 * duration + 0.002 * (age - 35)))))


def record(
    rows: Sequence[Sequence[str]],
    probabilities: Sequence[float],
    moment: datetime,
    inference_id: str | None = None,
    *,
    columns: Sequence[str] = (),
    json_input: bool = False,
    csv_output: bool = False,
    encode: bool = False,
) -> str:
    """One capture line: the rows as a CSV (or JSON instances keyed by ``columns``) request and their predictions."""
    labels = ["1" if p >= THRESHOLD else "2" for p in probabilities]
    if json_input:
        body_in = json.dumps({"instances": [dict(zip(columns, row, strict=True)) for row in rows]})
    else:
        body_in = "".join(",".join(row) + "\n" for row in rows)
    if csv_output:
        body_out = "".join(f"{p},{label}\n" for p, label in zip(probabilities, labels, strict=True))
    else:
        predictions = [{"probability": p, "label": label} for p, label in zip(probabilities, labels, strict=True)]
        body_out = json.dumps({"predictions": predictions})

    def part(body: str, media: str, mode: str) -> dict[str, str]:
        if encode:
            return {"observedContentType": media, "mode": mode, "data": base64.b64encode(body.encode()).decode(),
                    "encoding": "BASE64"}  # fmt: skip
        return {
            "observedContentType": media,
            "mode": mode,
            "data": body,
            "encoding": "CSV" if "csv" in media else "JSON",
        }

    metadata: dict[str, str] = {"eventId": f"event-{moment.timestamp()}-{id(rows)}",
                                "inferenceTime": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}  # fmt: skip
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    return json.dumps(
        {
            "captureData": {
                "endpointInput": part(body_in, "application/json" if json_input else "text/csv", "INPUT"),
                "endpointOutput": part(body_out, "text/csv" if csv_output else "application/json", "OUTPUT"),
            },
            "eventMetadata": metadata,
            "eventVersion": "0",
        }
    )


def truth_line(key: str, label: str) -> str:
    return json.dumps(
        {"groundTruthData": {"data": label, "encoding": "CSV"}, "eventMetadata": {"eventId": key}, "eventVersion": "0"}
    )


def hour_path(moment: datetime) -> str:
    return moment.strftime("%Y/%m/%d/%H")


@dataclass(frozen=True)
class LocalAwsRoot:
    """A MLOPS_LOCAL_AWS_ROOT folder with one live package (or "none")."""

    root: Path

    def s3(self, bucket: str, key: str) -> Path:
        return self.root / "s3" / bucket / key

    def write_capture(
        self, moment: datetime, lines: Sequence[str], variant: str = "AllTraffic", name: str = "a"
    ) -> None:
        path = self.s3(CAPTURE_BUCKET, f"endpoints/{ENDPOINT}/{variant}/{hour_path(moment)}/{name}.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as file:
            file.writelines(line + "\n" for line in lines)

    def write_truth(self, moment: datetime, lines: Sequence[str], name: str = "labels") -> None:
        path = self.s3(DATA_BUCKET, f"ground-truth/{ENDPOINT}/{hour_path(moment)}/{name}.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines))

    def metrics(self) -> list[dict[str, object]]:
        path = self.root / "cloudwatch" / "metrics.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def local_root(
    root: Path, spec: DatasetSpec, statistics: dict[str, object], *, live: bool = True, with_predictions: bool = True
) -> LocalAwsRoot:
    """A local AWS root: the SSM parameter, the registry entry (DescribeModelPackage's shape) and its files."""
    aws = LocalAwsRoot(root)
    parameter = root / "ssm" / PARAMETER.lstrip("/")
    parameter.parent.mkdir(parents=True, exist_ok=True)
    parameter.write_text(ARN if live else "none")
    prefix = "pipelines/mlops-dev-model-build/run-1"
    stats_path = aws.s3(ARTIFACT_BUCKET, f"{prefix}/preprocess/baseline/statistics.json")
    stats_path.parent.mkdir(parents=True, exist_ok=True)
    stats_path.write_text(json.dumps(statistics))
    rows = sample_rows()
    evaluation: dict[str, object] = {"binary_classification_metrics": {}, "decision_threshold": THRESHOLD}
    if with_predictions:
        evaluation["prediction_baseline"] = prediction_baseline(score(rows[:300]), THRESHOLD)
    eval_path = aws.s3(ARTIFACT_BUCKET, f"{prefix}/evaluate/evaluation/evaluation.json")
    eval_path.parent.mkdir(parents=True, exist_ok=True)
    eval_path.write_text(json.dumps(evaluation))
    package = {
        "ModelPackageGroupName": GROUP,
        "ModelPackageVersion": 3,
        "ModelPackageArn": ARN,
        "CustomerMetadataProperties": {"decision_threshold": str(THRESHOLD)},
        "DriftCheckBaselines": {
            "ModelDataQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{ARTIFACT_BUCKET}/{prefix}/preprocess/baseline/statistics.json"}}
        },
        "ModelMetrics": {
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{ARTIFACT_BUCKET}/{prefix}/evaluate/evaluation/evaluation.json"}}
        },
    }  # fmt: skip
    registry = root / "registry" / GROUP / "version-0003.json"
    registry.parent.mkdir(parents=True, exist_ok=True)
    registry.write_text(json.dumps(package))
    return aws


def sample_statistics(spec: DatasetSpec) -> dict[str, object]:
    """statistics.json of the whole sample's feature columns (named by id), as Preprocess writes it for train."""
    import pandas as pd  # type: ignore[import-untyped]

    rows = sample_rows()
    frame = pd.DataFrame([row[:20] for row in rows], columns=[c.id for c in spec.feature_columns], dtype=object)
    statistics, _ = data_quality_baseline(frame, tuple(frame.columns))
    return statistics


def sigmoid(value: float) -> float:
    return 1 / (1 + math.exp(-value))
