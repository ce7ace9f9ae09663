"""The smoke test proven offline: against the local endpoint serving a real registered model it passes with the
package's own inputs (metadata test_data_uri and decision_threshold, the archive's label), through the library and
through the command line, and it catches a deployment whose labels do not follow the stored threshold."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable

import pytest
from model_deploy.smoke_test import (
    CSV,
    JSON,
    SmokeTestFailed,
    feature_rows,
    http_invoker,
    label_from_model_archive,
    run_smoke_test,
)

from local_endpoint.server import EndpointServer
from tests.registered_model import RegisteredModel
from tools.smoke_test import main

pytestmark = pytest.mark.xdist_group("local-endpoint")


def test_the_archives_label_names_the_test_splits_columns(registered_model: RegisteredModel) -> None:
    """What the smoke test mirrors of the serving code holds for a real model: the label read from the archive is
    the transform's, and the test split without it has exactly the columns the model takes, in its order."""
    from sagemaker_code.steps.transform import TRANSFORM_FILE, Transform

    with tarfile.open(registered_model.model_archive) as archive:
        transform = Transform.from_json(archive.extractfile(TRANSFORM_FILE).read().decode())  # type: ignore[union-attr]
    label = label_from_model_archive(registered_model.model_archive)
    assert (label.column, label.positive, label.negative) == (
        transform.label.column,
        transform.label.positive,
        transform.label.negative,
    )
    columns, rows = feature_rows(registered_model.test_data.read_text(), label, 1000)
    assert columns == list(transform.input_columns)
    assert len(rows) == 150


def recording(
    invoke: Callable[[bytes, str, str], tuple[int, bytes, float]], sent: list[tuple[str, str]]
) -> Callable[[bytes, str, str], tuple[int, bytes, float]]:
    def record(body: bytes, content_type: str, accept: str) -> tuple[int, bytes, float]:
        sent.append((content_type, accept))
        return invoke(body, content_type, accept)

    return record


def test_the_smoke_test_passes_against_the_local_endpoint(
    endpoint: EndpointServer, registered_model: RegisteredModel
) -> None:
    sent: list[tuple[str, str]] = []
    report = run_smoke_test(
        recording(http_invoker(endpoint.url), sent),
        registered_model.test_data.read_text(),
        label=label_from_model_archive(registered_model.model_archive),
        threshold=registered_model.threshold,
        rows=20,
        max_p95_ms=1000,
    )
    assert report.passed
    assert (report.rows, report.requests) == (20, 20)
    assert report.p95_ms is not None
    assert 0 < report.p95_ms <= 1000
    assert {content_type for content_type, _ in sent} == {CSV, JSON}
    assert {accept for _, accept in sent} == {CSV, JSON}


def test_labels_that_do_not_follow_the_stored_threshold_fail(
    endpoint: EndpointServer, registered_model: RegisteredModel
) -> None:
    """The endpoint decides with the archive's threshold; a package whose stored threshold is lower than the lowest
    probability served must fail the label check on every row the endpoint labels negative."""
    invoke = http_invoker(endpoint.url)
    label = label_from_model_archive(registered_model.model_archive)
    columns, rows = feature_rows(registered_model.test_data.read_text(), label, 20)
    body = json.dumps({"instances": [dict(zip(columns, row, strict=True)) for row in rows]}).encode()
    status, answer, _ = invoke(body, JSON, JSON)
    assert status == 200
    predictions = json.loads(answer)["predictions"]
    lowest = min(p["probability"] for p in predictions)
    negatives = sum(p["label"] == label.negative for p in predictions)
    assert 0.01 < lowest < registered_model.threshold - 0.01  # the sample's rows are not all predicted positive
    with pytest.raises(SmokeTestFailed) as failed:
        run_smoke_test(invoke, registered_model.test_data.read_text(), label=label, threshold=lowest - 0.005, rows=20)
    assert {f.check for f in failed.value.report.failures} == {"label"}
    assert len(failed.value.report.failures) == negatives
    assert f"(expected {label.positive!r})" in str(failed.value)


def test_the_command_line_passes_and_fails_against_the_local_endpoint(
    endpoint: EndpointServer, registered_model: RegisteredModel, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--local-url", endpoint.url, "--test-data", str(registered_model.test_data)]
    archive = ["--model-archive", str(registered_model.model_archive)]
    assert main([*argv, "--threshold", str(registered_model.threshold), *archive, "--rows", "8"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{endpoint.url}: smoke test passed: 8 requests (8 test rows), p95 latency ")
    assert out.count("\n") == 1

    assert main([*argv, "--threshold", "0.01", "--label", "credit_risk:1:2", "--max-p95-ms", "0.001"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{endpoint.url}: smoke test failed: 20 requests (20 test rows)")
    assert "failed checks - label: request " in out
    assert "| latency: p95 latency " in out
    assert out.count("\n") == 1
