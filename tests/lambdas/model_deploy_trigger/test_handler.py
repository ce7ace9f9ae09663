"""The trigger through its real entry point: an event it does not act on returns (logged), a failure to act raises
(Lambda retries, then the dead-letter queue and its alarm)."""

from __future__ import annotations

import importlib
import json
from functools import partial
from types import ModuleType

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.lambdas.context import LambdaContext
from tests.lambdas.model_deploy_trigger import sample_events as samples
from tests.lambdas.model_deploy_trigger.world import World

pytestmark = pytest.mark.xdist_group("model-deploy-moto")


Context = partial(LambdaContext, "mlops-dev-model-deploy-trigger", account=samples.ACCOUNT)


@pytest.fixture
def handler(world: World, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("AWS_DEFAULT_REGION", samples.REGION)  # Lambda sets AWS_REGION
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", world.group)
    monkeypatch.setenv("STATE_MACHINE_ARN", world.state_machine_arn)
    monkeypatch.setenv("TOPIC_ARN", world.topic_arn)
    monkeypatch.setenv("TARGETS", json.dumps(world.targets()))
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "model-deploy-trigger")
    return importlib.reload(importlib.import_module("model_deploy_trigger.handler"))


def test_an_event_of_another_group_is_ignored_not_raised(handler: ModuleType, world: World) -> None:
    result = handler.handler(samples.OTHER_GROUP, Context())
    assert result["action"] == "ignored"
    assert world.executions() == []


def test_an_approval_starts_the_flow(handler: ModuleType, world: World) -> None:
    world.register("Approved")
    result = handler.handler(world.event("Approved", 1), Context())
    assert result["action"] == "started"
    assert [e["name"] for e in world.executions()] == [result["execution_name"]]


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_failure_to_act_raises(handler: ModuleType, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.register("Approved")
    world.sfn.delete_state_machine(stateMachineArn=world.state_machine_arn)
    monkeypatch.setattr(handler, "SFN", boto3.client("stepfunctions", region_name=samples.REGION))
    with pytest.raises(ClientError):
        handler.handler(world.event("Approved", 1), Context())
