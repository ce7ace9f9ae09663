"""Serving handlers for the SageMaker XGBoost framework container (script mode).

The training step writes the model directory that SageMaker packs into model.tar.gz::

    xgboost-model.json           the booster (Booster.save_model)
    transform.json               the fitted transform: raw columns, statistics, label values, decision threshold
    code/inference.py            this file
    code/sagemaker_code/         __init__.py and transform.py: the only modules this file imports

The container serves it with ``SAGEMAKER_PROGRAM=inference.py`` and ``SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code``
and calls ``model_fn`` once, then ``input_fn``, ``predict_fn`` and ``output_fn`` per request.

Requests carry raw feature rows (the spec's columns without the label, as written in the data files):

- ``text/csv``: one row per line, comma-separated, in the spec's column order, no header;
- ``application/json``: ``{"instances": [{"<column>": value, ...}, ...]}`` with every feature column.

Responses: ``application/json`` (the default) ``{"predictions": [{"probability": p, "label": "<value>"}]}`` where p is
P(label == positive value) and label is the positive value when p >= the decision threshold, else the other value;
or ``text/csv``, one ``probability,label`` line per row.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain
import xgboost as xgb

from sagemaker_code.transform import Transform, TransformInputError

logger = logging.getLogger(__name__)

MODEL_FILE = "xgboost-model.json"
TRANSFORM_FILE = "transform.json"
CSV = "text/csv"
JSON = "application/json"


class InvalidInputError(ValueError):
    """The request cannot be scored; the message tells the client what to fix."""


@dataclass(frozen=True)
class ServingModel:
    booster: xgb.Booster
    transform: Transform

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """P(label == positive) of raw rows (a frame with the transform's input columns)."""
        return self.predict_features(self.transform.apply(frame))

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """P(label == positive) of already transformed rows (the columns of train.csv without the label)."""
        matrix = xgb.DMatrix(features, feature_names=list(self.transform.feature_names))
        probabilities: np.ndarray = self.booster.predict(matrix)
        return probabilities


@dataclass(frozen=True)
class Request:
    """A parsed request: CSV rows (lists of text) or JSON instances (mappings)."""

    rows: list[list[object]] | None = None
    instances: list[dict[str, object]] | None = None


@dataclass(frozen=True)
class Predictions:
    probabilities: list[float]
    labels: list[str]


def load_model(model: bytes | bytearray, transform_text: str) -> ServingModel:
    booster = xgb.Booster()
    booster.load_model(bytearray(model))
    return ServingModel(booster=booster, transform=Transform.from_json(transform_text))


def model_fn(model_dir: str) -> ServingModel:
    root = Path(model_dir)
    model = load_model((root / MODEL_FILE).read_bytes(), (root / TRANSFORM_FILE).read_text(encoding="utf-8"))
    logger.info("loaded model of %s: %d raw columns", model.transform.spec_name, len(model.transform.input_columns))
    return model


def _media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def input_fn(body: bytes | bytearray | str, content_type: str) -> Request:
    """Parse the request body; the columns are checked in predict_fn, which knows the model."""
    media_type = _media_type(content_type)
    if media_type not in (CSV, JSON):
        raise InvalidInputError(f"unsupported content type {content_type!r}: send {CSV} or {JSON}")
    try:
        text = body if isinstance(body, str) else bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"the request body is not UTF-8 text (byte {exc.start})") from None
    if media_type == CSV:
        rows: list[list[object]] = [list(row) for row in csv.reader(io.StringIO(text)) if any(f.strip() for f in row)]
        if not rows:
            raise InvalidInputError("the request has no rows")
        return Request(rows=rows)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"the request is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    instances = data.get("instances") if isinstance(data, dict) else None
    if not isinstance(instances, list) or not instances or not all(isinstance(item, dict) for item in instances):
        raise InvalidInputError('send {"instances": [{"<column>": value, ...}, ...]} with at least one instance')
    return Request(instances=instances)


def _frame(request: Request, columns: tuple[str, ...]) -> pd.DataFrame:
    if request.rows is not None:
        for number, row in enumerate(request.rows, start=1):
            if len(row) != len(columns):
                hint = (
                    " (a header? send rows only)"
                    if [str(v).strip() for v in row[: len(columns)]] == list(columns)
                    else ""
                )
                raise InvalidInputError(
                    f"row {number} has {len(row)} fields, expected {len(columns)}{hint}: the features "
                    f"{', '.join(columns)} in this order, without the label"
                )
        return pd.DataFrame(request.rows, columns=list(columns), dtype=object)
    instances = request.instances or []
    for number, instance in enumerate(instances, start=1):
        absent = [column for column in columns if column not in instance]
        unknown = sorted(set(instance) - set(columns))
        if absent or unknown:
            parts = ([f"missing keys {absent}"] if absent else []) + ([f"unknown keys {unknown}"] if unknown else [])
            raise InvalidInputError(f"instance {number}: {' and '.join(parts)}; expected the features {list(columns)}")
    return pd.DataFrame(
        [[instance[column] for column in columns] for instance in instances], columns=list(columns), dtype=object
    )


def predict_fn(data: Request, model: ServingModel) -> Predictions:
    transform = model.transform
    try:
        probabilities = model.predict_proba(_frame(data, transform.input_columns))
    except TransformInputError as exc:
        raise InvalidInputError(str(exc)) from None
    positive = transform.predicted_positive(probabilities)
    label = transform.label
    return Predictions(
        probabilities=[float(p) for p in probabilities],
        labels=[label.positive if flag else label.negative for flag in positive.tolist()],
    )


def output_fn(prediction: Predictions, accept: str) -> tuple[str, str]:
    """Serialize to the first supported type of ``accept`` (JSON for */* or none); returns (body, content type)."""
    wanted = [_media_type(part) for part in (accept or "").split(",")]
    for media_type in wanted:
        if media_type in ("", "*/*", JSON):
            pairs = zip(prediction.probabilities, prediction.labels, strict=True)
            body = {"predictions": [{"probability": p, "label": label} for p, label in pairs]}
            return json.dumps(body), JSON
        if media_type == CSV:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(
                zip(prediction.probabilities, prediction.labels, strict=True)
            )
            return buffer.getvalue(), CSV
    raise InvalidInputError(f"unsupported accept type {accept!r}: ask for {JSON} or {CSV}")
