"""SageMaker data capture, reproduced on files: the records a real endpoint writes to S3, and the ground-truth layout.

An endpoint with a ``DataCaptureConfig`` writes one JSON line per captured invocation under
``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl`` (the UTC hour of the request)::

    {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "...", "encoding": "CSV"},
            "endpointOutput": {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": "...",
                "encoding": "JSON",
            },
        },
        "eventMetadata": {
            "eventId": "<uuid4>",
            "inferenceId": "<the caller's InferenceId>",
            "inferenceTime": "2026-12-01T10:00:00Z",
        },
        "eventVersion": "0",
    }

Encoding follows the endpoint config's ``CaptureContentTypeHeader``: a payload whose content type is one of its CSV
(JSON) content types is stored as text with encoding ``CSV`` (``JSON``); any other is base64 (``BASE64``), SageMaker's
default "if no headers are specified". Our endpoints list ``text/csv`` and ``application/json``
(stacks/serving/endpoint.py), so does :data:`CSV_CONTENT_TYPES` / :data:`JSON_CONTENT_TYPES`. ``inferenceId`` is
present only when the caller passed one (``InvokeEndpoint``'s ``InferenceId``, which reaches the container as the
``X-Amzn-SageMaker-Inference-Id`` header).

What is captured: the invocations the model answered. SageMaker's documentation does not say that failed invocations
are captured, and its record has no status: an output field holding an error body would be read as a prediction by
every consumer (Model Monitor pairs input rows with output predictions). So the local endpoint captures only 200
answers, and the monitor never has to tell errors from predictions. Sampling is 100 % (the local endpoint is a
developer tool; the sampling percentage is a cost control of real endpoints).

Ground truth (Model Monitor's format, the layout the README documents) is written by callers that know labels (the
synthetic traffic tool): ``<root>/<endpoint>/yyyy/mm/dd/hh/<name>.jsonl``, the hour when the labels were written.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

logger = logging.getLogger(__name__)

#: The content types our endpoint configs capture as text (stacks/serving/endpoint.py's CaptureContentTypeHeader).
CSV_CONTENT_TYPES = ("text/csv",)
JSON_CONTENT_TYPES = ("application/json",)
#: The header through which InvokeEndpoint's InferenceId reaches the container.
INFERENCE_ID_HEADER = "X-Amzn-SageMaker-Inference-Id"
#: The variant of our endpoints (stacks/serving/endpoint.py's VARIANT_NAME).
DEFAULT_VARIANT = "AllTraffic"
EVENT_VERSION = "0"
#: SageMaker's endpoint and variant names (CreateEndpoint, ProductionVariant): they become folder names here.
NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class CaptureError(ValueError):
    """A capture setting or value cannot be used; the message names it."""


def check_name(value: str, what: str) -> str:
    """``value`` if it is a SageMaker endpoint/variant name (so it is one safe folder name), else CaptureError."""
    if not NAME_RE.fullmatch(value):
        raise CaptureError(
            f"{what} {value!r} is not a SageMaker name: 1 to 63 letters, digits and '-', starting and ending with a "
            "letter or digit"
        )
    return value


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive time is refused (whose hour would it be?)."""
    if moment.tzinfo is None:
        raise CaptureError(f"time {moment.isoformat()} has no time zone: give one (e.g. Z for UTC)")
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """SageMaker's ``inferenceTime``: UTC to the second, ``Z`` suffix."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def hour_folder(moment: datetime) -> str:
    """``yyyy/mm/dd/hh`` of the UTC hour of ``moment``."""
    return utc(moment).strftime("%Y/%m/%d/%H")


def file_name(moment: datetime, unique: uuid.UUID | str) -> str:
    """``<mm>-<ss>-<mmm>-<uuid>.jsonl``: minute, second and millisecond of the file's first record, then a uuid."""
    at = utc(moment)
    return f"{at:%M-%S}-{at.microsecond // 1000:03d}-{unique}.jsonl"


@functools.lru_cache(maxsize=64)
def _encoding(content_type: str) -> str:
    """CSV, JSON or BASE64: how a payload of ``content_type`` (parameters such as charset ignored) is captured."""
    media_type = content_type.split(";", maxsplit=1)[0].strip().lower()
    return "CSV" if media_type in CSV_CONTENT_TYPES else "JSON" if media_type in JSON_CONTENT_TYPES else "BASE64"


def encode_payload(payload: bytes, content_type: str) -> tuple[str, str]:
    """(data, encoding) of one payload: text for the configured CSV/JSON content types, base64 for anything else (and
    for a text payload that is not UTF-8, which cannot be stored as text)."""
    encoding = _encoding(content_type)
    if encoding != "BASE64":
        try:
            return payload.decode("utf-8"), encoding
        except UnicodeDecodeError:
            pass
    return base64.b64encode(payload).decode("ascii"), "BASE64"


def capture_record(
    *,
    input_body: bytes,
    input_type: str,
    output_body: bytes,
    output_type: str,
    event_id: uuid.UUID | str,
    inference_time: datetime | str,
    inference_id: str | None = None,
) -> dict[str, Any]:
    """One captured invocation, as SageMaker writes it (``inference_time`` as a text is :func:`format_time`'s, for
    bulk writers that format times in bulk)."""
    captured: dict[str, Any] = {}
    for key, mode, body, content_type in (
        ("endpointInput", "INPUT", input_body, input_type),
        ("endpointOutput", "OUTPUT", output_body, output_type),
    ):
        data, encoding = encode_payload(body, content_type)
        captured[key] = {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}
    metadata: dict[str, str] = {"eventId": str(event_id)}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    metadata["inferenceTime"] = inference_time if isinstance(inference_time, str) else format_time(inference_time)
    return {"captureData": captured, "eventMetadata": metadata, "eventVersion": EVENT_VERSION}


def ground_truth_record(label: str, event_id: str) -> dict[str, Any]:
    """One label, in Model Monitor's ground-truth format; ``event_id`` is the InferenceId (``<id>:<row>`` for a row of
    a multi-row request)."""
    return {
        "groundTruthData": {"data": label, "encoding": "CSV"},
        "eventMetadata": {"eventId": event_id},
        "eventVersion": EVENT_VERSION,
    }


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def json_line(record: dict[str, Any]) -> str:
    """A record as one line of a ``.jsonl`` file (compact, as SageMaker writes)."""
    return _ENCODER.encode(record) + "\n"


@dataclass(frozen=True)
class CaptureLocation:
    """Where one endpoint variant's records go: ``root/<endpoint>/<variant>/``."""

    root: Path
    endpoint: str
    variant: str = DEFAULT_VARIANT

    def __post_init__(self) -> None:
        check_name(self.endpoint, "endpoint name")
        check_name(self.variant, "variant name")

    @property
    def folder(self) -> Path:
        return self.root / self.endpoint / self.variant

    def hour(self, moment: datetime) -> Path:
        return self.folder / hour_folder(moment)


class CaptureWriter:
    """Appends capture records of one endpoint variant, from any number of threads.

    One file is open at a time, for the UTC hour of the last record: a record of another hour (the clock moved on, or
    a request that started before the hour and finished after a newer one) closes it and opens a new file in that
    hour's folder. Each line is written and flushed under a lock, so a reader (the monitor, a test) never sees half a
    record and no two threads interleave.
    """

    def __init__(self, location: CaptureLocation) -> None:
        self.location = location
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._hour: str | None = None
        self.records = 0

    def write(
        self,
        *,
        input_body: bytes,
        input_type: str,
        output_body: bytes,
        output_type: str,
        inference_time: datetime,
        inference_id: str | None = None,
    ) -> None:
        record = capture_record(
            input_body=input_body,
            input_type=input_type,
            output_body=output_body,
            output_type=output_type,
            event_id=uuid.uuid4(),
            inference_time=inference_time,
            inference_id=inference_id,
        )
        line = json_line(record)
        hour = hour_folder(inference_time)
        with self._lock:
            if self._file is None or hour != self._hour:
                self._close()
                folder = self.location.hour(inference_time)
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / file_name(inference_time, uuid.uuid4())
                self._file = path.open("x", encoding="utf-8")
                self._hour = hour
                logger.debug("capturing to %s", path)
            self._file.write(line)
            self._file.flush()
            self.records += 1

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._hour = None

    def close(self) -> None:
        with self._lock:
            self._close()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def now() -> datetime:
    """The current UTC time (one place for tests to replace)."""
    return datetime.now(UTC)
