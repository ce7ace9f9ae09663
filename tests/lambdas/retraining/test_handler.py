"""The function through its real entry point: the decision is logged, counted under one metric with a Decision
dimension, published, and returned; a failure to act raises."""

from __future__ import annotations

import importlib
import io
import json
from functools import partial
from types import ModuleType

import pytest
from botocore.exceptions import ClientError
from retraining.settings import Settings

from tests.lambdas.context import LambdaContext
from tests.lambdas.retraining import sample_events as samples
from tests.lambdas.retraining.world import _PROJECTS, DRIFT, client, create_resources, environ_for

pytestmark = pytest.mark.xdist_group("retraining-moto")


Context = partial(LambdaContext, "mlops-dev-retraining", account=samples.ACCOUNT)


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    environ = environ_for(f"h{next(_PROJECTS)}", POWERTOOLS_SERVICE_NAME="retraining",
                          POWERTOOLS_METRICS_NAMESPACE="mlops/Retraining")  # fmt: skip
    for name, value in {**environ, "AWS_DEFAULT_REGION": samples.REGION}.items():
        monkeypatch.setenv(name, value)
    create_resources(environ, client("sagemaker"))
    module = importlib.reload(importlib.import_module("retraining.handler"))
    # Powertools keeps one stream handler per service across reloads: point it at a buffer of this test.
    module.logger.registered_handler.setStream(io.StringIO())
    return module


def emitted(output: str) -> list[dict[str, object]]:
    """The CloudWatch embedded-metric documents Powertools printed."""
    return [doc for line in output.splitlines() if line.startswith("{") and "_aws" in (doc := json.loads(line))]


def test_an_alarm_is_decided_logged_counted_and_published(
    handler: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    settings: Settings = handler.SETTINGS
    alarm = settings.pipeline_name.replace("model-build", DRIFT)

    first = handler.handler(samples.alarm_event(alarm), Context())
    again = handler.handler(samples.alarm_event(alarm), Context())

    assert first["decision"] == "started"
    assert again["decision"] == "duplicate"
    sagemaker = client("sagemaker")
    executions = sagemaker.list_pipeline_executions(PipelineName=settings.pipeline_name)["PipelineExecutionSummaries"]
    assert [e["PipelineExecutionArn"] for e in executions] == [first["execution_arn"]]
    metrics = emitted(capsys.readouterr().out)
    assert [(m["Decision"], m["RetrainingDecisions"], m["Environment"]) for m in metrics] == [
        ("started", [1.0], "dev"), ("duplicate", [1.0], "dev")
    ]  # fmt: skip
    [directive] = metrics[0]["_aws"]["CloudWatchMetrics"]  # type: ignore[index]
    assert directive["Namespace"] == "mlops/Retraining"
    assert sorted(directive["Dimensions"][0]) == ["Decision", "Environment", "service"]


def test_a_malformed_event_is_ignored_not_raised(handler: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    result = handler.handler({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change"}, Context())
    assert result["decision"] == "ignored"
    assert "malformed" in result["reason"]
    captured = capsys.readouterr()
    assert [m["Decision"] for m in emitted(captured.out)] == ["ignored"]
    stream = handler.logger.registered_handler.stream
    logs = [json.loads(line) for line in stream.getvalue().splitlines()]
    [log] = [entry for entry in logs if entry.get("decision") == "ignored"]  # the structured log
    assert (log["level"], log["message"]) == ("WARNING", result["reason"])


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_failure_to_act_raises(handler: ModuleType) -> None:
    client("sagemaker").delete_pipeline(PipelineName=handler.SETTINGS.pipeline_name, ClientRequestToken="x" * 32)
    alarm = handler.SETTINGS.pipeline_name.replace("model-build", DRIFT)
    with pytest.raises(ClientError):
        handler.handler(samples.alarm_event(alarm, event_id="no-pipeline"), Context())
