"""The smoke test's checks against fake endpoints: a well-behaved one passes, and each way an endpoint can be wrong
(a probability of 1.3, a label on the wrong side of the threshold, a 500, a slow answer, a broken answer) fails with
a message naming the check. The real endpoint (the local one, with a real model) is in tests/local_endpoint."""

from __future__ import annotations

import ast
import csv
import io
import json
import sys
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from model_deploy import smoke_test
from model_deploy.smoke_test import (
    CSV,
    JSON,
    TRANSFORM_FILE,
    Label,
    SmokeTestFailed,
    SmokeTestInputError,
    http_invoker,
    label_from_model_archive,
    label_from_transform,
    p95,
    parse_predictions,
    run_smoke_test,
    sagemaker_invoker,
)

from tests.fake_http import fake_http_endpoint

LABEL = Label(column="risk", positive="good", negative="bad")
THRESHOLD = 0.6
#: The label sits between features (as a dataset's may): the requests must drop it, wherever it is.
HEADER = ["age", "purpose", "risk", "amount"]


def sample_csv(rows: int = 25) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for i in range(rows):
        writer.writerow([str(20 + i), "car, new" if i % 3 == 0 else "tv", "good" if i % 2 else "bad", str(100 * i)])
    return buffer.getvalue()


@dataclass
class FakeEndpoint:
    """Scores the requests' rows like a model would (probability from the age), and can be told to misbehave."""

    probability: Callable[[list[str]], float] = lambda row: (int(row[0]) % 10) / 10
    label_of: Callable[[float], str] = lambda p: LABEL.positive if p >= THRESHOLD else LABEL.negative
    status: int = 200
    seconds: float = 0.01
    requests: list[tuple[list[list[str]], str, str]] = field(default_factory=list)

    def rows(self, body: bytes, content_type: str) -> list[list[str]]:
        if content_type == CSV:
            return list(csv.reader(io.StringIO(body.decode())))
        instances = json.loads(body)["instances"]
        return [[str(instance[name]) for name in HEADER if name != LABEL.column] for instance in instances]

    def __call__(self, body: bytes, content_type: str, accept: str) -> tuple[int, bytes, float]:
        rows = self.rows(body, content_type)
        self.requests.append((rows, content_type, accept))
        if self.status != 200:
            return self.status, b'{"error": "ModelError", "error-message": "boom"}', self.seconds
        pairs = [(p, self.label_of(p)) for p in map(self.probability, rows)]
        if accept == JSON:
            body_out = json.dumps({"predictions": [{"probability": p, "label": label} for p, label in pairs]})
        else:
            body_out = "".join(f"{p},{label}\n" for p, label in pairs)
        return 200, body_out.encode(), self.seconds


def run(endpoint: Callable[[bytes, str, str], tuple[int, bytes, float]], **kwargs: object) -> smoke_test.SmokeReport:
    options: dict[str, object] = {"label": LABEL, "threshold": THRESHOLD, "rows": 20, "max_p95_ms": 500.0}
    options.update(kwargs)
    return run_smoke_test(endpoint, sample_csv(), **options)  # type: ignore[arg-type]


def failure(endpoint: Callable[[bytes, str, str], tuple[int, bytes, float]], **kwargs: object) -> SmokeTestFailed:
    with pytest.raises(SmokeTestFailed) as raised:
        run(endpoint, **kwargs)
    return raised.value


def failed_checks(error: SmokeTestFailed) -> set[str]:
    return {f.check for f in error.report.failures}


def test_a_well_behaved_endpoint_passes_and_gets_every_format() -> None:
    endpoint = FakeEndpoint()
    report = run(endpoint)
    assert report.passed
    assert (report.rows, report.requests) == (20, 20)
    assert report.p95_ms == pytest.approx(10)
    # one row a request, the test split's first rows in order, without the label, whatever its position
    expected = [row[:2] + row[3:] for row in list(csv.reader(io.StringIO(sample_csv())))[1:21]]
    assert [rows for rows, _, _ in endpoint.requests] == [[row] for row in expected]
    assert {(content_type, accept) for _, content_type, accept in endpoint.requests} == {
        (CSV, CSV),
        (JSON, JSON),
        (CSV, JSON),
        (JSON, CSV),
    }
    assert report.summary().startswith("smoke test passed: 20 requests (20 test rows), p95 latency 10 ms")


def test_one_row_is_sent_as_csv_and_as_json() -> None:
    endpoint = FakeEndpoint()
    report = run(endpoint, rows=1)
    assert (report.rows, report.requests) == (1, 2)
    assert {content_type for _, content_type, _ in endpoint.requests} == {CSV, JSON}


def test_more_rows_than_the_split_has_sends_the_split() -> None:
    assert run(FakeEndpoint(), rows=1000).rows == 25


def test_a_probability_above_one_fails_the_probability_check() -> None:
    error = failure(FakeEndpoint(probability=lambda row: 1.3 if row[0] == "23" else 0.5))
    assert failed_checks(error) == {"probability"}
    assert (
        "probability: request 4 (test row 4, application/json -> text/csv): probability 1.3 is outside [0, 1]"
        in str(error)
    )


def test_a_label_on_the_wrong_side_of_the_threshold_fails_the_label_check() -> None:
    swapped = FakeEndpoint(label_of=lambda p: LABEL.positive if p < THRESHOLD else LABEL.negative)
    error = failure(swapped)
    assert failed_checks(error) == {"label"}
    assert (
        "request 1 (test row 1, text/csv -> text/csv): label 'good' for probability 0.0 < threshold 0.6 (expected"
        in str(error)
    )
    assert any(
        "label 'bad' for probability 0.7 >= threshold 0.6 (expected 'good')" in f.message for f in error.report.failures
    )
    # every row is wrong but the two at the threshold itself: three examples and the count
    assert "(and 15 more)" in str(error)


def test_a_probability_at_the_threshold_within_float32_precision_is_consistent_either_way() -> None:
    just_below = THRESHOLD - 1e-8  # float32 serving code may round it up to the threshold
    assert run(FakeEndpoint(probability=lambda row: just_below, label_of=lambda p: LABEL.positive)).passed


def test_a_500_fails_the_status_check_with_the_body() -> None:
    error = failure(FakeEndpoint(status=500))
    assert failed_checks(error) == {"status"}
    assert 'answered 500: {"error": "ModelError", "error-message": "boom"}' in str(error)


def test_a_slow_endpoint_fails_the_latency_check() -> None:
    error = failure(FakeEndpoint(seconds=0.75))
    assert failed_checks(error) == {"latency"}
    assert "p95 latency 750 ms is above the bound 500 ms" in str(error)
    assert error.report.p95_ms == pytest.approx(750)


def test_only_the_slowest_five_percent_may_exceed_the_bound() -> None:
    calls = iter(range(100))
    endpoint = FakeEndpoint()

    def one_slow(body: bytes, content_type: str, accept: str) -> tuple[int, bytes, float]:
        status, answer, _ = endpoint(body, content_type, accept)
        return status, answer, 5.0 if next(calls) == 7 else 0.01  # 1 of 20: above the 95th percentile

    assert run(one_slow).passed
    calls = iter([7, 7, *range(8, 100)])  # 2 of 20: the 95th percentile is slow
    assert failed_checks(failure(one_slow)) == {"latency"}


def test_every_failed_check_is_named() -> None:
    error = failure(
        FakeEndpoint(probability=lambda row: 1.3, label_of=lambda p: LABEL.negative, seconds=2.0), max_p95_ms=100
    )
    assert failed_checks(error) == {"probability", "label", "latency"}
    message = str(error)
    assert message.startswith("smoke test failed: 20 requests (20 test rows), p95 latency 2000 ms (bound 100 ms)")
    assert message.index("probability:") < message.index("label:") < message.index("latency:")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"not json", "schema: request 2"),
        (b'{"predictions": [{"probability": 0.5}]}', "expected each prediction to be {probability, label}"),
        (b'{"predictions": [{"probability": "high", "label": "good"}]}', "probability 'high' is not a number"),
        (b'{"predictions": [{"probability": 0.7, "label": "maybe"}]}', "label 'maybe' is neither 'good' nor 'bad'"),
        (b'{"predictions": []}', "0 predictions for 1 row"),
        (b'{"results": []}', 'expected {"predictions": [...]}'),
        (b"\xff\xfe", "schema: request 2"),
    ],
)
def test_a_malformed_json_answer_fails_the_schema_check(answer: bytes, expected: str) -> None:
    endpoint = FakeEndpoint()

    def broken_json(body: bytes, content_type: str, accept: str) -> tuple[int, bytes, float]:
        status, good, seconds = endpoint(body, content_type, accept)
        return status, answer if accept == JSON else good, seconds

    error = failure(broken_json)
    assert failed_checks(error) == {"schema"}
    assert expected in str(error)


def test_a_malformed_csv_answer_fails_the_schema_check() -> None:
    endpoint = FakeEndpoint()

    def three_fields(body: bytes, content_type: str, accept: str) -> tuple[int, bytes, float]:
        status, good, seconds = endpoint(body, content_type, accept)
        return status, (b"0.5,good,extra\n" if accept == CSV else good), seconds

    assert "expected 'probability,label' lines, got ['0.5', 'good', 'extra']" in str(failure(three_fields))


def test_an_endpoint_that_cannot_be_reached_fails_the_status_check() -> None:
    def unreachable(body: bytes, content_type: str, accept: str) -> tuple[int, bytes, float]:
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    error = failure(unreachable)
    assert failed_checks(error) == {"status"}
    assert "not sent: ConnectionRefusedError: [Errno 111] Connection refused" in str(error)
    assert error.report.p95_ms is None
    assert "p95 latency n/a" in str(error)


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        ("", {}, "the test data is empty"),
        ("age,purpose,amount\n1,tv,3\n", {}, "the test data's header has no label column 'risk'"),
        ("age,purpose,risk,amount\n", {}, "the test data has a header but no rows"),
        ("age,purpose,risk,amount\n1,tv,good\n", {}, "test row 1 has 3 fields, the header 4"),
        (None, {"threshold": 1.0}, "the decision threshold must be between 0 and 1, got 1.0"),
        (None, {"rows": 0}, "rows (0) and the p95 bound (500.0 ms) must be positive"),
    ],
)
def test_bad_inputs_are_refused_before_anything_is_sent(
    data: str | None, kwargs: dict[str, object], message: str
) -> None:
    endpoint = FakeEndpoint()
    options: dict[str, object] = {"label": LABEL, "threshold": THRESHOLD, "rows": 20, "max_p95_ms": 500.0, **kwargs}
    with pytest.raises(SmokeTestInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_smoke_test(endpoint, sample_csv() if data is None else data, **options)  # type: ignore[arg-type]
    assert endpoint.requests == []


def test_p95_is_the_nearest_rank() -> None:
    assert p95([]) is None
    assert p95([3.0]) == 3.0
    assert p95([float(i) for i in range(1, 21)]) == 19.0
    assert p95([float(i) for i in range(1, 101)]) == 95.0


def test_answers_of_the_real_serializer_parse() -> None:
    """The schema the check expects is what sagemaker_code/steps/inference.py's serialize writes (both types)."""
    from sagemaker_code.steps.inference import Predictions, serialize

    predictions = Predictions(probabilities=[0.25, 0.9], labels=["bad", "good"])
    for accept in (CSV, JSON):
        body, content_type = serialize(predictions, accept)
        assert content_type == accept
        assert parse_predictions(body.encode(), accept) == [(0.25, "bad"), (0.9, "good")]


def test_the_label_is_read_from_the_model_archives_transform(tmp_path: Path) -> None:
    from sagemaker_code.steps.transform import TRANSFORM_FILE as SERVING_TRANSFORM_FILE

    assert TRANSFORM_FILE == SERVING_TRANSFORM_FILE
    transform = {"label": {"column": "risk", "positive": "good", "negative": "bad", "decision_threshold": 0.6}}
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, content in (("xgboost-model.json", b"{}"), ("./transform.json", json.dumps(transform).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    assert label_from_model_archive(archive) == LABEL
    with archive.open("rb") as stream:  # an S3 object's body: read as a stream
        assert label_from_model_archive(stream) == LABEL

    without = tmp_path / "without.tar.gz"
    with tarfile.open(without, "w:gz") as tar:
        tar.addfile(tarfile.TarInfo("xgboost-model.json"), io.BytesIO(b""))
    with pytest.raises(SmokeTestInputError, match=r"has no transform\.json"):
        label_from_model_archive(without)
    (tmp_path / "not.tar.gz").write_text("plain text")
    with pytest.raises(SmokeTestInputError, match="cannot read the model archive"):
        label_from_model_archive(tmp_path / "not.tar.gz")
    with pytest.raises(SmokeTestInputError, match=r"transform\.json has no readable label"):
        label_from_transform('{"label": {"column": "risk"}}')


def test_sagemaker_invoker_returns_the_containers_answer_and_its_errors() -> None:
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    expected = {"EndpointName": "mlops-staging-endpoint", "Body": b"1,car\n", "ContentType": CSV, "Accept": JSON}
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint", {"Body": io.BytesIO(b'{"predictions": []}'), "ContentType": JSON}, expected
        )
        stub.add_client_error(
            "invoke_endpoint",
            service_error_code="ModelError",
            service_message="Received client error (415) from primary",
            http_status_code=424,
            modeled_fields={"OriginalStatusCode": 415, "OriginalMessage": '{"error-message": "unsupported"}'},
        )
        stub.add_client_error(
            "invoke_endpoint", service_error_code="ValidationError", service_message="Endpoint x not found."
        )
        invoke = sagemaker_invoker(runtime, "mlops-staging-endpoint")
        status, body, seconds = invoke(b"1,car\n", CSV, JSON)
        assert (status, body) == (200, b'{"predictions": []}')
        assert seconds >= 0
        assert invoke(b"1,car\n", "text/plain", JSON)[:2] == (415, b'{"error-message": "unsupported"}')
        with pytest.raises(Exception, match="Endpoint x not found"):
            invoke(b"1,car\n", CSV, JSON)


@pytest.fixture
def http_endpoint() -> Iterator[tuple[str, FakeEndpoint]]:
    """The fake endpoint behind SageMaker's container contract (POST /invocations), on a free local port."""
    fake = FakeEndpoint()

    def answer(path: str, body: bytes, content_type: str, accept: str) -> tuple[int, bytes]:
        if path != "/invocations":
            return 404, b"no such path"
        status, reply, _ = fake(body, content_type, accept)
        return status, reply

    with fake_http_endpoint(answer) as url:
        yield f"{url}/", fake


def test_http_invoker_posts_to_invocations_and_returns_error_statuses(http_endpoint: tuple[str, FakeEndpoint]) -> None:
    url, fake = http_endpoint
    assert run(http_invoker(url)).passed
    fake.status = 503
    assert "answered 503" in str(failure(http_invoker(url)))


def test_the_module_imports_only_the_standard_library() -> None:
    """It is bundled into the deploy Lambda alone: no project module, no third-party package."""
    tree = ast.parse(Path(smoke_test.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
    assert {name.split(".")[0] for name in imported} - {"__future__"} <= set(sys.stdlib_module_names)
