"""The local endpoint serving a real registered model: SageMaker's container contract (GET /ping, POST /invocations
with CSV and JSON) answered by the package's own handlers, their 4xx answers included, and clear errors (exit 2, no
traceback) when it cannot start."""

from __future__ import annotations

import csv
import http.client
import io
import json
import re
import shutil
import socket
import sys
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest

from local_endpoint.cli import main, smoke_test_command
from local_endpoint.package import find_version, load_model
from local_endpoint.server import MAX_PAYLOAD_BYTES, EndpointServer
from tests.registered_model import GROUP, REPO_ROOT, RegisteredModel

pytestmark = pytest.mark.xdist_group("local-endpoint")

CSV = "text/csv"
JSON = "application/json"


def request(
    server: EndpointServer, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def invoke(server: EndpointServer, body: bytes, content_type: str, accept: str) -> tuple[int, dict[str, str], bytes]:
    return request(server, "POST", "/invocations", body, {"Content-Type": content_type, "Accept": accept})


def feature_rows(model: RegisteredModel, count: int) -> tuple[list[str], list[list[str]]]:
    """The first test rows without the label column (named by the model's transform.json)."""
    with tarfile.open(model.model_archive) as archive:
        transform = json.loads(archive.extractfile("transform.json").read())  # type: ignore[union-attr]
    records = list(csv.reader(io.StringIO(model.test_data.read_text())))
    position = records[0].index(transform["label"]["column"])
    stripped = [record[:position] + record[position + 1 :] for record in records[: count + 1]]
    return stripped[0], stripped[1:]


def csv_body(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


def test_ping_answers_once_the_model_is_loaded(endpoint: EndpointServer) -> None:
    assert request(endpoint, "GET", "/ping")[::2] == (200, b"")
    status, headers, body = request(endpoint, "GET", "/predict")
    assert status == 404
    assert headers["Content-Type"] == JSON
    assert json.loads(body)["error-message"].startswith("no such path /predict")


def test_csv_and_json_requests_get_the_handlers_predictions(
    endpoint: EndpointServer, registered_model: RegisteredModel
) -> None:
    """Five rows at once, as CSV and as JSON, each answered as CSV and as JSON: the same predictions, one per row in
    order, equal to what the working tree's handlers compute on the unpacked model."""
    from sagemaker_code.steps import inference

    columns, rows = feature_rows(registered_model, 5)
    json_body = json.dumps({"instances": [dict(zip(columns, row, strict=True)) for row in rows]}).encode()
    answers = []
    for body, content_type in ((csv_body(rows), CSV), (json_body, JSON)):
        for accept in (CSV, JSON):
            status, headers, answer = invoke(endpoint, body, content_type, accept)
            assert status == 200, answer
            assert headers["Content-Type"] == accept
            if accept == JSON:
                answers.append([(p["probability"], p["label"]) for p in json.loads(answer)["predictions"]])
            else:
                answers.append([(float(p), label) for p, label in csv.reader(io.StringIO(answer.decode()))])
    assert all(answer == answers[0] for answer in answers)
    model = inference.model_fn(str(endpoint.loaded.model_dir))  # type: ignore[union-attr]
    expected, _ = inference.transform_fn(model, csv_body(rows), CSV, JSON)  # type: ignore[misc]
    assert answers[0] == [(p["probability"], p["label"]) for p in json.loads(expected)["predictions"]]
    threshold = registered_model.threshold
    assert all(0 <= p <= 1 and (label == "1") == (p >= threshold) for p, label in answers[0])


#: (body, or None for a valid CSV row; content type; Accept; status; what the message says)
BAD_REQUESTS = [
    (b"a,b", "text/plain", JSON, 415, "unsupported content type 'text/plain': send text/csv or application/json"),
    (None, CSV, "application/xml", 406, "unsupported accept type 'application/xml'"),
    (b"A11,6\n", CSV, JSON, 400, "row 1 has 2 fields, expected 20"),
    (b'{"instances": [{"age_years": 30}]}', JSON, JSON, 400, "instance 1: missing keys ['checking_status'"),
    (b"{not json", JSON, CSV, 400, "the request is not valid JSON"),
    (b"\xff\xfe", CSV, JSON, 400, "the request body is not UTF-8 text"),
    (b"", CSV, JSON, 400, "the request has no rows"),
]


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=[f"{c[3]}-{c[4][:24]}" for c in BAD_REQUESTS])
def test_bad_requests_get_the_handlers_4xx_with_a_json_body(
    endpoint: EndpointServer, registered_model: RegisteredModel, case: tuple[bytes | None, str, str, int, str]
) -> None:
    body, content_type, accept, status, message = case
    if body is None:
        body = csv_body(feature_rows(registered_model, 1)[1])
    answered, headers, answer = invoke(endpoint, body, content_type, accept)
    assert answered == status
    assert headers["Content-Type"] == JSON
    error = json.loads(answer)
    assert error["error"] == "InvalidInputError"
    assert message in error["error-message"]


def test_a_payload_above_sagemakers_limit_is_refused_unread(endpoint: EndpointServer) -> None:
    host, port = endpoint.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=10) as connection:
        connection.sendall(
            f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: {CSV}\r\n"
            f"Content-Length: {MAX_PAYLOAD_BYTES + 1}\r\n\r\n".encode()
        )
        chunks = iter(lambda: connection.recv(4096), b"")  # the server closes the connection: the body is unread
        answer = b"".join(chunks).decode()
    assert answer.startswith("HTTP/1.1 413 ")
    assert f"at most {MAX_PAYLOAD_BYTES} bytes" in answer


def test_the_package_code_serves_and_the_working_trees_modules_stay(endpoint: EndpointServer) -> None:
    loaded = endpoint.loaded
    assert loaded is not None
    assert Path(str(loaded.handlers.__file__)).is_relative_to(loaded.model_dir / "code")
    packed = Path(loaded.handlers.Transform.from_json.__code__.co_filename)  # the packed transform.py's code
    assert packed == loaded.model_dir / "code" / "sagemaker_code" / "steps" / "transform.py"
    from sagemaker_code.steps import transform

    assert Path(transform.__file__).is_relative_to(REPO_ROOT / "sagemaker_code")
    assert sys.modules["sagemaker_code.steps.transform"] is transform
    assert transform.Transform is not loaded.handlers.Transform


def copy_workspace(model: RegisteredModel, target: Path, edit_code: str | None = None) -> Path:
    """A workspace with the model's entry (and, with ``edit_code``, an archive whose inference.py has it appended)."""
    entry = json.loads(json.dumps(model.entry))
    if edit_code is not None:
        archive = target / "model.tar.gz"
        with tarfile.open(model.model_archive) as source, tarfile.open(archive, "w:gz") as copy:
            for member in source.getmembers():
                data = source.extractfile(member) if member.isfile() else None
                if member.name.removeprefix("./") == "code/inference.py" and data is not None:
                    content = data.read() + edit_code.encode()
                    member.size = len(content)
                    data = io.BytesIO(content)
                copy.addfile(member, data)
        entry["InferenceSpecification"]["Containers"][0]["ModelDataLocalPath"] = str(archive)
    path = target / "workspace" / "registry" / GROUP / "version-0001.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(entry))
    return target / "workspace"


def test_a_package_with_other_serving_code_is_served_with_it_and_says_so(
    registered_model: RegisteredModel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    patch = "\n_serialize = serialize\nserialize = lambda p, a: ('changed', 'text/plain')\n"
    workspace = copy_workspace(registered_model, tmp_path, edit_code=patch)
    working_tree = {name: module for name, module in sys.modules.items() if name.startswith("sagemaker_code")}
    assert "sagemaker_code.steps.transform" in working_tree  # the pipeline run imported the step code
    loaded = load_model(find_version(workspace))
    after = {name: module for name, module in sys.modules.items() if name.startswith("sagemaker_code")}
    assert after.keys() == working_tree.keys()
    assert all(after[name] is module for name, module in working_tree.items())  # the same modules, put back
    try:
        assert "differs from the working tree's" in caplog.text
        body = csv_body(feature_rows(registered_model, 1)[1])
        assert loaded.handlers.transform_fn(loaded.model, body, CSV, JSON) == ("changed", "text/plain")
    finally:
        loaded.close()
    assert not loaded.model_dir.exists()


def error_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_what_cannot_be_served_is_named(
    registered_model: RegisteredModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "no workspace at" in error_of(["--workspace", str(tmp_path / "nowhere")], capsys)
    (tmp_path / "empty").mkdir()
    assert "no model is registered in" in error_of(["--workspace", str(tmp_path / "empty")], capsys)

    workspace = copy_workspace(registered_model, tmp_path / "two")
    shutil.copytree(workspace / "registry" / GROUP, workspace / "registry" / "other-models")
    err = error_of(["--workspace", str(workspace)], capsys)
    assert f"has several model package groups: choose one with --group: ['other-models', '{GROUP}']" in err
    assert f"no model package group 'x' in {workspace / 'registry'}; the groups are" in error_of(
        ["--workspace", str(workspace), "--group", "x"], capsys
    )
    assert f"{GROUP} has no version 7 in" in error_of(
        ["--workspace", str(workspace), "--group", GROUP, "--version", "7"], capsys
    )
    assert "expected a version number" in error_of(["--version", "latest"], capsys)

    entry_path = workspace / "registry" / "other-models" / "version-0001.json"
    entry = json.loads(entry_path.read_text())
    entry["InferenceSpecification"]["Containers"][0]["ModelDataLocalPath"] = str(tmp_path / "gone.tar.gz")
    entry["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] = "s3://bucket/gone.tar.gz"
    entry_path.write_text(json.dumps(entry))
    err = error_of(["--workspace", str(workspace), "--group", "other-models"], capsys)
    assert "the model archive is neither at ModelDataLocalPath" in err
    assert "nor in the local S3 at ModelDataUrl s3://bucket/gone.tar.gz" in err


def test_a_port_in_use_is_named(registered_model: RegisteredModel, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        err = error_of(["--workspace", str(registered_model.workspace), "--port", str(port)], capsys)
    assert f"port {port} on 127.0.0.1 is in use: stop what uses it, or pick another with --port" in err


def test_the_command_prints_where_it_listens_and_stops_on_ctrl_c(
    registered_model: RegisteredModel, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``main`` in this process (a subprocess would cost seconds of imports): while it serves, /ping answers 200;
    then Ctrl-C (KeyboardInterrupt in serve_forever) stops it with exit status 0."""
    answered: list[int] = []
    serve_forever = EndpointServer.serve_forever

    def serve_until_ctrl_c(self: EndpointServer, poll_interval: float = 0.5) -> None:
        thread = threading.Thread(target=serve_forever, args=(self, 0.05))
        thread.start()
        try:
            answered.append(request(self, "GET", "/ping")[0])
        finally:
            self.shutdown()
            thread.join()
        raise KeyboardInterrupt

    monkeypatch.setattr(EndpointServer, "serve_forever", serve_until_ctrl_c)
    assert main(["--workspace", str(registered_model.workspace), "--port", "0"]) == 0
    assert answered == [200]
    out = capsys.readouterr().out
    assert re.fullmatch(
        rf"serving {GROUP} version 1 on http://127\.0\.0\.1:\d+: GET /ping, POST /invocations; Ctrl-C stops it\n", out
    )


def test_the_smoke_test_command_for_the_version_is_logged(
    registered_model: RegisteredModel, endpoint: EndpointServer
) -> None:
    assert endpoint.loaded is not None
    command = smoke_test_command(endpoint.loaded, endpoint.url)
    assert command is not None
    assert command.startswith(f"python -m tools.smoke_test --local-url {endpoint.url} --test-data ")
    assert str(registered_model.test_data) in command
    assert str(registered_model.model_archive) in command
    assert f"--threshold {registered_model.entry['CustomerMetadataProperties']['decision_threshold']} " in command


def test_registered_entry_carries_what_the_smoke_test_reads(registered_model: RegisteredModel) -> None:
    metadata: dict[str, Any] = registered_model.entry["CustomerMetadataProperties"]
    assert metadata["test_data_uri"].endswith("/test/test_raw.csv")
    assert registered_model.test_data.is_file()
    assert 0 < registered_model.threshold < 1
