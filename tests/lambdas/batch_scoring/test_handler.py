"""The function through its real entry point: a scheduled event starts the run's job; a malformed event raises."""

from __future__ import annotations

import importlib
from functools import partial
from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.lambdas.batch_scoring.test_scoring import ENVIRON, EXPECTED_REQUEST, JOB, REGION
from tests.lambdas.context import LambdaContext

EVENT = {
    "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
    "source": "aws.events", "account": "123456789012", "time": "2026-12-01T02:00:00Z", "region": REGION,
    "resources": [f"arn:aws:events:{REGION}:123456789012:rule/batch"], "detail": {},
}  # fmt: skip


Context = partial(LambdaContext, "mlops-prod-batch-scoring", region=REGION)


@pytest.fixture
def handler(ssm: Any, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "batch-scoring")
    for key, value in ENVIRON.items():
        monkeypatch.setenv(key, value)
    module = importlib.reload(importlib.import_module("batch_scoring.handler"))
    monkeypatch.setattr(module, "SSM", ssm)  # the moto client of the test's world
    return module


def test_a_scheduled_event_starts_the_run(handler: ModuleType) -> None:
    with Stubber(handler.SAGEMAKER) as stubber:
        stubber.add_response("create_transform_job", {"TransformJobArn": f"arn:aws:sagemaker:{REGION}:1:x/{JOB}"},
                             EXPECTED_REQUEST)  # fmt: skip
        result = handler.handler(EVENT, Context())
        stubber.assert_no_pending_responses()
    assert result["action"] == "started"
    assert result["job_name"] == JOB


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_malformed_event_raises_naming_the_field(handler: ModuleType) -> None:
    with pytest.raises(ValueError, match="detail-type"):
        handler.handler({**EVENT, "detail-type": "Object Created"}, Context())
