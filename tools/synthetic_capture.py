"""Synthetic production traffic written straight to files: SageMaker capture records and delayed ground truth.

``python -m tools.synthetic_capture`` resamples rows of a raw dataset file (default: the spec's shipped sample), scores
them with a model version of the local registry - the package's own ``transform_fn``, as the local endpoint serves it,
so every captured prediction is what the endpoint would have answered - and writes what an endpoint with data capture
would have written, without HTTP and at bulk speed (one handler call per batch of rows; 100,000 rows take seconds):

- ``--capture-dir``: ``<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl`` records
  (:mod:`local_endpoint.capture`), requests evenly spaced from ``--start`` at ``--rate`` per second, each carrying
  ``--rows-per-request`` rows and an InferenceId;
- ``--ground-truth-dir``: ``<endpoint>/yyyy/mm/dd/hh/*.jsonl`` labels (the rows' own dataset labels) of a
  ``--label-fraction`` of the rows, written ``--labels-delay-hours`` after their request and keyed by InferenceId
  (``<InferenceId>:<row>`` for the rows of a multi-row request).

Both folders are laid out like the buckets' prefixes (``s3://<capture bucket>/endpoints/``,
``s3://<data bucket>/ground-truth/``), so that they can be the local AWS stand-in's ``<root>/s3/<bucket>/...``.

Drift is injected into the written inputs (the labels stay the rows' own): ``--shift FEATURE=DELTA`` adds to a numeric
column, ``--swap FEATURE=FROM:TO`` turns ``--swap-fraction`` of the rows with category FROM into TO (a TO the model
never saw makes schema violations), ``--missing FEATURE=FRACTION`` blanks values, ``--flip-labels FRACTION`` flips
labels (quality drops, inputs unchanged). Everything random follows ``--seed`` and ``--start``: the same arguments
write the same files; another start gives other ids, so that runs for several windows can share the folders.
Exit status: 0 written, 2 bad arguments or inputs (the message says which).
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from local_endpoint.capture import (
    DEFAULT_VARIANT,
    CaptureError,
    CaptureLocation,
    capture_record,
    check_name,
    file_name,
    ground_truth_record,
    json_line,
    utc,
)
from local_endpoint.cli import default_endpoint_name
from local_endpoint.package import EndpointError, LoadedModel, find_version, load_model
from tools.synthetic_traffic import (
    CSV,
    JSON,
    Summary,
    SyntheticCaptureError,
    Table,
    Traffic,
    check_traffic,
    inject_drift,
    load_spec,
    read_table,
)

logger = logging.getLogger(__name__)
PROG = "python -m tools.synthetic_capture"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = REPO_ROOT / "config" / "datasets" / "german_credit.yaml"
#: Rows per handler call: big enough to amortise parsing, small enough to bound the request text in memory.
BATCH_ROWS = 20_000


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


def _encoded(values: np.ndarray, convert: Any) -> np.ndarray:
    """``convert`` of each value, computed once per distinct value."""
    uniques, inverse = np.unique(values.astype(str), return_inverse=True)
    return np.array([convert(value) for value in uniques.tolist()] + [None], dtype=object)[:-1][inverse]


def _json_value(kind: str) -> Any:
    def convert(text: str) -> object:
        if not text:
            return None
        if kind == "numeric":
            number = float(text)
            return int(number) if number.is_integer() else number
        return text

    return convert


def score(loaded: LoadedModel, lines: list[str]) -> tuple[list[float], list[str]]:
    """(probabilities, labels) of CSV rows, through the package's ``transform_fn``, one call per batch."""
    handlers = loaded.handlers
    probabilities: list[float] = []
    labels: list[str] = []
    for first in range(0, len(lines), BATCH_ROWS):
        body = ("\n".join(lines[first : first + BATCH_ROWS]) + "\n").encode("utf-8")
        try:
            text, _ = handlers.transform_fn(loaded.model, body, CSV, JSON)
        except handlers.InvalidInputError as error:
            raise SyntheticCaptureError(
                f"the model refuses the generated rows {first + 1}..{first + BATCH_ROWS} (a row number in the message "
                f"counts from the first of them): {error.message}"
            ) from None
        for prediction in json.loads(text)["predictions"]:
            probabilities.append(float(prediction["probability"]))
            labels.append(str(prediction["label"]))
    return probabilities, labels


def _uuids(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` version-4 UUIDs drawn from ``rng`` (reproducible, unlike uuid.uuid4), formatted in bulk."""
    raw = np.frombuffer(rng.bytes(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    digits = raw.tobytes().hex()
    return [
        f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:]}"
        for d in (digits[i : i + 32] for i in range(0, 32 * count, 32))
    ]


def _file_names(rng: np.random.Generator) -> Iterator[str]:
    while True:
        yield _uuids(rng, 1)[0]


def _output(probabilities: list[float], labels: list[str], accept: str) -> bytes:
    """The handler's answer for these rows: what ``serialize`` of sagemaker_code/steps/inference.py writes
    (``json.dumps`` with its default separators, which write a float as ``repr``; or ``csv.writer`` lines), formatted
    here without an encoder call per request, the writing's largest cost."""
    pairs = zip(probabilities, labels, strict=True)
    if accept == JSON:
        items = ", ".join(f'{{"probability": {p!r}, "label": {_json_text(label)}}}' for p, label in pairs)
        return f'{{"predictions": [{items}]}}'.encode()
    return "".join(f"{p!r},{_csv_field(label)}\n" for p, label in pairs).encode()


@functools.lru_cache(maxsize=16)
def _json_text(text: str) -> str:
    return json.dumps(text)


def _moments(start: datetime, count: int, per_second: float) -> np.ndarray:
    """``count`` UTC times ``1 / per_second`` apart from ``start``, as datetime64[us] (formatted in bulk)."""
    base = np.datetime64(utc(start).replace(tzinfo=None), "us")
    return base + np.round(np.arange(count) * (1e6 / per_second)).astype("timedelta64[us]")


def _seconds(moments: np.ndarray) -> list[str]:
    """SageMaker's inferenceTime text of each time (capture.format_time, in bulk)."""
    return [f"{text}Z" for text in np.datetime_as_string(moments, unit="s").tolist()]


def _hours(moments: np.ndarray) -> list[str]:
    """The ``yyyy/mm/dd/hh`` folder of each time (capture.hour_folder, in bulk)."""
    uniques, inverse = np.unique(np.datetime_as_string(moments, unit="h"), return_inverse=True)
    folders = [text.replace("-", "/").replace("T", "/") for text in uniques.tolist()]
    return [folders[index] for index in inverse.tolist()]


class _HourlyFiles:
    """Lines appended to one new file per UTC hour under ``folder`` (times come in order)."""

    def __init__(self, folder: Path, names: Iterator[str]) -> None:
        self.folder, self.names = folder, names
        self.paths: list[Path] = []
        self._hour: str | None = None
        self._lines: list[str] = []
        self._first: np.datetime64 | None = None

    def add(self, hour: str, moment: np.datetime64, line: str) -> None:
        if hour != self._hour:
            self.flush()
            self._hour, self._first = hour, moment
        self._lines.append(line)

    def flush(self) -> None:
        if self._hour is None or self._first is None:
            return
        first = self._first.astype("datetime64[us]").item().replace(tzinfo=UTC)
        path = self.folder / self._hour / file_name(first, next(self.names))
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("x", encoding="utf-8") as out:
                out.writelines(self._lines)
        except FileExistsError:
            raise SyntheticCaptureError(f"{path} exists: these arguments were already written there") from None
        self.paths.append(path)
        self._hour, self._lines, self._first = None, [], None


def write_traffic(
    table: Table,
    loaded: LoadedModel,
    traffic: Traffic,
    capture: CaptureLocation,
    ground_truth: Path | None = None,
) -> Summary:
    """Resample, drift, score and write ``traffic``: capture records under ``capture``, labels under
    ``ground_truth/<endpoint>/`` when given. The programmatic entry point (the loop test, the benchmark)."""
    check_traffic(traffic)
    start = utc(traffic.start)
    rng = np.random.default_rng([traffic.seed, int(start.timestamp()) & 0xFFFF_FFFF_FFFF])
    count = len(table.labels)
    picked = rng.integers(0, count, traffic.rows)
    rows = {name: values[picked] for name, values in table.features.items()}
    inject_drift(table, rows, traffic, rng)
    names = list(rows)
    escaped = [_encoded(rows[name], _csv_field) for name in names]
    lines = [",".join(fields) for fields in zip(*escaped, strict=True)]
    probabilities, predicted = score(loaded, lines)
    if traffic.content_type == JSON:
        kinds = [table.kind(name) for name in names]
        values = [_encoded(rows[name], _json_value(kind)) for name, kind in zip(names, kinds, strict=True)]
        instances: list[dict[str, object]] = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]

    per = traffic.rows_per_request
    requests = math.ceil(traffic.rows / per)
    ids = _uuids(rng, 2 * requests)
    inference_ids, event_ids = ids[:requests], ids[requests:]
    file_names = _file_names(rng)
    captured = _HourlyFiles(capture.folder, file_names)
    moments = _moments(start, requests, traffic.rate)
    hours, texts = _hours(moments), _seconds(moments)
    for number in range(requests):
        first, last = number * per, min(number * per + per, traffic.rows)
        if traffic.content_type == JSON:
            body = json.dumps({"instances": instances[first:last]}).encode()
        else:
            body = ("\n".join(lines[first:last]) + "\n").encode()
        record = capture_record(
            input_body=body,
            input_type=traffic.content_type,
            output_body=_output(probabilities[first:last], predicted[first:last], traffic.accept),
            output_type=traffic.accept,
            event_id=event_ids[number],
            inference_time=texts[number],
            inference_id=inference_ids[number],
        )
        captured.add(hours[number], moments[number], json_line(record))
    captured.flush()
    summary = Summary(rows=traffic.rows, requests=requests, capture_files=captured.paths)
    summary.positive_rate = float(np.mean([label == table.spec.label.positive for label in predicted]))
    if ground_truth is not None:
        summary.labels, summary.ground_truth_files = _write_labels(
            table=table,
            traffic=traffic,
            rng=rng,
            picked=picked,
            moments=moments,
            inference_ids=inference_ids,
            folder=ground_truth / capture.endpoint,
            file_names=file_names,
        )
    return summary


def _write_labels(
    *,
    table: Table,
    traffic: Traffic,
    rng: np.random.Generator,
    picked: np.ndarray,
    moments: np.ndarray,
    inference_ids: list[str],
    folder: Path,
    file_names: Iterator[str],
) -> tuple[int, list[Path]]:
    labelled = rng.random(traffic.rows) < traffic.label_fraction
    flipped = rng.random(traffic.rows) < traffic.flip_labels
    first_value, second_value = table.spec.label.values
    written_at = moments + np.timedelta64(round(traffic.labels_delay_hours * 3.6e9), "us")
    hours = _hours(written_at)
    per = traffic.rows_per_request
    files = _HourlyFiles(folder, file_names)
    written = 0
    for row in np.flatnonzero(labelled).tolist():
        number, position = divmod(row, per)
        size = min(per, traffic.rows - number * per)
        label = str(table.labels[picked[row]])
        if flipped[row]:
            label = second_value if label == first_value else first_value
        event_id = inference_ids[number] if size == 1 else f"{inference_ids[number]}:{position}"
        files.add(hours[number], written_at[number], json_line(ground_truth_record(label, event_id)))
        written += 1
    files.flush()
    return written, files.paths


def _pair(option: str, value_text: str) -> Any:
    def parse(text: str) -> tuple[str, Any]:
        name, sep, value = text.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise argparse.ArgumentTypeError(f"expected FEATURE={value_text}, got {text!r}")
        if option == "--swap":
            old, colon, new = value.partition(":")
            if not colon or not old.strip() or not new.strip():
                raise argparse.ArgumentTypeError(f"expected FEATURE=FROM:TO, got {text!r}")
            return name.strip(), (old.strip(), new.strip())
        try:
            return name.strip(), float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: {value!r} is not a number") from None

    return parse


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
        return utc(moment)
    except (ValueError, CaptureError) as exc:
        raise argparse.ArgumentTypeError(
            f"expected an ISO time with a zone, e.g. 2026-12-01T10:00:00Z: {exc}"
        ) from None


def _endpoint_name(text: str) -> str:
    try:
        return check_name(text, "endpoint name")
    except CaptureError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _variant(text: str) -> str:
    try:
        return check_name(text, "variant name")
    except CaptureError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _ending_now(rows: int, rows_per_request: int, rate: float) -> datetime:
    """The start that makes the last request now (the default: a monitor's window ending now sees it all)."""
    span = math.ceil(rows / rows_per_request) / rate if rows_per_request > 0 and rate > 0 else 0.0
    return (datetime.now(UTC) - timedelta(seconds=span if math.isfinite(span) else 0.0)).replace(microsecond=0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0] if __doc__ else None)
    add = parser.add_argument
    add("--capture-dir", type=Path, required=True, help="root of the capture (the capture bucket's endpoints/ prefix)")
    add("--ground-truth-dir", type=Path, help="root of the labels (the data bucket's ground-truth/ prefix)")
    add("--workspace", type=Path, default=Path(".local-pipeline"), help="local pipeline workspace (registry/, s3/)")
    add("--group", help="model package group (default: the only one)")
    add("--version", type=int, help="model version (default: the newest)")
    add("--spec", type=Path, default=DEFAULT_SPEC, help="dataset spec YAML (default: the shipped German credit one)")
    add("--data", type=Path, help="raw data file in the spec's format (default: the spec's sample_path)")
    add("--rows", type=int, default=1000, help="rows to write (default: 1000)")
    add("--rows-per-request", type=int, default=1, help="rows per captured request (default: 1)")
    add("--seed", type=int, default=0, help="random seed (default: 0)")
    add("--start", type=_time, help="time of the first request, ISO with a zone (default: so the last is now)")
    add("--rate", type=float, default=1.0, help="requests per second (default: 1)")
    add("--endpoint-name", type=_endpoint_name, help="endpoint folder (default: <group>-endpoint)")
    add("--variant", type=_variant, default=DEFAULT_VARIANT, help=f"variant folder (default: {DEFAULT_VARIANT})")
    add("--content-type", default=CSV, choices=(CSV, JSON), help=f"request payloads (default: {CSV})")
    add("--accept", default=JSON, choices=(JSON, CSV), help=f"response payloads (default: {JSON})")
    add("--shift", type=_pair("--shift", "DELTA"), action="append", default=[], help="FEATURE=DELTA (numeric)")
    add("--swap", type=_pair("--swap", "FROM:TO"), action="append", default=[], help="FEATURE=FROM:TO (category)")
    add("--swap-fraction", type=float, default=0.8, help="share of FROM rows a swap turns to TO (default: 0.8)")
    add("--missing", type=_pair("--missing", "FRACTION"), action="append", default=[], help="FEATURE=FRACTION blanked")
    add("--label-fraction", type=float, default=1.0, help="share of rows labelled (default: 1)")
    add("--labels-delay-hours", type=float, help="labels written this long after their request (default: 0)")
    add("--flip-labels", type=float, default=0.0, help="share of labels flipped (default: 0)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, message already on stderr)
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    began = time.perf_counter()
    try:
        if args.labels_delay_hours is not None and args.ground_truth_dir is None:
            raise SyntheticCaptureError("--labels-delay-hours needs --ground-truth-dir")
        spec = load_spec(args.spec)
        data = args.data or (REPO_ROOT / spec.sample_path if spec.sample_path else None)
        if data is None:
            raise SyntheticCaptureError(f"--spec {args.spec} names no sample_path: give --data")
        table = read_table(data, spec)
        version = find_version(args.workspace, args.group, args.version)
        start = args.start or _ending_now(args.rows, args.rows_per_request, args.rate)
        traffic = Traffic(
            rows=args.rows,
            start=start,
            rate=args.rate,
            rows_per_request=args.rows_per_request,
            seed=args.seed,
            content_type=args.content_type,
            accept=args.accept,
            shifts=tuple(args.shift),
            swaps=tuple((name, old, new) for name, (old, new) in args.swap),
            swap_fraction=args.swap_fraction,
            missing=tuple(args.missing),
            label_fraction=args.label_fraction,
            labels_delay_hours=args.labels_delay_hours or 0.0,
            flip_labels=args.flip_labels,
        )
        check_traffic(traffic)
        location = CaptureLocation(
            args.capture_dir, args.endpoint_name or default_endpoint_name(version.group), args.variant
        )
        loaded = load_model(version)
        try:
            summary = write_traffic(table, loaded, traffic, location, args.ground_truth_dir)
        finally:
            loaded.close()
    except (SyntheticCaptureError, EndpointError, CaptureError) as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    print(
        f"wrote {summary.rows} rows in {summary.requests} requests ({len(summary.capture_files)} files) under "
        f"{location.folder}, {summary.labels} labels ({len(summary.ground_truth_files)} files)"
        f"{' under ' + str(args.ground_truth_dir / location.endpoint) if args.ground_truth_dir else ''}; "
        f"positive rate {summary.positive_rate:.3f}; {time.perf_counter() - began:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
