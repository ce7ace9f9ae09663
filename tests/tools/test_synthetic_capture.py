"""Synthetic capture: SageMaker's records with the real model's answers, ground truth that joins on the inference ids,
drift that really moves the written inputs, the same files for the same seed, and clear errors."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local_endpoint.capture import CaptureLocation
from local_endpoint.package import LoadedModel, find_version, load_model
from tests.registered_model import GROUP, REPO_ROOT, RegisteredModel
from tools.synthetic_capture import DEFAULT_SPEC, main, write_traffic
from tools.synthetic_traffic import Table, Traffic, load_spec, read_table

pytestmark = pytest.mark.xdist_group("local-endpoint")

SAMPLE = REPO_ROOT / "data" / "german_credit" / "german.data"
START = datetime(2026, 12, 1, 10, 58, 30, tzinfo=UTC)
ENDPOINT = f"{GROUP}-endpoint"
FILE_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{3})-[0-9a-f-]{36}\.jsonl$")
RECORD_KEYS = {"captureData", "eventMetadata", "eventVersion"}


@pytest.fixture(scope="module")
def table() -> Table:
    return read_table(SAMPLE, load_spec(DEFAULT_SPEC))


@pytest.fixture(scope="module")
def loaded(registered_model: RegisteredModel) -> Iterator[LoadedModel]:
    model = load_model(find_version(registered_model.workspace))
    yield model
    model.close()


def lines_of(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in sorted(root.rglob("*.jsonl")):
        found += [(path, json.loads(line)) for line in path.read_text().splitlines()]
    return found


def write(table: Table, loaded: LoadedModel, root: Path, **options: Any) -> None:
    traffic = Traffic(**{"rows": 300, "start": START, "rate": 0.5, **options})
    write_traffic(table, loaded, traffic, CaptureLocation(root / "capture", ENDPOINT), root / "ground-truth")


def csv_inputs(root: Path) -> list[list[str]]:
    rows: list[list[str]] = []
    for _, record in lines_of(root / "capture"):
        rows += list(csv.reader(io.StringIO(record["captureData"]["endpointInput"]["data"])))
    return rows


def test_records_are_sagemakers_with_the_models_own_answers(
    registered_model: RegisteredModel,
    loaded: LoadedModel,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--workspace", str(registered_model.workspace), "--capture-dir", str(tmp_path), "--rows", "300"]
    assert main([*argv, "--start", START.isoformat(), "--rate", "0.5", "--variant", "Blue"]) == 0
    assert "wrote 300 rows in 300 requests" in capsys.readouterr().out
    found = lines_of(tmp_path)
    assert len(found) == 300
    times = []
    for path, record in found:
        endpoint, variant, *hour, name = path.relative_to(tmp_path).parts
        assert (endpoint, variant) == (ENDPOINT, "Blue")
        assert FILE_RE.fullmatch(name)
        assert set(record) == RECORD_KEYS
        assert record["eventVersion"] == "0"
        metadata = record["eventMetadata"]
        assert set(metadata) == {"eventId", "inferenceId", "inferenceTime"}
        assert uuid.UUID(metadata["eventId"]).version == 4
        moment = datetime.strptime(metadata["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert hour == moment.strftime("%Y/%m/%d/%H").split("/")  # the file's folder is the record's UTC hour
        times.append(moment)
        data = record["captureData"]
        assert data["endpointInput"] | {"data": ""} == {
            "observedContentType": "text/csv",
            "mode": "INPUT",
            "data": "",
            "encoding": "CSV",
        }
        assert data["endpointOutput"]["encoding"] == "JSON"
        assert data["endpointOutput"]["mode"] == "OUTPUT"
    assert times == [START + timedelta(seconds=2 * number) for number in range(300)]  # 0.5 request per second
    assert len({record["eventMetadata"]["inferenceId"] for _, record in found}) == 300
    assert len({path for path, _ in found}) == 2  # 10:58:30 to 11:08:28: two hours, a file each
    first_file = sorted({path for path, _ in found})[0]
    assert FILE_RE.fullmatch(first_file.name).groups() == ("58", "30", "000")  # type: ignore[union-attr]
    for _, record in found[::15]:  # the endpoint's handler answers each captured input with the captured output
        data = record["captureData"]
        answer, _ = loaded.handlers.transform_fn(
            loaded.model, data["endpointInput"]["data"].encode(), "text/csv", "application/json"
        )
        assert answer == data["endpointOutput"]["data"]


def test_ground_truth_joins_rows_of_multi_row_requests(table: Table, loaded: LoadedModel, tmp_path: Path) -> None:
    """301 rows, 3 per request: 100 requests of 3 rows and one of 1. Labels of half the rows, 2 hours later, keyed
    <InferenceId>:<row> (the single-row request's by its id alone), each the label its row has in the dataset."""
    write(table, loaded, tmp_path, rows=301, rows_per_request=3, label_fraction=0.5, labels_delay_hours=2)
    captured = lines_of(tmp_path / "capture")
    assert len(captured) == 101
    rows: dict[str, tuple[list[str], datetime]] = {}
    for _, record in captured:
        inputs = list(csv.reader(io.StringIO(record["captureData"]["endpointInput"]["data"])))
        predictions = json.loads(record["captureData"]["endpointOutput"]["data"])["predictions"]
        assert len(predictions) == len(inputs)
        metadata = record["eventMetadata"]
        moment = datetime.strptime(metadata["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        for position, row in enumerate(inputs):
            key = metadata["inferenceId"] if len(inputs) == 1 else f"{metadata['inferenceId']}:{position}"
            rows[key] = (row, moment)
    assert sum(1 for key in rows if ":" not in key) == 1
    dataset: dict[tuple[str, ...], set[str]] = {}
    for line in SAMPLE.read_text().splitlines():
        *features, label = line.split()
        dataset.setdefault(tuple(features), set()).add(label)

    labels = lines_of(tmp_path / "ground-truth")
    assert 110 <= len(labels) <= 190  # binomial(301, 0.5): mean 150, sd 8.7
    for path, record in labels:
        assert set(record) == {"groundTruthData", "eventMetadata", "eventVersion"}
        assert set(record["eventMetadata"]) == {"eventId"}
        assert record["groundTruthData"]["encoding"] == "CSV"
        row, moment = rows[record["eventMetadata"]["eventId"]]
        assert record["groundTruthData"]["data"] in dataset[tuple(row)]
        assert path.relative_to(tmp_path / "ground-truth").parts[:5] == (
            ENDPOINT,
            *(moment + timedelta(hours=2)).strftime("%Y/%m/%d/%H").split("/"),
        )
    assert len({record["eventMetadata"]["eventId"] for _, record in labels}) == len(labels)


def test_drift_moves_the_written_inputs_and_nothing_else(table: Table, loaded: LoadedModel, tmp_path: Path) -> None:
    write(table, loaded, tmp_path / "base")
    write(
        table,
        loaded,
        tmp_path / "drift",
        shifts=(("duration_months", 12.0),),
        swaps=(("checking_status", "A14", "A11"),),
        missing=(("age_years", 0.2),),
    )
    base, drifted = csv_inputs(tmp_path / "base"), csv_inputs(tmp_path / "drift")
    assert len(base) == len(drifted) == 300
    assert all(int(d[1]) == int(b[1]) + 12 for b, d in zip(base, drifted, strict=True))  # the same rows, shifted
    before, after = Counter(row[0] for row in base), Counter(row[0] for row in drifted)
    assert before["A14"] > 60
    assert 0.1 * before["A14"] <= after["A14"] <= 0.3 * before["A14"]  # 80 % of A14 became A11
    assert after["A11"] - before["A11"] == before["A14"] - after["A14"]
    blank = sum(row[12] == "" for row in drifted)
    assert 30 <= blank <= 90  # binomial(300, 0.2): mean 60, sd 6.9
    untouched = [0, 1, 12]
    assert all(
        [v for i, v in enumerate(b) if i not in untouched] == [v for i, v in enumerate(d) if i not in untouched]
        for b, d in zip(base, drifted, strict=True)
    )
    assert [r["groundTruthData"] for _, r in lines_of(tmp_path / "base/ground-truth")] == [
        r["groundTruthData"] for _, r in lines_of(tmp_path / "drift/ground-truth")
    ]


def test_json_requests_carry_typed_instances(table: Table, loaded: LoadedModel, tmp_path: Path) -> None:
    write(table, loaded, tmp_path, rows=40, rows_per_request=4, content_type="application/json", accept="text/csv")
    records = lines_of(tmp_path / "capture")
    assert len(records) == 10
    for _, record in records:
        data = record["captureData"]
        assert (data["endpointInput"]["encoding"], data["endpointOutput"]["encoding"]) == ("JSON", "CSV")
        instances = json.loads(data["endpointInput"]["data"])["instances"]
        assert len(instances) == 4
        assert all(isinstance(i["duration_months"], int) and isinstance(i["checking_status"], str) for i in instances)
        answer, _ = loaded.handlers.transform_fn(
            loaded.model, data["endpointInput"]["data"].encode(), "application/json", "text/csv"
        )
        assert answer == data["endpointOutput"]["data"]


def tree(root: Path) -> dict[str, str]:
    return {path.relative_to(root).as_posix(): path.read_text() for path in sorted(root.rglob("*.jsonl"))}


def test_the_same_arguments_write_the_same_files(table: Table, loaded: LoadedModel, tmp_path: Path) -> None:
    options: dict[str, Any] = {"label_fraction": 0.3, "swaps": (("purpose", "A43", "A40"),)}
    write(table, loaded, tmp_path / "a", **options)
    write(table, loaded, tmp_path / "b", **options)
    write(table, loaded, tmp_path / "c", seed=1, **options)
    first = tree(tmp_path / "a")
    assert first
    assert first == tree(tmp_path / "b")
    assert csv_inputs(tmp_path / "a") != csv_inputs(tmp_path / "c")
    with pytest.raises(Exception, match="exists: these arguments were already written there"):
        write(table, loaded, tmp_path / "a", **options)


def error_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_what_cannot_be_written_is_named(
    registered_model: RegisteredModel,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--workspace", str(registered_model.workspace), "--capture-dir", str(tmp_path), "--rows", "10"]
    err = error_of([*argv, "--shift", "salary=5"], capsys)
    assert "--shift: 'salary' is not a feature of german-credit; they are ['checking_status'," in err
    assert "--shift credit_history: a categorical column; only numeric columns shift" in error_of(
        [*argv, "--shift", "credit_history=5"], capsys
    )
    assert "'duration_months=ten': 'ten' is not a number" in error_of([*argv, "--shift", "duration_months=ten"], capsys)
    assert "--swap age_years: a numeric column; only categories swap" in error_of(
        [*argv, "--swap", "age_years=1:2"], capsys
    )
    err = error_of([*argv, "--swap", "checking_status=A99:A11"], capsys)
    assert "no row has 'A99'; the values are ['A11', 'A12', 'A13', 'A14']" in err
    assert "expected FEATURE=FROM:TO" in error_of([*argv, "--swap", "checking_status=A11"], capsys)
    assert "--labels-delay-hours needs --ground-truth-dir" in error_of([*argv, "--labels-delay-hours", "2"], capsys)
    assert "--label-fraction 1.5: a fraction from 0 to 1" in error_of([*argv, "--label-fraction", "1.5"], capsys)
    assert "--rate 0.0: requests per second" in error_of([*argv, "--rate", "0"], capsys)
    assert "expected an ISO time with a zone" in error_of([*argv, "--start", "2026-12-01T10:00:00"], capsys)
    assert f"--data {tmp_path / 'nope.csv'}: no such file" in error_of(
        [*argv, "--data", str(tmp_path / "nope.csv")], capsys
    )
    assert list(tmp_path.rglob("*.jsonl")) == []
