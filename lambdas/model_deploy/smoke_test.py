"""The smoke test of a freshly deployed model: rows of its held-out test split sent to the endpoint, answers checked.

The deploy flow runs it after each environment's endpoint update, and ``python -m tools.smoke_test`` runs it by hand
against a SageMaker endpoint or the local endpoint (``make local-endpoint``). The logic is pure: it calls an injected
``invoke(body, content_type, accept) -> (status, body, seconds)``, so one code path tests both kinds of endpoint;
:func:`sagemaker_invoker` and :func:`http_invoker` are the two adapters.

Checks, each named in :class:`SmokeTestFailed`'s message when it fails:

- ``status``: every request answers 200 (a request that cannot be sent at all fails it too);
- ``schema``: the answer is what ``sagemaker_code/steps/inference.py``'s ``serialize`` writes for the Accept asked -
  JSON ``{"predictions": [{"probability": p, "label": "<value>"}]}`` or CSV ``probability,label`` lines - with one
  prediction per row sent and a label that is one of the model's two label values;
- ``probability``: every probability is a finite number in [0, 1];
- ``label``: each label is the positive value exactly when its probability is >= the decision threshold;
- ``latency``: the p95 of the requests' round-trip times is at most the bound.

One test row per request (the p95 is then over as many requests as rows), alternating CSV and JSON bodies and
Accept types so that every body/answer combination is exercised; a single row is sent twice, as CSV and as JSON. The
p95 is the nearest rank: of 20 requests, the slowest one (e.g. a serverless endpoint's cold start) does not count;
with fewer than 20, every request does.

Where the label comes from (:class:`Label`: the label column, its positive and negative values): it is passed in,
read by :func:`label_from_model_archive` from the ``transform.json`` inside the package's ``model.tar.gz``. That file
is what ``model_fn`` loads and what the serving code decides with, so it names the column to drop from the test rows
and the values the endpoint answers with exactly as the deployed artifact knows them; the dataset spec in the
project's config may have changed since the model was trained, and the package metadata does not carry the label.
The decision threshold, on the other hand, is the package metadata's ``decision_threshold`` (the model's *stored*
threshold, which the deployment is checked against), passed in by the caller.

Standard library only (bundled into the deploy Lambda: nothing here imports the rest of the project; the names
mirrored from ``sagemaker_code`` are checked against a real model archive by the tests).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

logger = logging.getLogger(__name__)

CSV = "text/csv"
JSON = "application/json"
#: The model archive's transform file (sagemaker_code.steps.transform.TRANSFORM_FILE).
TRANSFORM_FILE = "transform.json"
#: Probabilities this close to the threshold count as consistent with either label: the serving code compares
#: float32 probabilities with the threshold at float32 precision (NumPy 2 casts the Python float down).
THRESHOLD_TOLERANCE = 1e-6
#: How many failed requests a check's message shows (the rest are counted).
MAX_EXAMPLES = 3
CHECKS = ("status", "schema", "probability", "label", "latency")
#: (content type of the body, Accept) per request, in turn: every combination within four requests.
FORMATS = ((CSV, CSV), (JSON, JSON), (CSV, JSON), (JSON, CSV))

#: ``invoke(body, content_type, accept) -> (HTTP status, response body, seconds)``.
Invoke = Callable[[bytes, str, str], tuple[int, bytes, float]]


class SmokeTestFailed(Exception):  # noqa: N818 - the deploy flow's name for the outcome, not a program error
    """The endpoint failed the smoke test; the message names every failed check with examples."""

    def __init__(self, message: str, report: SmokeReport) -> None:
        super().__init__(message)
        self.report = report


class SmokeTestInputError(ValueError):
    """The smoke test cannot run: bad test data, label, threshold or bounds (the message names which)."""


@dataclass(frozen=True)
class Label:
    """The label column of the test rows and the two values the endpoint answers with."""

    column: str
    positive: str
    negative: str


@dataclass(frozen=True)
class Failure:
    check: str
    message: str


@dataclass
class SmokeReport:
    """What was sent and what failed; ``p95_ms`` is None when nothing could be timed."""

    rows: int
    requests: int
    p95_ms: float | None
    max_p95_ms: float
    failures: list[Failure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        """One line: the verdict, what was sent, the p95, and every failed check."""
        p95 = "n/a" if self.p95_ms is None else f"{self.p95_ms:.0f} ms"
        head = f"{self.requests} requests ({self.rows} test rows), p95 latency {p95} (bound {self.max_p95_ms:.0f} ms)"
        if self.passed:
            return f"smoke test passed: {head}"
        parts = []
        for check in CHECKS:
            found = [f.message for f in self.failures if f.check == check]
            if found:
                more = f" (and {len(found) - MAX_EXAMPLES} more)" if len(found) > MAX_EXAMPLES else ""
                parts.append(f"{check}: {'; '.join(found[:MAX_EXAMPLES])}{more}")
        return f"smoke test failed: {head}; failed checks - " + " | ".join(parts)


def label_from_transform(text: str | bytes) -> Label:
    """The label of a ``transform.json`` (its ``label``: column, positive, negative)."""
    try:
        data = json.loads(text)
        label = data["label"]
        return Label(column=str(label["column"]), positive=str(label["positive"]), negative=str(label["negative"]))
    except (ValueError, TypeError, KeyError) as exc:
        raise SmokeTestInputError(
            f"{TRANSFORM_FILE} has no readable label (column, positive, negative): {exc}"
        ) from None


def label_from_model_archive(archive: Path | BinaryIO) -> Label:
    """The label of the ``transform.json`` in a ``model.tar.gz`` (a path, or a stream such as an S3 object body,
    read only up to that member)."""
    try:
        with (
            tarfile.open(archive, mode="r:gz")
            if isinstance(archive, Path)
            else tarfile.open(fileobj=archive, mode="r|gz") as tar
        ):
            for member in tar:
                if member.isfile() and member.name.removeprefix("./") == TRANSFORM_FILE:
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        return label_from_transform(extracted.read())
    except (OSError, tarfile.TarError) as exc:
        raise SmokeTestInputError(f"cannot read the model archive {archive}: {exc}") from None
    raise SmokeTestInputError(f"the model archive {archive} has no {TRANSFORM_FILE}")


def feature_rows(test_csv: str, label: Label, rows: int) -> tuple[list[str], list[list[str]]]:
    """(feature column names, the first ``rows`` rows without the label) of the test split's CSV (header first)."""
    records = [record for record in csv.reader(io.StringIO(test_csv)) if any(cell.strip() for cell in record)]
    if not records:
        raise SmokeTestInputError("the test data is empty (expected a header row and test rows)")
    header = [name.strip() for name in records[0]]
    if label.column not in header:
        raise SmokeTestInputError(f"the test data's header has no label column {label.column!r}: {header}")
    position = header.index(label.column)
    body = records[1 : rows + 1]
    if not body:
        raise SmokeTestInputError("the test data has a header but no rows")
    for number, record in enumerate(body, start=1):
        if len(record) != len(header):
            raise SmokeTestInputError(f"test row {number} has {len(record)} fields, the header {len(header)}")
    features = header[:position] + header[position + 1 :]
    return features, [record[:position] + record[position + 1 :] for record in body]


def _body(columns: Sequence[str], row: Sequence[str], content_type: str) -> bytes:
    if content_type == JSON:
        return json.dumps({"instances": [dict(zip(columns, row, strict=True))]}).encode()
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(row)
    return buffer.getvalue().encode()


def parse_predictions(body: bytes, accept: str) -> list[tuple[object, object]]:
    """(probability, label) pairs of an answer in the ``accept`` type; ValueError naming what is off."""
    text = body.decode("utf-8")
    if accept == JSON:
        data = json.loads(text)
        predictions = data.get("predictions") if isinstance(data, dict) else None
        if not isinstance(predictions, list):
            raise ValueError(f'expected {{"predictions": [...]}}, got {text[:200]!r}')
        pairs: list[tuple[object, object]] = []
        for item in predictions:
            if not isinstance(item, dict) or set(item) != {"probability", "label"}:
                raise ValueError(f"expected each prediction to be {{probability, label}}, got {item!r}")
            pairs.append((item["probability"], item["label"]))
        return pairs
    pairs = []
    for record in csv.reader(io.StringIO(text)):
        if not record:
            continue
        if len(record) != 2:
            raise ValueError(f"expected 'probability,label' lines, got {record!r}")
        try:
            probability: object = float(record[0])
        except ValueError:
            probability = record[0]
        pairs.append((probability, record[1]))
    return pairs


def p95(seconds: Sequence[float]) -> float | None:
    """The 95th percentile (nearest rank) in seconds; None for no values."""
    if not seconds:
        return None
    ordered = sorted(seconds)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _check_answer(
    pairs: list[tuple[object, object]], label: Label, threshold: float, where: str, failures: list[Failure]
) -> None:
    if len(pairs) != 1:
        failures.append(Failure("schema", f"{where}: {len(pairs)} predictions for 1 row"))
    for probability, value in pairs:
        if isinstance(probability, bool) or not isinstance(probability, int | float) or not math.isfinite(probability):
            failures.append(Failure("schema", f"{where}: probability {probability!r} is not a number"))
            continue
        if value not in (label.positive, label.negative):
            failures.append(
                Failure("schema", f"{where}: label {value!r} is neither {label.positive!r} nor {label.negative!r}")
            )
        if not 0 <= probability <= 1:
            failures.append(Failure("probability", f"{where}: probability {probability} is outside [0, 1]"))
        if abs(probability - threshold) > THRESHOLD_TOLERANCE and value in (label.positive, label.negative):
            expected = label.positive if probability >= threshold else label.negative
            if value != expected:
                relation = ">=" if probability >= threshold else "<"
                failures.append(
                    Failure(
                        "label",
                        f"{where}: label {value!r} for probability {probability} {relation} threshold {threshold} "
                        f"(expected {expected!r})",
                    )
                )


def run_smoke_test(
    invoke: Invoke,
    test_csv: str,
    *,
    label: Label,
    threshold: float,
    rows: int = 20,
    max_p95_ms: float = 1000.0,
) -> SmokeReport:
    """Send ``rows`` test rows through ``invoke`` and check the answers; raise :class:`SmokeTestFailed` naming every
    failed check, else return the report."""
    if not 0 < threshold < 1:
        raise SmokeTestInputError(f"the decision threshold must be between 0 and 1, got {threshold}")
    if rows < 1 or max_p95_ms <= 0:
        raise SmokeTestInputError(f"rows ({rows}) and the p95 bound ({max_p95_ms} ms) must be positive")
    columns, selected = feature_rows(test_csv, label, rows)
    plan = [(number, row) for number, row in enumerate(selected, start=1)]
    if len(plan) == 1:
        plan.append(plan[0])  # one row: as CSV and as JSON
    failures: list[Failure] = []
    seconds: list[float] = []
    for index, (number, row) in enumerate(plan):
        content_type, accept = FORMATS[index % len(FORMATS)]
        where = f"request {index + 1} (test row {number}, {content_type} -> {accept})"
        try:
            status, body, elapsed = invoke(_body(columns, row, content_type), content_type, accept)
        except Exception as exc:  # an endpoint that cannot be reached fails the check, with the reason
            failures.append(Failure("status", f"{where}: not sent: {type(exc).__name__}: {exc}"))
            continue
        seconds.append(elapsed)
        if status != 200:
            text = body[:300].decode("utf-8", "replace")
            failures.append(Failure("status", f"{where}: answered {status}: {text}"))
            continue
        try:
            pairs = parse_predictions(body, accept)
        except ValueError as exc:  # JSON and UTF-8 decoding errors are ValueErrors too
            failures.append(Failure("schema", f"{where}: {exc}"))
            continue
        _check_answer(pairs, label, threshold, where, failures)
    worst = p95(seconds)
    p95_ms = None if worst is None else worst * 1000
    if p95_ms is not None and p95_ms > max_p95_ms:
        failures.append(Failure("latency", f"p95 latency {p95_ms:.0f} ms is above the bound {max_p95_ms:.0f} ms"))
    report = SmokeReport(len(selected), len(plan), p95_ms, max_p95_ms, failures)
    if failures:
        raise SmokeTestFailed(report.summary(), report)
    logger.info(report.summary())
    return report


def sagemaker_invoker(runtime: Any, endpoint_name: str) -> Invoke:
    """``invoke`` through a ``sagemaker-runtime`` client's InvokeEndpoint. The container's own 4xx/5xx answers come
    back as ``ModelError`` with the original status and body: they are returned as answers; any other error (no such
    endpoint, throttling, access) raises and fails the ``status`` check with its message."""

    def invoke(body: bytes, content_type: str, accept: str) -> tuple[int, bytes, float]:
        started = time.perf_counter()
        try:
            response = runtime.invoke_endpoint(
                EndpointName=endpoint_name, Body=body, ContentType=content_type, Accept=accept
            )
            answer: bytes = response["Body"].read()
        except Exception as exc:  # botocore's ClientError, matched by shape: no botocore import here
            parsed = getattr(exc, "response", None)
            error = parsed.get("Error", {}) if isinstance(parsed, dict) else {}
            if not isinstance(parsed, dict) or error.get("Code") != "ModelError":
                raise
            message = str(parsed.get("OriginalMessage", error.get("Message", "")))
            return int(parsed.get("OriginalStatusCode", 500)), message.encode(), time.perf_counter() - started
        return 200, answer, time.perf_counter() - started

    return invoke


def http_invoker(base_url: str, timeout: float = 30.0) -> Invoke:
    """``invoke`` as POST ``<base_url>/invocations`` (SageMaker's container contract, e.g. the local endpoint)."""
    url = base_url.rstrip("/") + "/invocations"

    def invoke(body: bytes, content_type: str, accept: str) -> tuple[int, bytes, float]:
        request = urllib.request.Request(  # noqa: S310 - the caller's URL; http(s) checked by the CLI
            url, data=body, method="POST", headers={"Content-Type": content_type, "Accept": accept}
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                answer: bytes = response.read()
                return int(response.status), answer, time.perf_counter() - started
        except urllib.error.HTTPError as error:
            return int(error.code), error.read(), time.perf_counter() - started

    return invoke
