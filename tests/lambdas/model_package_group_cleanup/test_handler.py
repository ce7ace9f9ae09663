"""The function through its real entry point, with the events CloudFormation sends through the Provider framework:
it returns the physical resource id, and raises (so that the framework reports FAILED) whenever it did not finish."""

from __future__ import annotations

import importlib
import logging
import time
from types import ModuleType
from typing import Any

import pytest
from model_package_group_cleanup.cleanup import POLL_SECONDS
from pydantic import ValidationError

from tests.lambdas.model_package_group_cleanup.conftest import GROUP, RESPONSE_URL, Registry, cfn_event


class Context:
    """The parts of the Lambda context Powertools and the handler read; its remaining time runs down as in Lambda."""

    function_name = "mlops-dev-model-build-CleanupFunction47C7F3CA-abc"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{function_name}"
    aws_request_id = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"

    def __init__(self, remaining_seconds: float = 600.0) -> None:
        self.deadline = time.monotonic() + remaining_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@pytest.fixture
def handler(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "model-package-group-cleanup")
    module = importlib.import_module("model_package_group_cleanup.handler")
    monkeypatch.setattr(module, "SAGEMAKER", registry.client)
    return module


def invoke(handler: ModuleType, event: dict[str, Any], context: Context | None = None) -> Any:
    return handler.handler(event, context or Context())


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_answer_the_group_name(handler: ModuleType, registry: Registry, request_type: str) -> None:
    versions = registry.register(2)
    assert invoke(handler, cfn_event(request_type)) == {"PhysicalResourceId": GROUP}
    assert registry.versions() == versions


def test_delete_empties_the_group_and_keeps_the_physical_id(handler: ModuleType, registry: Registry) -> None:
    registry.register(3)
    event = cfn_event("Delete", physical_id="mlops-dev-models")
    assert invoke(handler, event) == {"PhysicalResourceId": "mlops-dev-models"}
    assert registry.versions() == []


def test_delete_of_a_retained_group_keeps_the_versions(handler: ModuleType, registry: Registry) -> None:
    versions = registry.register(2)
    assert invoke(handler, cfn_event("Delete", delete_packages=False)) == {"PhysicalResourceId": GROUP}
    assert registry.versions() == versions


def test_a_failed_delete_raises(handler: ModuleType, registry: Registry) -> None:
    """Raising is how the Provider framework learns of the failure: it then reports FAILED with this message."""
    registry.deletion = "never"
    registry.register(1)
    margin = handler.SAFETY_MARGIN_SECONDS
    with pytest.raises(Exception, match="out of time waiting for SageMaker to delete 1 model packages"):
        invoke(handler, cfn_event("Delete"), Context(remaining_seconds=margin + POLL_SECONDS - 1))


def test_time_is_kept_to_report_running_out_of_it(handler: ModuleType, registry: Registry) -> None:
    """With less left than the safety margin, the function stops and says so instead of being killed mid-way."""
    registry.register(2)
    with pytest.raises(Exception, match="out of time after requesting the deletion of 0 model packages"):
        invoke(handler, cfn_event("Delete"), Context(remaining_seconds=handler.SAFETY_MARGIN_SECONDS - 1))
    assert len(registry.versions()) == 2


def test_a_malformed_event_names_the_missing_field(handler: ModuleType, registry: Registry) -> None:
    event = cfn_event("Delete")
    del event["ResourceProperties"]["DeletePackagesOnDelete"]
    with pytest.raises(ValidationError, match=r"ResourceProperties\.DeletePackagesOnDelete"):
        invoke(handler, event)


def test_the_presigned_response_url_is_not_logged(
    handler: ModuleType, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    versions = registry.register(1)
    with caplog.at_level(logging.DEBUG):
        invoke(handler, cfn_event("Delete"))
    records = [vars(record) for record in caplog.records]
    assert any(r["msg"] == "Delete: emptied mlops-dev-models" and r.get("deleted") == versions for r in records)
    assert "secret-signature" not in repr(records)
    assert RESPONSE_URL not in repr(records)
