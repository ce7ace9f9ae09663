"""Serving handler for the SageMaker XGBoost framework container (script mode).

The training step writes the model directory that SageMaker packs into model.tar.gz::

    xgboost-model.json           the booster (Booster.save_model)
    transform.json               the fitted transform: raw columns, statistics, label values, decision threshold
    code/inference.py            this file
    code/sagemaker_code/         __init__.py and transform.py: the only project modules this file imports

The container serves it with ``SAGEMAKER_PROGRAM=inference.py`` and ``SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code``
and calls ``model_fn`` once, then ``transform_fn`` per request.

Requests carry raw feature rows (the spec's columns without the label, as written in the data files):

- ``text/csv``: one row per line, comma-separated, in the spec's column order, no header;
- ``application/json``: ``{"instances": [{"<column>": value, ...}, ...]}`` with every feature column, keyed by the
  column's name as the data files write it (``"education-num"``); the column's id (``"education_num"``, the spec's
  safe identifier) is accepted instead, for clients that cannot write the name, but not both for one column.

Responses: ``application/json`` (the default) ``{"predictions": [{"probability": p, "label": "<value>"}]}`` where p is
P(label == positive value) and label is the positive value when p >= the decision threshold, else the other value;
or ``text/csv``, one ``probability,label`` line per row.

Bad requests get a 4xx status and a message naming what to fix: 415 for a content type other than the two above, 406
for an Accept with neither, 400 for a body that cannot be scored (the message names the row or instance and column).
How that status reaches the client depends on the container's serving stack (see :func:`transform_fn`).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain
import xgboost as xgb
from sagemaker_inference.errors import GenericInferenceToolkitError  # type: ignore[import-untyped]

from sagemaker_code.steps.transform import TRANSFORM_FILE, Transform, TransformInputError

if TYPE_CHECKING:
    import flask

logger = logging.getLogger(__name__)

MODEL_FILE = "xgboost-model.json"
CSV = "text/csv"
JSON = "application/json"


class InvalidInputError(GenericInferenceToolkitError):  # type: ignore[misc]  # sagemaker-inference has no types
    """The request cannot be scored: the HTTP status the client gets and a message telling it what to fix.

    The toolkit's own error type, so that sagemaker_inference's Transformer (multi-model endpoints) answers with
    ``status_code`` instead of 500; :func:`transform_fn` gives the same status on the single-model stack.
    """

    status_code: int
    message: str

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        # the phrase becomes the HTTP reason phrase there: the standard one, not the (long) message
        super().__init__(int(status), message, status.phrase)

    def __str__(self) -> str:
        return self.message


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


def transform_fn(
    model: ServingModel, body: bytes | bytearray | str, content_type: str, accept: str
) -> tuple[str, str] | flask.Response:
    """Score one request: (body, content type), or the client's error.

    The one handler both serving stacks of the image call; either refuses a module that also defines input_fn,
    predict_fn or output_fn. Single-model endpoints and batch transform run sagemaker_containers' Flask worker,
    which turns anything a handler raises into ``ClientError`` and so into a 500: there the error is answered here,
    as a Flask response with its status and a JSON body shaped like the toolkit's own 415/406 answers. Multi-model
    endpoints run sagemaker_inference's Transformer, outside any Flask request: there, as for direct callers, the
    error is raised and the toolkit answers with its ``status_code``.
    """
    try:
        response_type(accept)  # before scoring: an unusable Accept is known now
        return serialize(predict(parse_request(body, content_type), model), accept)
    except InvalidInputError as error:
        response = _flask_response(error)
        if response is None:
            raise
        logger.warning("rejected a request (%d): %s", error.status_code, error.message)
        return response


def _flask_response(error: InvalidInputError) -> flask.Response | None:
    """The error as the Flask worker's response; None outside a Flask request (sagemaker_inference, direct calls)."""
    try:
        import flask
    except ImportError:  # no Flask installed: not the Flask worker
        return None
    if not flask.has_request_context():
        return None
    body = json.dumps({"error": type(error).__name__, "error-message": error.message})
    return flask.Response(body, status=error.status_code, mimetype=JSON)


def _media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def _text(body: bytes | bytearray | str) -> str:
    if isinstance(body, str):
        # The Flask worker decodes text/csv and application/json bodies itself, replacing bytes that are not UTF-8
        # with U+FFFD: without this check those cells would be scored as unseen categories.
        position = body.find("\ufffd")
        if position >= 0:
            line = body.count("\n", 0, position) + 1
            raise InvalidInputError(f"the request body is not UTF-8 text (line {line} has bytes that are not UTF-8)")
        return body
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"the request body is not UTF-8 text (byte {exc.start})") from None


def parse_request(body: bytes | bytearray | str, content_type: str) -> Request:
    """Parse the request body; the columns are checked in predict, which knows the model."""
    media_type = _media_type(content_type)
    if media_type not in (CSV, JSON):
        raise InvalidInputError(
            f"unsupported content type {content_type!r}: send {CSV} or {JSON}", HTTPStatus.UNSUPPORTED_MEDIA_TYPE
        )
    text = _text(body)
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


def _frame(request: Request, transform: Transform) -> pd.DataFrame:
    """The request's rows as a frame of the transform's input columns (JSON keys: names, or ids as aliases)."""
    columns, model_columns = transform.input_columns, transform.columns
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
    aliases = {feature.id: feature.name for feature in model_columns if feature.id != feature.name}
    rows: list[list[object]] = []
    for number, instance in enumerate(instances, start=1):
        named = {aliases.get(key, key) if key not in columns else key: value for key, value in instance.items()}
        twice = sorted(key for key in instance if key in aliases and aliases[key] in instance)
        absent = [column for column in columns if column not in named]
        unknown = sorted(set(named) - set(columns))
        if absent or unknown or twice:
            parts = [f"missing keys {absent}"] if absent else []
            parts += [f"unknown keys {unknown}"] if unknown else []
            parts += [f"both the name and the id of {[aliases[key] for key in twice]}"] if twice else []
            raise InvalidInputError(f"instance {number}: {' and '.join(parts)}; expected the features {list(columns)}")
        rows.append([named[column] for column in columns])
    return pd.DataFrame(rows, columns=list(columns), dtype=object)


def predict(request: Request, model: ServingModel) -> Predictions:
    transform = model.transform
    try:
        probabilities = model.predict_proba(_frame(request, transform))
    except TransformInputError as exc:
        message = str(exc)
        if request.instances is not None and message.startswith("row "):  # a JSON client counts instances
            message = "instance " + message.removeprefix("row ")
        raise InvalidInputError(message) from None
    positive = transform.predicted_positive(probabilities)
    label = transform.label
    return Predictions(
        probabilities=[float(p) for p in probabilities],
        labels=[label.positive if flag else label.negative for flag in positive.tolist()],
    )


def response_type(accept: str) -> str:
    """The first supported type of ``accept`` (JSON for */* or none)."""
    for part in (accept or "").split(","):
        media_type = _media_type(part)
        if media_type in ("", "*/*", JSON):
            return JSON
        if media_type == CSV:
            return CSV
    raise InvalidInputError(f"unsupported accept type {accept!r}: ask for {JSON} or {CSV}", HTTPStatus.NOT_ACCEPTABLE)


def serialize(prediction: Predictions, accept: str) -> tuple[str, str]:
    """(body, content type) in the type :func:`response_type` picks."""
    pairs = list(zip(prediction.probabilities, prediction.labels, strict=True))
    if response_type(accept) == JSON:
        return json.dumps({"predictions": [{"probability": p, "label": label} for p, label in pairs]}), JSON
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(pairs)
    return buffer.getvalue(), CSV
