"""The task function through its real entry point: it dispatches on ``action`` and raises on a malformed task (the
state machine then notifies and fails)."""

from __future__ import annotations

import importlib
import json
from functools import partial
from types import ModuleType

import pytest

from tests.lambdas.context import LambdaContext
from tests.lambdas.model_deploy.deploy_world import DeployWorld
from tests.lambdas.model_deploy_trigger.sample_events import ACCOUNT, REGION, package_arn

pytestmark = pytest.mark.xdist_group("model-deploy-moto")


Context = partial(LambdaContext, "mlops-dev-model-deploy-tasks", region=REGION, account=ACCOUNT)


@pytest.fixture
def handler(deploy_world: DeployWorld, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    settings = deploy_world.settings
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)  # Lambda sets AWS_REGION
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", settings.group)
    monkeypatch.setenv("TOPIC_ARN", settings.topic_arn)
    monkeypatch.setenv("STATE_MACHINE_ARN", settings.state_machine_arn)
    monkeypatch.setenv("LIVE_MODEL_CFN_PARAMETER", settings.live_model_cfn_parameter)
    monkeypatch.setenv("TARGETS", json.dumps([t.model_dump() for t in settings.targets]))
    monkeypatch.setenv("APPROVAL_TIMEOUT_HOURS", "48")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "model-deploy")
    return importlib.reload(importlib.import_module("model_deploy.handler"))


def task(action: str, **fields: object) -> dict[str, object]:
    request = {"model_package_arn": package_arn(1), "version": 1, "reason": "approved",
               "environments": ["dev", "staging", "prod"], "rejected_arn": None}  # fmt: skip
    return {"action": action, "environment": "prod", "execution_name": "v1-approved-0123456789ab",
            "request": request, **fields}  # fmt: skip


def test_an_approval_request_is_published_with_the_configured_timeout(
    handler: ModuleType, deploy_world: DeployWorld
) -> None:
    result = handler.handler(task("request_approval", task_token="tok"), Context())
    subject, message = deploy_world.world.notifications()[-1]
    assert result["subject"] == subject
    assert "48 hours" in message


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_malformed_task_raises_naming_the_field(handler: ModuleType) -> None:
    with pytest.raises(ValueError, match="task_token"):
        handler.handler(task("request_approval"), Context())
