"""Capture records (CSV, JSON and BASE64 payloads, multi-row requests, bad lines) and ground-truth files."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from sagemaker_code.steps.capture import Capture, join_labels, read_capture, read_ground_truth
from sagemaker_code.steps.spec import DatasetSpec
from tests.sagemaker_code.steps.test_monitor_support import record, sample_rows, truth_line

END = datetime(2026, 12, 1, 12, tzinfo=UTC)
START = END - timedelta(hours=1)
ROWS = sample_rows()


def read(spec: DatasetSpec, lines: list[str], *, start: datetime = START, parse: bool = True) -> Capture:
    columns = tuple(c.name for c in spec.feature_columns)
    aliases = {c.id: c.name for c in spec.feature_columns if c.id != c.name}
    text = "\n".join(lines) + "\n"
    return read_capture([("f.jsonl", text, True)], columns, aliases, start=start, end=END, window_start=START,
                        parse_features=parse)  # fmt: skip


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def features(rows: list[list[str]]) -> list[list[str]]:
    return [row[:20] for row in rows]


def test_csv_json_and_base64_records_pair_rows_with_predictions(spec: DatasetSpec) -> None:
    names = [c.name for c in spec.feature_columns]
    lines = [
        record(features(ROWS[0:1]), [0.9], at(1), "single"),
        record(features(ROWS[1:4]), [0.1, 0.2, 0.3], at(2), "multi", csv_output=True),
        record(features(ROWS[4:6]), [0.4, 0.6], at(3), "json", columns=names, json_input=True),
        record(features(ROWS[6:8]), [0.7, 0.8], at(4), None, encode=True),
        record(features(ROWS[8:9]), [0.55], at(5), "b64json", columns=names, json_input=True, encode=True),
    ]
    capture = read(spec, lines)
    assert capture.records == 5
    assert capture.problems.total == 0
    assert capture.probabilities.tolist() == [0.9, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.55]
    assert capture.labels.tolist() == ["1", "2", "2", "2", "2", "1", "1", "1", "1"]
    assert capture.keys.tolist() == [
        "single", "multi:0", "multi:1", "multi:2", "json:0", "json:1", None, None, "b64json",
    ]  # fmt: skip
    assert capture.features.shape == (9, 20)
    assert capture.features.to_numpy().tolist() == features(ROWS[0:9])
    assert list(capture.features.columns) == names


def test_json_instances_may_use_column_ids(spec: DatasetSpec) -> None:
    ids = [c.id for c in spec.feature_columns]
    capture = read(spec, [record(features(ROWS[:2]), [0.3, 0.6], at(1), "x", columns=ids, json_input=True)])
    assert capture.problems.total == 0
    assert capture.features.to_numpy().tolist() == features(ROWS[:2])


def test_quoted_csv_payloads_are_parsed_with_the_csv_module(spec: DatasetSpec) -> None:
    row = features(ROWS[:1])[0]
    quoted = [f'"{cell}"' for cell in row]
    line = json.loads(record([row], [0.5], at(1), "q"))
    line["captureData"]["endpointInput"]["data"] = ",".join(quoted) + "\n"
    capture = read(spec, [record(features(ROWS[1:2]), [0.2], at(0.5), "p"), json.dumps(line)])
    assert capture.problems.total == 0
    assert capture.features.to_numpy().tolist() == [features(ROWS[1:2])[0], row]


def _broken(field: str, value: object) -> str:
    line = json.loads(record(features(ROWS[:1]), [0.5], at(10), "broken"))
    part, key = field.split(".")
    line["captureData"][part][key] = value
    return json.dumps(line)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not a JSON record"),
        (json.dumps({"captureData": {}, "eventMetadata": {}}), "no eventMetadata.inferenceTime"),
        (
            json.dumps({"captureData": {}, "eventMetadata": {"inferenceTime": "yesterday"}}),
            "eventMetadata.inferenceTime is not an ISO 8601 time",
        ),
        (_broken("endpointInput.data", "A11,6\n"), "a CSV row has 2 fields, expected 20"),
        (_broken("endpointOutput.data", '{"predictions": []}'), "1 input rows but 0 predictions"),
        (
            _broken("endpointOutput.data", '{"predictions": [{"probability": 1.5}]}'),
            "prediction 1.5 is not a probability",
        ),
        (_broken("endpointOutput.data", "{oops"), "output is not valid JSON"),
        (_broken("endpointInput.encoding", "BASE64"), "input is not base64 of UTF-8 text"),
    ],
)
def test_a_bad_line_is_counted_by_reason_and_the_rest_is_read(spec: DatasetSpec, line: str, reason: str) -> None:
    good = [record(features(ROWS[i : i + 1]), [0.5], at(i), f"id{i}") for i in range(3)]
    capture = read(spec, [good[0], line, good[1], "", good[2]])
    assert capture.records == 3
    assert capture.probabilities.size == 3
    assert capture.features.shape == (3, 20)
    assert dict(capture.problems.counts) == {reason: 1}
    assert capture.problems.examples[reason] == ["f.jsonl:2"]


def test_the_window_and_the_lookback(spec: DatasetSpec) -> None:
    lines = [
        record(features(ROWS[0:1]), [0.1], START - timedelta(hours=5), "old"),  # look-back only
        record(features(ROWS[1:2]), [0.2], START - timedelta(seconds=1), "before"),
        record(features(ROWS[2:3]), [0.3], START, "first"),  # the window is [start, end)
        record(features(ROWS[3:4]), [0.4], END - timedelta(microseconds=1), "last"),
        record(features(ROWS[4:5]), [0.5], END, "after"),
        record(features(ROWS[5:6]), [0.6], START - timedelta(hours=30), "too old"),
    ]
    capture = read(spec, lines, start=END - timedelta(hours=24))
    assert capture.keys.tolist() == ["old", "before", "first", "last"]
    assert capture.in_window.tolist() == [False, False, True, True]
    assert capture.features.to_numpy().tolist() == features(ROWS[2:4])  # inputs of the window's rows only
    assert read(spec, lines, parse=False).features.shape[0] == 0


def test_a_broken_record_outside_the_window_is_not_a_window_problem(spec: DatasetSpec) -> None:
    line = json.loads(record(features(ROWS[:1]), [0.5], START - timedelta(hours=2), "old"))
    line["captureData"]["endpointInput"]["data"] = "x\n"
    capture = read(spec, [json.dumps(line)], start=END - timedelta(hours=24))
    assert capture.problems.total == 0


def test_ground_truth_and_delayed_join() -> None:
    encoded = json.loads(truth_line("c", ""))
    encoded["groundTruthData"] = {"data": base64.b64encode(b"2").decode(), "encoding": "BASE64"}
    files = [
        ("h10.jsonl", "\n".join([truth_line("a", "1"), truth_line("b:1", "2"), "{bad", truth_line("x", "3")])),
        ("h11.jsonl", "\n".join([json.dumps(encoded), truth_line("a", "2")])),
    ]
    truth = read_ground_truth(files, ("1", "2"))
    assert truth.labels == {"a": "2", "b:1": "2", "c": "2"}  # the later file wins
    assert (truth.lines, truth.duplicates) == (6, 1)
    assert dict(truth.problems.counts) == {"not JSON": 1, "label '3' is not one of ['1', '2']": 1}
    rows, labels = join_labels(np.array(["b:0", "b:1", None, "a", "zzz"], dtype=object), truth)
    assert rows.tolist() == [1, 3]
    assert labels.tolist() == ["2", "2"]
