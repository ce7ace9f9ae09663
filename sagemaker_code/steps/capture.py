"""Captured requests and responses of a time window, and the ground truth that arrived for them.

Record and ground-truth formats: /work/notes issue 11 interfaces, i.e. SageMaker data capture's JSON Lines (one
request per line, input and output payloads as CSV, JSON or BASE64 text) and Model Monitor's ground-truth lines.

One bad record never stops the monitor: a line that is not JSON, a payload that cannot be decoded, a row with the
wrong number of fields, a prediction that is not a probability, or input rows and predictions that do not pair up
make the whole record unparsable (its rows cannot be trusted to pair), counted by reason with the first few places.

Speed: each line costs one ``json.loads`` and a few string operations; the CSV rows of every record are parsed
together by pandas' C parser (a payload with quotes goes through the csv module on its own), the times in one
``pd.to_datetime`` call. Only records inside the feature window have their inputs parsed; the rest of the label
look-back needs the predictions only.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain

CSV_TYPE = "text/csv"
JSON_TYPE = "application/json"
#: Places of each problem kept for the report.
EXAMPLES = 5


class RecordError(ValueError):
    """A record (or ground-truth line) that cannot be used; the message is the reason, without the place."""


@dataclass
class Problems:
    """Unusable lines by reason, with the first few places (``file:line``) of each."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, where: str) -> None:
        self.counts[reason] += 1
        places = self.examples.setdefault(reason, [])
        if len(places) < EXAMPLES:
            places.append(where)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, object]:
        reasons = self.counts.most_common()
        by_reason = [{"reason": why, "count": count, "examples": self.examples[why]} for why, count in reasons]
        return {"total": self.total, "by_reason": by_reason}


@dataclass(frozen=True)
class Capture:
    """The captured rows of a time range, in capture order (``features``: the window's rows, when parsed)."""

    features: pd.DataFrame  # feature columns (spec names): CSV text or JSON values as sent; rows of in_window only
    probabilities: np.ndarray  # every row
    labels: np.ndarray  # predicted label text (object), every row
    keys: np.ndarray  # the row's ground-truth key (object): InferenceId, or "<id>:<row>"; None without an id
    times: np.ndarray  # the row's inferenceTime, int64 nanoseconds since the epoch (UTC)
    in_window: np.ndarray  # bool: the row is in the feature window
    records: int  # usable records in the range
    problems: Problems  # unusable records in the feature window (their rows are unknown)


def parse_time(texts: list[str]) -> np.ndarray:
    """UTC times of ISO 8601 texts as int64 nanoseconds; unreadable -> the minimum int64."""
    times = pd.to_datetime(pd.Series(texts, dtype=object), utc=True, errors="coerce", format="ISO8601")
    return np.asarray(times.to_numpy(dtype="datetime64[ns]").astype(np.int64))


def nanoseconds(moment: datetime) -> int:
    return int(pd.Timestamp(moment).value)


def decode(part: object, what: str) -> tuple[str, str]:
    """(media type, text) of a captured payload (endpointInput / endpointOutput)."""
    if not isinstance(part, dict) or not isinstance(part.get("data"), str):
        raise RecordError(f"no {what} data")
    encoding = str(part.get("encoding", "CSV")).upper()
    data: str = part["data"]
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise RecordError(f"{what} is not base64 of UTF-8 text") from None
    media = str(part.get("observedContentType") or "").split(";")[0].strip().lower()
    if media not in (CSV_TYPE, JSON_TYPE):
        media = JSON_TYPE if encoding == "JSON" else CSV_TYPE
    return media, data


def _csv_rows(text: str, fields: int) -> tuple[list[str] | None, list[list[str]] | None]:
    """Lines for the bulk parser (no quotes), or rows parsed by the csv module (quoted fields); blank lines skipped,
    as the inference handler skips them."""
    if '"' in text:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
        for row in rows:
            if len(row) != fields:
                raise RecordError(f"a CSV row has {len(row)} fields, expected {fields}")
        return None, rows
    lines = [line for line in text.splitlines() if line.replace(",", "").strip()]
    for line in lines:
        if line.count(",") != fields - 1:
            raise RecordError(f"a CSV row has {line.count(',') + 1} fields, expected {fields}")
    return lines, None


def _instances(text: str, columns: tuple[str, ...], aliases: dict[str, str]) -> list[list[object]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise RecordError("input is not valid JSON") from None
    instances = data.get("instances") if isinstance(data, dict) else None
    if not isinstance(instances, list) or not all(isinstance(item, dict) for item in instances):
        raise RecordError('input JSON is not {"instances": [{...}, ...]}')
    rows = []
    for instance in instances:
        named = {aliases.get(key, key) if key not in columns else key: value for key, value in instance.items()}
        if len(named) != len(instance) or set(named) != set(columns):
            raise RecordError("an input instance does not have exactly the feature columns")
        rows.append([named[column] for column in columns])
    return rows


def _probability(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]  # anything else is the record's error
    except (TypeError, ValueError):
        raise RecordError(f"prediction {value!r} is not a probability") from None
    if isinstance(value, bool) or not 0.0 <= number <= 1.0:  # NaN fails too
        raise RecordError(f"prediction {value!r} is not a probability")
    return number


def predictions(media: str, text: str) -> list[tuple[float, str | None]]:
    """(probability, label) of each row of a response."""
    if media == CSV_TYPE:
        pairs: list[tuple[float, str | None]] = []
        for line in text.splitlines():
            if line.strip():
                probability, _, label = line.partition(",")
                pairs.append((_probability(probability.strip()), label.strip() or None))
        return pairs
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise RecordError("output is not valid JSON") from None
    items = data.get("predictions") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise RecordError('output JSON is not {"predictions": [{...}, ...]}')
    labels = [item.get("label") for item in items]
    return [
        (_probability(item.get("probability")), None if label is None else str(label).strip())
        for item, label in zip(items, labels, strict=True)
    ]


@dataclass
class _Rows:
    """What is collected per row while reading, in capture order."""

    probabilities: list[float] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    in_window: list[bool] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # unquoted CSV rows, for the bulk parser
    line_rows: list[int] = field(default_factory=list)  # their positions among the feature rows
    parsed: list[list[object]] = field(default_factory=list)  # quoted CSV rows and JSON instances
    parsed_rows: list[int] = field(default_factory=list)
    feature_rows: int = 0


def _add_record(
    rows: _Rows,
    record: dict[str, object],
    columns: tuple[str, ...],
    aliases: dict[str, str],
    place: tuple[int, bool, bool],
) -> None:
    """Add a record's rows; ``place``: (time, in the feature window, parse its inputs)."""
    moment, in_window, features = place
    capture = record.get("captureData")
    if not isinstance(capture, dict):
        raise RecordError("no captureData")
    pairs = predictions(*decode(capture.get("endpointOutput"), "output"))
    lines: list[str] | None = None
    parsed: list[list[object]] | None = None
    if features:
        media, text = decode(capture.get("endpointInput"), "input")
        if media == CSV_TYPE:
            lines, quoted = _csv_rows(text, len(columns))
            parsed = [list[object](row) for row in quoted] if quoted is not None else None
        else:
            parsed = _instances(text, columns, aliases)
        count = len(lines) if lines is not None else len(parsed or [])
        if count != len(pairs):
            raise RecordError(f"{count} input rows but {len(pairs)} predictions")
    if not pairs:
        raise RecordError("no predictions")
    metadata = record.get("eventMetadata")
    inference_id = metadata.get("inferenceId") if isinstance(metadata, dict) else None
    key = str(inference_id) if inference_id not in (None, "") else None
    for index, (probability, label) in enumerate(pairs):
        rows.probabilities.append(probability)
        rows.labels.append(label)
        rows.keys.append(None if key is None else key if len(pairs) == 1 else f"{key}:{index}")
        rows.times.append(moment)
        rows.in_window.append(in_window)
    if lines is not None:
        rows.line_rows.extend(range(rows.feature_rows, rows.feature_rows + len(lines)))
        rows.lines.extend(lines)
    elif parsed is not None:
        rows.parsed_rows.extend(range(rows.feature_rows, rows.feature_rows + len(parsed)))
        rows.parsed.extend(parsed)
    if features:
        rows.feature_rows += len(pairs)


def _feature_frame(rows: _Rows, columns: tuple[str, ...]) -> pd.DataFrame:
    parts, positions = [], []
    if rows.lines:
        text = "\n".join(rows.lines)
        frame = pd.read_csv(
            io.StringIO(text), header=None, names=list(columns), dtype=object, na_filter=False,
            quoting=csv.QUOTE_NONE, skip_blank_lines=False, engine="c",
        )  # fmt: skip
        parts.append(frame)
        positions.append(np.asarray(rows.line_rows))
    if rows.parsed:
        parts.append(pd.DataFrame(rows.parsed, columns=list(columns), dtype=object))
        positions.append(np.asarray(rows.parsed_rows))
    if not parts:
        return pd.DataFrame({column: pd.Series([], dtype=object) for column in columns})
    if len(parts) == 1:
        return parts[0].reset_index(drop=True)
    order = np.argsort(np.concatenate(positions), kind="mergesort")
    return pd.concat(parts, ignore_index=True).iloc[order].reset_index(drop=True)


def _entries(
    files: Iterable[tuple[str, str, bool]], problems: Problems
) -> list[tuple[str, dict[str, object], str, bool]]:
    """(place, record, time text, counted) of each JSON record with a time; the other lines are problems when their
    file counts."""
    entries: list[tuple[str, dict[str, object], str, bool]] = []
    for name, text, counted in files:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if counted:
                    problems.add("not a JSON record", f"{name}:{number}")
                continue
            metadata = record.get("eventMetadata") if isinstance(record, dict) else None
            moment = metadata.get("inferenceTime") if isinstance(metadata, dict) else None
            if isinstance(moment, str) and moment:
                entries.append((f"{name}:{number}", record, moment, counted))
            elif counted:
                problems.add("no eventMetadata.inferenceTime", f"{name}:{number}")
    return entries


def read_capture(
    files: Iterable[tuple[str, str, bool]],
    columns: tuple[str, ...],
    aliases: dict[str, str],
    *,
    start: datetime,
    end: datetime,
    window_start: datetime,
    parse_features: bool = True,
) -> Capture:
    """The rows of the records with ``start <= inferenceTime < end`` in ``files``; the feature window is
    ``window_start <= inferenceTime < end``: its records have their inputs parsed (unless ``parse_features`` is
    false) and its bad records are counted. ``aliases``: column id -> name (JSON clients may send ids).

    ``files``: (name, text, whether its hour overlaps the feature window); a line without a readable time is a
    problem of the feature window only when its file's hour overlaps it."""
    problems = Problems()
    entries = _entries(files, problems)
    times = parse_time([moment for _, _, moment, _ in entries])
    lowest, first, last = nanoseconds(start), nanoseconds(window_start), nanoseconds(end)
    unreadable = np.iinfo(np.int64).min
    rows, records = _Rows(), 0
    for (where, record, _, counted), moment in zip(entries, times.tolist(), strict=True):
        if moment == unreadable:
            if counted:
                problems.add("eventMetadata.inferenceTime is not an ISO 8601 time", where)
            continue
        if not lowest <= moment < last:
            continue
        in_window = moment >= first
        try:
            _add_record(rows, record, columns, aliases, (moment, in_window, in_window and parse_features))
            records += 1
        except RecordError as exc:
            if in_window:
                problems.add(str(exc), where)
    return Capture(
        features=_feature_frame(rows, columns),
        probabilities=np.asarray(rows.probabilities, dtype=np.float64),
        labels=np.asarray(rows.labels, dtype=object),
        keys=np.asarray(rows.keys, dtype=object),
        times=np.asarray(rows.times, dtype=np.int64),
        in_window=np.asarray(rows.in_window, dtype=bool),
        records=records,
        problems=problems,
    )


# ---- ground truth ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroundTruth:
    labels: dict[str, str]  # inference key -> label text as written in the dataset
    lines: int
    duplicates: int  # keys labelled more than once (the last file, by key order, wins)
    problems: Problems


def ground_truth_label(record: object) -> tuple[str, str]:
    """(key, label text) of one ground-truth line."""
    if not isinstance(record, dict):
        raise RecordError("not a JSON object")
    metadata, data = record.get("eventMetadata"), record.get("groundTruthData")
    key = metadata.get("eventId") if isinstance(metadata, dict) else None
    if not isinstance(key, str) or not key:
        raise RecordError("no eventMetadata.eventId")
    if not isinstance(data, dict) or not isinstance(data.get("data"), (str, int, float)):
        raise RecordError("no groundTruthData.data")
    value = data["data"]
    if isinstance(value, float) and not math.isfinite(value):
        raise RecordError("groundTruthData.data is not a label")
    text = str(value)
    encoding = str(data.get("encoding", "CSV")).upper()
    if encoding == "BASE64":
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise RecordError("groundTruthData.data is not base64 of UTF-8 text") from None
    elif encoding == "JSON" and isinstance(value, str):
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            decoded = value
        text = str(decoded)
    return key, text.strip()


def read_ground_truth(files: Iterable[tuple[str, str]], label_values: tuple[str, ...]) -> GroundTruth:
    """Labels by inference key from ground-truth files ((name, text), in key order); labels that are not one of
    the spec's label values are problems, not labels."""
    labels: dict[str, str] = {}
    problems, lines, duplicates = Problems(), 0, 0
    for name, text in files:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            lines += 1
            try:
                try:
                    key, label = ground_truth_label(json.loads(line))
                except json.JSONDecodeError:
                    raise RecordError("not JSON") from None
                if label not in label_values:
                    raise RecordError(f"label {label!r} is not one of {list(label_values)}")
            except RecordError as exc:
                problems.add(str(exc), f"{name}:{number}")
                continue
            duplicates += key in labels
            labels[key] = label
    return GroundTruth(labels=labels, lines=lines, duplicates=duplicates, problems=problems)


def join_labels(keys: np.ndarray, truth: GroundTruth) -> tuple[np.ndarray, np.ndarray]:
    """(row positions with a label, their label texts) for the rows' ground-truth keys."""
    found = [
        (row, truth.labels[key]) for row, key in enumerate(keys.tolist()) if key is not None and key in truth.labels
    ]
    return np.asarray([row for row, _ in found], dtype=np.int64), np.asarray(
        [label for _, label in found], dtype=object
    )
