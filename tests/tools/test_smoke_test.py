"""``python -m tools.smoke_test``: one line and exit 0 when the endpoint passes, 1 when a check fails, 2 with a message
naming the option for bad usage. Endpoints here are fakes (a local HTTP server, a stubbed sagemaker-runtime client);
the run against the local endpoint with a real model is in tests/local_endpoint."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.fake_http import fake_http_endpoint
from tools.smoke_test import main

HEADER = "age,risk,purpose\n"
ROWS = "".join(f"{20 + i},{'good' if i % 2 else 'bad'},tv\n" for i in range(10))


@pytest.fixture
def test_data(tmp_path: Path) -> Path:
    path = tmp_path / "test_raw.csv"
    path.write_text(HEADER + ROWS)
    return path


@dataclass
class Answers:
    """What the fake endpoint answers: every row with ``probability`` and ``label``."""

    probability: float = 0.8
    label: str = "good"


@pytest.fixture
def local_url() -> Iterator[tuple[str, Answers]]:
    answers = Answers()

    def answer(path: str, body: bytes, content_type: str, accept: str) -> tuple[int, bytes]:
        text = body.decode()
        rows = (
            len(json.loads(text)["instances"])
            if content_type == "application/json"
            else len(list(csv.reader(io.StringIO(text))))
        )
        if accept == "application/json":
            predictions = [{"probability": answers.probability, "label": answers.label}] * rows
            return 200, json.dumps({"predictions": predictions}).encode()
        return 200, f"{answers.probability},{answers.label}\n".encode() * rows

    with fake_http_endpoint(answer) as url:
        yield url, answers


def args(url: str, data: Path, *more: str) -> list[str]:
    return ["--local-url", url, "--test-data", str(data), "--threshold", "0.5", "--label", "risk:good:bad", *more]


def test_a_passing_endpoint_exits_0_with_one_line(
    local_url: tuple[str, Answers], test_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = local_url
    assert main(args(url, test_data, "--rows", "4")) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{url}: smoke test passed: 4 requests (4 test rows), p95 latency ")
    assert out.count("\n") == 1


def test_a_failing_endpoint_exits_1_naming_the_checks(
    local_url: tuple[str, Answers], test_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, answers = local_url
    answers.probability = 1.3
    assert main(args(url, test_data)) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{url}: smoke test failed: 10 requests (10 test rows)")
    assert (
        "failed checks - probability: request 1 (test row 1, text/csv -> text/csv): probability 1.3 is outside" in out
    )
    assert out.count("\n") == 1


def test_an_unreachable_endpoint_exits_1(test_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert main(args(f"http://127.0.0.1:{port}", test_data, "--rows", "2")) == 1
    assert "status: request 1 (test row 1, text/csv -> text/csv): not sent: URLError" in capsys.readouterr().out


def test_a_sagemaker_endpoint_is_invoked_by_name(
    test_data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    made: list[tuple[str, str]] = []

    def client(service: str, region_name: str, **kwargs: Any) -> Any:
        made.append((service, region_name))
        return runtime

    monkeypatch.setattr(boto3, "client", client)
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": io.BytesIO(b"0.7,good\n")},
            {
                "EndpointName": "mlops-staging-endpoint",
                "Body": b"20,tv\n",
                "ContentType": "text/csv",
                "Accept": "text/csv",
            },
        )
        stub.add_client_error(
            "invoke_endpoint",
            service_error_code="ModelError",
            http_status_code=424,
            modeled_fields={"OriginalStatusCode": 500, "OriginalMessage": "worker died"},
        )
        argv = ["--endpoint", "mlops-staging-endpoint", "--region", "eu-west-1", "--test-data", str(test_data)]
        assert main([*argv, "--threshold", "0.5", "--label", "risk:good:bad", "--rows", "2"]) == 1
        stub.assert_no_pending_responses()
    assert made == [("sagemaker-runtime", "eu-west-1")]
    out = capsys.readouterr().out
    assert out.startswith("endpoint mlops-staging-endpoint (eu-west-1): smoke test failed: 2 requests")
    assert "status: request 2 (test row 2, application/json -> application/json): answered 500: worker died" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--test-data", "x.csv", "--threshold", "0.5", "--label", "a:b:c"], "one of the arguments --local-url"),
        (["--local-url", "http://h:1", "--threshold", "0.5", "--label", "a:b:c"], "the following arguments are"),
        (["--local-url", "http://h:1", "--test-data", "{data}", "--threshold", "0.5"], "one of the arguments --model-"),
        (["--local-url", "http://h:1", "--endpoint", "e", "--test-data", "{data}"], "not allowed with argument"),
        (["--local-url", "ftp://h", "--test-data", "{data}", "--threshold", "0.5", "--label", "risk:good:bad"],
         "--local-url 'ftp://h': expected http://HOST:PORT"),
        (["--local-url", "http://h:1", "--region", "r", "--test-data", "{data}", "--threshold", "0.5", "--label",
          "risk:good:bad"], "--region goes with --endpoint, not --local-url"),
        (["--endpoint", "e", "--test-data", "{data}", "--threshold", "0.5", "--label", "risk:good:bad"],
         "--endpoint needs --region"),
        (["--local-url", "http://h:1", "--test-data", "{data}", "--threshold", "0.5", "--label", "risk:good"],
         "--label 'risk:good': expected COLUMN:POSITIVE:NEGATIVE"),
        (["--local-url", "http://h:1", "--test-data", "{data}", "--threshold", "0.5", "--model-archive", "no.tar.gz"],
         "--model-archive no.tar.gz: no such file"),
        (["--local-url", "http://h:1", "--test-data", "missing.csv", "--threshold", "0.5", "--label", "a:b:c"],
         "--test-data missing.csv: [Errno 2] No such file or directory"),
        (["--local-url", "http://h:1", "--test-data", "{data}", "--threshold", "0.5", "--label", "y:1:0"],
         "the test data's header has no label column 'y'"),
        (["--local-url", "http://h:1", "--test-data", "{data}", "--threshold", "1.5", "--label", "risk:good:bad"],
         "the decision threshold must be between 0 and 1, got 1.5"),
        (["--local-url", "http://h:1", "--test-data", "{data}", "--threshold", "0.5", "--label", "risk:good:bad",
          "--rows", "0"], "--rows 0: send at least 1 row"),
        (["--local-url", "http://h:1", "--test-data", "{data}", "--threshold", "high", "--label", "a:b:c"],
         "argument --threshold: invalid float value: 'high'"),
    ],
)  # fmt: skip
def test_bad_usage_exits_2_naming_the_option(
    argv: list[str], message: str, test_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([part.replace("{data}", str(test_data)) for part in argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
    assert "Traceback" not in captured.err
