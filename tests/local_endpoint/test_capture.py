"""Data capture of the local endpoint: SageMaker's records (format, encodings, inference id, hour folders) for every
answered invocation and none for refused ones, safe under concurrent requests, and wired to the command line."""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from local_endpoint import capture
from local_endpoint.capture import CaptureError, CaptureLocation, CaptureWriter, encode_payload
from local_endpoint.cli import default_endpoint_name, main, serving
from local_endpoint.server import EndpointServer
from tests.local_endpoint.test_endpoint import CSV, JSON, csv_body, feature_rows, request
from tests.registered_model import GROUP, RegisteredModel

pytestmark = pytest.mark.xdist_group("local-endpoint")

FILE_NAME_RE = re.compile(
    r"^\d{2}-\d{2}-\d{3}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.jsonl$"
)
HOUR_PATH_RE = re.compile(r"^\d{4}/\d{2}/\d{2}/\d{2}$")


def records(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every record under ``folder``, with its file, in file then line order."""
    found = []
    for path in sorted(folder.rglob("*.jsonl")):
        found += [(path, json.loads(line)) for line in path.read_text().splitlines()]
    return found


@pytest.fixture
def capturing(registered_model: RegisteredModel, tmp_path: Path) -> Iterator[EndpointServer]:
    with serving(registered_model.workspace, capture_dir=tmp_path / "capture", endpoint_name="t-endpoint") as server:
        yield server


def post(server: EndpointServer, body: bytes, content_type: str, accept: str, inference_id: str | None = None) -> int:
    headers = {"Content-Type": content_type, "Accept": accept}
    if inference_id is not None:
        headers[capture.INFERENCE_ID_HEADER] = inference_id
    status, _, answer = request(server, "POST", "/invocations", body, headers)
    assert status in (200, 400, 415, 406), answer
    return status


def test_answered_invocations_are_captured_as_sagemaker_records(
    capturing: EndpointServer, registered_model: RegisteredModel, tmp_path: Path
) -> None:
    columns, rows = feature_rows(registered_model, 3)
    csv_request = csv_body(rows)
    json_request = json.dumps({"instances": [dict(zip(columns, rows[0], strict=True))]}).encode()
    before = datetime.now(UTC).replace(microsecond=0)
    status, _, csv_answer = request(
        capturing,
        "POST",
        "/invocations",
        csv_request,
        {"Content-Type": CSV, "Accept": JSON, capture.INFERENCE_ID_HEADER: "order-17"},
    )
    assert status == 200
    status, _, json_answer = request(
        capturing, "POST", "/invocations", json_request, {"Content-Type": JSON, "Accept": CSV}
    )
    assert status == 200
    after = datetime.now(UTC)

    found = records(tmp_path / "capture")
    assert len(found) == 2
    (path, first), (_, second) = found
    relative = path.relative_to(tmp_path / "capture")
    assert relative.parts[:2] == ("t-endpoint", "AllTraffic")
    assert HOUR_PATH_RE.fullmatch("/".join(relative.parts[2:6]))
    assert FILE_NAME_RE.fullmatch(relative.name)

    assert first == {
        "captureData": {
            "endpointInput": {
                "observedContentType": CSV,
                "mode": "INPUT",
                "data": csv_request.decode(),
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": JSON,
                "mode": "OUTPUT",
                "data": csv_answer.decode(),
                "encoding": "JSON",
            },
        },
        "eventMetadata": {
            "eventId": first["eventMetadata"]["eventId"],
            "inferenceId": "order-17",
            "inferenceTime": first["eventMetadata"]["inferenceTime"],
        },
        "eventVersion": "0",
    }
    assert len(json.loads(first["captureData"]["endpointOutput"]["data"])["predictions"]) == 3
    assert second["captureData"]["endpointInput"] == {
        "observedContentType": JSON,
        "mode": "INPUT",
        "data": json_request.decode(),
        "encoding": "JSON",
    }
    assert second["captureData"]["endpointOutput"]["data"] == json_answer.decode()
    assert second["captureData"]["endpointOutput"]["encoding"] == "CSV"
    assert "inferenceId" not in second["eventMetadata"]  # none sent: absent, not null
    event_ids = [record["eventMetadata"]["eventId"] for _, record in found]
    assert all(uuid.UUID(event_id).version == 4 for event_id in event_ids)
    assert len(set(event_ids)) == 2
    for _, record in found:
        when = datetime.strptime(record["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert before <= when <= after
    first_time = first["eventMetadata"]["inferenceTime"]  # its file's folder is the record's UTC hour
    assert "/".join(relative.parts[2:6]) == f"{first_time[:4]}/{first_time[5:7]}/{first_time[8:10]}/{first_time[11:13]}"


def test_refused_invocations_are_not_captured(
    capturing: EndpointServer, registered_model: RegisteredModel, tmp_path: Path
) -> None:
    row = csv_body(feature_rows(registered_model, 1)[1])
    assert post(capturing, b"A11,6\n", CSV, JSON, "bad-1") == 400
    assert post(capturing, row, "text/plain", JSON, "bad-2") == 415
    assert post(capturing, row, CSV, "application/xml", "bad-3") == 406
    assert records(tmp_path / "capture") == []
    assert post(capturing, row, CSV, JSON, "good") == 200
    assert [r["eventMetadata"]["inferenceId"] for _, r in records(tmp_path / "capture")] == ["good"]


def test_concurrent_invocations_each_get_one_whole_record(
    capturing: EndpointServer, registered_model: RegisteredModel, tmp_path: Path
) -> None:
    rows = feature_rows(registered_model, 4)[1]
    ids = [f"call-{number}" for number in range(64)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda i: post(capturing, csv_body(rows), CSV, JSON, i), ids))
    assert statuses == [200] * len(ids)
    found = records(tmp_path / "capture")  # every line parses: no interleaved writes
    assert sorted(record["eventMetadata"]["inferenceId"] for _, record in found) == sorted(ids)
    assert {record["captureData"]["endpointInput"]["data"] for _, record in found} == {csv_body(rows).decode()}


def test_a_failing_capture_does_not_fail_the_invocation(
    capturing: EndpointServer,
    registered_model: RegisteredModel,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(self: CaptureWriter, **_: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(CaptureWriter, "write", broken)
    assert post(capturing, csv_body(feature_rows(registered_model, 1)[1]), CSV, JSON) == 200
    assert "data capture failed" in caplog.text
    assert "No space left on device" in caplog.text


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def write(writer: CaptureWriter, when: datetime, inference_id: str) -> None:
    writer.write(
        input_body=b"1,2\n",
        input_type=CSV,
        output_body=b'{"predictions": []}',
        output_type=JSON,
        inference_time=when,
        inference_id=inference_id,
    )


def test_files_rotate_with_the_utc_hour_of_the_request(tmp_path: Path) -> None:
    location = CaptureLocation(tmp_path, "ep", "Blue")
    with CaptureWriter(location) as writer:
        write(writer, at("2026-12-01T10:59:58.250+00:00"), "a")
        write(writer, at("2026-12-01T10:59:59+00:00"), "b")
        write(writer, at("2026-12-01T13:00:00+02:00"), "c")  # 11:00 UTC
        write(writer, at("2026-12-01T10:59:59.900+00:00"), "d")  # late: back in the 10 o'clock folder, a new file
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl"))
    assert [f.rsplit("/", 1)[0] for f in files] == ["ep/Blue/2026/12/01/10"] * 2 + ["ep/Blue/2026/12/01/11"]
    by_file = {
        p.name: [json.loads(x)["eventMetadata"]["inferenceId"] for x in p.read_text().splitlines()]
        for p in tmp_path.rglob("*.jsonl")
    }
    assert sorted(by_file.values()) == [["a", "b"], ["c"], ["d"]]
    first = next(name for name, ids in by_file.items() if ids == ["a", "b"])
    assert first.startswith("59-58-250-")  # the file is named by its first record's time
    third = next(name for name, ids in by_file.items() if ids == ["c"])
    assert third.startswith("00-00-000-")
    c = json.loads((tmp_path / "ep/Blue/2026/12/01/11" / third).read_text())
    assert c["eventMetadata"]["inferenceTime"] == "2026-12-01T11:00:00Z"
    assert writer.records == 4


def test_payload_encoding_follows_the_captured_content_types() -> None:
    assert encode_payload(b"1,2\n", "text/csv") == ("1,2\n", "CSV")
    assert encode_payload(b"1,2\n", "Text/CSV; charset=utf-8") == ("1,2\n", "CSV")
    assert encode_payload(b'{"a": 1}', "application/json") == ('{"a": 1}', "JSON")
    assert encode_payload(b"\x00\xff", "application/x-npy") == (base64.b64encode(b"\x00\xff").decode(), "BASE64")
    assert encode_payload(b"x", "") == ("eA==", "BASE64")
    assert encode_payload(b"\xff,1", "text/csv") == (base64.b64encode(b"\xff,1").decode(), "BASE64")


def test_the_captured_content_types_are_the_endpoint_configs() -> None:
    """The local capture decodes what the synthesized endpoint config tells SageMaker to capture as text."""
    from stacks.serving import endpoint

    assert list(capture.CSV_CONTENT_TYPES) == endpoint.CSV_CONTENT_TYPES
    assert list(capture.JSON_CONTENT_TYPES) == endpoint.JSON_CONTENT_TYPES
    assert endpoint.VARIANT_NAME == capture.DEFAULT_VARIANT


def test_names_and_times_that_cannot_be_used_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match=r"endpoint name '\.\./x' is not a SageMaker name"):
        CaptureLocation(tmp_path, "../x")
    with pytest.raises(CaptureError, match="variant name 'a_b'"):
        CaptureLocation(tmp_path, "ep", "a_b")
    with pytest.raises(CaptureError, match="has no time zone"):
        capture.format_time(datetime(2026, 1, 1, 10))  # noqa: DTZ001
    assert capture.format_time(datetime(2026, 1, 1, 10, tzinfo=timezone(timedelta(hours=-3)))) == "2026-01-01T13:00:00Z"
    assert default_endpoint_name(GROUP) == "t-models-endpoint"
    assert len(default_endpoint_name("g" * 63)) == 63


def test_the_command_captures_under_the_default_names(
    registered_model: RegisteredModel,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = csv_body(feature_rows(registered_model, 1)[1])
    serve_forever = EndpointServer.serve_forever

    def serve_one_request(self: EndpointServer, poll_interval: float = 0.5) -> None:
        thread = threading.Thread(target=serve_forever, args=(self, 0.05))
        thread.start()
        try:
            assert post(self, body, CSV, JSON, "cli-1") == 200
        finally:
            self.shutdown()
            thread.join()
        raise KeyboardInterrupt

    monkeypatch.setattr(EndpointServer, "serve_forever", serve_one_request)
    argv = ["--workspace", str(registered_model.workspace), "--port", "0", "--capture-dir", str(tmp_path)]
    assert main(argv) == 0
    ((path, record),) = records(tmp_path)
    assert path.relative_to(tmp_path).parts[:2] == (f"{GROUP}-endpoint", "AllTraffic")
    assert record["eventMetadata"]["inferenceId"] == "cli-1"

    capsys.readouterr()
    assert main(["--workspace", str(registered_model.workspace), "--variant", "Blue"]) == 2
    assert "--endpoint-name and --variant name capture folders: add --capture-dir" in capsys.readouterr().err
    assert main(["--capture-dir", str(tmp_path), "--endpoint-name", "no_underscores"]) == 2
    assert "endpoint name 'no_underscores' is not a SageMaker name" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["--workspace", str(registered_model.workspace), "--capture-dir", str(tmp_path / "file")]) == 2
    assert f"--capture-dir {tmp_path / 'file'} is not a folder" in capsys.readouterr().err
